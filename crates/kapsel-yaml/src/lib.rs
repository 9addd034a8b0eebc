//! YAML read as Kanister reads it.
//!
//! Blueprints, ActionSets and Profiles reach Kanister through kubectl and
//! client-go, which use sigs.k8s.io/yaml: the YAML is parsed by go-yaml v2
//! (YAML 1.1 scalar rules), converted to JSON (map keys become strings,
//! floats are written by Go's `json.Marshal`, which prints `1.0` as `1`), and
//! the JSON is decoded into the Go types. Kapsel does the same:
//!
//! 1. [`tree::load`] parses with `saphyr-parser` into a tree whose nodes keep
//!    their byte span, and whose scalars keep their text, style and tag;
//! 2. [`json::to_json`] resolves each scalar as go-yaml v2 does
//!    ([`resolve::resolve_plain`]: `0400` is 256, `yes` and `on` are true,
//!    `1_000` is 1000; quoted scalars are strings) and builds the JSON value
//!    sigs.k8s.io/yaml would print (`1.0` and `1e3` are integers, a key `on`
//!    is the string `"true"`);
//! 3. [`from_str`] deserializes the target type from that JSON value with
//!    serde_json, and reports an error at the line and column of the node it
//!    is about.
//!
//! [`ambiguity::ambiguities`] lists the scalars that YAML 1.2 readers see
//! differently, for warnings. docs/yaml.md describes the rules.
//!
//! The other way: [`emit::to_yaml`] writes a JSON value as block YAML that
//! both YAML versions read back as that value, and [`tree::path_at`] names
//! the field at a byte offset (`actions.backup.phases[0].func`); the
//! controller's webhook validates objects it receives as JSON with both.
//!
//! Depends on no Kapsel crate; does no I/O; never panics.

#![warn(missing_docs)]

pub mod ambiguity;
pub mod emit;
pub mod json;
pub mod resolve;
mod strict;
pub mod tree;

use serde::de::DeserializeOwned;
use serde_json::Value;

use tree::{Kind, LoadIssue, Node, Src};

/// A document that is not valid YAML, or not a valid value of the type asked
/// for. Its text ends with a `--> <input>:LINE:COLUMN` line and the source
/// line, which callers may rewrite to name the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}\n --> <input>:{line}:{column}\n{snippet}")]
pub struct Error {
    /// What is wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    snippet: String,
}

impl Error {
    fn at(src: &Src<'_>, byte: usize, message: impl Into<String>) -> Error {
        let (line, column) = src.line_col(byte);
        let start = src.line_start(byte.min(src.text.len()));
        let text = src.text.get(start..).unwrap_or_default();
        let text = text.split('\n').next().unwrap_or_default();
        let gutter = " ".repeat(line.to_string().len());
        let snippet = format!(
            "{gutter} |\n{line} | {text}\n{gutter} | {}^",
            " ".repeat(column.saturating_sub(1))
        );
        Error {
            message: message.into(),
            line,
            column,
            snippet,
        }
    }
}

/// The documents of a YAML stream, parsed.
pub struct Documents<'a> {
    src: Src<'a>,
    docs: Vec<Node>,
}

impl<'a> Documents<'a> {
    /// Parses `text`; a syntax error, a duplicate key or an alias bomb is an
    /// error.
    pub fn parse(text: &'a str) -> Result<Documents<'a>, Error> {
        let src = Src::new(text);
        let loaded = tree::load(&src);
        for issue in &loaded.issues {
            let (at, message) = match issue {
                LoadIssue::Syntax { at, message } => {
                    // At the end of the input (an unclosed `[`/`{` or quote):
                    // point at the last character written instead.
                    let content_end = text.trim_end().len();
                    let at = if *at >= content_end && content_end > 0 {
                        text[..content_end]
                            .char_indices()
                            .next_back()
                            .map_or(0, |(i, _)| i)
                    } else {
                        *at
                    };
                    (at, message.clone())
                }
                LoadIssue::DuplicateKey { key, first, second } => {
                    let (l, c) = src.line_col(first.start);
                    (
                        second.start,
                        format!(
                            "mapping key {key:?} already defined at line {l} column {c} (kubectl rejects it)"
                        ),
                    )
                }
                LoadIssue::TooDeep { at } => (
                    *at,
                    format!("collections nested deeper than {} levels", tree::MAX_DEPTH),
                ),
                LoadIssue::TooManyNodes { at } => (
                    *at,
                    format!(
                        "aliases expand to more than {} nodes (excessive aliasing)",
                        tree::MAX_NODES
                    ),
                ),
                LoadIssue::MultipleDocuments { .. } => continue,
            };
            return Err(Error::at(&src, at, message));
        }
        Ok(Documents {
            src,
            docs: loaded.docs,
        })
    }

    /// The root nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.docs
    }

