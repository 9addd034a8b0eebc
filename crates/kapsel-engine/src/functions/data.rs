//! The data functions (BackupData, BackupDataAll, RestoreData, RestoreDataAll,
//! CopyVolumeData, DeleteData, DeleteDataAll, BackupDataStats,
//! CheckRepository): Kanister runs restic in a pod; Kapsel runs
//! `kando data ...` (Kapsel's repository, docs/kando.md), with
//! Kanister's arguments and output keys.
//!
//! Secrets never go in argv: the Profile (credentials in plaintext) and the
//! `encryptionKey` reach kando on its standard input (`--secrets-stdin`, one
//! JSON object `{"profile": ..., "password": ...}`).
//!
//! Differences from Kanister, on purpose:
//! - without `encryptionKey` the repository password follows kando's rules
//!   (`KAPSEL_REPO_PASSWORD`, `KAPSEL_REPO_PASSWORD_FILE`, else derived from
//!   the Profile's credential), not Kanister's constant
//!   `sha256("testpassword")`;
//! - `size`, `phySize` and `spaceFreed` are byte counts (`"1536"`), where
//!   restic printed human units (`"1.500 KiB"`);
//! - `insecureTLS: true` sets the Profile's `SkipSSLVerify` for the command.

use std::collections::BTreeMap;

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ExecSpec, PlatformError, Stdin, TaskSpec, VolumeMount};

use super::kube_task::task_spec;
use super::{Collector, join_all, random_tag};

/// The version every data function reports (`version` output).
const VERSION: &str = "v0.0.0";

/// What every data function reads: the repository and its secrets.
struct Repo {
    /// The repository's path inside the Profile's location.
    prefix: String,
    /// `{"profile": ..., "password": ...}` for kando's stdin.
    stdin: Stdin,
}

/// The repository of `prefix_arg` and the secrets to open it.
fn repo(cx: &Context<'_>, args: &Args, prefix_arg: &str) -> Result<Repo, FunctionError> {
    let profile = cx.profile.ok_or(FunctionError::NoProfile)?;
    let mut profile: serde_json::Value = serde_json::from_str(profile)
        .map_err(|e| FunctionError::Failed(format!("the Profile does not parse: {e}")))?;
    if arg::opt_bool(args, "insecureTLS")?.unwrap_or(false)
        && let Some(p) = profile.as_object_mut()
    {
        p.insert("SkipSSLVerify".to_string(), true.into());
    }
    let mut prefix = arg::string(args, prefix_arg)?;
    // Kanister prepends the bucket unless the prefix starts with it; kando
    // works inside the bucket, so a leading bucket name is dropped.
    if let Some(bucket) = profile
        .pointer("/Location/bucket")
        .and_then(|b| b.as_str())
        .filter(|b| !b.is_empty())
        && let Some(rest) = prefix.strip_prefix(&format!("{bucket}/"))
    {
        prefix = rest.to_string();
    }
    let prefix = prefix.trim_matches('/').to_string();
    if prefix.is_empty() {
        return Err(FunctionError::Arg {
            arg: prefix_arg.to_string(),
            message: "is empty".to_string(),
        });
    }
    let mut payload = serde_json::Map::new();
    payload.insert("profile".to_string(), profile);
    if let Some(k) = arg::opt_nonempty(args, "encryptionKey")? {
        payload.insert("password".to_string(), k.into());
    }
    let stdin = serde_json::to_vec(&payload)
        .map_err(|e| FunctionError::Failed(format!("cannot encode kando's input: {e}")))?;
    Ok(Repo {
        prefix,
        stdin: Stdin(stdin),
    })
}

