//! The CSI snapshot functions (Kanister's `pkg/function/*csi*` and
//! `pkg/kube/snapshot`): VolumeSnapshots of `snapshot.storage.k8s.io/v1`
//! through the generic object API.
//!
//! Waits (the snapshot's `readyToUse`, a deletion) poll with a backoff and
//! no timeout of their own, as Kanister's; the phase's deadline bounds them.

use rand::Rng as _;

use super::{Backoff, kube_api, wait_gone};
use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, KubeApi, PlatformError, ResourceRef};

const NEEDS: &str = "Kubernetes CSI VolumeSnapshots";
const GROUP: &str = "snapshot.storage.k8s.io";

fn snapshot_ref(namespace: &str, name: &str) -> ResourceRef {
    ResourceRef {
        version: "v1".to_string(),
        group: GROUP.to_string(),
        resource: "volumesnapshots".to_string(),
        kind: "VolumeSnapshot".to_string(),
        name: name.to_string(),
        namespace: namespace.to_string(),
    }
}

fn content_ref(name: &str) -> ResourceRef {
    ResourceRef {
        resource: "volumesnapshotcontents".to_string(),
        kind: "VolumeSnapshotContent".to_string(),
        ..snapshot_ref("", name)
    }
}

fn class_ref(name: &str) -> ResourceRef {
    ResourceRef {
        resource: "volumesnapshotclasses".to_string(),
        kind: "VolumeSnapshotClass".to_string(),
        ..snapshot_ref("", name)
    }
}

/// Kubernetes' `rand.String(n)` alphabet (no vowels, no confusable digits).
fn rand_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn uuid4() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    let v = (b[6] & 0x0f) | 0x40;
    let var = (b[8] & 0x3f) | 0x80;
    format!(
        "{}-{}-{v:02x}{}-{var:02x}{}-{}",
        h(0..4),
        h(4..6),
        h(7..8),
        h(9..10),
        h(10..16)
    )
}

/// Kanister's `SanitizeValueForGCP` on label keys and values.
fn sanitize(v: &str) -> String {
    let cut: String = v.chars().take(63).collect();
    let lower = cut.to_lowercase();
    let replaced: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_end_matches(['_', '-']).to_string()
}

/// Errors in a VolumeSnapshot's status that Kanister retries.
fn transient(message: &str) -> bool {
    message.contains("the object has been modified")
        || message.contains("VolumeSnapshotContent is missing")
        || message.contains("SnapshotFinalizerError")
}

