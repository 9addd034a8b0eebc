//! Regular expression functions (sprig's `regex.go`) with Go `regexp` semantics
//! on top of the `regex` crate: Go's ASCII-only `\d`, `\w`, `\s`, `\b`; Go's
//! iteration over empty matches; Go's `$` expansion; Go's compile error texts
//! for the common syntax errors. Subjects and replacements are Go's bytes: an
//! invalid UTF-8 byte is matched as one character (Go's `RuneError` of width
//! 1) and kept in the results (`conv::to_text`).

use kapsel_govalue::{FuncError, Str, Type, Value, gofmt};
use regex::Regex;
use regex_syntax::ast::{self, Ast, ErrorKind};

use crate::conv::{arg_bytes, arg_int, arg_str, list_gostr, list_str, to_bytes, to_text};

type R = Result<Value, FuncError>;

/// Go's `regexp` quoting of a pattern in `Compile` errors.
fn go_quote_expr(s: &str) -> String {
    let can_backquote = !s
        .chars()
        .any(|c| c == '`' || c == '\u{FEFF}' || (c.is_control() && c != '\t'));
    if can_backquote {
        format!("`{s}`")
    } else {
        gofmt::sprintf("%q", &[Value::string(s)])
    }
}

fn go_syntax_error(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

/// A Go pattern and its normalized form for the `regex` crate, with the
/// original offset of every normalized byte (so errors quote Go's text).
struct Src<'a> {
    orig: &'a str,
    norm: String,
    /// `map[i]`: original offset of normalized byte `i`; one extra entry for
    /// the end.
    map: Vec<usize>,
}

impl Src<'_> {
    fn off(&self, norm: usize) -> usize {
        self.map.get(norm).copied().unwrap_or(self.orig.len())
    }

    /// The original text behind a normalized span.
    fn text(&self, start: usize, end: usize) -> &str {
        self.orig
            .get(self.off(start)..self.off(end))
            .unwrap_or_default()
    }
}

/// Go's `(?flags)`: only `i`, `m`, `s` and `U` exist.
fn bad_flag(src: &Src<'_>, start: usize, flags: &ast::Flags) -> Option<String> {
    flags.items.iter().find_map(|item| match &item.kind {
        ast::FlagsItemKind::Flag(
            ast::Flag::IgnoreWhitespace | ast::Flag::Unicode | ast::Flag::CRLF,
        ) => Some(go_syntax_error(
            "invalid or unsupported Perl syntax",
            src.text(start, item.span.end.offset),
        )),
        _ => None,
    })
}

/// The bounds of a counted repetition (`None` for no upper bound).
fn range_bounds(r: &ast::RepetitionRange) -> (u32, Option<u32>) {
    match r {
        ast::RepetitionRange::Exactly(n) => (*n, Some(*n)),
        ast::RepetitionRange::AtLeast(n) => (*n, None),
        ast::RepetitionRange::Bounded(a, b) => (*a, Some(*b)),
    }
}

/// Go's `repeatIsValid`: nested counted repetitions may not multiply beyond
/// `n`.
fn repeat_valid(node: &Ast, mut n: u32) -> bool {
    match node {
        Ast::Repetition(rep) => {
            if let ast::RepetitionKind::Range(r) = &rep.op.kind {
                let (min, max) = range_bounds(r);
                let m = match max {
                    Some(0) => return true,
                    Some(m) => m,
                    None => min,
                };
                if m > n {
                    return false;
                }
                n = n.checked_div(m).unwrap_or(n);
            }
            repeat_valid(&rep.ast, n)
        }
        Ast::Group(g) => repeat_valid(&g.ast, n),
        Ast::Alternation(alt) => alt.asts.iter().all(|a| repeat_valid(a, n)),
        Ast::Concat(c) => c.asts.iter().all(|a| repeat_valid(a, n)),
        _ => true,
    }
}

