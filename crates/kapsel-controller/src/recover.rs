//! Restart safety: an ActionSet found `running` that no run of this
//! process owns was being run by a controller that stopped (killed,
//! OOM-killed, node lost, or a leader that lost its Lease and was fenced).
//! Kanister leaves it `running` forever (#3725).
//!
//! Kapsel does not resume it: a phase interrupted half-way (a backup half
//! uploaded, a workload scaled down) cannot in general be repeated or
//! continued safely without knowing what it did. Instead, in this order:
//!
//! 1. the interrupted phases are marked `failed` and `error.message` says
//!    why (the set stays `running` while the clean-up below runs, so that a
//!    controller dying now leaves it to the next one);
//! 2. the task pods of the dead run (labelled with the ActionSet's uid) are
//!    deleted, and waited for until they are gone, so that nothing of the
//!    old run still runs when
//! 3. each action's deferPhase runs (unless it already ended: `complete` or
//!    `failed`), alone, with the outputs of the phases that completed
//!    (`kapsel_engine::run_defer_phase`), its progress written to
//!    `status.actions[].deferPhase` with the usual events;
//! 4. the set is `failed` with [`RESTART_REASON`] in `error.message`, with
//!    the deferPhases' results.
//!
//! Nothing else runs again. The checks are made on the API's current
//! object, so a stale cache (a run that just ended, its final write not
//! yet seen) is never taken over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kapsel_api::{ActionSet, State};
use kapsel_engine::{EventSink, Outcome, run_defer_phase};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use tokio::sync::mpsc;

use crate::leader::while_valid;
use crate::run::write_progress;
use crate::status::{Key, now, update};
use crate::{ACTIONSET_UID_LABEL, CONTROLLER_ANNOTATION, Ctx, Scope, Shared, resolve};

/// The start of `error.message` of an ActionSet failed on restart.
pub const RESTART_REASON: &str = "the controller stopped while this ActionSet was running";

/// How long the old run's pods may take to go.
const POD_GONE_LIMIT: Duration = Duration::from_secs(120);

/// Starts the recovery of an orphaned `running` ActionSet, unless a run or
/// recovery of this process already owns it.
pub(crate) fn start(ctx: &Ctx, set: Arc<ActionSet>) {
    let key = Key::of(&set);
    {
        let Ok(mut runs) = ctx.shared.runs.lock() else {
            return;
        };
        if runs.contains_key(&key.uid) {
            return;
        }
        runs.insert(key.uid.clone(), ctx.shared.shutdown.child_token());
    }
    let shared = ctx.shared.clone();
    ctx.shared.tasks.spawn(async move {
        match while_valid(&shared.term, recover(&shared, &key)).await {
            Some(Err(e)) => {
                tracing::warn!(actionset = %key.name, namespace = %key.namespace, "recovering: {e}")
            }
            Some(Ok(())) => {}
            None => {
                tracing::error!(actionset = %key.name, namespace = %key.namespace, "recovery aborted: this controller's leadership ended")
            }
        }
        if let Ok(mut runs) = shared.runs.lock() {
            runs.remove(&key.uid);
        }
    });
}

