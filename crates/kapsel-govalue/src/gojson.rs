//! Go's `encoding/json` over template values: `json.Marshal` (struct fields by
//! their json tags and in declaration order, map keys sorted, `[]byte` as base64,
//! HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029, floats formatted as Go
//! does), `json.MarshalIndent`, and `json.Unmarshal` into `interface{}`.
//!
//! Unmarshalling follows Go's decoder: the whole input is checked first and the
//! first syntax error is reported with Go's text (`unexpected end of JSON input`,
//! `invalid character 'x' looking for beginning of value`, `invalid character
//! 'x' after object key`, ...); numbers become `float64` (out-of-range ones give
//! `json: cannot unmarshal number 1e999 into Go value of type float64`); a
//! duplicated object key keeps its last value.
//!
//! Known differences from Go:
//! - Go reports the byte offset of a syntax error in `SyntaxError.Offset`, which
//!   is not part of the message; it is not kept here.
//! - Nesting deeper than [`MAX_NESTING_DEPTH`] (1000) levels is rejected with
//!   Go's `invalid character '[' exceeded max depth`; Go's limit is 10000.
//! - The input of [`unmarshal_any`] is a Rust `&str`, so it is always valid UTF-8
//!   (Go replaces invalid bytes inside strings by U+FFFD).

use crate::gostrconv;
use crate::gotime;
use crate::value::{JsonField, Value};

/// The error `encoding/json` reports, with Go's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// `json.Marshal(v)`.
pub fn marshal(v: &Value) -> Result<String, JsonError> {
    let mut out = String::new();
    encode(&mut out, v, None, true)?;
    Ok(out)
}

/// `json.MarshalIndent(v, prefix, indent)`.
pub fn marshal_indent(v: &Value, prefix: &str, indent: &str) -> Result<String, JsonError> {
    let mut out = String::new();
    encode(&mut out, v, Some((prefix, indent, 0)), true)?;
    Ok(out)
}

