//! `kapsel actionset create|get|describe|watch|delete`: ActionSets in a
//! cluster, created as `kanctl create actionset` creates them (its flags,
//! names and `--from` rules: kanister.md §4) and shown as kubectl shows
//! objects.
//!
//! `create` builds the ActionSet from the flags (one action per object),
//! checks before creating anything that what it names exists (the
//! Blueprint and its action, the Profile, the objects, Secrets and
//! ConfigMaps; `--skip-validation` skips this), then creates it, or prints
//! it with `--dry-run`. `--from PARENT` copies a complete ActionSet's
//! output artifacts into the new one's input artifacts, with its secrets,
//! configMaps, profile, options and objects; flags override.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kapsel_api::{
    ActionSet, ActionSetSpec, ActionSpec, Blueprint, ObjectReference, Phase, Profile, State,
};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::watcher;

use super::table::{self, state_name};
use super::{ACTIONSET_RESOURCE, Cluster, ClusterError, Conn, is_not_found, out};

/// kanctl's kinds for objects given by flag (Kanister's `param.*Kind`).
pub const DEPLOYMENT: &str = "deployment";
/// `--statefulset`.
pub const STATEFULSET: &str = "statefulset";
/// `--deploymentconfig` (OpenShift).
pub const DEPLOYMENTCONFIG: &str = "deploymentconfig";
/// `--pvc`.
pub const PVC: &str = "pvc";
/// `--namespacetargets`.
pub const NAMESPACE: &str = "namespace";

/// `kapsel actionset ...`.
#[derive(Debug, Subcommand)]
pub enum ActionSetCmd {
    /// Create an ActionSet (kanctl's flags): one action per object, or
    /// --from a complete ActionSet (its artifacts become the new one's
    /// input artifacts).
    Create(Box<CreateArgs>),
    /// List ActionSets (table: state, actions, running phase, progress,
    /// age), or print them as YAML, JSON or names.
    #[command(alias = "list", alias = "ls")]
    Get(GetArgs),
    /// Show an ActionSet: per action its object, Blueprint, phases with
    /// their state and error, artifacts, deferPhase; then its events.
    Describe(DescribeArgs),
    /// Follow an ActionSet until it is complete (exit 0) or failed (exit 1,
    /// with its error), a line per phase state change.
    Watch(WatchArgs),
    /// Delete ActionSets (a running one is cancelled by the controller).
    Delete(DeleteArgs),
}

/// The flags of `kanctl create actionset`, shared by `kapsel actionset
/// create` and the `kanctl` entry point.
#[derive(Debug, Clone, Default, Args)]
pub struct ActionSetFlags {
    /// The Blueprint action to run (required unless --from).
    #[arg(long, short = 'a')]
    pub action: Option<String>,
    /// The Blueprint (required unless --from), in the ActionSet's namespace.
    #[arg(long, short = 'b')]
    pub blueprint: Option<String>,
    /// The ActionSet's name (default: <action>-[<parent>-]<random>).
    #[arg(long = "name", short = 'A', value_name = "NAME")]
    pub name: Option<String>,
    /// The Profile: NAME (in the ActionSet's namespace) or NAMESPACE/NAME.
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// A complete ActionSet whose output artifacts become this one's input
    /// artifacts (with its secrets, configMaps, profile, options, objects).
    #[arg(long = "from", short = 'f', value_name = "PARENT")]
    pub from: Option<String>,
    /// Deployments: NAMESPACE/NAME, comma-separated or repeated.
    #[arg(
        long,
        short = 'd',
        value_delimiter = ',',
        value_name = "NAMESPACE/NAME"
    )]
    pub deployment: Vec<String>,
    /// StatefulSets: NAMESPACE/NAME, comma-separated or repeated.
    #[arg(
        long,
        short = 't',
        value_delimiter = ',',
        value_name = "NAMESPACE/NAME"
    )]
    pub statefulset: Vec<String>,
    /// OpenShift DeploymentConfigs: NAMESPACE/NAME, comma-separated or repeated.
    #[arg(
        long,
        short = 'D',
        value_delimiter = ',',
        value_name = "NAMESPACE/NAME"
    )]
    pub deploymentconfig: Vec<String>,
    /// PersistentVolumeClaims: NAMESPACE/NAME, comma-separated or repeated.
    #[arg(
        long,
        short = 'v',
        value_delimiter = ',',
        value_name = "NAMESPACE/NAME"
    )]
    pub pvc: Vec<String>,
    /// Namespaces as objects, comma-separated or repeated.
    #[arg(long, short = 'T', value_delimiter = ',', value_name = "NAMESPACE")]
    pub namespacetargets: Vec<String>,
    /// Any objects: GROUP/VERSION/RESOURCE/NAMESPACE/NAME (core:
    /// VERSION/RESOURCE/NAMESPACE/NAME), comma-separated or repeated.
    #[arg(long, short = 'O', value_delimiter = ',', value_name = "G/V/R/NS/NAME")]
    pub objects: Vec<String>,
    /// A label selector: every object of --kind it matches.
    #[arg(long, short = 'l')]
    pub selector: Option<String>,
    /// The kind --selector applies to: all, deployment, statefulset,
    /// deploymentconfig, pvc, namespace.
    #[arg(long, short = 'k', default_value = "all")]
    pub kind: String,
    /// The namespace --selector applies to (default: every namespace).
    #[arg(long, value_name = "NAMESPACE")]
    pub selector_namespace: Option<String>,
    /// Secrets: REF=NAMESPACE/NAME (`.Secrets.REF`), comma-separated or repeated.
    #[arg(
        long,
        short = 's',
        value_delimiter = ',',
        value_name = "REF=NAMESPACE/NAME"
    )]
    pub secrets: Vec<String>,
    /// ConfigMaps: REF=NAMESPACE/NAME (`.ConfigMaps.REF`), comma-separated or repeated.
    #[arg(
        long = "config-maps",
        short = 'c',
        value_delimiter = ',',
        value_name = "REF=NAMESPACE/NAME"
    )]
    pub config_maps: Vec<String>,
    /// Options: KEY=VALUE (`.Options.KEY`), comma-separated or repeated.
    #[arg(long, short = 'o', value_delimiter = ',', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Labels of the ActionSet: KEY=VALUE,... .
    #[arg(long, value_name = "KEY=VALUE,...")]
    pub labels: Option<String>,
    /// Labels of the pods its functions create: KEY=VALUE, comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "KEY=VALUE")]
    pub podlabels: Vec<String>,
    /// Annotations of the pods its functions create: KEY=VALUE,
    /// comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "KEY=VALUE")]
    pub podannotations: Vec<String>,
}

/// What `create` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CreateOutput {
    /// The ActionSet as YAML.
    Yaml,
    /// The ActionSet as JSON.
    Json,
    /// `actionset.cr.kanister.io/<name>` (for scripts).
    Name,
}

/// `kapsel actionset create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub flags: ActionSetFlags,
    /// Print the ActionSet (YAML, or --output) instead of creating it.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not check that the Blueprint, its action, the Profile and the
    /// objects exist.
    #[arg(long)]
    pub skip_validation: bool,
    /// Output: yaml, json or name (long form only: -o is kanctl's --options).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output: Option<CreateOutput>,
}

/// `get`'s output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The table with BLUEPRINT and OBJECTS.
    Wide,
    /// YAML (one object, or a `List`).
    Yaml,
    /// JSON (one object, or a `List`).
    Json,
    /// `actionset.cr.kanister.io/<name>`, one a line.
    Name,
}

/// `kapsel actionset get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// ActionSets to show (default: all in the namespace).
    pub names: Vec<String>,
    /// Every namespace.
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Only ActionSets with these labels (a label selector).
    #[arg(long, short = 'l')]
    pub selector: Option<String>,
    /// Output format (default: a table).
    #[arg(long, short = 'o', value_enum, value_name = "FORMAT")]
    pub output: Option<GetOutput>,
}

/// `kapsel actionset describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The ActionSets.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `kapsel actionset watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The ActionSet.
    pub name: String,
    /// Give up (exit 2) after this long, e.g. 30m; the ActionSet goes on.
    #[arg(long, value_parser = crate::cmd::run::parse_duration)]
    pub timeout: Option<Duration>,
}

/// `kapsel actionset delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The ActionSets.
    pub names: Vec<String>,
    /// Every ActionSet in the namespace.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
}

/// Runs an `actionset` subcommand.
pub fn run(cmd: ActionSetCmd) -> ExitCode {
    super::report(dispatch(cmd))
}

fn dispatch(cmd: ActionSetCmd) -> Result<ExitCode, ClusterError> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match cmd {
            ActionSetCmd::Create(a) => create(&a).await,
            ActionSetCmd::Get(a) => get(&a).await,
            ActionSetCmd::Describe(a) => describe(&a).await,
            ActionSetCmd::Watch(a) => watch(&a).await,
            ActionSetCmd::Delete(a) => delete(&a).await,
        }
    })
}

// ---------------------------------------------------------------------
// Building the ActionSet (no cluster): kanctl's `PerformParams`.

