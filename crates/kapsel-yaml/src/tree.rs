//! A YAML tree with byte spans, built from `saphyr-parser` events.
//!
//! `saphyr`'s own loader keeps positions only at node starts and overwrites
//! duplicate keys, so we build our own small tree from the event stream: every
//! node has a byte span, scalars keep their style, and duplicate keys are
//! reported instead of lost. [`scalar_value_map`] maps each byte of a scalar's
//! *value* back to a byte of the *source*, per scalar style.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::resolve::{Resolved, ScalarType, resolve_plain};

/// Source text with fast offset conversions.
#[derive(Debug)]
pub struct Src<'a> {
    /// The text.
    pub text: &'a str,
    /// Byte offset of each char index (plus one past the end).
    char_to_byte: Vec<usize>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl<'a> Src<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Src<'a> {
        let mut char_to_byte: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        char_to_byte.push(text.len());
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Src {
            text,
            char_to_byte,
            line_starts,
        }
    }

    /// Byte offset of a char index (clamped to the text).
    pub fn byte(&self, char_index: usize) -> usize {
        self.char_to_byte
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// 1-based line and column (in chars) of a byte offset.
    pub fn line_col(&self, byte: usize) -> (usize, usize) {
        let byte = byte.min(self.text.len());
        let line = match self.line_starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..byte)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }

    /// Byte offset where the line containing `byte` starts.
    pub fn line_start(&self, byte: usize) -> usize {
        match self.line_starts.binary_search(&byte) {
            Ok(i) => self.line_starts.get(i).copied().unwrap_or(0),
            Err(i) => self
                .line_starts
                .get(i.saturating_sub(1))
                .copied()
                .unwrap_or(0),
        }
    }
}

/// The style a scalar was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'...'`.
    Single,
    /// `"..."`.
    Double,
    /// `|`.
    Literal,
    /// `>`.
    Folded,
}

/// A scalar: its value (escapes and folding applied), style and tag.
#[derive(Debug, Clone)]
pub struct Scalar {
    /// The value.
    pub value: String,
    /// How it was written.
    pub style: Style,
    /// `int` for `!!int`; other tags in full (`!custom`).
    pub tag: Option<String>,
}

impl Scalar {
    /// What this scalar means to go-yaml v2: quoted and block scalars are
    /// strings, an explicit `!!str`/`!!int`/... tag decides, a plain scalar is
    /// resolved by [`resolve_plain`].
    pub fn resolved(&self) -> Resolved {
        if let Some(tag) = &self.tag {
            return match tag.as_str() {
                "str" | "binary" | "timestamp" => Resolved::Str,
                "null" => Resolved::Null,
                "int" | "float" | "bool" => match resolve_plain(&self.value) {
                    Resolved::Int(i) if tag == "float" => Resolved::Float(i as f64),
                    Resolved::Uint(u) if tag == "float" => Resolved::Float(u as f64),
                    r => r,
                },
                // Tags go-yaml does not resolve keep the text.
                _ => Resolved::Str,
            };
        }
        if self.style != Style::Plain {
            return Resolved::Str;
        }
        resolve_plain(&self.value)
    }

    /// The broad type this scalar resolves to.
    pub fn resolve(&self) -> ScalarType {
        self.resolved().scalar_type()
    }

    /// A plain scalar without a tag (the only kind YAML 1.1 and 1.2 may read
    /// differently).
    pub fn is_plain(&self) -> bool {
        self.style == Style::Plain && self.tag.is_none()
    }
}

/// What a node is.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML node and its byte span in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// Scalar, sequence or mapping.
    pub kind: Kind,
    /// Its bytes in the source.
    pub span: Range<usize>,
}

impl Node {
    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The string value of a scalar that resolves to a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) if s.resolve() == ScalarType::Str => Some(&s.value),
            _ => None,
        }
    }

    /// A scalar that resolves to null.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s) if s.resolve() == ScalarType::Null)
    }

    /// A short description of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(s) => s.resolve().name(),
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// Value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A problem found while building the tree.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum LoadIssue {
    /// The parser stopped here; nothing after it was read.
    Syntax { at: usize, message: String },
    /// A key written twice in one mapping (same text).
    DuplicateKey {
        key: String,
        first: Range<usize>,
        second: Range<usize>,
    },
    /// Collections nested deeper than [`MAX_DEPTH`]; reading stopped.
    TooDeep { at: usize },
    /// A second document starts here.
    MultipleDocuments { at: usize },
    /// Aliases expand to more than [`MAX_NODES`] nodes (an alias bomb);
    /// reading stopped.
    TooManyNodes { at: usize },
}

