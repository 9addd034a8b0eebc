//! Template analysis: syntax errors and the field chains a template reads.
//!
//! The validator talks to templates through the [`TemplateEngine`] trait so that
//! the full Go `text/template` parser (`kapsel-template`) can be plugged in.
//! [`BasicEngine`] is a self-contained fallback: a lexer plus block tracking that
//! finds the syntax errors Blueprint authors actually make (unclosed actions,
//! strings and blocks, stray `end`/`else`, unknown functions, bad parentheses)
//! and the `.A.B.C` chains read at the top-level dot or through `$`.

use std::ops::Range;

/// Where a field chain starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefRoot {
    /// The top-level dot (the template parameters), e.g. `.Phases.x`.
    Dot,
    /// `$`, always the top-level data, e.g. `$.Phases.x`.
    Dollar,
}

/// A chain of field names read from the template data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// What the chain is relative to.
    pub root: RefRoot,
    /// Field names (and `index` string keys), outermost first.
    pub chain: Vec<String>,
    /// Byte span of the chain in the template source.
    pub span: Range<usize>,
    /// Span of each chain element in the template source.
    pub element_spans: Vec<Range<usize>>,
    /// Whether some elements came from `index X "key"` arguments.
    pub via_index: bool,
}

/// A template syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset into the template source.
    pub offset: usize,
    /// Byte length of the offending text (may be 0).
    pub len: usize,
    /// Description, in the style of Go's parser messages.
    pub message: String,
}

/// Which functions a template may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncSet {
    /// Go builtins plus sprig v2.22 `TxtFuncMap` (what Kanister renders with).
    Kanister,
    /// Go builtins plus kubectl's go-template printer extras (`WaitV2` conditions).
    Kubectl,
}

/// Parses templates and reports the field chains they read.
pub trait TemplateEngine {
    /// Parse `src`; on success return the field chains it reads from the top-level data.
    fn analyze(&self, src: &str, funcs: FuncSet) -> Result<Vec<FieldRef>, TemplateError>;
}

/// Go `text/template` builtin functions.
pub const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Function names in sprig v2.22 `TxtFuncMap`.
pub const SPRIG_V2_22: &[&str] = &[
    "abbrev",
    "abbrevboth",
    "add",
    "add1",
    "adler32sum",
    "ago",
    "append",
    "atoi",
    "b32dec",
    "b32enc",
    "b64dec",
    "b64enc",
    "base",
    "biggest",
    "buildCustomCert",
    "camelcase",
    "cat",
    "ceil",
    "clean",
    "coalesce",
    "compact",
    "concat",
    "contains",
    "date",
    "dateInZone",
    "dateModify",
    "date_in_zone",
    "date_modify",
    "decryptAES",
    "deepCopy",
    "deepEqual",
    "default",
    "derivePassword",
    "dict",
    "dir",
    "div",
    "empty",
    "encryptAES",
    "env",
    "expandenv",
    "ext",
    "fail",
    "first",
    "float64",
    "floor",
    "genCA",
    "genPrivateKey",
    "genSelfSignedCert",
    "genSignedCert",
    "getHostByName",
    "has",
    "hasKey",
    "hasPrefix",
    "hasSuffix",
    "hello",
    "htmlDate",
    "htmlDateInZone",
    "indent",
    "initial",
    "initials",
    "int",
    "int64",
    "isAbs",
    "join",
    "kebabcase",
    "keys",
    "kindIs",
    "kindOf",
    "last",
    "list",
    "lower",
    "max",
    "merge",
    "mergeOverwrite",
    "min",
    "mod",
    "mul",
    "nindent",
    "nospace",
    "now",
    "omit",
    "pick",
    "pluck",
    "plural",
    "prepend",
    "quote",
    "randAlpha",
    "randAlphaNum",
    "randAscii",
    "randNumeric",
    "regexFind",
    "regexFindAll",
    "regexMatch",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "repeat",
    "replace",
    "rest",
    "reverse",
    "round",
    "semver",
    "semverCompare",
    "set",
    "sha1sum",
    "sha256sum",
    "shuffle",
    "slice",
    "snakecase",
    "sortAlpha",
    "split",
    "splitList",
    "splitn",
    "squote",
    "sub",
    "substr",
    "swapcase",
    "ternary",
    "title",
    "toDate",
    "toDecimal",
    "toJson",
    "toPrettyJson",
    "toString",
    "toStrings",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trimall",
    "trunc",
    "tuple",
    "typeIs",
    "typeIsLike",
    "typeOf",
    "uniq",
    "unixEpoch",
    "unset",
    "until",
    "untilStep",
    "untitle",
    "upper",
    "urlJoin",
    "urlParse",
    "uuidv4",
    "values",
    "without",
    "wrap",
    "wrapWith",
];