/// The parsed flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// Where the ActionSet is created (and its Blueprint is).
    pub namespace: String,
    /// `-a`.
    pub action: Option<String>,
    /// `-A`.
    pub name: Option<String>,
    /// `-f`.
    pub parent: Option<String>,
    /// `-b`.
    pub blueprint: Option<String>,
    /// The objects of `-d -t -D -v -T -O` (and `-l`, added from the cluster).
    pub objects: Vec<ObjectReference>,
    /// `-o`.
    pub options: BTreeMap<String, String>,
    /// `-p`.
    pub profile: Option<ObjectReference>,
    /// `-s`.
    pub secrets: BTreeMap<String, ObjectReference>,
    /// `-c`.
    pub config_maps: BTreeMap<String, ObjectReference>,
    /// `--labels`.
    pub labels: BTreeMap<String, String>,
    /// `--podlabels`.
    pub pod_labels: BTreeMap<String, String>,
    /// `--podannotations`.
    pub pod_annotations: BTreeMap<String, String>,
}

fn usage(message: impl Into<String>, help: &str) -> ClusterError {
    ClusterError::usage(message, Some(help))
}

/// `NAMESPACE/NAME`, both not empty.
fn ns_name(flag: &str, s: &str) -> Result<(String, String), ClusterError> {
    match s.split('/').collect::<Vec<_>>().as_slice() {
        [ns, name] if !ns.trim().is_empty() && !name.trim().is_empty() => {
            Ok((ns.trim().to_string(), name.trim().to_string()))
        }
        _ => Err(usage(
            format!("{flag} {s:?}: expected NAMESPACE/NAME"),
            &format!("e.g. {flag} my-namespace/my-app (comma-separate several)"),
        )),
    }
}

/// `REF=NAMESPACE/NAME` entries.
fn references(
    flag: &str,
    items: &[String],
) -> Result<BTreeMap<String, ObjectReference>, ClusterError> {
    let mut m = BTreeMap::new();
    for r in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let Some((key, target)) = r.split_once('=') else {
            return Err(usage(
                format!("{flag} {r:?}: expected REF=NAMESPACE/NAME"),
                &format!("e.g. {flag} dbcreds=my-namespace/my-secret"),
            ));
        };
        if key.trim().is_empty() {
            return Err(usage(
                format!("{flag} {r:?}: the REF before '=' is empty"),
                &format!("e.g. {flag} dbcreds=my-namespace/my-secret"),
            ));
        }
        let (namespace, name) = ns_name(flag, target)?;
        m.insert(
            key.trim().to_string(),
            ObjectReference {
                name,
                namespace,
                ..ObjectReference::default()
            },
        );
    }
    Ok(m)
}

/// `KEY=VALUE` entries (a value may hold '=').
fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>, ClusterError> {
    let mut m = BTreeMap::new();
    for kv in items.iter().filter(|s| !s.trim().is_empty()) {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                m.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => {
                return Err(usage(
                    format!("{flag} {kv:?}: expected KEY=VALUE"),
                    &format!("e.g. {flag} key1=value1,key2=value2"),
                ));
            }
        }
    }
    Ok(m)
}

/// A generic object: `GROUP/VERSION/RESOURCE/NAMESPACE/NAME` or, for the
/// core group, `VERSION/RESOURCE/NAMESPACE/NAME`.
fn generic_object(s: &str) -> Result<ObjectReference, ClusterError> {
    let parts: Vec<&str> = s.trim().split('/').collect();
    let (group, version, resource, namespace, name) = match parts.as_slice() {
        [g, v, r, ns, n] => (*g, *v, *r, *ns, *n),
        [v, r, ns, n] => ("", *v, *r, *ns, *n),
        _ => ("", "", "", "", ""),
    };
    if [version, resource, namespace, name]
        .iter()
        .any(|p| p.is_empty())
    {
        return Err(usage(
            format!("--objects {s:?}: expected GROUP/VERSION/RESOURCE/NAMESPACE/NAME"),
            "e.g. --objects apps/v1/deployments/my-namespace/my-app, or v1/configmaps/my-namespace/my-config for the core group",
        ));
    }
    Ok(ObjectReference {
        api_version: version.to_string(),
        group: group.to_string(),
        resource: resource.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        ..ObjectReference::default()
    })
}

/// The objects given by `-d -t -D -v -T -O`, each once, in that order.
fn flag_objects(f: &ActionSetFlags) -> Result<Vec<ObjectReference>, ClusterError> {
    let mut out: Vec<ObjectReference> = Vec::new();
    let mut push = |o: ObjectReference| {
        if !out.contains(&o) {
            out.push(o);
        }
    };
    for (flag, kind, items) in [
        ("--deployment", DEPLOYMENT, &f.deployment),
        ("--statefulset", STATEFULSET, &f.statefulset),
        ("--deploymentconfig", DEPLOYMENTCONFIG, &f.deploymentconfig),
        ("--pvc", PVC, &f.pvc),
    ] {
        for s in items.iter().filter(|s| !s.trim().is_empty()) {
            let (namespace, name) = ns_name(flag, s)?;
            push(ObjectReference {
                kind: kind.to_string(),
                namespace,
                name,
                ..ObjectReference::default()
            });
        }
    }
    for ns in f.namespacetargets.iter().map(|s| s.trim()) {
        if ns.is_empty() {
            continue;
        }
        push(ObjectReference {
            kind: NAMESPACE.to_string(),
            namespace: ns.to_string(),
            name: ns.to_string(),
            ..ObjectReference::default()
        });
    }
    for s in f.objects.iter().filter(|s| !s.trim().is_empty()) {
        push(generic_object(s)?);
    }
    Ok(out)
}

/// `--labels k=v,foo=bar` (spaces trimmed).
fn parse_labels(s: Option<&str>) -> Result<BTreeMap<String, String>, ClusterError> {
    let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let items: Vec<String> = s.split(',').map(str::to_string).collect();
    key_values("--labels", &items)
}

/// Kubernetes' rules for a label or annotation key (a qualified name) and
/// a label value; the problems found.
pub fn metadata_problems(
    what: &str,
    m: &BTreeMap<String, String>,
    values_are_labels: bool,
) -> Vec<String> {
    fn name_ok(n: &str) -> bool {
        !n.is_empty()
            && n.len() <= 63
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.ends_with(|c: char| c.is_ascii_alphanumeric())
    }
    fn prefix_ok(p: &str) -> bool {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    }
    let mut problems = Vec::new();
    for (k, v) in m {
        let key_ok = match k.split_once('/') {
            Some((p, n)) => prefix_ok(p) && name_ok(n),
            None => name_ok(k),
        };
        if !key_ok {
            problems.push(format!(
                "{what} key {k:?} is not a valid key: [prefix/]name, the name at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit; the prefix a DNS subdomain"
            ));
        }
        if values_are_labels && !v.is_empty() && !name_ok(v) {
            problems.push(format!(
                "{what} value {v:?} (of {k:?}) is not a valid label value: at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit"
            ));
        }
    }
    problems
}