/// Waits until the snapshot is ready to use; returns its status.
async fn wait_ready(
    kube: &dyn KubeApi,
    r: &ResourceRef,
) -> Result<serde_json::Value, FunctionError> {
    let mut backoff = Backoff::new();
    loop {
        match kube.get(r).await {
            Ok(vs) => {
                let status = vs.get("status").cloned().unwrap_or_default();
                let ready = status.get("readyToUse").and_then(|v| v.as_bool()) == Some(true)
                    && status.get("creationTime").is_some_and(|t| !t.is_null());
                if ready {
                    return Ok(status);
                }
                if let Some(msg) = status
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(|m| m.as_str())
                    && !transient(msg)
                {
                    return Err(FunctionError::Failed(format!(
                        "VolumeSnapshot {}/{} failed: {msg}",
                        r.namespace, r.name
                    )));
                }
            }
            // The snapshot controller may not have seen it yet.
            Err(PlatformError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(backoff.next()).await;
    }
}

fn snapshot_outputs(name: &str, namespace: &str, status: &serde_json::Value) -> Outputs {
    let s = |k: &str| {
        status
            .get(k)
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let mut out = Outputs::new();
    out.insert("name".into(), name.into());
    out.insert("namespace".into(), namespace.into());
    out.insert("restoreSize".into(), s("restoreSize").into());
    out.insert(
        "snapshotContent".into(),
        s("boundVolumeSnapshotContentName").into(),
    );
    out
}

/// `CreateCSISnapshot` (pvc, namespace, snapshotClass; name, labels).
#[derive(Debug, Clone, Copy)]
pub struct CreateCsiSnapshot;

impl Function for CreateCsiSnapshot {
    fn name(&self) -> &'static str {
        "CreateCSISnapshot"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, self.name(), NEEDS)?;
            let pvc = arg::string(args, "pvc")?;
            let namespace = arg::string(args, "namespace")?;
            let class = arg::string(args, "snapshotClass")?;
            let name = arg::opt_nonempty(args, "name")?
                .unwrap_or_else(|| format!("{pvc}-snapshot-{}", rand_suffix(5)));
            let labels: serde_json::Map<String, serde_json::Value> =
                arg::string_map(args, "labels")?
                    .iter()
                    .map(|(k, v)| (sanitize(k), sanitize(v).into()))
                    .collect();
            let claim = ResourceRef {
                version: "v1".to_string(),
                resource: "persistentvolumeclaims".to_string(),
                kind: "PersistentVolumeClaim".to_string(),
                name: pvc.clone(),
                namespace: namespace.clone(),
                ..Default::default()
            };
            kube.get(&claim).await.map_err(|e| match e {
                PlatformError::NotFound { .. } => FunctionError::Failed(format!(
                    "Failed to find PVC {namespace}/{pvc}: it does not exist"
                )),
                e => e.into(),
            })?;
            let vs = serde_json::json!({
                "apiVersion": format!("{GROUP}/v1"),
                "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "source": {"persistentVolumeClaimName": pvc},
                    "volumeSnapshotClassName": class,
                },
            });
            kube.create(&vs, &namespace).await?;
            let status = wait_ready(kube, &snapshot_ref(&namespace, &name)).await?;
            let mut out = snapshot_outputs(&name, &namespace, &status);
            out.insert("pvc".into(), pvc.into());
            Ok(out)
        })
    }
}

/// `CreateCSISnapshotStatic` (name, namespace, driver, snapshotHandle,
/// snapshotClass): a VolumeSnapshot bound to a pre-provisioned
/// VolumeSnapshotContent.
#[derive(Debug, Clone, Copy)]
pub struct CreateCsiSnapshotStatic;

impl Function for CreateCsiSnapshotStatic {
    fn name(&self) -> &'static str {
        "CreateCSISnapshotStatic"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, self.name(), NEEDS)?;
            let name = arg::string(args, "name")?;
            let namespace = arg::string(args, "namespace")?;
            let driver = arg::string(args, "driver")?;
            let handle = arg::string(args, "snapshotHandle")?;
            let class = arg::string(args, "snapshotClass")?;
            let vsc = kube.get(&class_ref(&class)).await?;
            let policy = vsc
                .get("deletionPolicy")
                .and_then(|p| p.as_str())
                .unwrap_or("Delete")
                .to_string();
            let content_name = format!("{name}-content-{}", uuid4());
            let content = serde_json::json!({
                "apiVersion": format!("{GROUP}/v1"),
                "kind": "VolumeSnapshotContent",
                "metadata": {"name": content_name},
                "spec": {
                    "volumeSnapshotRef": {"kind": "VolumeSnapshot", "name": name, "namespace": namespace},
                    "deletionPolicy": policy,
                    "driver": driver,
                    "source": {"snapshotHandle": handle},
                    "volumeSnapshotClassName": class,
                },
            });
            kube.create(&content, "").await?;
            let vs = serde_json::json!({
                "apiVersion": format!("{GROUP}/v1"),
                "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"source": {"volumeSnapshotContentName": content_name}},
            });
            kube.create(&vs, &namespace).await?;
            let status = wait_ready(kube, &snapshot_ref(&namespace, &name)).await?;
            Ok(snapshot_outputs(&name, &namespace, &status))
        })
    }
}

/// `RestoreCSISnapshot` (name, pvc, namespace, storageClass, restoreSize;
/// accessModes, volumeMode, labels): a PVC whose data source is the
/// snapshot. Does not wait for it to bind (as Kanister).
#[derive(Debug, Clone, Copy)]
pub struct RestoreCsiSnapshot;