/// `kando data <sub> --secrets-stdin --path <prefix> <rest...>`.
fn kando(sub: &str, prefix: &str, rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["kando", "data", sub, "--secrets-stdin", "--path", prefix]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

/// A field of kando's JSON result, as Kanister's string output.
fn field(
    m: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<String, FunctionError> {
    match m.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(FunctionError::Failed(format!(
            "kando's result has no {key:?}: {}",
            serde_json::Value::Object(m.clone())
        ))),
    }
}

/// A pod's name and what happened there.
type PodResult<T> = (String, Result<T, FunctionError>);

/// Runs kando in an existing container.
async fn exec_json(
    cx: &Context<'_>,
    spec: &ExecSpec,
    label: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, FunctionError> {
    let mut c = Collector::new(cx).capturing();
    if let Some(l) = label {
        c = c.with_prefix(format!("{l}: "));
    }
    let exit = cx.platform.exec(spec, &mut c).await?;
    c.finish_json(exit)
}

/// Runs kando in a task.
async fn task_json(
    cx: &Context<'_>,
    spec: &TaskSpec,
    label: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, FunctionError> {
    let mut c = Collector::new(cx).capturing();
    if let Some(l) = label {
        c = c.with_prefix(format!("{l}: "));
    }
    let exit = super::run_task(cx, spec, &mut c).await?;
    c.finish_json(exit)
}

/// A task running kando, with the function's image and pod options.
fn kando_task(
    name_prefix: &str,
    cx: &Context<'_>,
    args: &Args,
    namespace: Option<String>,
    command: Vec<String>,
    stdin: &Stdin,
) -> Result<TaskSpec, FunctionError> {
    let image = arg::opt_nonempty(args, "image")?.unwrap_or_else(super::tools_image);
    let mut spec = task_spec(cx, args, namespace, image, command)?;
    spec.stdin = Some(stdin.clone());
    spec.name_prefix = name_prefix.to_string();
    Ok(spec)
}

fn backup_outputs(
    r: &serde_json::Map<String, serde_json::Value>,
    tag: &str,
) -> Result<Outputs, FunctionError> {
    let mut out = Outputs::new();
    out.insert("backupTag".into(), tag.into());
    out.insert("backupID".into(), field(r, "snapshotID")?.into());
    out.insert("fileCount".into(), field(r, "fileCount")?.into());
    out.insert("size".into(), field(r, "size")?.into());
    out.insert("phySize".into(), field(r, "phySize")?.into());
    out.insert("version".into(), VERSION.into());
    Ok(out)
}

/// Pods of the `pods` argument (space-separated), or the object's pods.
fn pods_arg(cx: &Context<'_>, args: &Args) -> Result<Vec<String>, FunctionError> {
    let pods: Vec<String> = arg::opt_string(args, "pods")?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !pods.is_empty() {
        return Ok(pods);
    }
    if cx.object.is_workload() && !cx.object.pods.is_empty() {
        return Ok(cx.object.pods.clone());
    }
    Err(FunctionError::Failed(
        "Failed to get pods: give `pods` (the ActionSet's object is not a workload with pods)"
            .to_string(),
    ))
}

/// Kanister's `BackupAllInfo`: pod → `{PodName, BackupID, BackupTag}`.
fn parse_backup_info(args: &Args) -> Result<BTreeMap<String, (String, String)>, FunctionError> {
    let text = arg::string(args, "backupInfo")?;
    let bad = |m: String| FunctionError::Arg {
        arg: "backupInfo".to_string(),
        message: m,
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not the JSON BackupDataAll outputs ({e})")))?;
    let m = v
        .as_object()
        .ok_or_else(|| bad("not a JSON object of pods".to_string()))?;
    m.iter()
        .map(|(pod, info)| {
            let get = |k: &str| {
                info.get(k)
                    .and_then(|x| x.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("pod {pod:?} has no {k}")))
            };
            Ok((pod.clone(), (get("BackupID")?, get("BackupTag")?)))
        })
        .collect()
}

fn collect_errors<T>(results: Vec<PodResult<T>>) -> Result<Vec<(String, T)>, FunctionError> {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for (label, r) in results {
        match r {
            Ok(v) => ok.push((label, v)),
            Err(e) => errs.push(format!("pod {label}: {e}")),
        }
    }
    if errs.is_empty() {
        Ok(ok)
    } else {
        Err(FunctionError::Failed(errs.join("\n")))
    }
}

/// `BackupData`: `kando data backup` inside the workload's container.
#[derive(Debug, Clone, Copy)]
pub struct BackupData;

impl Function for BackupData {
    fn name(&self) -> &'static str {
        "BackupData"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "backupArtifactPrefix")?;
            let include = arg::string(args, "includePath")?;
            let tag = random_tag();
            let spec = ExecSpec {
                namespace: arg::string(args, "namespace")?,
                pod: arg::string(args, "pod")?,
                container: arg::opt_nonempty(args, "container")?,
                command: kando("backup", &repo.prefix, &["--tag", &tag, &include]),
                stdin: Some(repo.stdin),
            };
            let r = exec_json(&cx, &spec, None).await?;
            backup_outputs(&r, &tag)
        })
    }
}