/// `json.Unmarshal(data, &x)` with `x interface{}`: objects become
/// `map[string]interface{}`, arrays `[]interface{}`, numbers `float64`.
pub fn unmarshal_any(data: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        s: data.as_bytes(),
        i: 0,
        depth: 0,
        type_err: None,
    };
    let v = p.value()?;
    p.ws();
    if let Some(c) = p.peek() {
        return Err(p.invalid(c, "after top-level value"));
    }
    // Go checks the syntax of the whole input before decoding, so a number out
    // of range is reported only when the input is otherwise well formed.
    match p.type_err {
        Some(e) => Err(e),
        None => Ok(v),
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Go's `base64.StdEncoding`).
pub fn base64_std(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk.len();
        let x = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        out.push(BASE64[(x >> 18) as usize & 63] as char);
        out.push(BASE64[(x >> 12) as usize & 63] as char);
        out.push(if n > 1 {
            BASE64[(x >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if n > 2 {
            BASE64[x as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// What sprig's `toRawJson` gives: a `json.Encoder` with `SetEscapeHTML(false)`
/// (so `<`, `>` and `&` stay as they are; U+2028, U+2029 and control characters
/// are still escaped), without the newline `Encode` appends.
pub fn marshal_raw(v: &Value) -> Result<String, JsonError> {
    let mut out = String::new();
    encode(&mut out, v, None, false)?;
    Ok(out)
}

/// Appends `s` as a JSON string the way Go's encoder does with HTML escaping on.
pub fn append_string(out: &mut String, s: &[u8]) {
    append_string_with(out, s, true);
}

/// Appends `s` as a JSON string; `html` escapes `<`, `>` and `&` as `\u003c`...
pub fn append_string_with(out: &mut String, s: &[u8], html: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for r in gostrconv::decode_go(s) {
        match r {
            Err(_) => out.push_str("\\ufffd"),
            Ok(c) => match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c if (c as u32) < 0x20 || (html && (c == '<' || c == '>' || c == '&')) => {
                    let b = c as u32 as usize;
                    out.push_str("\\u00");
                    out.push(HEX[b >> 4] as char);
                    out.push(HEX[b & 0xf] as char);
                }
                c => out.push(c),
            },
        }
    }
    out.push('"');
}

/// Go's float encoder: `'f'` form unless the magnitude is below 1e-6 or at least
/// 1e21, exponent cleaned up from `e-07` to `e-7`.
pub fn format_float(f: f64) -> Result<String, JsonError> {
    if f.is_nan() || f.is_infinite() {
        return Err(JsonError(format!(
            "json: unsupported value: {}",
            gostrconv::format_float(f, 'g', -1)
        )));
    }
    let abs = f.abs();
    let fmt = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        'e'
    } else {
        'f'
    };
    let mut s = gostrconv::format_float(f, fmt, -1);
    if fmt == 'e' {
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    Ok(s)
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Nil | Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_) => {
            true
        }
        Value::Bool(b) => !b,
        Value::Int(i) | Value::Int64(i) => *i == 0,
        Value::Uint8(b) => *b == 0,
        Value::Float(f) => *f == 0.0,
        // encoding/json's isEmptyValue does not know complex kinds.
        Value::Complex(..) => false,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Slice(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Struct(_) | Value::Ptr(_) | Value::Time(_) => false,
    }
}

fn newline(out: &mut String, prefix: &str, indent: &str, depth: usize) {
    out.push('\n');
    out.push_str(prefix);
    for _ in 0..depth {
        out.push_str(indent);
    }
}

type Indent<'a> = Option<(&'a str, &'a str, usize)>;

fn encode_time(out: &mut String, t: &crate::value::GoTime) -> Result<(), JsonError> {
    let s = gotime::format(t, "2006-01-02T15:04:05.999999999Z07:00");
    let b = s.as_bytes();
    let err = |m: &str| {
        JsonError(format!(
            "json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: {m}"
        ))
    };
    if b.get(4) != Some(&b'-') {
        return Err(err("year outside of range [0,9999]"));
    }
    if !s.ends_with('Z') && b.len() >= 6 {
        let c = b[b.len() - 6];
        let h = (b[b.len() - 5].wrapping_sub(b'0')) * 10 + b[b.len() - 4].wrapping_sub(b'0');
        if c.is_ascii_digit() || h >= 24 {
            return Err(err("timezone hour outside of range [0,23]"));
        }
    }
    out.push('"');
    out.push_str(&s);
    out.push('"');
    Ok(())
}

fn encode(out: &mut String, v: &Value, ind: Indent<'_>, html: bool) -> Result<(), JsonError> {
    match v {
        Value::Nil | Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_) => {
            out.push_str("null")
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint8(b) => out.push_str(&b.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)?),
        Value::Complex(..) => {
            return Err(JsonError("json: unsupported type: complex128".to_string()));
        }
        Value::String(s) => append_string_with(out, s.as_bytes(), html),
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&base64_std(b));
            out.push('"');
        }
        Value::Time(t) => encode_time(out, t)?,
        Value::Ptr(inner) => encode(out, inner, ind, html)?,
        Value::Slice(s) => {
            out.push('[');
            let inner = ind.map(|(p, i, d)| (p, i, d + 1));
            let items = s.items();
            for (k, it) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if let Some((p, i, d)) = inner {
                    newline(out, p, i, d);
                }
                encode(out, it, inner, html)?;
            }
            if let Some((p, i, d)) = ind
                && !items.is_empty()
            {
                newline(out, p, i, d);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let guard = m.entries();
            let entries: Vec<(&str, &Value)> = guard.iter().map(|(k, v)| (k.as_str(), v)).collect();
            encode_object(out, &entries, ind, html)?;
        }
        Value::Struct(s) => {
            let mut entries: Vec<(&str, &Value)> = Vec::new();
            struct_entries(s, &mut entries);
            encode_object(out, &entries, ind, html)?;
        }
    }
    Ok(())
}

/// One candidate JSON member of a struct (Go's `field` in `typeFields`).
struct Member<'a> {
    key: &'a str,
    /// Field indices from the outer struct (its length is the depth).
    path: Vec<usize>,
    tagged: bool,
    omitempty: bool,
    /// `None` when the field sits behind a nil embedded pointer.
    value: Option<&'a Value>,
}

/// The struct type an embedded field's type names, through one pointer.
fn embedded_struct(ty: &crate::value::Type) -> Option<&crate::value::StructType> {
    match ty {
        crate::value::Type::Struct(st) => Some(st),
        crate::value::Type::Ptr(inner) => match inner.as_ref() {
            crate::value::Type::Struct(st) => Some(st),
            _ => None,
        },
        _ => None,
    }
}

/// Collects the candidate members of a struct, descending into embedded
/// structs that have no JSON name (untagged or `json:",inline"`), as Go does.
fn collect_members<'a>(
    ty: &'a crate::value::StructType,
    values: Option<&'a [Value]>,
    path: &[usize],
    out: &mut Vec<Member<'a>>,
) {
    for (i, fd) in ty.fields.iter().enumerate() {
        let value = values.and_then(|v| v.get(i));
        let mut p = path.to_vec();
        p.push(i);
        let (key, tagged, omitempty) = match &fd.json {
            JsonField::Skip => continue,
            JsonField::Untagged | JsonField::Inline => (fd.name.as_str(), false, false),
            JsonField::Named { key, omitempty } => (key.as_str(), true, *omitempty),
        };
        if !tagged
            && fd.embedded
            && let Some(inner) = embedded_struct(&fd.ty)
        {
            // Go guards against cyclic embedding; a path deeper than any real
            // type nests is taken as one.
            if p.len() > 32 {
                continue;
            }
            let inner_values: Option<&'a [Value]> = match value {
                Some(Value::Struct(s)) => Some(&s.fields),
                Some(Value::Ptr(v)) => match v.as_ref() {
                    Value::Struct(s) => Some(&s.fields),
                    _ => None,
                },
                _ => None,
            };
            collect_members(inner, inner_values, &p, out);
            continue;
        }
        out.push(Member {
            key,
            path: p,
            tagged,
            omitempty,
            value,
        });
    }
}

