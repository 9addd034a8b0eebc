//! Rendering one action of a Blueprint the way Kanister's controller does:
//! first every phase's `objects`, then each phase's `args` with the phases before
//! it visible in `.Phases`, then the defer phase, then the output artifacts.
//!
//! Map entries are visited in sorted key order (Kanister uses Go's random map
//! order, so of several failing entries it reports a random one).

use std::collections::BTreeMap;

use kapsel_api::{Artifact, BlueprintAction, BlueprintPhase, ObjectReference};
use kapsel_govalue::Value;
use kapsel_template::{Error as TemplateError, Options, Template};
use serde::Serialize;

use crate::build::{self, ParamsError, PhaseState, template_params};
use crate::file::{PhaseParams, RenderParams};

/// The name Kanister gives every template it renders (it appears in errors).
pub const TEMPLATE_NAME: &str = "config";

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The parameters are inconsistent.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A template failed, with Kanister's error text.
    #[error("{0}")]
    Template(String),
    /// An argument cannot be rendered.
    #[error("{0}")]
    Arg(String),
}

/// One rendered phase: its objects and args, or why it failed. Serialized as
/// `{name, func, objects, args}` or `{name, func, error}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPhase {
    /// The phase name.
    pub name: String,
    /// The function.
    pub func: String,
    /// Rendered object references (`None`: `.Time` was empty, and Kanister skips
    /// rendering them). Serialized with every field, as Go writes them.
    pub objects: Option<BTreeMap<String, ObjectReference>>,
    /// Rendered arguments.
    pub args: Option<serde_json::Value>,
    /// The error, if rendering failed.
    pub error: Option<String>,
}

impl Renderer {
    /// Renders an action's output artifacts (each `keyValue` value, and
    /// `kopiaSnapshot` when set). The first failure, in sorted order, is the
    /// error.
    pub fn artifacts(
        &self,
        action: &BlueprintAction,
        data: &Value,
    ) -> Result<BTreeMap<String, Artifact>, String> {
        let mut out = BTreeMap::new();
        for (name, art) in &action.output_artifacts {
            let mut rendered = Artifact::default();
            for (k, v) in &art.key_value {
                rendered.key_value.insert(k.clone(), self.string(v, data)?);
            }
            if !art.kopia_snapshot.is_empty() {
                rendered.kopia_snapshot = self.string(&art.kopia_snapshot, data)?;
            }
            out.insert(name.clone(), rendered);
        }
        Ok(out)
    }
}

impl Serialize for RenderedPhase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &self.name)?;
        m.serialize_entry("func", &self.func)?;
        match &self.error {
            Some(e) => m.serialize_entry("error", e)?,
            None => {
                m.serialize_entry("objects", &GoObjects(&self.objects))?;
                m.serialize_entry("args", &self.args)?;
            }
        }
        m.end()
    }
}

struct GoObjects<'a>(&'a Option<BTreeMap<String, ObjectReference>>);

impl Serialize for GoObjects<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        objects_as_go(self.0, s)
    }
}

/// One rendered action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedAction {
    /// The phases in order.
    pub phases: Vec<RenderedPhase>,
    /// The defer phase.
    pub defer_phase: Option<RenderedPhase>,
    /// The rendered output artifacts, as `{name: {keyValue, kopiaSnapshot}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_artifacts: Option<serde_json::Value>,
    /// Why the output artifacts failed to render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_artifacts_error: Option<String>,
}

/// Go writes every ObjectReference field but an empty `namespace`.
fn objects_as_go<S: serde::Serializer>(
    objects: &Option<BTreeMap<String, ObjectReference>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let full = objects.as_ref().map(|m| {
        m.iter()
            .map(|(k, r)| {
                // Every field but `namespace` (omitempty) is always written.
                let fields: BTreeMap<&str, &str> = [
                    ("apiVersion", r.api_version.as_str()),
                    ("group", &r.group),
                    ("resource", &r.resource),
                    ("kind", &r.kind),
                    ("name", &r.name),
                    ("namespace", &r.namespace),
                ]
                .into_iter()
                .filter(|(k, v)| *k != "namespace" || !v.is_empty())
                .collect();
                (k.as_str(), fields)
            })
            .collect::<BTreeMap<_, _>>()
    });
    full.serialize(s)
}

/// Renders Blueprint strings as Kanister does: sprig functions,
/// `missingkey=error`, and Kanister's rewrite of missing-key errors. Errors are
/// Kanister's texts.
pub struct Renderer {
    opts: Options,
}

impl Default for Renderer {
    fn default() -> Renderer {
        Renderer::kanister()
    }
}

impl Renderer {
    /// A renderer with Kanister's options.
    pub fn kanister() -> Renderer {
        Renderer {
            opts: Options::kanister(),
        }
    }

    /// Renders one template string with Kanister's error rewrite: an execution
    /// error about a missing map key becomes `Failed to render template: "<key>"
    /// not found`.
    pub fn string(&self, src: &str, data: &Value) -> Result<String, String> {
        const MARKER: &str = "map has no entry for key ";
        let t = Template::parse(TEMPLATE_NAME, src, &self.opts.funcs)
            .map_err(|e| TemplateError::from(e).to_string())?;
        t.execute(data, &self.opts).map_err(|e| {
            let text = e.to_string();
            match text.rfind(MARKER) {
                Some(i) => format!(
                    "Failed to render template: \"{}\" not found",
                    text[i + MARKER.len()..].trim_matches('"')
                ),
                None => text,
            }
        })
    }

