//! Library behaviour beyond single defects: options, ordering, JSON shape, engines.

use std::sync::Arc;

use kapsel_validate::template::BasicEngine;
use kapsel_validate::{Options, Severity, validate_source};

const HEAD: &str = "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata:\n  name: t\n";

fn bp(actions: &str) -> String {
    format!("{HEAD}actions:\n{actions}")
}

fn codes(src: &str, opts: &Options) -> Vec<(&'static str, usize, usize)> {
    validate_source("t.yaml", src, opts)
        .diagnostics
        .iter()
        .map(|d| {
            let (l, c) = d.position().unwrap_or((0, 0));
            (d.code, l, c)
        })
        .collect()
}

const TWO_ACTIONS: &str = "  backup:\n    phases:\n    - func: KubeTask\n      name: run\n      args:\n        image: busybox\n        command: [sh, -c, 'true']\n  delete:\n    phases:\n    - func: KubeTask\n      name: run\n      args:\n        image: busybox\n        command: [sh, -c, 'true']\n";

#[test]
fn cross_action_duplicate_names_only_in_strict_mode() {
    let src = bp(TWO_ACTIONS);
    assert!(codes(&src, &Options::default()).is_empty());
    let strict = Options {
        kanister_strict: true,
        ..Options::default()
    };
    assert_eq!(codes(&src, &strict), vec![("KV0109", 16, 13)]);
}

#[test]
fn function_version_rules() {
    let src = bp(TWO_ACTIONS.split("  delete:").next().unwrap_or_default());
    let v = |s: &str| Options {
        function_version: Some(s.to_string()),
        ..Options::default()
    };
    assert!(codes(&src, &v("v0.0.0")).is_empty());
    // A valid but unregistered version falls back to v0.0.0, as in Kanister.
    assert!(codes(&src, &v("v1.2.3")).is_empty());
    let r = validate_source("t.yaml", &src, &v("next"));
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code, "KV0206");
    assert!(r.has_errors(false));
}

#[test]
fn all_problems_in_one_pass_sorted_by_position() {
    let src = "apiVersion: cr.kanister.io/v1\nkind: Blueprint\nmetadata:\n  name: t\nactions:\n  backup:\n    phases:\n    - func: KubeTsk\n      name: a\n    - func: KubeTask\n      name: b\n      args:\n        image: '{{ .Profil }}'\n        command: [x]\n        extra: 1\n";
    let got = codes(src, &Options::default());
    assert_eq!(
        got,
        vec![
            ("KV0101", 1, 13),
            ("KV0201", 8, 13),
            ("KV0307", 13, 21),
            ("KV0203", 15, 9)
        ]
    );
}

#[test]
fn json_shape() {
    let src = bp(
        "  backup:\n    phases:\n    - func: Wait\n      name: w\n      args:\n        timeout: 1m\n        conditions: {}\n",
    );
    let r = validate_source("w.yaml", &src, &Options::default());
    let j = r.to_json();
    assert_eq!(j["path"], "w.yaml");
    assert_eq!(j["errors"], 0);
    assert_eq!(j["warnings"], 1);
    let d = &j["diagnostics"][0];
    assert_eq!(d["code"], "KV0204");
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["labels"][0]["line"], 8);
    assert_eq!(d["labels"][0]["col"], 13);
    assert_eq!(
        d["labels"][0]["span"]["start"],
        src.find("Wait").unwrap_or(0)
    );
    assert_eq!(
        d["labels"][0]["span"]["end"],
        src.find("Wait").unwrap_or(0) + 4
    );
    assert!(d["help"].as_str().is_some_and(|h| h.contains("WaitV2")));
    assert_eq!(r.diagnostics[0].severity, Severity::Warning);
}

#[test]
fn waitv2_condition_is_not_checked_against_params() {
    let src = bp(
        "  backup:\n    phases:\n    - func: WaitV2\n      name: w\n      args:\n        timeout: 1m\n        conditions:\n          anyOf:\n          - condition: '{{ $.status.phase }}'\n            objectReference:\n              name: '{{ .StatefulSet.Nmae }}'\n",
    );
    assert_eq!(codes(&src, &Options::default()), vec![("KV0307", 16, 38)]);
    let bad = src.replace("{{ $.status.phase }}", "{{ $.status.phase ");
    assert_eq!(
        codes(&bad, &Options::default())
            .into_iter()
            .map(|c| c.0)
            .collect::<Vec<_>>(),
        vec!["KV0301", "KV0307"]
    );
}

#[test]
fn pluggable_engine_and_param_tree() {
    let src = bp(
        "  backup:\n    phases:\n    - func: KubeTask\n      name: a\n      args:\n        image: '{{ .StatefulSet.Nmae }}'\n        command: [x]\n",
    );
    let opts = Options {
        template_engine: Some(Arc::new(BasicEngine)),
        param_types: Some(kapsel_params::template_params_type()),
        ..Options::default()
    };
    let r = validate_source("t.yaml", &src, &opts);
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].code, "KV0307");
    assert_eq!(
        r.diagnostics[0].help.as_deref(),
        Some("did you mean `Name`?")
    );
    assert_eq!(r.diagnostics[0].position(), Some((11, 33)));
}

#[test]
fn empty_and_garbage_inputs() {
    for s in [
        "", "\n", "---\n", "~", "[", "a: [", "\u{feff}", "- - - -", "&a [*a]",
    ] {
        let r = validate_source("x", s, &Options::default());
        assert!(r.has_errors(false), "{s:?}: {:?}", r.diagnostics);
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    let src = bp(
        "  backup:\n    phases:\n    - func: KubeTask\n      name: a\n      args:\n        image: 'é€😀 {{ .Profil }}'\n        command: [x]\n",
    );
    // `'` is column 16, then 3 characters, a space, `{{`, a space, `.`.
    assert_eq!(codes(&src, &Options::default()), vec![("KV0307", 11, 25)]);
}

#[test]
fn crlf_line_endings_give_the_same_positions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    for name in [
        "25-template-unclosed-action-literal-block.yaml",
        "28-template-error-plain-multiline.yaml",
        "29-template-error-folded-block.yaml",
        "33-template-error-after-escapes.yaml",
        "42-unknown-param-field.yaml",
    ] {
        let src = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(!src.is_empty(), "{name}");
        let crlf = src.replace('\n', "\r\n");
        assert_eq!(
            codes(&src, &Options::default()),
            codes(&crlf, &Options::default()),
            "{name}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for s in [
        "[".repeat(100_000),
        format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)),
        "- ".repeat(5_000),
        format!("{}a: 1", "{a: ".repeat(3_000)),
        bp(&format!(
            "  backup:\n    phases:\n    - func: KubeTask\n      name: a\n      args:\n        image: '{{{{ {}1{} }}}}'\n        command: [x]\n",
            "(".repeat(20_000),
            ")".repeat(20_000)
        )),
    ] {
        let r = validate_source("deep.yaml", &s, &Options::default());
        assert!(r.has_errors(false), "{:?}", &s[..20]);
    }
}
