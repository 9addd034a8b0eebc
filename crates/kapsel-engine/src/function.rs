//! Functions (KubeExec, KubeTask, ...) behind one trait, and the registry that
//! resolves a phase's `func` at a version.

use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_validate::catalog;

use crate::event::EventSink;
use crate::platform::{BoxFuture, Platform, PlatformError};

/// A phase's outputs (`.Phases.<name>.Output`).
pub type Outputs = BTreeMap<String, serde_json::Value>;

/// Rendered arguments.
pub type Args = serde_json::Map<String, serde_json::Value>;

/// Why a function failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FunctionError {
    /// An argument is missing or has the wrong type.
    #[error("argument {arg:?}: {message}")]
    Arg {
        /// The argument.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// The command exited unsuccessfully.
    #[error("command failed with {status}; last output:\n{tail}")]
    Command {
        /// `exit code N` or `signal`.
        status: String,
        /// The last lines it printed (redacted).
        tail: String,
    },
    /// The platform failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Phase output could not be parsed.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// The function exists in Kanister but Kapsel does not run it yet.
    #[error("function {0} is not implemented by Kapsel yet")]
    NotImplemented(String),
    /// The platform cannot run this function.
    #[error("function {function} cannot run on the {platform} platform: it needs {needs}")]
    Unsupported {
        /// The function.
        function: String,
        /// The platform's name.
        platform: String,
        /// What it needs that the platform lacks.
        needs: String,
    },
    /// The function needs the ActionSet's Profile and there is none.
    #[error(
        "the ActionSet has no Profile; this function reads and writes the Profile's location (kapsel run --profile FILE)"
    )]
    NoProfile,
    /// Anything else the function found wrong (redacted).
    #[error("{0}")]
    Failed(String),
}

/// What a function gets besides its arguments.
pub struct Context<'a> {
    /// Where to run.
    pub platform: &'a dyn Platform,
    /// The phase's name (for events).
    pub phase: &'a str,
    /// Where to report log lines.
    pub events: &'a EventSink,
    /// Masks secrets in log lines and errors.
    pub redactor: &'a kapsel_params::Redactor,
    /// The namespace of the ActionSet's object (default for tasks).
    pub namespace: &'a str,
    /// The ActionSpec's pod labels, annotations and override.
    pub pod: &'a PodOptions,
    /// The ActionSet's object (defaults for ScaleWorkload, pods and volumes
    /// for the `*All` functions and PrepareData).
    pub object: &'a ObjectInfo,
    /// The Profile as `{{ toJson .Profile }}` renders it (credentials in
    /// plaintext: only ever handed to commands on stdin).
    pub profile: Option<&'a str>,
    /// Renders a template with this phase's Kanister parameters (for the
    /// functions whose args the controller does not pre-render: Wait,
    /// WaitV2).
    pub render: &'a Render<'a>,
}

/// Renders one template string with the running phase's parameters.
pub type Render<'a> = dyn Fn(&str) -> Result<String, String> + Send + Sync + 'a;

/// The ActionSet's object, as the functions need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Kind (`StatefulSet`, `Deployment`, `Namespace`, ...).
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pods of a workload, in order.
    pub pods: Vec<String>,
    /// Containers of each pod, in the order of `pods`.
    pub containers: Vec<Vec<String>>,
    /// Pod → claim → mount path.
    pub volumes: BTreeMap<String, BTreeMap<String, String>>,
}

