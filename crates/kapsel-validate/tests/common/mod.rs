//! Shared test helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kapsel_validate::Report;

/// `<workspace root>/../shared/kanister-examples`.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kanister-examples")
}

/// All `.yaml`/`.yml` files under `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether a file's top-level `kind:` is `Blueprint`.
pub fn is_blueprint(src: &str) -> bool {
    src.lines().any(|l| l.trim_end() == "kind: Blueprint")
}

/// Render all diagnostics of a report as text, for failure messages.
pub fn render(report: &Report, src: &str) -> String {
    use std::fmt::Write;
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(120);
    let mut out = String::new();
    for d in &report.diagnostics {
        let _ = handler.render_report(&mut out, &d.with_source(&report.path, src));
        let _ = writeln!(out);
    }
    out
}
