//! Runs the Go-recorded template corpus (`testdata/template-corpus/*.json`,
//! recorded with real Go text/template + sprig by `tools/template-oracle`) and
//! compares output and error text exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use kapsel_template::{Options, Template, Value};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/template-corpus")
}

/// Cases known to differ, with the reason. Anything else differing fails.
const KNOWN: &[(&str, &str)] = &[
    ("b049", "complex constants are not supported by Kapsel"),
    (
        "l040",
        "sprig `set` mutating a map in place: Values are immutable",
    ),
    ("x007", "sprig dateInZone with IANA zones (sprig crate)"),
    ("x037", "sprig encryptAES not implemented (sprig crate)"),
    (
        "g0211",
        "slice beyond len within cap: encoding/json's slices have spare capacity",
    ),
    (
        "g0316",
        "index of a string yields int here, uint8 in Go (%T differs)",
    ),
];

/// Runs one corpus file; returns the mismatches as printable lines.
fn run_file(file: &str) -> (usize, Vec<String>) {
    run_file_with(file, Options::kanister())
}

/// Runs one corpus file with the given options.
fn run_file_with(file: &str, opts: Options) -> (usize, Vec<String>) {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut bad = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap_or("?");
        let src = c["template"].as_str().unwrap();
        let data = Value::from_json(&c["data"]);
        let tname = c.get("tname").and_then(|v| v.as_str()).unwrap_or("config");
        let got = std::panic::catch_unwind(|| {
            Template::parse(tname, src, &opts.funcs)
                .map_err(|e| e.to_string())
                .and_then(|t| t.execute(&data, &opts).map_err(|e| e.to_string()))
        });
        let got = match got {
            Ok(r) => r,
            Err(_) => Err("PANIC".to_string()),
        };
        let want: Result<String, String> = match c.get("error").and_then(|e| e.as_str()) {
            Some(e) => Err(e.to_string()),
            None => Ok(c["output"].as_str().unwrap_or("").to_string()),
        };
        if got != want && !KNOWN.iter().any(|(k, _)| *k == name) {
            bad.push(format!(
                "{name}: {src:?}\n   want {want:?}\n   got  {got:?}"
            ));
        }
    }
    (cases.len(), bad)
}

fn check(file: &str) {
    let allowed_failures = 0;
    let (n, bad) = run_file(file);
    for b in &bad {
        eprintln!("{b}");
    }
    eprintln!("{file}: {} of {n} cases differ", bad.len());
    assert!(
        bad.len() <= allowed_failures,
        "{file}: {} of {n} cases differ from Go",
        bad.len()
    );
}

#[test]
fn corpus_basics() {
    check("basics.json");
}

#[test]
fn corpus_builtins() {
    check("builtins.json");
}

#[test]
fn corpus_control() {
    check("control.json");
}

#[test]
fn corpus_errors() {
    check("errors.json");
}

#[test]
fn corpus_printf() {
    check("printf.json");
}

#[test]
fn corpus_kanister_patterns() {
    check("kanister-patterns.json");
}

#[test]
fn corpus_sprig_strings() {
    check("sprig-strings.json");
}

#[test]
fn corpus_sprig_lists_dicts() {
    check("sprig-lists-dicts.json");
}

#[test]
fn corpus_sprig_math_conv() {
    check("sprig-math-conv.json");
}

#[test]
fn corpus_sprig_misc() {
    check("sprig-misc.json");
}

/// Runs an extra corpus file named by `KAPSEL_CORPUS_FILE` (same format), for
/// ad-hoc comparisons with freshly recorded cases.
#[test]
#[ignore]
fn corpus_from_env() {
    let Ok(path) = std::env::var("KAPSEL_CORPUS_FILE") else {
        return;
    };
    let mut opts = Options::kanister();
    opts.missing_key = match std::env::var("KAPSEL_CORPUS_MISSINGKEY").as_deref() {
        Ok("default") => kapsel_template::MissingKey::Default,
        Ok("zero") => kapsel_template::MissingKey::Zero,
        _ => kapsel_template::MissingKey::Error,
    };
    let (n, bad) = run_file_with(&path, opts);
    for b in &bad {
        eprintln!("{b}");
    }
    eprintln!("{path}: {} of {n} cases differ", bad.len());
    assert!(bad.is_empty());
}

#[test]
fn engine_cases() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine-cases.json");
    let (n, bad) = run_file(path.to_str().unwrap());
    for b in &bad {
        eprintln!("{b}");
    }
    assert!(n > 400, "only {n} cases");
    assert!(
        bad.is_empty(),
        "{} of {n} engine cases differ from Go",
        bad.len()
    );
}

#[test]
fn missingkey_default_and_zero_cases() {
    for (file, mk) in [
        (
            "missingkey-default.json",
            kapsel_template::MissingKey::Default,
        ),
        ("missingkey-zero.json", kapsel_template::MissingKey::Zero),
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file);
        let mut opts = Options::kanister();
        opts.missing_key = mk;
        let (n, bad) = run_file_with(path.to_str().unwrap(), opts);
        for b in &bad {
            eprintln!("{b}");
        }
        assert!(n > 10, "{file}: only {n} cases");
        assert!(
            bad.is_empty(),
            "{file}: {} of {n} differ from Go",
            bad.len()
        );
    }
}
