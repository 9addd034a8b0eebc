//! The local platform: runs Blueprint functions against applications on this
//! host, with no cluster. An [`inventory::Inventory`] maps each Kubernetes-style
//! object (kind, namespace, name, labels) to local processes: environment,
//! working directory, volumes (directories), Secrets (from files, environment
//! or literal values) and how to stop, start and probe it.
//!
//! - `KubeExec` runs the command in the workload's context (its environment and
//!   working directory).
//! - `KubeTask` runs the command in a fresh scratch directory; the `image` is
//!   recorded, not pulled: the tools must be on this host. The inventory's
//!   `images` say what an image stands for (`PATH` directories, environment).
//! - `kando` is on `PATH` for both, so `kando output` and `kando location`
//!   behave as in a pod.
//! - `hostAliases` (the inventory's, and a workload's for its pods) give a
//!   command its own `/etc/hosts` in a private mount namespace ([`hosts`]).
//!
//! Every command runs in its own process group; a phase that times out or is
//! cancelled has its whole group killed.

mod hosts;
pub mod inventory;
mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kapsel_engine::{
    BoxFuture, ExecSpec, Exit, MultiContainerSpec, OutputSink, Platform, PlatformError, ScaleSpec,
    Stream, TaskSpec, VolumeMount,
};
use kapsel_params::file::{ProfileParams, Workload as WorkloadParams};

use crate::hosts::Isolation;
use crate::inventory::{HostAlias, ImageTools, Inventory, SecretSource, Workload};

/// Why the inventory or a lookup in it fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The inventory file cannot be read or parsed.
    #[error("inventory {path}: {message}")]
    Inventory {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A secret value cannot be read.
    #[error("secret {namespace}/{name} key {key}: {message}")]
    SecretValue {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Key.
        key: String,
        /// Why.
        message: String,
    },
    /// The object is not in the inventory.
    #[error("{kind} {namespace}/{name} is not in the inventory{hint}")]
    NoObject {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Known objects.
        hint: String,
    },
    /// The Profile cannot be resolved.
    #[error("profile: {0}")]
    Profile(String),
}

/// The local platform.
#[derive(Debug, Clone)]
pub struct LocalPlatform {
    inventory: Inventory,
    /// Relative paths in the inventory are relative to this directory.
    base: PathBuf,
    /// Prepended to `PATH` (inventory paths and the directory of `kando`).
    path_prefix: Vec<PathBuf>,
}

impl LocalPlatform {
    /// A platform for an inventory whose relative paths are relative to `base`,
    /// with `tool_dirs` (e.g. the directory of `kando`) on every command's
    /// `PATH`.
    pub fn new(inventory: Inventory, base: &Path, tool_dirs: Vec<PathBuf>) -> LocalPlatform {
        let mut path_prefix: Vec<PathBuf> = inventory.path.iter().map(|p| base.join(p)).collect();
        path_prefix.extend(tool_dirs);
        LocalPlatform {
            inventory,
            base: base.to_path_buf(),
            path_prefix,
        }
    }

