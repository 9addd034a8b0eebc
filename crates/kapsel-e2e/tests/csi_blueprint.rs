//! Kanister's csi-snapshot Blueprint, unchanged, through the controller
//! that charts/kapsel installs (Kanister-format ActionSets, `kubectl
//! apply`; `kapsel_e2e::via`) on the testbed's CSI hostpath driver: CreateCSISnapshot
//! while a writer appends numbered lines to the volume → the volume's data
//! destroyed → restore (ScaleWorkload 0, KubeOps delete of the PVC,
//! RestoreCSISnapshot, ScaleWorkload 1) gives back a gap-free prefix of the
//! lines holding at least every line written before the backup started →
//! delete (DeleteCSISnapshot) removes the VolumeSnapshot and its content.
//! The Blueprint's classes are named `do-block-storage`; the test creates a
//! StorageClass and a VolumeSnapshotClass of that name for the testbed's
//! driver (`hostpath.csi.k8s.io`). Skipped, saying so, without a cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kapsel_e2e::run::Run;
use kapsel_e2e::via::{Controlled, Via};
use kapsel_e2e::{Env, image, kanister_examples, kapsel_bin, wait_until};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

const CLASS: &str = "do-block-storage";
const DRIVER: &str = "hostpath.csi.k8s.io";

/// The API resource of a `snapshot.storage.k8s.io/v1` kind.
fn snapshot_api(kind: &str) -> ApiResource {
    ApiResource {
        group: "snapshot.storage.k8s.io".into(),
        version: "v1".into(),
        api_version: "snapshot.storage.k8s.io/v1".into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    }
}

/// The Blueprint's StorageClass and VolumeSnapshotClass names, on the
/// testbed's driver (cluster-scoped; created once, shared by runs).
async fn classes(env: &Env) {
    let docs = format!(
        r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {CLASS}
provisioner: {DRIVER}
reclaimPolicy: Delete
volumeBindingMode: Immediate
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: {CLASS}
driver: {DRIVER}
deletionPolicy: Delete
"#
    );
    kapsel_e2e::apply(&env.client, "default", &docs)
        .await
        .unwrap();
}

fn workload() -> String {
    format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: {CLASS}
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: writer
spec:
  replicas: 1
  selector: {{matchLabels: {{app: writer}}}}
  template:
    metadata: {{labels: {{app: writer}}}}
    spec:
      terminationGracePeriodSeconds: 0
      volumes:
      - name: data
        persistentVolumeClaim: {{claimName: data}}
      containers:
      - name: writer
        image: {image}
        volumeMounts: [{{name: data, mountPath: /data}}]
        command:
        - sh
        - -c
        - |
          n=$(wc -l < /data/lines 2>/dev/null || echo 0)
          while true; do n=$((n+1)); echo "$n" >> /data/lines; sync /data/lines; sleep 0.05; done
"#,
        image = image("tools"),
    )
}

