//! The dependency directions ARCHITECTURE.md promises, checked against
//! `cargo metadata`: a new edge between Kapsel crates must be added here and in
//! ARCHITECTURE.md in the same change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Kapsel crate → the Kapsel crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("kapsel-govalue", &[]),
    ("kapsel-sprig", &["kapsel-govalue"]),
    ("kapsel-template", &["kapsel-govalue", "kapsel-sprig"]),
    ("kapsel-api", &[]),
    ("kapsel-yaml", &[]),
    (
        "kapsel-params",
        &["kapsel-api", "kapsel-govalue", "kapsel-template"],
    ),
    (
        "kapsel-validate",
        &[
            "kapsel-api",
            "kapsel-govalue",
            "kapsel-template",
            "kapsel-params",
            "kapsel-yaml",
        ],
    ),
    ("kando", &["kapsel-repo", "kapsel-storage"]),
    (
        "kapsel-engine",
        &[
            "kapsel-api",
            "kapsel-params",
            "kapsel-validate",
            "kapsel-template",
            "kapsel-govalue",
            "kapsel-yaml",
        ],
    ),
    (
        "kapsel-platform-local",
        &["kapsel-engine", "kapsel-api", "kapsel-params"],
    ),
    (
        "kapsel-platform-k8s",
        &["kapsel-engine", "kapsel-api", "kapsel-params"],
    ),
    (
        "kapsel-controller",
        &[
            "kapsel-api",
            "kapsel-engine",
            "kapsel-params",
            "kapsel-platform-k8s",
            "kapsel-validate",
            "kapsel-yaml",
        ],
    ),
    ("kapsel-repo", &[]),
    ("kapsel-storage", &[]),
    ("kapsel-dbtests", &[]),
    ("kapsel-testkit", &[]),
];

/// Test support: only ever a dev-dependency (of any crate, kapsel-e2e too).
const DEV_ONLY: &[&str] = &["kapsel-testkit"];

/// Crates no library may depend on (binaries only).
const BINARY_ONLY: &[&str] = &["clap", "anyhow"];

#[test]
fn dependency_directions_hold() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(k, v)| (*k, v.iter().copied().collect()))
        .collect();
    let mut problems = Vec::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let normal: Vec<&str> = pkg["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        let is_lib = pkg["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "lib"));
        if is_lib {
            for d in &normal {
                if BINARY_ONLY.contains(d) {
                    problems.push(format!("library {name} depends on {d}"));
                }
            }
        }
        let build: Vec<&str> = pkg["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"] == "build")
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        for d in normal.iter().chain(&build) {
            if DEV_ONLY.contains(d) {
                problems.push(format!(
                    "{name} depends on {d}, which may only be a dev-dependency"
                ));
            }
        }
        if name == "kapsel-cli" || name.starts_with("kapsel-e2e") {
            continue;
        }
        let Some(ok) = allowed.get(name) else {
            problems.push(format!(
                "{name} is not listed in tests/architecture.rs (and ARCHITECTURE.md)"
            ));
            continue;
        };
        for d in normal
            .iter()
            .filter(|d| d.starts_with("kapsel-") || **d == "kando")
        {
            if !ok.contains(d) {
                problems.push(format!("{name} must not depend on {d}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