impl Params {
    /// The flags' parameters, objects from flags only (`-l` needs the
    /// cluster: [`selector_objects`]).
    pub fn from_flags(f: &ActionSetFlags, namespace: &str) -> Result<Params, ClusterError> {
        let profile = match f
            .profile
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            None => None,
            Some(p) => {
                let (namespace, name) = match p.split('/').collect::<Vec<_>>().as_slice() {
                    [name] => (namespace.to_string(), name.to_string()),
                    [ns, name] if !ns.is_empty() && !name.is_empty() => {
                        (ns.to_string(), name.to_string())
                    }
                    _ => {
                        return Err(usage(
                            format!("--profile {p:?}: expected NAME or NAMESPACE/NAME"),
                            "e.g. --profile s3-profile, or --profile kanister/s3-profile",
                        ));
                    }
                };
                Some(ObjectReference {
                    name,
                    namespace,
                    ..ObjectReference::default()
                })
            }
        };
        let pod_labels = key_values("--podlabels", &f.podlabels)?;
        let pod_annotations = key_values("--podannotations", &f.podannotations)?;
        let labels = parse_labels(f.labels.as_deref())?;
        let mut problems = metadata_problems("--podlabels", &pod_labels, true);
        problems.extend(metadata_problems(
            "--podannotations",
            &pod_annotations,
            false,
        ));
        problems.extend(metadata_problems("--labels", &labels, true));
        if !problems.is_empty() {
            return Err(usage(
                problems.join("\n"),
                "see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set",
            ));
        }
        let nonempty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(Params {
            namespace: namespace.to_string(),
            action: nonempty(&f.action),
            name: nonempty(&f.name),
            parent: nonempty(&f.from),
            blueprint: nonempty(&f.blueprint),
            objects: flag_objects(f)?,
            options: key_values("--options", &f.options)?,
            profile,
            secrets: references("--secrets", &f.secrets)?,
            config_maps: references("--config-maps", &f.config_maps)?,
            labels,
            pod_labels,
            pod_annotations,
        })
    }

    /// kanctl's name: `-A`, else `<action>-[<parent>-]<suffix>`, else
    /// `<parent>-<suffix>`.
    pub fn generate_name(&self, suffix: &str) -> Result<String, ClusterError> {
        if let Some(n) = &self.name {
            return Ok(n.clone());
        }
        match (&self.action, &self.parent) {
            (Some(a), Some(p)) => Ok(format!("{a}-{p}-{suffix}")),
            (Some(a), None) => Ok(format!("{a}-{suffix}")),
            (None, Some(p)) => Ok(format!("{p}-{suffix}")),
            (None, None) => Err(usage(
                "missing action name",
                "use the --action flag to specify the action name",
            )),
        }
    }

    fn metadata(&self, suffix: &str) -> Result<ObjectMeta, ClusterError> {
        Ok(ObjectMeta {
            name: Some(self.generate_name(suffix)?),
            namespace: Some(self.namespace.clone()),
            labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
            ..ObjectMeta::default()
        })
    }

    /// A new ActionSet: one action per object.
    pub fn new_actionset(&self, suffix: &str) -> Result<ActionSet, ClusterError> {
        let Some(action) = &self.action else {
            return Err(usage(
                "--action is required to create a new ActionSet",
                "name the Blueprint action to run (--action backup), or create from a parent ActionSet (--from)",
            ));
        };
        let Some(blueprint) = &self.blueprint else {
            return Err(usage(
                "--blueprint is required to create a new ActionSet",
                "name the Blueprint (in the ActionSet's namespace) with --blueprint",
            ));
        };
        if self.objects.is_empty() {
            return Err(usage(
                "no objects found to perform the ActionSet on",
                "name objects (--deployment, --statefulset, --pvc, --namespacetargets, --objects, --selector) or a parent ActionSet (--from)",
            ));
        }
        let actions = self
            .objects
            .iter()
            .map(|o| ActionSpec {
                name: action.clone(),
                blueprint: blueprint.clone(),
                object: o.clone(),
                secrets: self.secrets.clone(),
                config_maps: self.config_maps.clone(),
                profile: self.profile.clone(),
                options: self.options.clone(),
                pod_labels: self.pod_labels.clone(),
                pod_annotations: self.pod_annotations.clone(),
                ..ActionSpec::default()
            })
            .collect();
        Ok(ActionSet {
            metadata: self.metadata(suffix)?,
            spec: ActionSetSpec { actions },
            status: None,
        })
    }

    /// The ActionSet created `--from` `parent` (kanctl's `ChildActionSet`):
    /// per action of the parent's status its name, Blueprint, object,
    /// output artifacts (as input artifacts), and its spec's secrets,
    /// configMaps, profile and options; flags override, objects given by
    /// flag replace the parent's (one action per object).
    pub fn child_actionset(
        &self,
        parent: &ActionSet,
        suffix: &str,
    ) -> Result<ActionSet, ClusterError> {
        let pname = parent.metadata.name.clone().unwrap_or_default();
        let pns = parent.metadata.namespace.clone().unwrap_or_default();
        let status = match &parent.status {
            Some(s) if s.state == State::Complete => s,
            other => {
                let state = other
                    .as_ref()
                    .map(|s| state_name(s.state))
                    .unwrap_or("not started");
                return Err(ClusterError::invalid(
                    format!(
                        "ActionSet {pns}/{pname} is {state}, not complete: --from needs a complete ActionSet"
                    ),
                    Some(&format!(
                        "wait for it (`kapsel actionset watch {pname} -n {pns}`) or name another one"
                    )),
                ));
            }
        };
        let mut actions = Vec::new();
        for (i, pa) in status.actions.iter().enumerate() {
            let Some(ps) = parent.spec.actions.get(i) else {
                return Err(ClusterError::invalid(
                    format!(
                        "ActionSet {pns}/{pname} has {} action(s) in its status but {} in its spec",
                        status.actions.len(),
                        parent.spec.actions.len()
                    ),
                    Some("its status is inconsistent: name another ActionSet"),
                ));
            };
            let mut options = ps.options.clone();
            options.extend(self.options.clone());
            let a = ActionSpec {
                name: self.action.clone().unwrap_or_else(|| ps.name.clone()),
                blueprint: self
                    .blueprint
                    .clone()
                    .unwrap_or_else(|| pa.blueprint.clone()),
                object: pa.object.clone(),
                artifacts: pa.artifacts.clone(),
                secrets: if self.secrets.is_empty() {
                    ps.secrets.clone()
                } else {
                    self.secrets.clone()
                },
                config_maps: if self.config_maps.is_empty() {
                    ps.config_maps.clone()
                } else {
                    self.config_maps.clone()
                },
                profile: self.profile.clone().or_else(|| ps.profile.clone()),
                options,
                pod_labels: self.pod_labels.clone(),
                pod_annotations: self.pod_annotations.clone(),
                ..ActionSpec::default()
            };
            if self.objects.is_empty() {
                actions.push(a);
            } else {
                for o in &self.objects {
                    let mut c = a.clone();
                    c.object = o.clone();
                    actions.push(c);
                }
            }
        }
        if actions.is_empty() {
            return Err(ClusterError::invalid(
                format!("ActionSet {pns}/{pname} has no actions in its status"),
                Some("name another ActionSet with --from"),
            ));
        }
        Ok(ActionSet {
            metadata: self.metadata(suffix)?,
            spec: ActionSetSpec { actions },
            status: None,
        })
    }
}

/// An ActionSet as `kubectl apply` takes it: apiVersion, kind, metadata,
/// spec (no status).
pub fn manifest(set: &ActionSet) -> serde_json::Value {
    let mut v = serde_json::json!({
        "apiVersion": kapsel_api::API_VERSION,
        "kind": "ActionSet",
        "metadata": set.metadata,
        "spec": set.spec,
    });
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.retain(|_, x| !x.is_null());
        let mut ordered = serde_json::Map::new();
        for k in ["name", "generateName", "namespace"] {
            if let Some(x) = m.remove(k) {
                ordered.insert(k.to_string(), x);
            }
        }
        ordered.append(m);
        *m = ordered;
    }
    v
}

/// An object's reference as a user reads it: `kind namespace/name`, or
/// `group/version/resource namespace/name`.
pub fn object_label(o: &ObjectReference) -> String {
    let kind = if o.kind.is_empty() {
        [
            o.group.as_str(),
            o.api_version.as_str(),
            o.resource.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
    } else {
        o.kind.clone()
    };
    if o.namespace.is_empty() || kind.eq_ignore_ascii_case(NAMESPACE) {
        format!("{kind} {}", o.name)
    } else {
        format!("{kind} {}/{}", o.namespace, o.name)
    }
}

// ---------------------------------------------------------------------
// What needs the cluster.

/// The objects `-l` selects (kanctl's `parseObjectsFromSelector`; `all`
/// is deployments, deploymentconfigs where the cluster serves them,
/// statefulsets and PVCs).
pub async fn selector_objects(
    c: &Cluster,
    f: &ActionSetFlags,
) -> Result<Vec<ObjectReference>, ClusterError> {
    let Some(selector) = f.selector.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let kind = f.kind.to_ascii_lowercase();
    let kinds: Vec<&str> = match kind.as_str() {
        "all" => vec![DEPLOYMENT, DEPLOYMENTCONFIG, STATEFULSET, PVC],
        DEPLOYMENT | DEPLOYMENTCONFIG | STATEFULSET | PVC | NAMESPACE => vec![kind.as_str()],
        other => {
            return Err(usage(
                format!("--kind {other:?} is not supported"),
                "use all, deployment, statefulset, deploymentconfig, pvc or namespace",
            ));
        }
    };
    let sns = f.selector_namespace.clone().unwrap_or_default();
    let lp = ListParams::default().labels(selector);
    let client = c.client();
    let where_ = if sns.is_empty() {
        "in any namespace".to_string()
    } else {
        format!("in namespace {sns:?}")
    };
    let mut out = Vec::new();
    let names = |items: Vec<ObjectMeta>, kind: &str| -> Vec<ObjectReference> {
        items
            .into_iter()
            .map(|m| ObjectReference {
                kind: kind.to_string(),
                namespace: m
                    .namespace
                    .clone()
                    .unwrap_or_else(|| m.name.clone().unwrap_or_default()),
                name: m.name.unwrap_or_default(),
                ..ObjectReference::default()
            })
            .collect()
    };
    for k in kinds {
        let fail = |e: kube::Error| {
            ClusterError::api(
                format!("cannot list {k}s with selector {selector:?} {where_}"),
                &e,
            )
        };
        let found = match k {
            DEPLOYMENT => {
                let api: Api<Deployment> = namespaced_or_all(&client, &sns);
                names(
                    api.list(&lp)
                        .await
                        .map_err(fail)?
                        .items
                        .into_iter()
                        .map(|d| d.metadata)
                        .collect(),
                    k,
                )
            }
            STATEFULSET => {
                let api: Api<StatefulSet> = namespaced_or_all(&client, &sns);
                names(
                    api.list(&lp)
                        .await
                        .map_err(fail)?
                        .items
                        .into_iter()
                        .map(|d| d.metadata)
                        .collect(),
                    k,
                )
            }
            PVC => {
                let api: Api<PersistentVolumeClaim> = namespaced_or_all(&client, &sns);
                names(
                    api.list(&lp)
                        .await
                        .map_err(fail)?
                        .items
                        .into_iter()
                        .map(|d| d.metadata)
                        .collect(),
                    k,
                )
            }
            NAMESPACE => {
                let api: Api<Namespace> = Api::all(client.clone());
                names(
                    api.list(&lp)
                        .await
                        .map_err(fail)?
                        .items
                        .into_iter()
                        .map(|d| d.metadata)
                        .collect(),
                    k,
                )
            }
            _ => {
                let ar = deploymentconfig_resource();
                let api: Api<DynamicObject> = if sns.is_empty() {
                    Api::all_with(client.clone(), &ar)
                } else {
                    Api::namespaced_with(client.clone(), &sns, &ar)
                };
                match api.list(&lp).await {
                    Ok(l) => names(l.items.into_iter().map(|d| d.metadata).collect(), k),
                    // Not OpenShift: `all` goes on without them.
                    Err(e) if is_not_found(&e) && kind == "all" => Vec::new(),
                    Err(e) => return Err(fail(e)),
                }
            }
        };
        for o in found {
            if !out.contains(&o) {
                out.push(o);
            }
        }
    }
    Ok(out)
}

fn namespaced_or_all<K>(client: &kube::Client, ns: &str) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    if ns.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), ns)
    }
}

