//! Nothing panics or overflows the stack: deep nesting, recursion, garbage input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kapsel_template::{Options, Template, Value};
use proptest::prelude::*;

fn data() -> Value {
    Value::from_json(&serde_json::json!({
        "s": "x", "n": 1, "l": [1, "a", null, {"k": "v"}], "m": {"a": {"b": "c"}}, "nil": null
    }))
}

fn run(src: &str) -> Result<String, String> {
    let opts = Options::kanister();
    let t = Template::parse("t", src, &opts.funcs).map_err(|e| e.to_string())?;
    t.execute(&data(), &opts).map_err(|e| e.to_string())
}

/// Runs `f` on a thread with a 2 MiB stack, the default for spawned threads and
/// the test harness.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_parentheses_error_not_overflow() {
    let r = small_stack(|| {
        run(&format!(
            "{{{{{}1{}}}}}",
            "(".repeat(5000),
            ")".repeat(5000)
        ))
    });
    let e = r.unwrap_err();
    assert!(e.contains("max expression depth exceeded"), "{e}");
}

#[test]
fn moderately_deep_parentheses_work() {
    let r = small_stack(|| run(&format!("{{{{{}1{}}}}}", "(".repeat(90), ")".repeat(90))));
    assert_eq!(r.unwrap(), "1");
}

#[test]
fn deep_control_nesting_error_not_overflow() {
    let src = format!("{}x{}", "{{if 1}}".repeat(5000), "{{end}}".repeat(5000));
    let r = small_stack(move || run(&src));
    let e = r.unwrap_err();
    assert!(e.contains("max expression depth exceeded"), "{e}");
}

#[test]
fn deepest_allowed_nesting_executes() {
    let depth = 49;
    let src = format!(
        "{}{{{{{}1{}}}}}{}",
        "{{with 1}}{{range 1}}".repeat(depth / 2),
        "(".repeat(depth),
        ")".repeat(depth),
        "{{end}}{{end}}".repeat(depth / 2)
    );
    let r = small_stack(move || run(&src));
    assert_eq!(r.unwrap(), "1");
}

#[test]
fn infinite_template_recursion_errors() {
    let src = r#"{{define "r"}}{{with 1}}{{if 1}}{{range 1}}{{template "r" .}}{{end}}{{end}}{{end}}{{end}}{{template "r" .}}"#;
    let e = small_stack(move || run(src)).unwrap_err();
    assert!(e.contains("exceeded maximum template depth"), "{e}");
}

#[test]
fn deep_pipeline_of_parens_in_recursion_errors_cleanly() {
    let inner = format!("{}.{}", "(".repeat(98), ")".repeat(98));
    let src = format!(
        r#"{{{{define "r"}}}}{{{{template "r" {inner}}}}}{{{{end}}}}{{{{template "r" .}}}}"#
    );
    let e = small_stack(move || run(&src)).unwrap_err();
    assert!(e.contains("exceeded maximum template depth"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
        let _ = run(&s);
    }

    #[test]
    fn template_like_soup_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("{{"), Just("}}"), Just("{{-"), Just(" -}}"), Just("("), Just(")"), Just("|"),
            Just(" "), Just("."), Just(".s"), Just(".l"), Just(".m.a"), Just("$"), Just("$x"), Just(":="),
            Just("="), Just("if"), Just("else"), Just("end"), Just("range"), Just("with"), Just("break"),
            Just("continue"), Just("define"), Just("template"), Just("block"), Just("\"r\""), Just("index"),
            Just("slice"), Just("len"), Just("eq"), Just("lt"), Just("and"), Just("or"), Just("not"),
            Just("print"), Just("printf"), Just("\"%v\""), Just("1"), Just("-1"), Just("0x1"), Just("1.5"),
            Just("'a'"), Just("nil"), Just("true"), Just("`r`"), Just("/*"), Just("*/"), Just("\n"),
            Just("upper"), Just("default"), Just("toJson"), Just("list"), Just("dict"), Just(","),
        ], 0..40)
    ) {
        let s: String = parts.concat();
        let _ = run(&s);
    }
}

#[test]
#[ignore]
fn probe_depths() {
    for d in [50usize, 99, 100, 101] {
        let src = format!("{{{{{}1{}}}}}", "(".repeat(d), ")".repeat(d));
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let _ = run(&src);
            })
            .unwrap()
            .join()
            .is_ok();
        eprintln!("parens {d}: {ok}");
        let src = format!("{}x{}", "{{if 1}}".repeat(d), "{{end}}".repeat(d));
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let _ = run(&src);
            })
            .unwrap()
            .join()
            .is_ok();
        eprintln!("ifs {d}: {ok}");
    }
}

#[test]
fn renders_quickly() {
    let d = Value::from_json(&serde_json::json!({
        "Phases": {"dump": {"Output": {"loc": "s3://b/p"}, "Secrets": {"s": {"Data": {"password": "cHc="}}}}},
        "Object": {"metadata": {"name": "db", "namespace": "ns"}}
    }));
    let src = r#"kando location push --profile '{{ toJson .Phases }}' --path "{{ .Phases.dump.Output.loc }}/{{ .Object.metadata.namespace }}" {{ index .Phases.dump.Secrets.s.Data "password" | b64dec | quote }}"#;
    let start = std::time::Instant::now();
    for _ in 0..2000 {
        kapsel_template::render_kanister("config", src, &d).unwrap();
    }
    let per = start.elapsed() / 2000;
    assert!(
        per < std::time::Duration::from_millis(5),
        "{per:?} per render"
    );
}

#[test]
fn runaway_range_and_output_are_bounded() {
    let e = run("{{range 9223372036854775807}}{{end}}").unwrap_err();
    assert!(e.contains("range iterations exceed"), "{e}");
    let e = run(r#"{{range 1000000}}{{"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}}{{end}}"#)
        .unwrap_err();
    assert!(e.contains("output exceeds"), "{e}");
    assert_eq!(run("{{range 3}}{{.}}{{end}}").unwrap(), "012");
}
