//! Running one action, as Kanister's controller does (kanister.md §5):
//!
//! 1. every phase's (and the defer phase's) `objects` are rendered first;
//! 2. phases run in order: fetch the phase's Secrets and ConfigMaps, render its
//!    args with the earlier phases' outputs visible in `.Phases`, check them
//!    against the function's argument spec, run the function, keep its outputs;
//!    the first failure stops the phases (later ones stay pending);
//! 3. the defer phase always runs, after success, failure, timeout or
//!    cancellation; its failure fails the action;
//! 4. output artifacts are rendered only when every phase and the defer phase
//!    completed.
//!
//! Beyond Kanister (kanister#1175): a deadline per phase and per action. A
//! phase that reaches either ends with a clear error, and the defer phase still
//! runs (bounded by the phase deadline, not by the spent action deadline).
//! They come from the request (`kapsel run --phase-timeout/--timeout`) or
//! from the ActionSet's options [`PHASE_TIMEOUT_OPTION`] and
//! [`ACTION_TIMEOUT_OPTION`] (Go duration syntax); the request wins.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kapsel_api::{Artifact, BlueprintAction, BlueprintPhase, ObjectReference};
use kapsel_params::build::{self, PhaseState};
use kapsel_params::file::PhaseParams;
use kapsel_params::{Redactor, RenderParams, Renderer, template_params};
use tokio_util::sync::CancellationToken;

use crate::event::{Event, EventSink, LogStream, Outcome};
use crate::function::{Context, ObjectInfo, Outputs, PodOptions, Registry, check_args};
use crate::platform::Platform;

/// ActionSet option (`spec.actions[].options`) setting each phase's
/// deadline, e.g. `10m`.
pub const PHASE_TIMEOUT_OPTION: &str = "kapsel.dev/phase-timeout";

/// ActionSet option setting the whole action's deadline (the defer phase
/// excepted), e.g. `1h30m`.
pub const ACTION_TIMEOUT_OPTION: &str = "kapsel.dev/action-timeout";

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal
/// numbers with units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, e.g. `1h30m`,
/// `1.5s`, `250ms`. Negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {s:?}: {why} (e.g. 90s, 10m, 1h30m)");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = t;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().map_err(|_| bad("expected a number"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(bad("missing unit")),
            _ => return Err(bad("unknown unit")),
        };
        rest = &rest[u..];
        total += num * secs;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad("out of range"))
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// The action's name (for events and messages).
    pub name: String,
    /// The Blueprint action.
    pub action: BlueprintAction,
    /// The world the templates see before any phase ran: object, workload,
    /// Secrets, ConfigMaps, resolved Profile, input artifacts, options, time.
    pub params: RenderParams,
    /// ActionSet pod settings.
    pub pod: PodOptions,
    /// `preferredVersion` of the functions.
    pub preferred_version: Option<String>,
    /// Deadline of each phase.
    pub phase_timeout: Option<Duration>,
    /// Deadline of the whole action (the defer phase excepted).
    pub action_timeout: Option<Duration>,
}

/// The result of one phase.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseResult {
    /// Phase name.
    pub name: String,
    /// Function.
    pub func: String,
    /// `None` when the phase never started (an earlier one failed).
    pub outcome: Option<Outcome>,
    /// Its outputs.
    pub output: Outputs,
    /// Why it failed (redacted).
    pub error: Option<String>,
    /// How long it ran.
    #[serde(skip)]
    pub duration: Duration,
}

/// The result of the action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// How the action ended.
    pub outcome: Outcome,
    /// Phases in order.
    pub phases: Vec<PhaseResult>,
    /// The defer phase, if the action has one.
    pub defer_phase: Option<PhaseResult>,
    /// Rendered output artifacts (only when everything completed).
    pub artifacts: BTreeMap<String, Artifact>,
    /// Why the action failed (redacted): the first failure.
    pub error: Option<String>,
}

impl ActionResult {
    /// The result of an action that failed before any phase ran: every phase
    /// (and the defer phase) pending, no artifacts, `error` (already
    /// redacted) as the reason.
    pub fn not_run(action: &BlueprintAction, error: String) -> ActionResult {
        ActionResult {
            outcome: Outcome::Failed,
            phases: action.phases.iter().map(pending).collect(),
            defer_phase: action.defer_phase.as_ref().map(pending),
            artifacts: BTreeMap::new(),
            error: Some(error),
        }
    }
}

