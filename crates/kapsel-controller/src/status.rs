//! Writing an ActionSet's status as Kanister does: the whole object is
//! replaced (no status subresource), get → mutate → replace, retried on 409
//! conflicts with backoff (100 ms doubling to 10 s; kanister.md §5.6); and
//! the initial status (§5.1).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kapsel_api::{ActionSet, ActionSetStatus, ActionStatus, ErrorStatus, State};
use kapsel_engine::actionset::initial_action_status;
use kube::api::PostParams;
use kube::{Api, ResourceExt};

use crate::{ReconcileError, Shared, resolve};

/// Where an ActionSet is: namespace, name and uid (a recreated ActionSet
/// with the same name is another one).
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Key {
    pub fn of(set: &ActionSet) -> Key {
        Key {
            namespace: set.namespace().unwrap_or_default(),
            name: set.name_any(),
            uid: set.uid().unwrap_or_default(),
        }
    }
}

/// Now, as a Kubernetes time.
pub(crate) fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// get → `mutate` → replace, retried on conflicts. `mutate` returns
/// whether to write. `Ok(None)`: the ActionSet is gone (deleted, or
/// replaced by another with the same name), or this controller's
/// leadership term has ended (then nothing is written: the next leader
/// owns the ActionSet).
pub(crate) async fn update(
    shared: &Shared,
    key: &Key,
    mut mutate: impl FnMut(&mut ActionSet) -> bool,
) -> Result<Option<ActionSet>, kube::Error> {
    let api: Api<ActionSet> = Api::namespaced(shared.client.clone(), &key.namespace);
    let mut pause = Duration::from_millis(100);
    loop {
        if !shared.term.valid() {
            return Ok(None);
        }
        let Some(mut set) = api.get_opt(&key.name).await? else {
            return Ok(None);
        };
        if set.uid().as_deref() != Some(key.uid.as_str()) {
            return Ok(None);
        }
        if !mutate(&mut set) {
            return Ok(Some(set));
        }
        crate::conditions::refresh(&mut set);
        if !shared.term.valid() {
            return Ok(None);
        }
        match api.replace(&key.name, &PostParams::default(), &set).await {
            Ok(s) => return Ok(Some(s)),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Kanister's `initActionSetStatus`: `pending`, per action the Blueprint's
/// phases and deferPhase pending and its output artifacts as templates;
/// an invalid spec or a missing Blueprint or action → `failed` with
/// `error.message` naming it.
pub(crate) async fn initialise(shared: &Shared, set: &ActionSet) -> Result<(), ReconcileError> {
    let key = Key::of(set);
    let mut errors = Vec::new();
    let mut actions = Vec::new();
    if set.spec.actions.is_empty() {
        errors.push("spec.actions is empty: nothing to run".to_string());
    }
    for (i, spec) in set.spec.actions.iter().enumerate() {
        let blank = ActionStatus {
            name: spec.name.clone(),
            object: spec.object.clone(),
            blueprint: spec.blueprint.clone(),
            ..ActionStatus::default()
        };
        if let Some(e) = resolve::invalid(spec) {
            errors.push(format!("spec.actions[{i}]: {e}"));
            actions.push(blank);
            continue;
        }
        match resolve::blueprint(shared, &key.namespace, &spec.blueprint).await {
            Ok(bp) => match bp.action(&spec.name) {
                Some(a) => actions.push(initial_action_status(spec, a)),
                None => {
                    let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
                    errors.push(format!(
                        "spec.actions[{i}]: Blueprint {} has no action {:?} (its actions: {})",
                        spec.blueprint,
                        spec.name,
                        known.join(", ")
                    ));
                    actions.push(blank);
                }
            },
            Err(e) => {
                errors.push(format!("spec.actions[{i}] ({}): {e}", spec.name));
                actions.push(blank);
            }
        }
    }
    let failed = !errors.is_empty();
    let status = ActionSetStatus {
        state: if failed {
            State::Failed
        } else {
            State::Pending
        },
        actions,
        error: ErrorStatus {
            message: errors.join("\n"),
        },
        progress: kapsel_api::ActionProgress {
            last_transition_time: Some(now()),
            ..Default::default()
        },
        conditions: Vec::new(),
    };
    let mut wrote = false;
    let written = update(shared, &key, |s| {
        wrote = s.status.is_none();
        if !wrote {
            return false;
        }
        s.status = Some(status.clone());
        true
    })
    .await
    .map_err(|source| ReconcileError::Kube {
        what: format!("initialising the status of {}/{}", key.namespace, key.name),
        source,
    })?;
    if let (Some(s), true, true) = (written, failed, wrote) {
        shared.config.telemetry.metrics.finished(false);
        tracing::warn!(actionset = %key.name, namespace = %key.namespace, "failed: {}", errors.join("; "));
        for a in &set.spec.actions {
            shared
                .recorder
                .failed(
                    &s,
                    &a.name,
                    &format!("Could not get initial action: {}", errors.join("; ")),
                )
                .await;
        }
    }
    Ok(())
}
