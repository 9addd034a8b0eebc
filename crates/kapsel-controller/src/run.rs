//! One ActionSet's run: wait for free slots (it stays `pending`
//! meanwhile), claim it (`pending` → `running`, re-read from the API so a
//! stale cache never starts it twice), resolve every action, run them side
//! by side through the engine, write each phase's start and end as it
//! happens, then the final state, error and artifacts.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kapsel_api::{ActionSet, ActionSetStatus, ErrorStatus, Phase, State};
use kapsel_engine::actionset::{action_status, outcome_state, set_status};
use kapsel_engine::{ActionRequest, ActionResult, Event, EventSink, Outcome, run_action};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::target_of;
use crate::leader::while_valid;
use crate::progress::{self, Track, Tracks};
use crate::status::{Key, now, update};
use crate::{Ctx, Shared, resolve};

/// Starts the run of a `pending` ActionSet, unless one of this process
/// already owns it.
pub(crate) fn start(ctx: &Ctx, set: Arc<ActionSet>) {
    let key = Key::of(&set);
    let cancel = ctx.shared.shutdown.child_token();
    {
        let Ok(mut runs) = ctx.shared.runs.lock() else {
            return;
        };
        if runs.contains_key(&key.uid) {
            return;
        }
        runs.insert(key.uid.clone(), cancel.clone());
    }
    let shared = ctx.shared.clone();
    let store = ctx.store.clone();
    ctx.shared.tasks.spawn(async move {
        let watch = tokio::spawn(watch_deletion(store, key.clone(), cancel.clone()));
        // The term ending (fencing) drops the run where it is: no
        // deferPhase, no status write; the next leader recovers it.
        match while_valid(&shared.term, run_set(&shared, &key, &set, &cancel)).await {
            Some(Err(e)) => {
                tracing::warn!(actionset = %key.name, namespace = %key.namespace, "{e}")
            }
            Some(Ok(())) => {}
            None => {
                tracing::error!(actionset = %key.name, namespace = %key.namespace, "aborted: this controller's leadership ended (the next leader recovers it)")
            }
        }
        watch.abort();
        if let Ok(mut runs) = shared.runs.lock() {
            runs.remove(&key.uid);
        }
    });
}

/// Cancels the run when its ActionSet leaves the controller's cache
/// (deleted, or replaced by another with the same name).
async fn watch_deletion(store: Store<ActionSet>, key: Key, cancel: CancellationToken) {
    let r = ObjectRef::<ActionSet>::new(&key.name).within(&key.namespace);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let present = store
            .get(&r)
            .is_some_and(|s| s.metadata.uid.as_deref() == Some(key.uid.as_str()));
        if !present {
            tracing::info!(actionset = %key.name, namespace = %key.namespace, "deleted while running: cancelling (deferPhases still run)");
            cancel.cancel();
            return;
        }
    }
}

/// Why a run could not write its status.
type RunError = kube::Error;