    /// Reads an inventory file (YAML or JSON).
    pub fn load(path: &Path, tool_dirs: Vec<PathBuf>) -> Result<LocalPlatform, LocalError> {
        let err = |message: String| LocalError::Inventory {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let inv: Inventory = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        inv.check().map_err(err)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(LocalPlatform::new(inv, &base, tool_dirs))
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    fn workload(&self, kind: &str, namespace: &str, name: &str) -> Result<&Workload, LocalError> {
        self.inventory
            .objects
            .iter()
            .find(|w| {
                w.kind.eq_ignore_ascii_case(kind) && w.namespace == namespace && w.name == name
            })
            .ok_or_else(|| LocalError::NoObject {
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                hint: known(
                    self.inventory
                        .objects
                        .iter()
                        .map(|w| format!("{}/{}/{}", w.kind, w.namespace, w.name)),
                ),
            })
    }

    /// The render parameters of an action on `kind/namespace/name` before any
    /// phase ran: `.Object`, the workload's pods and volumes. The caller adds
    /// the ActionSet's Secrets, Profile, artifacts, options and time.
    pub fn object_params(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<kapsel_params::RenderParams, LocalError> {
        let mut p = kapsel_params::RenderParams::default();
        if kind.eq_ignore_ascii_case("namespace") {
            p.object = Some(
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            );
            return Ok(p);
        }
        let w = self.workload(kind, namespace, name)?;
        let mut object = serde_json::json!({
            "apiVersion": api_version(&w.kind),
            "kind": w.kind,
            "metadata": {"name": w.name, "namespace": w.namespace, "labels": w.labels, "annotations": w.annotations},
        });
        if let (Some(extra), Some(obj)) = (&w.object, object.as_object_mut()) {
            for (k, v) in extra {
                merge(obj.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        p.object = object.as_object().cloned();
        let pods = w.pods();
        let workload_kind = matches!(
            w.kind.to_ascii_lowercase().as_str(),
            "statefulset" | "deployment" | "deploymentconfig"
        );
        if workload_kind {
            let volumes: BTreeMap<String, String> = w
                .volumes
                .iter()
                .map(|(claim, dir)| (claim.clone(), self.base.join(dir).display().to_string()))
                .collect();
            p.workload = Some(WorkloadParams {
                pods: Some(pods.iter().map(|p| p.name.clone()).collect()),
                containers: Some(pods.iter().map(|p| Some(p.containers.clone())).collect()),
                persistent_volume_claims: Some(
                    pods.iter()
                        .filter(|_| !volumes.is_empty())
                        .map(|p| (p.name.clone(), volumes.clone()))
                        .collect(),
                ),
            });
        }
        Ok(p)
    }

    fn secret_value(
        &self,
        e: &inventory::SecretEntry,
        key: &str,
        src: &SecretSource,
    ) -> Result<Vec<u8>, LocalError> {
        let err = |message: String| LocalError::SecretValue {
            namespace: e.namespace.clone(),
            name: e.name.clone(),
            key: key.to_string(),
            message,
        };
        match src {
            SecretSource::File(f) => {
                let path = self.base.join(f);
                std::fs::read(&path)
                    .map_err(|x| err(format!("cannot read {}: {x}", path.display())))
            }
            SecretSource::Env(v) => std::env::var(v)
                .map(String::into_bytes)
                .map_err(|_| err(format!("environment variable {v} is not set"))),
            SecretSource::Value(v) => Ok(v.clone().into_bytes()),
        }
    }

    /// Reads a Secret from the inventory.
    pub fn get_secret(&self, namespace: &str, name: &str) -> Result<Secret, LocalError> {
        let e = self
            .inventory
            .secrets
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
            .ok_or_else(|| LocalError::NoObject {
                kind: "Secret".to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                hint: known(
                    self.inventory
                        .secrets
                        .iter()
                        .map(|s| format!("{}/{}", s.namespace, s.name)),
                ),
            })?;
        let mut data = BTreeMap::new();
        for (k, src) in &e.data {
            data.insert(k.clone(), ByteString(self.secret_value(e, k, src)?));
        }
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(e.name.clone()),
                namespace: Some(e.namespace.clone()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            type_: Some(e.type_.clone().unwrap_or_else(|| "Opaque".to_string())),
            ..Secret::default()
        })
    }

    /// Reads a ConfigMap from the inventory.
    pub fn get_config_map(&self, namespace: &str, name: &str) -> Result<ConfigMap, LocalError> {
        let c = self
            .inventory
            .config_maps
            .iter()
            .find(|c| c.namespace == namespace && c.name == name)
            .ok_or_else(|| LocalError::NoObject {
                kind: "ConfigMap".to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                hint: known(
                    self.inventory
                        .config_maps
                        .iter()
                        .map(|c| format!("{}/{}", c.namespace, c.name)),
                ),
            })?;
        Ok(ConfigMap {
            metadata: ObjectMeta {
                name: Some(c.name.clone()),
                namespace: Some(c.namespace.clone()),
                ..ObjectMeta::default()
            },
            data: Some(c.data.clone()),
            ..ConfigMap::default()
        })
    }

    /// Resolves a Kanister Profile's credential through the inventory's
    /// Secrets, as Kanister's controller does (`.Profile` holds plaintext).
    pub fn resolve_profile(
        &self,
        profile: &kapsel_api::Profile,
    ) -> Result<ProfileParams, LocalError> {
        kapsel_params::profile::resolve_profile(profile, |ns, name| self.get_secret(ns, name))
            .map_err(|e| match e {
                kapsel_params::profile::ResolveError::Secret(e) => e,
                kapsel_params::profile::ResolveError::Profile(m) => LocalError::Profile(m),
            })
    }

    /// The directory of a claim: the first workload of `namespace` that
    /// lists it in `volumes`.
    fn claim_dir(&self, namespace: &str, claim: &str) -> Result<PathBuf, PlatformError> {
        self.inventory
            .objects
            .iter()
            .filter(|w| w.namespace == namespace)
            .find_map(|w| w.volumes.get(claim))
            .map(|d| self.base.join(d))
            .ok_or_else(|| PlatformError::NotFound {
                kind: "PersistentVolumeClaim".to_string(),
                namespace: namespace.to_string(),
                name: claim.to_string(),
                hint: known(
                    self.inventory
                        .objects
                        .iter()
                        .filter(|w| w.namespace == namespace)
                        .flat_map(|w| w.volumes.keys().cloned()),
                ),
            })
    }

    /// Makes volumes available to a task: `KAPSEL_VOLUME_<CLAIM>` names the
    /// claim's directory, and `<scratch>/<mount path>` is a symbolic link to
    /// it (mount paths cannot be created on the host).
    fn mount_volumes(
        &self,
        namespace: &str,
        volumes: &[VolumeMount],
        scratch: &Path,
    ) -> Result<BTreeMap<String, String>, PlatformError> {
        let mut env = BTreeMap::new();
        for v in volumes {
            let dir = self.claim_dir(namespace, &v.claim)?;
            env.insert(volume_env(&v.claim), dir.display().to_string());
            let rel = v.mount_path.trim_start_matches('/').trim_end_matches('/');
            if rel.is_empty() || Path::new(&v.mount_path) == dir {
                continue;
            }
            let link = scratch.join(rel);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    PlatformError::Other(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            std::os::unix::fs::symlink(&dir, &link).map_err(|e| {
                PlatformError::Other(format!("cannot link {}: {e}", link.display()))
            })?;
        }
        Ok(env)
    }

    async fn scale_workload(
        &self,
        spec: &ScaleSpec,
        sink: &mut dyn OutputSink,
    ) -> Result<i32, PlatformError> {
        let w = self
            .workload(&spec.kind, &spec.namespace, &spec.name)
            .map_err(not_found)?;
        let what = format!("{} {}/{}", w.kind, w.namespace, w.name);
        let scale = w.scale.as_ref().ok_or_else(|| {
            PlatformError::Other(format!(
                "{what} has no `scale` commands in the inventory (stop, start, ready): ScaleWorkload cannot scale it"
            ))
        })?;
        let ready = scale.ready.as_ref().ok_or_else(|| {
            PlatformError::Other(format!(
                "{what} has no `scale.ready` command in the inventory: ScaleWorkload needs it to know whether the workload runs"
            ))
        })?;
        let env = self.env_for(None, &[&w.env]);
        let cwd = w.workdir.as_ref().map(|d| self.base.join(d));
        let hosts = self.isolation(Some(w)).await?;
        let hosts = hosts.as_ref();
        let replicas = i32::try_from(w.pods().len()).unwrap_or(i32::MAX);
        let probe = || async {
            let mut quiet = Discard;
            process::run(ready, &env, cwd.as_deref(), None, hosts, &mut quiet)
                .await
                .map(|e| e.success())
        };
        let running = probe().await?;
        let original = if running { replicas } else { 0 };
        let want_up = spec.replicas > 0;
        if want_up != running {
            let (cmd, verb) = if want_up {
                (&scale.start, "start")
            } else {
                (&scale.stop, "stop")
            };
            sink.chunk(
                Stream::Stderr,
                format!(
                    "scaling {what} from {original} to {} replicas: running its {verb} command\n",
                    spec.replicas
                )
                .as_bytes(),
            );
            let exit = process::run(cmd, &env, cwd.as_deref(), None, hosts, sink).await?;
            if !exit.success() {
                return Err(PlatformError::Other(format!(
                    "the {verb} command of {what} failed with {}",
                    match exit.code {
                        Some(c) => format!("exit code {c}"),
                        None => "a signal".to_string(),
                    }
                )));
            }
        }
        if spec.wait_for_ready {
            // Poll until the probe agrees (bounded by the phase's deadline:
            // this future is dropped when it passes).
            let mut delay = std::time::Duration::from_millis(50);
            while probe().await? != want_up {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(1));
            }
        }
        Ok(original)
    }

    /// The environment of a command: the image's `env` (when the inventory
    /// maps its image), the inventory's, then `extra` in order; `PATH` is the
    /// image's directories, the inventory's `path`, kando's directory, then
    /// `PATH` (from that environment, else kapsel's).
    fn env_for(
        &self,
        image: Option<&ImageTools>,
        extra: &[&BTreeMap<String, String>],
    ) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = image.map(|t| t.env.clone()).unwrap_or_default();
        env.extend(
            self.inventory
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        for e in extra {
            env.extend(e.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut path: Vec<String> = image
            .into_iter()
            .flat_map(|t| t.path.iter())
            .map(|p| self.base.join(p).display().to_string())
            .collect();
        path.extend(self.path_prefix.iter().map(|p| p.display().to_string()));
        if let Some(p) = env
            .get("PATH")
            .cloned()
            .or_else(|| std::env::var("PATH").ok())
        {
            path.push(p);
        }
        env.insert("PATH".to_string(), path.join(":"));
        env.into_iter().collect()
    }

    /// What the inventory says `image` provides (the first `images` entry
    /// that matches), if anything.
    fn image_tools(&self, image: &str) -> Option<&ImageTools> {
        let t = self.inventory.image_tools(image);
        match t {
            Some(t) => {
                tracing::debug!(image, pattern = %t.image, "local: image recorded, not pulled; tools from the inventory")
            }
            None => tracing::debug!(image, "local: image recorded, not pulled"),
        }
        t
    }

    /// The private `/etc/hosts` for a command: the workload's `hostAliases`
    /// (for commands in its pods and its scale commands), then the
    /// inventory's; `None` when there are none.
    async fn isolation(
        &self,
        workload: Option<&Workload>,
    ) -> Result<Option<Isolation>, PlatformError> {
        let aliases: Vec<&HostAlias> = workload
            .into_iter()
            .flat_map(|w| w.host_aliases.iter())
            .chain(self.inventory.host_aliases.iter())
            .collect();
        hosts::prepare(&aliases).await
    }
}

/// Drops output (readiness probes).
struct Discard;

impl OutputSink for Discard {
    fn chunk(&mut self, _: Stream, _: &[u8]) {}
}

/// `KAPSEL_VOLUME_<CLAIM>`: the claim upper-cased, other than letters and
/// digits replaced by `_`.
pub fn volume_env(claim: &str) -> String {
    let name: String = claim
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KAPSEL_VOLUME_{name}")
}

fn scratch_dir() -> Result<tempfile::TempDir, PlatformError> {
    tempfile::Builder::new()
        .prefix("kapsel-task-")
        .tempdir()
        .map_err(|e| PlatformError::Other(format!("cannot create a scratch directory: {e}")))
}

fn known(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "; the inventory lists none".to_string()
    } else {
        format!("; the inventory has: {}", v.join(", "))
    }
}

fn api_version(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "statefulset" | "deployment" => "apps/v1",
        "deploymentconfig" => "apps.openshift.io/v1",
        _ => "v1",
    }
}

fn merge(into: &mut serde_json::Value, from: &serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn not_found(e: LocalError) -> PlatformError {
    PlatformError::Other(e.to_string())
}

impl Platform for LocalPlatform {
    fn name(&self) -> &str {
        "local"
    }

    fn exec<'a>(
        &'a self,
        spec: &'a ExecSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move {
            let (w, pod) = self
                .inventory
                .objects
                .iter()
                .filter(|w| w.namespace == spec.namespace)
                .find_map(|w| {
                    w.pods()
                        .into_iter()
                        .find(|p| p.name == spec.pod)
                        .map(|p| (w, p))
                })
                .ok_or_else(|| PlatformError::NotFound {
                    kind: "pod".to_string(),
                    namespace: spec.namespace.clone(),
                    name: spec.pod.clone(),
                    hint: known(self.inventory.objects.iter().flat_map(|w| {
                        w.pods()
                            .into_iter()
                            .map(move |p| format!("{}/{}", w.namespace, p.name))
                    })),
                })?;
            if let Some(c) = &spec.container
                && !pod.containers.contains(c)
            {
                return Err(PlatformError::NotFound {
                    kind: "container".to_string(),
                    namespace: spec.namespace.clone(),
                    name: format!("{}/{c}", spec.pod),
                    hint: format!("; pod {} has {}", pod.name, pod.containers.join(", ")),
                });
            }
            // As in a pod: HOSTNAME is the pod's name; KAPSEL_CONTAINER the
            // container's (the pod's first when none is named).
            let mut ids = BTreeMap::new();
            ids.insert("HOSTNAME".to_string(), pod.name.clone());
            ids.insert(
                "KAPSEL_CONTAINER".to_string(),
                spec.container
                    .clone()
                    .or_else(|| pod.containers.first().cloned())
                    .unwrap_or_default(),
            );
            let env = self.env_for(None, &[&ids, &w.env, &pod.env]);
            let cwd = w.workdir.as_ref().map(|d| self.base.join(d));
            let hosts = self.isolation(Some(w)).await?;
            process::run(
                &spec.command,
                &env,
                cwd.as_deref(),
                spec.stdin.as_ref(),
                hosts.as_ref(),
                sink,
            )
            .await
        })
    }

    fn task<'a>(
        &'a self,
        spec: &'a TaskSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move {
            let image = self.image_tools(&spec.image);
            let scratch = scratch_dir()?;
            let namespace = spec.namespace.as_deref().unwrap_or_default();
            let vol_env = self.mount_volumes(namespace, &spec.volumes, scratch.path())?;
            let env = self.env_for(image, &[&vol_env]);
            let hosts = self.isolation(None).await?;
            process::run(
                &spec.command,
                &env,
                Some(scratch.path()),
                spec.stdin.as_ref(),
                hosts.as_ref(),
                sink,
            )
            .await
        })
    }

