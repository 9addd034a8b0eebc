//! Where functions run. A [`Platform`] executes commands in workloads, runs
//! tasks, and reads Secrets and ConfigMaps; each function is written once
//! against this trait. The local host is one platform, Kubernetes another.

use std::future::Future;
use std::pin::Pin;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// A boxed, sendable future (the trait is used as `dyn Platform`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which output stream a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Receives a running command's output as it comes, in arbitrary pieces.
pub trait OutputSink: Send {
    /// A piece of output.
    fn chunk(&mut self, stream: Stream, data: &[u8]);
}

/// Run a command in an existing workload container (KubeExec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// Namespace of the pod.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container (`None`: the pod's first).
    pub container: Option<String>,
    /// argv.
    pub command: Vec<String>,
}

/// Run a command in a new, short-lived task (KubeTask).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// Namespace (`None`: the platform's default).
    pub namespace: Option<String>,
    /// The image (recorded by platforms that cannot pull images).
    pub image: String,
    /// argv.
    pub command: Vec<String>,
    /// Labels for the task pod.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations for the task pod.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Pod override (strategic merge patch).
    pub pod_override: Option<serde_json::Map<String, serde_json::Value>>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
}

impl Exit {
    /// Whether the command succeeded.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A platform failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The platform cannot do this at all.
    #[error("the {platform} platform cannot {what}")]
    Unsupported {
        /// The platform's name.
        platform: String,
        /// What was asked.
        what: String,
    },
    /// An object does not exist.
    #[error("{kind} {namespace}/{name} not found{hint}")]
    NotFound {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// A hint, starting with "; " when not empty.
        hint: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Where functions run.
///
/// Futures returned here are dropped when a phase times out or is cancelled;
/// implementations must stop what they started when that happens (e.g. kill
/// the process group).
pub trait Platform: Send + Sync {
    /// The platform's name for messages (`local`, `kubernetes`).
    fn name(&self) -> &str;

    /// Runs a command in an existing workload.
    fn exec<'a>(
        &'a self,
        spec: &'a ExecSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>>;

    /// Runs a command as a new task.
    fn task<'a>(
        &'a self,
        spec: &'a TaskSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>>;

    /// Reads a Secret.
    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Secret, PlatformError>>;

    /// Reads a ConfigMap.
    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ConfigMap, PlatformError>>;
}