async fn writer_pod(env: &Env, ns: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        for p in pods
            .list(&ListParams::default().labels("app=writer"))
            .await
            .unwrap()
            .items
        {
            let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if running && p.metadata.deletion_timestamp.is_none() {
                return p.metadata.name.unwrap_or_default();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writer pod in {ns} did not run within 180 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn lines(env: &Env, ns: &str, pod: &str) -> Vec<String> {
    let out = env
        .exec(ns, pod, Some("writer"), &["cat", "/data/lines"])
        .await
        .unwrap();
    out.stdout.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csi_snapshot_backup_restore_delete() {
    let test = "bp-csi-snapshot";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let Some(examples) = kanister_examples(test) else {
        return;
    };
    classes(&env).await;
    env.run(move |env, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            examples.join("csi-snapshot/csi-snapshot-blueprint.yaml"),
            dir.path().join("blueprint.yaml"),
        )
        .unwrap();
        let (bin, kubeconfig) = (
            kapsel_bin().unwrap(),
            PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
        );
        // Through the controller the chart installs, from Kanister-format
        // ActionSets (a `kapsel controller` process without Helm).
        let mut ctl = Controlled::install(&bin, &kubeconfig, &ns, Via::KubectlApply)
            .unwrap_or_else(|| {
                Controlled::start(&bin, &kubeconfig, &ns, dir.path(), Via::KubectlApply)
            });
        let mut act = |what: (&str, &str, &str), args: &[&str]| {
            ctl.act(&bin, &kubeconfig, &ns, dir.path(), what, args)
        };
        env.apply(&ns, &workload()).await.unwrap();
        let pod = writer_pod(&env, &ns).await;
        wait_until(Duration::from_secs(60), "lines to be written", || {
            let (env, ns, pod) = (env.clone(), ns.clone(), pod.clone());
            async move { Ok(lines(&env, &ns, &pod).await.len() >= 20) }
        })
        .await
        .unwrap();
        let before = lines(&env, &ns, &pod).await.len();

        let object = format!("deployment/{ns}/writer");
        let backup = act(("backup", &object, "backup.yaml"), &[]);
        assert!(
            backup.contains("\"snapshotContent\":\"snapcontent-"),
            "{backup}"
        );
        let vs_api = snapshot_api("VolumeSnapshot");
        let snaps: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &ns, &vs_api);
        let listed = snaps.list(&ListParams::default()).await.unwrap().items;
        assert_eq!(listed.len(), 1, "one VolumeSnapshot");
        let snap_name = listed[0].metadata.name.clone().unwrap();
        assert!(snap_name.starts_with("data-snapshot-"), "{snap_name}");
        let content = listed[0].data["status"]["boundVolumeSnapshotContentName"]
            .as_str()
            .unwrap()
            .to_string();

        // destroy the data
        env.exec(
            &ns,
            &pod,
            Some("writer"),
            &["sh", "-c", "echo destroyed > /data/lines"],
        )
        .await
        .unwrap();

        act(
            ("restore", &object, "restore.yaml"),
            &["--from", "backup.yaml"],
        );
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.client.clone(), &ns);
        let pvc = pvcs.get("data").await.unwrap();
        assert_eq!(
            pvc.spec
                .as_ref()
                .and_then(|s| s.data_source.as_ref())
                .map(|d| d.name.clone()),
            Some(snap_name.clone()),
            "the PVC was recreated from the snapshot"
        );
        let pod = writer_pod(&env, &ns).await;
        let restored = lines(&env, &ns, &pod).await;
        // complete lines form 1..k with no gap (the writer appends again
        // after the restart), and every line written before the backup is back
        let numbers: Vec<u64> = restored.iter().filter_map(|l| l.parse().ok()).collect();
        assert!(!restored.iter().any(|l| l == "destroyed"), "{restored:?}");
        for (i, n) in numbers.iter().enumerate() {
            assert_eq!(*n, i as u64 + 1, "lines after restore: {numbers:?}");
        }
        assert!(
            numbers.len() >= before,
            "{} lines < {before}",
            numbers.len()
        );

        act(
            ("delete", &object, "delete.yaml"),
            &["--from", "backup.yaml"],
        );
        kapsel_e2e::evidence::text("csi-controller-log", &ctl.log());
        drop(ctl);
        assert!(snaps.get_opt(&snap_name).await.unwrap().is_none());
        let vsc_api = snapshot_api("VolumeSnapshotContent");
        let contents: Api<DynamicObject> = Api::all_with(env.client.clone(), &vsc_api);
        wait_until(
            Duration::from_secs(60),
            "the snapshot content to be gone",
            || {
                let (contents, content) = (contents.clone(), content.clone());
                async move { Ok(contents.get_opt(&content).await?.is_none()) }
            },
        )
        .await
        .unwrap();
    })
    .await;
}