/// Why a phase ended early, before its result is recorded.
enum Stop {
    Failed(String),
    TimedOut(String),
    Cancelled,
}

/// Runs an action.
pub async fn run_action(
    req: &ActionRequest,
    platform: &dyn Platform,
    registry: &Registry,
    events: &EventSink,
    cancel: &CancellationToken,
) -> ActionResult {
    let mut redactor = Redactor::for_params(&req.params);
    let renderer = Renderer::kanister();
    let namespace = object_namespace(req);
    let object = ObjectInfo::from_params(&req.params);
    let started = Instant::now();
    events.send(Event::ActionStarted {
        action: req.name.clone(),
    });
    let option = |key: &str| -> Result<Option<Duration>, String> {
        req.params
            .options
            .as_ref()
            .and_then(|o| o.get(key))
            .map(|v| parse_duration(v).map_err(|e| format!("option {key}: {e}")))
            .transpose()
    };
    let (phase_timeout, action_timeout) =
        match (option(PHASE_TIMEOUT_OPTION), option(ACTION_TIMEOUT_OPTION)) {
            (Ok(p), Ok(a)) => (req.phase_timeout.or(p), req.action_timeout.or(a)),
            (Err(e), _) | (_, Err(e)) => {
                events.send(Event::ActionEnded {
                    action: req.name.clone(),
                    outcome: Outcome::Failed,
                    error: Some(e.clone()),
                });
                return ActionResult::not_run(&req.action, e);
            }
        };
    let deadline = action_timeout.map(|t| started + t);

    // 0. Every function resolves before any phase runs (Kanister's
    //    GetPhases): a typo in the last phase must not leave the first ones
    //    done (an application quiesced, say) and then fail.
    let version = req.preferred_version.as_deref();
    for p in req
        .action
        .phases
        .iter()
        .chain(req.action.defer_phase.as_ref())
    {
        if let Err(e) = registry.resolve(&p.func, version) {
            let e = format!("phase {}: {e}", p.name);
            events.send(Event::ActionEnded {
                action: req.name.clone(),
                outcome: Outcome::Failed,
                error: Some(e.clone()),
            });
            return ActionResult::not_run(&req.action, e);
        }
    }

    let mut phases: Vec<PhaseResult> = req.action.phases.iter().map(pending).collect();
    let mut first_error: Option<String> = None;
    let mut outcome = Outcome::Complete;

    // 1. Objects first, with the initial parameters.
    let initial = template_params(&req.params, &PhaseState::initial());
    let mut state = PhaseState::initial();

    match initial {
        Err(e) => {
            outcome = Outcome::Failed;
            first_error = Some(e.to_string());
        }
        Ok(initial) => {
            let objects: Vec<_> = req
                .action
                .phases
                .iter()
                .map(|p| renderer.objects(p, &initial, !req.params.time.is_empty()))
                .collect();
            for (i, (phase, objects)) in req.action.phases.iter().zip(objects).enumerate() {
                events.send(Event::PhaseStarted {
                    phase: phase.name.clone(),
                    func: phase.func.clone(),
                    defer: false,
                });
                let t0 = Instant::now();
                let budget = phase_budget(phase_timeout, deadline);
                let result = run_phase(
                    req,
                    phase,
                    objects,
                    &mut state,
                    &mut redactor,
                    &renderer,
                    platform,
                    registry,
                    events,
                    cancel,
                    &namespace,
                    &object,
                    budget,
                    false,
                )
                .await;
                let (o, output, error) = settle(result);
                let pr = &mut phases[i];
                pr.outcome = Some(o);
                pr.output = output;
                pr.error = error.clone().map(|e| redactor.redact(&e));
                pr.duration = t0.elapsed();
                events.send(Event::PhaseEnded {
                    phase: phase.name.clone(),
                    outcome: o,
                    duration: pr.duration,
                    error: pr.error.clone(),
                    output: pr.output.clone(),
                });
                if o != Outcome::Complete {
                    outcome = o;
                    first_error = pr
                        .error
                        .clone()
                        .map(|e| format!("phase {}: {e}", phase.name));
                    break;
                }
            }
        }
    }

    // 3. The defer phase, always.
    let mut defer_phase = None;
    if let Some(dp) = &req.action.defer_phase {
        let pr = defer(
            req,
            dp,
            &mut state,
            &mut redactor,
            &renderer,
            platform,
            registry,
            events,
            &namespace,
            &object,
            phase_timeout,
        )
        .await;
        let o = pr.outcome.unwrap_or(Outcome::Failed);
        if o != Outcome::Complete && outcome == Outcome::Complete {
            outcome = Outcome::Failed;
            first_error = pr
                .error
                .clone()
                .map(|e| format!("defer phase {}: {e}", dp.name));
        }
        defer_phase = Some(pr);
    }

    // 4. Output artifacts, only after everything completed.
    let mut artifacts = BTreeMap::new();
    if outcome == Outcome::Complete {
        match template_params(&req.params, &state)
            .map_err(|e| e.to_string())
            .and_then(|data| renderer.artifacts(&req.action, &data))
        {
            Ok(a) => artifacts = a,
            Err(e) => {
                outcome = Outcome::Failed;
                first_error = Some(format!("output artifacts: {}", redactor.redact(&e)));
            }
        }
    }
    events.send(Event::ActionEnded {
        action: req.name.clone(),
        outcome,
        error: first_error.clone(),
    });
    ActionResult {
        outcome,
        phases,
        defer_phase,
        artifacts,
        error: first_error,
    }
}