/// Go's checks for what Go rejects but the `regex` crate accepts: stacked
/// repetition operators, repeat counts above 1000 (also when nested), and
/// flags other than `imsU`. Errors are found in pattern order, as Go does.
fn check_ast(src: &Src<'_>, node: &Ast) -> Option<String> {
    match node {
        Ast::Repetition(rep) => {
            if let Some(e) = check_ast(src, &rep.ast) {
                return Some(e);
            }
            let op_text = src.text(rep.op.span.start.offset, rep.op.span.end.offset);
            if let ast::RepetitionKind::Range(r) = &rep.op.kind {
                let (min, max) = range_bounds(r);
                if min > 1000 || max.is_some_and(|m| m > 1000) {
                    return Some(go_syntax_error("invalid repeat count", op_text));
                }
            }
            if let Ast::Repetition(inner) = &*rep.ast {
                let text = src.text(inner.op.span.start.offset, rep.op.span.end.offset);
                return Some(go_syntax_error("invalid nested repetition operator", text));
            }
            if let ast::RepetitionKind::Range(r) = &rep.op.kind {
                let (min, max) = range_bounds(r);
                if (min >= 2 || max.is_some_and(|m| m >= 2)) && !repeat_valid(node, 1000) {
                    return Some(go_syntax_error("invalid repeat count", op_text));
                }
            }
            None
        }
        Ast::Group(g) => {
            if let ast::GroupKind::NonCapturing(flags) = &g.kind
                && let Some(e) = bad_flag(src, g.span.start.offset, flags)
            {
                return Some(e);
            }
            check_ast(src, &g.ast)
        }
        Ast::Flags(f) => bad_flag(src, f.span.start.offset, &f.flags),
        Ast::Alternation(alt) => alt.asts.iter().find_map(|a| check_ast(src, a)),
        Ast::Concat(c) => c.asts.iter().find_map(|a| check_ast(src, a)),
        _ => None,
    }
}

/// Where Go's parser would stop on this error (an original offset): unclosed
/// groups are only noticed at the end.
fn error_position(src: &Src<'_>, e: &ast::Error) -> usize {
    match e.kind() {
        ErrorKind::GroupUnclosed => src.orig.len(),
        _ => src.off(e.span().start.offset),
    }
}

/// Go's message for an error of the `regex` crate's parser, quoting Go's part
/// of the pattern.
fn map_ast_error(src: &Src<'_>, e: &ast::Error) -> String {
    let pattern = src.orig;
    let span = e.span();
    let start = src.off(span.start.offset);
    let end = src.off(span.end.offset).max(start);
    let text = pattern.get(start..end).unwrap_or_default();
    let from = pattern.get(start..).unwrap_or_default();
    let before = pattern.get(..start).unwrap_or_default();
    let group_start = before.rfind("(?").unwrap_or(0);
    let escape_start = before.rfind('\\').unwrap_or(start);
    let up_to_end = |from: usize| pattern.get(from..end).unwrap_or_default();
    match e.kind() {
        ErrorKind::FlagUnexpectedEof => go_syntax_error(
            "invalid or unsupported Perl syntax",
            &pattern[group_start..],
        ),
        ErrorKind::FlagDanglingNegation
        | ErrorKind::FlagDuplicate { .. }
        | ErrorKind::FlagRepeatedNegation { .. }
        | ErrorKind::FlagUnrecognized => {
            go_syntax_error("invalid or unsupported Perl syntax", up_to_end(group_start))
        }
        ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameUnexpectedEof => {
            let tail = &pattern[group_start..];
            let end = tail.find('>').map_or(tail.len(), |i| i + 1);
            go_syntax_error("invalid named capture", &tail[..end])
        }
        ErrorKind::EscapeHexEmpty
        | ErrorKind::EscapeHexInvalid
        | ErrorKind::EscapeHexInvalidDigit
        | ErrorKind::UnicodeClassInvalid => {
            go_syntax_error("invalid escape sequence", up_to_end(escape_start))
        }
        ErrorKind::ClassRangeLiteral if text.starts_with('\\') => {
            go_syntax_error("invalid escape sequence", text)
        }
        ErrorKind::ClassUnclosed => go_syntax_error("missing closing ]", from),
        ErrorKind::GroupUnclosed => go_syntax_error("missing closing )", pattern),
        ErrorKind::GroupUnopened => go_syntax_error("unexpected )", pattern),
        ErrorKind::RepetitionMissing => {
            go_syntax_error("missing argument to repetition operator", &repeat_op(from))
        }
        ErrorKind::ClassRangeInvalid | ErrorKind::ClassRangeLiteral => {
            go_syntax_error("invalid character class range", text)
        }
        ErrorKind::EscapeUnexpectedEof => {
            "error parsing regexp: trailing backslash at end of expression: ``".to_string()
        }
        ErrorKind::ClassEscapeInvalid
        | ErrorKind::EscapeUnrecognized
        | ErrorKind::UnsupportedBackreference
        | ErrorKind::SpecialWordBoundaryUnclosed
        | ErrorKind::SpecialWordBoundaryUnrecognized => {
            go_syntax_error("invalid escape sequence", text)
        }
        ErrorKind::GroupNameDuplicate { .. } => go_syntax_error("invalid named capture", text),
        ErrorKind::NestLimitExceeded(_) => go_syntax_error("expression nests too deeply", pattern),
        ErrorKind::RepetitionCountInvalid
        | ErrorKind::RepetitionCountDecimalEmpty
        | ErrorKind::RepetitionCountUnclosed
        | ErrorKind::DecimalEmpty
        | ErrorKind::DecimalInvalid => go_syntax_error("invalid repeat count", text),
        _ => go_syntax_error("invalid or unsupported Perl syntax", text),
    }
}