/// `BackupDataAll`: BackupData in every pod, each into `<prefix>/<pod>`.
#[derive(Debug, Clone, Copy)]
pub struct BackupDataAll;

impl Function for BackupDataAll {
    fn name(&self) -> &'static str {
        "BackupDataAll"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let base = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let container = arg::string(args, "container")?;
            let include = arg::string(args, "includePath")?;
            let pods = pods_arg(&cx, args)?;
            let cx = &cx;
            let mut runs: Vec<BoxFuture<'_, PodResult<(String, String)>>> = Vec::new();
            for pod in pods {
                let tag = random_tag();
                let spec = ExecSpec {
                    namespace: namespace.clone(),
                    pod: pod.clone(),
                    container: Some(container.clone()),
                    command: kando(
                        "backup",
                        &format!("{}/{pod}", base.prefix),
                        &["--tag", &tag, &include],
                    ),
                    stdin: Some(base.stdin.clone()),
                };
                runs.push(Box::pin(async move {
                    let r = exec_json(cx, &spec, Some(&pod))
                        .await
                        .and_then(|r| field(&r, "snapshotID"))
                        .map(|id| (id, tag));
                    (pod, r)
                }));
            }
            let done = collect_errors(join_all(runs).await)?;
            let mut info = serde_json::Map::new();
            for (pod, (id, tag)) in done {
                let mut e = serde_json::Map::new();
                e.insert("PodName".into(), pod.clone().into());
                e.insert("BackupID".into(), id.into());
                e.insert("BackupTag".into(), tag.into());
                info.insert(pod, e.into());
            }
            // Go's json.Marshal of a map: keys sorted.
            info.sort_keys();
            let mut out = Outputs::new();
            out.insert(
                "BackupAllInfo".into(),
                serde_json::Value::Object(info).to_string().into(),
            );
            out.insert("version".into(), VERSION.into());
            Ok(out)
        })
    }
}

/// Volumes of a pod, as mounts of a task.
async fn pod_mounts(
    cx: &Context<'_>,
    namespace: &str,
    pod: &str,
) -> Result<Vec<VolumeMount>, FunctionError> {
    let vols = match cx.platform.pod_volumes(namespace, pod).await {
        Ok(v) => v,
        // The pod is gone (a ScaleWorkload to 0 before the restore, as in
        // Kanister's time-log example): the volumes it had when the action
        // started are known from the object's parameters. Kanister fails
        // here.
        Err(PlatformError::NotFound { .. })
            if cx.object.namespace == namespace && cx.object.volumes.contains_key(pod) =>
        {
            cx.object.volumes.get(pod).cloned().unwrap_or_default()
        }
        Err(e) => return Err(e.into()),
    };
    Ok(vols
        .into_iter()
        .map(|(claim, mount_path)| VolumeMount { claim, mount_path })
        .collect())
}

/// `RestoreData`: a task with the pod's (or the given) volumes mounted runs
/// `kando data restore` into `restorePath`.
#[derive(Debug, Clone, Copy)]
pub struct RestoreData;

impl Function for RestoreData {
    fn name(&self) -> &'static str {
        "RestoreData"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let id = arg::opt_nonempty(args, "backupIdentifier")?;
            let tag = arg::opt_nonempty(args, "backupTag")?;
            let pick = match (&id, &tag) {
                (Some(i), None) => ["--id", i.as_str()],
                (None, Some(t)) => ["--tag", t.as_str()],
                _ => {
                    return Err(FunctionError::Failed(
                        "Require one argument: backupIdentifier or backupTag".to_string(),
                    ));
                }
            };
            let pod = arg::opt_nonempty(args, "pod")?;
            let vols = arg::string_map(args, "volumes")?;
            let mounts = match (&pod, vols.is_empty()) {
                (Some(p), true) => pod_mounts(&cx, &namespace, p).await?,
                (None, false) => vols
                    .into_iter()
                    .map(|(claim, mount_path)| VolumeMount { claim, mount_path })
                    .collect(),
                _ => {
                    return Err(FunctionError::Failed(
                        "Require one argument: pod or volumes".to_string(),
                    ));
                }
            };
            let restore_path =
                arg::opt_nonempty(args, "restorePath")?.unwrap_or_else(|| "/".to_string());
            let mut rest: Vec<&str> = pick.to_vec();
            let backup_path = arg::opt_nonempty(args, "backupPath")?;
            if let Some(b) = &backup_path {
                rest.extend(["--subpath", b.as_str()]);
            }
            rest.push(&restore_path);
            let mut spec = kando_task(
                "restore-data-",
                &cx,
                args,
                Some(namespace.clone()),
                kando("restore", &repo.prefix, &rest),
                &repo.stdin,
            )?;
            spec.volumes = mounts;
            task_json(&cx, &spec, None).await?;
            Ok(Outputs::new())
        })
    }
}