    /// The source.
    pub fn src(&self) -> &Src<'a> {
        &self.src
    }

    /// Document `i` as JSON.
    pub fn value(&self, i: usize) -> Result<Value, Error> {
        match self.docs.get(i) {
            Some(n) => json::to_json(n).map_err(|e| Error::at(&self.src, e.span.start, e.message)),
            None => Ok(Value::Null),
        }
    }

    /// Every document as JSON.
    pub fn values(&self) -> Result<Vec<Value>, Error> {
        (0..self.docs.len()).map(|i| self.value(i)).collect()
    }

    /// The only document (null when there is none; an error when there are
    /// several).
    pub fn single(&self) -> Result<Value, Error> {
        if let Some(second) = self.docs.get(1) {
            return Err(Error::at(
                &self.src,
                second.span.start,
                format!("{} YAML documents where one is expected", self.docs.len()),
            ));
        }
        self.value(0)
    }

    /// Document `i` decoded into `T` through its JSON value, as client-go
    /// decodes it; an error names the field's path and points at its node.
    pub fn decode<T: DeserializeOwned>(&self, i: usize) -> Result<T, Error> {
        let value = self.value(i)?;
        self.decode_value(i, value)
    }

    fn decode_value<T: DeserializeOwned>(&self, i: usize, value: Value) -> Result<T, Error> {
        serde_path_to_error::deserialize::<_, T>(strict::Strict(value)).map_err(|e| {
            let path = e.path().clone();
            let inner = e.into_inner();
            let mut p = path.to_string();
            let at = self
                .docs
                .get(i)
                .map(|n| {
                    let found = locate(n, &path);
                    if std::ptr::eq(found, n) {
                        // No path (a `#[serde(flatten)]` type such as
                        // Blueprint or Profile hides it): the node holding
                        // the value the message quotes, if any.
                        match find_quoted(n, &inner.to_string()) {
                            Some((node, found_path)) => {
                                p = found_path;
                                node.span.start
                            }
                            None => n.span.start,
                        }
                    } else {
                        found.span.start
                    }
                })
                .unwrap_or(0);
            let message = if p == "." || p.is_empty() {
                inner.to_string()
            } else {
                format!("{p}: {inner}")
            };
            Error::at(&self.src, at, message)
        })
    }
}

/// The node a deserialization path leads to (as far as it can be followed).
fn locate<'n>(mut node: &'n Node, path: &serde_path_to_error::Path) -> &'n Node {
    use serde_path_to_error::Segment;
    for seg in path.iter() {
        let next = match (seg, &node.kind) {
            (Segment::Seq { index }, Kind::Seq(items)) => items.get(*index),
            (Segment::Map { key }, Kind::Map(entries)) => entries
                .iter()
                .rev()
                .find(|(k, _)| json::json_key(k).is_ok_and(|s| s == *key))
                .map(|(_, v)| v),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

/// The first scalar whose JSON value is the one a serde error message
/// quotes (``invalid type: integer `256` ``, ``unknown variant `ftp` ``,
/// `invalid type: string "x"`).
fn find_quoted<'n>(root: &'n Node, message: &str) -> Option<(&'n Node, String)> {
    let quoted = if let Some(rest) = message.split_once(" string \"").map(|(_, r)| r) {
        // serde writes the string with Rust's escapes; compare unescaped text
        // only when there are none.
        let end = rest.find("\", expected").or_else(|| rest.rfind('"'))?;
        let text = &rest[..end];
        if text.contains('\\') {
            return None;
        }
        Value::String(text.to_string())
    } else {
        let start = message.find('`')? + 1;
        let len = message[start..].find('`')?;
        let lit = &message[start..start + len];
        if message[..start].ends_with("variant `") {
            Value::String(lit.to_string())
        } else {
            serde_json::from_str::<Value>(lit).ok()?
        }
    };
    fn walk<'n>(n: &'n Node, want: &Value, path: String) -> Option<(&'n Node, String)> {
        let join = |seg: String| {
            if path.is_empty() {
                seg
            } else {
                format!("{path}.{seg}")
            }
        };
        match &n.kind {
            Kind::Scalar(_) => json::to_json(n)
                .ok()
                .filter(|v| v == want)
                .map(|_| (n, path.clone())),
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, c)| walk(c, want, format!("{path}[{i}]"))),
            Kind::Map(entries) => entries
                .iter()
                .find_map(|(k, v)| walk(v, want, join(json::json_key(k).unwrap_or_default()))),
        }
    }
    walk(root, &quoted, String::new())
}