/// The outcome of loading a stream.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The first document's root node, if any.
    pub root: Option<Node>,
    /// Every document's root node, in order (the first is `root`).
    pub docs: Vec<Node>,
    /// What went wrong, in source order.
    pub issues: Vec<LoadIssue>,
}

/// Maximum nesting of collections accepted.
pub const MAX_DEPTH: usize = 200;

/// Maximum number of nodes aliases may add to a stream (go-yaml refuses
/// "excessive aliasing" likewise): each alias copies the anchored node.
pub const MAX_NODES: usize = 1_000_000;

/// Nodes in a tree.
fn count_nodes(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar(_) => 1,
        Kind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashMap<String, Range<usize>>,
    },
}

fn style_of(s: ScalarStyle) -> Style {
    match s {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::Single,
        ScalarStyle::DoubleQuoted => Style::Double,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// Load the YAML stream in `src`: every document, the first also as `root`.
pub fn load(src: &Src<'_>) -> Loaded {
    let mut out = Loaded::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut docs = 0usize;
    let mut finished_first = false;
    let parser = Parser::new_from_str(src.text);
    for ev in parser {
        let (event, span) = match ev {
            Ok(x) => x,
            Err(e) => {
                out.issues.push(LoadIssue::Syntax {
                    at: src.byte(e.marker().index()),
                    message: e.info().to_string(),
                });
                break;
            }
        };
        let start = src.byte(span.start.index());
        let end = src.byte(span.end.index()).max(start);
        let complete: Option<(Node, usize)> = match event {
            Event::DocumentStart(_) => {
                docs += 1;
                if docs == 2 {
                    out.issues.push(LoadIssue::MultipleDocuments { at: start });
                }
                None
            }
            Event::DocumentEnd => {
                if docs >= 1 {
                    finished_first = true;
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                // Standard tags by their short name (`int`); any other keeps
                // its full text, which resolves to a string as in go-yaml.
                let tag = tag.map(|t| {
                    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
                        t.suffix.clone()
                    } else {
                        format!("{}{}", t.handle, t.suffix)
                    }
                });
                Some((
                    Node {
                        kind: Kind::Scalar(Scalar {
                            value: value.into_owned(),
                            style: style_of(style),
                            tag,
                        }),
                        span: start..end,
                    },
                    anchor,
                ))
            }
            Event::Alias(id) => {
                alias_nodes += anchors.get(&id).map_or(1, |(_, n)| *n);
                if alias_nodes > MAX_NODES {
                    out.issues.push(LoadIssue::TooManyNodes { at: start });
                    break;
                }
                let node = anchors.get(&id).map(|(n, _)| n.clone()).unwrap_or(Node {
                    kind: Kind::Scalar(Scalar {
                        value: String::new(),
                        style: Style::Plain,
                        tag: None,
                    }),
                    span: start..end,
                });
                Some((node, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    out.issues.push(LoadIssue::TooDeep { at: start });
                    break;
                }
                if matches!(event, Event::SequenceStart(..)) {
                    stack.push(Frame::Seq {
                        start,
                        anchor,
                        items: Vec::new(),
                    });
                } else {
                    stack.push(Frame::Map {
                        start,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: HashMap::new(),
                    });
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => {
                    let e = items.last().map(|n| n.span.end).unwrap_or(end).max(start);
                    Some((
                        Node {
                            kind: Kind::Seq(items),
                            span: start..e,
                        },
                        anchor,
                    ))
                }
                Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) => {
                    let e = entries
                        .last()
                        .map(|(_, v)| v.span.end)
                        .unwrap_or(end)
                        .max(start);
                    let entries = apply_merge_keys(entries);
                    Some((
                        Node {
                            kind: Kind::Map(entries),
                            span: start..e,
                        },
                        anchor,
                    ))
                }
                None => None,
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
        };
        let Some((node, anchor)) = complete else {
            continue;
        };
        if anchor != 0 {
            let n = count_nodes(&node);
            anchors.insert(anchor, (node.clone(), n));
        }
        match stack.last_mut() {
            None => {
                if docs <= 1 && !finished_first && out.root.is_none() {
                    out.root = Some(node.clone());
                }
                out.docs.push(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => {
                    if let Some(s) = node.as_scalar() {
                        if let Some(first) = seen.get(&s.value) {
                            out.issues.push(LoadIssue::DuplicateKey {
                                key: s.value.clone(),
                                first: first.clone(),
                                second: node.span.clone(),
                            });
                        } else {
                            seen.insert(s.value.clone(), node.span.clone());
                        }
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    out
}

fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, Kind::Scalar(s) if s.style == Style::Plain && s.value == "<<")
}

/// Resolve YAML merge keys (`<<: *base` or `<<: [*a, *b]`), as go-yaml does:
/// explicit keys win, then earlier merged mappings win over later ones.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return entries;
    }
    let mut out: Vec<(Node, Node)> = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if is_merge_key(&k) {
            let sources: Vec<Node> = match v.kind {
                Kind::Map(_) => vec![v],
                Kind::Seq(items) => items,
                _ => {
                    out.push((k, v));
                    continue;
                }
            };
            for src in sources {
                if let Kind::Map(inner) = src.kind {
                    merged.extend(inner);
                }
            }
        } else {
            out.push((k, v));
        }
    }
    let key_of = |n: &Node| n.as_scalar().map(|s| s.value.clone());
    for (k, v) in merged {
        let name = key_of(&k);
        if name.is_some() && out.iter().any(|(ok, _)| key_of(ok) == name) {
            continue;
        }
        out.push((k, v));
    }
    out
}

/// The field path of the deepest node at byte `offset`, as Kubernetes
/// writes field paths: `actions.backup.phases[0].args.command[2]`
/// (a key that is not a simple name in brackets: `annotations["a.b/c"]`).
/// A key's own span gives the path of its entry. Empty for the root or an
/// offset outside every node.
pub fn path_at(root: &Node, offset: usize) -> String {
    let mut path = String::new();
    let mut node = root;
    'down: loop {
        match &node.kind {
            Kind::Scalar(_) => break,
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if item.span.contains(&offset) {
                        path.push_str(&format!("[{i}]"));
                        node = item;
                        continue 'down;
                    }
                }
                break;
            }
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let in_key = k.span.contains(&offset);
                    // A key through its value (`key: value`, the colon too).
                    let in_entry = offset >= k.span.start && offset < v.span.end.max(k.span.end);
                    if !(in_key || in_entry) {
                        continue;
                    }
                    let name = match &k.kind {
                        Kind::Scalar(s) => s.value.clone(),
                        _ => "?".to_string(),
                    };
                    let simple = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if simple {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&name);
                    } else {
                        path.push_str(&format!("[{}]", serde_json::Value::from(name)));
                    }
                    if in_key || !v.span.contains(&offset) {
                        break 'down;
                    }
                    node = v;
                    continue 'down;
                }
                break;
            }
        }
    }
    path
}

#[cfg(test)]
mod path_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_of_offsets() {
        let text = "kind: Blueprint\nmetadata:\n  annotations:\n    a.b/c: x\nactions:\n  backup:\n    phases:\n    - func: KubeTask\n      args:\n        command:\n        - sh\n        - echo {{ x }\n";
        let src = Src::new(text);
        let root = load(&src).root.unwrap();
        let at = |needle: &str| path_at(&root, text.find(needle).unwrap());
        assert_eq!(at("Blueprint"), "kind");
        assert_eq!(at("kind"), "kind");
        assert_eq!(at("a.b/c"), "metadata.annotations[\"a.b/c\"]");
        assert_eq!(at("KubeTask"), "actions.backup.phases[0].func");
        assert_eq!(at("args"), "actions.backup.phases[0].args");
        assert_eq!(at("{ x }"), "actions.backup.phases[0].args.command[1]");
        assert_eq!(path_at(&root, text.len() + 10), "");
    }
}
