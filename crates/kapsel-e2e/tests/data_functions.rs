//! Every Kanister data function on the cluster, through a Blueprint of our
//! own run with `kapsel run --kubeconfig` against a two-pod StatefulSet with
//! a volume each, storing in SeaweedFS S3 (and first the exec and task
//! functions: KubeExec, KubeExecAll, PrepareData, MultiContainerRun): BackupData, BackupDataStats,
//! CheckRepository, BackupDataAll, CopyVolumeData; RestoreData (by ID, into
//! the pod's volumes; by the volume copy), RestoreDataAll; CheckRepository
//! with a wrong key; DeleteData, DeleteDataAll, and BackupDataStats of the
//! deleted backup failing. kando runs in the target container (BackupData*)
//! or in task pods (the rest), as Kanister runs restic; the repository key
//! comes from a Secret and appears in no pod, event or output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kapsel_e2e::flow::{Stage, prepare, rewrite_images, sh_in};
use kapsel_e2e::{Env, image};

const REPO_KEY: &str = "kapsel-e2e-repo-key-7a41d";

const BLUEPRINT: &str = r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: data-functions
actions:
  backup:
    outputArtifacts:
      snap:
        keyValue:
          backupID: "{{ .Phases.backup.Output.backupID }}"
          backupTag: "{{ .Phases.backup.Output.backupTag }}"
          all: "{{ .Phases.backupAll.Output.BackupAllInfo }}"
          volID: "{{ .Phases.copyVolume.Output.backupID }}"
          volRoot: "{{ .Phases.copyVolume.Output.backupRoot }}"
    phases:
    - func: BackupData
      name: backup
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pod: "{{ index .StatefulSet.Pods 0 }}"
        container: main
        includePath: /data
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        encryptionKey: '{{ index .Phases.backup.Secrets.repo.Data "key" | toString }}'
    - func: BackupDataStats
      name: stats
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        backupID: "{{ .Phases.backup.Output.backupID }}"
        encryptionKey: '{{ index .Phases.stats.Secrets.repo.Data "key" | toString }}'
    - func: CheckRepository
      name: check
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        encryptionKey: '{{ index .Phases.check.Secrets.repo.Data "key" | toString }}'
    - func: BackupDataAll
      name: backupAll
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        container: main
        includePath: /data
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/all"
        encryptionKey: '{{ index .Phases.backupAll.Secrets.repo.Data "key" | toString }}'
    - func: CopyVolumeData
      name: copyVolume
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        volume: "data-{{ index .StatefulSet.Pods 0 }}"
        dataArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/vol"
        encryptionKey: '{{ index .Phases.copyVolume.Secrets.repo.Data "key" | toString }}'
  execs:
    phases:
    - func: KubeExec
      name: exec
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pod: "{{ index .StatefulSet.Pods 1 }}"
        container: main
        command: [sh, -c, 'echo "read $(cat /data/name)" >&2; kando output name "$(cat /data/name)"']
    - func: KubeExec
      name: execSecret
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pod: "{{ index .StatefulSet.Pods 0 }}"
        container: main
        command: [sh, -c, 'kando output keyLength "${#1}"', sh, '{{ index .Phases.execSecret.Secrets.repo.Data "key" | toString }}']
    - func: KubeExecAll
      name: execAll
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pods: "{{ index .StatefulSet.Pods 0 }} {{ index .StatefulSet.Pods 1 }}"
        containers: main
        command: [sh, -c, 'cat /data/name > /data/seen-by-exec-all']
    - func: PrepareData
      name: prepare
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        image: ghcr.io/kanisterio/kanister-tools:0.119.0
        volumes:
          'data-{{ index .StatefulSet.Pods 1 }}': /mnt/prepared
        command: [sh, -c, 'kando output seen "$(cat /mnt/prepared/seen-by-exec-all)"; rm /mnt/prepared/seen-by-exec-all']
    - func: MultiContainerRun
      name: multi
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        initImage: TOOLS_IMAGE
        initCommand: [sh, -c, 'echo from-init > /tmp/shared/init']
        backgroundImage: TOOLS_IMAGE
        backgroundCommand: [sh, -c, 'echo "$(cat /tmp/shared/init) from-background" > /tmp/shared/bg.tmp && mv /tmp/shared/bg.tmp /tmp/shared/bg']
        outputImage: TOOLS_IMAGE
        outputCommand: [sh, -c, 'while [ ! -e /tmp/shared/bg ]; do sleep 0.1; done; kando output multi "$(cat /tmp/shared/bg)"']
        sharedVolumeDir: /tmp/shared
  restoreByID:
    inputArtifactNames: [snap]
    phases:
    - func: RestoreData
      name: restore
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        image: ghcr.io/kanisterio/kanister-tools:0.119.0
        pod: "{{ index .StatefulSet.Pods 0 }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        backupIdentifier: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        encryptionKey: '{{ index .Phases.restore.Secrets.repo.Data "key" | toString }}'
  restoreAll:
    inputArtifactNames: [snap]
    phases:
    - func: RestoreDataAll
      name: restore
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        image: ghcr.io/kanisterio/kanister-tools:0.119.0
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/all"
        backupInfo: "{{ .ArtifactsIn.snap.KeyValue.all }}"
        encryptionKey: '{{ index .Phases.restore.Secrets.repo.Data "key" | toString }}'
  restoreVolume:
    inputArtifactNames: [snap]
    phases:
    - func: RestoreData
      name: restore
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        image: ghcr.io/kanisterio/kanister-tools:0.119.0
        # the volume where the copy's absolute paths (its backupRoot) lead
        volumes:
          'data-{{ index .StatefulSet.Pods 0 }}': "{{ .ArtifactsIn.snap.KeyValue.volRoot }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/vol"
        backupIdentifier: "{{ .ArtifactsIn.snap.KeyValue.volID }}"
        encryptionKey: '{{ index .Phases.restore.Secrets.repo.Data "key" | toString }}'
  checks:
    phases:
    - func: CheckRepository
      name: wrongKey
      args:
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        encryptionKey: not-the-key
    - func: CheckRepository
      name: missing
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/nothing-here"
        encryptionKey: '{{ index .Phases.missing.Secrets.repo.Data "key" | toString }}'
  delete:
    inputArtifactNames: [snap]
    phases:
    - func: DeleteData
      name: delete
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        backupID: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        reclaimSpace: true
        encryptionKey: '{{ index .Phases.delete.Secrets.repo.Data "key" | toString }}'
    - func: DeleteDataAll
      name: deleteAll
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/all"
        backupInfo: "{{ .ArtifactsIn.snap.KeyValue.all }}"
        reclaimSpace: "true"
        encryptionKey: '{{ index .Phases.deleteAll.Secrets.repo.Data "key" | toString }}'
    - func: BackupDataStats
      name: gone
      objects:
        repo: {kind: Secret, name: repo-key, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        backupID: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        encryptionKey: '{{ index .Phases.gone.Secrets.repo.Data "key" | toString }}'
"#;

/// Two pods, each with its own volume `data` at /data, the tools image
/// (kando) in the container `main`.
fn workload() -> String {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "app"},
        "spec": {"replicas": 2, "serviceName": "app", "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "data-functions"}},
            "template": {"metadata": {"labels": {"app": "data-functions"}},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "main", "image": image("tools"),
                    "command": ["sleep", "36000"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    .to_string()
}

/// Files in a pod's /data: a few sizes, a subdirectory, a symlink and the
/// pod's name in one of them (so the two pods' data differ).
async fn write_data(env: &Env, ns: &str, pod: &str) {
    sh_in(env, ns, pod, Some("main"), &format!(
        "mkdir -p /data/sub/deeper && head -c 300000 /dev/urandom > /data/big && echo {pod} > /data/name \
         && seq 1 5000 > /data/sub/numbers && : > /data/sub/deeper/empty && ln -s ../name /data/sub/link && chmod 0640 /data/big"
    ))
    .await;
}

/// What a pod's /data holds: paths, types, modes, sizes and contents.
async fn fingerprint(env: &Env, ns: &str, pod: &str) -> String {
    sh_in(env, ns, pod, Some("main"),
        "cd /data && find . -mindepth 1 | sort | while read -r p; do \
           if [ -L \"$p\" ]; then echo \"$p link $(readlink \"$p\")\"; \
           elif [ -d \"$p\" ]; then echo \"$p dir $(stat -c %a \"$p\")\"; \
           else echo \"$p file $(stat -c '%a %s' \"$p\") $(md5sum < \"$p\" | cut -c1-32)\"; fi; done")
    .await
}

async fn destroy(env: &Env, ns: &str, pod: &str) {
    sh_in(
        env,
        ns,
        pod,
        Some("main"),
        "rm -rf /data/* && ls -A /data | wc -l",
    )
    .await;
}

/// The status of the first action of a written ActionSet.
fn status(st: &Stage, file: &str) -> serde_json::Value {
    let set: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(st.run.file(file)).unwrap()).unwrap();
    set["status"].clone()
}

#[tokio::test]
async fn every_data_function_on_the_cluster() {
    let Some(p) = prepare("data-functions").await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        // `image:` lines are rewritten to the testbed's tools image, and the
        // MultiContainerRun images named TOOLS_IMAGE
        let bp = rewrite_images(BLUEPRINT).replace("TOOLS_IMAGE", &image("tools"));
        std::fs::write(st.run.file("blueprint.yaml"), bp).unwrap();
        let key = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "repo-key"},
            "stringData": {"key": REPO_KEY}});
        env.apply(&ns, &key.to_string()).await.unwrap();
        env.apply(&ns, &workload()).await.unwrap();
        for i in 0..2 {
            let pod = format!("app-{i}");
            kapsel_e2e::wait_until(std::time::Duration::from_secs(180), "the pods", || {
                let (env, ns, pod) = (env.clone(), ns.clone(), pod.clone());
                async move { Ok(env.pods(&ns).get_opt(&pod).await?.and_then(|p| p.status).and_then(|s| s.container_statuses).is_some_and(|c| c.iter().all(|c| c.ready))) }
            })
            .await
            .unwrap();
        }
        let mut want = Vec::new();
        for pod in ["app-0", "app-1"] {
            write_data(&env, &ns, pod).await;
            want.push(fingerprint(&env, &ns, pod).await);
        }
        assert_ne!(want[0], want[1]);

        let object = format!("statefulset/{ns}/app");
        // the exec and task functions first: KubeExec (output), KubeExecAll
        // (both pods), PrepareData (a pod's volume), MultiContainerRun
        // (init, background and output sharing a volume)
        st.act("execs", &object, "execs.yaml", &[]);
        let s = status(&st, "execs.yaml");
        let phases = &s["actions"][0]["phases"];
        assert_eq!(phases[0]["output"]["name"], "app-1", "{s}");
        // a command holding a secret: sent as a script on stdin (`sh -s`),
        // not as the exec request's argv, and run exactly
        assert_eq!(phases[1]["output"]["keyLength"], REPO_KEY.len().to_string(), "{s}");
        assert_eq!(phases[3]["output"]["seen"], "app-1", "{s}");
        assert_eq!(phases[4]["output"]["multi"], "from-init from-background", "{s}");
        for pod in ["app-0", "app-1"] {
            let seen = sh_in(&env, &ns, pod, Some("main"), "cat /data/seen-by-exec-all 2>/dev/null || echo none").await;
            let expected = if pod == "app-0" { "app-0" } else { "none" };
            assert_eq!(seen.trim(), expected, "KubeExecAll in {pod} (PrepareData removed app-1's)");
        }
        sh_in(&env, &ns, "app-0", Some("main"), "rm /data/seen-by-exec-all").await;

        st.act("backup", &object, "backup.yaml", &[]);
        let s = status(&st, "backup.yaml");
        let phases = &s["actions"][0]["phases"];
        let out = |i: usize, k: &str| phases[i]["output"][k].as_str().unwrap_or_default().to_string();
        assert_eq!(out(0, "fileCount"), "4", "{phases}");
        assert_eq!(out(0, "version"), "v0.0.0");
        assert_eq!(out(0, "backupTag").len(), 10);
        assert_eq!(out(1, "mode"), "restore-size");
        assert_eq!(out(1, "fileCount"), "4");
        assert_eq!(out(1, "size"), out(0, "size"));
        assert_eq!(out(2, "passwordIncorrect"), "false");
        assert_eq!(out(2, "repoUnavailable"), "false");
        let info: serde_json::Value = serde_json::from_str(&out(3, "BackupAllInfo")).unwrap();
        assert_eq!(info.as_object().unwrap().keys().collect::<Vec<_>>(), ["app-0", "app-1"], "{info}");
        assert_eq!(out(4, "backupRoot"), "/mnt/vol_data/data-app-0", "{phases}");
        assert_eq!(out(4, "fileCount"), "4");

        // each restore brings the destroyed data back, exactly
        for (action, pods) in [("restoreByID", &["app-0"][..]), ("restoreAll", &["app-0", "app-1"][..]), ("restoreVolume", &["app-0"][..])] {
            for pod in pods {
                destroy(&env, &ns, pod).await;
            }
            st.act(action, &object, &format!("{action}.yaml"), &["--from", "backup.yaml"]);
            for pod in pods {
                let i: usize = pod.trim_start_matches("app-").parse().unwrap();
                assert_eq!(fingerprint(&env, &ns, pod).await, want[i], "{action} into {pod}");
            }
        }

        st.act("checks", &object, "checks.yaml", &[]);
        let s = status(&st, "checks.yaml");
        assert_eq!(s["actions"][0]["phases"][0]["output"]["passwordIncorrect"], "true", "{s}");
        assert_eq!(s["actions"][0]["phases"][1]["output"]["repoUnavailable"], "true", "{s}");

        // delete: both deletions complete, the deleted backup is gone
        let out = st.run.kapsel(&["-b", "blueprint.yaml", "-a", "delete", "--from", "backup.yaml", "-o", &object,
            "-p", "profile.yaml", "-w", "delete.yaml"]);
        assert!(!out.status.success(), "the stats of a deleted backup must fail");
        let s = status(&st, "delete.yaml");
        let phases = &s["actions"][0]["phases"];
        assert_eq!(phases[0]["state"], "complete", "{s}");
        // a number; 0 here: a prune deletes the packs only a snapshot used
        // after a grace period (`keep_delete`, an hour by default, docs/format.md §10.2), so
        // that a backup running beside it can still use them
        phases[0]["output"]["spaceFreed"].as_str().unwrap().parse::<u64>().unwrap();
        assert_eq!(phases[1]["state"], "complete", "{s}");
        assert_eq!(phases[2]["state"], "failed", "{s}");
        assert!(s["error"]["message"].as_str().unwrap().contains("BackupDataStats"), "{s}");
        st.finish(&[REPO_KEY]).await;
    })
    .await;
}
