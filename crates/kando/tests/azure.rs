#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location` against Azure Blob storage: Azurite (npm `azurite`),
//! started on 127.0.0.1 by the test with an account of its own.
//!
//! Skips (loudly) when `azurite-blob` is not on PATH, unless
//! `KAPSEL_AZURE_TESTS=1`, which turns that into a failure (CI sets it).

mod support;
use support::*;

#[test]
fn azure_round_trips() {
    let Some(az) = start_azurite() else { return };
    roundtrips(&azure_profile(az.port, "kapsel-test", "team/app"), "azure");
}

#[test]
fn azure_secret_credential_and_errors() {
    let Some(az) = start_azurite() else { return };
    // A secrets.kanister.io/azure Secret opens the same kind of location.
    let p = azure_secret_profile(az.port, "kapsel-test", "secret-cred");
    let out = kando(
        &["location", "push", "-p", &p, "-s", "/s", "-"],
        b"via secret",
    );
    ok(&out, "push with a Secret credential");
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s", "-"], b"");
    ok(&out, "pull with a Secret credential");
    assert_eq!(out.stdout, b"via secret");
    // A wrong account key is refused by the server: non-zero, nothing leaks.
    let bad = azure_profile(az.port, "kapsel-test", "secret-cred")
        .replace(&b64(AZ_KEY), &b64(b"another-key-entirely-0123456789!"));
    let out = kando(&["location", "pull", "-p", &bad, "-s", "/s", "-"], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains(&b64(b"another-key-entirely-0123456789!")),
        "{err}"
    );
    // A container that does not exist.
    let missing = azure_profile(az.port, "no-such-container", "x");
    let out = kando(&["location", "push", "-p", &missing, "-s", "/s", "-"], b"x");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-container") || err.contains("ContainerNotFound"),
        "{err}"
    );
}
