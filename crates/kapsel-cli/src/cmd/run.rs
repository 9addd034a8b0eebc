//! `kapsel run`: one action of a Blueprint given by flags, or every action of
//! an ActionSet (`--actionset`, all at once: cmd/actionset.rs), on the local
//! platform, writing the resulting ActionSet (spec and status, with output
//! artifacts).
//!
//! Both forms build the same plan (one [`Prepared`] action per
//! `spec.actions[]` entry), run it through [`execute`] (one `run_action` per
//! action, concurrently, one cancellation token) and write the status with
//! `kapsel_engine::actionset::set_status`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kapsel_api::{
    ActionSet, ActionSetSpec, ActionSetStatus, ActionSpec, Blueprint, BlueprintAction,
    ObjectReference, Profile, State,
};
use kapsel_engine::Platform;
use kapsel_engine::{ActionRequest, ActionResult, Event, EventSink, Registry, run_action};
use kapsel_platform_k8s::KubePlatform;
use kapsel_platform_local::LocalPlatform;
use kapsel_platform_local::inventory::Inventory;
use tokio_util::sync::CancellationToken;

use super::live::ActionTag;
use super::{CliError, out, read};

pub use super::live::RunOutput;

/// `kapsel run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Blueprint file. Repeatable with --actionset: each action's
    /// `blueprint` names one of them (by `metadata.name`).
    #[arg(long, short = 'b', value_name = "FILE", required = true)]
    pub blueprint: Vec<String>,
    /// The action to run (backup, restore, delete, ...).
    #[arg(long, short = 'a', required_unless_present = "actionset")]
    pub action: Option<String>,
    /// The object: KIND/NAMESPACE/NAME (e.g. statefulset/db/my-pg), or
    /// namespace/NAME.
    #[arg(long, short = 'o')]
    pub object: Option<String>,
    /// The Profile file (a Kanister Profile; its credential Secret is looked up
    /// in the inventory or in --secret files). On a cluster, also
    /// NAMESPACE/NAME of a Profile there. Repeatable with --actionset:
    /// each action's `profile` names one of them (by `metadata.name`);
    /// on a cluster, one not given is read from it.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub profile: Vec<String>,
    /// The inventory of local applications (the local platform).
    #[arg(long, short = 'i')]
    pub inventory: Option<String>,
    /// Run against a Kubernetes cluster, with this kubeconfig file (as
    /// kubectl's --kubeconfig). The object, its pods, Secrets, ConfigMaps
    /// and Profiles are read from the cluster.
    #[arg(long, value_name = "FILE", conflicts_with = "inventory")]
    pub kubeconfig: Option<PathBuf>,
    /// Run against a Kubernetes cluster, with this context of the
    /// kubeconfig (KUBECONFIG or ~/.kube/config unless --kubeconfig).
    #[arg(long, value_name = "NAME", conflicts_with = "inventory")]
    pub context: Option<String>,
    /// Run against the Kubernetes cluster kubectl would use (KUBECONFIG,
    /// ~/.kube/config, or the in-cluster service account).
    #[arg(long, conflicts_with = "inventory")]
    pub cluster: bool,
    /// An ActionSet secret: NAME=FILE, FILE a Kubernetes Secret manifest
    /// (`.Secrets.NAME`; with --actionset, for every action); on a cluster
    /// also NAME=NAMESPACE/SECRET, a Secret there. Repeatable.
    #[arg(long = "secret", value_name = "NAME=FILE")]
    pub secrets: Vec<String>,
    /// An option (`.Options.KEY`; with --actionset, for every action, over
    /// the ActionSet's). Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// A previous run's ActionSet: its output artifacts become this run's input
    /// artifacts, and its object and options are reused unless given here
    /// (like `kanctl create actionset --from`). The parent records only the
    /// Profile's name, so give `--profile` (and `--secret`) again.
    #[arg(long, value_name = "FILE")]
    pub from: Option<String>,
    /// A Kanister ActionSet to run: every action of `spec.actions`, all at
    /// once, each with its phases in order. Its Blueprints come from
    /// --blueprint, its Profile from --profile, matched by name; a `status`
    /// in the file is ignored.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["action", "object", "from"])]
    pub actionset: Option<String>,
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