async fn run_set(
    shared: &Arc<Shared>,
    key: &Key,
    set: &ActionSet,
    cancel: &CancellationToken,
) -> Result<(), RunError> {
    let n = set
        .spec
        .actions
        .len()
        .clamp(1, shared.config.concurrency.max(1));
    // 1. Slots. The ActionSet stays `pending` while it waits.
    if shared.slots.available_permits() < n {
        tracing::info!(actionset = %key.name, namespace = %key.namespace, "queued: waiting for {n} free slot(s) of {}", shared.config.concurrency);
        let note = format!(
            "Waiting for {n} free slot(s): {} actions run at most at once (--concurrency)",
            shared.config.concurrency
        );
        // Shown in status too: condition Running=False, reason Queued.
        update(shared, key, |s| {
            let was = s.status.as_ref().map(|st| st.conditions.clone());
            crate::conditions::queued(s, &note);
            s.status.as_ref().map(|st| st.conditions.clone()) != was
        })
        .await?;
        shared.recorder.normal(set, "Queued", "Queued", &note).await;
    }
    let metrics = shared.config.telemetry.metrics.clone();
    let queued = metrics.queued(set.spec.actions.len());
    let permit = tokio::select! {
        p = shared.slots.clone().acquire_many_owned(n as u32) => match p {
            Ok(p) => p,
            Err(_) => return Ok(()),
        },
        _ = cancel.cancelled() => return Ok(()),
    };
    drop(queued);

    // 2. Claim: pending → running, on the API's current object.
    let mut claimed = false;
    let Some(set) = update(shared, key, |s| {
        claimed = false;
        match s.status.as_mut() {
            Some(st) if st.state == State::Pending => {
                st.state = State::Running;
                st.progress.last_transition_time = Some(now());
                claimed = true;
                s.metadata.annotations.get_or_insert_default().insert(
                    crate::CONTROLLER_ANNOTATION.to_string(),
                    shared.config.identity.clone(),
                );
                true
            }
            _ => false,
        }
    })
    .await?
    else {
        return Ok(());
    };
    if !claimed {
        return Ok(());
    }
    tracing::info!(actionset = %key.name, namespace = %key.namespace, "running");
    let running = metrics.running(set.spec.actions.len());

    // 3. Every action's request (Kanister's synchronous setup: an error
    //    fails the set, and its first phase).
    let mut requests: Vec<ActionRequest> = Vec::new();
    for (i, spec) in set.spec.actions.iter().enumerate() {
        match resolve::request(shared, &key.namespace, &key.name, &key.uid, spec).await {
            Ok(r) => requests.push(r),
            Err(e) => {
                let message = format!("action {} (spec.actions[{i}]): {e}", spec.name);
                metrics.resolution(false);
                tracing::warn!(actionset = %key.name, namespace = %key.namespace, "failed: {message}");
                let done = update(shared, key, |s| {
                    let Some(st) = s.status.as_mut() else {
                        return false;
                    };
                    st.state = State::Failed;
                    st.error = ErrorStatus {
                        message: message.clone(),
                    };
                    st.progress.running_phase.clear();
                    st.progress.last_transition_time = Some(now());
                    if let Some(p) = st.actions.get_mut(i).and_then(|a| a.phases.first_mut()) {
                        p.state = State::Failed;
                    }
                    true
                })
                .await?;
                if let Some(s) = done {
                    metrics.finished(false);
                    shared
                        .recorder
                        .failed(
                            &s,
                            &spec.name,
                            &format!("Failed to launch Action {}: {e}", spec.name),
                        )
                        .await;
                }
                return Ok(());
            }
        }
    }

    // 4. The actions side by side; one writer applies their events.
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Event)>();
    let mut handles = Vec::new();
    let targets: Vec<Option<ObjectReference>> = requests.iter().map(target_of).collect();
    for (i, req) in requests.into_iter().enumerate() {
        shared
            .recorder
            .with_target(
                &set,
                targets[i].as_ref(),
                EventType::Normal,
                "Started Action",
                &req.name,
                &format!("Executing action {}", req.name),
            )
            .await;
        let (sink, mut events) = EventSink::channel();
        let tx = tx.clone();
        let mut observer = crate::metrics::ActionObserver::new(metrics.clone());
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                observer.event(&e);
                let _ = tx.send((i, e));
            }
        });
        let (shared2, cancel) = (shared.clone(), cancel.clone());
        handles.push(tokio::spawn(async move {
            let run = run_action(&req, &shared2.fenced, &shared2.registry, &sink, &cancel);
            let r = while_valid(&shared2.term, run)
                .await
                .unwrap_or_else(|| ActionResult {
                    outcome: Outcome::Cancelled,
                    phases: Vec::new(),
                    defer_phase: None,
                    artifacts: Default::default(),
                    error: Some("this controller's leadership ended".to_string()),
                });
            (req, r)
        }));
    }
    drop(tx);
    let writer = tokio::spawn(write_progress(
        shared.clone(),
        key.clone(),
        set.clone(),
        targets.clone(),
        rx,
    ));
    let mut results: Vec<ActionResult> = Vec::new();
    for (h, spec) in handles.into_iter().zip(&set.spec.actions) {
        results.push(match h.await {
            Ok((_, r)) => r,
            Err(e) => ActionResult {
                outcome: Outcome::Failed,
                phases: Vec::new(),
                defer_phase: None,
                artifacts: Default::default(),
                error: Some(format!("action {} stopped unexpectedly: {e}", spec.name)),
            },
        });
    }
    // Every sink is gone: the writer ends after the last event.
    let _ = writer.await;
    results.iter().for_each(|r| metrics.resolved(r));

    // 5. The end: state, error, phases with outputs, artifacts.
    let pairs: Vec<_> = set.spec.actions.iter().zip(&results).collect();
    let mut final_status: ActionSetStatus = set_status(&pairs);
    if final_status.state != State::Complete && shared.shutdown.is_cancelled() {
        final_status.error.message = format!(
            "the controller was stopped (SIGTERM/Ctrl-C) while this ActionSet ran: {}",
            final_status.error.message
        );
    }
    final_status.progress.last_transition_time = Some(now());
    let Some(done) = update(shared, key, |s| {
        let keep = s.status.as_ref().map(|st| st.progress.clone());
        let mut st = final_status.clone();
        if let Some(p) = keep {
            st.progress = kapsel_api::ActionProgress {
                running_phase: String::new(),
                last_transition_time: st.progress.last_transition_time.clone(),
                ..p
            };
        }
        // Phases that never ran keep the Blueprint's templates out of the
        // way: artifacts are the rendered ones, or none after a failure.
        st.actions = pairs
            .iter()
            .map(|(spec, r)| action_status(spec, r))
            .collect();
        if let Some(old) = s.status.as_ref() {
            keep_phase_progress(&mut st, old);
        }
        progress::refresh_total(&mut st);
        s.status = Some(st);
        true
    })
    .await?
    else {
        tracing::info!(actionset = %key.name, namespace = %key.namespace, "ended after its deletion");
        return Ok(());
    };
    metrics.finished(final_status.state == State::Complete);
    // The slots are given back once the status no longer says `running`:
    // never more than --concurrency ActionSets show `running`.
    drop(permit);
    drop(running);
    if final_status.state == State::Complete {
        tracing::info!(actionset = %key.name, namespace = %key.namespace, "complete");
        shared
            .recorder
            .normal(
                &done,
                "Update Complete",
                "Update Complete",
                &format!("Updated ActionSet '{}' Status->complete", key.name),
            )
            .await;
    } else {
        tracing::warn!(actionset = %key.name, namespace = %key.namespace, "failed: {}", final_status.error.message);
        for (i, (spec, r)) in pairs.iter().enumerate() {
            if let Some(e) = &r.error {
                shared
                    .recorder
                    .failed_with_target(
                        &done,
                        targets.get(i).and_then(Option::as_ref),
                        &spec.name,
                        &format!("Failed to execute phase: {e}"),
                    )
                    .await;
            }
        }
    }
    Ok(())
}