fn deploymentconfig_resource() -> ApiResource {
    ApiResource {
        group: "apps.openshift.io".into(),
        version: "v1".into(),
        api_version: "apps.openshift.io/v1".into(),
        kind: "DeploymentConfig".into(),
        plural: "deploymentconfigs".into(),
    }
}

/// Whether `o` exists: `Ok(None)` yes, `Ok(Some(problem))` no.
async fn check_object(c: &Cluster, o: &ObjectReference) -> Result<Option<String>, ClusterError> {
    let client = c.client();
    let (ns, name) = (o.namespace.as_str(), o.name.as_str());
    let label = object_label(o);
    let result: Result<(), kube::Error> = match o.kind.to_ascii_lowercase().as_str() {
        DEPLOYMENT | "deployments" => Api::<Deployment>::namespaced(client, ns)
            .get(name)
            .await
            .map(drop),
        STATEFULSET | "statefulsets" => Api::<StatefulSet>::namespaced(client, ns)
            .get(name)
            .await
            .map(drop),
        PVC | "persistentvolumeclaim" | "persistentvolumeclaims" => {
            Api::<PersistentVolumeClaim>::namespaced(client, ns)
                .get(name)
                .await
                .map(drop)
        }
        NAMESPACE | "namespaces" => Api::<Namespace>::all(client).get(name).await.map(drop),
        DEPLOYMENTCONFIG | "deploymentconfigs" => {
            Api::<DynamicObject>::namespaced_with(client, ns, &deploymentconfig_resource())
                .get(name)
                .await
                .map(drop)
        }
        "" => {
            let api_version = if o.group.is_empty() {
                o.api_version.clone()
            } else {
                format!("{}/{}", o.group, o.api_version)
            };
            let ar = ApiResource {
                group: o.group.clone(),
                version: o.api_version.clone(),
                api_version,
                kind: String::new(),
                plural: o.resource.clone(),
            };
            let api: Api<DynamicObject> = if ns.is_empty() {
                Api::all_with(client, &ar)
            } else {
                Api::namespaced_with(client, ns, &ar)
            };
            api.get(name).await.map(drop)
        }
        other => {
            // Any kind the cluster serves, found through discovery.
            return Ok(c
                .platform
                .object_params(other, ns, name)
                .await
                .err()
                .map(|e| format!("{label}: {e}")));
        }
    };
    Ok(match result {
        Ok(()) => None,
        Err(e) if is_not_found(&e) => Some(format!("{label} not found")),
        Err(e) => Some(format!("{label}: {}", super::api_message(&e))),
    })
}

/// Checks, before creating `set`, what it names (kanctl's `verifyParams`,
/// plus the Blueprint's action): every problem found, each naming the
/// object.
pub async fn verify(c: &Cluster, set: &ActionSet) -> Result<Vec<String>, ClusterError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let client = c.client();
    let mut problems: Vec<String> = Vec::new();
    let add = |p: String, problems: &mut Vec<String>| {
        if !problems.contains(&p) {
            problems.push(p);
        }
    };
    let bps: Api<Blueprint> = Api::namespaced(client.clone(), &ns);
    let mut blueprints: BTreeMap<String, Option<Blueprint>> = BTreeMap::new();
    for a in &set.spec.actions {
        if !blueprints.contains_key(&a.blueprint) {
            let found = match bps.get_opt(&a.blueprint).await {
                Ok(b) => b,
                Err(e) => {
                    add(
                        format!("Blueprint {ns}/{}: {}", a.blueprint, super::api_message(&e)),
                        &mut problems,
                    );
                    blueprints.insert(a.blueprint.clone(), None);
                    continue;
                }
            };
            if found.is_none() {
                add(
                    format!(
                        "Blueprint {:?} not found in namespace {ns:?} (the ActionSet's, where the controller looks first; one in kapsel controller's own namespace is not checked: --skip-validation)",
                        a.blueprint
                    ),
                    &mut problems,
                );
            }
            blueprints.insert(a.blueprint.clone(), found);
        }
        if let Some(Some(bp)) = blueprints.get(&a.blueprint)
            && bp.action(&a.name).is_none()
        {
            let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
            add(
                format!(
                    "Blueprint {:?} has no action {:?} (its actions: {})",
                    a.blueprint,
                    a.name,
                    known.join(", ")
                ),
                &mut problems,
            );
        }
        if let Some(p) = &a.profile {
            let pns = if p.namespace.is_empty() {
                ns.as_str()
            } else {
                p.namespace.as_str()
            };
            match Api::<Profile>::namespaced(client.clone(), pns)
                .get_opt(&p.name)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => add(format!("Profile {pns}/{} not found", p.name), &mut problems),
                Err(e) => add(
                    format!("Profile {pns}/{}: {}", p.name, super::api_message(&e)),
                    &mut problems,
                ),
            }
        }
        if let Some(p) = check_object(c, &a.object).await? {
            add(p, &mut problems);
        }
        for (r, s) in &a.secrets {
            let sns = if s.namespace.is_empty() {
                a.object.namespace.as_str()
            } else {
                s.namespace.as_str()
            };
            match Api::<Secret>::namespaced(client.clone(), sns)
                .get_opt(&s.name)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => add(
                    format!("Secret {sns}/{} (secrets {r}) not found", s.name),
                    &mut problems,
                ),
                Err(e) => add(
                    format!(
                        "Secret {sns}/{} (secrets {r}): {}",
                        s.name,
                        super::api_message(&e)
                    ),
                    &mut problems,
                ),
            }
        }
        for (r, s) in &a.config_maps {
            let cns = if s.namespace.is_empty() {
                a.object.namespace.as_str()
            } else {
                s.namespace.as_str()
            };
            match Api::<ConfigMap>::namespaced(client.clone(), cns)
                .get_opt(&s.name)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => add(
                    format!("ConfigMap {cns}/{} (configMaps {r}) not found", s.name),
                    &mut problems,
                ),
                Err(e) => add(
                    format!(
                        "ConfigMap {cns}/{} (configMaps {r}): {}",
                        s.name,
                        super::api_message(&e)
                    ),
                    &mut problems,
                ),
            }
        }
    }
    Ok(problems)
}

