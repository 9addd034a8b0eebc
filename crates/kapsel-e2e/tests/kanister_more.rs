//! More of Kanister's published Blueprints, unchanged but for `image:`, run
//! with `kapsel run --kubeconfig` against workloads on the testbed: the
//! `redis` Blueprint (redis-dump | gzip | kando location push; the image is
//! the testbed's `redis-tools`, tools + Node.js + redis-dump) and
//! `postgres-basic-pgdump` (pg_dumpall, then `aws s3 cp`; the image is the
//! testbed's `tools`, which has the AWS CLI). The flow is
//! `kapsel_e2e::flow`'s: backup while a client writes, data destroyed,
//! restore, every key/row committed before the backup is back under the
//! writer's invariant, delete (where the Blueprint has one), no secret value
//! anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use kapsel_e2e::flow::{Source, Stage, prepare, running_pod, sh_in, start_writer, stop_writer};
use kapsel_e2e::pg::{self, PG_PASSWORD};
use kapsel_e2e::via::Via;
use kapsel_e2e::wait_until;
use kapsel_e2e::watch::PodWatch;

const REDIS_POD: &str = "my-release-master-0";
/// The fixture's password (Secret `my-release`, key `redis-password`).
const REDIS_PASSWORD: &str = "kapsel-redis-secret";

/// `redis-cli ARGS` in the fixture's pod; its trimmed output.
async fn redis(st: &Stage, args: &str) -> String {
    sh_in(
        &st.env,
        &st.ns,
        REDIS_POD,
        Some("redis"),
        &format!("REDISCLI_AUTH={REDIS_PASSWORD} redis-cli --no-auth-warning {args}"),
    )
    .await
    .trim()
    .to_string()
}

