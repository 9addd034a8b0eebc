#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A 1 GiB backup and restore through `kando location push/pull` with a
//! seeded fault-injecting proxy between kando and a real S3 server
//! (SeaweedFS): HTTP 500s, 503 SlowDown, connections dropped mid-request and
//! mid-response, and stalls longer than the client's timeouts. Both complete
//! and the restore is byte-exact; the repository then passes
//! `check --read-data`.
//!
//! Skips (loudly) without `weed`, unless `KAPSEL_S3_TESTS=1`.

mod support;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use support::proxy::{Faults, Proxy};
use support::*;

#[test]
fn one_gib_backup_and_restore_through_faults() {
    let Some(w) = start_weed() else { return };
    let seed = 0x4b41_5053_454c; // "KAPSEL"
    let proxy = Proxy::start(
        w.port,
        Faults {
            seed,
            http500: 25,
            slow_down: 25,
            drop_request: 40,
            drop_response: 20,
            stall: 20,
            stall_for: Duration::from_secs(10),
            max_stalls: 2,
        },
    );
    let direct = s3_profile(w.port, "kapsel-test", "faults");
    let via_proxy = s3_profile(proxy.port, "kapsel-test", "faults");
    // Timeouts shorter than the stalls; retries as in production.
    let env = [
        ("KAPSEL_STORAGE_REQUEST_TIMEOUT_SECONDS", "6"),
        ("KAPSEL_STORAGE_READ_TIMEOUT_SECONDS", "3"),
        ("KAPSEL_STORAGE_CONNECT_TIMEOUT_SECONDS", "4"),
    ];
    // The repository is created without faults (creation is a
    // create-if-absent write, which is never blindly retried).
    proxy.enabled.store(false, Ordering::SeqCst);
    let out = kando_env(
        &["location", "push", "-p", &via_proxy, "-s", "/init", "-"],
        b"init",
        &env,
    );
    ok(&out, "init through the proxy");
    proxy.enabled.store(true, Ordering::SeqCst);

    let dir = scratch_dir();
    let src = dir.path().join("stream");
    let len = 1u64 << 30;
    let want = write_stream_file(&src, seed, len);
    let t = Instant::now();
    let out = push_file(
        &["location", "push", "-p", &via_proxy, "-s", "/big", "-"],
        &src,
        &env,
    );
    let backup_secs = t.elapsed().as_secs_f64();
    let during_backup = proxy.stats.summary();
    let backup_faults = proxy.stats.injected();
    ok(
        &out,
        &format!("1 GiB push through faults ({during_backup})"),
    );
    std::fs::remove_file(&src).unwrap();
    assert!(
        backup_faults >= 3,
        "too few faults injected during the backup: {during_backup}"
    );
    let t = Instant::now();
    let (st, err, n, got) = pull_hash(
        &["location", "pull", "-p", &via_proxy, "-s", "/big", "-"],
        &env,
    );
    let restore_secs = t.elapsed().as_secs_f64();
    let total = proxy.stats.summary();
    assert!(st.success(), "pull through faults failed ({total}): {err}");
    assert_eq!((n, got), (len, want), "restored stream differs ({total})");
    let s = &proxy.stats;
    for (what, c) in [
        ("HTTP 500", &s.http500),
        ("503 SlowDown", &s.slow_down),
        ("dropped mid-request", &s.drop_request),
        ("dropped mid-response", &s.drop_response),
        ("stall", &s.stall),
    ] {
        assert!(c.load(Ordering::Relaxed) > 0, "no {what} injected: {total}");
    }
    eprintln!(
        "faults: backup {backup_secs:.1} s with {during_backup}; backup+restore ({restore_secs:.1} s): {total}"
    );
    // The repository is whole: every blob decrypts and verifies.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let repo = open_repo(&rt, &direct);
    let r = rt
        .block_on(repo.check(kapsel_repo::check::CheckOptions {
            read_data: true,
            ..Default::default()
        }))
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
    assert!(r.read_bytes >= len, "check read {} bytes", r.read_bytes);
}