/// The repetition operator at the start of `t` as Go quotes it (`*`, `+?`,
/// `{2,3}`).
fn repeat_op(t: &str) -> String {
    let len = if t.starts_with('{') {
        t.find('}').map_or(t.len(), |i| i + 1)
    } else {
        t.chars().next().map_or(0, char::len_utf8)
    };
    let mut op = t[..len].to_string();
    if t[len..].starts_with('?') {
        op.push('?');
    }
    op
}

const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Is `t` (just after a `{`) a repeat count Go accepts: `n}`, `n,}`, `n,m}`?
fn is_repeat_spec(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b',') {
        i += 1;
        digits(&mut i);
    }
    b.get(i) == Some(&b'}')
}

/// The length of the escape at the start of `rest` (which starts with `\`):
/// `\p{Name}`, `\P{Name}` and `\x{10FFFF}` include their braces.
fn escape_len(rest: &str) -> usize {
    let n = rest[1..].chars().next().map_or(0, char::len_utf8);
    let mut len = 1 + n;
    if matches!(rest.get(1..2), Some("p" | "P" | "x")) && rest[len..].starts_with('{') {
        len += rest[len..].find('}').map_or(rest.len() - len, |i| i + 1);
    }
    len
}

/// Go's octal escapes: `\0` plus up to two octal digits, or `\1`-`\7`
/// followed by at least one more (a lone `\1` would be a backreference).
/// Returns the code point and the escape's length.
fn octal_escape(rest: &str) -> Option<(u32, usize)> {
    let b = rest.as_bytes();
    let is_oct = |i: usize| b.get(i).is_some_and(|c| (b'0'..=b'7').contains(c));
    match b.get(1) {
        Some(b'0') => {}
        Some(b'1'..=b'7') if is_oct(2) => {}
        _ => return None,
    }
    let mut code = 0u32;
    let mut len = 1;
    while len < 4 && is_oct(len) {
        code = code * 8 + u32::from(b[len] - b'0');
        len += 1;
    }
    Some((code, len))
}