/// The n of every key `key:<n>`, ascending.
async fn key_numbers(st: &Stage) -> Vec<u64> {
    let mut v: Vec<u64> = redis(st, "--scan --pattern 'key:*'")
        .await
        .lines()
        .map(|l| l.trim().strip_prefix("key:").unwrap().parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// Kanister's redis Blueprint against the testbed's Redis laid out like the
/// Bitnami chart (standalone), while a client INCRs a counter and then sets
/// `key:<n>` to `v<n>` (retrying until it is set), so that at any moment the
/// keys are exactly `key:1..key:k`. redis-dump lists the keys with one
/// `KEYS *` and then reads them (keys are never deleted): the restore must
/// give exactly `key:1..key:m` with their values for some `m` at least the
/// number of keys before the backup. The password is rendered into the
/// KubeTask's command by the Blueprint: Kapsel keeps it out of the pod spec.
#[tokio::test]
async fn redis_backup_under_writes_restore_delete() {
    let Some(p) = prepare("bp-redis").await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        // through the controller, from a Kanister-format ActionSet
        st.through_controller(Via::KubectlApply);
        env.apply(&ns, &kapsel_e2e::fixture("redis").unwrap())
            .await
            .unwrap();
        st.blueprint(Source::Kanister("redis/redis-blueprint.yaml"));
        running_pod(&env, &ns, "app.kubernetes.io/name=redis").await;
        start_writer(&env, &ns,
            serde_json::json!([{"name": "REDISCLI_AUTH", "valueFrom": {"secretKeyRef": {"name": "my-release", "key": "redis-password"}}}]),
            "n=$(redis-cli --no-auth-warning -h my-release-master INCR counter 2>/dev/null); \
             case \"$n\" in ''|*[!0-9]*) sleep 1; continue;; esac; \
             until [ \"$(redis-cli --no-auth-warning -h my-release-master SET key:$n v$n 2>/dev/null)\" = OK ]; do sleep 1; done").await;
        wait_until(Duration::from_secs(120), "the writer's first keys", || {
            let st = &st;
            async move { Ok(key_numbers(st).await.len() >= 20) }
        })
        .await
        .unwrap();
        let before = key_numbers(&st).await.len() as u64;

        let object = format!("statefulset/{ns}/my-release-master");
        st.backup_watched(&object, &[REDIS_PASSWORD]).await;
        let during = key_numbers(&st).await.len() as u64;
        assert!(during > before, "the writer kept writing during the backup");
        stop_writer(&env, &ns).await;
        let written = key_numbers(&st).await;
        assert_eq!(written, (1..=written.len() as u64).collect::<Vec<_>>(), "the writer's keys have a gap");
        // destroy the data
        redis(&st, "FLUSHALL").await;
        assert_eq!(redis(&st, "DBSIZE").await, "0");

        st.act("restore", &object, "restore.yaml", &["--from", "backup.yaml"]);
        let restored = key_numbers(&st).await;
        let m = restored.len() as u64;
        assert_eq!(restored, (1..=m).collect::<Vec<_>>(), "the restored keys are not key:1..key:{m}");
        assert!(m >= before, "keys written before the backup are missing: {m} restored, {before} before");
        assert!(m <= written.len() as u64, "more keys restored than were written");
        // every value, checked in the server
        let bad = redis(&st, &format!(
            "EVAL \"local bad = 0 for i = 1, tonumber(ARGV[1]) do if redis.call('GET', 'key:' .. i) ~= 'v' .. i then bad = bad + 1 end end return bad\" 0 {m}"
        )).await;
        assert_eq!(bad, "0", "restored keys with a wrong value");
        println!("redis: {before} keys before the backup, {during} after it, {} when stopped; key:1..key:{m} restored", written.len());

        // delete (Kanister's docs run it on the namespace): nothing pullable
        let path = st.artifact("backup.yaml", "redisCloudDump")["keyValue"]["s3path"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(st.pull(&path, None).status.success(), "the dump cannot be pulled before the delete");
        st.act("delete", &format!("namespace/{ns}"), "delete.yaml", &["--from", "backup.yaml"]);
        assert!(!st.pull(&path, None).status.success(), "the deleted dump can still be pulled");
        st.finish(&[REDIS_PASSWORD]).await;
    })
    .await;
}

/// The ActionSet `file` of Kanister's postgres-basic-pgdump example made to
/// address this test's namespace: the object the testbed's PostgreSQL
/// StatefulSet, the `postgres` Secret `pg-creds` (key `password_superuser`),
/// the `aws` Secret the Stage made (`aws-creds`, the keys the example's
/// secrets.yaml has), the ConfigMap `postgres-s3-location`; and a
/// `podOverride` pointing the AWS CLI at the test's S3 server
/// (`AWS_ENDPOINT_URL`, honoured by the CLI v1 and v2.13+): the Blueprint's
/// `aws s3 cp` has no endpoint, and a Kanister user with MinIO or another
/// S3-compatible store would set the same in their ActionSet.
fn pgdump_actionset(st: &Stage, file: &str, artifact: Option<&str>) -> serde_json::Value {
    let text =
        std::fs::read_to_string(st.examples.join("postgres-basic-pgdump").join(file)).unwrap();
    let mut set: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let action = &mut set["spec"]["actions"][0];
    action["object"]["namespace"] = st.ns.clone().into();
    action["object"]["name"] = "my-release-postgresql".into();
    action["configMaps"]["location"]["namespace"] = st.ns.clone().into();
    for (name, secret) in [("aws", "aws-creds"), ("postgres", "pg-creds")] {
        action["secrets"][name] = serde_json::json!({"name": secret, "namespace": st.ns});
    }
    action["podOverride"] = serde_json::json!({"containers": [{"name": "container", "env": [
        {"name": "AWS_ENDPOINT_URL", "value": st.s3.endpoint()},
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}]}]});
    if let Some(path) = artifact {
        // The example's restore ActionSet writes `cloudObject: {path: ...}`,
        // which is not Kanister's Artifact shape (`keyValue` or
        // `kopiaSnapshot`; Kanister drops the field and the Blueprint's
        // `.ArtifactsIn.cloudObject.KeyValue.path` renders empty): the
        // artifact as Kanister's API takes it.
        action["artifacts"] = serde_json::json!({"cloudObject": {"keyValue": {"path": path}}});
    }
    set
}