/// A Blueprint of Kapsel's own for the CSI functions the published one does
/// not use: CreateCSISnapshotStatic over an existing snapshot's handle,
/// RestoreCSISnapshot from it, DeleteCSISnapshot and
/// DeleteCSISnapshotContent.
const STATIC_BP: &str = r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: csi-static
actions:
  snap:
    phases:
    - func: CreateCSISnapshot
      name: snap
      args: {pvc: data, namespace: "{{ .Namespace.Name }}", snapshotClass: do-block-storage, name: first}
  static:
    outputArtifacts:
      static:
        keyValue:
          content: "{{ .Phases.static.Output.snapshotContent }}"
          size: "{{ .Phases.static.Output.restoreSize }}"
    phases:
    - func: CreateCSISnapshotStatic
      name: static
      args:
        name: second
        namespace: "{{ .Namespace.Name }}"
        driver: hostpath.csi.k8s.io
        snapshotHandle: "{{ .Options.handle }}"
        snapshotClass: kapsel-e2e-retain
    - func: RestoreCSISnapshot
      name: restore
      args:
        name: second
        pvc: copy
        namespace: "{{ .Namespace.Name }}"
        storageClass: do-block-storage
        restoreSize: "{{ .Phases.static.Output.restoreSize }}"
  cleanup:
    inputArtifactNames: [static]
    phases:
    - func: DeleteCSISnapshot
      name: vs
      args: {name: second, namespace: "{{ .Namespace.Name }}"}
    - func: DeleteCSISnapshotContent
      name: vsc
      args: {name: "{{ .ArtifactsIn.static.KeyValue.content }}"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csi_static_snapshot_restore_and_content_deletion() {
    let test = "fn-csi-static";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    classes(&env).await;
    kapsel_e2e::apply(
        &env.client,
        "default",
        &format!(
            "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata:\n  name: kapsel-e2e-retain\ndriver: {DRIVER}\ndeletionPolicy: Retain\n"
        ),
    )
    .await
    .unwrap();
    env.run(move |env, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bp.yaml"), STATIC_BP).unwrap();
        let mut run = Run {
            dir: dir.path().to_path_buf(),
            kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
            bin: kapsel_bin().unwrap(),
            outputs: Vec::new(),
        };
        env.apply(&ns, &workload()).await.unwrap();
        let pod = writer_pod(&env, &ns).await;
        env.exec(
            &ns,
            &pod,
            Some("writer"),
            &["sh", "-c", "echo static-content > /data/marker; sync"],
        )
        .await
        .unwrap();
        let object = format!("namespace/{ns}");
        run.ok("snap", &["-b", "bp.yaml", "-a", "snap", "-o", &object]);
        let vs_api = snapshot_api("VolumeSnapshot");
        let vsc_api = snapshot_api("VolumeSnapshotContent");
        let snaps: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &ns, &vs_api);
        let contents: Api<DynamicObject> = Api::all_with(env.client.clone(), &vsc_api);
        let first = snaps.get("first").await.unwrap();
        let first_content = first.data["status"]["boundVolumeSnapshotContentName"]
            .as_str()
            .unwrap()
            .to_string();
        let handle = contents.get(&first_content).await.unwrap().data["status"]["snapshotHandle"]
            .as_str()
            .unwrap()
            .to_string();

        let opt = format!("handle={handle}");
        run.ok(
            "static",
            &[
                "-b",
                "bp.yaml",
                "-a",
                "static",
                "-o",
                &object,
                "--option",
                &opt,
                "-w",
                "static.yaml",
            ],
        );
        let written = std::fs::read_to_string(run.file("static.yaml")).unwrap();
        assert!(
            written.contains("content: second-content-"),
            "Kanister's naming: {written}"
        );
        // the restored claim holds the snapshotted file
        let reader = format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: reader}}
spec:
  restartPolicy: Never
  volumes: [{{name: d, persistentVolumeClaim: {{claimName: copy}}}}]
  containers:
  - {{name: r, image: {img}, command: [sleep, "3600"], volumeMounts: [{{name: d, mountPath: /d}}]}}
"#,
            img = image("tools")
        );
        env.apply(&ns, &reader).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(env.client.clone(), &ns);
        wait_until(Duration::from_secs(120), "the reader pod to run", || {
            let pods = pods.clone();
            async move {
                let p = pods.get("reader").await?;
                Ok(p.status.and_then(|s| s.phase).as_deref() == Some("Running"))
            }
        })
        .await
        .unwrap();
        let out = env
            .exec(&ns, "reader", Some("r"), &["cat", "/d/marker"])
            .await
            .unwrap();
        assert_eq!(out.stdout.trim(), "static-content");

        // DeleteCSISnapshot waits until the snapshot is gone; with a Retain
        // class its content stays until DeleteCSISnapshotContent
        let content = written
            .lines()
            .find_map(|l| l.trim().strip_prefix("content: "))
            .unwrap()
            .to_string();
        run.ok(
            "cleanup",
            &["-b", "bp.yaml", "-a", "cleanup", "--from", "static.yaml"],
        );
        assert!(snaps.get_opt("second").await.unwrap().is_none());
        wait_until(
            Duration::from_secs(60),
            "the static content to be gone",
            || {
                let (contents, content) = (contents.clone(), content.clone());
                async move { Ok(contents.get_opt(&content).await?.is_none()) }
            },
        )
        .await
        .unwrap();
        // the first snapshot, which shares the handle, is untouched
        assert!(snaps.get_opt("first").await.unwrap().is_some());
    })
    .await;
}
