//! `kapsel run`: one action of a Blueprint on the local platform, writing the
//! resulting ActionSet (spec and status, with output artifacts).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kapsel_api::{
    ActionSet, ActionSetSpec, ActionSetStatus, ActionSpec, ActionStatus, Blueprint, ErrorStatus,
    ObjectReference, Phase, Profile, State,
};
use kapsel_engine::{ActionRequest, EventSink, Outcome, PodOptions, Registry, run_action};
use kapsel_platform_local::LocalPlatform;
use kapsel_platform_local::inventory::Inventory;
use tokio_util::sync::CancellationToken;

use super::{CliError, out, read};

pub use super::live::RunOutput;

/// `kapsel run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Blueprint file.
    #[arg(long, short = 'b')]
    pub blueprint: String,
    /// The action to run (backup, restore, delete, ...).
    #[arg(long, short = 'a')]
    pub action: String,
    /// The object: KIND/NAMESPACE/NAME (e.g. statefulset/db/my-pg), or
    /// namespace/NAME.
    #[arg(long, short = 'o')]
    pub object: Option<String>,
    /// The Profile file (a Kanister Profile; its credential Secret is looked up
    /// in the inventory or in --secret files).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// The inventory of local applications.
    #[arg(long, short = 'i')]
    pub inventory: Option<String>,
    /// An ActionSet secret: NAME=FILE, FILE a Kubernetes Secret manifest
    /// (`.Secrets.NAME`). Repeatable.
    #[arg(long = "secret", value_name = "NAME=FILE")]
    pub secrets: Vec<String>,
    /// An option (`.Options.KEY`). Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// A previous run's ActionSet: its output artifacts become this run's input
    /// artifacts, and its object and options are reused unless given here
    /// (like `kanctl create actionset --from`). The parent records only the
    /// Profile's name, so give `--profile` (and `--secret`) again.
    #[arg(long)]
    pub from: Option<String>,
    /// Deadline of the whole action, e.g. 30m, 90s (the defer phase still runs).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Deadline of each phase.
    #[arg(long, value_parser = parse_duration)]
    pub phase_timeout: Option<Duration>,
    /// Run the functions at this version (the ActionSet's
    /// `preferredVersion`): a version that is not registered falls back to
    /// the function's default, `v0.0.0`, with a log line, as in Kanister.
    #[arg(long, value_name = "VERSION")]
    pub function_version: Option<String>,
    /// Write the resulting ActionSet here instead of stdout.
    #[arg(long, short = 'w')]
    pub write: Option<String>,
    /// Progress on stderr: text (a live view on a terminal, plain lines
    /// otherwise), json (one engine event per line) or quiet.
    #[arg(long, alias = "progress", value_enum, default_value_t)]
    pub output: RunOutput,
}

/// Parses `90s`, `5m`, `1h30m`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a number before {unit:?}"))?;
        num.clear();
        total += match unit.as_str() {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
        };
    }
    if !num.is_empty() {
        return Err(format!(
            "{s:?}: a unit is missing after {num} (use ms, s, m or h)"
        ));
    }
    Ok(total)
}

fn input(path: &str, message: impl Into<String>, help: Option<&str>) -> CliError {
    CliError::Input {
        path: path.to_string(),
        message: message.into(),
        help: help.map(str::to_string),
    }
}

fn yaml<T: serde::de::DeserializeOwned>(path: &str, what: &str) -> Result<T, CliError> {
    serde_saphyr::from_str(&read(path)?)
        .map_err(|e| input(path, format!("not a valid {what}: {e}"), None))
}

fn parse_object(s: &str) -> Result<ObjectReference, CliError> {
    let parts: Vec<&str> = s.split('/').collect();
    let (kind, namespace, name) = match parts.as_slice() {
        [kind, ns, name] => (*kind, *ns, *name),
        [kind, name] if kind.eq_ignore_ascii_case("namespace") => (*kind, *name, *name),
        _ => {
            return Err(input(
                "--object",
                format!("{s:?} is not KIND/NAMESPACE/NAME"),
                Some("e.g. --object statefulset/db/my-postgresql, or --object namespace/db"),
            ));
        }
    };
    Ok(ObjectReference {
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        ..ObjectReference::default()
    })
}

