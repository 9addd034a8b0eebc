//! Regular expression functions (sprig's `regex.go`) with Go `regexp` semantics
//! on top of the `regex` crate: Go's ASCII-only `\d`, `\w`, `\s`, `\b`; Go's
//! iteration over empty matches; Go's `$` expansion; Go's compile error texts
//! for the common syntax errors.

use kapsel_govalue::{FuncError, Type, Value, gofmt};
use regex::Regex;
use regex_syntax::ast::{self, Ast, ErrorKind};

use crate::conv::{arg_int, arg_str, list_str};

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

/// Go's check for what Go rejects but the `regex` crate accepts: stacked
/// repetition operators and counts above 1000.
fn check_ast(pattern: &str, node: &Ast) -> Option<String> {
    match node {
        Ast::Repetition(rep) => {
            if let ast::RepetitionKind::Range(r) = &rep.op.kind {
                let (lo, hi) = match r {
                    ast::RepetitionRange::Exactly(n) => (*n, *n),
                    ast::RepetitionRange::AtLeast(n) => (*n, *n),
                    ast::RepetitionRange::Bounded(a, b) => (*a, *b),
                };
                if lo > 1000 || hi > 1000 {
                    let text = pattern.get(rep.op.span.start.offset..rep.op.span.end.offset)?;
                    return Some(go_syntax_error("invalid repeat count", text));
                }
            }
            if let Ast::Repetition(inner) = &*rep.ast {
                let text = pattern.get(inner.op.span.start.offset..rep.op.span.end.offset)?;
                return Some(go_syntax_error("invalid nested repetition operator", text));
            }
            check_ast(pattern, &rep.ast)
        }
        Ast::Group(g) => check_ast(pattern, &g.ast),
        Ast::Alternation(alt) => alt.asts.iter().find_map(|a| check_ast(pattern, a)),
        Ast::Concat(c) => c.asts.iter().find_map(|a| check_ast(pattern, a)),
        _ => None,
    }
}

fn map_ast_error(pattern: &str, e: &ast::Error) -> String {
    let span = e.span();
    let text = pattern
        .get(span.start.offset..span.end.offset)
        .unwrap_or_default();
    let from = pattern.get(span.start.offset..).unwrap_or_default();
    match e.kind() {
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
        | ErrorKind::EscapeHexEmpty
        | ErrorKind::EscapeHexInvalid
        | ErrorKind::EscapeHexInvalidDigit
        | ErrorKind::EscapeUnrecognized
        | ErrorKind::UnsupportedBackreference
        | ErrorKind::SpecialWordBoundaryUnclosed
        | ErrorKind::SpecialWordBoundaryUnrecognized
        | ErrorKind::UnicodeClassInvalid => go_syntax_error("invalid escape sequence", text),
        ErrorKind::GroupNameDuplicate { .. }
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameUnexpectedEof => go_syntax_error("invalid named capture", text),
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

/// Go allows several groups with the same name (the first one wins for
/// `${name}`); the `regex` crate does not. Turns every repeated named group
/// into an unnamed one, which keeps the group numbers.
fn dedup_group_names(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut seen: Vec<String> = Vec::new();
    let mut in_class = false;
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            let n = rest[1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&rest[..1 + n]);
            rest = &rest[1 + n..];
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
        } else if c == '[' {
            in_class = true;
            out.push('[');
            rest = &rest[1..];
            // A `]` right after `[` or `[^` is a literal.
            for lead in ["^]", "]", "^"] {
                if let Some(r) = rest.strip_prefix(lead) {
                    out.push_str(lead);
                    rest = r;
                    break;
                }
            }
            continue;
        } else if let Some((after, end)) = rest
            .strip_prefix("(?P<")
            .or_else(|| rest.strip_prefix("(?<"))
            .and_then(|after| after.find('>').map(|end| (after, end)))
        {
            let name = &after[..end];
            if seen.iter().any(|s| s == name) {
                out.push('(');
                rest = &after[end + 1..];
                continue;
            }
            seen.push(name.to_string());
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Rewrites Go's ASCII-only Perl classes and word boundaries for the `regex`
/// crate, whose versions of them are Unicode-aware.
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
    let deduped = dedup_group_names(pattern);
    let pattern = deduped.as_str();
    let mut parser = ast::parse::ParserBuilder::new().nest_limit(1000).build();
    match parser.parse(pattern) {
        Err(e) => return Err(map_ast_error(pattern, &e)),
        Ok(tree) => {
            if let Some(e) = check_ast(pattern, &tree) {
                return Err(e);
            }
        }
    }
    Regex::new(&translate(pattern)).map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => go_syntax_error("expression too large", pattern),
        other => format!("error parsing regexp: {other}"),
    })
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
    let re = compile(arg_str(a, 0)?);
    let st = arg_str(a, 1)?;
    Ok(Value::Bool(re.is_ok_and(|re| re.is_match(st))))
}

pub(crate) fn regex_find_all(a: &[Value]) -> R {
    let re = must_compile(arg_str(a, 0)?)?;
    let st = arg_str(a, 1)?;
    let n = arg_int(a, 2)?;
    if n == 0 {
        return Ok(Value::NilSlice(Type::String));
    }
    let found: Vec<String> = all_matches(&re, st, n)
        .iter()
        .filter_map(|c| c.get(0).map(|m| m.as_str().to_string()))
        .collect();
    if found.is_empty() {
        return Ok(Value::NilSlice(Type::String));
    }
    Ok(list_str(found))
}

pub(crate) fn regex_find(a: &[Value]) -> R {
    let re = must_compile(arg_str(a, 0)?)?;
    let st = arg_str(a, 1)?;
    Ok(Value::string(re.find(st).map_or("", |m| m.as_str())))
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
    let re = must_compile(arg_str(a, 0)?)?;
    let st = arg_str(a, 1)?;
    let repl = arg_str(a, 2)?;
    Ok(Value::string(replace_all(&re, st, |caps, out| {
        expand(&re, repl, caps, out)
    })?))
}

pub(crate) fn regex_replace_all_literal(a: &[Value]) -> R {
    let re = must_compile(arg_str(a, 0)?)?;
    let st = arg_str(a, 1)?;
    let repl = arg_str(a, 2)?;
    Ok(Value::string(replace_all(&re, st, |_, out| {
        out.push_str(repl)
    })?))
}

pub(crate) fn regex_split(a: &[Value]) -> R {
    let pattern = arg_str(a, 0)?;
    let re = must_compile(pattern)?;
    let st = arg_str(a, 1)?;
    let n = arg_int(a, 2)?;
    if n == 0 {
        return Ok(Value::NilSlice(Type::String));
    }
    if !pattern.is_empty() && st.is_empty() {
        return Ok(list_str(vec![String::new()]));
    }
    let matches = all_matches(&re, st, n);
    let mut parts: Vec<String> = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for caps in &matches {
        if n > 0 && parts.len() as i64 >= n - 1 {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        end = m.start();
        if m.end() != 0 {
            parts.push(st[beg..end].to_string());
        }
        beg = m.end();
    }
    if end != st.len() {
        parts.push(st[beg..].to_string());
    }
    Ok(list_str(parts))
}
