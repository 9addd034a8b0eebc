//! Plain scalars that YAML 1.1 (go-yaml v2: kubectl, client-go, Kanister)
//! and YAML 1.2 (most other tools, and Kapsel before it read YAML as
//! Kanister does) read differently: `0400`, `yes`, `on:`, `1_000`, `0b1010`.

use std::ops::Range;

use serde_json::Value;

use crate::json::scalar_json;
use crate::resolve::{Resolved, resolve_core12, resolve_plain};
use crate::tree::{Kind, Node};

/// One scalar read differently by YAML 1.1 and YAML 1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    /// The scalar.
    pub span: Range<usize>,
    /// Its text.
    pub text: String,
    /// A mapping key (whose JSON form is a string) rather than a value.
    pub is_key: bool,
    /// What Kanister reads, as JSON (`256`, `true`, `"true"` for a key).
    pub yaml11: String,
    /// What a YAML 1.2 reader reads, as JSON.
    pub yaml12: String,
    /// Where, as a dotted path (`spec.actions.0.options`); keys are written
    /// as Kanister reads them.
    pub path: String,
}

impl Ambiguity {
    /// One sentence: what Kanister reads and what YAML 1.2 reads.
    pub fn message(&self) -> String {
        if self.is_key {
            format!(
                "the key `{}` is {} to Kanister (YAML 1.1, as kubectl and client-go read it), not {} as in YAML 1.2",
                self.text, self.yaml11, self.yaml12
            )
        } else {
            format!(
                "`{}` is {} to Kanister (YAML 1.1, as kubectl and client-go read it), not {} as in YAML 1.2",
                self.text,
                self.yaml11,
                describe(&self.yaml12)
            )
        }
    }

    /// How to write it so every reader agrees.
    pub fn help(&self) -> String {
        let quoted = format!("\"{}\"", self.text);
        if self.is_key {
            format!("quote the key ({quoted}) to keep it as written")
        } else {
            format!(
                "write {} if that is what you mean, or quote it ({quoted}) for the string",
                self.yaml11
            )
        }
    }
}

fn describe(json: &str) -> String {
    if json.starts_with('"') {
        format!("the string {json}")
    } else {
        json.to_string()
    }
}

fn json_text(r: Resolved, text: &str) -> String {
    match scalar_json(r, text) {
        Some(v) => v.to_string(),
        None => format!("{r:?}"),
    }
}

fn key_text(r: Resolved, text: &str) -> String {
    match scalar_json(r, text) {
        Some(Value::String(s)) => s,
        Some(Value::Null) => "null".to_string(),
        Some(v) => match r {
            Resolved::Float(f) => crate::json::go_format_g32(f),
            _ => v.to_string(),
        },
        None => crate::json::go_format_g32(match r {
            Resolved::Float(f) => f,
            _ => f64::NAN,
        }),
    }
}

/// Every plain, untagged scalar under `node` that the two versions read
/// differently, in source order.
pub fn ambiguities(node: &Node) -> Vec<Ambiguity> {
    let mut out = Vec::new();
    walk(node, &mut String::new(), false, &mut out);
    out
}

fn walk(node: &Node, path: &mut String, is_key: bool, out: &mut Vec<Ambiguity>) {
    match &node.kind {
        Kind::Scalar(s) => {
            if !s.is_plain() {
                return;
            }
            let (a, b) = (resolve_plain(&s.value), resolve_core12(&s.value));
            let (v11, v12) = if is_key {
                let (k11, k12) = (key_text(a, &s.value), key_text(b, &s.value));
                (format!("{k11:?}"), format!("{k12:?}"))
            } else {
                (json_text(a, &s.value), json_text(b, &s.value))
            };
            if v11 != v12 {
                out.push(Ambiguity {
                    span: node.span.clone(),
                    text: s.value.clone(),
                    is_key,
                    yaml11: v11,
                    yaml12: v12,
                    path: path.clone(),
                });
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push(path, &i.to_string());
                walk(item, path, false, out);
                path.truncate(len);
            }
        }
        Kind::Map(entries) => {
            for (k, v) in entries {
                let name = match &k.kind {
                    Kind::Scalar(s) if s.tag.is_none() => key_text(s.resolved(), &s.value),
                    Kind::Scalar(s) => s.value.clone(),
                    _ => "?".to_string(),
                };
                let len = path.len();
                push(path, &name);
                walk(k, path, true, out);
                walk(v, path, false, out);
                path.truncate(len);
            }
        }
    }
}

fn push(path: &mut String, seg: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(seg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Src, load};

    fn find(y: &str) -> Vec<(String, String, String, bool)> {
        let src = Src::new(y);
        let l = load(&src);
        l.docs
            .iter()
            .flat_map(ambiguities)
            .map(|a| (a.path, a.yaml11, a.yaml12, a.is_key))
            .collect()
    }

    #[test]
    fn finds_the_differences() {
        let got = find(
            "a:\n  defaultMode: 0400\n  on: 1\n  b: yes\n  c: 1:20\n  d: 1_000\n  e: 0b11\n  f: '0400'\n  g: 0x1F\n  h: 1.0\n  i: 0o17\n  j: !!str 0400\n  k: [no]\n",
        );
        let want = [
            ("a.defaultMode", "256", "400", false),
            ("a.true", "\"true\"", "\"on\"", true),
            ("a.b", "true", "\"yes\"", false),
            ("a.d", "1000", "\"1_000\"", false),
            ("a.e", "3", "\"0b11\"", false),
            ("a.k.0", "false", "\"no\"", false),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(p, a, b, k)| (p.to_string(), a.to_string(), b.to_string(), *k))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn messages() {
        let src = Src::new("m: 0400\n");
        let l = load(&src);
        let a = l.docs.iter().flat_map(ambiguities).next();
        let a = a.unwrap_or_else(|| panic!("none"));
        assert_eq!(
            a.message(),
            "`0400` is 256 to Kanister (YAML 1.1, as kubectl and client-go read it), not 400 as in YAML 1.2"
        );
        assert_eq!(
            a.help(),
            "write 256 if that is what you mean, or quote it (\"0400\") for the string"
        );
    }
}