/// Decodes the only document of `text` into `T` as Kanister would (see the
/// crate docs).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let docs = Documents::parse(text)?;
    let value = docs.single()?;
    docs.decode_value(0, value)
}

/// The only document of `text` as the JSON client-go sees.
pub fn to_value(text: &str) -> Result<Value, Error> {
    Documents::parse(text)?.single()
}

/// Every document of `text` as the JSON client-go sees.
pub fn to_values(text: &str) -> Result<Vec<Value>, Error> {
    Documents::parse(text)?.values()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn client_go_values() {
        let v = to_value(
            "a: 0400\nb: 1.0\nc: 1e3\non: x\nd: yes\ne: '0400'\nf: ~\ng:\nh: 1:20\ni: 0x1F\nj: 1_000\nk: 0b1010\nl: 0o400\nm: 1.5\n1.0: z\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 256, "b": 1, "c": 1000, "true": "x", "d": true, "e": "0400",
                   "f": null, "g": null, "h": "1:20", "i": 31, "j": 1000, "k": 10,
                   "l": 256, "m": 1.5, "1": "z"})
        );
        assert_eq!(to_value("true: a\n").unwrap(), to_value("on: a\n").unwrap());
    }

    #[test]
    fn resolved_duplicate_keys_are_errors() {
        let e = to_value("on: a\ntrue: b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        let e = to_value("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("already defined at line 1 column 1"));
    }

    #[test]
    fn unsupported_values_and_keys() {
        let e = to_value("a:\n  b: .nan\n").unwrap_err();
        assert!(e.message.contains("unsupported value: NaN"), "{e}");
        assert_eq!((e.line, e.column), (2, 6));
        assert!(to_value("~: a\n").is_err());
        assert!(to_value("18446744073709551615: a\n").is_err());
        assert!(to_value("[a]: b\n").is_err());
    }

    #[test]
    fn typed_errors_point_at_the_node() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            items: Vec<Item>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Item {
            name: String,
            mode: i32,
        }
        let e =
            from_str::<T>("items:\n- name: a\n  mode: 0400\n- name: b\n  mode: [x]\n").unwrap_err();
        assert_eq!((e.line, e.column), (5, 9), "{e}");
        assert!(
            e.message
                .starts_with("items[1].mode: invalid type: sequence"),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains(
                "at line 5 column 9\n --> <input>:5:9\n  |\n5 |   mode: [x]\n  |         ^"
            ),
            "{text}"
        );
        // An array where a struct is wanted fails, as in Go (serde_json
        // alone would read the fields in order).
        let e = from_str::<T>("items:\n- [a, 1]\n").unwrap_err();
        assert!(
            e.message.starts_with("items[0]: invalid type: sequence"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (2, 3), "{e}");
        // A boolean where a string is wanted fails, as in Go.
        let e = from_str::<T>("items:\n- name: yes\n  mode: 1\n").unwrap_err();
        assert!(e.message.contains("invalid type: boolean `true`"), "{e}");
        // Missing field: at the mapping.
        let e = from_str::<T>("items:\n- name: a\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3), "{e}");
        let ok =
            from_str::<T>("items:\n- {name: '1', mode: 1.0}\n- {name: x, mode: 0400}\n").unwrap();
        assert_eq!(ok.items[0].mode, 1);
        assert_eq!(ok.items[1].mode, 256);
    }

    #[test]
    fn flattened_types_are_located_by_the_quoted_value() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            name: String,
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            bucket: String,
            kind: Kind2,
        }
        #[derive(serde::Deserialize, Debug)]
        enum Kind2 {
            #[serde(rename = "s3")]
            S3,
        }
        let e = from_str::<Outer>("name: a\nbucket: 0400\nkind: s3\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 9), "{e}");
        let e = from_str::<Outer>("name: a\nbucket: b\nkind: ftp\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 7), "{e}");
    }

    #[test]
    fn documents() {
        assert_eq!(to_values("a: 1\n---\nb: 2\n").unwrap().len(), 2);
        let e = to_value("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(e.message.contains("2 YAML documents"), "{e}");
        assert_eq!(to_value("").unwrap(), Value::Null);
        assert_eq!(to_value("# only a comment\n").unwrap(), Value::Null);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = to_value("a: 1\nb: {c: d, e: [f]\n\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 16), "{e}");
        let e = to_value("a: 1\nb: ]\nc: 2\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = to_value(&y).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn tags() {
        let v = to_value("a: !!str 0400\nb: !!float 1\nc: !custom 0400\nd: !!int 0400\n").unwrap();
        assert_eq!(v, json!({"a": "0400", "b": 1, "c": "0400", "d": 256}));
    }
}
