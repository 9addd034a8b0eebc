//! The Kubernetes platform: Blueprint functions run against a cluster through
//! its API server, with Kanister's pods, labels, merges and waits
//! (../shared/reference/kanister-k8s.md is the behaviour matched; where
//! Kapsel differs on purpose, the module says so).
//!
//! - [`exec`](KubePlatform) runs in an existing container through the
//!   `pods/exec` subresource (WebSocket), stdout and stderr streamed, stdin
//!   for secrets, the exit code from the status channel;
//! - tasks are pods named like Kanister's (`kanister-job-…`), labelled
//!   `createdBy: kanister` and with Kapsel's runner labels
//!   ([`runner`]); secrets reach them on **stdin** through an attach, never
//!   through the pod spec; the pod is deleted after success, failure,
//!   timeout and cancellation (a dropped future hands the deletion to a
//!   tracked task: [`KubePlatform::drain`]), and pods a killed run left
//!   behind are found by label and removed ([`KubePlatform::cleanup`]);
//! - scaling, pod volumes, Secrets, ConfigMaps and the template parameters
//!   of an object ([`KubePlatform::object_params`]).

mod dynamic;
mod error;
mod exec;
mod objects;
pub mod runner;
mod scale;
mod task;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kapsel_engine::platform::{
    BoxFuture, ExecSpec, Exit, MultiContainerSpec, OutputSink, Platform, PlatformError, ScaleSpec,
    TaskSpec,
};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio_util::task::TaskTracker;

pub use error::KubeError;
pub use task::CleanupReport;

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A kubeconfig file (`None`: `KUBECONFIG`, `~/.kube/config`, then the
    /// in-cluster service account, as kubectl does).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// A context of the kubeconfig (`None`: its current context).
    pub context: Option<String>,
}

/// The Kubernetes platform.
#[derive(Clone)]
pub struct KubePlatform {
    client: Client,
    /// The namespace of the kubeconfig's context (tasks without one).
    default_namespace: String,
    /// How long a task pod may stay Pending (Kanister: 15 min,
    /// `TIMEOUT_WORKER_POD_READY` minutes).
    pub pod_ready_timeout: Duration,
    /// Deletions of pods whose run was dropped (cancelled, timed out).
    cleanups: TaskTracker,
    /// Who is running (labels on task pods, to find leftovers).
    runner: runner::Runner,
    /// Namespaces already swept for leftover pods by this process.
    swept: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for KubePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubePlatform")
            .field("default_namespace", &self.default_namespace)
            .finish_non_exhaustive()
    }
}

impl KubePlatform {
    /// A platform over an existing client.
    pub fn new(client: Client, default_namespace: impl Into<String>) -> KubePlatform {
        let minutes = std::env::var("TIMEOUT_WORKER_POD_READY")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(15);
        KubePlatform {
            client,
            default_namespace: default_namespace.into(),
            pod_ready_timeout: Duration::from_secs(minutes * 60),
            cleanups: TaskTracker::new(),
            runner: runner::Runner::current(),
            swept: Default::default(),
        }
    }

    /// Connects as kubectl would: the kubeconfig file and context given, or
    /// `KUBECONFIG`/`~/.kube/config`, or the in-cluster service account.
    /// Must be called inside a tokio runtime. The error says what was tried.
    pub async fn connect(o: &ConnectOptions) -> Result<KubePlatform, KubeError> {
        // Two rustls providers are linked into binaries that also hold the
        // object stores: choose kube's (an error means one is chosen).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = KubeConfigOptions {
            context: o.context.clone(),
            ..KubeConfigOptions::default()
        };
        let (config, tried) = match &o.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| KubeError::Connect {
                    tried: format!("the kubeconfig {}", path.display()),
                    message: e.to_string(),
                })?;
                let c = kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| KubeError::Connect {
                        tried: format!("the kubeconfig {}", path.display()),
                        message: e.to_string(),
                    })?;
                (c, format!("the kubeconfig {}", path.display()))
            }
            None if o.context.is_some() => {
                let c = kube::Config::from_kubeconfig(&options).await.map_err(|e| {
                    KubeError::Connect {
                        tried: "KUBECONFIG or ~/.kube/config".to_string(),
                        message: e.to_string(),
                    }
                })?;
                (c, "KUBECONFIG or ~/.kube/config".to_string())
            }
            None => {
                let c = kube::Config::infer()
                    .await
                    .map_err(|e| KubeError::Connect {
                        tried: "KUBECONFIG, ~/.kube/config and the in-cluster service account"
                            .to_string(),
                        message: e.to_string(),
                    })?;
                (
                    c,
                    "KUBECONFIG, ~/.kube/config or the in-cluster service account".to_string(),
                )
            }
        };
        let namespace = config.default_namespace.clone();
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| KubeError::Connect {
            tried: tried.clone(),
            message: e.to_string(),
        })?;
        // One cheap request, so that an unreachable server fails here with
        // what was tried rather than in the first phase.
        client
            .apiserver_version()
            .await
            .map_err(|e| KubeError::Connect {
                tried: format!("{tried} (API server {server})"),
                message: error_chain(&e),
            })?;
        Ok(KubePlatform::new(client, namespace))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace tasks use when none is given.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Waits until every pod deletion handed off by a dropped run (Ctrl-C,
    /// a deadline) has finished, at most `limit`. Call before the process
    /// exits.
    pub async fn drain(&self, limit: Duration) {
        self.cleanups.close();
        let _ = tokio::time::timeout(limit, self.cleanups.wait()).await;
    }
}

impl Platform for KubePlatform {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn exec<'a>(
        &'a self,
        spec: &'a ExecSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move { exec::exec(self, spec, sink).await.map_err(Into::into) })
    }

    fn task<'a>(
        &'a self,
        spec: &'a TaskSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move { task::run_task(self, spec, sink).await.map_err(Into::into) })
    }

    fn multi_container<'a>(
        &'a self,
        spec: &'a MultiContainerSpec,
        background: &'a mut dyn OutputSink,
        output: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move {
            task::run_multi(self, spec, background, output)
                .await
                .map_err(Into::into)
        })
    }

    fn scale<'a>(
        &'a self,
        spec: &'a ScaleSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<i32, PlatformError>> {
        Box::pin(async move { scale::scale(self, spec, sink).await.map_err(Into::into) })
    }

    fn pod_volumes<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
    ) -> BoxFuture<'a, Result<std::collections::BTreeMap<String, String>, PlatformError>> {
        Box::pin(async move {
            objects::pod_volumes(self, namespace, pod)
                .await
                .map_err(Into::into)
        })
    }

    fn volume_path<'a>(
        &'a self,
        _namespace: &'a str,
        _claim: &'a str,
        mount_path: &'a str,
    ) -> BoxFuture<'a, Result<String, PlatformError>> {
        Box::pin(async move { Ok(mount_path.to_string()) })
    }

    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Secret, PlatformError>> {
        Box::pin(async move {
            objects::get::<Secret>(self, namespace, name)
                .await
                .map_err(Into::into)
        })
    }

    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ConfigMap, PlatformError>> {
        Box::pin(async move {
            objects::get::<ConfigMap>(self, namespace, name)
                .await
                .map_err(Into::into)
        })
    }

    fn kube(&self) -> Option<&dyn kapsel_engine::platform::KubeApi> {
        Some(self)
    }
}

/// An error and its sources, joined (kube's top-level messages alone say
/// little: "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