async fn recover(shared: &Arc<Shared>, key: &Key) -> Result<(), kube::Error> {
    // 1. Take it over: the interrupted phases failed, the reason written.
    let mut taken = false;
    let mut message = String::new();
    let Some(set) = update(shared, key, |s| {
        taken = false;
        let who = s
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONTROLLER_ANNOTATION))
            .map(|w| format!("the controller {w} that ran it"))
            .unwrap_or_else(|| "the controller that ran it".to_string());
        let Some(st) = s.status.as_mut() else {
            return false;
        };
        if st.state != State::Running {
            return false;
        }
        message = format!(
            "{RESTART_REASON}: {who} stopped (killed, crashed, or lost its leader lease) and {} took over at {}; the interrupted phase was not resumed (Kapsel does not resume an interrupted phase: create the ActionSet again)",
            shared.config.identity,
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        for a in &mut st.actions {
            for p in &mut a.phases {
                if p.state == State::Running {
                    p.state = State::Failed;
                }
            }
        }
        st.error.message = message.clone();
        st.progress.running_phase.clear();
        st.progress.last_transition_time = Some(now());
        taken = true;
        true
    })
    .await?
    else {
        return Ok(());
    };
    if !taken {
        return Ok(());
    }
    tracing::warn!(actionset = %key.name, namespace = %key.namespace, "{message}");

    // 2. The old run's pods, gone before any clean-up starts.
    delete_pods(shared, &set, key).await;

    // 3. The deferPhases not yet ended.
    let mut notes = Vec::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_progress(
        shared.clone(),
        key.clone(),
        set.clone(),
        Vec::new(),
        rx,
    ));
    let actions = set
        .status
        .as_ref()
        .map(|s| s.actions.clone())
        .unwrap_or_default();
    for (i, (spec, st)) in set.spec.actions.iter().zip(&actions).enumerate() {
        let Some(dp) = &st.defer_phase else {
            continue;
        };
        if matches!(dp.state, State::Complete | State::Failed) {
            continue;
        }
        let completed: BTreeMap<String, kapsel_engine::function::Outputs> = st
            .phases
            .iter()
            .filter(|p| p.state == State::Complete)
            .map(|p| {
                let out = p.output.clone().unwrap_or_default().into_iter().collect();
                (p.name.clone(), out)
            })
            .collect();
        let outcome = match resolve::request(shared, &key.namespace, &key.name, &key.uid, spec)
            .await
        {
            Err(e) => {
                let _ = tx.send((
                    i,
                    kapsel_engine::Event::PhaseEnded {
                        phase: dp.name.clone(),
                        outcome: Outcome::Failed,
                        duration: Duration::ZERO,
                        error: Some(e.clone()),
                        output: Default::default(),
                    },
                ));
                format!("failed: {e}")
            }
            Ok(req) => {
                tracing::info!(actionset = %key.name, namespace = %key.namespace, action = %spec.name, "running the deferPhase {} of the interrupted action", dp.name);
                let (sink, mut events) = EventSink::channel();
                let fwd = {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(e) = events.recv().await {
                            let _ = tx.send((i, e));
                        }
                    })
                };
                let r = run_defer_phase(&req, &completed, &shared.fenced, &shared.registry, &sink)
                    .await;
                drop(sink);
                let _ = fwd.await;
                match r {
                    Some(pr) if pr.outcome == Some(Outcome::Complete) => "complete".to_string(),
                    Some(pr) => format!("failed: {}", pr.error.unwrap_or_default()),
                    None => continue,
                }
            }
        };
        notes.push(format!(
            "action {}: its deferPhase {} ran: {outcome}",
            spec.name, dp.name
        ));
    }
    drop(tx);
    let _ = writer.await;

    // 4. Failed, with the reason and what the clean-up did.
    if !notes.is_empty() {
        message = format!("{message}; {}", notes.join("; "));
    }
    let mut failed = false;
    let done = update(shared, key, |s| {
        failed = false;
        let Some(st) = s.status.as_mut() else {
            return false;
        };
        if st.state != State::Running {
            return false;
        }
        for a in &mut st.actions {
            for p in a.phases.iter_mut().chain(a.defer_phase.as_mut()) {
                if p.state == State::Running {
                    p.state = State::Failed;
                }
            }
        }
        st.state = State::Failed;
        st.error.message = message.clone();
        st.progress.running_phase.clear();
        st.progress.last_transition_time = Some(now());
        failed = true;
        true
    })
    .await?;
    let Some(done) = done.filter(|_| failed) else {
        return Ok(());
    };
    tracing::warn!(actionset = %key.name, namespace = %key.namespace, "failed: {message}");
    shared.config.telemetry.metrics.finished(false);
    for a in &done.spec.actions {
        shared.recorder.failed(&done, &a.name, &message).await;
    }
    Ok(())
}

/// Deletes the task pods labelled with the ActionSet's uid (in every
/// namespace when the controller watches all, else in the ActionSet's
/// namespace and its objects'), then waits until they are gone: the
/// deletion has a 1 s grace period, so the pod object goes once the
/// kubelet has stopped its containers.
async fn delete_pods(shared: &Shared, set: &ActionSet, key: &Key) {
    let lp = ListParams::default().labels(&format!("{ACTIONSET_UID_LABEL}={}", key.uid));
    let apis: Vec<Api<Pod>> = match &shared.config.scope {
        Scope::All => vec![Api::all(shared.client.clone())],
        Scope::Namespaces(_) => {
            let mut namespaces: BTreeSet<String> = set
                .spec
                .actions
                .iter()
                .map(|a| a.object.namespace.clone())
                .filter(|n| !n.is_empty())
                .collect();
            namespaces.insert(key.namespace.clone());
            namespaces
                .iter()
                .map(|ns| Api::namespaced(shared.client.clone(), ns))
                .collect()
        }
    };
    let t0 = Instant::now();
    let mut deleted = BTreeSet::new();
    loop {
        let mut left = 0;
        for api in &apis {
            let pods = match api.list(&lp).await {
                Ok(l) => l.items,
                Err(e) => {
                    tracing::warn!(actionset = %key.name, "listing its task pods: {e}");
                    continue;
                }
            };
            for p in pods {
                let (Some(ns), Some(name)) = (p.metadata.namespace, p.metadata.name) else {
                    continue;
                };
                left += 1;
                let late = t0.elapsed() > POD_GONE_LIMIT;
                if !late && !deleted.insert((ns.clone(), name.clone())) {
                    continue;
                }
                let api: Api<Pod> = Api::namespaced(shared.client.clone(), &ns);
                let grace = if late { 0 } else { 1 };
                match api
                    .delete(&name, &DeleteParams::default().grace_period(grace))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(actionset = %key.name, "deleting its task pod {ns}/{name}")
                    }
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => {
                        tracing::warn!(actionset = %key.name, "deleting its task pod {ns}/{name}: {e}")
                    }
                }
            }
        }
        if left == 0 {
            return;
        }
        if t0.elapsed() > POD_GONE_LIMIT + Duration::from_secs(10) {
            tracing::warn!(actionset = %key.name, "{left} task pod(s) still there after {POD_GONE_LIMIT:?}: going on");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
