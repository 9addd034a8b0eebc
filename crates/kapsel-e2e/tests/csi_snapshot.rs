//! The testbed's CSI driver (`hostpath.csi.k8s.io`, StorageClass
//! `csi-hostpath-sc`, VolumeSnapshotClass `csi-hostpath-snapclass`): a
//! VolumeSnapshot of a volume becomes ready, a volume restored from it holds
//! exactly the data of the moment of the snapshot, and deleting the snapshot
//! removes its VolumeSnapshotContent.
//!
//! It SKIPs without a cluster unless `KAPSEL_E2E=1`; see docs/testbed.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kapsel_e2e::{Env, image, wait_until};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind};

const LONG: Duration = Duration::from_secs(300);
const STORAGE_CLASS: &str = "csi-hostpath-sc";
const SNAPSHOT_CLASS: &str = "csi-hostpath-snapclass";
const DRIVER: &str = "hostpath.csi.k8s.io";

fn snapshot_api(env: &Env, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot");
    Api::namespaced_with(env.client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

fn content_api(env: &Env) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent");
    Api::all_with(env.client.clone(), &ApiResource::from_gvk(&gvk))
}

fn pvc(name: &str, data_source: Option<&str>) -> String {
    let mut spec = serde_json::json!({
        "storageClassName": STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "16Mi"}},
    });
    if let Some(snap) = data_source {
        spec["dataSource"] = serde_json::json!({
            "apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snap,
        });
    }
    serde_json::json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    })
    .to_string()
}

/// Run a one-shot tools pod with `claim` mounted at /data; return its log.
async fn run_with_volume(env: &Env, ns: &str, name: &str, claim: &str, script: &str) -> String {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "c", "image": image("tools"), "command": ["sh", "-ec", script],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    });
    env.apply(ns, &pod.to_string()).await.unwrap();
    let pods = env.pods(ns);
    wait_until(LONG, &format!("pod {ns}/{name} to finish"), || {
        let pods = pods.clone();
        let name = name.to_owned();
        async move {
            let phase = pods.get(&name).await?.status.and_then(|s| s.phase);
            Ok(matches!(phase.as_deref(), Some("Succeeded" | "Failed")))
        }
    })
    .await
    .unwrap();
    let logs = env.logs(ns, name, None).await.unwrap();
    let phase = pods.get(name).await.unwrap().status.and_then(|s| s.phase);
    assert_eq!(
        phase.as_deref(),
        Some("Succeeded"),
        "pod {ns}/{name} failed; its log:\n{logs}"
    );
    logs
}

/// Lists what the volume holds: contents, owners, modes and links.
const READ: &str = "cd /data; for f in $(find . -mindepth 1 | sort); do \
    if [ -L \"$f\" ]; then echo \"$f -> $(readlink \"$f\")\"; \
    elif [ -d \"$f\" ]; then echo \"$f/ $(stat -c '%u:%g %a' \"$f\")\"; \
    else echo \"$f $(stat -c '%u:%g %a' \"$f\") $(cat \"$f\")\"; fi; done";

#[tokio::test]
async fn volume_snapshot_restores_the_data_of_its_moment() {
    let Some(env) = Env::connect("csi-snapshot").await else {
        return;
    };
    env.run(|env, ns| async move {
        // a volume on the CSI driver, written by a pod
        env.apply(&ns, &pvc("data", None)).await.unwrap();
        let token = format!("{:016x}", rand::random::<u64>());
        let written = run_with_volume(
            &env,
            &ns,
            "writer",
            "data",
            &format!(
                "mkdir -p /data/dir/deeper; printf '%s' {token} > /data/dir/token; \
                 printf 'second file' > /data/dir/deeper/other; chown 1001:0 /data/dir/token; \
                 chmod 640 /data/dir/token; chmod 750 /data/dir/deeper; \
                 ln -s dir/token /data/link; {READ}"
            ),
        )
        .await;
        assert!(
            written.contains(&format!("./dir/token 1001:0 640 {token}")),
            "writer did not see its data:\n{written}"
        );
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.client.clone(), &ns);
        let pv_name = pvcs
            .get("data")
            .await
            .unwrap()
            .spec
            .unwrap()
            .volume_name
            .unwrap();
        let pv = Api::<PersistentVolume>::all(env.client.clone())
            .get(&pv_name)
            .await
            .unwrap();
        let csi = pv.spec.unwrap().csi.expect("the PV is not a CSI volume");
        assert_eq!(csi.driver, DRIVER);

        // its snapshot becomes ready
        let snap = serde_json::json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "snap"},
            "spec": {
                "volumeSnapshotClassName": SNAPSHOT_CLASS,
                "source": {"persistentVolumeClaimName": "data"},
            },
        });
        env.apply(&ns, &snap.to_string()).await.unwrap();
        let snaps = snapshot_api(&env, &ns);
        wait_until(LONG, "VolumeSnapshot snap readyToUse", || {
            let snaps = snaps.clone();
            async move {
                let s = snaps.get("snap").await?;
                Ok(s.data["status"]["readyToUse"] == serde_json::json!(true))
            }
        })
        .await
        .unwrap();
        let status = snaps.get("snap").await.unwrap().data["status"].clone();
        let content_name = status["boundVolumeSnapshotContentName"]
            .as_str()
            .expect("no bound VolumeSnapshotContent")
            .to_owned();
        let contents = content_api(&env);
        let content = contents.get(&content_name).await.unwrap();
        assert_eq!(content.data["spec"]["driver"], DRIVER);
        assert!(
            content.data["status"]["snapshotHandle"]
                .as_str()
                .is_some_and(|h| !h.is_empty()),
            "content {content_name} has no snapshot handle: {}",
            content.data["status"]
        );

        // the volume changes after the snapshot: the restore must not see it
        run_with_volume(
            &env,
            &ns,
            "changer",
            "data",
            "printf changed > /data/dir/token; rm /data/dir/deeper/other; touch /data/new",
        )
        .await;

        // a new volume from the snapshot holds exactly the data of the snapshot
        env.apply(&ns, &pvc("restored", Some("snap")))
            .await
            .unwrap();
        let restored = run_with_volume(&env, &ns, "reader", "restored", READ).await;
        assert_eq!(
            restored, written,
            "the restored volume differs from the snapshotted one"
        );
        let restored_pvc = pvcs.get("restored").await.unwrap();
        assert_eq!(
            restored_pvc.status.and_then(|s| s.phase).as_deref(),
            Some("Bound"),
            "restored PVC not bound"
        );

        // deleting the snapshot removes its content (deletionPolicy Delete)
        snaps
            .delete("snap", &DeleteParams::default())
            .await
            .unwrap();
        wait_until(
            LONG,
            &format!("VolumeSnapshotContent {content_name} to be deleted"),
            || {
                let contents = contents.clone();
                let content_name = content_name.clone();
                async move { Ok(contents.get_opt(&content_name).await?.is_none()) }
            },
        )
        .await
        .unwrap();
    })
    .await;
}
