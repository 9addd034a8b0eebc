//! What `kapsel run` prints while it runs, when stderr is not a terminal:
//! plain lines, and one JSON event per line with `--output json`.
//! Durations are redacted (no test asserts a timing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const BP: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: view}
actions:
  backup:
    phases:
    - func: KubeTask
      name: first
      args: {image: none, command: [sh, -c, 'echo one; echo two']}
    - func: KubeTask
      name: second
      args: {image: none, command: [sh, -c, 'echo three; exit 3']}
    deferPhase:
      func: KubeTask
      name: cleanup
      args: {image: none, command: [sh, -c, 'echo cleaned']}
"#;

const INV: &str = "objects:\n- {kind: StatefulSet, namespace: demo, name: app}\n";

fn run(mode: &str) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("kapsel-run-output-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (bp, inv) = (dir.join("bp.yaml"), dir.join("inv.yaml"));
    std::fs::write(&bp, BP).unwrap();
    std::fs::write(&inv, INV).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kapsel"))
        .args(["run", "-b", bp.to_str().unwrap(), "-a", "backup"])
        .args(["-o", "statefulset/demo/app", "-i", inv.to_str().unwrap()])
        .args([
            "-w",
            dir.join("out.yaml").to_str().unwrap(),
            "--output",
            mode,
        ])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn redact(s: &str) -> String {
    let s = regex::Regex::new(r"\d+\.\ds\b")
        .unwrap()
        .replace_all(s, "[dur]");
    regex::Regex::new(r#""duration":\d+"#)
        .unwrap()
        .replace_all(&s, r#""duration":"[ms]""#)
        .into_owned()
}

#[test]
fn plain_lines_when_not_a_terminal() {
    let (code, err) = run("text");
    assert_eq!(code, Some(1), "{err}");
    insta::assert_snapshot!("run_plain", redact(&err));
}

#[test]
fn one_json_event_per_line() {
    let (code, err) = run("json");
    assert_eq!(code, Some(1), "{err}");
    let mut kinds = Vec::new();
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON event per line: {line:?}: {e}"));
        kinds.push(v["event"].as_str().unwrap().to_string());
    }
    assert_eq!(kinds.first().map(String::as_str), Some("actionStarted"));
    assert_eq!(kinds.last().map(String::as_str), Some("actionEnded"));
    insta::assert_snapshot!("run_json", redact(&err));
}

#[test]
fn quiet_prints_only_the_error() {
    let (code, err) = run("quiet");
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("error: ") && err.lines().count() >= 1,
        "{err}"
    );
    assert!(!err.contains("phase first"), "{err}");
}