/// `RestoreDataAll`: RestoreData for every pod of `backupInfo`.
#[derive(Debug, Clone, Copy)]
pub struct RestoreDataAll;

impl Function for RestoreDataAll {
    fn name(&self) -> &'static str {
        "RestoreDataAll"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let base = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let info = parse_backup_info(args)?;
            let pods = pods_arg(&cx, args)?;
            let restore_path =
                arg::opt_nonempty(args, "restorePath")?.unwrap_or_else(|| "/".to_string());
            let mut specs = Vec::new();
            for pod in pods {
                let (id, _) = info.get(&pod).ok_or_else(|| FunctionError::Arg {
                    arg: "backupInfo".to_string(),
                    message: format!("has no backup of pod {pod:?}"),
                })?;
                let mut spec = kando_task(
                    "restore-data-all-",
                    &cx,
                    args,
                    Some(namespace.clone()),
                    kando(
                        "restore",
                        &format!("{}/{pod}", base.prefix),
                        &["--id", id, &restore_path],
                    ),
                    &base.stdin,
                )?;
                spec.volumes = pod_mounts(&cx, &namespace, &pod).await?;
                specs.push((pod, spec));
            }
            let cx = &cx;
            let runs: Vec<BoxFuture<'_, PodResult<()>>> = specs
                .iter()
                .map(|(pod, spec)| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        (
                            pod.clone(),
                            task_json(cx, spec, Some(pod)).await.map(|_| ()),
                        )
                    })
                })
                .collect();
            collect_errors(join_all(runs).await)?;
            Ok(Outputs::new())
        })
    }
}

/// `CopyVolumeData`: a task with the claim mounted backs it up.
#[derive(Debug, Clone, Copy)]
pub struct CopyVolumeData;

impl Function for CopyVolumeData {
    fn name(&self) -> &'static str {
        "CopyVolumeData"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "dataArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let claim = arg::string(args, "volume")?;
            let mount_path = arg::opt_nonempty(args, "mountPath")?
                .unwrap_or_else(|| format!("/mnt/vol_data/{claim}"));
            let root = cx
                .platform
                .volume_path(&namespace, &claim, &mount_path)
                .await?;
            let tag = random_tag();
            let mut spec = kando_task(
                "copy-vol-data-",
                &cx,
                args,
                Some(namespace.clone()),
                kando("backup", &repo.prefix, &["--tag", &tag, &root]),
                &repo.stdin,
            )?;
            spec.volumes = vec![VolumeMount { claim, mount_path }];
            let r = task_json(&cx, &spec, None).await?;
            let mut out = backup_outputs(&r, &tag)?;
            out.insert("backupRoot".into(), root.into());
            out.insert("backupArtifactLocation".into(), repo.prefix.into());
            Ok(out)
        })
    }
}

/// `DeleteData`: forget a snapshot (by ID or tag), prune with `reclaimSpace`.
#[derive(Debug, Clone, Copy)]
pub struct DeleteData;

impl Function for DeleteData {
    fn name(&self) -> &'static str {
        "DeleteData"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let id = arg::opt_nonempty(args, "backupID")?;
            let tag = arg::opt_nonempty(args, "backupTag")?;
            let mut rest: Vec<&str> = match (&id, &tag) {
                (Some(i), None) => vec!["--id", i],
                (None, Some(t)) => vec!["--tag", t],
                _ => {
                    return Err(FunctionError::Failed(
                        "Require one argument: backupID or backupTag".to_string(),
                    ));
                }
            };
            if arg::opt_bool(args, "reclaimSpace")?.unwrap_or(false) {
                rest.push("--reclaim-space");
            }
            let spec = kando_task(
                "delete-data-",
                &cx,
                args,
                Some(namespace),
                kando("delete", &repo.prefix, &rest),
                &repo.stdin,
            )?;
            let r = task_json(&cx, &spec, None).await?;
            let mut out = Outputs::new();
            out.insert("spaceFreed".into(), field(&r, "spaceFreed")?.into());
            out.insert("version".into(), VERSION.into());
            Ok(out)
        })
    }
}

