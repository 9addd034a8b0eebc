//! `kapsel controller`: reconciles Kanister ActionSets in a cluster
//! (crates/kapsel-controller, docs/controller.md) until Ctrl-C or SIGTERM,
//! which cancel the running actions (their deferPhases run, their pods are
//! deleted) before the process exits (and releases its Lease, with
//! `--leader-elect`). Beside it: metrics and probes on `--metrics-addr`,
//! the validating webhook on `--webhook-addr` (docs/webhook.md).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use kapsel_controller::http::{ProbeServer, Telemetry};
use kapsel_controller::leader::default_identity;
use kapsel_controller::webhook::{self, WebhookOptions};
use kapsel_controller::{Config, LeaderConfig, Retention, Scope};
use kapsel_platform_k8s::{ConnectOptions, KubePlatform};
use tokio_util::sync::CancellationToken;

use super::CliError;
use super::run::parse_duration;

/// `kapsel controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// The kubeconfig file (default: KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// A namespace whose ActionSets are reconciled. Repeatable. Default:
    /// the controller's own namespace (POD_NAMESPACE, else the context's),
    /// as Kanister.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Vec<String>,
    /// Reconcile ActionSets in every namespace.
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// At most this many actions run at once; ActionSets beyond stay
    /// `pending` until slots free.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Serve Prometheus metrics (/metrics) and the probes (/healthz,
    /// /readyz, Kanister's /v0/healthz and /v0/readyz) over plain HTTP on
    /// this address, e.g. 0.0.0.0:8081 (port 0: any free port; the bound
    /// address is logged as `metrics listening on ADDR`). Off unless given.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// The validating webhook's HTTPS address (paths
    /// /validate/v1alpha1/{blueprint,actionset,profile}); it starts only
    /// once tls.crt and tls.key exist in --webhook-cert-dir.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9443")]
    pub webhook_addr: SocketAddr,
    /// The directory holding the webhook's serving certificate, tls.crt
    /// (PEM chain, leaf first) and tls.key (PEM private key), as a
    /// kubernetes.io/tls Secret mounts them; re-read when they change.
    #[arg(long, value_name = "DIR", default_value = webhook::DEFAULT_CERT_DIR)]
    pub webhook_cert_dir: PathBuf,
    /// Take part in leader election on a Lease: only the holder works, the
    /// others stand by and take over when it dies. For two or more
    /// replicas (the Helm chart sets it).
    #[arg(long)]
    pub leader_elect: bool,
    /// The Lease's name.
    #[arg(long, value_name = "NAME", default_value = "kapsel-controller")]
    pub lease_name: String,
    /// The Lease's namespace (default: the controller's own namespace).
    #[arg(long, value_name = "NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long a Lease not renewed stays held, in whole seconds (at
    /// least 3s). The leader renews every 2/15 of it and stops all work
    /// when 2/3 of it passed without a renewal (15s: 2s and 10s).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = lease_duration)]
    pub lease_duration: Duration,
    /// Delete ActionSets finished (complete or failed) longer than this
    /// ago, e.g. 168h (default: keep them forever, as Kanister). The
    /// annotation kapsel.dev/ttl-after-finished overrides it per ActionSet.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl_after_finished: Option<Duration>,
    /// Keep at least the N most recently finished ActionSets of each
    /// namespace and Blueprint+action, even past the TTL.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_last: usize,
}

/// A lease duration: a duration of at least 3 whole seconds.
fn lease_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(3) || d.subsec_nanos() != 0 {
        return Err(format!(
            "{s}: a lease duration is whole seconds, at least 3s (e.g. 15s)"
        ));
    }
    Ok(d)
}

/// Runs the command.
pub fn run(a: ControllerArgs) -> Result<ExitCode, CliError> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // colours on a terminal only: not in a file or `kubectl logs`
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    runtime.block_on(async move {
        let telemetry = Telemetry::default();
        // Served until the controller has stopped (metrics stay readable
        // while running actions are cancelled).
        let servers = CancellationToken::new();
        if let Some(addr) = a.metrics_addr {
            let server = ProbeServer::bind(addr).await.map_err(|e| CliError::Input {
                path: "--metrics-addr".to_string(),
                message: format!("cannot listen on {addr}: {e}"),
                help: Some("give a free address, e.g. 0.0.0.0:8081 or 127.0.0.1:0".into()),
            })?;
            tokio::spawn(server.run(telemetry.clone(), servers.clone()));
        }
        tokio::spawn(webhook::serve(
            WebhookOptions {
                addr: a.webhook_addr,
                cert_dir: a.webhook_cert_dir.clone(),
                reload_every: Duration::from_secs(10),
            },
            telemetry.metrics.clone(),
            servers.clone(),
        ));
        let o = ConnectOptions {
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
        };
        let platform = KubePlatform::connect(&o)
            .await
            .map_err(|e| CliError::Input {
                path: a
                    .kubeconfig
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the cluster".to_string()),
                message: e.to_string(),
                help: Some(
                    "check the kubeconfig and that the API server is up (`kubectl version`)".into(),
                ),
            })?;
        let home = std::env::var("POD_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| platform.default_namespace().to_string());
        let scope = if a.all_namespaces {
            Scope::All
        } else if a.namespace.is_empty() {
            Scope::Namespaces(vec![home.clone()])
        } else {
            Scope::Namespaces(a.namespace.clone())
        };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: cancelling running actions (their deferPhases run)");
            stop.cancel();
        });
        let identity = default_identity();
        let leader = a.leader_elect.then(|| LeaderConfig {
            lease_name: a.lease_name.clone(),
            lease_namespace: a.lease_namespace.clone().unwrap_or_else(|| home.clone()),
            identity: identity.clone(),
            lease_duration: a.lease_duration,
        });
        let config = Config {
            scope,
            concurrency: usize::from(a.concurrency),
            home_namespace: home,
            telemetry,
            identity,
            leader,
            retention: Retention {
                ttl: a.ttl_after_finished,
                keep_last: a.keep_last,
            },
        };
        let r = kapsel_controller::run(platform, config, shutdown).await;
        servers.cancel();
        r.map_err(|e| CliError::Input {
            path: "kapsel controller".to_string(),
            message: e.to_string(),
            help: None,
        })?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
