//! Each `tests/broken/NN-name.yaml` has one defect, declared in its header as
//! `# expect: KVxxxx at LINE:COL`; it must yield exactly that one diagnostic.

mod common;

use std::path::Path;

use kapsel_validate::{Options, validate_source};

fn expectation(src: &str) -> Option<(String, usize, usize)> {
    let line = src.lines().next()?.strip_prefix("# expect: ")?;
    let (code, pos) = line.split_once(" at ")?;
    let (l, c) = pos.trim().split_once(':')?;
    Some((code.to_string(), l.parse().ok()?, c.parse().ok()?))
}

#[test]
fn broken_blueprints_yield_exactly_the_expected_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let files = common::yaml_files(&dir);
    assert!(files.len() >= 45, "only {} broken blueprints", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let src = std::fs::read_to_string(path).unwrap_or_default();
        let Some((code, line, col)) = expectation(&src) else {
            failures.push(format!("{name}: missing or malformed `# expect:` header"));
            continue;
        };
        let report = validate_source(&name, &src, &Options::default());
        let got: Vec<String> = report
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = d.position().unwrap_or((0, 0));
                format!("{} at {l}:{c}", d.code)
            })
            .collect();
        let want = format!("{code} at {line}:{col}");
        if got != [want.clone()] {
            failures.push(format!(
                "{name}: expected [{want}], got {got:?}\n{}",
                common::render(&report, &src)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn broken_files_cover_many_codes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut codes: Vec<String> = common::yaml_files(&dir)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|s| expectation(&s).map(|e| e.0))
        .collect();
    codes.sort();
    codes.dedup();
    assert!(codes.len() >= 25, "{codes:?}");
}