/// The namespace of the action's object (`default` when it has none).
fn object_namespace(req: &ActionRequest) -> String {
    req.params
        .object
        .as_ref()
        .and_then(|o| o.get("metadata"))
        .and_then(|m| m.get("namespace"))
        .and_then(|n| n.as_str())
        .unwrap_or("default")
        .to_string()
}

/// Runs the defer phase `dp` after the phases whose state is in `state`,
/// with its events; not cancellable (it is the clean-up; its own deadline
/// bounds it).
#[allow(clippy::too_many_arguments)]
async fn defer(
    req: &ActionRequest,
    dp: &BlueprintPhase,
    state: &mut PhaseState,
    redactor: &mut Redactor,
    renderer: &Renderer,
    platform: &dyn Platform,
    registry: &Registry,
    events: &EventSink,
    namespace: &str,
    object: &ObjectInfo,
    phase_timeout: Option<Duration>,
) -> PhaseResult {
    let mut pr = pending(dp);
    events.send(Event::PhaseStarted {
        phase: dp.name.clone(),
        func: dp.func.clone(),
        defer: true,
    });
    let t0 = Instant::now();
    let objects = template_params(&req.params, &PhaseState::initial())
        .map_err(|e| e.to_string())
        .and_then(|initial| renderer.objects(dp, &initial, !req.params.time.is_empty()));
    let never = CancellationToken::new();
    let result = run_phase(
        req,
        dp,
        objects,
        state,
        redactor,
        renderer,
        platform,
        registry,
        events,
        &never,
        namespace,
        object,
        phase_timeout,
        true,
    )
    .await;
    let (o, output, error) = settle(result);
    pr.outcome = Some(o);
    pr.output = output;
    pr.error = error.map(|e| redactor.redact(&e));
    pr.duration = t0.elapsed();
    events.send(Event::PhaseEnded {
        phase: dp.name.clone(),
        outcome: o,
        duration: pr.duration,
        error: pr.error.clone(),
        output: pr.output.clone(),
    });
    pr
}

