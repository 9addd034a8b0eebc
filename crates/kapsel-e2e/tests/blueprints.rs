//! Kanister's published Blueprints, unchanged but for `image:`, and Kapsel's
//! own Kubernetes Blueprints, run with `kapsel run --kubeconfig` against
//! workloads on the testbed, storing data in SeaweedFS S3 (on the node's
//! address, reached from the pods) through a Profile whose credential is a
//! Secret in the cluster (the shared flow: `kapsel_e2e::flow`).
//! backup (while a client writes) → data destroyed → restore `--from` →
//! every row written before the backup is back, as one snapshot → delete →
//! nothing of the backup is left. No secret value in any output, ActionSet,
//! pod or event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kapsel_e2e::flow::{
    Source, Stage, kapsel_pods, no_kapsel_pods, prepare, rewrite_images, running_pod, sh_in,
    start_writer, stop_writer, tempfile_dir,
};
use kapsel_e2e::pg::{self, PG_PASSWORD};
use kapsel_e2e::run::Run;
use kapsel_e2e::via::Via;
use kapsel_e2e::{Env, image, kapsel_bin, wait_until};

#[tokio::test]
async fn time_log_backup_restore_delete_through_s3() {
    let Some(p) = prepare("bp-time-log").await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        let ex = st.examples.join("time-log");
        let read = |f: &str| std::fs::read_to_string(ex.join(f)).unwrap();
        // the workload, in this test's namespace
        env.apply(&ns, &rewrite_images(&read("time-logger-deployment.yaml")))
            .await
            .unwrap();
        st.blueprint(Source::Kanister("time-log/time-log-blueprint.yaml"));
        let log = |pod: String| {
            let (env, ns) = (env.clone(), ns.clone());
            async move { sh_in(&env, &ns, &pod, Some("test-container"), "cat /var/log/time.log").await }
        };
        let pod = running_pod(&env, &ns, "app=time-logger").await;
        wait_until(Duration::from_secs(60), "a few log lines", || {
            let (log, pod) = (&log, pod.clone());
            async move { Ok(log(pod).await.lines().count() >= 3) }
        })
        .await
        .unwrap();
        let before = log(pod.clone()).await;

        let object = format!("deployment/{ns}/time-logger");
        st.act("backup", &object, "backup.yaml", &[]);
        assert!(
            !st.s3.keys("time-log/").is_empty(),
            "the backup stored nothing under time-log/"
        );

        // destroy the data
        sh_in(&env, &ns, &pod, Some("test-container"), "rm /var/log/time.log").await;

        st.act("restore", &object, "restore.yaml", &["--from", "backup.yaml"]);
        let pod = running_pod(&env, &ns, "app=time-logger").await;
        let after = log(pod).await;
        assert!(
            after.starts_with(&before),
            "every line written before the backup must be back.\nbefore:\n{before}\nafter:\n{after}"
        );

        st.act("delete", &object, "delete.yaml", &["--from", "backup.yaml"]);
        assert_eq!(
            st.s3.keys("time-log/"),
            Vec::<String>::new(),
            "the delete left data"
        );
        st.finish(&[]).await;
    })
    .await;
}

const MARIA_PASSWORD: &str = "kapsel-maria-root";

/// A PostgreSQL Blueprint and the artifact (name, key) locating its dump.
struct PgCase {
    test: &'static str,
    blueprint: Source,
    artifact: (&'static str, &'static str),
    /// Through the controller (an ActionSet made this way), else `kapsel run`.
    via: Option<Via>,
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
        via: Some(Via::KubectlApply),
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
        via: Some(Via::ActionsetCreate),
        blueprint: Source::Kapsel("blueprints/kubernetes/postgresql.yaml"),
        artifact: ("pgDump", "path"),
    })
    .await;
}