/// Go checks a class's ranges while parsing it, before noticing that the
/// class is not closed: the first `x-y` with `x > y` in the unclosed class
/// starting at `class` (plain characters only).
fn unclosed_class_range(class: &str) -> Option<String> {
    let body = class.strip_prefix('[')?;
    let body = body.strip_prefix('^').unwrap_or(body);
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let mut i = usize::from(chars.first().is_some_and(|(_, c)| *c == ']'));
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\\' || c == '[' {
            return None;
        }
        if let (Some((_, '-')), Some((end_at, hi))) = (chars.get(i + 1), chars.get(i + 2)) {
            if *hi == '\\' || *hi == '[' {
                return None;
            }
            if *hi < c {
                let end = end_at + hi.len_utf8();
                return Some(go_syntax_error(
                    "invalid character class range",
                    &body[at..end],
                ));
            }
            i += 3;
            continue;
        }
        i += 1;
    }
    None
}

/// Go reports a stacked repetition operator (`a**`, `a+{2}`) as soon as it
/// sees it; the `regex` crate accepts them, and may report a later error
/// instead. Returns the offset and Go's message of the first one.
fn first_nested_repeat(p: &str) -> Option<(usize, String)> {
    let mut i = 0;
    let mut in_class = false;
    let mut last_repeat: Option<usize> = None;
    while i < p.len() {
        let rest = &p[i..];
        let c = rest.chars().next()?;
        if c == '\\' {
            i += if rest.starts_with("\\Q") {
                rest.find("\\E").map_or(rest.len(), |e| e + 2)
            } else {
                escape_len(rest)
            };
            last_repeat = None;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            i += c.len_utf8();
            continue;
        }
        let op_len = match c {
            '*' | '+' | '?' => 1,
            '{' if is_repeat_spec(&rest[1..]) => rest.find('}').map_or(1, |e| e + 1),
            _ => 0,
        };
        if op_len > 0 {
            let mut end = i + op_len;
            if p[end..].starts_with('?') {
                end += 1;
            }
            if let Some(start) = last_repeat {
                return Some((
                    i,
                    go_syntax_error("invalid nested repetition operator", &p[start..end]),
                ));
            }
            last_repeat = Some(i);
            i = end;
            continue;
        }
        last_repeat = None;
        if c == '[' {
            in_class = true;
            i += 1;
            for lead in ["^]", "]", "^"] {
                if p[i..].starts_with(lead) {
                    i += lead.len();
                    break;
                }
            }
            continue;
        }
        if let Some(flags) = rest.strip_prefix("(?") {
            // group flags or name: not repetition operators
            i += flags.find([')', ':', '>']).map_or(rest.len(), |e| e + 3);
            continue;
        }
        i += c.len_utf8();
    }
    None
}