/// `DeleteDataAll`: DeleteData for every pod of `backupInfo`.
#[derive(Debug, Clone, Copy)]
pub struct DeleteDataAll;

impl Function for DeleteDataAll {
    fn name(&self) -> &'static str {
        "DeleteDataAll"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let base = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let info = parse_backup_info(args)?;
            let reclaim = arg::opt_bool(args, "reclaimSpace")?.unwrap_or(false);
            let mut specs = Vec::new();
            for (pod, (id, _)) in &info {
                let mut rest = vec!["--id", id.as_str()];
                if reclaim {
                    rest.push("--reclaim-space");
                }
                let spec = kando_task(
                    "delete-data-all-",
                    &cx,
                    args,
                    Some(namespace.clone()),
                    kando("delete", &format!("{}/{pod}", base.prefix), &rest),
                    &base.stdin,
                )?;
                specs.push((pod.clone(), spec));
            }
            let cx = &cx;
            let runs: Vec<BoxFuture<'_, PodResult<u64>>> = specs
                .iter()
                .map(|(pod, spec)| -> BoxFuture<'_, _> {
                    Box::pin(async move {
                        let r = task_json(cx, spec, Some(pod)).await.and_then(|r| {
                            field(&r, "spaceFreed")?.parse::<u64>().map_err(|_| {
                                FunctionError::Failed("kando's spaceFreed is not a number".into())
                            })
                        });
                        (pod.clone(), r)
                    })
                })
                .collect();
            let freed: u64 = collect_errors(join_all(runs).await)?
                .into_iter()
                .map(|(_, n)| n)
                .sum();
            let mut out = Outputs::new();
            out.insert("spaceFreed".into(), freed.to_string().into());
            out.insert("version".into(), VERSION.into());
            Ok(out)
        })
    }
}

/// `BackupDataStats`: file count and size of a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct BackupDataStats;

impl Function for BackupDataStats {
    fn name(&self) -> &'static str {
        "BackupDataStats"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "backupArtifactPrefix")?;
            let namespace = arg::string(args, "namespace")?;
            let id = arg::string(args, "backupID")?;
            let mode =
                arg::opt_nonempty(args, "statsMode")?.unwrap_or_else(|| "restore-size".to_string());
            let spec = kando_task(
                "backup-data-stats-",
                &cx,
                args,
                Some(namespace),
                kando("stats", &repo.prefix, &["--id", &id, "--mode", &mode]),
                &repo.stdin,
            )?;
            let r = task_json(&cx, &spec, None).await?;
            let mut out = Outputs::new();
            out.insert("mode".into(), field(&r, "mode")?.into());
            out.insert("fileCount".into(), field(&r, "fileCount")?.into());
            out.insert("size".into(), field(&r, "size")?.into());
            out.insert("version".into(), VERSION.into());
            Ok(out)
        })
    }
}

/// `CheckRepository`: whether the repository exists and opens with the key.
#[derive(Debug, Clone, Copy)]
pub struct CheckRepository;

impl Function for CheckRepository {
    fn name(&self) -> &'static str {
        "CheckRepository"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let repo = repo(&cx, args, "backupArtifactPrefix")?;
            let spec = kando_task(
                "check-repository-",
                &cx,
                args,
                None,
                kando("check", &repo.prefix, &[]),
                &repo.stdin,
            )?;
            let r = task_json(&cx, &spec, None).await?;
            let flag = |k: &str| -> Result<String, FunctionError> {
                match r.get(k) {
                    Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
                    _ => field(&r, k),
                }
            };
            let mut out = Outputs::new();
            out.insert(
                "passwordIncorrect".into(),
                flag("passwordIncorrect")?.into(),
            );
            out.insert("repoUnavailable".into(), flag("repoUnavailable")?.into());
            out.insert("version".into(), VERSION.into());
            Ok(out)
        })
    }
}
