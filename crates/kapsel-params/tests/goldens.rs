//! Golden tests: every example Blueprint's actions, rendered with the fixtures in
//! testdata/params, equal byte for byte what Go's text/template + sprig produce
//! (testdata/goldens, recorded by tools/template-oracle; regenerate with
//! testdata/regen-goldens.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use kapsel_api::Blueprint;
use kapsel_params::{RenderParams, render_action};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> Option<PathBuf> {
    let dir = std::env::var_os("KANISTER_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/kanister-examples"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} missing in CI",
        dir.display()
    );
    kapsel_testkit::skip::notice(&format!("SKIP: {} not found", dir.display()));
    None
}

#[test]
fn example_blueprints_render_like_go() {
    let Some(examples) = examples() else { return };
    let checked = check_matrix(&examples, "testdata/golden-matrix.txt");
    assert!(checked >= 40, "only {checked} actions checked");
}

/// Blueprints kept in this repository for edge cases of rendering.
#[test]
fn local_blueprints_render_like_go() {
    let checked = check_matrix(&root(), "testdata/golden-matrix-local.txt");
    assert!(checked >= 2, "only {checked} actions checked");
}

/// Renders every (Blueprint, fixture) pair of a matrix file and compares with
/// its golden; returns how many actions were checked.
fn check_matrix(base: &Path, matrix_file: &str) -> usize {
    let matrix = std::fs::read_to_string(root().join(matrix_file)).unwrap();
    let examples = base;
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in matrix
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut parts = line.split_whitespace();
        let bp_rel = parts.next().unwrap();
        let bp_path = examples.join(bp_rel);
        let text = std::fs::read_to_string(&bp_path).unwrap();
        // As the oracle (sigs.k8s.io/yaml's YAMLToJSON) and the CLI read it.
        let doc: serde_json::Value = kapsel_yaml::to_value(&text).unwrap();
        let bp: Blueprint = serde_json::from_value(doc).unwrap();
        let rel = Path::new(bp_rel);
        let dir = rel.parent().unwrap().to_str().unwrap().replace('/', "-");
        let stem = rel.file_stem().unwrap().to_str().unwrap();
        for params_stem in parts {
            let params_text =
                std::fs::read_to_string(root().join(format!("testdata/params/{params_stem}.json")))
                    .unwrap();
            // As `kapsel blueprint render` reads it (the oracle reads the
            // same JSON with Go's decoder).
            let params: RenderParams = kapsel_yaml::from_str(&params_text)
                .unwrap_or_else(|e| panic!("testdata/params/{params_stem}.json: {e}"));
            let golden_name = format!("{dir}__{stem}__{params_stem}.json");
            let golden: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(root().join("testdata/goldens").join(&golden_name))
                    .unwrap(),
            )
            .unwrap();
            for (action_name, action) in &bp.spec.actions {
                let ours = serde_json::to_value(render_action(action, &params).unwrap()).unwrap();
                let want = &golden[action_name];
                for key in [
                    "phases",
                    "deferPhase",
                    "outputArtifacts",
                    "outputArtifactsError",
                ] {
                    let (a, b) = (
                        ours.get(key).unwrap_or(&serde_json::Value::Null),
                        want.get(key).unwrap_or(&serde_json::Value::Null),
                    );
                    if a != b {
                        failures.push(format!(
                            "{golden_name} action {action_name} {key}:\n  ours: {a}\n  go:   {b}"
                        ));
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} actions differ from Go:\n{}",
        failures.len(),
        failures.join("\n")
    );
    checked
}