/// Applies the actions' phase starts and ends to the status as they come
/// (those that arrived meanwhile in one write), with Kanister's events,
/// and a running phase's bytes every [`progress::WRITE_EVERY`].
pub(crate) async fn write_progress(
    shared: Arc<Shared>,
    key: Key,
    set: ActionSet,
    targets: Vec<Option<ObjectReference>>,
    mut rx: mpsc::UnboundedReceiver<(usize, Event)>,
) {
    let mut gone = false;
    let mut tracks = Tracks::new();
    let mut tick = tokio::time::interval(progress::WRITE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = tick.tick() => {
                if !gone && tracks.values().any(|t| t.changed) {
                    gone = write_status(&shared, &key, &mut tracks, &[]).await;
                }
                continue;
            }
        };
        let mut batch = vec![first];
        while let Ok(e) = rx.try_recv() {
            batch.push(e);
        }
        let mut notes = Vec::new();
        for (i, e) in &batch {
            let action = set
                .spec
                .actions
                .get(*i)
                .map(|a| a.name.as_str())
                .unwrap_or_default();
            match e {
                Event::PhaseStarted { phase, defer, .. } => {
                    tracks.insert((*i, phase.clone()), Track::new());
                    notes.push((
                        *i,
                        if *defer {
                            "Started deferPhase"
                        } else {
                            "Started Phase"
                        },
                        format!("{action}/{phase}"),
                        format!(
                            "Executing {} {phase}",
                            if *defer { "deferPhase" } else { "phase" }
                        ),
                    ))
                }
                Event::PhaseEnded {
                    phase,
                    outcome: Outcome::Complete,
                    ..
                } => {
                    let defer = set_phase(&set, *i, phase).is_none();
                    notes.push((
                        *i,
                        if defer {
                            "Ended deferPhase"
                        } else {
                            "Ended Phase"
                        },
                        format!("{action}/{phase}"),
                        format!(
                            "Completed {} {phase}",
                            if defer { "deferPhase" } else { "phase" }
                        ),
                    ));
                }
                Event::Log { phase, line, .. } => {
                    if let Some(t) = tracks.get_mut(&(*i, phase.clone())) {
                        t.line(line);
                    }
                    tracing::info!(actionset = %key.name, namespace = %key.namespace, action, phase = %phase, "{line}");
                }
                _ => {}
            }
        }
        let changes: Vec<&(usize, Event)> = batch
            .iter()
            .filter(|(_, e)| matches!(e, Event::PhaseStarted { .. } | Event::PhaseEnded { .. }))
            .collect();
        if !changes.is_empty() && !gone {
            gone = write_status(&shared, &key, &mut tracks, &changes).await;
        }
        for (i, e) in &changes {
            if let Event::PhaseEnded { phase, .. } = e {
                tracks.remove(&(*i, phase.clone()));
            }
        }
        if !gone {
            for (i, reason, action, note) in notes {
                let target = targets.get(i).and_then(Option::as_ref);
                shared
                    .recorder
                    .with_target(&set, target, EventType::Normal, reason, &action, &note)
                    .await;
            }
        }
    }
}