/// `kapsel actionset create` (and `kanctl create actionset`).
pub async fn create(a: &CreateArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    let mut params = Params::from_flags(&a.flags, &c.namespace)?;
    let selected = selector_objects(&c, &a.flags).await?;
    if a.flags.selector.is_some()
        && selected.is_empty()
        && params.objects.is_empty()
        && params.parent.is_none()
    {
        return Err(ClusterError::invalid(
            format!(
                "the selector {:?} matched no {} {}",
                a.flags.selector.as_deref().unwrap_or_default(),
                if a.flags.kind == "all" {
                    "object"
                } else {
                    a.flags.kind.as_str()
                },
                a.flags
                    .selector_namespace
                    .as_ref()
                    .map(|n| format!("in namespace {n:?}"))
                    .unwrap_or_else(|| "in any namespace".into())
            ),
            Some("check the labels (`kubectl get all -l SELECTOR -A`) and --kind"),
        ));
    }
    for o in selected {
        if !params.objects.contains(&o) {
            params.objects.push(o);
        }
    }
    let suffix = super::rand_suffix(5);
    let set = match &params.parent {
        Some(parent) => {
            let api: Api<ActionSet> = Api::namespaced(c.client(), &c.namespace);
            let p = match api.get_opt(parent).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(ClusterError::invalid(
                        format!(
                            "parent ActionSet {:?} not found in namespace {:?}",
                            parent, c.namespace
                        ),
                        Some(
                            "--from names an ActionSet of the namespace the new one is created in (-n)",
                        ),
                    ));
                }
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("cannot get ActionSet {}/{parent}", c.namespace),
                        &e,
                    ));
                }
            };
            params.child_actionset(&p, &suffix)?
        }
        None => params.new_actionset(&suffix)?,
    };
    if !a.skip_validation {
        let problems = verify(&c, &set).await?;
        if !problems.is_empty() {
            let name = set.metadata.name.clone().unwrap_or_default();
            return Err(ClusterError::invalid(
                format!(
                    "ActionSet {name} not created: {}",
                    if problems.len() == 1 {
                        problems[0].clone()
                    } else {
                        format!("{} problems:\n- {}", problems.len(), problems.join("\n- "))
                    }
                ),
                Some(
                    "create what is missing first (kapsel blueprint apply, kapsel profile create), fix the names, or pass --skip-validation",
                ),
            ));
        }
    }
    if set.spec.actions.iter().all(|x| x.profile.is_none()) {
        eprintln!(
            "Warning: --profile flag is not provided.\nAction might fail if blueprint is using this resource."
        );
    }
    let name = set.metadata.name.clone().unwrap_or_default();
    if a.dry_run {
        let text = match a.output {
            None | Some(CreateOutput::Yaml) => super::to_yaml(&manifest(&set))?,
            Some(CreateOutput::Json) => super::to_json(&manifest(&set))?,
            Some(CreateOutput::Name) => format!("{ACTIONSET_RESOURCE}/{name}\n"),
        };
        out(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let api: Api<ActionSet> = Api::namespaced(c.client(), &c.namespace);
    let mut created = api
        .create(&PostParams::default(), &set)
        .await
        .map_err(|e| {
            ClusterError::api(
                format!("cannot create ActionSet {}/{name}", c.namespace),
                &e,
            )
        })?;
    created.metadata.managed_fields = None;
    let name = created.metadata.name.clone().unwrap_or(name);
    let text = match a.output {
        None => format!("actionset {name} created\n"),
        Some(CreateOutput::Name) => format!("{ACTIONSET_RESOURCE}/{name}\n"),
        Some(CreateOutput::Yaml) => super::to_yaml(&created)?,
        Some(CreateOutput::Json) => super::to_json(&created)?,
    };
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------
// get, describe, watch, delete

const TYPES: &[&str] = &[
    "actionset",
    "actionsets",
    ACTIONSET_RESOURCE,
    "actionsets.cr.kanister.io",
];

fn not_found_line(name: &str) -> String {
    format!("Error from server (NotFound): actionsets.cr.kanister.io {name:?} not found")
}

async fn get(a: &GetArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    if a.all_namespaces && !a.names.is_empty() {
        return Err(ClusterError::usage(
            "an ActionSet cannot be retrieved by name across all namespaces",
            Some("drop -A, or name the namespace with -n"),
        ));
    }
    let mut code = ExitCode::SUCCESS;
    let mut sets: Vec<ActionSet> = Vec::new();
    let api: Api<ActionSet> = if a.all_namespaces {
        Api::all(c.client())
    } else {
        Api::namespaced(c.client(), &c.namespace)
    };
    if a.names.is_empty() {
        let mut lp = ListParams::default();
        if let Some(s) = &a.selector {
            lp = lp.labels(s);
        }
        sets = api
            .list(&lp)
            .await
            .map_err(|e| ClusterError::api("cannot list ActionSets", &e))?
            .items;
    } else {
        for n in &a.names {
            let n = super::strip_type(n, TYPES);
            match api.get_opt(n).await {
                Ok(Some(s)) => sets.push(s),
                Ok(None) => {
                    eprintln!("{}", not_found_line(n));
                    code = ExitCode::from(1);
                }
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("cannot get ActionSet {}/{n}", c.namespace),
                        &e,
                    ));
                }
            }
        }
    }
    for s in &mut sets {
        s.metadata.managed_fields = None;
    }
    let single = a.names.len() == 1 && sets.len() == 1;
    let text = match a.output {
        None | Some(GetOutput::Wide) => {
            if sets.is_empty() {
                if a.names.is_empty() {
                    if a.all_namespaces {
                        eprintln!("No resources found");
                    } else {
                        eprintln!("No resources found in {} namespace.", c.namespace);
                    }
                }
                String::new()
            } else {
                table::actionsets(
                    &sets,
                    table::Columns {
                        namespace: a.all_namespaces,
                        wide: a.output == Some(GetOutput::Wide),
                    },
                    Utc::now(),
                )
            }
        }
        Some(GetOutput::Name) => sets
            .iter()
            .map(|s| {
                format!(
                    "{ACTIONSET_RESOURCE}/{}\n",
                    s.metadata.name.clone().unwrap_or_default()
                )
            })
            .collect(),
        Some(f @ (GetOutput::Yaml | GetOutput::Json)) => {
            let doc = if single {
                serde_json::to_value(&sets[0]).unwrap_or_default()
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": sets, "metadata": {"resourceVersion": ""}})
            };
            if f == GetOutput::Yaml {
                super::to_yaml(&doc)?
            } else {
                super::to_json(&doc)?
            }
        }
    };
    out(&text)?;
    Ok(code)
}