impl Function for RestoreCsiSnapshot {
    fn name(&self) -> &'static str {
        "RestoreCSISnapshot"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, self.name(), NEEDS)?;
            let name = arg::string(args, "name")?;
            let pvc = arg::string(args, "pvc")?;
            let namespace = arg::string(args, "namespace")?;
            let class = arg::string(args, "storageClass")?;
            let size = arg::string(args, "restoreSize")?;
            if size.trim().is_empty() || size.trim().trim_start_matches('0').is_empty() {
                return Err(FunctionError::Arg {
                    arg: "restoreSize".to_string(),
                    message: "Failed to restore CSI snapshot. restoreSize argument cannot be zero"
                        .to_string(),
                });
            }
            let modes = match args.get("accessModes") {
                None => vec!["ReadWriteOnce".to_string()],
                Some(_) => arg::strings(args, "accessModes")?,
            };
            for m in &modes {
                if !matches!(
                    m.as_str(),
                    "ReadWriteOnce" | "ReadOnlyMany" | "ReadWriteMany" | "ReadWriteOncePod"
                ) {
                    return Err(FunctionError::Arg {
                        arg: "accessModes".to_string(),
                        message: format!("Invalid AccessMode: {m}"),
                    });
                }
            }
            let mode =
                arg::opt_nonempty(args, "volumeMode")?.unwrap_or_else(|| "Filesystem".to_string());
            if mode != "Filesystem" && mode != "Block" {
                return Err(FunctionError::Arg {
                    arg: "volumeMode".to_string(),
                    message: format!("Invalid VolumeMode: {mode} (Filesystem, Block)"),
                });
            }
            let labels = arg::string_map(args, "labels")?;
            let claim = serde_json::json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": pvc, "namespace": namespace, "labels": labels},
                "spec": {
                    "accessModes": modes,
                    "volumeMode": mode,
                    "storageClassName": class,
                    "resources": {"requests": {"storage": size}},
                    "dataSource": {"apiGroup": GROUP, "kind": "VolumeSnapshot", "name": name},
                },
            });
            kube.create(&claim, &namespace).await?;
            Ok(Outputs::new())
        })
    }
}

/// `DeleteCSISnapshot` (name, namespace): deletes the snapshot and waits
/// until it is gone; a missing snapshot is not an error.
#[derive(Debug, Clone, Copy)]
pub struct DeleteCsiSnapshot;

impl Function for DeleteCsiSnapshot {
    fn name(&self) -> &'static str {
        "DeleteCSISnapshot"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, self.name(), NEEDS)?;
            let name = arg::string(args, "name")?;
            let namespace = arg::string(args, "namespace")?;
            let r = snapshot_ref(&namespace, &name);
            match kube.delete(&r).await {
                Ok(()) => {}
                Err(PlatformError::NotFound { .. }) => return Ok(Outputs::new()),
                Err(e) => return Err(e.into()),
            }
            wait_gone(kube, &r).await?;
            Ok(Outputs::new())
        })
    }
}

/// `DeleteCSISnapshotContent` (name): deletes a VolumeSnapshotContent; a
/// missing one is not an error; does not wait.
#[derive(Debug, Clone, Copy)]
pub struct DeleteCsiSnapshotContent;

impl Function for DeleteCsiSnapshotContent {
    fn name(&self) -> &'static str {
        "DeleteCSISnapshotContent"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let kube = kube_api(&cx, self.name(), NEEDS)?;
            let name = arg::string(args, "name")?;
            match kube.delete(&content_ref(&name)).await {
                Ok(()) | Err(PlatformError::NotFound { .. }) => Ok(Outputs::new()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_kanister() {
        let s = rand_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(
            s.bytes()
                .all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c))
        );
        let u = uuid4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(sanitize("App.Name/X__"), "app_name_x");
        assert_eq!(sanitize(&"a".repeat(70)).len(), 63);
        assert!(transient("VolumeSnapshotContent is missing"));
        assert!(!transient("driver failed"));
    }
}
