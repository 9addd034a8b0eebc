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

/// Source text with fast offset conversions.
#[derive(Debug)]
pub(crate) struct Src<'a> {
    pub text: &'a str,
    /// Byte offset of each char index (plus one past the end).
    char_to_byte: Vec<usize>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl<'a> Src<'a> {
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
pub(crate) enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

/// What a scalar resolves to (YAML 1.1 core rules as go-yaml v2 applies them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarType {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

impl ScalarType {
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Null => "null",
            ScalarType::Bool => "a boolean",
            ScalarType::Int => "an integer",
            ScalarType::Float => "a number",
            ScalarType::Str => "a string",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub value: String,
    pub style: Style,
    pub tag: Option<String>,
}

impl Scalar {
    /// The type this scalar resolves to.
    pub fn resolve(&self) -> ScalarType {
        if let Some(tag) = &self.tag {
            return match tag.as_str() {
                "str" => ScalarType::Str,
                "int" => ScalarType::Int,
                "float" => ScalarType::Float,
                "bool" => ScalarType::Bool,
                "null" => ScalarType::Null,
                _ => ScalarType::Str,
            };
        }
        if self.style != Style::Plain {
            return ScalarType::Str;
        }
        let v = self.value.as_str();
        match v {
            "" | "~" | "null" | "Null" | "NULL" => return ScalarType::Null,
            "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "yes" | "Yes" | "YES"
            | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF" | "y" | "Y" | "n"
            | "N" => return ScalarType::Bool,
            ".inf" | "-.inf" | "+.inf" | ".Inf" | "-.Inf" | "+.Inf" | ".INF" | "-.INF"
            | "+.INF" | ".nan" | ".NaN" | ".NAN" => return ScalarType::Float,
            _ => {}
        }
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        let is_int = (!digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
            || digits
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
            || digits
                .strip_prefix("0o")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| (b'0'..=b'7').contains(&b)));
        if is_int {
            return ScalarType::Int;
        }
        if !digits.is_empty()
            && digits.bytes().any(|b| b.is_ascii_digit())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'))
            && digits.parse::<f64>().is_ok()
        {
            return ScalarType::Float;
        }
        ScalarType::Str
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML node and its byte span in the source.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Range<usize>,
}

impl Node {
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
pub(crate) enum LoadIssue {
    Syntax {
        at: usize,
        message: String,
    },
    DuplicateKey {
        key: String,
        first: Range<usize>,
        second: Range<usize>,
    },
    TooDeep {
        at: usize,
    },
    MultipleDocuments {
        at: usize,
    },
}

/// The outcome of loading a stream.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The first document's root node, if any.
    pub root: Option<Node>,
    pub issues: Vec<LoadIssue>,
}

/// Maximum nesting of collections accepted.
pub(crate) const MAX_DEPTH: usize = 200;

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

/// Load the YAML stream in `src`, keeping the first document.
pub(crate) fn load(src: &Src<'_>) -> Loaded {
    let mut out = Loaded::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
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
                let tag = tag.and_then(|t| {
                    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
                        Some(t.suffix.clone())
                    } else {
                        None
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
                let node = anchors.get(&id).cloned().unwrap_or(Node {
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
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if docs <= 1 && !finished_first && out.root.is_none() {
                    out.root = Some(node);
                }
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

/// For a scalar node: its value plus, for each byte of the value (and one past
/// the end), the source byte it comes from. `None` when the mapping cannot be
/// reconstructed exactly (the caller then points at the scalar start).
pub(crate) fn scalar_value_map(src: &Src<'_>, node: &Node) -> Option<Vec<usize>> {
    let s = node.as_scalar()?;
    let text = src.text;
    let span = node.span.clone();
    if span.end > text.len() || span.start > span.end {
        return None;
    }
    let (out, map) = match s.style {
        Style::Plain => map_flow(text, span.start, span.end, s.style)?,
        Style::Single | Style::Double => {
            if span.end < span.start + 2 {
                return None;
            }
            map_flow(text, span.start + 1, span.end - 1, s.style)?
        }
        Style::Literal | Style::Folded => map_block(src, span.start, span.end, s.style)?,
    };
    let (mut out, mut map) = (out, map);
    if out.len() > s.value.len() && out.starts_with(s.value.as_str()) {
        out.truncate(s.value.len());
        map.truncate(s.value.len());
    }
    if out != s.value {
        return None;
    }
    // One past the end: the closing quote for quoted scalars, otherwise just
    // after the last character (the end of the last line for block scalars).
    let end = match (s.style, map.last(), out.chars().last()) {
        (Style::Single | Style::Double, _, _) => span.end.saturating_sub(1),
        (_, Some(&last), Some('\n')) => last,
        (_, Some(&last), Some(c)) => last + c.len_utf8(),
        _ => span.start,
    };
    map.push(end);
    Some(map)
}

fn push_char(out: &mut String, map: &mut Vec<usize>, c: char, at: usize) {
    out.push(c);
    for _ in 0..c.len_utf8() {
        map.push(at);
    }
}

fn decode_escape(c: char) -> Option<char> {
    Some(match c {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\x0b',
        'f' => '\x0c',
        'r' => '\r',
        'e' => '\x1b',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

/// Plain and quoted scalars: line folding, `''` and backslash escapes.
fn map_flow(text: &str, from: usize, to: usize, style: Style) -> Option<(String, Vec<usize>)> {
    let body = text.get(from..to)?;
    let chars: Vec<(usize, char)> = body.char_indices().map(|(i, c)| (i + from, c)).collect();
    let mut out = String::new();
    let mut map = Vec::new();
    let mut protected = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c == '\n' || c == '\r' {
            while out.len() > protected && (out.ends_with(' ') || out.ends_with('\t')) {
                out.pop();
                map.pop();
            }
            let break_pos = pos;
            i = skip_break(&chars, i);
            let mut empties = Vec::new();
            loop {
                let mut j = i;
                while j < chars.len() && matches!(chars[j].1, ' ' | '\t') {
                    j += 1;
                }
                if j < chars.len() && matches!(chars[j].1, '\n' | '\r') {
                    empties.push(chars[j].0);
                    i = skip_break(&chars, j);
                } else {
                    i = j;
                    break;
                }
            }
            if empties.is_empty() {
                push_char(&mut out, &mut map, ' ', break_pos);
            } else {
                for e in empties {
                    push_char(&mut out, &mut map, '\n', e);
                }
            }
            continue;
        }
        if style == Style::Double && c == '\\' {
            let (_, n) = *chars.get(i + 1)?;
            if n == '\n' || n == '\r' {
                i = skip_break(&chars, i + 1);
                while i < chars.len() && matches!(chars[i].1, ' ' | '\t') {
                    i += 1;
                }
                protected = out.len();
                continue;
            }
            let (decoded, used) = match n {
                'x' | 'u' | 'U' => {
                    let len = match n {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.get(i + 2..i + 2 + len)?.iter().map(|x| x.1).collect();
                    let cp = u32::from_str_radix(&hex, 16).ok()?;
                    (char::from_u32(cp)?, 2 + len)
                }
                _ => (decode_escape(n)?, 2),
            };
            push_char(&mut out, &mut map, decoded, pos);
            protected = out.len();
            i += used;
            continue;
        }
        if style == Style::Single && c == '\'' {
            if chars.get(i + 1).map(|x| x.1) == Some('\'') {
                push_char(&mut out, &mut map, '\'', pos);
                i += 2;
                continue;
            }
            return None;
        }
        push_char(&mut out, &mut map, c, pos);
        i += 1;
    }
    Some((out, map))
}

fn skip_break(chars: &[(usize, char)], i: usize) -> usize {
    if chars.get(i).map(|x| x.1) == Some('\r') && chars.get(i + 1).map(|x| x.1) == Some('\n') {
        i + 2
    } else {
        i + 1
    }
}

struct BlockLine {
    text_start: usize,
    text_end: usize,
    brk: usize,
    empty: bool,
    more: bool,
}

/// Literal and folded block scalars.
fn map_block(
    src: &Src<'_>,
    start: usize,
    end: usize,
    style: Style,
) -> Option<(String, Vec<usize>)> {
    let text = src.text;
    let first_line = src.line_start(start);
    let indent = start - first_line;
    let mut lines = Vec::new();
    let mut ls = first_line;
    while ls < end {
        let le = text
            .get(ls..)?
            .find('\n')
            .map(|p| p + ls)
            .unwrap_or(text.len());
        let mut content_end = le;
        if content_end > ls && text.as_bytes().get(content_end - 1) == Some(&b'\r') {
            content_end -= 1;
        }
        let line = text.get(ls..content_end)?;
        let spaces = line.bytes().take_while(|b| *b == b' ').count();
        let blank = line.bytes().all(|b| b == b' ' || b == b'\t');
        if blank && spaces <= indent {
            lines.push(BlockLine {
                text_start: content_end,
                text_end: content_end,
                brk: content_end,
                empty: true,
                more: false,
            });
        } else {
            if spaces < indent {
                break;
            }
            let ts = ls + indent;
            lines.push(BlockLine {
                text_start: ts,
                text_end: content_end,
                brk: content_end,
                empty: false,
                more: matches!(text.as_bytes().get(ts), Some(b' ' | b'\t')),
            });
        }
        ls = le + 1;
    }
    let mut out = String::new();
    let mut map = Vec::new();
    let emit_text = |out: &mut String, map: &mut Vec<usize>, l: &BlockLine| -> Option<()> {
        for (i, c) in text.get(l.text_start..l.text_end)?.char_indices() {
            push_char(out, map, c, l.text_start + i);
        }
        Some(())
    };
    if style == Style::Literal {
        for l in &lines {
            emit_text(&mut out, &mut map, l)?;
            push_char(&mut out, &mut map, '\n', l.brk);
        }
        return Some((out, map));
    }
    let mut prev: Option<&BlockLine> = None;
    let mut pending: Vec<usize> = Vec::new();
    for l in &lines {
        if l.empty {
            pending.push(l.brk);
            continue;
        }
        match prev {
            None => {
                for p in &pending {
                    push_char(&mut out, &mut map, '\n', *p);
                }
            }
            Some(p) => {
                if !l.more && !p.more {
                    if pending.is_empty() {
                        push_char(&mut out, &mut map, ' ', p.brk);
                    }
                } else {
                    push_char(&mut out, &mut map, '\n', p.brk);
                }
                for e in &pending {
                    push_char(&mut out, &mut map, '\n', *e);
                }
            }
        }
        pending.clear();
        emit_text(&mut out, &mut map, l)?;
        prev = Some(l);
    }
    if let Some(p) = prev {
        push_char(&mut out, &mut map, '\n', p.brk);
    }
    for e in &pending {
        push_char(&mut out, &mut map, '\n', *e);
    }
    Some((out, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_value_node(src: &Src<'_>, key: &str) -> Node {
        let loaded = load(src);
        let root = loaded.root.unwrap_or_else(|| panic!("no root"));
        root.get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no key {key}"))
    }

    /// Check that each byte of `needle` in the value maps to the same text in the source.
    fn check(yaml: &str, key: &str, needle: &str, expect_line_col: (usize, usize)) {
        let src = Src::new(yaml);
        let node = first_value_node(&src, key);
        let value = &node.as_scalar().unwrap_or_else(|| panic!("scalar")).value;
        let map =
            scalar_value_map(&src, &node).unwrap_or_else(|| panic!("no map for {key}: {value:?}"));
        let off = value.find(needle).unwrap_or_else(|| panic!("needle"));
        let at = map[off];
        assert_eq!(&yaml[at..at + 1], &needle[..1], "{key}");
        assert_eq!(src.line_col(at), expect_line_col, "{key}");
    }

    #[test]
    fn maps_each_style() {
        let y = "a: plain value\n  contin{ued\nb: 'it''s {x'\nc: \"tab\\t{y\n  next {z\"\nd: |\n  lit {{ x }}\n   more {w\ne: >-\n  fold\n  ed\n\n  para {q\nf: \"\\u00e9{u\"\n";
        check(y, "a", "{ued", (2, 9));
        check(y, "b", "{x", (3, 11));
        check(y, "c", "{y", (4, 10));
        check(y, "c", "{z", (5, 8));
        check(y, "d", "{{ x", (7, 7));
        check(y, "d", "{w", (8, 9));
        check(y, "e", "ed", (11, 3));
        check(y, "e", "{q", (13, 8));
        check(y, "f", "{u", (14, 11));
    }

    #[test]
    fn ambiguous_block_returns_none() {
        // A literal block whose first line is empty: the parser's start marker is
        // on the second line, so the leading newline cannot be placed.
        let y = "d: |\n\n  x {\n";
        let src = Src::new(y);
        let node = first_value_node(&src, "d");
        assert_eq!(node.as_scalar().map(|s| s.value.as_str()), Some("\nx {\n"));
        assert!(scalar_value_map(&src, &node).is_none());
    }

    #[test]
    fn duplicate_keys_reported() {
        let src = Src::new("a: 1\nb: 2\na: 3\n");
        let l = load(&src);
        assert!(matches!(l.issues.as_slice(), [LoadIssue::DuplicateKey { key, .. }] if key == "a"));
    }

    #[test]
    fn merge_keys_are_resolved() {
        let src = Src::new("base: &b\n  x: 1\n  y: 2\nm:\n  <<: *b\n  y: 3\n");
        let l = load(&src);
        assert!(l.issues.is_empty());
        let m = l.root.and_then(|r| r.get("m").cloned());
        let m = m.unwrap_or_else(|| panic!("no m"));
        assert_eq!(
            m.get("x")
                .and_then(|n| n.as_scalar())
                .map(|s| s.value.as_str()),
            Some("1")
        );
        assert_eq!(
            m.get("y")
                .and_then(|n| n.as_scalar())
                .map(|s| s.value.as_str()),
            Some("3")
        );
        assert!(m.get("<<").is_none());
    }

    #[test]
    fn resolves_types() {
        let s = |v: &str, style| {
            Scalar {
                value: v.into(),
                style,
                tag: None,
            }
            .resolve()
        };
        assert_eq!(s("123", Style::Plain), ScalarType::Int);
        assert_eq!(s("123", Style::Double), ScalarType::Str);
        assert_eq!(s("yes", Style::Plain), ScalarType::Bool);
        assert_eq!(s("1.5", Style::Plain), ScalarType::Float);
        assert_eq!(s("~", Style::Plain), ScalarType::Null);
        assert_eq!(s("KubeTask", Style::Plain), ScalarType::Str);
    }
}
