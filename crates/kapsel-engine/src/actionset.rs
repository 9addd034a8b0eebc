//! Kanister ActionSets on both sides of the engine, shared by `kapsel run
//! --actionset` and the controller: the [`ActionRequest`] for one resolved
//! `spec.actions[]` entry ([`request`]), and the `status` Kanister's
//! controller writes for the results ([`action_status`], [`set_status`],
//! [`initial_status`]).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kapsel_api::{
    ActionSetStatus, ActionSpec, ActionStatus, BlueprintAction, ErrorStatus, ObjectReference,
    Phase, State,
};
use kapsel_params::RenderParams;
use kapsel_params::file::ProfileParams;

use crate::event::Outcome;
use crate::function::PodOptions;
use crate::runner::{ActionRequest, ActionResult, PhaseResult};

/// What an action draws from the world once its references are resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// `.Secrets`, by the ActionSet's names.
    pub secrets: BTreeMap<String, Secret>,
    /// `.ConfigMaps`, by the ActionSet's names.
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// `.Profile`, its credential resolved.
    pub profile: Option<ProfileParams>,
    /// Deadline of each phase (over the `kapsel.dev/phase-timeout` option).
    pub phase_timeout: Option<Duration>,
    /// Deadline of the action (over the `kapsel.dev/action-timeout` option).
    pub action_timeout: Option<Duration>,
}

/// The engine's request for `spec` (the effective one): `params` are the
/// object's parameters (`.Object` and the workload), then the ActionSet's
/// Secrets, ConfigMaps, Profile, options, input artifacts and pod settings
/// are added, and `.Time` is now.
pub fn request(
    spec: &ActionSpec,
    action: BlueprintAction,
    mut params: RenderParams,
    resolved: Resolved,
) -> ActionRequest {
    params.time = chrono_now();
    params.secrets = resolved.secrets;
    params.config_maps = resolved.config_maps;
    params.profile = resolved.profile;
    params.options = (!spec.options.is_empty()).then(|| spec.options.clone());
    params.artifacts_in = (!spec.artifacts.is_empty()).then(|| {
        spec.artifacts
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    kapsel_params::file::ArtifactIn {
                        key_value: Some(v.key_value.clone()),
                        kopia_snapshot: v.kopia_snapshot.clone(),
                    },
                )
            })
            .collect()
    });
    params.pod_override = spec.pod_override.clone();
    params.pod_labels = (!spec.pod_labels.is_empty()).then(|| spec.pod_labels.clone());
    params.pod_annotations =
        (!spec.pod_annotations.is_empty()).then(|| spec.pod_annotations.clone());
    ActionRequest {
        name: spec.name.clone(),
        action,
        params,
        pod: PodOptions {
            labels: spec.pod_labels.clone(),
            annotations: spec.pod_annotations.clone(),
            pod_override: spec.pod_override.clone(),
        },
        preferred_version: (!spec.preferred_version.is_empty())
            .then(|| spec.preferred_version.clone()),
        phase_timeout: resolved.phase_timeout,
        action_timeout: resolved.action_timeout,
    }
}

/// UTC RFC 3339 with nanoseconds, as Kanister's `.Time`.
fn chrono_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.fZ")
        .to_string()
}

/// A phase's status for its result.
pub fn phase_status(p: &PhaseResult) -> Phase {
    Phase {
        name: p.name.clone(),
        state: outcome_state(p.outcome),
        output: (!p.output.is_empty()).then(|| p.output.clone().into_iter().collect()),
        progress: Default::default(),
    }
}

/// The state Kanister writes for an outcome (`None`: never started).
pub fn outcome_state(outcome: Option<Outcome>) -> State {
    match outcome {
        None => State::Pending,
        Some(Outcome::Complete) => State::Complete,
        Some(_) => State::Failed,
    }
}

/// `status.actions[]` for one action: phases (with outputs), the defer
/// phase, output artifacts.
pub fn action_status(spec: &ActionSpec, result: &ActionResult) -> ActionStatus {
    ActionStatus {
        name: spec.name.clone(),
        object: spec.object.clone(),
        blueprint: spec.blueprint.clone(),
        phases: result.phases.iter().map(phase_status).collect(),
        artifacts: result.artifacts.clone(),
        defer_phase: result.defer_phase.as_ref().map(phase_status),
    }
}

/// `status.actions[]` as Kanister initialises it before anything runs:
/// every phase and the defer phase pending, the output artifacts as the
/// Blueprint's templates.
pub fn initial_action_status(spec: &ActionSpec, action: &BlueprintAction) -> ActionStatus {
    let pending = |name: &str| Phase {
        name: name.to_string(),
        state: State::Pending,
        output: None,
        progress: Default::default(),
    };
    ActionStatus {
        name: spec.name.clone(),
        object: spec.object.clone(),
        blueprint: spec.blueprint.clone(),
        phases: action.phases.iter().map(|p| pending(&p.name)).collect(),
        artifacts: action.output_artifacts.clone(),
        defer_phase: action.defer_phase.as_ref().map(|p| pending(&p.name)),
    }
}

/// `kind/namespace/name` (`kind/name` without a namespace).
pub fn object_text(o: &ObjectReference) -> String {
    if o.namespace.is_empty() {
        format!("{}/{}", o.kind, o.name)
    } else {
        format!("{}/{}/{}", o.kind, o.namespace, o.name)
    }
}

/// The ActionSet's status after its actions ran: `complete` only when every
/// action completed (what Kanister's controller means to do; kanister.md
/// §5), else `failed`; `error.message` is the failed action's error, or
/// with several actions each failed action's error, naming it, in
/// `spec.actions` order.
pub fn set_status(actions: &[(&ActionSpec, &ActionResult)]) -> ActionSetStatus {
    let complete = actions.iter().all(|(_, r)| r.outcome == Outcome::Complete);
    let message = if let [(_, r)] = actions {
        r.error.clone().unwrap_or_default()
    } else {
        actions
            .iter()
            .filter_map(|(s, r)| {
                r.error
                    .as_ref()
                    .map(|e| format!("action {} on {}: {e}", s.name, object_text(&s.object)))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    ActionSetStatus {
        state: if complete {
            State::Complete
        } else {
            State::Failed
        },
        actions: actions.iter().map(|(s, r)| action_status(s, r)).collect(),
        error: ErrorStatus { message },
        progress: Default::default(),
        conditions: Vec::new(),
    }
}
