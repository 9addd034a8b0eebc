//! `kapsel run` and `kapsel cleanup` aimed at a cluster that is not there:
//! a clear error naming what was tried, exit code 2, nothing written. (The
//! runs against a real cluster are end-to-end tests: crates/kapsel-e2e.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kapsel(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kapsel"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "kapsel-cluster-errors-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// stderr without miette's wrapping (line breaks, the `│` gutter).
fn flat(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn blueprint() -> String {
    root()
        .join("blueprints/postgresql.yaml")
        .display()
        .to_string()
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let dir = tempdir("missing");
    let out = kapsel(
        &[
            "run",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "-b",
            &blueprint(),
            "-a",
            "backup",
            "-o",
            "statefulset/db/pg",
            "-w",
            "out.yaml",
        ],
        &dir,
    );
    let err = flat(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
    assert!(err.contains("cannot reach a Kubernetes cluster"), "{err}");
    assert!(!dir.join("out.yaml").exists(), "nothing is written");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unreachable_api_server_is_named() {
    let dir = tempdir("unreachable");
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{token: not-a-real-token}}
contexts:
- name: ctx
  context: {{cluster: c, user: u, namespace: db}}
current-context: ctx
"
    );
    std::fs::write(dir.join("kubeconfig"), kubeconfig).unwrap();
    let out = kapsel(
        &[
            "run",
            "--kubeconfig",
            "kubeconfig",
            "-b",
            &blueprint(),
            "-a",
            "backup",
            "-o",
            "statefulset/db/pg",
            "-w",
            "out.yaml",
        ],
        &dir,
    );
    let err = flat(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the kubeconfig kubeconfig"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("not-a-real-token"), "the token leaked: {err}");
    assert!(!dir.join("out.yaml").exists(), "nothing is written");
    // cleanup says the same
    let out = kapsel(&["cleanup", "--kubeconfig", "kubeconfig"], &dir);
    let err = flat(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot reach a Kubernetes cluster"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
