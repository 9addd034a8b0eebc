#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Bad input through the kando binary against a real S3 server (SeaweedFS):
//! wrong password, missing repository, a Profile without credentials, a
//! bucket that does not exist, a truncated and a foreign object. Each gives
//! one clear error naming the thing, a non-zero exit, and leaves the
//! location's object listing unchanged.
//!
//! Skips (loudly) without `weed`, unless `KAPSEL_S3_TESTS=1`.

mod support;
use std::process::Output;

use support::*;

const BUCKET: &str = "kapsel-test";

/// `(key, size)` of every object under `prefix`, by an anonymous
/// ListObjectsV2 (SeaweedFS allows it without configured identities).
fn listing(port: u16, prefix: &str) -> Vec<(String, u64)> {
    let r = http(
        port,
        format!("GET /{BUCKET}?list-type=2&prefix={prefix} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let mut out = Vec::new();
    for c in r.split("<Contents>").skip(1) {
        let tag = |t: &str| {
            let a = c.find(&format!("<{t}>")).unwrap() + t.len() + 2;
            let b = c[a..].find(&format!("</{t}>")).unwrap();
            c[a..a + b].to_string()
        };
        out.push((tag("Key"), tag("Size").parse().unwrap()));
    }
    assert!(!r.contains("<IsTruncated>true"), "listing truncated");
    out.sort();
    out
}

fn get_object(port: u16, key: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    s.write_all(
        format!("GET /{BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut r = Vec::new();
    s.read_to_end(&mut r).unwrap();
    let i = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&r[..i]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length"), "{head}");
    r[i + 4..].to_vec()
}

fn put_object(port: u16, key: &str, body: &[u8]) {
    let mut req = format!(
        "PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let r = http(port, &req).unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run `args`, expect failure whose stderr contains every one of `needles`,
/// and no change to the objects under `prefix`.
fn fails(port: u16, prefix: &str, args: &[&str], env: &[(&str, &str)], needles: &[&str]) -> String {
    let before = listing(port, prefix);
    let out = kando_env(args, b"data that must not be stored", env);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded: {err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(
            err.contains(n),
            "{args:?}: error does not mention {n:?}:\n{err}"
        );
    }
    assert!(!err.contains("secret-test"), "a secret leaked: {err}");
    assert_eq!(
        listing(port, prefix),
        before,
        "{args:?} wrote to the location"
    );
    err
}

#[test]
fn clear_errors_and_nothing_written() {
    let Some(w) = start_weed() else { return };
    let p = s3_profile(w.port, BUCKET, "errors");
    let out = kando(
        &["location", "push", "-p", &p, "-s", "/db", "-"],
        b"the real data",
    );
    ok(&out, "push");
    assert!(!listing(w.port, "errors/").is_empty());

    // Wrong password.
    fails(
        w.port,
        "errors/",
        &["location", "pull", "-p", &p, "-s", "/db", "-"],
        &[("KAPSEL_REPO_PASSWORD", "not-the-password")],
        &["wrong password", "key file"],
    );
    fails(
        w.port,
        "errors/",
        &["location", "push", "-p", &p, "-s", "/db", "-"],
        &[("KAPSEL_REPO_PASSWORD", "not-the-password")],
        &["wrong password"],
    );
    // Missing repository: a prefix where nothing was ever pushed.
    let empty = s3_profile(w.port, BUCKET, "nothing-here");
    fails(
        w.port,
        "nothing-here/",
        &["location", "pull", "-p", &empty, "-s", "/db", "-"],
        &[],
        &["no Kapsel repository", "nothing-here/kapsel"],
    );
    // A Profile without credentials.
    let nocred = serde_json::json!({"Location":{"type":"s3Compliant","bucket":BUCKET,"endpoint":format!("http://127.0.0.1:{}", w.port),"prefix":"errors"}}).to_string();
    fails(
        w.port,
        "errors/",
        &["location", "push", "-p", &nocred, "-s", "/db", "-"],
        &[],
        &["no usable credentials", "s3Compliant", "Credential"],
    );
    // A bucket that does not exist: named, with what to do.
    let nob = s3_profile(w.port, "no-such-bucket", "errors");
    for verb in ["push", "pull"] {
        fails(
            w.port,
            "errors/",
            &["location", verb, "-p", &nob, "-s", "/db", "-"],
            &[],
            &[
                "bucket \"no-such-bucket\" does not exist",
                "create it, or correct Location.bucket",
            ],
        );
    }

    // A truncated, then a foreign snapshot object: named, never restored.
    let snaps: Vec<_> = listing(w.port, "errors/kapsel/snapshots/");
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let key = snaps[0].0.clone();
    let id = key.rsplit('/').next().unwrap().to_string();
    let orig = get_object(w.port, &key);
    put_object(w.port, &key, &orig[..orig.len() / 2]);
    let out = kando(&["location", "pull", "-p", &p, "-s", "/db", "-"], b"");
    let err = stderr(&out);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(err.contains(&id) && err.contains("corrupt"), "{err}");
    put_object(w.port, &key, b"GIF89a this is not a Kapsel object at all");
    let out = kando(&["location", "pull", "-p", &p, "-s", "/db", "-"], b"");
    let err = stderr(&out);
    assert!(!out.status.success() && out.stdout.is_empty(), "{err}");
    assert!(
        err.contains(&id) && (err.contains("not a Kapsel object") || err.contains("corrupt")),
        "{err}"
    );
    // Restored, the object reads again.
    put_object(w.port, &key, &orig);
    let out = kando(&["location", "pull", "-p", &p, "-s", "/db", "-"], b"");
    ok(&out, "pull after repair");
    assert_eq!(out.stdout, b"the real data");
}
