//! Development helper: `cargo run -p kapsel-validate --example validate -- FILE...`
//! prints the rendered diagnostics of each file (the real CLI is `kapsel blueprint validate`).

use std::process::ExitCode;

use kapsel_validate::{Options, validate_source};

fn main() -> ExitCode {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let src = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::from(2);
            }
        };
        let report = validate_source(&path, &src, &Options::default());
        for d in &report.diagnostics {
            let mut out = String::new();
            if handler
                .render_report(&mut out, &d.with_source(&path, &src))
                .is_ok()
            {
                println!("{out}");
            }
        }
        println!(
            "{path}: {} error(s), {} warning(s)",
            report.errors, report.warnings
        );
        failed |= report.has_errors(false);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
