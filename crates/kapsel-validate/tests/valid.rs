//! Hand-written valid Blueprints in the style of Kanister's published ones: no
//! diagnostics, except an `# expect-warning: CODE at L:C` header which must be
//! the only diagnostic.

mod common;

use std::path::Path;

use kapsel_validate::{Options, Severity, validate_source};

#[test]
fn own_valid_blueprints() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid");
    let files = common::yaml_files(&dir);
    assert!(files.len() >= 3);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let src = std::fs::read_to_string(path).unwrap_or_default();
        let expected: Vec<String> = src
            .lines()
            .filter_map(|l| l.strip_prefix("# expect-warning: "))
            .map(str::to_string)
            .collect();
        let report = validate_source(&name, &src, &Options::default());
        let got: Vec<String> = report
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = d.position().unwrap_or((0, 0));
                format!("{} at {l}:{c}", d.code)
            })
            .collect();
        let all_warnings = report
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning);
        if got != expected || !all_warnings || report.has_errors(false) {
            failures.push(format!(
                "{name}: expected {expected:?}, got {got:?}\n{}",
                common::render(&report, &src)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn wait_warning_fails_only_with_deny_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valid");
    let src = std::fs::read_to_string(dir.join("elasticsearch-like-wait.yaml")).unwrap_or_default();
    let report = validate_source("es.yaml", &src, &Options::default());
    assert_eq!(report.warnings, 1);
    assert!(!report.has_errors(false));
    assert!(report.has_errors(true));
    let d = &report.diagnostics[0];
    assert_eq!(d.code, "KV0204");
    assert!(
        d.help.as_deref().is_some_and(|h| h.contains("WaitV2")),
        "{d:?}"
    );
}