/// Kanister's postgres-basic-pgdump Blueprint (pg_dumpall to a file, `aws
/// s3 cp` to the bucket of ConfigMap `location`; restore `aws s3 cp` back and
/// `psql -f`) against the testbed's PostgreSQL, with Kanister's example
/// ActionSets pointed at this namespace (see [`pgdump_actionset`]) and run
/// with `kapsel run --actionset`. The task finds the database through the
/// Service environment variables Kubernetes gives pods
/// (`$MY_RELEASE_POSTGRESQL_SERVICE_HOST`, `..._PORT_5432_TCP_PORT`). The
/// Blueprint has **no delete action**: the test removes nothing and checks
/// the dump is where the artifact says (a user deletes it with the AWS CLI).
/// The S3 keys and the database password are rendered into the commands:
/// none is in a pod spec, event or output.
#[tokio::test]
async fn postgres_basic_pgdump_backup_under_writes_restore() {
    let Some(p) = prepare("bp-pgdump").await else {
        return;
    };
    p.env.clone().run(move |env, ns| async move {
        let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
        env.apply(&ns, &kapsel_e2e::fixture("postgresql").unwrap())
            .await
            .unwrap();
        let creds = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "pg-creds"}, "stringData": {"password_superuser": PG_PASSWORD}});
        env.apply(&ns, &creds.to_string()).await.unwrap();
        let location = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "postgres-s3-location"}, "data": {"bucket": format!("s3://{}", st.s3.bucket)}});
        env.apply(&ns, &location.to_string()).await.unwrap();
        st.blueprint(Source::Kanister("postgres-basic-pgdump/postgres-basic-pgdump-blueprint.yaml"));
        std::fs::write(st.run.file("backup-actionset.yaml"), pgdump_actionset(&st, "backup-actionset.yaml", None).to_string()).unwrap();
        pg::postgres_ready(&env, &ns).await;
        let before = pg::start_rows(&env, &ns).await;

        let watch = PodWatch::start(&env, &ns);
        st.run.ok("backup", &["-b", "blueprint.yaml", "--actionset", "backup-actionset.yaml", "-w", "backup.yaml"]);
        let task_pods: Vec<String> = watch.stop().await.into_iter()
            .filter(|p| p.contains("app.kubernetes.io/managed-by\":\"kapsel"))
            .collect();
        assert!(!task_pods.is_empty(), "the watcher saw no task pod");
        for p in &task_pods {
            for s in [PG_PASSWORD, kapsel_e2e::flow::KEY_ID, kapsel_e2e::flow::KEY_SECRET] {
                assert!(!p.contains(s), "a secret value is in a task pod: {p}");
            }
        }
        let source = pg::stop_and_destroy(&env, &ns, before).await;

        let path = st.artifact("backup.yaml", "cloudObject")["keyValue"]["path"].as_str().unwrap().to_string();
        let prefix = format!("s3://{}/", st.s3.bucket);
        let key = path.strip_prefix(&prefix).unwrap_or_else(|| panic!("{path} is not in the bucket"));
        assert_eq!(st.s3.keys(key), vec![key.to_string()], "the dump is not where the artifact says");

        std::fs::write(st.run.file("restore-actionset.yaml"), pgdump_actionset(&st, "restore-actionset.yaml", Some(&path)).to_string()).unwrap();
        st.run.ok("restore", &["-b", "blueprint.yaml", "--actionset", "restore-actionset.yaml", "-w", "restore.yaml"]);
        let stats = pg::check_restored(&env, &ns, &source, before).await;
        println!("postgres-basic-pgdump: max id {before} before the backup, {} when stopped; restored (count|min|max) {stats}", source.len());
        st.finish(&[PG_PASSWORD]).await;
    })
    .await;
}