    fn value(&self, v: &serde_json::Value, data: &Value) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match v {
            J::String(s) => J::String(self.string(s, data)?),
            J::Array(a) => J::Array(
                a.iter()
                    .map(|x| self.value(x, data))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    let rk = self.string(k, data)?;
                    out.insert(rk, self.value(&m[k], data)?);
                }
                J::Object(out)
            }
            J::Null => {
                return Err("cannot render a null argument (Kanister panics on it)".to_string());
            }
            other => other.clone(),
        })
    }

    /// Renders a phase's object references (`None` when `.Time` is empty:
    /// Kanister then skips them).
    pub fn objects(
        &self,
        phase: &BlueprintPhase,
        data: &Value,
        time_set: bool,
    ) -> Result<Option<BTreeMap<String, ObjectReference>>, String> {
        if !time_set {
            return Ok(None);
        }
        let mut out = BTreeMap::new();
        for (key, r) in &phase.objects {
            let f = |s: &str| {
                self.string(s, data)
                    .map_err(|e| format!("could not render object reference {{{key}}}: {e}"))
            };
            out.insert(
                key.clone(),
                ObjectReference {
                    api_version: f(&r.api_version)?,
                    group: f(&r.group)?,
                    resource: f(&r.resource)?,
                    kind: f(&r.kind)?,
                    name: f(&r.name)?,
                    namespace: f(&r.namespace)?,
                },
            );
        }
        Ok(Some(out))
    }

    /// Renders a phase's args: each value recursively (strings are templates;
    /// nested maps have their keys rendered too, but the argument names at the
    /// top are not, as in Kanister). `Wait` and `WaitV2` get theirs unrendered.
    pub fn args(&self, phase: &BlueprintPhase, data: &Value) -> Result<serde_json::Value, String> {
        let args = phase.args.clone().unwrap_or_default();
        // Wait and WaitV2 render their own templates at run time.
        if phase.func.eq_ignore_ascii_case("wait") || phase.func.eq_ignore_ascii_case("waitv2") {
            return Ok(serde_json::Value::Object(args));
        }
        let mut keys: Vec<&String> = args.keys().collect();
        keys.sort();
        let mut out = serde_json::Map::new();
        for k in keys {
            out.insert(k.clone(), self.value(&args[k], data)?);
        }
        Ok(serde_json::Value::Object(out))
    }

    fn phase(
        &self,
        phase: &BlueprintPhase,
        objects: Result<Option<BTreeMap<String, ObjectReference>>, String>,
        data: &Value,
    ) -> RenderedPhase {
        let mut out = RenderedPhase {
            name: phase.name.clone(),
            func: phase.func.clone(),
            objects: None,
            args: None,
            error: None,
        };
        match objects.and_then(|o| Ok((o, self.args(phase, data)?))) {
            Ok((objects, args)) => {
                out.objects = objects;
                out.args = Some(args);
            }
            Err(e) => out.error = Some(e),
        }
        out
    }
}

/// Renders `action` of a Blueprint with `params`, phase by phase, as Kanister's
/// controller would (every phase is rendered even if an earlier one failed).
pub fn render_action(
    action: &BlueprintAction,
    params: &RenderParams,
) -> Result<RenderedAction, RenderError> {
    let r = Renderer::kanister();
    let initial = template_params(params, &PhaseState::initial())?;
    let time_set = !params.time.is_empty();
    let empty = PhaseParams::default();
    let phase_params = |name: &str| params.phases.get(name).unwrap_or(&empty);

    // 1. Objects of every phase first, with the initial parameters.
    let objects: Vec<_> = action
        .phases
        .iter()
        .map(|p| r.objects(p, &initial, time_set))
        .collect();
    let defer_objects = action
        .defer_phase
        .as_ref()
        .map(|p| r.objects(p, &initial, time_set));

    // 2. Each phase's args, with the earlier phases (and its own Secrets and
    //    ConfigMaps) in `.Phases`.
    let mut state = PhaseState::initial();
    let mut phases = Vec::new();
    for (phase, objects) in action.phases.iter().zip(objects) {
        let pp = phase_params(&phase.name);
        state
            .phases
            .insert(phase.name.clone(), build::phase(pp, false));
        let data = template_params(params, &state)?;
        phases.push(r.phase(phase, objects, &data));
        state
            .phases
            .insert(phase.name.clone(), build::phase(pp, true));
    }

    // 3. The defer phase sees every phase's output.
    let defer_params = params.defer_phase.clone().unwrap_or_default();
    let defer_phase = match (&action.defer_phase, defer_objects) {
        (Some(p), Some(objects)) => {
            state.defer_phase = build::phase(&defer_params, false);
            let data = template_params(params, &state)?;
            Some(r.phase(p, objects, &data))
        }
        _ => None,
    };

    // 4. Output artifacts, with the defer phase's output when there is one.
    if action.defer_phase.is_some() {
        state.defer_phase = build::phase(&defer_params, true);
    }
    let data = template_params(params, &state)?;
    let (output_artifacts, output_artifacts_error) = match r.artifacts(action, &data) {
        Ok(a) if action.output_artifacts.is_empty() && a.is_empty() => (None, None),
        Ok(a) => (Some(serde_json::to_value(a).unwrap_or_default()), None),
        Err(e) => (None, Some(e)),
    };
    Ok(RenderedAction {
        phases,
        defer_phase,
        output_artifacts,
        output_artifacts_error,
    })
}
