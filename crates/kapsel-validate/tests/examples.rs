//! Every Blueprint in Kanister's published examples validates with zero diagnostics.

mod common;

use kapsel_validate::{Options, validate_source};

#[test]
fn kanister_examples_have_no_diagnostics() {
    let dir = common::examples_dir();
    if !dir.is_dir() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{} is missing", dir.display());
        }
        eprintln!("skipping: {} not found", dir.display());
        return;
    }
    let mut checked = 0;
    let mut failures = String::new();
    for path in common::yaml_files(&dir) {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !common::is_blueprint(&src) {
            continue;
        }
        checked += 1;
        let name = path.display().to_string();
        let report = validate_source(&name, &src, &Options::default());
        if !report.diagnostics.is_empty() {
            failures.push_str(&common::render(&report, &src));
        }
    }
    assert!(
        checked >= 15,
        "only {checked} blueprints found in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "{failures}");
}