impl ObjectInfo {
    /// From render parameters (`.Object` and the workload's pods and PVCs).
    pub fn from_params(p: &kapsel_params::RenderParams) -> ObjectInfo {
        let obj = p.object.as_ref();
        let meta = |k: &str| {
            obj.and_then(|o| o.get("metadata"))
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let w = p.workload.as_ref();
        ObjectInfo {
            kind: obj
                .and_then(|o| o.get("kind"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            namespace: meta("namespace"),
            name: meta("name"),
            pods: w.and_then(|w| w.pods.clone()).unwrap_or_default(),
            containers: w
                .and_then(|w| w.containers.clone())
                .unwrap_or_default()
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            volumes: w
                .and_then(|w| w.persistent_volume_claims.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether the object is a workload with pods (Deployment, StatefulSet,
    /// DeploymentConfig).
    pub fn is_workload(&self) -> bool {
        matches!(
            self.kind.to_ascii_lowercase().as_str(),
            "statefulset" | "deployment" | "deploymentconfig"
        )
    }
}

/// ActionSet-level pod settings merged into the pods functions create.
#[derive(Debug, Clone, Default)]
pub struct PodOptions {
    /// `spec.actions[].podLabels`.
    pub labels: BTreeMap<String, String>,
    /// `spec.actions[].podAnnotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.actions[].podOverride`.
    pub pod_override: Option<Args>,
}

/// A Kanister function.
pub trait Function: Send + Sync {
    /// Its name, as in `func:`.
    fn name(&self) -> &'static str;

    /// Runs it.
    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>>;
}

/// Functions by name, resolved at a version as Kanister resolves them.
#[derive(Clone, Default)]
pub struct Registry {
    funcs: BTreeMap<&'static str, Arc<dyn Function>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.funcs.keys()).finish()
    }
}

/// Why a phase's function cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Kanister has no such function (or removed it).
    #[error("unknown function {name:?}{hint}")]
    Unknown {
        /// The name.
        name: String,
        /// A suggestion, starting with "; " when not empty.
        hint: String,
    },
    /// The version does not resolve.
    #[error("function {name} at version {version:?}: {message}")]
    Version {
        /// The function.
        name: String,
        /// The requested version.
        version: String,
        /// Why.
        message: String,
    },
    /// Kanister has it, Kapsel does not run it yet.
    #[error("function {0} is not implemented by Kapsel yet")]
    NotImplemented(String),
    /// Rendered args do not fit the function.
    #[error("function {name}: {message}")]
    Args {
        /// The function.
        name: String,
        /// Missing or unknown args.
        message: String,
    },
}

impl Registry {
    /// The functions Kapsel implements.
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        crate::functions::register_all(&mut r);
        r
    }

    /// Adds or replaces a function.
    pub fn insert(&mut self, f: Arc<dyn Function>) {
        self.funcs.insert(f.name(), f);
    }

    /// Resolves `name` at `version` as Kanister's `GetPhases` does: a
    /// missing or empty version means `v0.0.0`; a version that is not a
    /// semantic version is an error; a valid version that is not registered
    /// falls back to `v0.0.0` (every in-tree function is registered there
    /// only). [`Registry::falls_back`] tells when that happens, so that the
    /// caller can say so as Kanister logs it.
    pub fn resolve(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(Arc<dyn Function>, &'static catalog::FunctionSpec), ResolveError> {
        let Some(spec) = catalog::lookup(name) else {
            let hint = match (catalog::removed(name), catalog::suggest(name)) {
                (Some(r), _) => format!("; {}", removed_hint(r)),
                (None, Some(s)) => format!("; did you mean {s}?"),
                (None, None) => String::new(),
            };
            return Err(ResolveError::Unknown {
                name: name.to_string(),
                hint,
            });
        };
        if let Some(v) = version.filter(|v| !v.is_empty()) {
            catalog::parse_version(v).map_err(|e| ResolveError::Version {
                name: name.to_string(),
                version: v.to_string(),
                message: e.to_string(),
            })?;
        }
        let f = self
            .funcs
            .get(spec.name)
            .cloned()
            .ok_or_else(|| ResolveError::NotImplemented(spec.name.to_string()))?;
        Ok((f, spec))
    }

    /// Whether [`Registry::resolve`] of `name` at `version` uses the
    /// function's registered version instead of the one asked for.
    pub fn falls_back(name: &str, version: Option<&str>) -> bool {
        let (Some(spec), Some(v)) = (catalog::lookup(name), version.filter(|v| !v.is_empty()))
        else {
            return false;
        };
        match (
            catalog::parse_version(v),
            catalog::parse_version(spec.version),
        ) {
            (Ok(want), Ok(have)) => want != have,
            _ => false,
        }
    }
}

fn removed_hint(r: &catalog::RemovedFunction) -> String {
    format!(
        "{} was removed in Kanister {}; use {}",
        r.name, r.removed_in, r.instead
    )
}

/// Checks rendered args against the function's spec as Kanister does (the
/// catalog's check, with Kanister's messages): no unknown argument, every
/// required one present.
pub fn check_args(spec: &catalog::FunctionSpec, args: &Args) -> Result<(), ResolveError> {
    let names: Vec<&str> = args.keys().map(String::as_str).collect();
    spec.check_args(&names).map_err(|e| ResolveError::Args {
        name: spec.name.to_string(),
        message: match e {
            catalog::ArgError::Unsupported(_) => format!(
                "{e} (accepted: {})",
                spec.all_args().collect::<Vec<_>>().join(", ")
            ),
            other => other.to_string(),
        },
    })
}

/// Argument decoding with mapstructure's weak typing, as Kanister decodes args:
/// numbers and bools become strings, a single value becomes a one-element list.
pub mod arg {
    use super::{Args, FunctionError};

    fn weak_string(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
            serde_json::Value::Null => Some(String::new()),
            _ => None,
        }
    }

    fn wrong(name: &str, want: &str, v: &serde_json::Value) -> FunctionError {
        FunctionError::Arg {
            arg: name.to_string(),
            message: format!("expected {want}, got {v}"),
        }
    }

    /// A required string argument.
    pub fn string(args: &Args, name: &str) -> Result<String, FunctionError> {
        opt_string(args, name)?.ok_or_else(|| FunctionError::Arg {
            arg: name.to_string(),
            message: "missing".to_string(),
        })
    }

    /// An optional string argument.
    pub fn opt_string(args: &Args, name: &str) -> Result<Option<String>, FunctionError> {
        args.get(name)
            .map(|v| weak_string(v).ok_or_else(|| wrong(name, "a string", v)))
            .transpose()
    }

    /// A required list of strings (a single string is a one-element list).
    pub fn strings(args: &Args, name: &str) -> Result<Vec<String>, FunctionError> {
        match args.get(name) {
            None => Err(FunctionError::Arg {
                arg: name.to_string(),
                message: "missing".to_string(),
            }),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| weak_string(v).ok_or_else(|| wrong(name, "a list of strings", v)))
                .collect(),
            Some(v) => Ok(vec![
                weak_string(v).ok_or_else(|| wrong(name, "a list of strings", v))?,
            ]),
        }
    }

    /// An optional boolean (mapstructure's weak decoding: `"true"`, `"1"`,
    /// `"false"`, `"0"`, `""`, numbers, bools).
    pub fn opt_bool(args: &Args, name: &str) -> Result<Option<bool>, FunctionError> {
        match args.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
            Some(serde_json::Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "1" | "t" | "true" => Ok(Some(true)),
                "" | "0" | "f" | "false" => Ok(Some(false)),
                _ => Err(FunctionError::Arg {
                    arg: name.to_string(),
                    message: format!("expected a boolean, got {s:?}"),
                }),
            },
            Some(v) => Err(wrong(name, "a boolean", v)),
        }
    }

    /// An optional integer (a number or a numeric string).
    pub fn opt_int(args: &Args, name: &str) -> Result<Option<i64>, FunctionError> {
        match args.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| wrong(name, "an integer", &serde_json::Value::Number(n.clone()))),
            Some(serde_json::Value::String(s)) => {
                s.trim()
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| FunctionError::Arg {
                        arg: name.to_string(),
                        message: format!("expected an integer, got {s:?}"),
                    })
            }
            Some(v) => Err(wrong(name, "an integer", v)),
        }
    }

    /// An optional non-empty string (empty counts as absent).
    pub fn opt_nonempty(args: &Args, name: &str) -> Result<Option<String>, FunctionError> {
        Ok(opt_string(args, name)?.filter(|s| !s.is_empty()))
    }

    /// An optional map of strings.
    pub fn string_map(
        args: &Args,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, FunctionError> {
        match args.get(name) {
            None | Some(serde_json::Value::Null) => Ok(Default::default()),
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        weak_string(v).ok_or_else(|| wrong(name, "a map of strings", v))?,
                    ))
                })
                .collect(),
            Some(v) => Err(wrong(name, "a map of strings", v)),
        }
    }
}