/// Brings a Go pattern to what the `regex` crate reads the same way:
/// `\Q...\E` becomes escaped text, a `{` that does not start a repeat count
/// becomes `\{` and a `[` inside a class `\[` (Go reads both as literals),
/// and every repeated group name is dropped (Go allows duplicates; the first
/// one wins for `${name}`). Reports Go's error for an unknown `[:name:]`.
fn go_normalize(pattern: &str) -> Result<Src<'_>, String> {
    let mut norm = String::with_capacity(pattern.len());
    let mut map: Vec<usize> = Vec::with_capacity(pattern.len() + 1);
    let mut push = |norm: &mut String, s: &str, at: usize, spread: bool| {
        for k in 0..s.len() {
            map.push(if spread { at + k } else { at });
        }
        norm.push_str(s);
    };
    let mut seen: Vec<String> = Vec::new();
    let mut in_class = false;
    // In a class, Go reads `lo-hi` ranges left to right; the `regex` crate
    // also knows the set operators `--`, `&&` and `~~`. So every `-` that
    // is not a range operator, and every `&` and `~`, is escaped. `single`:
    // the last class item was one character (a possible range start);
    // `after_op`: a range operator was just read.
    let (mut single, mut after_op) = (false, false);
    let class_char = |single: &mut bool, after_op: &mut bool, is_char: bool| {
        if *after_op {
            *after_op = false;
            *single = false;
        } else {
            *single = is_char;
        }
    };
    let mut i = 0;
    while i < pattern.len() {
        let rest = &pattern[i..];
        let Some(c) = rest.chars().next() else { break };
        if c == '\\' {
            if !in_class && rest.starts_with("\\Q") {
                let body = &rest[2..];
                let (lit, used) = match body.find("\\E") {
                    Some(e) => (&body[..e], e + 4),
                    None => (body, rest.len()),
                };
                push(&mut norm, &regex::escape(lit), i, false);
                i += used;
                continue;
            }
            if let Some((code, len)) = octal_escape(rest) {
                push(&mut norm, &format!("\\x{{{code:x}}}"), i, false);
                i += len;
                if in_class {
                    class_char(&mut single, &mut after_op, true);
                }
                continue;
            }
            let len = escape_len(rest);
            push(&mut norm, &rest[..len], i, true);
            if in_class {
                let is_class = matches!(
                    rest.as_bytes().get(1),
                    Some(b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'p' | b'P')
                );
                class_char(&mut single, &mut after_op, !is_class);
            }
            i += len;
            continue;
        }
        if in_class {
            if rest.starts_with("[:")
                && let Some(e) = rest[2..].find(":]")
            {
                let name = &rest[..e + 4];
                let inner = name[2..name.len() - 2].trim_start_matches('^');
                if !POSIX_CLASSES.contains(&inner) {
                    return Err(go_syntax_error("invalid character class range", name));
                }
                push(&mut norm, name, i, true);
                i += name.len();
                class_char(&mut single, &mut after_op, false);
                continue;
            }
            if c == '[' {
                push(&mut norm, "\\[", i, false);
                i += 1;
                class_char(&mut single, &mut after_op, true);
                continue;
            }
            if c == ']' {
                in_class = false;
            } else if c == '-'
                && single
                && !after_op
                && rest[1..].chars().next().is_some_and(|n| n != ']')
            {
                push(&mut norm, "-", i, true);
                (single, after_op) = (false, true);
                i += 1;
                continue;
            } else {
                if matches!(c, '-' | '&' | '~') {
                    push(&mut norm, &format!("\\{c}"), i, false);
                } else {
                    push(&mut norm, &rest[..c.len_utf8()], i, true);
                }
                class_char(&mut single, &mut after_op, true);
                i += c.len_utf8();
                continue;
            }
        } else if c == '[' {
            in_class = true;
            (single, after_op) = (false, false);
            push(&mut norm, "[", i, true);
            i += 1;
            // A `]` right after `[` or `[^` is a literal.
            if pattern[i..].starts_with('^') {
                push(&mut norm, "^", i, true);
                i += 1;
            }
            if pattern[i..].starts_with(']') {
                // Escaped, so that the `regex` crate also reads `[]-a]` as
                // a range from `]`.
                push(&mut norm, "\\]", i, false);
                i += 1;
                single = true;
            }
            continue;
        } else if c == '{' && !is_repeat_spec(&rest[1..]) {
            push(&mut norm, "\\{", i, false);
            i += 1;
            continue;
        } else if let Some((prefix, after, end)) = ["(?P<", "(?<"].iter().find_map(|pre| {
            rest.strip_prefix(pre)
                .and_then(|after| after.find('>').map(|end| (*pre, after, end)))
        }) {
            let name = &after[..end];
            if seen.iter().any(|s| s == name) {
                push(&mut norm, "(", i, false);
                i += prefix.len() + end + 1;
                continue;
            }
            seen.push(name.to_string());
        }
        push(&mut norm, &rest[..c.len_utf8()], i, true);
        i += c.len_utf8();
    }
    map.push(pattern.len());
    Ok(Src {
        orig: pattern,
        norm,
        map,
    })
}