/// Writes phase starts and ends and the tracked phases' bytes; whether the
/// ActionSet is gone.
async fn write_status(
    shared: &Shared,
    key: &Key,
    tracks: &mut Tracks,
    changes: &[&(usize, Event)],
) -> bool {
    let r = update(shared, key, |s| {
        let Some(st) = s.status.as_mut() else {
            return false;
        };
        for (i, e) in changes {
            apply(st, *i, e, tracks);
        }
        for ((i, phase), t) in tracks.iter() {
            if t.changed
                && let Some(a) = st.actions.get_mut(*i)
            {
                let defer = !a.phases.iter().any(|p| &p.name == phase);
                if let Some(p) = phase_mut(a, phase, defer)
                    && p.state == State::Running
                {
                    p.progress = t.progress(false);
                }
            }
        }
        progress::refresh_total(st);
        true
    })
    .await;
    match r {
        Ok(Some(_)) => {
            tracks.values_mut().for_each(|t| t.changed = false);
            false
        }
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(actionset = %key.name, "writing progress: {e}");
            false
        }
    }
}

/// The phases' progress as written while they ran.
pub(crate) fn keep_phase_progress(st: &mut ActionSetStatus, old: &ActionSetStatus) {
    for (a, o) in st.actions.iter_mut().zip(&old.actions) {
        for p in a.phases.iter_mut().chain(a.defer_phase.as_mut()) {
            if let Some(q) = o
                .phases
                .iter()
                .chain(o.defer_phase.as_ref())
                .find(|q| q.name == p.name)
            {
                p.progress = q.progress.clone();
            }
        }
    }
}

/// The index of `phase` among action `i`'s phases (`None`: its deferPhase).
fn set_phase(set: &ActionSet, i: usize, phase: &str) -> Option<usize> {
    set.status
        .as_ref()
        .and_then(|st| st.actions.get(i))
        .and_then(|a| a.phases.iter().position(|p| p.name == phase))
}

/// One phase start or end applied to the status.
fn apply(st: &mut ActionSetStatus, i: usize, e: &Event, tracks: &Tracks) {
    let Some(a) = st.actions.get_mut(i) else {
        return;
    };
    match e {
        Event::PhaseStarted { phase, defer, .. } => {
            if let Some(p) = phase_mut(a, phase, *defer) {
                p.state = State::Running;
                p.progress = progress::plain(false);
            }
            st.progress.running_phase = phase.clone();
            st.progress.last_transition_time = Some(now());
        }
        Event::PhaseEnded {
            phase,
            outcome,
            output,
            ..
        } => {
            let defer = !a.phases.iter().any(|p| &p.name == phase);
            if let Some(p) = phase_mut(a, phase, defer) {
                p.state = outcome_state(Some(*outcome));
                if !output.is_empty() {
                    p.output = Some(output.clone().into_iter().collect());
                }
                // A failed phase keeps the percent it had reached.
                let done = *outcome == Outcome::Complete;
                match tracks.get(&(i, phase.clone())) {
                    Some(t) => {
                        let mut q = t.progress(done);
                        if !done {
                            q.progress_percent = p.progress.progress_percent.clone();
                            q.estimated_time_seconds = 0;
                        }
                        p.progress = q;
                    }
                    None if done => p.progress = progress::plain(true),
                    None => {}
                }
            }
            st.progress.last_transition_time = Some(now());
        }
        _ => {}
    }
}

fn phase_mut<'a>(
    a: &'a mut kapsel_api::ActionStatus,
    name: &str,
    defer: bool,
) -> Option<&'a mut Phase> {
    if defer {
        a.defer_phase.as_mut().filter(|p| p.name == name)
    } else {
        a.phases.iter_mut().find(|p| p.name == name)
    }
}