pub(crate) fn input(path: &str, message: impl Into<String>, help: Option<&str>) -> CliError {
    CliError::Input {
        path: path.to_string(),
        message: message.into(),
        help: help.map(str::to_string),
    }
}

fn yaml<T: serde::de::DeserializeOwned>(path: &str, what: &str) -> Result<T, CliError> {
    kapsel_yaml::from_str(&read(path)?).map_err(|e| {
        input(
            path,
            format!("not a valid {what}: {}", yaml_error(path, &e)),
            None,
        )
    })
}

/// A YAML error whose source snippet names the file (`FILE:LINE:COLUMN`,
/// which editors follow) rather than `<input>`.
pub(crate) fn yaml_error(path: &str, e: &impl std::fmt::Display) -> String {
    e.to_string()
        .replace("--> <input>:", &format!("--> {path}:"))
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

pub(crate) fn kv(s: &str, flag: &str) -> Result<(String, String), CliError> {
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

/// One action ready to run.
pub(crate) struct Prepared {
    /// What the written ActionSet records in `spec.actions[]` (flags
    /// applied).
    pub spec: ActionSpec,
    /// What the engine runs.
    pub req: ActionRequest,
}

/// What `kapsel run` runs, and how it records it.
pub(crate) struct Plan {
    /// The written ActionSet's metadata.
    pub metadata: ObjectMeta,
    /// The actions, in `spec.actions` order.
    pub actions: Vec<Prepared>,
    /// Events carry their action (the `--actionset` form).
    pub tagged: bool,
    /// Said on stderr before anything runs (text output only).
    pub notes: Vec<String>,
}

/// Where the actions run.
pub(crate) enum Target {
    /// This host, described by an inventory.
    Local {
        /// The platform.
        platform: LocalPlatform,
        /// The inventory file, for messages.
        inventory: String,
    },
    /// A Kubernetes cluster.
    Kube(KubePlatform),
}

/// The files and platform every action draws from.
pub(crate) struct World {
    /// Where the actions run.
    pub target: Target,
    /// The runtime the platform's client lives on (and the actions run on).
    pub runtime: tokio::runtime::Runtime,
    /// `--blueprint` files and their Blueprints, in order.
    pub blueprints: Vec<(String, Blueprint)>,
    /// `--secret NAME=FILE`: the name, the file and its Secret.
    pub secrets: Vec<(String, String, Secret)>,
    /// `--profile` files (or cluster objects) and their Profiles.
    pub profiles: Vec<(String, Profile)>,
}

/// `NAMESPACE/NAME` (both not empty), for objects in a cluster.
fn ns_name(s: &str) -> Option<(&str, &str)> {
    s.split_once('/')
        .filter(|(n, m)| !n.is_empty() && !m.is_empty() && !m.contains('/'))
}

impl World {
    fn load(a: &RunArgs) -> Result<World, CliError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::Write)?;
        let blueprints = a
            .blueprint
            .iter()
            .map(|f| Ok((f.clone(), yaml::<Blueprint>(f, "Blueprint")?)))
            .collect::<Result<Vec<_>, CliError>>()?;
        let target = if a.kubeconfig.is_some() || a.context.is_some() || a.cluster {
            let o = kapsel_platform_k8s::ConnectOptions {
                kubeconfig: a.kubeconfig.clone(),
                context: a.context.clone(),
            };
            let what = a
                .kubeconfig
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "--cluster".to_string());
            let kube = runtime.block_on(KubePlatform::connect(&o)).map_err(|e| {
                input(
                    &what,
                    e.to_string(),
                    Some("check the kubeconfig and that the API server is up (`kubectl version`)"),
                )
            })?;
            Target::Kube(kube)
        } else {
            let platform = match &a.inventory {
                Some(p) => LocalPlatform::load(std::path::Path::new(p), tool_dirs())
                    .map_err(|e| input(p, e.to_string(), None))?,
                None => {
                    LocalPlatform::new(Inventory::default(), std::path::Path::new("."), tool_dirs())
                }
            };
            Target::Local {
                platform,
                inventory: a
                    .inventory
                    .clone()
                    .unwrap_or_else(|| "--inventory".to_string()),
            }
        };
        let kube = match &target {
            Target::Kube(k) => Some(k),
            Target::Local { .. } => None,
        };
        let mut secrets = Vec::new();
        for s in &a.secrets {
            let (name, file) = kv(s, "--secret")?;
            let secret: Secret = match (kube, ns_name(&file)) {
                (Some(k), Some((ns, n))) if !std::path::Path::new(&file).exists() => runtime
                    .block_on(k.get_secret(ns, n))
                    .map_err(|e| input("--secret", e.to_string(), None))?,
                _ => yaml(&file, "Kubernetes Secret")?,
            };
            secrets.push((name, file, secret));
        }
        let mut profiles = Vec::new();
        for f in &a.profile {
            let p = match (kube, ns_name(f)) {
                (Some(k), Some((ns, n))) if !std::path::Path::new(f).exists() => runtime
                    .block_on(k.get_profile(ns, n))
                    .map_err(|e| input("--profile", e.to_string(), None))?,
                _ => yaml::<Profile>(f, "Profile")?,
            };
            profiles.push((f.clone(), p));
        }
        Ok(World {
            target,
            runtime,
            blueprints,
            secrets,
            profiles,
        })
    }

    /// The platform the actions run on.
    pub fn platform(&self) -> Arc<dyn Platform> {
        match &self.target {
            Target::Local { platform, .. } => Arc::new(platform.clone()),
            Target::Kube(k) => Arc::new(k.clone()),
        }
    }

    /// The `--secret` files' Secrets (for the Profile's credential lookup).
    pub fn secret_files(&self) -> Vec<Secret> {
        self.secrets.iter().map(|(_, _, s)| s.clone()).collect()
    }

    /// A Secret of the inventory or the cluster.
    pub fn get_secret(&self, namespace: &str, name: &str) -> Result<Secret, String> {
        match &self.target {
            Target::Local { platform, .. } => platform
                .get_secret(namespace, name)
                .map_err(|e| e.to_string()),
            Target::Kube(k) => self
                .runtime
                .block_on(k.get_secret(namespace, name))
                .map_err(|e| e.to_string()),
        }
    }

    /// A ConfigMap of the inventory or the cluster.
    pub fn get_config_map(&self, namespace: &str, name: &str) -> Result<ConfigMap, String> {
        match &self.target {
            Target::Local { platform, .. } => platform
                .get_config_map(namespace, name)
                .map_err(|e| e.to_string()),
            Target::Kube(k) => self
                .runtime
                .block_on(k.get_config_map(namespace, name))
                .map_err(|e| e.to_string()),
        }
    }

    /// A Profile in the cluster (`None` on the local platform).
    pub fn cluster_profile(&self, namespace: &str, name: &str) -> Option<Result<Profile, String>> {
        match &self.target {
            Target::Local { .. } => None,
            Target::Kube(k) => Some(
                self.runtime
                    .block_on(k.get_profile(namespace, name))
                    .map_err(|e| e.to_string()),
            ),
        }
    }

    /// The object's template parameters.
    pub fn object_params(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<kapsel_params::RenderParams, String> {
        match &self.target {
            Target::Local { platform, .. } => platform
                .object_params(kind, namespace, name)
                .map_err(|e| e.to_string()),
            Target::Kube(k) => self
                .runtime
                .block_on(k.object_params(kind, namespace, name))
                .map_err(|e| e.to_string()),
        }
    }

    /// Where a missing object, Secret or ConfigMap should be (for hints).
    pub fn lookup_hint(&self, what: &str) -> String {
        match &self.target {
            Target::Local { inventory, .. } => {
                format!("add the {what} to the inventory {inventory} (docs/local-platform.md)")
            }
            Target::Kube(_) => format!(
                "create the {what} in the cluster, or check its kind, namespace and name (kubectl get)"
            ),
        }
    }

    /// A Profile with its credential resolved; errors name its file.
    pub fn resolve_profile(
        &self,
        file: &str,
        profile: &Profile,
    ) -> Result<kapsel_params::file::ProfileParams, CliError> {
        match &self.target {
            Target::Local { platform, .. } => {
                resolve_profile(platform, profile, &self.secret_files())
            }
            Target::Kube(_) => {
                let files = self.secret_files();
                kapsel_params::profile::resolve_profile(profile, |ns, name| {
                    match files.iter().find(|s| {
                        s.metadata.name.as_deref() == Some(name)
                            && s.metadata.namespace.as_deref().unwrap_or(ns) == ns
                    }) {
                        Some(s) => Ok(s.clone()),
                        None => self.get_secret(ns, name),
                    }
                })
                .map_err(|e| e.to_string())
            }
        }
        .map_err(|e| input(file, e, None))
    }
}