/// Rewrites Go's ASCII-only Perl classes and word boundaries for the `regex`
/// crate, whose versions of them are Unicode-aware; `\<` and `\>` are
/// literals in Go.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[[:digit:]]"),
            Some('D') => out.push_str("[^[:digit:]]"),
            Some('w') => out.push_str("[[:word:]]"),
            Some('W') => out.push_str("[^[:word:]]"),
            Some('s') => out.push_str(r"[\t\n\f\r ]"),
            Some('S') => out.push_str(r"[^\t\n\f\r ]"),
            Some('b') => out.push_str(r"(?-u:\b)"),
            Some('B') => out.push_str(r"(?-u:\B)"),
            Some('<') => out.push('<'),
            Some('>') => out.push('>'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Go's `regexp.Compile`, with Go's error text.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    let src = go_normalize(pattern)?;
    let mut parser = ast::parse::ParserBuilder::new().nest_limit(1000).build();
    match parser.parse(&src.norm) {
        Err(e) => {
            if let Some((at, msg)) = first_nested_repeat(pattern)
                && at < error_position(&src, &e)
            {
                return Err(msg);
            }
            if matches!(e.kind(), ErrorKind::ClassUnclosed)
                && let Some(msg) = pattern
                    .get(src.off(e.span().start.offset)..)
                    .and_then(unclosed_class_range)
            {
                return Err(msg);
            }
            if matches!(e.kind(), ErrorKind::GroupUnclosed) && pattern.ends_with("(?") {
                return Err(go_syntax_error("invalid or unsupported Perl syntax", "(?"));
            }
            return Err(map_ast_error(&src, &e));
        }
        Ok(tree) => {
            if let Some(e) = check_ast(&src, &tree) {
                return Err(e);
            }
        }
    }
    Regex::new(&translate(&src.norm)).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => go_syntax_error("expression too large", pattern),
        other if other.to_string().contains("Unicode property") => go_syntax_error(
            "invalid character class range",
            &unicode_class_text(pattern),
        ),
        other => format!("error parsing regexp: {other}"),
    })
}

/// The first `\pX` / `\p{Name}` (or `\P`) of a pattern.
fn unicode_class_text(pattern: &str) -> String {
    let Some(i) = pattern.find("\\p").or_else(|| pattern.find("\\P")) else {
        return String::new();
    };
    let rest = &pattern[i..];
    let len = if rest[2..].starts_with('{') {
        rest.find('}').map_or(rest.len(), |j| j + 1)
    } else {
        2 + rest[2..].chars().next().map_or(0, char::len_utf8)
    };
    rest[..len].to_string()
}

/// Go's `regexp.MustCompile`, its panic as an error.
fn must_compile(pattern: &str) -> Result<Regex, FuncError> {
    compile(pattern)
        .map_err(|e| FuncError::new(format!("regexp: Compile({}): {e}", go_quote_expr(pattern))))
}

/// Go's match iteration (`allMatches`): an empty match right after the previous
/// match is skipped. Returns capture positions per match.
fn all_matches<'h>(re: &Regex, s: &'h str, n: i64) -> Vec<regex::Captures<'h>> {
    let mut out = Vec::new();
    let end = s.len();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while (n < 0 || (out.len() as i64) < n) && pos <= end {
        let Some(caps) = re.captures_at(s, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        let mut accept = true;
        if m.end() == pos {
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push(caps);
        }
    }
    out
}

pub(crate) fn regex_match(a: &[Value]) -> R {
    let re = compile(&arg_str(a, 0)?);
    let st = &to_text(arg_bytes(a, 1)?);
    Ok(Value::Bool(re.is_ok_and(|re| re.is_match(st))))
}

pub(crate) fn regex_find_all(a: &[Value]) -> R {
    let re = must_compile(&arg_str(a, 0)?)?;
    let st = &to_text(arg_bytes(a, 1)?);
    let n = arg_int(a, 2)?;
    if n == 0 {
        return Ok(Value::NilSlice(Type::String));
    }
    let found: Vec<Str> = all_matches(&re, st, n)
        .iter()
        .filter_map(|c| c.get(0).map(|m| Str::from(to_bytes(m.as_str()))))
        .collect();
    if found.is_empty() {
        return Ok(Value::NilSlice(Type::String));
    }
    Ok(list_gostr(found))
}

