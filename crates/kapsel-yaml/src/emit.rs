//! JSON values written as block YAML that reads back, under Kanister's
//! rules (go-yaml v2, YAML 1.1) and YAML 1.2 alike, as the same value.
//!
//! The controller's validating webhook receives objects as JSON and runs
//! the Blueprint validator, which reads YAML, on this rendering; so the
//! layout is the one people write (block mappings and sequences, two-space
//! indentation, sequences at their key's indentation as `kubectl get -o
//! yaml` writes them, multi-line strings as literal blocks) and every
//! scalar is unambiguous: a string is plain only when both YAML versions
//! read it as that string, otherwise double-quoted with escapes.
//!
//! Map keys keep the value's order (serde_json's `preserve_order`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::resolve::{Resolved, resolve_core12, resolve_plain};

/// `v` as a YAML document (ends with a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => sequence(&mut out, a, 0),
        _ => {
            out.push_str(&inline(v, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn mapping(out: &mut String, m: &serde_json::Map<String, Value>, level: usize) {
    for (k, v) in m {
        indent(out, level);
        out.push_str(&key(k));
        out.push(':');
        value_after_indicator(out, v, level, true);
    }
}

fn sequence(out: &mut String, a: &[Value], level: usize) {
    for v in a {
        indent(out, level);
        out.push('-');
        value_after_indicator(out, v, level, false);
    }
}

/// What follows `key:` or `-`: a nested collection on the next lines (a
/// mapping in a sequence starts on the dash's line), or ` scalar`.
fn value_after_indicator(out: &mut String, v: &Value, level: usize, in_map: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if in_map {
                out.push('\n');
                mapping(out, m, level + 2);
            } else {
                // `- a: 1` then `  b: 2`: the first entry on the dash's line.
                out.push(' ');
                let mut inner = String::new();
                mapping(&mut inner, m, level + 2);
                out.push_str(inner.get(level + 2..).unwrap_or_default());
            }
        }
        Value::Array(a) if !a.is_empty() => {
            if in_map {
                // kubectl's style: the items at the key's indentation.
                out.push('\n');
                sequence(out, a, level);
            } else {
                out.push(' ');
                let mut inner = String::new();
                sequence(&mut inner, a, level + 2);
                out.push_str(inner.get(level + 2..).unwrap_or_default());
            }
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(v, level));
            out.push('\n');
        }
    }
}

/// A scalar (or an empty collection) written after an indicator at
/// indentation `level`; a literal block's lines are indented `level + 2`.
fn inline(v: &Value, level: usize) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, level),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

fn key(k: &str) -> String {
    if plain_ok(k) && !k.starts_with('<') {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn string(s: &str, level: usize) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    if let Some(b) = literal_block(s, level) {
        return b;
    }
    quoted(s)
}

/// Whether `s` may be written plain: both YAML versions read it back as
/// this string (no other type, no indicator, no comment, no key).
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // `-x` is plain (`- ` is the indicator).
    let dash = first == '-' && s.chars().nth(1).is_some_and(|c| !c.is_whitespace());
    if !(first.is_alphanumeric()
        || dash
        || matches!(first, '.' | '/' | '_' | '$' | '(' | '+' | '^'))
        || s.ends_with(|c: char| c.is_whitespace() || c == ':')
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\t', '\n', '\r'])
        || s.chars()
            .any(|c| !printable(c) || c == '\u{85}' || c == '\u{feff}')
    {
        return false;
    }
    resolve_plain(s) == Resolved::Str && resolve_core12(s) == Resolved::Str
}

/// YAML's printable characters (c-printable) minus the line breaks.
fn printable(c: char) -> bool {
    matches!(c, '\t' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// A multi-line string as a literal block (`|`, `|-`, `|+`), when its
/// characters allow one.
fn literal_block(s: &str, level: usize) -> Option<String> {
    if !s.contains('\n')
        || s.chars()
            .any(|c| c == '\r' || c == '\u{feff}' || c == '\u{85}' || (c != '\n' && !printable(c)))
        || s.split('\n')
            .any(|l| l.ends_with([' ', '\t']) && l.trim().is_empty() && !l.is_empty())
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    if body.is_empty() {
        return None;
    }
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // An explicit indentation when the first line starts with a space or
    // is empty (auto-detection would read it wrongly).
    let indicator = if s.starts_with([' ', '\n']) { "2" } else { "" };
    let mut out = format!("|{indicator}{chomp}");
    let pad = level + 2;
    for line in s[..body.len()].split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(pad));
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    Some(out)
}

/// A double-quoted scalar with YAML escapes.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) && c != '\u{85}' && c != '\u{feff}' => out.push(c),
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn back(text: &str) -> Value {
        let docs = crate::Documents::parse(text).unwrap();
        docs.values().unwrap().into_iter().next().unwrap()
    }

    #[test]
    fn a_blueprint_reads_as_people_write_it() {
        let v = serde_json::json!({
            "apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
            "metadata": {"name": "demo", "namespace": "kanister"},
            "actions": {"backup": {"phases": [{"func": "KubeTask", "name": "run",
                "args": {"image": "busybox", "command": ["sh", "-c", "echo {{ .Object.metadata.name }}\nexit 0\n"],
                         "on": "yes", "port": "0400", "empty": "", "list": [], "map": {}}}]}}
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: demo
  namespace: kanister
actions:
  backup:
    phases:
    - func: KubeTask
      name: run
      args:
        image: busybox
        command:
        - sh
        - -c
        - |
          echo {{ .Object.metadata.name }}
          exit 0
        "on": "yes"
        port: "0400"
        empty: ""
        list: []
        map: {}
"#
        );
        assert_eq!(back(&text), v);
    }

    #[test]
    fn odd_strings_round_trip() {
        for s in [
            " lead",
            "trail ",
            "a: b",
            "#x",
            "- x",
            "x #y",
            "\n\nx",
            "x\n\n\n",
            "\tx\n",
            "é\u{7f}\u{85}",
            "null",
            "~",
            "1e3",
            "0x1F",
            "y",
            "=",
            "<<",
            "a\r\nb",
            " \n ",
            "\u{feff}x",
            "{{ x }}",
        ] {
            let v = serde_json::json!({ s: [s, {s: s}] });
            assert_eq!(back(&to_yaml(&v)), v, "{s:?}: {}", to_yaml(&v));
        }
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            "[ -~\n\t]{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[ -~]{0,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_value_round_trips(v in json()) {
            let text = to_yaml(&v);
            let docs = crate::Documents::parse(&text);
            prop_assert!(docs.is_ok(), "{text}");
            let got = docs.unwrap().values().unwrap().into_iter().next().unwrap_or(Value::Null);
            prop_assert_eq!(got, v, "{}", text);
        }
    }
}