/// The JSON members of a struct in Go's order, after Go's rules for names that
/// embedded structs promote: the shallowest field wins, a tagged one beats an
/// untagged one at the same depth, and any other tie hides the name.
fn struct_entries<'a>(s: &'a crate::value::Struct, entries: &mut Vec<(&'a str, &'a Value)>) {
    let mut members = Vec::new();
    collect_members(&s.ty, Some(&s.fields), &[], &mut members);
    let mut by_key: std::collections::BTreeMap<&str, Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        by_key.entry(m.key).or_default().push(i);
    }
    let mut chosen: Vec<&Member<'a>> = Vec::new();
    for idxs in by_key.values() {
        let mut group: Vec<&Member<'a>> = idxs.iter().map(|&i| &members[i]).collect();
        group.sort_by(|a, b| {
            a.path
                .len()
                .cmp(&b.path.len())
                .then(b.tagged.cmp(&a.tagged))
                .then(a.path.cmp(&b.path))
        });
        if group.len() > 1
            && group[0].path.len() == group[1].path.len()
            && group[0].tagged == group[1].tagged
        {
            continue;
        }
        chosen.push(group[0]);
    }
    chosen.sort_by(|a, b| a.path.cmp(&b.path));
    for m in chosen {
        let Some(v) = m.value else { continue };
        if m.omitempty && is_empty_value(v) {
            continue;
        }
        entries.push((m.key, v));
    }
}

fn encode_object(
    out: &mut String,
    entries: &[(&str, &Value)],
    ind: Indent<'_>,
    html: bool,
) -> Result<(), JsonError> {
    out.push('{');
    let inner = ind.map(|(p, i, d)| (p, i, d + 1));
    for (k, (key, val)) in entries.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        if let Some((p, i, d)) = inner {
            newline(out, p, i, d);
        }
        append_string_with(out, key.as_bytes(), html);
        out.push(':');
        if ind.is_some() {
            out.push(' ');
        }
        encode(out, val, inner, html)?;
    }
    if let Some((p, i, d)) = ind
        && !entries.is_empty()
    {
        newline(out, p, i, d);
    }
    out.push('}');
    Ok(())
}

/// The deepest nesting of arrays and objects [`unmarshal_any`] accepts. Go
/// allows 10000 levels; values that deep would overflow the stack of the
/// recursive code here, so the limit is lower (with Go's error text).
pub const MAX_NESTING_DEPTH: usize = 1000;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    /// The first number that does not fit a float64.
    type_err: Option<JsonError>,
}

fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let q = gostrconv::quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn eof() -> JsonError {
    JsonError("unexpected end of JSON input".to_string())
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn invalid(&self, c: u8, ctx: &str) -> JsonError {
        JsonError(format!("invalid character {} {}", quote_char(c), ctx))
    }

    fn next_or_eof(&mut self) -> Result<u8, JsonError> {
        let c = self.peek().ok_or_else(eof)?;
        self.i += 1;
        Ok(c)
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        self.ws();
        let c = self.peek().ok_or_else(eof)?;
        if c == b'{' || c == b'[' {
            if self.depth >= MAX_NESTING_DEPTH {
                return Err(self.invalid(c, "exceeded max depth"));
            }
            self.depth += 1;
            let v = self.aggregate(c);
            self.depth -= 1;
            return v;
        }
        match c {
            b'"' => {
                self.i += 1;
                Ok(Value::string(self.string_body()?))
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Nil),
            c => Err(self.invalid(c, "looking for beginning of value")),
        }
    }

    /// An object or array starting at `c`.
    fn aggregate(&mut self, c: u8) -> Result<Value, JsonError> {
        match c {
            b'{' => {
                self.i += 1;
                let mut map = std::collections::BTreeMap::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::map(crate::value::Type::Any, map));
                }
                loop {
                    self.ws();
                    let c = self.next_or_eof()?;
                    if c != b'"' {
                        return Err(self.invalid(c, "looking for beginning of object key string"));
                    }
                    let key = self.string_body()?;
                    self.ws();
                    let c = self.next_or_eof()?;
                    if c != b':' {
                        return Err(self.invalid(c, "after object key"));
                    }
                    let v = self.value()?;
                    map.insert(key, v);
                    self.ws();
                    match self.next_or_eof()? {
                        b',' => {}
                        b'}' => return Ok(Value::map(crate::value::Type::Any, map)),
                        c => return Err(self.invalid(c, "after object key:value pair")),
                    }
                }
            }
            _ => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::slice(crate::value::Type::Any, items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.next_or_eof()? {
                        b',' => {}
                        b']' => return Ok(Value::slice(crate::value::Type::Any, items)),
                        c => return Err(self.invalid(c, "after array element")),
                    }
                }
            }
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        self.i += 1;
        for (k, expect) in word.bytes().enumerate().skip(1) {
            // At the end of input Go's scanner steps a space, so a cut literal
            // reports ' '.
            let c = self.peek().unwrap_or(b' ');
            self.i += 1;
            if c != expect {
                return Err(self.invalid(
                    c,
                    &format!(
                        "in literal {word} (expecting {})",
                        quote_char(word.as_bytes()[k])
                    ),
                ));
            }
        }
        Ok(v)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            let c = self.peek().unwrap_or(b' ');
            if !c.is_ascii_digit() {
                return Err(self.invalid(c, "in numeric literal"));
            }
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let c = self.peek().unwrap_or(b' ');
            if !c.is_ascii_digit() {
                return Err(self.invalid(c, "after decimal point in numeric literal"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            let c = self.peek().unwrap_or(b' ');
            if !c.is_ascii_digit() {
                return Err(self.invalid(c, "in exponent of numeric literal"));
            }
            self.digits();
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                if self.type_err.is_none() {
                    self.type_err = Some(JsonError(format!(
                        "json: cannot unmarshal number {text} into Go value of type float64"
                    )));
                }
                Ok(Value::Nil)
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut x = 0u32;
        for _ in 0..4 {
            // At the end of input Go's scanner steps a space.
            let c = self.peek().unwrap_or(b' ');
            self.i += 1;
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.invalid(c, "in \\u hexadecimal character escape"))?;
            x = x * 16 + d;
        }
        Ok(x)
    }

    /// After the opening quote; consumes the closing one.
    fn string_body(&mut self) -> Result<String, JsonError> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.next_or_eof()?;
            match c {
                b'"' => break,
                b'\\' => {
                    // At the end of input Go's scanner steps a space.
                    let e = self.peek().unwrap_or(b' ');
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut r = self.hex4()?;
                            if (0xD800..0xDC00).contains(&r) {
                                // A high surrogate: pair it with a following
                                // \uDC00-\uDFFF escape if there is one.
                                let save = self.i;
                                let mut paired = false;
                                if self.s.get(self.i) == Some(&b'\\')
                                    && self.s.get(self.i + 1) == Some(&b'u')
                                {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                                        paired = true;
                                    } else {
                                        self.i = save;
                                    }
                                }
                                if !paired {
                                    r = 0xFFFD;
                                }
                            } else if (0xDC00..0xE000).contains(&r) {
                                r = 0xFFFD;
                            }
                            let ch = char::from_u32(r).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.invalid(e, "in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.invalid(c, "in string literal")),
                c => out.push(c),
            }
        }
        Ok(String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_limit() {
        let n = MAX_NESTING_DEPTH;
        let ok = "[".repeat(n) + &"]".repeat(n);
        assert!(unmarshal_any(&ok).is_ok());
        let deep = "[".repeat(n + 1) + &"]".repeat(n + 1);
        assert_eq!(
            unmarshal_any(&deep),
            Err(JsonError("invalid character '[' exceeded max depth".into()))
        );
        let deep_obj = "{\"a\":".repeat(n + 1);
        assert_eq!(
            unmarshal_any(&deep_obj),
            Err(JsonError("invalid character '{' exceeded max depth".into()))
        );
    }

    #[test]
    fn basics() {
        assert_eq!(
            marshal(&Value::string("<a&b>")).as_deref(),
            Ok("\"\\u003ca\\u0026b\\u003e\"")
        );
        assert_eq!(marshal(&Value::Float(1e21)).as_deref(), Ok("1e+21"));
        assert_eq!(marshal(&Value::Float(1e-7)).as_deref(), Ok("1e-7"));
        assert_eq!(marshal(&Value::Float(-0.0)).as_deref(), Ok("-0"));
        assert_eq!(
            marshal(&Value::Float(f64::NAN)),
            Err(JsonError("json: unsupported value: NaN".into()))
        );
        assert_eq!(
            marshal(&Value::bytes(&b"hi!"[..])).as_deref(),
            Ok("\"aGkh\"")
        );
        assert_eq!(
            unmarshal_any(""),
            Err(JsonError("unexpected end of JSON input".into()))
        );
        assert_eq!(
            unmarshal_any("x"),
            Err(JsonError(
                "invalid character 'x' looking for beginning of value".into()
            ))
        );
    }
}