pub(crate) fn regex_find(a: &[Value]) -> R {
    let re = must_compile(&arg_str(a, 0)?)?;
    let st = &to_text(arg_bytes(a, 1)?);
    Ok(Value::string(to_bytes(
        re.find(st).map_or("", |m| m.as_str()),
    )))
}

/// Go's `Regexp.Expand` template syntax: `$name`, `${name}`, `$$`.
fn expand(re: &Regex, template: &str, caps: &regex::Captures<'_>, out: &mut String) {
    let mut t = template;
    while let Some(i) = t.find('$') {
        out.push_str(&t[..i]);
        t = &t[i..];
        if t.len() > 1 && t.as_bytes()[1] == b'$' {
            out.push('$');
            t = &t[2..];
            continue;
        }
        let rest = &t[1..];
        let (name, after) = if let Some(br) = rest.strip_prefix('{') {
            match br.find('}') {
                Some(j) if j > 0 && br[..j].chars().all(|c| c.is_alphanumeric() || c == '_') => {
                    (&br[..j], &br[j + 1..])
                }
                _ => ("", rest),
            }
        } else {
            let j = rest
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(rest.len(), |(j, _)| j);
            (&rest[..j], &rest[j..])
        };
        if name.is_empty() {
            out.push('$');
            t = rest;
            continue;
        }
        t = after;
        let group = if name.bytes().all(|b| b.is_ascii_digit()) {
            name.parse::<usize>().ok().and_then(|n| caps.get(n))
        } else {
            re.capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i))
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(t);
}

/// Go's `replaceAll` loop.
fn replace_all(
    re: &Regex,
    src: &str,
    mut repl: impl FnMut(&regex::Captures<'_>, &mut String),
) -> Result<String, FuncError> {
    let mut out = String::new();
    let mut last_end = 0usize;
    let mut search = 0usize;
    let end = src.len();
    while search <= end {
        let Some(caps) = re.captures_at(src, search) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        out.push_str(&src[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            repl(&caps, &mut out);
        }
        if out.len() > crate::conv::MAX_OUTPUT {
            return Err(crate::conv::too_large("regexReplaceAll"));
        }
        last_end = m.end();
        let width = src[search..].chars().next().map_or(1, char::len_utf8);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&src[last_end..]);
    Ok(out)
}

pub(crate) fn regex_replace_all(a: &[Value]) -> R {
    let re = must_compile(&arg_str(a, 0)?)?;
    let st = &to_text(arg_bytes(a, 1)?);
    let repl = &to_text(arg_bytes(a, 2)?);
    Ok(Value::string(to_bytes(&replace_all(
        &re,
        st,
        |caps, out| expand(&re, repl, caps, out),
    )?)))
}

pub(crate) fn regex_replace_all_literal(a: &[Value]) -> R {
    let re = must_compile(&arg_str(a, 0)?)?;
    let st = &to_text(arg_bytes(a, 1)?);
    let repl = &to_text(arg_bytes(a, 2)?);
    Ok(Value::string(to_bytes(&replace_all(&re, st, |_, out| {
        out.push_str(repl)
    })?)))
}

pub(crate) fn regex_split(a: &[Value]) -> R {
    let pattern = &*arg_str(a, 0)?;
    let re = must_compile(pattern)?;
    let st = &to_text(arg_bytes(a, 1)?);
    let n = arg_int(a, 2)?;
    if n == 0 {
        return Ok(Value::NilSlice(Type::String));
    }
    if !pattern.is_empty() && st.is_empty() {
        return Ok(list_str(vec![String::new()]));
    }
    let matches = all_matches(&re, st, n);
    let mut parts: Vec<Str> = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for caps in &matches {
        if n > 0 && parts.len() as i64 >= n - 1 {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        end = m.start();
        if m.end() != 0 {
            parts.push(to_bytes(&st[beg..end]).into());
        }
        beg = m.end();
    }
    if end != st.len() {
        parts.push(to_bytes(&st[beg..]).into());
    }
    Ok(list_gostr(parts))
}
