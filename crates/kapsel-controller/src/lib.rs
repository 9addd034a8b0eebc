//! The ActionSet controller: Kanister's controller (kanister.md §5,
//! kanister-k8s.md §6) on kube-rs's runtime, running each action with the
//! engine on the Kubernetes platform.
//!
//! - [`run`] starts one kube-rs `Controller` per watched namespace (or one
//!   over all namespaces) and returns when `shutdown` fires and every
//!   running action has ended (deferPhases run, pods removed). With leader
//!   election (`leader.rs`) it first waits to hold the Lease, and does its
//!   work only while its term lasts: a term that ends aborts everything at
//!   once (fencing: `fence.rs`), and the process stands by again.
//! - The reconciler ([`reconcile`]) maps an ActionSet to what is due, and is
//!   idempotent: status nil → initialised (`status.rs`); `pending` → started,
//!   once (a run is tracked in memory by the ActionSet's uid, `run.rs`);
//!   `running` but owned by no run of this process → its task pods
//!   deleted, its deferPhase run, then `failed` with the reason
//!   (`recover.rs`); `complete`/`failed` → nothing, until retention
//!   deletes it (`retention.rs`).
//! - Status is written as Kanister writes it: get → mutate → replace,
//!   retried on 409 (`status.rs`); ActionSets have no status subresource.
//! - Events carry Kanister's reasons (`events.rs`).
//! - Metrics and probes ([`metrics`], [`http`]: `--metrics-addr`) and the
//!   validating webhook ([`webhook`]: `--webhook-addr`), both started by
//!   the caller (`kapsel controller`) beside [`run`], which updates the
//!   metrics and readiness of [`Config::telemetry`].
//!
//! Beyond Kanister: restart safety, leader election, retention, bounded
//! concurrency (`--concurrency`),
//! several or all namespaces, Blueprints and Profiles looked up in the
//! ActionSet's namespace first, then the controller's (kanister#1522).
//! docs/controller.md.

mod conditions;
mod events;
mod fence;
pub mod http;
pub mod leader;
pub mod metrics;
mod progress;
mod recover;
mod resolve;
pub mod retention;
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

use crate::leader::{Elector, Term};

pub use leader::LeaderConfig;
pub use recover::RESTART_REASON;
pub use retention::Retention;

/// The label (and annotation key) task pods of an ActionSet carry: its uid.
pub const ACTIONSET_UID_LABEL: &str = "kapsel.dev/actionset-uid";
/// The label task pods of an ActionSet carry: its name.
pub const ACTIONSET_NAME_LABEL: &str = "kapsel.dev/actionset";
/// The annotation a controller puts on an ActionSet it starts: its
/// identity (the Lease holder identity), named when another recovers it.
pub const CONTROLLER_ANNOTATION: &str = "kapsel.dev/controller";

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
    /// This process's identity (the Lease's holder; on the ActionSets it
    /// starts).
    pub identity: String,
    /// Leader election (`None`: this process does the work alone).
    pub leader: Option<LeaderConfig>,
    /// Retention of finished ActionSets.
    pub retention: Retention,
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

/// What every reconcile and run of one leadership term shares.
pub(crate) struct Shared {
    pub client: kube::Client,
    pub platform: KubePlatform,
    /// The platform the engine runs actions on: `platform` fenced by
    /// `term`.
    pub fenced: fence::FencedPlatform,
    /// The leadership term: every status write and platform operation
    /// checks it; runs are aborted when it ends.
    pub term: Term,
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
/// actions to end (their deferPhases run, their pods are deleted). With
/// leader election, works only while it holds the Lease, and releases it
/// at the end.
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
    tracing::info!(
        scope = ?config.scope,
        concurrency = config.concurrency,
        home = %config.home_namespace,
        identity = %config.identity,
        leader_election = config.leader.is_some(),
        ttl_after_finished = ?config.retention.ttl,
        keep_last = config.retention.keep_last,
        "controller started"
    );
    match config.leader.clone() {
        None => lead(&platform, &config, &apis, Term::unbounded(), &shutdown).await,
        Some(lc) => {
            let mut elector = Elector::new(client, lc);
            // A standby is Ready (http.rs says why).
            config
                .telemetry
                .health
                .mark_ready("standing by for leadership (--leader-elect)");
            while let Some(term) = elector.acquire(&shutdown).await {
                let done = CancellationToken::new();
                let renew = elector.keep(&term, &done);
                let work = async {
                    lead(&platform, &config, &apis, term.clone(), &shutdown).await;
                    done.cancel();
                };
                tokio::join!(renew, work);
                if term.valid() {
                    // Stopped cleanly while leading: let a standby in now.
                    if let Err(e) = elector.release().await {
                        tracing::warn!("releasing the lease: {e}");
                    }
                    break;
                }
                if shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!("standing by again: another controller leads now");
            }
        }
    }
    platform.drain(Duration::from_secs(60)).await;
    tracing::info!("controller stopped");
    Ok(())
}

/// The work of one leadership term (the whole run without leader
/// election): the controllers, the runs, retention. Returns when
/// `shutdown` fired and the runs ended, or at once when the term ends.
async fn lead(
    platform: &KubePlatform,
    config: &Config,
    apis: &[(String, Api<ActionSet>)],
    term: Term,
    shutdown: &CancellationToken,
) {
    let client = platform.client().clone();
    let shared = Arc::new(Shared {
        recorder: events::Events::new(client.clone()),
        client,
        platform: platform.clone(),
        fenced: fence::FencedPlatform::new(platform.clone(), term.clone()),
        term: term.clone(),
        registry: Arc::new(Registry::builtin()),
        slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
        config: config.clone(),
        runs: Mutex::new(HashMap::new()),
        tasks: TaskTracker::new(),
        shutdown: shutdown.clone(),
    });
    // The controllers stop on Ctrl-C/SIGTERM or when the term ends.
    let stop = CancellationToken::new();
    let stopper = {
        let (stop, shutdown, term) = (stop.clone(), shutdown.clone(), term.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = term.expired() => {}
            }
            stop.cancel();
        })
    };
    let health = shared.config.telemetry.health.clone();
    health.expect_syncs(apis.len());
    let mut stores = Vec::new();
    let controllers: Vec<_> = apis
        .iter()
        .map(|(scope, api)| {
            let controller = Controller::new(api.clone(), watcher::Config::default());
            health.ready_when_synced(controller.store());
            let ctx = Arc::new(Ctx {
                shared: shared.clone(),
                store: controller.store(),
            });
            stores.push(controller.store());
            let (stop, scope) = (stop.clone(), scope.clone());
            async move {
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
        })
        .collect();
    let sweeper = tokio::spawn(retention::sweep(shared.clone(), stores, stop.clone()));
    futures::future::join_all(controllers).await;
    // Ctrl-C/SIGTERM: every run's token is a child of `shutdown`, so the
    // actions are being cancelled; wait for their deferPhases and final
    // status writes. A term that ended: the runs abort themselves.
    shared.tasks.close();
    shared.tasks.wait().await;
    let _ = sweeper.await;
    stopper.abort();
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
    if !shared.term.valid() {
        return Ok(Action::await_change());
    }
    match set.status.as_ref().map(|s| s.state) {
        None => status::initialise(shared, &set).await?,
        Some(State::Pending) => run::start(&ctx, set.clone()),
        Some(State::Running) => recover::start(&ctx, set.clone()),
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