/// The text of `describe` for one ActionSet and its events.
pub fn describe_text(set: &ActionSet, events: &[Event], now: chrono::DateTime<Utc>) -> String {
    let mut s = String::new();
    let m = &set.metadata;
    let line =
        |s: &mut String, k: &str, v: &str| s.push_str(&format!("{:<14}{v}\n", format!("{k}:")));
    let map_text = |m: &BTreeMap<String, String>| -> String {
        if m.is_empty() {
            "<none>".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    line(&mut s, "Name", m.name.as_deref().unwrap_or_default());
    line(
        &mut s,
        "Namespace",
        m.namespace.as_deref().unwrap_or_default(),
    );
    line(
        &mut s,
        "Labels",
        &map_text(&m.labels.clone().unwrap_or_default()),
    );
    let created = m
        .creation_timestamp
        .as_ref()
        .and_then(|t| table::chrono_time(&t.0));
    line(
        &mut s,
        "Created",
        &created
            .map(|t| {
                format!(
                    "{} ({} ago)",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    table::age(Some(t), now)
                )
            })
            .unwrap_or_else(|| "<unknown>".into()),
    );
    let status = set.status.as_ref();
    line(
        &mut s,
        "State",
        status
            .map(|st| state_name(st.state))
            .unwrap_or("<not started: no controller has seen it>"),
    );
    if let Some(st) = status {
        if !st.error.message.is_empty() {
            line(&mut s, "Error", &st.error.message);
        }
        let p = &st.progress;
        let mut prog = Vec::new();
        if !p.percent_completed.is_empty() {
            prog.push(table::progress(set));
        }
        if !p.running_phase.is_empty() {
            prog.push(format!("running phase {}", p.running_phase));
        }
        prog.extend(sizes(
            p.size_uploaded_b,
            p.estimated_upload_size_b,
            p.size_downloaded_b,
            p.estimated_download_size_b,
        ));
        if let Some(t) = &p.last_transition_time {
            prog.push(format!(
                "last transition {} ago",
                table::age(table::chrono_time(&t.0), now)
            ));
        }
        if !prog.is_empty() {
            line(&mut s, "Progress", &prog.join(", "));
        }
        if !st.conditions.is_empty() {
            s.push_str("Conditions:\n");
            for c in &st.conditions {
                let mut text = format!("  {}={} ({})", c.type_, c.status, c.reason);
                if !c.message.is_empty() && c.message != st.error.message {
                    text.push_str(&format!(": {}", c.message));
                }
                text.push_str(&format!(
                    ", {} ago\n",
                    table::age(table::chrono_time(&c.last_transition_time.0), now)
                ));
                s.push_str(&text);
            }
        }
    }
    s.push_str("Actions:\n");
    let failed_phase = status
        .filter(|st| st.state == State::Failed)
        .map(|st| st.error.message.clone());
    for (i, spec) in set.spec.actions.iter().enumerate() {
        let st = status.and_then(|x| x.actions.get(i));
        s.push_str(&format!(
            "  {} ({} of {}):\n",
            spec.name,
            i + 1,
            set.spec.actions.len()
        ));
        let l2 = |s: &mut String, k: &str, v: &str| {
            s.push_str(&format!("    {:<18}{v}\n", format!("{k}:")))
        };
        l2(&mut s, "Object", &object_label(&spec.object));
        l2(&mut s, "Blueprint", &spec.blueprint);
        if let Some(p) = &spec.profile {
            l2(
                &mut s,
                "Profile",
                &if p.namespace.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}/{}", p.namespace, p.name)
                },
            );
        }
        let refs = |m: &BTreeMap<String, ObjectReference>| {
            m.iter()
                .map(|(k, r)| format!("{k}={}/{}", r.namespace, r.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !spec.secrets.is_empty() {
            l2(&mut s, "Secrets", &refs(&spec.secrets));
        }
        if !spec.config_maps.is_empty() {
            l2(&mut s, "ConfigMaps", &refs(&spec.config_maps));
        }
        if !spec.options.is_empty() {
            l2(&mut s, "Options", &map_text(&spec.options));
        }
        if !spec.preferred_version.is_empty() {
            l2(&mut s, "PreferredVersion", &spec.preferred_version);
        }
        if !spec.artifacts.is_empty() {
            s.push_str("    Input artifacts:\n");
            for (k, a) in &spec.artifacts {
                s.push_str(&format!("      {k}: {}\n", artifact_text(a)));
            }
        }
        let Some(st) = st else {
            continue;
        };
        s.push_str("    Phases:\n");
        let phase_line = |s: &mut String, p: &Phase, defer: bool| {
            let mut l = format!(
                "      {:<24}{}",
                if defer {
                    format!("{} (defer)", p.name)
                } else {
                    p.name.clone()
                },
                state_name(p.state)
            );
            let pr = phase_progress(p);
            if !pr.is_empty() {
                l.push_str(&format!("  ({pr})"));
            }
            s.push_str(l.trim_end());
            s.push('\n');
            if p.state == State::Failed
                && let Some(e) = failed_phase.as_deref().filter(|e| !e.is_empty())
            {
                s.push_str(&format!("        error: {e}\n"));
            }
            if let Some(o) = p.output.as_ref().filter(|o| !o.is_empty()) {
                let text = o
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                s.push_str(&format!("        output: {text}\n"));
            }
        };
        if st.phases.is_empty() {
            s.push_str("      <none>\n");
        }
        for p in &st.phases {
            phase_line(&mut s, p, false);
        }
        if let Some(d) = &st.defer_phase {
            s.push_str("    Defer phase:\n");
            phase_line(&mut s, d, true);
        }
        if !st.artifacts.is_empty() {
            s.push_str(&format!(
                "    Artifacts{}:\n",
                if status.is_some_and(|x| x.state == State::Complete) {
                    ""
                } else {
                    " (templates until complete)"
                }
            ));
            for (k, a) in &st.artifacts {
                s.push_str(&format!("      {k}: {}\n", artifact_text(a)));
            }
        }
    }
    s.push_str("Events:");
    if events.is_empty() {
        s.push_str("  <none>\n");
        return s;
    }
    s.push('\n');
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let last = event_time(e);
            let mut age = table::age(last, now);
            let count = e
                .series
                .as_ref()
                .and_then(|x| x.count)
                .or(e.count)
                .unwrap_or(1);
            if count > 1 {
                let first = e
                    .first_timestamp
                    .as_ref()
                    .and_then(|t| table::chrono_time(&t.0))
                    .or(e.event_time.as_ref().and_then(|t| table::chrono_time(&t.0)));
                age = format!("{age} (x{count} over {})", table::age(first, now));
            }
            vec![
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                age,
                e.reporting_component
                    .clone()
                    .filter(|x| !x.is_empty())
                    .or_else(|| e.source.as_ref().and_then(|x| x.component.clone()))
                    .unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let t = table::render(&["Type", "Reason", "Age", "From", "Message"], &{
        let mut r = vec![
            ["----", "------", "----", "----", "-------"]
                .iter()
                .map(|x| x.to_string())
                .collect(),
        ];
        r.extend(rows);
        r
    });
    for l in t.lines() {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// When an event last happened.
fn event_time(e: &Event) -> Option<chrono::DateTime<Utc>> {
    let t = |x: Option<&k8s_openapi::jiff::Timestamp>| x.and_then(table::chrono_time);
    t(e.series
        .as_ref()
        .and_then(|x| x.last_observed_time.as_ref())
        .map(|m| &m.0))
    .or(t(e.last_timestamp.as_ref().map(|x| &x.0)))
    .or(t(e.event_time.as_ref().map(|x| &x.0)))
    .or(t(e.first_timestamp.as_ref().map(|x| &x.0)))
}

fn artifact_text(a: &kapsel_api::Artifact) -> String {
    let mut parts: Vec<String> = a
        .key_value
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !a.kopia_snapshot.is_empty() {
        parts.push(format!("kopiaSnapshot={}", a.kopia_snapshot));
    }
    parts.join(", ")
}

/// `uploaded 1.2 GiB of 3.0 GiB`-style texts of a progress.
fn sizes(up: i64, up_est: i64, down: i64, down_est: i64) -> Vec<String> {
    let mut v = Vec::new();
    for (n, est, verb) in [(up, up_est, "uploaded"), (down, down_est, "downloaded")] {
        if n > 0 || est > 0 {
            if est > 0 {
                v.push(format!(
                    "{} of {} {verb}",
                    table::bytes(n),
                    table::bytes(est)
                ));
            } else {
                v.push(format!("{} {verb}", table::bytes(n)));
            }
        }
    }
    v
}

/// A phase's progress as text (`45%, 1.0 GiB of 2.0 GiB uploaded`), empty
/// when it has none.
pub fn phase_progress(p: &Phase) -> String {
    let pr = &p.progress;
    let mut v = Vec::new();
    let pct = pr.progress_percent.trim();
    if !pct.is_empty() {
        v.push(if pct.ends_with('%') {
            pct.to_string()
        } else {
            format!("{pct}%")
        });
    }
    v.extend(sizes(
        pr.size_uploaded_b,
        pr.estimated_upload_size_b,
        pr.size_downloaded_b,
        pr.estimated_download_size_b,
    ));
    v.join(", ")
}

async fn events_of(c: &Cluster, set: &ActionSet) -> Vec<Event> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let name = set.metadata.name.clone().unwrap_or_default();
    let mut fields = format!("involvedObject.name={name}");
    if let Some(uid) = &set.metadata.uid {
        fields.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let api: Api<Event> = Api::namespaced(c.client(), &ns);
    let mut events = match api.list(&ListParams::default().fields(&fields)).await {
        Ok(l) => l.items,
        Err(e) => {
            eprintln!(
                "warning: cannot list the events of ActionSet {ns}/{name}: {}",
                super::api_message(&e)
            );
            Vec::new()
        }
    };
    events.sort_by_key(event_time);
    events
}

async fn describe(a: &DescribeArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    let api: Api<ActionSet> = Api::namespaced(c.client(), &c.namespace);
    let mut code = ExitCode::SUCCESS;
    let mut first = true;
    for n in &a.names {
        let n = super::strip_type(n, TYPES);
        match api.get_opt(n).await {
            Ok(Some(set)) => {
                let events = events_of(&c, &set).await;
                if !first {
                    out("\n\n")?;
                }
                first = false;
                out(&describe_text(&set, &events, Utc::now()))?;
            }
            Ok(None) => {
                eprintln!("{}", not_found_line(n));
                code = ExitCode::from(1);
            }
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot get ActionSet {}/{n}", c.namespace),
                    &e,
                ));
            }
        }
    }
    Ok(code)
}

async fn delete(a: &DeleteArgs) -> Result<ExitCode, ClusterError> {
    if a.names.is_empty() && !a.all {
        return Err(ClusterError::usage(
            "which ActionSets? name them, or pass --all",
            Some(
                "kapsel actionset delete NAME... [-n NAMESPACE], or --all for every ActionSet in the namespace",
            ),
        ));
    }
    let c = Cluster::connect(&a.conn).await?;
    let api: Api<ActionSet> = Api::namespaced(c.client(), &c.namespace);
    let names: Vec<String> = if a.all {
        api.list(&ListParams::default())
            .await
            .map_err(|e| ClusterError::api("cannot list ActionSets", &e))?
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect()
    } else {
        a.names
            .iter()
            .map(|n| super::strip_type(n, TYPES).to_string())
            .collect()
    };
    if names.is_empty() {
        eprintln!("No resources found");
    }
    let mut code = ExitCode::SUCCESS;
    for n in names {
        match api.delete(&n, &DeleteParams::default()).await {
            Ok(_) => out(&format!("{ACTIONSET_RESOURCE} {n:?} deleted\n"))?,
            Err(e) if is_not_found(&e) => {
                eprintln!("{}", not_found_line(&n));
                code = ExitCode::from(1);
            }
            Err(e) => {
                return Err(ClusterError::api(
                    format!("cannot delete ActionSet {}/{n}", c.namespace),
                    &e,
                ));
            }
        }
    }
    Ok(code)
}

/// What `watch` has seen of an ActionSet, and the lines for a new version.
#[derive(Debug, Default)]
pub struct Watcher {
    seen_state: Option<State>,
    phases: BTreeMap<(usize, String), (State, String)>,
}

/// A line of `watch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchLine {
    /// Print it.
    Say(String),
    /// The running phase's progress (the live view's bar; plain output
    /// prints it as a line).
    Progress {
        /// `action/phase`.
        what: String,
        /// Its percent, when known.
        percent: Option<u64>,
        /// The text.
        text: String,
    },
}

impl Watcher {
    /// The lines for a new version of the ActionSet.
    pub fn update(&mut self, set: &ActionSet) -> Vec<WatchLine> {
        let mut lines = Vec::new();
        let name = set.metadata.name.clone().unwrap_or_default();
        let state = set.status.as_ref().map(|s| s.state);
        if self.seen_state.is_none() && state.is_none() {
            lines.push(WatchLine::Say(format!(
                "actionset {name}: not started yet (waiting for a controller)"
            )));
            self.seen_state = Some(State::Pending);
        }
        let Some(status) = &set.status else {
            return lines;
        };
        if self.seen_state != Some(status.state)
            && !matches!(status.state, State::Complete | State::Failed)
        {
            lines.push(WatchLine::Say(format!(
                "actionset {name}: {}",
                state_name(status.state)
            )));
        }
        for (i, a) in status.actions.iter().enumerate() {
            for p in a.phases.iter().chain(a.defer_phase.iter()) {
                let key = (i, p.name.clone());
                let pr = phase_progress(p);
                let prev = self.phases.get(&key).cloned();
                let changed_state = prev.as_ref().map(|(s, _)| *s) != Some(p.state);
                if changed_state && !(prev.is_none() && p.state == State::Pending) {
                    let mut l = format!("{} {}: {}", a.name, p.name, state_name(p.state));
                    if !pr.is_empty() && p.state != State::Pending {
                        l.push_str(&format!(" ({pr})"));
                    }
                    lines.push(WatchLine::Say(l));
                } else if p.state == State::Running
                    && prev.as_ref().map(|(_, x)| x) != Some(&pr)
                    && !pr.is_empty()
                {
                    let percent = p
                        .progress
                        .progress_percent
                        .trim()
                        .trim_end_matches('%')
                        .parse::<f64>()
                        .ok()
                        .map(|x| x.clamp(0.0, 100.0) as u64);
                    lines.push(WatchLine::Progress {
                        what: format!("{} {}", a.name, p.name),
                        percent,
                        text: pr.clone(),
                    });
                }
                self.phases.insert(key, (p.state, pr));
            }
        }
        match status.state {
            State::Complete if self.seen_state != Some(State::Complete) => {
                let arts: Vec<&str> = status
                    .actions
                    .iter()
                    .flat_map(|a| a.artifacts.keys().map(String::as_str))
                    .collect();
                let mut l = format!("actionset {name}: complete");
                if !arts.is_empty() {
                    l.push_str(&format!(" (artifacts: {})", arts.join(", ")));
                }
                lines.push(WatchLine::Say(l));
            }
            State::Failed if self.seen_state != Some(State::Failed) => {
                lines.push(WatchLine::Say(format!("actionset {name}: failed")));
            }
            _ => {}
        }
        self.seen_state = Some(status.state);
        lines
    }
}

/// Where `watch` prints: a live spinner on a terminal, plain lines
/// otherwise.
enum Sink {
    Live(indicatif::ProgressBar),
    Plain,
}

impl Sink {
    /// A spinner with the latest line and the time watched.
    const SPIN: &str = "{spinner} {msg} ({elapsed})";
    /// A bar, once a phase reports a percentage.
    const BAR: &str = "{spinner} {msg} {wide_bar} {pos:>3}%";

    fn new() -> Sink {
        if std::io::stdout().is_terminal() {
            let pb = indicatif::ProgressBar::new(100);
            pb.set_style(Sink::style(Sink::SPIN));
            pb.enable_steady_tick(Duration::from_millis(120));
            Sink::Live(pb)
        } else {
            Sink::Plain
        }
    }

    fn style(template: &str) -> indicatif::ProgressStyle {
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
    }

    fn emit(&self, l: WatchLine) -> Result<(), ClusterError> {
        match (self, l) {
            (Sink::Live(pb), WatchLine::Say(s)) => {
                pb.println(&s);
                // A new phase state: back to the spinner until it reports
                // a percentage.
                pb.set_style(Sink::style(Sink::SPIN));
                pb.set_message(s);
                Ok(())
            }
            (
                Sink::Live(pb),
                WatchLine::Progress {
                    what,
                    percent,
                    text,
                },
            ) => {
                if let Some(p) = percent {
                    pb.set_style(Sink::style(Sink::BAR));
                    pb.set_position(p);
                }
                pb.set_message(format!("{what}: {text}"));
                Ok(())
            }
            (Sink::Plain, WatchLine::Say(s)) => out(&format!("{s}\n")),
            (Sink::Plain, WatchLine::Progress { what, text, .. }) => {
                out(&format!("{what}: {text}\n"))
            }
        }
    }

    fn finish(&self) {
        if let Sink::Live(pb) = self {
            pb.finish_and_clear();
        }
    }
}

async fn watch(a: &WatchArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    let name = super::strip_type(&a.name, TYPES).to_string();
    let api: Api<ActionSet> = Api::namespaced(c.client(), &c.namespace);
    if api
        .get_opt(&name)
        .await
        .map_err(|e| ClusterError::api(format!("cannot get ActionSet {}/{name}", c.namespace), &e))?
        .is_none()
    {
        return Err(ClusterError::invalid(
            format!(
                "ActionSet {name:?} not found in namespace {:?}",
                c.namespace
            ),
            Some("list them with `kapsel actionset get`"),
        ));
    }
    let sink = Sink::new();
    let mut w = Watcher::default();
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(api, cfg).boxed();
    let deadline = a.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last_state = None;
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, stream.next()).await {
                Ok(n) => n,
                Err(_) => {
                    sink.finish();
                    return Err(ClusterError::Api {
                        what: format!("ActionSet {}/{name}", c.namespace),
                        message: format!(
                            "still {} after {:?} (--timeout); it goes on",
                            last_state.map(state_name).unwrap_or("not started"),
                            a.timeout.unwrap_or_default()
                        ),
                        help: Some(format!(
                            "watch it again: kapsel actionset watch {name} -n {}",
                            c.namespace
                        )),
                    });
                }
            },
            None => stream.next().await,
        };
        let set = match next {
            None => {
                sink.finish();
                return Err(ClusterError::Api {
                    what: format!("watching ActionSet {}/{name}", c.namespace),
                    message: "the watch ended".to_string(),
                    help: None,
                });
            }
            Some(Err(e)) => {
                // The watcher re-lists and goes on after errors; say so
                // only in the log.
                tracing::debug!("watch error: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Some(Ok(watcher::Event::Delete(_))) => {
                sink.finish();
                return Err(ClusterError::invalid(
                    format!(
                        "ActionSet {}/{name} was deleted while being watched",
                        c.namespace
                    ),
                    None,
                ));
            }
            Some(Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s))) => s,
            Some(Ok(_)) => continue,
        };
        for l in w.update(&set) {
            sink.emit(l)?;
        }
        let Some(status) = &set.status else {
            continue;
        };
        last_state = Some(status.state);
        match status.state {
            State::Complete => {
                sink.finish();
                return Ok(ExitCode::SUCCESS);
            }
            State::Failed => {
                sink.finish();
                eprintln!(
                    "Error: ActionSet {}/{name} failed: {}",
                    c.namespace, status.error.message
                );
                return Ok(ExitCode::from(1));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        f: ActionSetFlags,
    }

    fn flags(args: &[&str]) -> ActionSetFlags {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .f
    }

    #[test]
    fn kanctl_flags_build_one_action_per_object() {
        let f = flags(&[
            "-a",
            "backup",
            "-b",
            "time-log-bp",
            "-p",
            "s3-profile",
            "-d",
            "app/time-logger,app/other",
            "-t",
            "db/pg",
            "-v",
            "db/data-pg-0",
            "-T",
            "team-a",
            "-O",
            "apps/v1/daemonsets/kube-system/agent",
            "-s",
            "creds=db/pg-secret",
            "-c",
            "cfg=db/pg-config",
            "-o",
            "database=shop,mode=full",
            "--labels",
            "team = a, tier=db",
            "--podlabels",
            "app=backup",
            "--podannotations",
            "example.com/owner=ops",
        ]);
        let p = Params::from_flags(&f, "kanister").unwrap();
        let set = p.new_actionset("x7k2p").unwrap();
        insta::assert_yaml_snapshot!("create_dry_run", manifest(&set));
    }

    #[test]
    fn dry_run_yaml_is_kubectl_applicable() {
        let f = flags(&[
            "-a",
            "backup",
            "-b",
            "bp",
            "-d",
            "ns/app",
            "-A",
            "my-backup",
        ]);
        let set = Params::from_flags(&f, "kanister")
            .unwrap()
            .new_actionset("zzzzz")
            .unwrap();
        insta::assert_snapshot!(
            "create_dry_run_text",
            super::super::to_yaml(&manifest(&set)).unwrap()
        );
    }

    #[test]
    fn names_follow_kanctl() {
        let mut p = Params {
            action: Some("restore".into()),
            parent: Some("backup-abcde".into()),
            ..Params::default()
        };
        assert_eq!(
            p.generate_name("q2w4r").unwrap(),
            "restore-backup-abcde-q2w4r"
        );
        p.action = None;
        assert_eq!(p.generate_name("q2w4r").unwrap(), "backup-abcde-q2w4r");
        p.parent = None;
        assert!(p.generate_name("q2w4r").is_err());
        p.action = Some("backup".into());
        assert_eq!(p.generate_name("q2w4r").unwrap(), "backup-q2w4r");
        p.name = Some("mine".into());
        assert_eq!(p.generate_name("q2w4r").unwrap(), "mine");
        let s = super::super::rand_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(
            s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{s}"
        );
    }

    #[test]
    fn bad_flags_say_what_to_write() {
        for (args, want) in [
            (
                vec!["-d", "just-a-name"],
                "--deployment \"just-a-name\": expected NAMESPACE/NAME",
            ),
            (
                vec!["-s", "creds"],
                "--secrets \"creds\": expected REF=NAMESPACE/NAME",
            ),
            (
                vec!["-o", "novalue"],
                "--options \"novalue\": expected KEY=VALUE",
            ),
            (
                vec!["-O", "deployments/app"],
                "--objects \"deployments/app\": expected GROUP/VERSION/RESOURCE/NAMESPACE/NAME",
            ),
            (
                vec!["-p", "a/b/c"],
                "--profile \"a/b/c\": expected NAME or NAMESPACE/NAME",
            ),
            (
                vec!["--podlabels", "bad key=x"],
                "--podlabels key \"bad key\" is not a valid key",
            ),
        ] {
            let e = Params::from_flags(&flags(&args), "ns").unwrap_err();
            assert!(e.to_string().contains(want), "{args:?}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        let p = Params::from_flags(&flags(&["-b", "bp", "-d", "a/b"]), "ns").unwrap();
        assert!(
            p.new_actionset("x")
                .unwrap_err()
                .to_string()
                .contains("--action is required")
        );
        let p = Params::from_flags(&flags(&["-a", "backup", "-b", "bp"]), "ns").unwrap();
        assert!(
            p.new_actionset("x")
                .unwrap_err()
                .to_string()
                .contains("no objects")
        );
    }

    fn parent() -> ActionSet {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
            "metadata": {"name": "backup-abcde", "namespace": "kanister"},
            "spec": {"actions": [{"name": "backup", "blueprint": "time-log-bp",
                "object": {"kind": "deployment", "namespace": "app", "name": "time-logger"},
                "profile": {"name": "s3-profile", "namespace": "kanister"},
                "secrets": {"creds": {"name": "aws", "namespace": "kanister"}},
                "options": {"keep": "parent", "over": "parent"}}]},
            "status": {"state": "complete", "actions": [{"name": "backup", "blueprint": "time-log-bp",
                "object": {"kind": "deployment", "namespace": "app", "name": "time-logger"},
                "phases": [{"name": "backupToS3", "state": "complete"}],
                "artifacts": {"timeLog": {"keyValue": {"path": "bucket/time-log"}}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn from_copies_the_parents_artifacts_and_flags_override() {
        let f = flags(&["-a", "restore", "-f", "backup-abcde", "-o", "over=child"]);
        let p = Params::from_flags(&f, "kanister").unwrap();
        let set = p.child_actionset(&parent(), "q2w4r").unwrap();
        insta::assert_yaml_snapshot!("create_from_parent", manifest(&set));

        let f = flags(&[
            "-a",
            "restore",
            "-f",
            "backup-abcde",
            "-d",
            "app/a,app/b",
            "-p",
            "other",
        ]);
        let set = Params::from_flags(&f, "kanister")
            .unwrap()
            .child_actionset(&parent(), "q")
            .unwrap();
        assert_eq!(set.spec.actions.len(), 2);
        assert_eq!(set.spec.actions[1].object.name, "b");
        assert_eq!(set.spec.actions[1].profile.as_ref().unwrap().name, "other");
        assert_eq!(
            set.spec.actions[1].artifacts["timeLog"].key_value["path"],
            "bucket/time-log"
        );

        let mut running = parent();
        running.status.as_mut().unwrap().state = State::Running;
        let e = Params::from_flags(&flags(&["-f", "backup-abcde"]), "kanister")
            .unwrap()
            .child_actionset(&running, "q")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("kanister/backup-abcde is running, not complete"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn watch_prints_state_changes_once() {
        let mut set = parent();
        let mut w = Watcher::default();
        {
            let st = set.status.as_mut().unwrap();
            st.state = State::Running;
            st.actions[0].phases[0].state = State::Running;
            st.actions[0].phases[0].progress.progress_percent = "40".into();
            st.actions[0].phases[0].progress.size_uploaded_b = 4 << 20;
        }
        let first = w.update(&set);
        assert_eq!(
            first,
            vec![
                WatchLine::Say("actionset backup-abcde: running".into()),
                WatchLine::Say("backup backupToS3: running (40%, 4.0 MiB uploaded)".into()),
            ]
        );
        assert!(w.update(&set).is_empty(), "no change, no line");
        set.status.as_mut().unwrap().actions[0].phases[0]
            .progress
            .progress_percent = "80".into();
        assert_eq!(
            w.update(&set),
            vec![WatchLine::Progress {
                what: "backup backupToS3".into(),
                percent: Some(80),
                text: "80%, 4.0 MiB uploaded".into()
            }]
        );
        {
            let st = set.status.as_mut().unwrap();
            st.state = State::Complete;
            st.actions[0].phases[0].state = State::Complete;
        }
        assert_eq!(
            w.update(&set),
            vec![
                WatchLine::Say("backup backupToS3: complete (80%, 4.0 MiB uploaded)".into()),
                WatchLine::Say("actionset backup-abcde: complete (artifacts: timeLog)".into()),
            ]
        );
    }

    fn sample_sets() -> Vec<ActionSet> {
        let t = |s: &str| s.parse::<k8s_openapi::jiff::Timestamp>().unwrap();
        let mut done = parent();
        done.metadata.creation_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t("2026-01-01T11:00:00Z")),
        );
        let mut running: ActionSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "restore-backup-abcde-q2w4r", "namespace": "kanister", "creationTimestamp": "2026-01-01T11:58:30Z"},
            "spec": {"actions": [
                {"name": "restore", "blueprint": "time-log-bp", "object": {"kind": "deployment", "namespace": "app", "name": "a"}},
                {"name": "restore", "blueprint": "time-log-bp", "object": {"kind": "deployment", "namespace": "app", "name": "b"}}]},
            "status": {"state": "running", "progress": {"runningPhase": "restoreFromS3", "percentCompleted": "33.33"},
                "actions": [
                {"name": "restore", "phases": [{"name": "shutdownPod", "state": "complete"}, {"name": "restoreFromS3", "state": "running"}]},
                {"name": "restore", "phases": [{"name": "shutdownPod", "state": "running"}]}]}
        }))
        .unwrap();
        running.metadata.labels = None;
        let new: ActionSet = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "delete-zz", "namespace": "other", "creationTimestamp": "2025-12-20T12:00:00Z"},
            "spec": {"actions": [{"name": "delete", "blueprint": "bp", "object": {"apiVersion": "v1", "resource": "configmaps", "namespace": "x", "name": "c"}}]}
        }))
        .unwrap();
        let mut failed = parent();
        failed.metadata.name = Some("backup-failed".into());
        failed.metadata.creation_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t("2026-01-01T09:00:00Z")),
        );
        {
            let st = failed.status.as_mut().unwrap();
            st.state = State::Failed;
            st.actions[0].phases[0].state = State::Failed;
            st.error.message = "Failed to execute phase backupToS3: exit 1".into();
            let cond = |type_: &str, status: &str, reason: &str, message: &str| {
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                    type_: type_.into(),
                    status: status.into(),
                    reason: reason.into(),
                    message: message.into(),
                    last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(
                        "2026-01-01T11:59:00Z",
                    )),
                    observed_generation: Some(1),
                }
            };
            st.conditions = vec![
                cond("Running", "False", "Failed", &st.error.message),
                cond("Failed", "True", "Failed", &st.error.message),
            ];
        }
        vec![done, running, new, failed]
    }

    fn noon() -> chrono::DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn get_table() {
        let sets = sample_sets();
        let plain = table::actionsets(
            &sets,
            table::Columns {
                namespace: false,
                wide: false,
            },
            noon(),
        );
        let all = table::actionsets(
            &sets,
            table::Columns {
                namespace: true,
                wide: true,
            },
            noon(),
        );
        insta::assert_snapshot!("get_table", format!("{plain}\n-A -o wide:\n{all}"));
    }

    #[test]
    fn describe_output() {
        let sets = sample_sets();
        let ev: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e1"}, "involvedObject": {"name": "backup-failed"},
            "type": "Warning", "reason": "ActionSetFailed Action: backup", "reportingComponent": "kapsel-controller",
            "message": "Failed to execute phase: exit 1", "eventTime": "2026-01-01T11:59:00.000000Z"
        }))
        .unwrap();
        let text = describe_text(&sets[3], &[ev], noon());
        let text2 = describe_text(&sets[1], &[], noon());
        insta::assert_snapshot!("describe", format!("{text}\n---\n{text2}"));
    }
}