/// A reference to a resource (`kind`, its namespace and name).
pub(crate) fn reference(kind: &str, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        kind: kind.to_string(),
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        ..ObjectReference::default()
    }
}

pub(crate) use kapsel_engine::actionset::object_text;

/// The engine's request for `spec` (the effective one, flags applied): the
/// object's parameters from the inventory or cluster, then the ActionSet's
/// Secrets, ConfigMaps, Profile, options, input artifacts and pod settings
/// (`kapsel_engine::actionset::request`). Fails only when the object is not
/// found.
pub(crate) fn request(
    a: &RunArgs,
    w: &World,
    spec: &ActionSpec,
    action: BlueprintAction,
    secrets: BTreeMap<String, Secret>,
    config_maps: BTreeMap<String, ConfigMap>,
    profile: Option<kapsel_params::file::ProfileParams>,
) -> Result<ActionRequest, String> {
    let o = &spec.object;
    let params = w.object_params(&o.kind, &o.namespace, &o.name)?;
    Ok(kapsel_engine::actionset::request(
        spec,
        action,
        params,
        kapsel_engine::actionset::Resolved {
            secrets,
            config_maps,
            profile,
            phase_timeout: a.phase_timeout,
            action_timeout: a.timeout,
        },
    ))
}

/// The `--action` form: one action given by flags (and `--from`).
fn single(a: &RunArgs, w: &World, name: &str) -> Result<Plan, CliError> {
    let [(bp_file, bp)] = w.blueprints.as_slice() else {
        return Err(input(
            "--blueprint",
            "--action runs one Blueprint: give --blueprint once",
            Some("several Blueprints are for --actionset, whose actions name them"),
        ));
    };
    if w.profiles.len() > 1 {
        return Err(input(
            "--profile",
            "--action runs with one Profile: give --profile once",
            Some("several Profiles are for --actionset, whose actions name them"),
        ));
    }
    let Some(action) = bp.action(name).cloned() else {
        let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
        return Err(input(
            bp_file,
            format!("the Blueprint has no action {name:?}"),
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

    // Secrets: files given here; a profile's credential Secret may be one.
    let mut secret_refs = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (name, _, secret) in &w.secrets {
        secret_refs.insert(name.clone(), reference("Secret", &secret.metadata));
        secrets.insert(name.clone(), secret.clone());
    }
    let (profile_ref, profile) = match w.profiles.first() {
        Some((file, p)) => (
            Some(reference("Profile", &p.metadata)),
            Some(w.resolve_profile(file, p)?),
        ),
        None => (None, None),
    };
    let mut options: BTreeMap<String, String> = parent_spec
        .as_ref()
        .map(|p| p.options.clone())
        .unwrap_or_default();
    for o in &a.options {
        let (k, v) = kv(o, "--option")?;
        options.insert(k, v);
    }
    let artifacts = parent
        .as_ref()
        .and_then(|p| p.status.as_ref())
        .and_then(|s| s.actions.first())
        .map(|s| s.artifacts.clone())
        .unwrap_or_default();
    let spec = ActionSpec {
        name: name.to_string(),
        object: object.clone(),
        blueprint: bp.metadata.name.clone().unwrap_or_default(),
        artifacts,
        secrets: secret_refs,
        profile: profile_ref,
        options,
        preferred_version: a.function_version.clone().unwrap_or_default(),
        ..ActionSpec::default()
    };
    let req = request(a, w, &spec, action, secrets, BTreeMap::new(), profile)
        .map_err(|e| input("--object", e, Some(&w.lookup_hint("object"))))?;
    Ok(Plan {
        metadata: ObjectMeta {
            name: Some(format!(
                "{name}-{}",
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            )),
            namespace: Some(object.namespace),
            ..ObjectMeta::default()
        },
        actions: vec![Prepared { spec, req }],
        tagged: false,
        notes: Vec::new(),
    })
}

/// Runs every action of the plan at once, each with its own phases in
/// order, defer phase and deadlines; Ctrl-C cancels them all. Results come
/// back in the plan's order.
fn execute(plan: &Plan, w: &World, output: RunOutput) -> Result<Vec<ActionResult>, CliError> {
    let runtime = &w.runtime;
    let platform = w.platform();
    let several = plan.actions.len() > 1;
    let tags = plan.tagged.then(|| {
        plan.actions
            .iter()
            .enumerate()
            .map(|(index, p)| ActionTag {
                index,
                action: p.spec.name.clone(),
                object: object_text(&p.spec.object),
            })
            .collect()
    });
    Ok(runtime.block_on(async {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                if several {
                    eprintln!(
                        "interrupted: stopping the running phases, then running the defer phases"
                    );
                } else {
                    eprintln!(
                        "interrupted: stopping the running phase, then running the defer phase"
                    );
                }
                c2.cancel();
            }
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Event)>();
        let mut reporter =
            super::live::Reporter::new(output, console::Term::stderr().is_term(), tags);
        let printer = tokio::spawn(async move {
            while let Some((i, e)) = rx.recv().await {
                reporter.event(i, &e);
            }
        });
        let registry = Arc::new(Registry::builtin());
        let mut running = Vec::new();
        for (i, p) in plan.actions.iter().enumerate() {
            // Each action has its own sink; a forwarder tags its events.
            let (sink, mut events) = EventSink::channel();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(e) = events.recv().await {
                    let _ = tx.send((i, e));
                }
            });
            let (req, platform, registry, cancel) = (
                p.req.clone(),
                platform.clone(),
                registry.clone(),
                cancel.clone(),
            );
            running.push(tokio::spawn(async move {
                run_action(&req, platform.as_ref(), &registry, &sink, &cancel).await
            }));
        }
        drop(tx);
        let mut results = Vec::new();
        for (handle, p) in running.into_iter().zip(&plan.actions) {
            results.push(handle.await.unwrap_or_else(|e| {
                ActionResult::not_run(
                    &p.req.action,
                    format!("the action stopped unexpectedly: {e}"),
                )
            }));
        }
        // Every sink is gone with its task: the printer ends after the last
        // event.
        let _ = printer.await;
        // Pods of phases stopped by a deadline or Ctrl-C are being deleted.
        if let Target::Kube(k) = &w.target {
            k.drain(Duration::from_secs(60)).await;
        }
        results
    }))
}

