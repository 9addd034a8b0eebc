//! Properties of the YAML 1.1 (go-yaml v2) scalar resolution and of the JSON
//! conversion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kapsel_yaml::resolve::{Resolved, resolve_core12, resolve_plain};
use proptest::prelude::*;
use serde_json::{Value, json};

/// `s` with `_` inserted after each position in `at` (between digits).
fn with_underscores(s: &str, at: &[usize]) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        out.push(*c);
        if i + 1 < chars.len() && at.contains(&i) && c.is_ascii_alphanumeric() {
            out.push('_');
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(s in "\\PC{0,12}") {
        let _ = resolve_plain(&s);
        let _ = resolve_core12(&s);
        let _ = kapsel_yaml::to_value(&s);
    }

    #[test]
    fn decimal_integers(n in any::<i64>(), at in prop::collection::vec(0usize..20, 0..4)) {
        prop_assert_eq!(resolve_plain(&n.to_string()), Resolved::Int(n));
        let body = n.unsigned_abs().to_string();
        let sign = if n < 0 { "-" } else { "" };
        // go-yaml drops every underscore first.
        if !body.starts_with('0') {
            let s = format!("{sign}{}", with_underscores(&body, &at));
            prop_assert_eq!(resolve_plain(&s), Resolved::Int(n));
        }
    }

    #[test]
    fn bases(n in 0i64..=i64::MAX) {
        // Leading-zero octal (YAML 1.1), 0o (Go's ParseInt), hex, binary.
        prop_assert_eq!(resolve_plain(&format!("0{n:o}")), Resolved::Int(n));
        prop_assert_eq!(resolve_plain(&format!("0o{n:o}")), Resolved::Int(n));
        prop_assert_eq!(resolve_plain(&format!("0x{n:x}")), Resolved::Int(n));
        prop_assert_eq!(resolve_plain(&format!("0X{n:X}")), Resolved::Int(n));
        prop_assert_eq!(resolve_plain(&format!("0b{n:b}")), Resolved::Int(n));
        prop_assert_eq!(resolve_plain(&format!("-0b{n:b}")), Resolved::Int(-n));
        // YAML 1.2 reads a leading zero as decimal.
        if n > 7 {
            let octal = format!("0{n:o}");
            let decimal: i64 = octal.parse().unwrap_or(-1);
            if decimal >= 0 {
                prop_assert_eq!(resolve_core12(&octal), Resolved::Int(decimal));
            }
        }
    }

    #[test]
    fn unsigned_above_i64(n in (i64::MAX as u64 + 1)..=u64::MAX) {
        prop_assert_eq!(resolve_plain(&n.to_string()), Resolved::Uint(n));
    }

    #[test]
    fn floats(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        // Rust's `{:e}` and `{:?}` print a shape go-yaml accepts, and round-trip.
        for text in [format!("{f:e}"), format!("{f:?}")] {
            let r = resolve_plain(&text);
            match r {
                Resolved::Float(g) => prop_assert_eq!(g, f),
                Resolved::Int(i) => prop_assert_eq!(i as f64, f),
                Resolved::Uint(u) => prop_assert_eq!(u as f64, f),
                other => prop_assert!(false, "{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn integral_floats_are_json_integers(n in -1_000_000_000_000i64..1_000_000_000_000) {
        // `1000.0` and `1e3` reach Kanister as `1000`.
        let v = kapsel_yaml::to_value(&format!("a: {n}.0\nb: {n:e}\n")).unwrap();
        prop_assert_eq!(v, json!({"a": n, "b": n}));
    }

    #[test]
    fn fractional_floats_stay_floats(n in -1_000_000i64..1_000_000, d in 1u32..99) {
        let text = format!("{n}.{d:02}");
        let want: f64 = text.parse().unwrap();
        let v = kapsel_yaml::to_value(&format!("a: {text}\n")).unwrap();
        prop_assert_eq!(v["a"].as_f64(), Some(want));
        prop_assert!(v["a"].is_f64());
    }

    #[test]
    fn quoted_scalars_are_strings(s in "[ -~é€]{0,16}") {
        let double = serde_json::to_string(&s).unwrap();
        let single = format!("'{}'", s.replace('\'', "''"));
        for q in [double, single] {
            let v = kapsel_yaml::to_value(&format!("a: {q}\n")).unwrap();
            prop_assert_eq!(&v["a"], &Value::String(s.clone()));
        }
    }

    #[test]
    fn keys_are_strings_of_the_resolved_value(k in "(on|yes|y|n|off|true|No|0400|0x1F|1_0|[a-z]{1,6})") {
        let v = kapsel_yaml::to_value(&format!("{k}: 1\n")).unwrap();
        let key = match resolve_plain(&k) {
            Resolved::Bool(b) => b.to_string(),
            Resolved::Int(i) => i.to_string(),
            _ => k.clone(),
        };
        prop_assert_eq!(v, json!({ key: 1 }));
    }

    #[test]
    fn same_reading_means_no_warning(s in "[a-z0-9_.+-]{1,8}") {
        let agree = match (resolve_plain(&s), resolve_core12(&s)) {
            (Resolved::Float(a), Resolved::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (a, b) => a == b,
        };
        let src = kapsel_yaml::tree::Src::new(&s);
        let loaded = kapsel_yaml::tree::load(&src);
        let found: Vec<_> = loaded.docs.iter().flat_map(kapsel_yaml::ambiguity::ambiguities).collect();
        if agree {
            prop_assert!(found.is_empty(), "{s:?}: {found:?}");
        }
    }
}
