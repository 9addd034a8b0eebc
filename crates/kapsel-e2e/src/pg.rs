//! The testbed's PostgreSQL fixture (`testbed/manifests/apps/postgresql.yaml`)
//! under a writer: the steps every PostgreSQL Blueprint test takes around its
//! backup and restore (a table `t` that a client fills one row per
//! transaction through the Service; after the restore, the rows must be
//! exactly the table's rows up to the restored maximum, and include every row
//! committed before the backup).
//!
//! A test harness: a failed step panics, which fails the test with the
//! step's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::flow::{running_pod, sh_in, start_writer, stop_writer};
use crate::{Env, wait_until};

/// The fixture's pod.
pub const PG_POD: &str = "my-release-postgresql-0";
/// The fixture's `postgres` password (Secret `my-release-postgresql`, key
/// `postgres-password`).
pub const PG_PASSWORD: &str = "kapsel-pg-secret";

/// `psql -tAc sql` as `postgres` in the fixture's pod; the trimmed output.
pub async fn psql(env: &Env, ns: &str, sql: &str) -> String {
    sh_in(
        env,
        ns,
        PG_POD,
        Some("postgresql"),
        &format!("PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -U postgres -tAc \"{sql}\""),
    )
    .await
    .trim()
    .to_string()
}

/// Waits until the fixture's PostgreSQL in `ns` answers queries.
pub async fn postgres_ready(env: &Env, ns: &str) {
    running_pod(env, ns, "app.kubernetes.io/name=postgresql").await;
    wait_until(
        Duration::from_secs(120),
        "PostgreSQL accepting queries",
        || {
            let (env, ns) = (env.clone(), ns.to_string());
            async move {
                let script = format!(
                    "PGPASSWORD={PG_PASSWORD} psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1'"
                );
                let out = env
                    .exec(&ns, PG_POD, Some("postgresql"), &["sh", "-c", &script])
                    .await?;
                Ok(out.stdout.trim() == "1")
            }
        },
    )
    .await
    .unwrap();
}

/// Creates table `t`, starts the writer pod (one INSERT per transaction
/// through the Service, the password from the fixture's Secret), waits for
/// its first 20 rows and returns the highest id committed so far.
pub async fn start_rows(env: &Env, ns: &str) -> u64 {
    psql(
        env,
        ns,
        "CREATE TABLE t (id serial PRIMARY KEY, v text NOT NULL)",
    )
    .await;
    start_writer(
        env,
        ns,
        serde_json::json!([{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "my-release-postgresql", "key": "postgres-password"}}}]),
        "psql -h my-release-postgresql -U postgres -qc \"INSERT INTO t (v) VALUES ('row')\" || sleep 1",
    )
    .await;
    wait_until(Duration::from_secs(120), "the writer's first rows", || {
        let (env, ns) = (env.clone(), ns.to_string());
        async move {
            let n = psql(&env, &ns, "SELECT count(*) FROM t").await;
            Ok(n.parse::<u64>().unwrap_or(0) >= 20)
        }
    })
    .await
    .unwrap();
    max_id(env, ns).await
}

/// The highest id in `t`.
pub async fn max_id(env: &Env, ns: &str) -> u64 {
    psql(env, ns, "SELECT max(id) FROM t")
        .await
        .parse()
        .unwrap()
}

/// The ids in `t`, ascending.
pub async fn ids(env: &Env, ns: &str) -> Vec<u64> {
    psql(
        env,
        ns,
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM t",
    )
    .await
    .split(',')
    .filter(|x| !x.is_empty())
    .map(|x| x.parse().unwrap())
    .collect()
}

/// After the backup: the writer wrote on while it ran (`before` was the
/// highest id when it started); stops the writer, keeps the ids the table
/// held (a sequence value can be skipped by an insert that failed, so "no
/// gap" is checked against these) and destroys the data (`DROP TABLE t`).
pub async fn stop_and_destroy(env: &Env, ns: &str, before: u64) -> Vec<u64> {
    let during = max_id(env, ns).await;
    assert!(during > before, "the writer kept writing during the backup");
    stop_writer(env, ns).await;
    let source = ids(env, ns).await;
    psql(env, ns, "DROP TABLE t").await;
    source
}

/// After the restore: one consistent snapshot, exactly the table's rows
/// (`source`) up to the restored maximum, and every row up to `before`.
/// Returns `count, min, max` of the restored table.
pub async fn check_restored(env: &Env, ns: &str, source: &[u64], before: u64) -> String {
    let restored = ids(env, ns).await;
    let top = restored.last().copied().unwrap_or(0);
    let expected: Vec<u64> = source.iter().copied().filter(|i| *i <= top).collect();
    assert_eq!(
        restored, expected,
        "the restored rows are not the table's rows up to {top} (not one snapshot)"
    );
    assert!(
        top >= before,
        "rows committed before the backup are missing: up to {top}, before {before}"
    );
    psql(env, ns, "SELECT count(*), min(id), max(id) FROM t").await
}