    fn multi_container<'a>(
        &'a self,
        spec: &'a MultiContainerSpec,
        background: &'a mut dyn OutputSink,
        output: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(async move {
            // The shared volume is one scratch directory: the working
            // directory of all commands, also in KAPSEL_SHARED_DIR.
            let scratch = scratch_dir()?;
            let mut shared = BTreeMap::new();
            shared.insert(
                "KAPSEL_SHARED_DIR".to_string(),
                scratch.path().display().to_string(),
            );
            let env = |image: &str| self.env_for(self.image_tools(image), &[&shared]);
            let cwd = Some(scratch.path());
            let hosts = self.isolation(None).await?;
            let hosts = hosts.as_ref();
            if let Some(init) = &spec.init {
                let exit = process::run(
                    &init.command,
                    &env(&init.image),
                    cwd,
                    None,
                    hosts,
                    &mut *background,
                )
                .await?;
                if !exit.success() {
                    return Err(PlatformError::Other(format!(
                        "the init command failed with {}",
                        match exit.code {
                            Some(c) => format!("exit code {c}"),
                            None => "a signal".to_string(),
                        }
                    )));
                }
            }
            // Both run in their own process groups; when the output command
            // ends, the background one is killed (dropping its future kills
            // its group), as Kanister deletes the pod.
            let (bg_env, out_env) = (env(&spec.background.image), env(&spec.output.image));
            let bg = process::run(
                &spec.background.command,
                &bg_env,
                cwd,
                None,
                hosts,
                background,
            );
            let out = process::run(&spec.output.command, &out_env, cwd, None, hosts, output);
            tokio::pin!(bg);
            tokio::pin!(out);
            let mut bg_done = false;
            loop {
                tokio::select! {
                    r = &mut out => return r,
                    r = &mut bg, if !bg_done => {
                        bg_done = true;
                        r?;
                    }
                }
            }
        })
    }

    fn scale<'a>(
        &'a self,
        spec: &'a ScaleSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<i32, PlatformError>> {
        Box::pin(async move { self.scale_workload(spec, sink).await })
    }

    fn pod_volumes<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, String>, PlatformError>> {
        Box::pin(async move {
            let w = self
                .inventory
                .objects
                .iter()
                .filter(|w| w.namespace == namespace)
                .find(|w| w.pods().iter().any(|p| p.name == pod))
                .ok_or_else(|| PlatformError::NotFound {
                    kind: "pod".to_string(),
                    namespace: namespace.to_string(),
                    name: pod.to_string(),
                    hint: String::new(),
                })?;
            // On this host a volume is seen at its own directory.
            Ok(w.volumes
                .iter()
                .map(|(claim, dir)| (claim.clone(), self.base.join(dir).display().to_string()))
                .collect())
        })
    }

    fn volume_path<'a>(
        &'a self,
        namespace: &'a str,
        claim: &'a str,
        _mount_path: &'a str,
    ) -> BoxFuture<'a, Result<String, PlatformError>> {
        Box::pin(async move {
            self.claim_dir(namespace, claim)
                .map(|d| d.display().to_string())
        })
    }

    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Secret, PlatformError>> {
        Box::pin(async move { self.get_secret(namespace, name).map_err(not_found) })
    }

    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ConfigMap, PlatformError>> {
        Box::pin(async move {
            self.get_config_map(namespace, name).map_err(|e| match e {
                LocalError::NoObject {
                    kind,
                    namespace,
                    name,
                    ..
                } => PlatformError::NotFound {
                    kind,
                    namespace,
                    name,
                    hint: String::new(),
                },
                e => not_found(e),
            })
        })
    }
}
