//! Snapshots of the rendered human output (miette, ASCII, no colour) and of the
//! JSON output for a few broken Blueprints.

use std::path::Path;

use kapsel_validate::{Options, Report, validate_source};
use miette::{GraphicalReportHandler, GraphicalTheme, ThemeCharacters, ThemeStyles};

fn load(name: &str) -> (String, Report) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken")
        .join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(!src.is_empty(), "{name} missing");
    let report = validate_source(name, &src, &Options::default());
    (src, report)
}

fn render(name: &str) -> String {
    let (src, report) = load(name);
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme {
        characters: ThemeCharacters::ascii(),
        styles: ThemeStyles::none(),
    })
    .with_width(100)
    .with_links(false);
    let mut out = String::new();
    for d in &report.diagnostics {
        if handler
            .render_report(&mut out, &d.with_source(name, &src))
            .is_err()
        {
            out.push_str("<render error>");
        }
    }
    out
}

#[test]
fn human_template_error_in_literal_block() {
    insta::assert_snapshot!(render("25-template-unclosed-action-literal-block.yaml"));
}

#[test]
fn human_template_error_after_escapes() {
    insta::assert_snapshot!(render("33-template-error-after-escapes.yaml"));
}

#[test]
fn human_unknown_param_field() {
    insta::assert_snapshot!(render("42-unknown-param-field.yaml"));
}

#[test]
fn human_duplicate_key() {
    insta::assert_snapshot!(render("03-duplicate-key.yaml"));
}

#[test]
fn human_missing_required_arg() {
    insta::assert_snapshot!(render("22-missing-required-arg.yaml"));
}

#[test]
fn human_deprecated_wait() {
    insta::assert_snapshot!(render("21-deprecated-wait.yaml"));
}

#[test]
fn human_yaml11_octal_mode() {
    insta::assert_snapshot!(render("62-yaml11-octal-mode.yaml"));
}

#[test]
fn human_yaml11_boolean_key() {
    insta::assert_snapshot!(render("63-yaml11-boolean-key.yaml"));
}

#[test]
fn json_unknown_function() {
    let (_, report) = load("18-unknown-function.yaml");
    insta::assert_json_snapshot!(report);
}

#[test]
fn json_secret_not_in_objects() {
    let (_, report) = load("37-secret-not-in-objects.yaml");
    insta::assert_json_snapshot!(report);
}

#[test]
fn json_duplicate_phase() {
    let (_, report) = load("45-duplicate-phase-in-action.yaml");
    insta::assert_json_snapshot!(report);
}