fn kv(s: &str, flag: &str) -> Result<(String, String), CliError> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| input(flag, format!("{s:?} is not NAME=VALUE"), None))
}

/// The directory of `kando`: next to this executable.
fn tool_dirs() -> Vec<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .into_iter()
        .collect()
}

/// Runs the command.
pub fn run(a: RunArgs) -> Result<ExitCode, CliError> {
    let bp: Blueprint = yaml(&a.blueprint, "Blueprint")?;
    let Some(action) = bp.action(&a.action).cloned() else {
        let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
        return Err(input(
            &a.blueprint,
            format!("the Blueprint has no action {:?}", a.action),
            Some(&format!("its actions are: {}", known.join(", "))),
        ));
    };
    let parent: Option<ActionSet> = a
        .from
        .as_deref()
        .map(|f| yaml(f, "ActionSet"))
        .transpose()?;
    let parent_spec = parent
        .as_ref()
        .and_then(|p| p.spec.actions.first().cloned());
    if let (Some(f), Some(p)) = (&a.from, &parent) {
        let state = p.status.as_ref().map(|s| s.state);
        if state != Some(State::Complete) {
            return Err(input(
                f,
                "the parent ActionSet is not complete",
                Some("use the ActionSet of a successful run"),
            ));
        }
    }
    let object = match (&a.object, &parent_spec) {
        (Some(o), _) => parse_object(o)?,
        (None, Some(p)) => p.object.clone(),
        (None, None) => return Err(input("--object", "an object is required (or --from)", None)),
    };
    let inventory_path = a.inventory.clone();
    let platform = match &inventory_path {
        Some(p) => LocalPlatform::load(std::path::Path::new(p), tool_dirs())
            .map_err(|e| input(p, e.to_string(), None))?,
        None => LocalPlatform::new(Inventory::default(), std::path::Path::new("."), tool_dirs()),
    };
    let mut params = platform
        .object_params(&object.kind, &object.namespace, &object.name)
        .map_err(|e| {
            input(
                inventory_path.as_deref().unwrap_or("--inventory"),
                e.to_string(),
                Some("add the object to the inventory (docs/local-platform.md)"),
            )
        })?;
    params.time = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.fZ")
        .to_string();

    // Secrets: files given here; a profile's credential Secret may be one.
    let mut secret_refs = BTreeMap::new();
    let mut secret_files: Vec<Secret> = Vec::new();
    for s in &a.secrets {
        let (name, file) = kv(s, "--secret")?;
        let secret: Secret = yaml(&file, "Kubernetes Secret")?;
        secret_refs.insert(
            name.clone(),
            ObjectReference {
                kind: "Secret".to_string(),
                name: secret.metadata.name.clone().unwrap_or_default(),
                namespace: secret.metadata.namespace.clone().unwrap_or_default(),
                ..ObjectReference::default()
            },
        );
        params.secrets.insert(name, secret.clone());
        secret_files.push(secret);
    }
    let profile_file = a.profile.clone();
    let mut profile_ref = None;
    if let Some(pf) = &profile_file {
        let profile: Profile = yaml(pf, "Profile")?;
        let resolved =
            resolve_profile(&platform, &profile, &secret_files).map_err(|e| input(pf, e, None))?;
        profile_ref = Some(ObjectReference {
            kind: "Profile".to_string(),
            name: profile.metadata.name.clone().unwrap_or_default(),
            namespace: profile.metadata.namespace.clone().unwrap_or_default(),
            ..ObjectReference::default()
        });
        params.profile = Some(resolved);
    }
    let mut options: BTreeMap<String, String> = parent_spec
        .as_ref()
        .map(|p| p.options.clone())
        .unwrap_or_default();
    for o in &a.options {
        let (k, v) = kv(o, "--option")?;
        options.insert(k, v);
    }
    if !options.is_empty() {
        params.options = Some(options.clone());
    }
    let artifacts = parent
        .as_ref()
        .and_then(|p| p.status.as_ref())
        .and_then(|s| s.actions.first())
        .map(|s| s.artifacts.clone())
        .unwrap_or_default();
    if !artifacts.is_empty() {
        params.artifacts_in = Some(
            artifacts
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
                .collect(),
        );
    }

    let req = ActionRequest {
        name: a.action.clone(),
        action: action.clone(),
        params,
        pod: PodOptions::default(),
        preferred_version: a.function_version.clone(),
        phase_timeout: a.phase_timeout,
        action_timeout: a.timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping the running phase, then running the defer phase");
                c2.cancel();
            }
        });
        let (sink, mut rx) = EventSink::channel();
        let mut reporter = super::live::Reporter::new(a.output, console::Term::stderr().is_term());
        let printer = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                reporter.event(&e);
            }
        });
        let result = run_action(&req, &platform, &Registry::builtin(), &sink, &cancel).await;
        drop(sink);
        let _ = printer.await;
        result
    });

    let state = if result.outcome == Outcome::Complete {
        State::Complete
    } else {
        State::Failed
    };
    let phase_status = |p: &kapsel_engine::PhaseResult| Phase {
        name: p.name.clone(),
        state: match p.outcome {
            None => State::Pending,
            Some(Outcome::Complete) => State::Complete,
            Some(_) => State::Failed,
        },
        output: (!p.output.is_empty()).then(|| p.output.clone().into_iter().collect()),
        progress: Default::default(),
    };
    let mut actionset = ActionSet::new(
        &format!("{}-{}", a.action, chrono::Utc::now().format("%Y%m%d%H%M%S")),
        ActionSetSpec {
            actions: vec![ActionSpec {
                name: a.action.clone(),
                object: object.clone(),
                blueprint: bp.metadata.name.clone().unwrap_or_default(),
                artifacts: artifacts.clone(),
                secrets: secret_refs,
                profile: profile_ref,
                options,
                preferred_version: a.function_version.clone().unwrap_or_default(),
                ..ActionSpec::default()
            }],
        },
    );
    actionset.metadata.namespace = Some(object.namespace.clone());
    actionset.status = Some(ActionSetStatus {
        state,
        actions: vec![ActionStatus {
            name: a.action.clone(),
            object,
            blueprint: bp.metadata.name.clone().unwrap_or_default(),
            phases: result.phases.iter().map(phase_status).collect(),
            artifacts: result.artifacts.clone(),
            defer_phase: result.defer_phase.as_ref().map(phase_status),
        }],
        error: ErrorStatus {
            message: result.error.clone().unwrap_or_default(),
        },
        progress: Default::default(),
    });
    let text = serde_saphyr::to_string(&actionset)
        .map_err(|e| input("<actionset>", e.to_string(), None))?;
    match &a.write {
        Some(f) => fs_err::write(f, text).map_err(CliError::Write)?,
        None => out(&text)?,
    }
    // In JSON mode the actionEnded event carries the error: stderr stays
    // one JSON value per line.
    if let Some(e) = &result.error
        && a.output != RunOutput::Json
    {
        eprintln!("error: {e}");
    }
    Ok(if result.outcome == Outcome::Complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A Kanister Profile with its credential resolved from the inventory and
/// Secret files (also used by `kapsel repo --profile`).
pub(crate) fn resolve_profile(
    platform: &LocalPlatform,
    profile: &Profile,
    files: &[Secret],
) -> Result<kapsel_params::file::ProfileParams, String> {
    // Secrets given as files take part in the lookup through a copy of the
    // inventory.
    if files.is_empty() {
        return platform.resolve_profile(profile).map_err(|e| e.to_string());
    }
    let mut inv = platform.inventory().clone();
    for s in files {
        let data = s
            .data
            .iter()
            .flat_map(|d| d.iter())
            .map(|(k, v)| {
                (
                    k.clone(),
                    kapsel_platform_local::inventory::SecretSource::Value(
                        String::from_utf8_lossy(&v.0).into_owned(),
                    ),
                )
            })
            .chain(s.string_data.iter().flat_map(|d| d.iter()).map(|(k, v)| {
                (
                    k.clone(),
                    kapsel_platform_local::inventory::SecretSource::Value(v.clone()),
                )
            }))
            .collect();
        inv.secrets
            .push(kapsel_platform_local::inventory::SecretEntry {
                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                name: s.metadata.name.clone().unwrap_or_default(),
                type_: s.type_.clone(),
                data,
            });
    }
    LocalPlatform::new(inv, std::path::Path::new("."), Vec::new())
        .resolve_profile(profile)
        .map_err(|e| e.to_string())
}