async fn postgres_round_trip(case: PgCase) {
    let Some(p) = prepare(case.test).await else {
        return;
    };
    p.env
        .clone()
        .run(move |env, ns| async move {
            let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
            if let Some(via) = case.via {
                st.through_controller(via);
            }
            env.apply(&ns, &kapsel_e2e::fixture("postgresql").unwrap())
                .await
                .unwrap();
            st.blueprint(case.blueprint);
            pg::postgres_ready(&env, &ns).await;
            let before = pg::start_rows(&env, &ns).await;

            let object = format!("statefulset/{ns}/my-release-postgresql");
            // Kanister's Blueprint renders the database password into its
            // KubeTask's command: Kapsel keeps such a command out of the pod spec.
            st.backup_watched(&object, &[PG_PASSWORD]).await;
            let source = pg::stop_and_destroy(&env, &ns, before).await;

            st.act(
                "restore",
                &object,
                "restore.yaml",
                &["--from", "backup.yaml"],
            );
            let stats = pg::check_restored(&env, &ns, &source, before).await;

            // migration: the same backup restored into a fresh workload in
            // another namespace
            let other = env.create_namespace().await.unwrap();
            env.apply(&other, &kapsel_e2e::fixture("postgresql").unwrap())
                .await
                .unwrap();
            pg::postgres_ready(&env, &other).await;
            st.reach(&other);
            let target = format!("statefulset/{other}/my-release-postgresql");
            st.act(
                "restore",
                &target,
                "migrate.yaml",
                &["--from", "backup.yaml"],
            );
            let migrated = pg::psql(&env, &other, "SELECT count(*), min(id), max(id) FROM t").await;
            env.delete_namespace(&other).await.unwrap();
            assert_eq!(migrated, stats, "the other namespace got another state");

            // delete: the dump's snapshot is gone from the location
            let location = st.artifact("backup.yaml", case.artifact.0)["keyValue"][case.artifact.1]
                .as_str()
                .unwrap()
                .to_string();
            // Kanister's docs run this delete on the namespace
            // (`kanctl create actionset --action delete --namespacetargets`).
            st.act(
                "delete",
                &format!("namespace/{ns}"),
                "delete.yaml",
                &["--from", "backup.yaml"],
            );
            let pull = st.pull(&location, None);
            assert!(
                !pull.status.success(),
                "the deleted dump can still be pulled"
            );
            assert!(
                String::from_utf8_lossy(&pull.stderr).contains("no snapshot"),
                "{}",
                String::from_utf8_lossy(&pull.stderr)
            );
            st.finish(&[PG_PASSWORD]).await;
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

/// A MySQL-protocol workload of the testbed and a Blueprint for it.
struct SqlCase {
    test: &'static str,
    blueprint: Source,
    /// Through the controller (an ActionSet made this way), else `kapsel run`.
    via: Option<Via>,
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
    let Some(p) = prepare(case.test).await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        if let Some(via) = case.via {
            st.through_controller(via);
        }
        env.apply(&ns, &kapsel_e2e::fixture(case.fixture).unwrap()).await.unwrap();
        st.blueprint(case.blueprint);
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
        start_writer(&env, &ns,
            serde_json::json!([{"name": "MYSQL_PWD", "valueFrom": {"secretKeyRef": {"name": case.statefulset, "key": case.secret_key}}}]),
            &format!("mysql -h {} -u root -e \"INSERT INTO bank.t (v) VALUES ('row')\" || sleep 1", case.statefulset)).await;
        wait_until(Duration::from_secs(120), "the writer's first rows", || {
            let (env, ns) = (env.clone(), ns.clone());
            let case = &case;
            async move { Ok(mysql(&env, &ns, case, "SELECT count(*) FROM bank.t").await.parse::<u64>().unwrap_or(0) >= 20) }
        })
        .await
        .unwrap();
        let before: u64 = mysql(&env, &ns, &case, "SELECT max(id) FROM bank.t").await.parse().unwrap();

        let object = format!("statefulset/{ns}/{}", case.statefulset);
        st.backup_watched(&object, &[case.password]).await;
        let during: u64 = mysql(&env, &ns, &case, "SELECT max(id) FROM bank.t").await.parse().unwrap();
        assert!(during > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        // keep the ids the table held (auto-increment values can be skipped
        // by failed inserts, so "no gap" is checked against these), then
        // destroy the data
        mysql(&env, &ns, &case, "CREATE DATABASE saved; CREATE TABLE saved.ids AS SELECT id FROM bank.t").await;
        mysql(&env, &ns, &case, "DROP DATABASE bank").await;

        st.act("restore", &object, "restore.yaml", &["--from", "backup.yaml"]);
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
        let (artifact, key, snapshot) = case.artifact;
        let found = st.artifact("backup.yaml", artifact);
        let located = if snapshot { found["kopiaSnapshot"].as_str() } else { found["keyValue"][key].as_str() }
            .unwrap_or_else(|| panic!("artifact {artifact}: {found}"))
            .to_string();
        st.act("delete", &format!("namespace/{ns}"), "delete.yaml", &["--from", "backup.yaml"]);
        let pulled = if snapshot {
            st.pull(case.snapshot_path, Some(&located))
        } else {
            st.pull(&located, None)
        };
        assert!(!pulled.status.success(), "the deleted dump can still be pulled");
        st.finish(&[case.password]).await;
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
        via: Some(Via::KubectlApply),
        blueprint: Source::Kanister("mysql/mysql-blueprint.yaml"),
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
        via: None,
        blueprint: Source::Kanister("maria/maria-blueprint.yaml"),
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
        via: Some(Via::KubectlApply),
        blueprint: Source::Kanister("maria/blueprint-v2/maria-blueprint.yaml"),
        fixture: "mariadb",
        statefulset: "my-release-mariadb",
        secret_key: "mariadb-root-password",
        password: MARIA_PASSWORD,
        artifact: ("mariaBackup", "", true),
        snapshot_path: "dump.sql",
    })
    .await;
}

/// Kapsel's own MariaDB Blueprint for Kubernetes
/// (blueprints/kubernetes/mariadb.yaml: mariadb-dump in a task pod that
/// reads the password from the workload's Secret through its environment).
#[tokio::test]
async fn kapsel_mariadb_blueprint_on_kubernetes() {
    sql_round_trip(SqlCase {
        test: "bp-kapsel-mariadb",
        via: Some(Via::ActionsetCreate),
        blueprint: Source::Kapsel("blueprints/kubernetes/mariadb.yaml"),
        fixture: "mariadb",
        statefulset: "my-release-mariadb",
        secret_key: "mariadb-root-password",
        password: MARIA_PASSWORD,
        artifact: ("mysqlDump", "path", false),
        snapshot_path: "",
    })
    .await;
}

const REDIS_POD: &str = "my-release-master-0";
const REDIS_PASSWORD: &str = "kapsel-redis-secret";

/// `redis-cli` in the testbed's Redis pod; its raw output.
async fn redis(env: &Env, ns: &str, args: &str) -> String {
    sh_in(
        env,
        ns,
        REDIS_POD,
        None,
        &format!("REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --raw {args}"),
    )
    .await
    .trim()
    .to_string()
}

/// A Redis Blueprint and the artifact (name, key) locating its dump.
struct RedisCase {
    test: &'static str,
    blueprint: Source,
    artifact: (&'static str, &'static str),
    /// Through the controller (an ActionSet made this way), else `kapsel run`.
    via: Option<Via>,
}

/// Backup while a client writes (each write, atomically, increments
/// `counter` to n and sets `key:n`), destroy (FLUSHALL), restore `--from`:
/// one snapshot means `key:1..=counter` all exist and nothing else; every
/// write acknowledged before the backup is back; delete; the password is in
/// no task pod.
async fn redis_round_trip(case: RedisCase) {
    let Some(p) = prepare(case.test).await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        if let Some(via) = case.via {
            st.through_controller(via);
        }
        env.apply(&ns, &kapsel_e2e::fixture("redis").unwrap()).await.unwrap();
        st.blueprint(case.blueprint);
        running_pod(&env, &ns, "app.kubernetes.io/name=redis").await;
        let write = "redis-cli -h my-release-master EVAL \"local n = redis.call('INCR', 'counter'); redis.call('SET', 'key:' .. n, 'v'); return n\" 0 > /dev/null || sleep 1";
        start_writer(&env, &ns,
            serde_json::json!([{"name": "REDISCLI_AUTH", "valueFrom": {"secretKeyRef": {"name": "my-release", "key": "redis-password"}}}]),
            write).await;
        let counter = || {
            let (env, ns) = (env.clone(), ns.clone());
            async move { redis(&env, &ns, "GET counter").await.parse::<u64>().unwrap_or(0) }
        };
        wait_until(Duration::from_secs(120), "the writer's first keys", || {
            let c = counter();
            async move { Ok(c.await >= 20) }
        })
        .await
        .unwrap();
        let before = counter().await;

        let object = format!("statefulset/{ns}/my-release-master");
        st.backup_watched(&object, &[REDIS_PASSWORD]).await;
        assert!(counter().await > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        redis(&env, &ns, "FLUSHALL").await;
        assert_eq!(redis(&env, &ns, "DBSIZE").await, "0");

        st.act("restore", &object, "restore.yaml", &["--from", "backup.yaml"]);
        let top = counter().await;
        assert!(top >= before, "writes acknowledged before the backup are missing: counter {top}, before {before}");
        let size: u64 = redis(&env, &ns, "DBSIZE").await.parse().unwrap();
        assert_eq!(size, top + 1, "not one snapshot: counter {top} but {size} keys");
        let missing = redis(&env, &ns, &format!("EVAL \"for i = 1, {top} do if redis.call('EXISTS', 'key:' .. i) == 0 then return i end end return 0\" 0")).await;
        assert_eq!(missing, "0", "key:{missing} is missing below the restored counter {top}");
        // the restored server is a master again, and takes writes
        assert!(redis(&env, &ns, "INFO replication").await.contains("role:master"));
        redis(&env, &ns, "SET after-restore yes").await;
        // and the restored data is what it persisted (its append-only
        // files): a restarted server loads it
        let old = env.pods(&ns).get(REDIS_POD).await.unwrap().metadata.uid;
        env.pods(&ns).delete(REDIS_POD, &Default::default()).await.unwrap();
        wait_until(Duration::from_secs(180), "a new Redis pod, ready", || {
            let (env, ns, old) = (env.clone(), ns.clone(), old.clone());
            async move {
                let Some(pod) = env.pods(&ns).get_opt(REDIS_POD).await? else {
                    return Ok(false);
                };
                let ready = pod.status.and_then(|s| s.container_statuses).is_some_and(|cs| cs.iter().all(|c| c.ready));
                Ok(pod.metadata.uid != old && ready)
            }
        })
        .await
        .unwrap();
        assert_eq!(redis(&env, &ns, "GET after-restore").await, "yes");
        assert_eq!(counter().await, top, "the restarted server lost the restored data");

        let location = st.artifact("backup.yaml", case.artifact.0)["keyValue"][case.artifact.1]
            .as_str()
            .unwrap()
            .to_string();
        st.act("delete", &format!("namespace/{ns}"), "delete.yaml", &["--from", "backup.yaml"]);
        assert!(!st.pull(&location, None).status.success(), "the deleted dump can still be pulled");
        st.finish(&[REDIS_PASSWORD]).await;
    })
    .await;
}

/// Kapsel's own Redis Blueprint for Kubernetes
/// (blueprints/kubernetes/redis.yaml: the RDB snapshot over the replication
/// protocol; restore by making the server a replica of the snapshot), on the
/// testbed's Redis with append-only persistence on, as Bitnami's chart has it.
#[tokio::test]
async fn kapsel_redis_blueprint_on_kubernetes() {
    redis_round_trip(RedisCase {
        test: "bp-kapsel-redis",
        via: Some(Via::ActionsetCreate),
        blueprint: Source::Kapsel("blueprints/kubernetes/redis.yaml"),
        artifact: ("redisRdb", "path"),
    })
    .await;
}

const ETCD_POD: &str = "my-release-etcd-0";

/// `etcdctl` in the testbed's etcd pod; its output.
async fn etcdctl(env: &Env, ns: &str, args: &str) -> String {
    sh_in(
        env,
        ns,
        ETCD_POD,
        None,
        &format!("ETCDCTL_API=3 etcdctl {args}"),
    )
    .await
    .trim()
    .to_string()
}

/// The keys `k/<n>` the writer has put: (how many, the highest n).
async fn etcd_keys(env: &Env, ns: &str) -> (u64, u64) {
    let keys = etcdctl(env, ns, "get k/ --prefix --keys-only").await;
    let n: Vec<u64> = keys
        .lines()
        .filter_map(|l| l.strip_prefix("k/"))
        .map(|x| x.parse().unwrap())
        .collect();
    (n.len() as u64, n.iter().copied().max().unwrap_or(0))
}

/// Kapsel's own etcd Blueprint for Kubernetes (blueprints/kubernetes/etcd.yaml:
/// the snapshot API streamed from a task pod; restore with the member
/// scaled down and its volume mounted in a PrepareData pod) on the testbed's
/// etcd laid out like the Bitnami chart, while a client puts keys k/1, k/2,
/// ... one after the other: the restored keys are exactly k/1..k/m (one
/// point in time), m at least what was acknowledged before the backup, and
/// the StatefulSet is back at its replica count.
#[tokio::test]
async fn kapsel_etcd_blueprint_on_kubernetes() {
    let Some(p) = prepare("bp-kapsel-etcd").await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        st.through_controller(Via::ActionsetCreate);
        env.apply(&ns, &kapsel_e2e::fixture("etcd").unwrap()).await.unwrap();
        st.blueprint(Source::Kapsel("blueprints/kubernetes/etcd.yaml"));
        running_pod(&env, &ns, "app.kubernetes.io/name=etcd").await;
        start_writer(&env, &ns, serde_json::json!([{"name": "ETCDCTL_API", "value": "3"}]),
            "i=$((i+1)); etcdctl --endpoints http://my-release-etcd:2379 put k/$(printf %08d $i) v > /dev/null || { i=$((i-1)); sleep 1; }").await;
        wait_until(Duration::from_secs(120), "the writer's first keys", || {
            let (env, ns) = (env.clone(), ns.clone());
            async move { Ok(etcd_keys(&env, &ns).await.0 >= 20) }
        })
        .await
        .unwrap();
        let (before, _) = etcd_keys(&env, &ns).await;

        let object = format!("statefulset/{ns}/my-release-etcd");
        st.backup_watched(&object, &[]).await;
        assert!(etcd_keys(&env, &ns).await.0 > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        etcdctl(&env, &ns, "del k/ --prefix").await;
        assert_eq!(etcd_keys(&env, &ns).await, (0, 0));

        st.act("restore", &object, "restore.yaml", &["--from", "backup.yaml"]);
        let pod = running_pod(&env, &ns, "app.kubernetes.io/name=etcd").await;
        assert_eq!(pod, ETCD_POD);
        let (count, top) = etcd_keys(&env, &ns).await;
        assert_eq!(count, top, "not one point in time: {count} keys up to k/{top}");
        assert!(top >= before, "keys acknowledged before the backup are missing: up to {top}, before {before}");
        // the member takes writes again
        etcdctl(&env, &ns, "put after-restore yes").await;

        let location = st.artifact("backup.yaml", "etcdSnapshot")["keyValue"]["path"]
            .as_str()
            .unwrap()
            .to_string();
        st.act("delete", &format!("namespace/{ns}"), "delete.yaml", &["--from", "backup.yaml"]);
        assert!(!st.pull(&location, None).status.success(), "the deleted snapshot can still be pulled");
        st.finish(&[]).await;
    })
    .await;
}