/// Extra functions of kubectl's go-template printer.
pub const KUBECTL_EXTRAS: &[&str] = &["exists", "base64decode"];

fn known_function(name: &str, funcs: FuncSet) -> bool {
    GO_BUILTINS.contains(&name)
        || match funcs {
            FuncSet::Kanister => SPRIG_V2_22.contains(&name),
            FuncSet::Kubectl => KUBECTL_EXTRAS.contains(&name),
        }
}

/// The built-in fallback engine (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicEngine;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Dot,
    Var(String),
    Dollar,
    Ident(String),
    Str(String),
    Other,
    LParen,
    RParen,
    Pipe,
    Assign,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    If,
    Range,
    With,
    Define,
    Blk,
}

fn err(offset: usize, len: usize, message: impl Into<String>) -> TemplateError {
    TemplateError {
        offset,
        len,
        message: message.into(),
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl TemplateEngine for BasicEngine {
    fn analyze(&self, src: &str, funcs: FuncSet) -> Result<Vec<FieldRef>, TemplateError> {
        let mut refs = Vec::new();
        let mut stack: Vec<(Block, usize, usize)> = Vec::new();
        let mut pos = 0;
        while let Some(rel) = src.get(pos..).and_then(|s| s.find("{{")) {
            let open = pos + rel;
            let mut i = open + 2;
            let rest = src.get(i..).unwrap_or("");
            if rest.starts_with('-') && rest[1..].starts_with(is_space) {
                i += 1;
            }
            // Skip leading spaces to look for a comment.
            let after_ws = i + src[i..].len() - src[i..].trim_start_matches(is_space).len();
            if src[after_ws..].starts_with("/*") {
                let Some(end_rel) = src[after_ws + 2..].find("*/") else {
                    return Err(err(open, 2, "unclosed comment"));
                };
                let mut j = after_ws + 2 + end_rel + 2;
                let tail = &src[j..];
                if tail.starts_with(" -}}") {
                    j += 4;
                } else if tail.starts_with("}}") {
                    j += 2;
                } else {
                    return Err(err(open, 2, "comment ends before closing delimiter"));
                }
                pos = j;
                continue;
            }
            let (tokens, close_end) = lex_action(src, open, i)?;
            pos = close_end;
            analyze_action(open, &tokens, funcs, &mut stack, &mut refs)?;
        }
        if let Some((block, at, len)) = stack.last() {
            let name = match block {
                Block::If => "if",
                Block::Range => "range",
                Block::With => "with",
                Block::Define => "define",
                Block::Blk => "block",
            };
            return Err(err(
                *at,
                *len,
                format!("unexpected EOF: {{{{{name}}}}} has no matching {{{{end}}}}"),
            ));
        }
        Ok(refs)
    }
}

/// Lex one action starting at `i` (after `{{` and trim marker). Returns the
/// tokens and the offset after the closing delimiter.
fn lex_action(src: &str, open: usize, start: usize) -> Result<(Vec<Token>, usize), TemplateError> {
    let mut tokens = Vec::new();
    let bytes = src.as_bytes();
    let mut i = start;
    loop {
        let Some(c) = src.get(i..).and_then(|s| s.chars().next()) else {
            return Err(err(open, 2, "unclosed action"));
        };
        if is_space(c) {
            if src[i..].trim_start_matches(is_space).starts_with("-}}") {
                let j = i + src[i..].len() - src[i..].trim_start_matches(is_space).len();
                return Ok((tokens, j + 3));
            }
            i += c.len_utf8();
            continue;
        }
        if src[i..].starts_with("}}") {
            return Ok((tokens, i + 2));
        }
        let s = i;
        let tok = match c {
            '"' => {
                let mut j = i + 1;
                let mut value = String::new();
                loop {
                    match src.get(j..).and_then(|r| r.chars().next()) {
                        None | Some('\n') => {
                            return Err(err(s, j - s, "unterminated quoted string"));
                        }
                        Some('\\') => {
                            let n = src.get(j + 1..).and_then(|r| r.chars().next());
                            match n {
                                None | Some('\n') => {
                                    return Err(err(s, j - s, "unterminated quoted string"));
                                }
                                Some(n) => {
                                    value.push(n);
                                    j += 1 + n.len_utf8();
                                }
                            }
                        }
                        Some('"') => {
                            j += 1;
                            break;
                        }
                        Some(ch) => {
                            value.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                i = j;
                Tok::Str(value)
            }
            '`' => {
                let Some(e) = src[i + 1..].find('`') else {
                    return Err(err(s, 1, "unterminated raw quoted string"));
                };
                let value = src[i + 1..i + 1 + e].to_string();
                i = i + 1 + e + 1;
                Tok::Str(value)
            }
            '\'' => {
                let mut j = i + 1;
                loop {
                    match src.get(j..).and_then(|r| r.chars().next()) {
                        None | Some('\n') => {
                            return Err(err(s, j - s, "unterminated character constant"));
                        }
                        Some('\\') => j += 2,
                        Some('\'') => {
                            j += 1;
                            break;
                        }
                        Some(ch) => j += ch.len_utf8(),
                    }
                }
                i = j;
                Tok::Other
            }
            '.' => {
                let next = src.get(i + 1..).and_then(|r| r.chars().next());
                match next {
                    Some(n) if n.is_ascii_digit() => {
                        i = lex_number(src, i);
                        Tok::Other
                    }
                    Some(n) if is_ident_char(n) => {
                        let e = ident_end(src, i + 1);
                        let name = src[i + 1..e].to_string();
                        i = e;
                        Tok::Field(name)
                    }
                    _ => {
                        i += 1;
                        Tok::Dot
                    }
                }
            }
            '$' => {
                let e = ident_end(src, i + 1);
                let name = src[i + 1..e].to_string();
                i = e;
                if name.is_empty() {
                    Tok::Dollar
                } else {
                    Tok::Var(name)
                }
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '|' => {
                i += 1;
                Tok::Pipe
            }
            ',' => {
                i += 1;
                Tok::Other
            }
            '=' => {
                i += 1;
                Tok::Assign
            }
            ':' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Assign
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && bytes
                        .get(i + 1)
                        .is_some_and(|b| b.is_ascii_digit() || *b == b'.')) =>
            {
                i = lex_number(src, i + usize::from(!c.is_ascii_digit()));
                Tok::Other
            }
            c if is_ident_char(c) => {
                let e = ident_end(src, i);
                let name = src[i..e].to_string();
                i = e;
                Tok::Ident(name)
            }
            other => {
                return Err(err(
                    s,
                    other.len_utf8(),
                    format!("unexpected \"{other}\" in operand"),
                ));
            }
        };
        tokens.push(Token { tok, span: s..i });
    }
}

fn ident_end(src: &str, from: usize) -> usize {
    let mut e = from;
    for c in src[from..].chars() {
        if is_ident_char(c) {
            e += c.len_utf8();
        } else {
            break;
        }
    }
    e
}

fn lex_number(src: &str, from: usize) -> usize {
    let b = src.as_bytes();
    let mut e = from;
    while let Some(&c) = b.get(e) {
        let exp_sign = (c == b'+' || c == b'-')
            && e > from
            && matches!(b.get(e - 1), Some(b'e' | b'E' | b'p' | b'P'));
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
            e += 1;
        } else {
            break;
        }
    }
    e
}

fn analyze_action(
    open: usize,
    tokens: &[Token],
    funcs: FuncSet,
    stack: &mut Vec<(Block, usize, usize)>,
    refs: &mut Vec<FieldRef>,
) -> Result<(), TemplateError> {
    let action_len = tokens.last().map(|t| t.span.end).unwrap_or(open + 2) - open;
    let Some(first) = tokens.first() else {
        return Err(err(open, 2, "missing value for command"));
    };
    // Dot is rebound inside range/with/define/block bodies.
    let dot_is_top = |stack: &Vec<(Block, usize, usize)>| {
        !stack
            .iter()
            .any(|(b, _, _)| matches!(b, Block::Range | Block::With | Block::Define | Block::Blk))
    };
    let mut body = tokens;
    let mut push: Option<Block> = None;
    if let Tok::Ident(kw) = &first.tok {
        match kw.as_str() {
            "if" | "range" | "with" => {
                push = Some(match kw.as_str() {
                    "if" => Block::If,
                    "range" => Block::Range,
                    _ => Block::With,
                });
                body = &tokens[1..];
                if body.is_empty() {
                    return Err(err(open, action_len, format!("missing value for {kw}")));
                }
            }
            "define" | "block" => {
                push = Some(if kw == "define" {
                    Block::Define
                } else {
                    Block::Blk
                });
                if !matches!(tokens.get(1).map(|t| &t.tok), Some(Tok::Str(_))) {
                    return Err(err(
                        open,
                        action_len,
                        format!("{kw} needs a quoted template name"),
                    ));
                }
                body = &tokens[2..];
            }
            "else" => {
                match stack.last() {
                    Some((Block::If | Block::Range | Block::With, _, _)) => {}
                    _ => return Err(err(open, action_len, "unexpected {{else}}")),
                }
                body = &tokens[1..];
                if let Some(Token {
                    tok: Tok::Ident(k), ..
                }) = body.first()
                    && (k == "if" || k == "with")
                {
                    body = &body[1..];
                }
            }
            "end" => {
                if tokens.len() > 1 {
                    return Err(err(open, action_len, "unexpected token in end"));
                }
                if stack.pop().is_none() {
                    return Err(err(open, action_len, "unexpected {{end}}"));
                }
                return Ok(());
            }
            "break" | "continue" => {
                if !stack.iter().any(|(b, _, _)| *b == Block::Range) {
                    return Err(err(
                        open,
                        action_len,
                        format!("{{{{{kw}}}}} outside {{{{range}}}}"),
                    ));
                }
                return Ok(());
            }
            "template" => {
                body = &tokens[1..];
                if !matches!(body.first().map(|t| &t.tok), Some(Tok::Str(_))) {
                    return Err(err(
                        open,
                        action_len,
                        "template needs a quoted template name",
                    ));
                }
                body = &body[1..];
            }
            _ => {}
        }
    }
    let top = dot_is_top(stack);
    // Parentheses and function names.
    let mut depth = 0i32;
    for t in body {
        match &t.tok {
            Tok::LParen => {
                depth += 1;
                continue;
            }
            Tok::RParen => {
                depth -= 1;
                if depth < 0 {
                    return Err(err(t.span.start, 1, "unexpected right paren"));
                }
            }
            Tok::Pipe => {
                continue;
            }
            Tok::Ident(name) => {
                let literal = matches!(name.as_str(), "true" | "false" | "nil");
                let keyword = matches!(
                    name.as_str(),
                    "if" | "else"
                        | "end"
                        | "range"
                        | "with"
                        | "define"
                        | "block"
                        | "template"
                        | "break"
                        | "continue"
                );
                if keyword {
                    return Err(err(
                        t.span.start,
                        t.span.len(),
                        format!("unexpected keyword {name:?} in command"),
                    ));
                }
                if !literal && !known_function(name, funcs) {
                    return Err(err(
                        t.span.start,
                        t.span.len(),
                        format!("function {name:?} not defined"),
                    ));
                }
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(err(open, action_len, "unclosed left paren"));
    }
    collect_refs(body, top, refs);
    if let Some(b) = push {
        stack.push((b, open, action_len));
    }
    Ok(())
}

fn collect_refs(toks: &[Token], dot_top: bool, refs: &mut Vec<FieldRef>) {
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let adjacent_prev = i > 0 && toks[i - 1].span.end == t.span.start;
        let (root, start_idx) = match &t.tok {
            Tok::Field(_) if !adjacent_prev => (RefRoot::Dot, i),
            Tok::Dollar => match toks.get(i + 1) {
                Some(n) if n.span.start == t.span.end && matches!(n.tok, Tok::Field(_)) => {
                    (RefRoot::Dollar, i + 1)
                }
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        let mut chain = Vec::new();
        let mut spans = Vec::new();
        let mut j = start_idx;
        let mut end = t.span.end;
        while let Some(Token {
            tok: Tok::Field(name),
            span,
        }) = toks.get(j)
        {
            if j > start_idx && toks[j - 1].span.end != span.start {
                break;
            }
            chain.push(name.clone());
            spans.push(span.start + 1..span.end);
            end = span.end;
            j += 1;
        }
        let mut via_index = false;
        let is_index_arg = i > 0
            && matches!(&toks[i - 1].tok, Tok::Ident(n) if n == "index")
            && (i < 2 || !matches!(toks[i - 2].tok, Tok::Field(_)));
        if is_index_arg {
            while let Some(Token {
                tok: Tok::Str(key),
                span,
            }) = toks.get(j)
            {
                chain.push(key.clone());
                spans.push(span.clone());
                end = span.end;
                via_index = true;
                j += 1;
            }
        }
        if root == RefRoot::Dollar || dot_top {
            refs.push(FieldRef {
                root,
                chain,
                span: t.span.start..end,
                element_spans: spans,
                via_index,
            });
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Vec<FieldRef> {
        match BasicEngine.analyze(src, FuncSet::Kanister) {
            Ok(r) => r,
            Err(e) => panic!("{src}: {e:?}"),
        }
    }

    fn bad(src: &str) -> TemplateError {
        match BasicEngine.analyze(src, FuncSet::Kanister) {
            Ok(r) => panic!("{src}: expected an error, got {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn finds_chains() {
        let r = ok(
            "a {{ .Phases.x.Output.y }} b {{ index .Phases.x.Secrets.s.Data \"k\" | toString }}",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].chain, ["Phases", "x", "Output", "y"]);
        assert_eq!(r[0].span, 5..23);
        assert_eq!(r[1].chain, ["Phases", "x", "Secrets", "s", "Data", "k"]);
        assert!(r[1].via_index);
    }

    #[test]
    fn dot_rebinding_blocks_skip_refs() {
        let r = ok("{{ range .StatefulSet.Pods }}{{ .Name }}{{ $.Time }}{{ end }}");
        let chains: Vec<_> = r.iter().map(|f| f.chain.join(".")).collect();
        assert_eq!(chains, ["StatefulSet.Pods", "Time"]);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(bad("ab {{ .X ").offset, 3);
        assert_eq!(
            bad("{{ if .X }}y").message,
            "unexpected EOF: {{if}} has no matching {{end}}"
        );
        assert_eq!(bad("x{{ end }}").offset, 1);
        let e = bad("{{ .X | toJosn }}");
        assert_eq!((e.offset, e.len), (8, 6));
        assert_eq!(bad("{{ \"abc }}").offset, 3);
        assert_eq!(bad("{{ (.X }}").message, "unclosed left paren");
        assert!(ok("{{- /* c */ -}}{{ printf \"%s\" .X -}} {{ 3 }} {{ -1 }}").len() == 1);
    }
}