/// Runs only the action's defer phase, as if its phases had just ended:
/// the phases named in `completed` are visible in `.Phases` with those
/// outputs (and their `objects`' Secrets and ConfigMaps, read again; one
/// that cannot be read is left out). For a controller that takes over an
/// action interrupted by another controller's death: the interrupted phase
/// cannot be resumed, the clean-up can run. Emits the defer phase's
/// `PhaseStarted`/`PhaseEnded` events (no `ActionStarted`/`ActionEnded`).
/// `None` when the action has no defer phase.
pub async fn run_defer_phase(
    req: &ActionRequest,
    completed: &BTreeMap<String, Outputs>,
    platform: &dyn Platform,
    registry: &Registry,
    events: &EventSink,
) -> Option<PhaseResult> {
    let dp = req.action.defer_phase.as_ref()?;
    let mut redactor = Redactor::for_params(&req.params);
    let renderer = Renderer::kanister();
    let namespace = object_namespace(req);
    let object = ObjectInfo::from_params(&req.params);
    let failed = |e: String| {
        let mut pr = pending(dp);
        pr.outcome = Some(Outcome::Failed);
        pr.error = Some(e);
        Some(pr)
    };
    let phase_timeout = match req.phase_timeout {
        Some(t) => Some(t),
        None => match req
            .params
            .options
            .as_ref()
            .and_then(|o| o.get(PHASE_TIMEOUT_OPTION))
            .map(|v| parse_duration(v))
            .transpose()
        {
            Ok(t) => t,
            Err(e) => return failed(format!("option {PHASE_TIMEOUT_OPTION}: {e}")),
        },
    };
    if let Err(e) = registry.resolve(&dp.func, req.preferred_version.as_deref()) {
        return failed(format!("phase {}: {e}", dp.name));
    }
    let mut state = PhaseState::initial();
    if let Ok(initial) = template_params(&req.params, &PhaseState::initial()) {
        for p in req.action.phases.iter() {
            let Some(output) = completed.get(&p.name) else {
                continue;
            };
            let objects = renderer
                .objects(p, &initial, !req.params.time.is_empty())
                .ok()
                .flatten()
                .unwrap_or_default();
            let mut pp = fetch_objects(&objects, platform, &mut redactor, &namespace)
                .await
                .unwrap_or_default();
            pp.output = Some(output.clone().into_iter().collect());
            state.phases.insert(p.name.clone(), build::phase(&pp, true));
        }
    }
    Some(
        defer(
            req,
            dp,
            &mut state,
            &mut redactor,
            &renderer,
            platform,
            registry,
            events,
            &namespace,
            &object,
            phase_timeout,
        )
        .await,
    )
}

/// Reads the Secrets and ConfigMaps a phase's `objects` name.
async fn fetch_objects(
    objects: &BTreeMap<String, ObjectReference>,
    platform: &dyn Platform,
    redactor: &mut Redactor,
    namespace: &str,
) -> Result<PhaseParams, String> {
    let mut pp = PhaseParams::default();
    for (key, r) in objects {
        let ns = if r.namespace.is_empty() {
            namespace
        } else {
            &r.namespace
        };
        if r.kind.eq_ignore_ascii_case("secret") {
            let s = platform
                .secret(ns, &r.name)
                .await
                .map_err(|e| format!("object {key}: {e}"))?;
            redactor.add_secret(&s);
            pp.secrets.insert(key.clone(), s);
        } else if r.kind.eq_ignore_ascii_case("configmap") {
            let c = platform
                .config_map(ns, &r.name)
                .await
                .map_err(|e| format!("object {key}: {e}"))?;
            pp.config_maps.insert(key.clone(), c);
        }
    }
    Ok(pp)
}

fn pending(p: &BlueprintPhase) -> PhaseResult {
    PhaseResult {
        name: p.name.clone(),
        func: p.func.clone(),
        outcome: None,
        output: Outputs::new(),
        error: None,
        duration: Duration::ZERO,
    }
}

/// The time a phase may take: its own deadline, cut by what is left of the
/// action's.
fn phase_budget(phase: Option<Duration>, action_deadline: Option<Instant>) -> Option<Duration> {
    let left = action_deadline.map(|d| d.saturating_duration_since(Instant::now()));
    match (phase, left) {
        (Some(p), Some(l)) => Some(p.min(l)),
        (p, l) => p.or(l),
    }
}

