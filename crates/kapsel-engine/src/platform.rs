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

/// Bytes written to a command's standard input, then closed. This is how
/// secrets (a Profile's credentials, a repository password) reach a command:
/// never in argv. `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Stdin(pub Vec<u8>);

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stdin(<{} bytes>)", self.0.len())
    }
}

/// Run a command in an existing workload container (KubeExec).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecSpec {
    /// Namespace of the pod.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container (`None`: the pod's first).
    pub container: Option<String>,
    /// argv.
    pub command: Vec<String>,
    /// Standard input (`None`: closed).
    pub stdin: Option<Stdin>,
}

/// A volume (a PersistentVolumeClaim) made available to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The claim's name (in the task's namespace).
    pub claim: String,
    /// Where the task sees it (a pod's mount path).
    pub mount_path: String,
}

/// Run a command in a new, short-lived task (KubeTask, PrepareData, the data
/// functions).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskSpec {
    /// The start of the task's name, completed by the platform (Kanister's
    /// `generateName` per function: `kanister-job-`, `restore-data-`, ...;
    /// empty: `kanister-job-`).
    pub name_prefix: String,
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
    /// Volumes mounted into the task.
    pub volumes: Vec<VolumeMount>,
    /// The service account the task runs as (`None`: the default).
    pub service_account: Option<String>,
    /// Standard input (`None`: closed).
    pub stdin: Option<Stdin>,
    /// The command holds a secret value (a Blueprint rendered one into it):
    /// platforms that record commands (a pod spec) must not record this
    /// one in the clear.
    pub secret_command: bool,
}

/// A command of a [`MultiContainerSpec`]: image and argv.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerCommand {
    /// The image (recorded by platforms that cannot pull images).
    pub image: String,
    /// argv.
    pub command: Vec<String>,
}

/// Two commands that run at the same time and share a volume
/// (MultiContainerRun): `background` produces, `output` consumes and reports
/// outputs; an optional `init` runs before both. The task ends when `output`
/// ends; `background` is then stopped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MultiContainerSpec {
    /// Namespace (`None`: the platform's default).
    pub namespace: Option<String>,
    /// Runs first, to completion.
    pub init: Option<ContainerCommand>,
    /// Runs alongside `output`.
    pub background: ContainerCommand,
    /// Its exit ends the task; only its outputs count.
    pub output: ContainerCommand,
    /// Where the shared volume is mounted in the containers (Kanister default
    /// `/tmp/`).
    pub shared_volume_dir: String,
    /// emptyDir medium (`""` or `Memory`).
    pub shared_volume_medium: Option<String>,
    /// emptyDir size limit (a Kubernetes quantity).
    pub shared_volume_size_limit: Option<String>,
    /// Labels for the pod.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations for the pod.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Pod override (strategic merge patch).
    pub pod_override: Option<serde_json::Map<String, serde_json::Value>>,
    /// A command holds a secret value: the platform must keep the commands
    /// out of the pod spec (as [`TaskSpec::secret_command`]).
    pub secret_command: bool,
}

/// Scale a workload (ScaleWorkload).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleSpec {
    /// Kind: StatefulSet, Deployment or DeploymentConfig.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The wanted number of replicas.
    pub replicas: i32,
    /// Wait until the workload is ready (or, for 0, until it is down).
    pub wait_for_ready: bool,
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

/// A Kubernetes object as Kanister's functions name it (`objectReference`:
/// `group`, `apiVersion` = the version, `resource` = the plural; an empty
/// namespace means a cluster-scoped object).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// API version (without the group), e.g. `v1`.
    #[serde(default, rename = "apiVersion")]
    pub version: String,
    /// API group (`""` for the core group).
    #[serde(default)]
    pub group: String,
    /// The resource (plural, lower case), e.g. `persistentvolumeclaims`.
    #[serde(default)]
    pub resource: String,
    /// The kind, when known (Kanister ignores it for lookups).
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace (`""`: cluster-scoped).
    #[serde(default)]
    pub namespace: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gv = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        if self.namespace.is_empty() {
            write!(f, "{} {} ({gv})", self.resource, self.name)
        } else {
            write!(
                f,
                "{} {}/{} ({gv})",
                self.resource, self.namespace, self.name
            )
        }
    }
}

/// Generic access to Kubernetes objects (KubeOps, Wait, WaitV2 and the CSI
/// functions). Objects travel as JSON, as through client-go's dynamic client.
/// A missing object is [`PlatformError::NotFound`].
pub trait KubeApi: Send + Sync {
    /// Creates `object` (a full manifest with `apiVersion` and `kind`) in
    /// `namespace` unless the manifest names its own, and returns what the
    /// API server created (its name filled in from `generateName`).
    fn create<'a>(
        &'a self,
        object: &'a serde_json::Value,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<(ResourceRef, serde_json::Value), PlatformError>>;

    /// Reads an object.
    fn get<'a>(
        &'a self,
        object: &'a ResourceRef,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>>;

    /// Patches an object: a strategic merge patch, as Kanister's KubeOps
    /// sends; a JSON merge patch for custom resources, which do not support
    /// strategic merge.
    fn patch<'a>(
        &'a self,
        object: &'a ResourceRef,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>>;

    /// Deletes an object (background propagation; does not wait).
    fn delete<'a>(&'a self, object: &'a ResourceRef) -> BoxFuture<'a, Result<(), PlatformError>>;
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

    /// Runs a [`MultiContainerSpec`]: `background` and `output` concurrently
    /// with a shared volume; returns how `output` ended.
    fn multi_container<'a>(
        &'a self,
        spec: &'a MultiContainerSpec,
        background: &'a mut dyn OutputSink,
        output: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>>;

    /// Scales a workload to `spec.replicas`; returns the replica count it had
    /// before. Log lines of the commands it runs go to `sink`.
    fn scale<'a>(
        &'a self,
        spec: &'a ScaleSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<i32, PlatformError>>;

    /// The volumes of a pod: claim name → mount path.
    fn pod_volumes<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
    ) -> BoxFuture<'a, Result<std::collections::BTreeMap<String, String>, PlatformError>>;

    /// Where a task that mounts `claim` at `mount_path` sees the volume's
    /// files (Kubernetes: `mount_path`; a platform without mounts: the
    /// volume's own directory). Functions put this path in the commands they
    /// build.
    fn volume_path<'a>(
        &'a self,
        namespace: &'a str,
        claim: &'a str,
        mount_path: &'a str,
    ) -> BoxFuture<'a, Result<String, PlatformError>>;

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

    /// The Kubernetes API, on platforms that have one (`None`: KubeOps, Wait,
    /// WaitV2 and the CSI functions fail, naming what they need).
    fn kube(&self) -> Option<&dyn KubeApi> {
        None
    }
}
