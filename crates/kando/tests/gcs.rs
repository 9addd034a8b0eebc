#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location` against Google Cloud Storage: fake-gcs-server v1.56.1
//! (built from tools/fake-gcs-server), started on 127.0.0.1 by the test.
//!
//! fake-gcs-server serves object_store's XML API reads (GET, ranged GET,
//! HEAD, list, DELETE) but no object upload: every XML `PUT
//! /<bucket>/<object>` is answered `400 invalid uploadType`
//! (docs/kando.md, "How the object stores are tested"). So the round-trip
//! matrix runs its pushes through a filesystem Profile, copies that
//! repository's objects into the bucket with fake-gcs-server's JSON upload,
//! and pulls every stream back through the GCS Profile;
//! `gcs_writes_are_refused_by_fake_gcs_server` pins the refusal, so that a
//! fake-gcs-server that learns the XML upload makes it fail (then run
//! `roundtrips` here as for S3 and Azure).
//!
//! Skips (loudly) when `fake-gcs-server` is not on PATH, unless
//! `KAPSEL_GCS_TESTS=1`, which turns that into a failure (CI sets it).

mod support;
use support::*;

/// `s` without whitespace and miette's frame (`│`), so that a needle
/// matches however the error text was wrapped.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

/// Whether stderr `err` contains `needle`, however it was wrapped.
fn says(err: &str, needle: &str) -> bool {
    squash(err).contains(&squash(needle))
}

#[test]
fn gcs_pull_round_trips() {
    let Some(g) = start_fake_gcs() else { return };
    let dir = scratch_dir();
    let written = dir.path().join("bucket");
    pull_roundtrips(
        &fs_profile(&written, "team/app"),
        || {
            let n = gcs_upload_tree(g.port, GCS_BUCKET, &written, "");
            assert!(n > 10, "only {n} objects copied");
        },
        &gcs_profile(g.port, GCS_BUCKET, "team/app"),
        "gcs",
    );
}

#[test]
fn gcs_writes_are_refused_by_fake_gcs_server() {
    let Some(g) = start_fake_gcs() else { return };
    let p = gcs_profile(g.port, GCS_BUCKET, "writes");
    let out = kando(&["location", "push", "-p", &p, "-s", "/w", "-"], b"data");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "push succeeded: {err}");
    // The first write of a new repository: its key file, created if absent
    // (an XML PUT with x-goog-if-generation-match: 0).
    assert!(
        says(&err, "Error performing PUT http://127.0.0.1:")
            && says(&err, "writes%2Fkapsel%2Fkeys%2F")
            && says(&err, "400 Bad Request")
            && says(&err, r#""message":"invalid uploadType""#),
        "{err}"
    );
    assert!(!err.contains("kapsel-test@kapsel-test"), "{err}");
    // Nothing was written.
    let list = http(
        g.port,
        format!(
            "GET /storage/v1/b/{GCS_BUCKET}/o HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            g.port
        )
        .as_bytes(),
    )
    .unwrap();
    assert!(
        list.starts_with("HTTP/1.1 200") && !list.contains("writes/"),
        "{list}"
    );
}

#[test]
fn gcs_secret_credential_and_errors() {
    let Some(g) = start_fake_gcs() else { return };
    // A repository written through a filesystem Profile, copied in.
    let dir = scratch_dir();
    let written = dir.path().join("bucket");
    let out = kando(
        &[
            "location",
            "push",
            "-p",
            &fs_profile(&written, "secret-cred"),
            "-s",
            "/s",
            "-",
        ],
        b"via secret",
    );
    ok(&out, "push to the filesystem");
    gcs_upload_tree(g.port, GCS_BUCKET, &written, "");
    // A secrets.kanister.io/gcp Secret opens the same location.
    let p = gcs_secret_profile(g.port, GCS_BUCKET, "secret-cred");
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s", "-"], b"");
    ok(&out, "pull with a Secret credential");
    assert_eq!(out.stdout, b"via secret");
    // So does the key pair, through --secrets-stdin.
    let secrets = serde_json::json!({
        "profile": serde_json::from_str::<serde_json::Value>(&gcs_profile(g.port, GCS_BUCKET, "secret-cred")).unwrap(),
    })
    .to_string();
    let out = kando(
        &["location", "pull", "--secrets-stdin", "-s", "/s", "-"],
        secrets.as_bytes(),
    );
    ok(&out, "pull with --secrets-stdin");
    assert_eq!(out.stdout, b"via secret");
    // An empty prefix there: no repository, said so, naming the location.
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            &gcs_profile(g.port, GCS_BUCKET, "nothing-here"),
            "-s",
            "/s",
            "-",
        ],
        b"",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        says(&err, "no Kapsel repository") && says(&err, "nothing-here/kapsel"),
        "{err}"
    );
    // A bucket that does not exist: the error names it. (fake-gcs-server
    // answers a GET there 404 without GCS's NoSuchBucket body, so it reads
    // as "no repository" in that bucket.)
    let missing = gcs_profile(g.port, "no-such-bucket", "secret-cred");
    let out = kando(&["location", "pull", "-p", &missing, "-s", "/s", "-"], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(says(&err, "GoogleCloudStorage(no-such-bucket)"), "{err}");
    // A key without a private key is for an emulator only: without an
    // endpoint it is refused before any request, and the key is not shown.
    let noep = gcs_profile(g.port, GCS_BUCKET, "secret-cred")
        .replace(&format!("http://127.0.0.1:{}", g.port), "");
    let out = kando(&["location", "pull", "-p", &noep, "-s", "/s", "-"], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        says(&err, "has no private_key") && !err.contains("kapsel-test@kapsel-test"),
        "{err}"
    );
}