fn settle(r: Result<Outputs, Stop>) -> (Outcome, Outputs, Option<String>) {
    match r {
        Ok(o) => (Outcome::Complete, o, None),
        Err(Stop::Failed(e)) => (Outcome::Failed, Outputs::new(), Some(e)),
        Err(Stop::TimedOut(e)) => (Outcome::TimedOut, Outputs::new(), Some(e)),
        Err(Stop::Cancelled) => (
            Outcome::Cancelled,
            Outputs::new(),
            Some("cancelled".to_string()),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    req: &ActionRequest,
    phase: &BlueprintPhase,
    objects: Result<Option<BTreeMap<String, ObjectReference>>, String>,
    state: &mut PhaseState,
    redactor: &mut Redactor,
    renderer: &Renderer,
    platform: &dyn Platform,
    registry: &Registry,
    events: &EventSink,
    cancel: &CancellationToken,
    namespace: &str,
    object: &ObjectInfo,
    budget: Option<Duration>,
    defer: bool,
) -> Result<Outputs, Stop> {
    let objects = objects.map_err(Stop::Failed)?.unwrap_or_default();
    // Fetch the phase's Secrets and ConfigMaps.
    let mut pp = fetch_objects(&objects, platform, redactor, namespace)
        .await
        .map_err(Stop::Failed)?;
    // Render args with this phase's Secrets visible but not its output.
    if defer {
        state.defer_phase = build::phase(&pp, false);
    } else {
        state
            .phases
            .insert(phase.name.clone(), build::phase(&pp, false));
    }
    let data = template_params(&req.params, state).map_err(|e| Stop::Failed(e.to_string()))?;
    let args = renderer.args(phase, &data).map_err(Stop::Failed)?;
    let args = match args {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let (func, spec) = registry
        .resolve(&phase.func, req.preferred_version.as_deref())
        .map_err(|e| Stop::Failed(e.to_string()))?;
    if Registry::falls_back(&phase.func, req.preferred_version.as_deref()) {
        events.send(Event::Log {
            phase: phase.name.clone(),
            stream: LogStream::Stderr,
            line: format!(
                "kapsel: function {} is not registered at version {}: falling back to its default version {}",
                phase.func,
                req.preferred_version.as_deref().unwrap_or_default(),
                spec.version
            ),
        });
    }
    check_args(spec, &args).map_err(|e| Stop::Failed(e.to_string()))?;
    // An encryption key given literally is as secret as one from a Secret.
    if let Some(serde_json::Value::String(k)) = args.get("encryptionKey") {
        redactor.add_secret(&k8s_openapi::api::core::v1::Secret {
            string_data: Some([("encryptionKey".to_string(), k.clone())].into()),
            ..Default::default()
        });
    }
    // The Profile in Kanister's wire format, for functions that hand it to
    // kando (on stdin).
    let profile = if req.params.profile.is_some() {
        Some(
            renderer
                .string("{{ toJson .Profile }}", &data)
                .map_err(|e| Stop::Failed(format!("the Profile: {e}")))?,
        )
    } else {
        None
    };

    let render = |src: &str| renderer.string(src, &data);
    let cx = Context {
        render: &render,
        platform,
        phase: &phase.name,
        events,
        redactor,
        namespace,
        pod: &req.pod,
        object,
        profile: profile.as_deref(),
    };
    let run = func.exec(cx, &args);
    let result = tokio::select! {
        r = async {
            match budget {
                Some(b) => tokio::time::timeout(b, run).await.map_err(|_| b),
                None => Ok(run.await),
            }
        } => r,
        () = cancel.cancelled() => return Err(Stop::Cancelled),
    };
    let outputs = match result {
        Err(b) => {
            return Err(Stop::TimedOut(format!(
                "{} did not finish within {}",
                phase.func,
                humanize(b)
            )));
        }
        Ok(Err(e)) => return Err(Stop::Failed(format!("{}: {e}", phase.func))),
        Ok(Ok(o)) => o,
    };
    pp.output = Some(outputs.clone().into_iter().collect());
    if defer {
        state.defer_phase = build::phase(&pp, true);
    } else {
        state
            .phases
            .insert(phase.name.clone(), build::phase(&pp, true));
    }
    Ok(outputs)
}

fn humanize(d: Duration) -> String {
    if d.as_secs() >= 1 && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2µs"), Ok(Duration::from_micros(2)));
        for bad in ["", "10", "ten minutes", "5d", "-1s", "1.2.3s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }
}