/// The ActionSet's status (`kapsel_engine::actionset::set_status`).
fn set_status(plan: &Plan, results: &[ActionResult]) -> ActionSetStatus {
    let pairs: Vec<_> = plan.actions.iter().map(|p| &p.spec).zip(results).collect();
    kapsel_engine::actionset::set_status(&pairs)
}

/// Runs the command.
pub fn run(a: RunArgs) -> Result<ExitCode, CliError> {
    let w = World::load(&a)?;
    let plan = match (&a.actionset, &a.action) {
        (Some(file), _) => super::actionset::plan(&a, &w, file)?,
        (None, Some(name)) => single(&a, &w, name)?,
        (None, None) => {
            return Err(input(
                "--action",
                "give --action (with --object or --from), or --actionset",
                None,
            ));
        }
    };
    if a.output == RunOutput::Text {
        for n in &plan.notes {
            eprintln!("note: {n}");
        }
    }
    let results = execute(&plan, &w, a.output)?;
    let status = set_status(&plan, &results);
    let failed = status.state != State::Complete;
    let message = status.error.message.clone();
    let mut actionset = ActionSet::new(
        plan.metadata.name.as_deref().unwrap_or_default(),
        ActionSetSpec {
            actions: plan.actions.iter().map(|p| p.spec.clone()).collect(),
        },
    );
    actionset.metadata = plan.metadata;
    actionset.status = Some(status);
    let text = serde_saphyr::to_string(&actionset)
        .map_err(|e| input("<actionset>", e.to_string(), None))?;
    match &a.write {
        Some(f) => fs_err::write(f, text).map_err(CliError::Write)?,
        None => out(&text)?,
    }
    // In JSON mode the actionEnded events carry the errors: stderr stays
    // one JSON value per line.
    if !message.is_empty() && a.output != RunOutput::Json {
        eprintln!("error: {message}");
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
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
