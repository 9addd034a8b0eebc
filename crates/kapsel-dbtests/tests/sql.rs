//! PostgreSQL and MariaDB: a writer keeps moving money between accounts (the
//! total never changes) and appending to a ledger with a strictly increasing
//! sequence, in one transaction each, while `kapsel run --action backup` runs;
//! the database is dropped; `kapsel run --action restore --from` the backup's
//! ActionSet brings back a state where the total holds, every account's
//! balance equals its ledger, the sequence has no hole, and every transaction
//! committed before the backup started is there. The same backup is then
//! restored into a second server (the migration use case) and must hold the
//! same data; the delete action removes it.
//!
//! Kanister's own PostgreSQL Blueprint runs unchanged through the same flow;
//! its MySQL, MariaDB (two versions), MySQL and PostgreSQL DeploymentConfig
//! Blueprints run unchanged through an exact round trip (backup, drop,
//! restore, same rows), with the cluster names in hostAliases and, for MySQL
//! 8's `mysqldump`, a documented test adapter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kapsel_testkit::db::{Server, available, mariadb, pg_bin, postgres, scratch};
use kapsel_testkit::fixtures::repo_root;
use kapsel_testkit::kapsel::{fill, kapsel_run, location, tools, validate_strict};

const ACCOUNTS: u64 = 500;
const START_BALANCE: u64 = 1000;

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Postgres,
    MariaDb,
}

impl Dialect {
    fn begin(self) -> &'static str {
        match self {
            Dialect::Postgres => "BEGIN",
            Dialect::MariaDb => "START TRANSACTION",
        }
    }
}

fn query(s: &Server, d: Dialect, db: &str, sql: &str) -> String {
    match d {
        Dialect::Postgres => s.psql(db, sql),
        Dialect::MariaDb => s.mysql(db, sql),
    }
}

fn schema(d: Dialect) -> String {
    let filler = match d {
        // About 8 MB of rows, so that the dump takes a while.
        Dialect::Postgres => {
            "INSERT INTO filler SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 80000) g;"
                .to_string()
        }
        Dialect::MariaDb => {
            "INSERT INTO filler SELECT seq, repeat(md5(seq), 3) FROM seq_1_to_80000;".to_string()
        }
    };
    let accounts = match d {
        Dialect::Postgres => format!(
            "INSERT INTO accounts SELECT g, {START_BALANCE} FROM generate_series(1, {ACCOUNTS}) g;"
        ),
        Dialect::MariaDb => {
            format!("INSERT INTO accounts SELECT seq, {START_BALANCE} FROM seq_1_to_{ACCOUNTS};")
        }
    };
    format!(
        "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);\n{accounts}\n\
         CREATE TABLE ledger (seq bigint PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount bigint NOT NULL);\n\
         CREATE TABLE filler (id int PRIMARY KEY, pad text NOT NULL);\n{filler}\n"
    )
}

/// A client process fed one transfer transaction after another on stdin.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Child>>,
}

