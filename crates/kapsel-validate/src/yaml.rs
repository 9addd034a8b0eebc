//! The YAML tree with byte spans is `kapsel_yaml::tree` (shared with every
//! loader, so the validator reads scalars as Kanister does); this module adds
//! [`scalar_value_map`], which maps each byte of a scalar's *value* back to a
//! byte of the *source*, per scalar style.

pub(crate) use kapsel_yaml::resolve::ScalarType;
#[cfg(test)]
use kapsel_yaml::tree::Scalar;
pub(crate) use kapsel_yaml::tree::{Kind, LoadIssue, MAX_DEPTH, Node, Src, Style, load};

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
