//! The ActionSet controller: Kanister's controller (kanister.md §5,
//! kanister-k8s.md §6) on kube-rs's runtime, running each action with the
//! engine on the Kubernetes platform.
//!
//! - [`run`] starts one kube-rs `Controller` per watched namespace (or one
//!   over all namespaces) and returns when `shutdown` fires and every
//!   running action has ended (deferPhases run, pods removed).
//! - The reconciler ([`reconcile`]) maps an ActionSet to what is due, and is
//!   idempotent: status nil → initialised (`status.rs`); `pending` → started,
//!   once (a run is tracked in memory by the ActionSet's uid, `run.rs`);
//!   `running` but owned by no run of this process → `failed` with the
//!   reason and its task pods deleted (`recover.rs`); `complete`/`failed` →
//!   nothing.
//! - Status is written as Kanister writes it: get → mutate → replace,
//!   retried on 409 (`status.rs`); ActionSets have no status subresource.
//! - Events carry Kanister's reasons (`events.rs`).
//! - Metrics and probes ([`metrics`], [`http`]: `--metrics-addr`) and the
//!   validating webhook ([`webhook`]: `--webhook-addr`), both started by
//!   the caller (`kapsel controller`) beside [`run`], which updates the
//!   metrics and readiness of [`Config::telemetry`].
//!
//! Beyond Kanister: restart safety, bounded concurrency (`--concurrency`),
//! several or all namespaces, Blueprints and Profiles looked up in the
//! ActionSet's namespace first, then the controller's (kanister#1522).
//! docs/controller.md.

mod events;
pub mod http;
pub mod metrics;
mod recover;
mod resolve;
mod run;
mod status;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kapsel_api::{ActionSet, State};
use kapsel_engine::Registry;
use kapsel_platform_k8s::KubePlatform;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use recover::RESTART_REASON;

/// The label (and annotation key) task pods of an ActionSet carry: its uid.
pub const ACTIONSET_UID_LABEL: &str = "kapsel.dev/actionset-uid";
/// The label task pods of an ActionSet carry: its name.
pub const ACTIONSET_NAME_LABEL: &str = "kapsel.dev/actionset";

/// Which namespaces' ActionSets are reconciled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace.
    All,
    /// These namespaces.
    Namespaces(Vec<String>),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The namespaces watched.
    pub scope: Scope,
    /// At most this many actions run at once (at least 1).
    pub concurrency: usize,
    /// The controller's own namespace: Blueprints and Profiles not in the
    /// ActionSet's namespace are looked up here.
    pub home_namespace: String,
    /// Metrics and readiness, updated as the controller works.
    pub telemetry: http::Telemetry,
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The ActionSet CRD is not installed or not readable.
    #[error(
        "cannot list ActionSets in {scope}: {source} (are the CRDs installed? `kapsel crds | kubectl apply -f -`)"
    )]
    List {
        /// Where.
        scope: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// Why one reconcile failed (retried after a pause).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The API refused a read or write.
    #[error("{what}: {source}")]
    Kube {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// What every reconcile and run shares.
pub(crate) struct Shared {
    pub client: kube::Client,
    pub platform: KubePlatform,
    pub registry: Arc<Registry>,
    pub recorder: events::Events,
    pub config: Config,
    /// One permit per running action.
    pub slots: Arc<Semaphore>,
    /// Runs of this process, by ActionSet uid.
    pub runs: Mutex<HashMap<String, CancellationToken>>,
    /// The run tasks (waited for at shutdown).
    pub tasks: TaskTracker,
    /// Fires on Ctrl-C/SIGTERM.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// Whether a run of this process owns the ActionSet `uid`.
    pub fn owns(&self, uid: &str) -> bool {
        self.runs.lock().is_ok_and(|r| r.contains_key(uid))
    }
}

/// A reconcile's context: what is shared, and the store of the controller
/// that called it (a run watches it for its ActionSet's deletion).
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub store: Store<ActionSet>,
}

/// Runs the controller until `shutdown` fires, then waits for the running
/// actions to end (their deferPhases run, their pods are deleted).
pub async fn run(
    platform: KubePlatform,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), ControllerError> {
    let client = platform.client().clone();
    let apis: Vec<(String, Api<ActionSet>)> = match &config.scope {
        Scope::All => vec![("all namespaces".to_string(), Api::all(client.clone()))],
        Scope::Namespaces(list) => list
            .iter()
            .map(|ns| {
                (
                    format!("namespace {ns}"),
                    Api::namespaced(client.clone(), ns),
                )
            })
            .collect(),
    };
    // Kanister lists first as an access check (kanister-k8s.md §6.1).
    for (scope, api) in &apis {
        api.list(&kube::api::ListParams::default().limit(1))
            .await
            .map_err(|source| ControllerError::List {
                scope: scope.clone(),
                source,
            })?;
    }
    let shared = Arc::new(Shared {
        recorder: events::Events::new(client.clone()),
        client,
        platform: platform.clone(),
        registry: Arc::new(Registry::builtin()),
        slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
        config,
        runs: Mutex::new(HashMap::new()),
        tasks: TaskTracker::new(),
        shutdown: shutdown.clone(),
    });
    tracing::info!(
        scope = ?shared.config.scope,
        concurrency = shared.config.concurrency,
        home = %shared.config.home_namespace,
        "controller started"
    );
    let health = shared.config.telemetry.health.clone();
    health.expect_syncs(apis.len());
    let controllers = apis.into_iter().map(|(scope, api)| {
        let shared = shared.clone();
        let stop = shutdown.clone();
        let health = health.clone();
        async move {
            let controller = Controller::new(api, watcher::Config::default());
            health.ready_when_synced(controller.store());
            let ctx = Arc::new(Ctx {
                shared,
                store: controller.store(),
            });
            controller
                .graceful_shutdown_on(async move { stop.cancelled().await })
                .run(reconcile, error_policy, ctx)
                .for_each(|r| async {
                    if let Err(e) = r {
                        tracing::debug!(%scope, "reconcile: {e}");
                    }
                })
                .await;
        }
    });
    futures::future::join_all(controllers).await;
    // Ctrl-C/SIGTERM: every run's token is a child of `shutdown`, so the
    // actions are being cancelled; wait for their deferPhases and final
    // status writes, then for the pod deletions they handed off.
    shared.tasks.close();
    shared.tasks.wait().await;
    platform.drain(Duration::from_secs(60)).await;
    tracing::info!("controller stopped");
    Ok(())
}

/// What is due for one ActionSet.
async fn reconcile(set: Arc<ActionSet>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let shared = &ctx.shared;
    let Some(uid) = set.uid() else {
        return Ok(Action::await_change());
    };
    if shared.owns(&uid) || shared.shutdown.is_cancelled() {
        return Ok(Action::await_change());
    }
    match set.status.as_ref().map(|s| s.state) {
        None => status::initialise(shared, &set).await?,
        Some(State::Pending) => run::start(&ctx, set.clone()),
        Some(State::Running) => recover::orphaned(shared, &set).await?,
        Some(State::Complete | State::Failed) => {}
    }
    Ok(Action::await_change())
}

fn error_policy(set: Arc<ActionSet>, e: &ReconcileError, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(
        actionset = %set.name_any(),
        namespace = set.namespace().unwrap_or_default(),
        "{e}; retrying in 5s"
    );
    Action::requeue(Duration::from_secs(5))
}