impl Writer {
    fn start(mut client: Command, d: Dialect) -> Self {
        let mut child = client
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut seq = 0u64;
            while !flag.load(Ordering::Relaxed) {
                seq += 1;
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let src = rng % ACCOUNTS + 1;
                let dst = (rng / ACCOUNTS) % ACCOUNTS + 1;
                let amount = (rng >> 40) % 50 + 1;
                let tx = format!(
                    "{}; UPDATE accounts SET balance = balance - {amount} WHERE id = {src}; \
                     UPDATE accounts SET balance = balance + {amount} WHERE id = {dst}; \
                     INSERT INTO ledger VALUES ({seq}, {src}, {dst}, {amount}); COMMIT;\n",
                    d.begin()
                );
                if stdin.write_all(tx.as_bytes()).is_err() {
                    break;
                }
            }
            drop(stdin);
            child
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops feeding the client and waits until it has committed what it got.
    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let child = self.thread.take().unwrap().join().unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the writer failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn max_seq(s: &Server, d: Dialect) -> u64 {
    query(s, d, "bank", "SELECT coalesce(max(seq), 0) FROM ledger;")
        .trim()
        .parse()
        .unwrap()
}

/// (sum of balances, ledger rows, highest sequence, accounts whose balance
/// differs from their ledger).
fn invariant(s: &Server, d: Dialect) -> (u64, u64, u64, u64) {
    let out = query(
        s,
        d,
        "bank",
        &format!(
            "WITH flow AS (SELECT id, sum(delta) AS delta FROM \
               (SELECT src AS id, -amount AS delta FROM ledger UNION ALL SELECT dst, amount FROM ledger) f \
               GROUP BY id) \
             SELECT (SELECT sum(balance) FROM accounts), (SELECT count(*) FROM ledger), \
                    (SELECT coalesce(max(seq), 0) FROM ledger), \
                    (SELECT count(*) FROM accounts a LEFT JOIN flow ON flow.id = a.id \
                      WHERE a.balance <> {START_BALANCE} + coalesce(flow.delta, 0));"
        ),
    );
    let v: Vec<u64> = out
        .split(|c: char| c == '|' || c.is_whitespace())
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(v.len(), 4, "{out}");
    (v[0], v[1], v[2], v[3])
}

/// Content fingerprint of the database, equal on two servers holding the same
/// rows.
fn fingerprint(s: &Server, d: Dialect) -> String {
    query(
        s,
        d,
        "bank",
        "SELECT (SELECT sum(id * balance) FROM accounts), (SELECT count(*) FROM ledger), \
                (SELECT sum(seq * amount + src * 7 + dst * 13) FROM ledger), \
                (SELECT count(*) FROM filler);",
    )
    .split(|c: char| c == '|' || c.is_whitespace())
    .filter(|x| !x.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

fn wait_for_commits(s: &Server, d: Dialect, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while max_seq(s, d) < n {
        assert!(
            Instant::now() < deadline,
            "the writer committed fewer than {n} transactions in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Flow<'a> {
    name: &'a str,
    dialect: Dialect,
    blueprint: &'a Path,
    inventory: &'a Path,
    object: &'a str,
    /// Where the destroyed database is dropped from.
    drop_sql: &'a str,
    options: &'a [&'a str],
    delete_object: Option<&'a str>,
}

/// Backup under load, destroy, restore, verify; returns the backup ActionSet.
fn backup_destroy_restore(f: &Flow, s: &Server, work: &Path, profile: &Path) -> std::path::PathBuf {
    let d = f.dialect;
    let mut client = s.client(match d {
        Dialect::Postgres => "psql",
        Dialect::MariaDb => "mariadb",
    });
    match d {
        Dialect::Postgres => client.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "bank"]),
        Dialect::MariaDb => client.args(["-N", "-B", "bank"]),
    };
    let writer = Writer::start(client, d);
    wait_for_commits(s, d, 100);
    let before = max_seq(s, d);
    let bp = f.blueprint.to_str().unwrap();
    let inv = f.inventory.to_str().unwrap();
    let profile = profile.to_str().unwrap();
    let mut args = vec![
        "-b", bp, "-a", "backup", "-o", f.object, "-i", inv, "-p", profile,
    ];
    for o in f.options {
        args.extend(["--option", o]);
    }
    let backup = kapsel_run(work, "backup", &args);
    let after = max_seq(s, d);
    writer.finish();
    let last = max_seq(s, d);
    let admin_db = if d == Dialect::Postgres {
        "postgres"
    } else {
        ""
    };
    query(s, d, admin_db, f.drop_sql);
    let restore = kapsel_run(
        work,
        "restore",
        &[
            "-b",
            bp,
            "-a",
            "restore",
            "--from",
            backup.actionset.to_str().unwrap(),
            "-i",
            inv,
            "-p",
            profile,
        ],
    );
    let (sum, rows, max, wrong) = invariant(s, d);
    eprintln!(
        "{}: backup {:.2}s while the writer committed {} transactions (seq {before} before the backup started, {after} when it ended, {last} in all); \
         restore {:.2}s: {rows} ledger rows, highest seq {max}, total {sum}, {wrong} accounts off their ledger",
        f.name,
        backup.took.as_secs_f64(),
        after - before,
        restore.took.as_secs_f64()
    );
    assert_eq!(
        sum,
        ACCOUNTS * START_BALANCE,
        "{}: money was created or lost",
        f.name
    );
    assert_eq!(wrong, 0, "{}: balances disagree with the ledger", f.name);
    assert_eq!(rows, max, "{}: the ledger has holes", f.name);
    assert!(
        max >= before,
        "{}: restored up to seq {max}, but {before} was committed before the backup started",
        f.name
    );
    assert!(
        max <= after,
        "{}: restored seq {max}, committed only after the backup ended ({after})",
        f.name
    );
    assert!(
        after > before,
        "{}: no transaction was committed while the backup ran; the test did not exercise concurrency",
        f.name
    );
    backup.actionset
}

fn delete_backup(f: &Flow, work: &Path, backup: &Path, profile: &Path) {
    let bp = f.blueprint.to_str().unwrap();
    let inv = f.inventory.to_str().unwrap();
    let mut args = vec![
        "-b",
        bp,
        "-a",
        "delete",
        "--from",
        backup.to_str().unwrap(),
        "-i",
        inv,
        "-p",
        profile.to_str().unwrap(),
    ];
    if let Some(o) = f.delete_object {
        args.extend(["-o", o]);
    }
    kapsel_run(work, "delete", &args);
    // The backup is gone: restoring it fails.
    let out = Command::new(&tools().kapsel)
        .args(["run", "-b", bp, "-a", "restore", "--from"])
        .arg(backup)
        .args([
            "-i",
            inv,
            "-p",
            profile.to_str().unwrap(),
            "--progress",
            "quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "restoring a deleted backup must fail"
    );
}

#[test]
fn postgresql_backup_under_load_restore_and_migrate() {
    let bin = pg_bin();
    if !available(
        "postgresql",
        &[
            bin.join("initdb").to_str().unwrap(),
            bin.join("postgres").to_str().unwrap(),
            "psql",
            "pg_dump",
        ],
    ) {
        return;
    }
    let t0 = Instant::now();
    let bp = repo_root().join("blueprints/postgresql.yaml");
    validate_strict(&bp);
    let a = postgres();
    let b = postgres();
    eprintln!(
        "PostgreSQL: tools and servers ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let work = scratch("pg-run");
    let loc = location(work.path());
    let inv = work.path().join("inventory.yaml");
    fill(
        "postgresql.inventory.yaml",
        &[
            (
                "REPO_PASSWORD_FILE",
                loc.password_file.display().to_string(),
            ),
            ("PORT", a.port.to_string()),
            ("PGPASSFILE", a.client_env["PGPASSFILE"].clone()),
            ("PORT2", b.port.to_string()),
            ("PGPASSFILE2", b.client_env["PGPASSFILE"].clone()),
        ],
        &inv,
    );
    a.psql("postgres", "CREATE DATABASE bank;");
    a.psql("bank", &schema(Dialect::Postgres));
    let flow = Flow {
        name: "PostgreSQL (blueprints/postgresql.yaml)",
        dialect: Dialect::Postgres,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-postgresql",
        drop_sql: "DROP DATABASE bank WITH (FORCE);",
        options: &["database=bank"],
        delete_object: None,
    };
    let backup = backup_destroy_restore(&flow, &a, work.path(), &loc.profile);
    // Migration: the same backup into another server.
    let start = Instant::now();
    kapsel_run(
        work.path(),
        "restore-copy",
        &[
            "-b",
            bp.to_str().unwrap(),
            "-a",
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "-o",
            "statefulset/bank/ledger-copy-postgresql",
            "-i",
            inv.to_str().unwrap(),
            "-p",
            loc.profile.to_str().unwrap(),
        ],
    );
    let (fa, fb) = (
        fingerprint(&a, Dialect::Postgres),
        fingerprint(&b, Dialect::Postgres),
    );
    eprintln!(
        "PostgreSQL migration to port {}: {:.2}s, fingerprint {fb}",
        b.port,
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        fa, fb,
        "the migrated database differs from the restored one"
    );
    delete_backup(&flow, work.path(), &backup, &loc.profile);
}

#[test]
fn mariadb_backup_under_load_restore_and_migrate() {
    if !available(
        "mariadb",
        &["mariadb-install-db", "mariadbd", "mariadb", "mariadb-dump"],
    ) {
        return;
    }
    let bp = repo_root().join("blueprints/mariadb.yaml");
    validate_strict(&bp);
    let a = mariadb();
    let b = mariadb();
    let work = scratch("mariadb-run");
    let loc = location(work.path());
    let inv = work.path().join("inventory.yaml");
    fill(
        "mariadb.inventory.yaml",
        &[
            (
                "REPO_PASSWORD_FILE",
                loc.password_file.display().to_string(),
            ),
            ("MYSQL_HOME", a.client_env["MYSQL_HOME"].clone()),
            ("MYSQL_HOME2", b.client_env["MYSQL_HOME"].clone()),
        ],
        &inv,
    );
    a.mysql("", "CREATE DATABASE bank;");
    a.mysql("bank", &schema(Dialect::MariaDb));
    // Routines, triggers and events travel with the dump.
    a.mysql(
        "bank",
        "CREATE TABLE audit (n bigint NOT NULL);\n\
         CREATE TRIGGER ledger_audit AFTER INSERT ON ledger FOR EACH ROW INSERT INTO audit VALUES (NEW.seq);\n\
         CREATE FUNCTION total() RETURNS bigint READS SQL DATA RETURN (SELECT sum(balance) FROM accounts);\n\
         CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;\n",
    );
    let flow = Flow {
        name: "MariaDB (blueprints/mariadb.yaml)",
        dialect: Dialect::MariaDb,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-mariadb",
        drop_sql: "DROP DATABASE bank;",
        options: &[],
        delete_object: None,
    };
    let backup = backup_destroy_restore(&flow, &a, work.path(), &loc.profile);
    let objects = |s: &Server| {
        s.mysql(
            "bank",
            "SELECT (SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = 'bank'), \
                    (SELECT count(*) FROM information_schema.routines WHERE routine_schema = 'bank'), \
                    (SELECT count(*) FROM information_schema.events WHERE event_schema = 'bank'), \
                    total(), (SELECT count(*) FROM audit) = (SELECT count(*) FROM ledger);",
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    assert_eq!(
        objects(&a),
        format!("1 1 1 {} 1", ACCOUNTS * START_BALANCE),
        "trigger, function and event restored, and the trigger's table agrees with the ledger"
    );
    let start = Instant::now();
    kapsel_run(
        work.path(),
        "restore-copy",
        &[
            "-b",
            bp.to_str().unwrap(),
            "-a",
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "-o",
            "statefulset/bank/ledger-copy-mariadb",
            "-i",
            inv.to_str().unwrap(),
            "-p",
            loc.profile.to_str().unwrap(),
        ],
    );
    let (fa, fb) = (
        fingerprint(&a, Dialect::MariaDb),
        fingerprint(&b, Dialect::MariaDb),
    );
    eprintln!(
        "MariaDB migration to port {}: {:.2}s, fingerprint {fb}",
        b.port,
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        fa, fb,
        "the migrated database differs from the restored one"
    );
    assert_eq!(objects(&a), objects(&b));
    delete_backup(&flow, work.path(), &backup, &loc.profile);
}

/// Kanister's published PostgreSQL Blueprint (KubeTask, `pg_dumpall --clean |
/// gzip | kando location push`, the password from the chart's Secret), run
/// unchanged: the inventory maps its StatefulSet and Secret, and gives every
/// command PGHOSTADDR and PGPORT (as the image's environment would), so the
/// cluster DNS name it exports as PGHOST is never resolved.
#[test]
fn kanister_postgres_blueprint_runs_unchanged() {
    let bin = pg_bin();
    if !available(
        "kanister postgres blueprint",
        &[
            bin.join("initdb").to_str().unwrap(),
            bin.join("postgres").to_str().unwrap(),
            "psql",
            "pg_dumpall",
            "gzip",
            "sed",
        ],
    ) {
        return;
    }
    let bp = repo_root().join("../shared/kanister-examples/postgres/postgres-blueprint.yaml");
    assert!(bp.is_file(), "{} is missing", bp.display());
    let s = postgres();
    let work = scratch("kanister-pg-run");
    let loc = location(work.path());
    let pwfile = work.path().join("postgres-password");
    std::fs::write(&pwfile, &s.password).unwrap();
    let inv = work.path().join("inventory.yaml");
    fill(
        "kanister-postgres.inventory.yaml",
        &[
            (
                "REPO_PASSWORD_FILE",
                loc.password_file.display().to_string(),
            ),
            ("PORT", s.port.to_string()),
            ("PASSWORD_FILE", pwfile.display().to_string()),
        ],
        &inv,
    );
    s.psql("postgres", "CREATE DATABASE bank;");
    s.psql("bank", &schema(Dialect::Postgres));
    let flow = Flow {
        name: "PostgreSQL (Kanister's postgres-blueprint.yaml, unchanged)",
        dialect: Dialect::Postgres,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-postgresql",
        drop_sql: "DROP DATABASE bank WITH (FORCE);",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    let backup = backup_destroy_restore(&flow, &s, work.path(), &loc.profile);
    assert_eq!(
        fingerprint(&s, Dialect::Postgres).split(' ').nth(3),
        Some("80000")
    );
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(
        !text.contains(&s.password),
        "the password leaked into the ActionSet"
    );
    delete_backup(&flow, work.path(), &backup, &loc.profile);
}

// ------------------------------------------------ Kanister's own Blueprints

/// The exact content of the `bank` database: each table's row count and a
/// checksum over all its rows.
fn exact(s: &Server, d: Dialect) -> String {
    let out = match d {
        Dialect::Postgres => s.psql(
            "bank",
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM ledger), \
                    (SELECT count(*) FROM filler), \
                    (SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a), \
                    (SELECT md5(string_agg(l::text, ',' ORDER BY seq)) FROM ledger l), \
                    (SELECT md5(string_agg(f::text, ',' ORDER BY id)) FROM filler f);",
        ),
        Dialect::MariaDb => s.mysql(
            "bank",
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM ledger), \
                    (SELECT count(*) FROM filler);\n\
             CHECKSUM TABLE accounts, ledger, filler EXTENDED;",
        ),
    };
    out.split(|c: char| c == '|' || c.is_whitespace())
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `bank` database at rest: the schema, then a few hundred committed
/// transfers; the writer has stopped before the backup (Kanister's
/// Blueprints are checked for an exact round trip here; consistency under
/// load is the job of the tests above).
fn bank_at_rest(s: &Server, d: Dialect) {
    match d {
        Dialect::Postgres => {
            s.psql("postgres", "CREATE DATABASE bank;");
            s.psql("bank", &schema(d));
        }
        Dialect::MariaDb => {
            s.mysql("", "CREATE DATABASE bank;");
            s.mysql("bank", &schema(d));
        }
    }
    let mut client = s.client(match d {
        Dialect::Postgres => "psql",
        Dialect::MariaDb => "mariadb",
    });
    match d {
        Dialect::Postgres => client.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "bank"]),
        Dialect::MariaDb => client.args(["-N", "-B", "bank"]),
    };
    let writer = Writer::start(client, d);
    wait_for_commits(s, d, 300);
    writer.finish();
}

/// Kanister's Blueprint `f` on server `s`, unchanged: backup, destroy the
/// database, restore, and the database must be exactly as it was; the
/// password (which these Blueprints template into their scripts) must not
/// be in the ActionSets; delete, and a restore of the deleted backup fails.
fn kanister_round_trip(f: &Flow, s: &Server, work: &Path, profile: &Path) {
    let d = f.dialect;
    bank_at_rest(s, d);
    let before = exact(s, d);
    let bp = f.blueprint.to_str().unwrap();
    let inv = f.inventory.to_str().unwrap();
    let profile_s = profile.to_str().unwrap();
    // The phase timeout only bounds a hang (a client waiting for a server it
    // cannot reach); nothing here depends on it.
    let common = ["-i", inv, "-p", profile_s, "--phase-timeout", "10m"];
    let mut args = vec!["-b", bp, "-a", "backup", "-o", f.object];
    args.extend(common);
    let backup = kapsel_run(work, "backup", &args);
    let admin_db = if d == Dialect::Postgres {
        "postgres"
    } else {
        ""
    };
    query(s, d, admin_db, f.drop_sql);
    let gone = match d {
        Dialect::Postgres => s.psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'bank';",
        ),
        Dialect::MariaDb => s.mysql(
            "",
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'bank';",
        ),
    };
    assert_eq!(gone.trim(), "0", "the database was destroyed");
    let backup_as = backup.actionset.to_str().unwrap();
    let mut args = vec!["-b", bp, "-a", "restore", "--from", backup_as];
    args.extend(common);
    let restore = kapsel_run(work, "restore", &args);
    let after = exact(s, d);
    eprintln!(
        "{}: backup {:.2}s, restore {:.2}s; bank before: {before}; after: {after}",
        f.name,
        backup.took.as_secs_f64(),
        restore.took.as_secs_f64()
    );
    assert_eq!(after, before, "{}: the restored database differs", f.name);
    for file in [&backup.actionset, &restore.actionset] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(&s.password),
            "{}: the password leaked into {}",
            f.name,
            file.display()
        );
    }
    assert!(
        !backup.stderr.contains(&s.password) && !restore.stderr.contains(&s.password),
        "{}: the password leaked into kapsel's progress output",
        f.name
    );
    delete_backup(f, work, &backup.actionset, profile);
}

/// A MariaDB server, a work directory, and testdata/local/kanister-mariadb
/// .inventory.yaml filled in for it (its root password in a file for the
/// inventory's Secrets).
fn kanister_mariadb_setup(
    name: &str,
) -> Option<(
    Server,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
)> {
    if !available(
        name,
        &[
            "mariadb-install-db",
            "mariadbd",
            "mariadb",
            "mariadb-dump",
            "mysql",
            "gzip",
            "gunzip",
        ],
    ) {
        return None;
    }
    let s = mariadb();
    let work = scratch("kanister-mariadb-run");
    let loc = location(work.path());
    let pwfile = work.path().join("root-password");
    std::fs::write(&pwfile, &s.password).unwrap();
    let inv = work.path().join("inventory.yaml");
    fill(
        "kanister-mariadb.inventory.yaml",
        &[
            (
                "REPO_PASSWORD_FILE",
                loc.password_file.display().to_string(),
            ),
            ("PORT", s.port.to_string()),
            ("PASSWORD_FILE", pwfile.display().to_string()),
            (
                "TOOLS",
                repo_root()
                    .join("testdata/local/tools")
                    .display()
                    .to_string(),
            ),
        ],
        &inv,
    );
    Some((s, work, inv, loc.profile))
}

fn kanister_example(path: &str) -> std::path::PathBuf {
    let bp = repo_root().join("../shared/kanister-examples").join(path);
    assert!(bp.is_file(), "{} is missing", bp.display());
    bp
}

/// Kanister's published MySQL Blueprint (`mysqldump --column-statistics=0 -h
/// <release> --single-transaction --all-databases | gzip | kando location
/// push`), unchanged, against MariaDB: the release name resolves through the
/// inventory's hostAliases, the port is MYSQL_TCP_PORT, and `mysqldump` is
/// the documented test adapter (testdata/local/tools/mysql-sidecar) that
/// drops the MySQL-8-only `--column-statistics=0` and runs MariaDB's
/// mariadb-dump; no MySQL 8 client is installable here.
#[test]
fn kanister_mysql_blueprint_runs_unchanged() {
    let Some((s, work, inv, profile)) = kanister_mariadb_setup("kanister mysql blueprint") else {
        return;
    };
    let bp = kanister_example("mysql/mysql-blueprint.yaml");
    let flow = Flow {
        name: "MySQL (Kanister's mysql-blueprint.yaml, unchanged, on MariaDB)",
        dialect: Dialect::MariaDb,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-mysql",
        drop_sql: "DROP DATABASE bank;",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    kanister_round_trip(&flow, &s, work.path(), &profile);
}

/// Kanister's published MariaDB Blueprint (lists the databases with `mysql
/// -h <statefulset>`, then `mysqldump --column-statistics=0 --databases ...
/// | gzip | kando location push`), unchanged; see
/// [`kanister_mysql_blueprint_runs_unchanged`] for the name, port and
/// adapter.
#[test]
fn kanister_maria_blueprint_runs_unchanged() {
    let Some((s, work, inv, profile)) = kanister_mariadb_setup("kanister maria blueprint") else {
        return;
    };
    let bp = kanister_example("maria/maria-blueprint.yaml");
    let flow = Flow {
        name: "MariaDB (Kanister's maria-blueprint.yaml, unchanged)",
        dialect: Dialect::MariaDb,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-mariadb",
        drop_sql: "DROP DATABASE bank;",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    kanister_round_trip(&flow, &s, work.path(), &profile);
}

/// Kanister's MariaDB Blueprint v2: `kando location push --output-name
/// kopiaOutput` gives the output artifact's `kopiaSnapshot`, which restore
/// and delete hand back with `--kopia-snapshot`.
#[test]
fn kanister_maria_blueprint_v2_runs_unchanged() {
    let Some((s, work, inv, profile)) = kanister_mariadb_setup("kanister maria blueprint v2")
    else {
        return;
    };
    let bp = kanister_example("maria/blueprint-v2/maria-blueprint.yaml");
    let flow = Flow {
        name: "MariaDB (Kanister's blueprint-v2/maria-blueprint.yaml, unchanged)",
        dialect: Dialect::MariaDb,
        blueprint: &bp,
        inventory: &inv,
        object: "statefulset/bank/ledger-mariadb",
        drop_sql: "DROP DATABASE bank;",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    kanister_round_trip(&flow, &s, work.path(), &profile);
}

/// Kanister's MySQL Blueprint for an OpenShift DeploymentConfig
/// (`.DeploymentConfig.Name` is the host and the Secret), unchanged: the
/// DeploymentConfig is just a kind in the inventory.
#[test]
fn kanister_mysql_dep_config_blueprint_runs_unchanged() {
    let Some((s, work, inv, profile)) =
        kanister_mariadb_setup("kanister mysql-dep-config blueprint")
    else {
        return;
    };
    let bp = kanister_example("mysql-dep-config/mysql-dep-config-blueprint.yaml");
    let flow = Flow {
        name: "MySQL (Kanister's mysql-dep-config-blueprint.yaml, unchanged, on MariaDB)",
        dialect: Dialect::MariaDb,
        blueprint: &bp,
        inventory: &inv,
        object: "deploymentconfig/bank/ledger-mysql-dc",
        drop_sql: "DROP DATABASE bank;",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    kanister_round_trip(&flow, &s, work.path(), &profile);
}

/// A PostgreSQL server, a work directory, and testdata/local/kanister-
/// postgres-dep-config.inventory.yaml filled in for it.
fn kanister_postgres_setup(
    name: &str,
) -> Option<(
    Server,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
)> {
    let bin = pg_bin();
    if !available(
        name,
        &[
            bin.join("initdb").to_str().unwrap(),
            bin.join("postgres").to_str().unwrap(),
            "psql",
            "pg_dumpall",
            "gzip",
            "sed",
        ],
    ) {
        return None;
    }
    let s = postgres();
    let work = scratch("kanister-pg-aliases-run");
    let loc = location(work.path());
    let pwfile = work.path().join("postgres-password");
    std::fs::write(&pwfile, &s.password).unwrap();
    let inv = work.path().join("inventory.yaml");
    fill(
        "kanister-postgres-dep-config.inventory.yaml",
        &[
            (
                "REPO_PASSWORD_FILE",
                loc.password_file.display().to_string(),
            ),
            ("PORT", s.port.to_string()),
            ("PASSWORD_FILE", pwfile.display().to_string()),
        ],
        &inv,
    );
    Some((s, work, inv, loc.profile))
}

/// Kanister's PostgreSQL Blueprint for OpenShift's DeploymentConfig
/// (`PGHOST=<name>.<namespace>.svc.cluster.local`, `pg_dumpall --clean`),
/// unchanged: the cluster name resolves through the inventory's hostAliases.
#[test]
fn kanister_postgres_dep_config_blueprint_runs_unchanged() {
    let Some((s, work, inv, profile)) =
        kanister_postgres_setup("kanister postgres-dep-config blueprint")
    else {
        return;
    };
    let bp = kanister_example("postgres-dep-config/postgres-dep-config-blueprint.yaml");
    let flow = Flow {
        name: "PostgreSQL (Kanister's postgres-dep-config-blueprint.yaml, unchanged)",
        dialect: Dialect::Postgres,
        blueprint: &bp,
        inventory: &inv,
        object: "deploymentconfig/bank/ledger-pg",
        drop_sql: "DROP DATABASE bank WITH (FORCE);",
        options: &[],
        delete_object: Some("namespace/bank"),
    };
    kanister_round_trip(&flow, &s, work.path(), &profile);
}
