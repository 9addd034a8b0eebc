//! `validate_source` never panics, whatever it is given.

use kapsel_validate::{Options, validate_source};
use proptest::prelude::*;

const BASE: &str = include_str!("valid/csi-waitv2-like.yaml");

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("\t".to_string()),
        Just("- ".to_string()),
        Just(": ".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{ .Phases.".to_string()),
        Just("{{ end }}".to_string()),
        Just("{{ range .X }}".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("|\n".to_string()),
        Just(">-\n".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("---\n".to_string()),
        Just("[".to_string()),
        Just("{".to_string()),
        Just("func: ".to_string()),
        Just("args:\n".to_string()),
        Just("phases:\n".to_string()),
        Just("é".to_string()),
        "[a-zA-Z0-9_.$ ]{0,8}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..80).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_yamlish_never_panics(s in yamlish()) {
        let r = validate_source("x.yaml", &s, &Options::default());
        for d in &r.diagnostics {
            for l in &d.labels {
                prop_assert!(l.span.start <= l.span.end && l.span.end <= s.len());
                prop_assert!(s.is_char_boundary(l.span.start) && s.is_char_boundary(l.span.end));
            }
        }
    }

    #[test]
    fn mutated_blueprint_never_panics(pos in 0usize..BASE.len(), cut in 0usize..40, ins in yamlish()) {
        let mut p = pos;
        while !BASE.is_char_boundary(p) { p -= 1; }
        let mut end = (p + cut).min(BASE.len());
        while !BASE.is_char_boundary(end) { end -= 1; }
        let s = format!("{}{}{}", &BASE[..p], ins, &BASE[end..]);
        let r = validate_source("x.yaml", &s, &Options::default());
        for d in &r.diagnostics {
            for l in &d.labels {
                prop_assert!(l.span.start <= l.span.end && l.span.end <= s.len());
                prop_assert!(s.is_char_boundary(l.span.start) && s.is_char_boundary(l.span.end));
            }
        }
    }
}
