//! String functions (sprig's `strings.go`, the string lambdas of `functions.go`,
//! goutils' and xstrings' helpers, Go's `strings`, `path` and `os` bits).

use std::collections::BTreeMap;

use kapsel_govalue::{FuncError, Str, Type, Value, gofmt};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::conv::{
    MAX_OUTPUT, arg, arg_bytes, arg_int, arg_str, is_lower, is_space, is_title, is_upper, latin1,
    list_gostr, list_items, list_with_cap, strval, to_lower, to_title, to_upper, too_large,
};

type R = Result<Value, FuncError>;

fn s(v: impl Into<String>) -> R {
    Ok(Value::string(v.into()))
}

fn b(v: bool) -> R {
    Ok(Value::Bool(v))
}

fn slice_panic(msg: String) -> FuncError {
    FuncError::new(format!("runtime error: slice bounds out of range {msg}"))
}

/// Go's `s[lo:hi]` on the bytes of `s` (`lo` absent means 0, `hi` absent means
/// `len(s)`), with Go's runtime panics as errors.
fn go_slice(bytes: &[u8], lo: Option<i64>, hi: Option<i64>) -> Result<Vec<u8>, FuncError> {
    let len = bytes.len() as i64;
    let h = hi.unwrap_or(len);
    if hi.is_some() && h < 0 {
        return Err(slice_panic(format!("[:{h}]")));
    }
    if hi.is_some() && h > len {
        return Err(slice_panic(format!("[:{h}] with length {len}")));
    }
    let l = lo.unwrap_or(0);
    if l < 0 {
        return Err(slice_panic(format!("[{l}:]")));
    }
    if l > h {
        return Err(slice_panic(format!("[{l}:{h}]")));
    }
    Ok(bytes[l as usize..h as usize].to_vec())
}

pub(crate) fn hello(_: &[Value]) -> R {
    s("Hello!")
}

/// goutils' `AbbreviateFull`, on bytes; `None` where goutils returns an error.
fn abbreviate_full(b: &[u8], offset: i64, max_width: i64) -> Option<Vec<u8>> {
    let len = b.len() as i64;
    if b.is_empty() {
        return Some(Vec::new());
    }
    if max_width < 4 {
        return None;
    }
    if len <= max_width {
        return Some(b.to_vec());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let cut = |lo: i64, hi: i64| b[lo as usize..hi as usize].to_vec();
    if offset <= 4 {
        let mut out = cut(0, max_width - 3);
        out.extend_from_slice(b"...");
        return Some(out);
    }
    if max_width < 7 {
        return None;
    }
    let mut out = b"...".to_vec();
    if offset + max_width - 3 < len {
        let rest = cut(offset, len);
        out.extend(abbreviate_full(&rest, 0, max_width - 3).unwrap_or_default());
        return Some(out);
    }
    out.extend(cut(len - (max_width - 3), len));
    Some(out)
}

fn abbreviated(st: &[u8], offset: i64, max_width: i64) -> Vec<u8> {
    abbreviate_full(st, offset, max_width).unwrap_or_default()
}

/// A string result from Go's bytes.
fn sb(v: impl Into<Str>) -> R {
    Ok(Value::String(v.into()))
}

pub(crate) fn abbrev(a: &[Value]) -> R {
    let width = arg_int(a, 0)?;
    let st = arg_bytes(a, 1)?;
    if width < 4 {
        return sb(st);
    }
    sb(abbreviated(st, 0, width))
}

pub(crate) fn abbrevboth(a: &[Value]) -> R {
    let left = arg_int(a, 0)?;
    let right = arg_int(a, 1)?;
    let st = arg_bytes(a, 2)?;
    if right < 4 || left > 0 && right < 7 {
        return sb(st);
    }
    sb(abbreviated(st, left, right))
}

pub(crate) fn trunc(a: &[Value]) -> R {
    let c = arg_int(a, 0)?;
    let st = arg_bytes(a, 1)?;
    if st.len() as i64 <= c {
        return sb(st);
    }
    sb(go_slice(st, None, Some(c))?)
}

/// The runes of Go's bytes as Go decodes them: `(start, end, rune)` with
/// U+FFFD for each byte of an invalid sequence.
fn go_runes(b: &[u8]) -> Vec<(usize, usize, char)> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let (c, n) = gofmt::decode_rune(&b[i..]);
        out.push((i, i + n, c));
        i += n;
    }
    out
}

/// Go's `strings.TrimFunc` on bytes.
fn trim_runes(b: &[u8], cut: impl Fn(char) -> bool) -> &[u8] {
    let runes = go_runes(b);
    let lo = runes.iter().find(|r| !cut(r.2)).map_or(b.len(), |r| r.0);
    let hi = runes.iter().rev().find(|r| !cut(r.2)).map_or(lo, |r| r.1);
    &b[lo..hi.max(lo)]
}

pub(crate) fn trim(a: &[Value]) -> R {
    sb(trim_runes(arg_bytes(a, 0)?, is_space))
}

pub(crate) fn upper(a: &[Value]) -> R {
    s(arg_str(a, 0)?.chars().map(to_upper).collect::<String>())
}

pub(crate) fn lower(a: &[Value]) -> R {
    s(arg_str(a, 0)?.chars().map(to_lower).collect::<String>())
}

/// Go's `strings.Title` word separator test.
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    // Go: letters and digits are not separators, spaces are, the rest is not;
    // no letter or digit is a space, so only the space test matters.
    is_space(c)
}

pub(crate) fn title(a: &[Value]) -> R {
    let mut prev = ' ';
    let out: String = arg_str(a, 0)?
        .chars()
        .map(|c| {
            let r = if is_separator(prev) { to_title(c) } else { c };
            prev = c;
            r
        })
        .collect();
    s(out)
}

pub(crate) fn untitle(a: &[Value]) -> R {
    let mut next = true;
    let out: String = arg_str(a, 0)?
        .chars()
        .map(|c| {
            if is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                to_lower(c)
            } else {
                c
            }
        })
        .collect();
    s(out)
}

pub(crate) fn substr(a: &[Value]) -> R {
    let start = arg_int(a, 0)?;
    let end = arg_int(a, 1)?;
    let st = arg_bytes(a, 2)?;
    if start < 0 {
        return sb(go_slice(st, None, Some(end))?);
    }
    if end < 0 || end > st.len() as i64 {
        return sb(go_slice(st, Some(start), None)?);
    }
    sb(go_slice(st, Some(start), Some(end))?)
}

pub(crate) fn repeat(a: &[Value]) -> R {
    let count = arg_int(a, 0)?;
    let st = arg_bytes(a, 1)?;
    if count < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    if (count as u128) * (st.len() as u128) > MAX_OUTPUT as u128 {
        return Err(too_large("repeat"));
    }
    sb(st.repeat(count as usize))
}

pub(crate) fn trim_all(a: &[Value]) -> R {
    let cut = arg_str(a, 0)?;
    let st = arg_bytes(a, 1)?;
    sb(trim_runes(st, |c| cut.contains(c)))
}

pub(crate) fn trim_suffix(a: &[Value]) -> R {
    let suf = arg_bytes(a, 0)?;
    let st = arg_bytes(a, 1)?;
    sb(st.strip_suffix(suf).unwrap_or(st))
}

pub(crate) fn trim_prefix(a: &[Value]) -> R {
    let pre = arg_bytes(a, 0)?;
    let st = arg_bytes(a, 1)?;
    sb(st.strip_prefix(pre).unwrap_or(st))
}

/// Go's `unicode.IsSpace` on one byte taken as a rune (goutils' byte loops).
fn byte_is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | 0x85 | 0xA0)
}

pub(crate) fn nospace(a: &[Value]) -> R {
    let st = arg_bytes(a, 0)?;
    let kept: Vec<u8> = st.iter().copied().filter(|b| !byte_is_space(*b)).collect();
    if kept.len() == st.len() {
        // goutils returns the string itself: Go's bytes, even invalid UTF-8.
        return sb(st.to_vec());
    }
    // goutils writes each byte as a rune: non-ASCII text comes out as Latin-1.
    s(latin1(kept))
}

pub(crate) fn initials(a: &[Value]) -> R {
    // goutils reads Go's bytes one at a time (each as a Latin-1 rune).
    let st = arg_bytes(a, 0)?;
    let mut out = Vec::new();
    let mut gap = true;
    for &b in st {
        if byte_is_space(b) {
            gap = true;
        } else if gap {
            out.push(b);
            gap = false;
        }
    }
    s(latin1(out))
}

fn random_from(count: i64, pick: impl Fn(&mut rand::rngs::ThreadRng) -> char) -> R {
    if count <= 0 {
        return s("");
    }
    if count as u64 > MAX_OUTPUT as u64 {
        return Err(too_large("random string"));
    }
    let mut rng = rand::rng();
    s((0..count).map(|_| pick(&mut rng)).collect::<String>())
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(crate) fn rand_alpha_num(a: &[Value]) -> R {
    random_from(arg_int(a, 0)?, |r| {
        char::from(ALNUM[r.random_range(0..ALNUM.len())])
    })
}

pub(crate) fn rand_alpha(a: &[Value]) -> R {
    random_from(arg_int(a, 0)?, |r| char::from(ALNUM[r.random_range(0..52)]))
}

pub(crate) fn rand_ascii(a: &[Value]) -> R {
    random_from(arg_int(a, 0)?, |r| char::from(r.random_range(32u8..127)))
}

pub(crate) fn rand_numeric(a: &[Value]) -> R {
    random_from(arg_int(a, 0)?, |r| char::from(r.random_range(b'0'..=b'9')))
}

pub(crate) fn swapcase(a: &[Value]) -> R {
    let mut ws = true;
    let out: String = arg_str(a, 0)?
        .chars()
        .map(|c| {
            if is_upper(c) || is_title(c) {
                ws = false;
                to_lower(c)
            } else if is_lower(c) {
                if ws {
                    ws = false;
                    to_title(c)
                } else {
                    to_upper(c)
                }
            } else {
                ws = is_space(c);
                c
            }
        })
        .collect();
    s(out)
}

pub(crate) fn shuffle(a: &[Value]) -> R {
    let mut chars: Vec<char> = arg_str(a, 0)?.chars().collect();
    chars.shuffle(&mut rand::rng());
    s(chars.into_iter().collect::<String>())
}

/// xstrings v1.2.0 `camelCaseToLowerCase`, transcribed rune for rune.
fn camel_to_lower(st: &str, conn: char) -> String {
    let mut out = String::new();
    let mut it = st.chars().peekable();
    let mut r0 = conn;
    let err = char::REPLACEMENT_CHARACTER;
    while let Some(c) = it.next() {
        let prev = r0;
        r0 = c;
        if r0 == err {
            out.push(r0);
        } else if is_upper(r0) {
            if prev != conn && !prev.is_numeric() {
                out.push(conn);
            }
            out.push(to_lower(r0));
            let Some(n) = it.next() else { continue };
            r0 = n;
            if !is_upper(r0) {
                out.push(r0);
                continue;
            }
            for n in it.by_ref() {
                let r1 = r0;
                r0 = n;
                if r0 == err {
                    out.push(to_lower(r1));
                    out.push(r0);
                    break;
                }
                if !is_upper(r0) {
                    if r0 == '_' || r0 == ' ' || r0 == '-' {
                        r0 = conn;
                        out.push(to_lower(r1));
                    } else if r0.is_numeric() {
                        out.push(to_lower(r1));
                        out.push(conn);
                        out.push(r0);
                    } else {
                        out.push(conn);
                        out.push(to_lower(r1));
                        out.push(r0);
                    }
                    break;
                }
                out.push(to_lower(r1));
            }
            if it.peek().is_none() || r0 == conn {
                out.push(to_lower(r0));
            }
        } else if r0.is_numeric() {
            if prev != conn && !prev.is_numeric() {
                out.push(conn);
            }
            out.push(r0);
        } else {
            if r0 == ' ' || r0 == '-' || r0 == '_' {
                r0 = conn;
            }
            out.push(r0);
        }
    }
    out
}

pub(crate) fn snakecase(a: &[Value]) -> R {
    s(camel_to_lower(&arg_str(a, 0)?, '_'))
}

pub(crate) fn kebabcase(a: &[Value]) -> R {
    s(camel_to_lower(&arg_str(a, 0)?, '-'))
}

pub(crate) fn camelcase(a: &[Value]) -> R {
    let st = &*arg_str(a, 0)?;
    let mut out = String::new();
    let mut chars = st.chars();
    let mut r0 = '\0';
    let mut found = false;
    for c in chars.by_ref() {
        r0 = c;
        if c != '_' {
            found = true;
            break;
        }
        out.push(c);
    }
    // xstrings returns here when nothing follows the first non-underscore
    // rune, dropping that rune.
    if !found || chars.as_str().is_empty() {
        return s(out);
    }
    r0 = to_upper(r0);
    for c in chars {
        let r1 = r0;
        r0 = c;
        if r1 == '_' && r0 == '_' {
            out.push(r1);
            continue;
        }
        r0 = if r1 == '_' {
            to_upper(r0)
        } else {
            to_lower(r0)
        };
        if r1 != '_' {
            out.push(r1);
        }
    }
    out.push(r0);
    s(out)
}

/// goutils' `WrapCustom`, on bytes.
fn wrap_custom(b: &[u8], wrap_len: i64, nl: &[u8], long_words: bool) -> Result<Vec<u8>, FuncError> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let nl: &[u8] = if nl.is_empty() { b"\n" } else { nl };
    let wl = wrap_len.max(1) as usize;
    let len = b.len();
    let mut off = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while len - off > wl {
        if out.len() > MAX_OUTPUT {
            return Err(too_large("wrap"));
        }
        if b[off] == b' ' {
            off += 1;
            continue;
        }
        let end = (wl + off + 1).min(len);
        let space = b[off..end].iter().rposition(|c| *c == b' ');
        if let Some(sp) = space.map(|p| p + off) {
            out.extend_from_slice(&b[off..sp]);
            out.extend_from_slice(nl);
            off = sp + 1;
        } else if long_words {
            let end = wl + off;
            out.extend_from_slice(&b[off..end]);
            out.extend_from_slice(nl);
            off += wl;
        } else {
            let end = wl + off;
            match b[end..].iter().position(|c| *c == b' ') {
                None => {
                    out.extend_from_slice(&b[off..]);
                    off = len;
                }
                Some(i) => {
                    let sp = i + end;
                    out.extend_from_slice(&b[off..sp]);
                    out.extend_from_slice(nl);
                    off = sp + 1;
                }
            }
        }
    }
    out.extend_from_slice(&b[off..]);
    Ok(out)
}

pub(crate) fn wrap(a: &[Value]) -> R {
    sb(wrap_custom(arg_bytes(a, 1)?, arg_int(a, 0)?, b"", false)?)
}

pub(crate) fn wrap_with(a: &[Value]) -> R {
    sb(wrap_custom(
        arg_bytes(a, 2)?,
        arg_int(a, 0)?,
        arg_bytes(a, 1)?,
        true,
    )?)
}

pub(crate) fn contains(a: &[Value]) -> R {
    let sub = arg_bytes(a, 0)?;
    let st = arg_bytes(a, 1)?;
    b(sub.is_empty() || st.windows(sub.len()).any(|w| w == sub))
}

pub(crate) fn has_prefix(a: &[Value]) -> R {
    b(arg_bytes(a, 1)?.starts_with(arg_bytes(a, 0)?))
}

pub(crate) fn has_suffix(a: &[Value]) -> R {
    b(arg_bytes(a, 1)?.ends_with(arg_bytes(a, 0)?))
}

pub(crate) fn quote(a: &[Value]) -> R {
    let parts: Vec<Str> = a
        .iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| gofmt::sprintf_str(b"%q", &[Value::String(strval(v))]))
        .collect();
    sb(join_bytes(&parts, b" "))
}

pub(crate) fn squote(a: &[Value]) -> R {
    let parts: Vec<Str> = a
        .iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| {
            let mut q = b"'".to_vec();
            q.extend_from_slice(&crate::conv::fmt_v(v));
            q.push(b'\'');
            Str::from(q)
        })
        .collect();
    sb(join_bytes(&parts, b" "))
}

pub(crate) fn cat(a: &[Value]) -> R {
    let parts: Vec<Str> = a
        .iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(crate::conv::fmt_v)
        .collect();
    sb(join_bytes(&parts, b" "))
}

/// Go's `strings.Join` on byte strings.
fn join_bytes(parts: &[Str], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(p);
    }
    out
}

fn indent_str(spaces: i64, v: &[u8]) -> Result<Vec<u8>, FuncError> {
    if spaces < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    let lines = v.iter().filter(|b| **b == b'\n').count() as u128 + 1;
    if (spaces as u128) * lines + v.len() as u128 > MAX_OUTPUT as u128 {
        return Err(too_large("indent"));
    }
    let pad = b" ".repeat(spaces as usize);
    let mut out = pad.clone();
    for &c in v {
        out.push(c);
        if c == b'\n' {
            out.extend_from_slice(&pad);
        }
    }
    Ok(out)
}

pub(crate) fn indent(a: &[Value]) -> R {
    sb(indent_str(arg_int(a, 0)?, arg_bytes(a, 1)?)?)
}

pub(crate) fn nindent(a: &[Value]) -> R {
    let mut out = b"\n".to_vec();
    out.extend(indent_str(arg_int(a, 0)?, arg_bytes(a, 1)?)?);
    sb(out)
}

/// Go's `strings.Replace(src, old, new, -1)` on bytes (an empty `old` matches
/// before every rune, each byte of invalid UTF-8 being one rune, and at the
/// end).
pub(crate) fn go_replace_all(src: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    if old.is_empty() {
        out.extend_from_slice(new);
        for (lo, hi, _) in go_runes(src) {
            out.extend_from_slice(&src[lo..hi]);
            out.extend_from_slice(new);
        }
        return out;
    }
    let mut i = 0;
    while i < src.len() {
        if src[i..].starts_with(old) {
            out.extend_from_slice(new);
            i += old.len();
        } else {
            out.push(src[i]);
            i += 1;
        }
    }
    out
}

/// Non-overlapping occurrences of a non-empty `pat` in `s`.
fn count_bytes(s: &[u8], pat: &[u8]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i + pat.len() <= s.len() {
        if s[i..].starts_with(pat) {
            n += 1;
            i += pat.len();
        } else {
            i += 1;
        }
    }
    n
}

pub(crate) fn replace(a: &[Value]) -> R {
    let old = arg_bytes(a, 0)?;
    let new = arg_bytes(a, 1)?;
    let src = arg_bytes(a, 2)?;
    let hits = if old.is_empty() {
        go_runes(src).len() + 1
    } else {
        count_bytes(src, old)
    };
    if (hits as u128) * (new.len() as u128) + src.len() as u128 > MAX_OUTPUT as u128 {
        return Err(too_large("replace"));
    }
    sb(go_replace_all(src, old, new))
}

pub(crate) fn plural(a: &[Value]) -> R {
    let one = arg_bytes(a, 0)?;
    let many = arg_bytes(a, 1)?;
    sb(if arg_int(a, 2)? == 1 { one } else { many })
}

pub(crate) fn to_string(a: &[Value]) -> R {
    sb(strval(arg(a, 0)?))
}

/// Go's `strings.SplitN` on bytes (`n < 0`: all parts; an empty `sep`
/// splits into runes, each byte of invalid UTF-8 being one).
pub(crate) fn go_split_n(st: &[u8], sep: &[u8], n: i64) -> Vec<Str> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let runes = go_runes(st);
        let limit = if n < 0 || n as usize > runes.len() {
            runes.len()
        } else {
            n as usize
        };
        let mut out: Vec<Str> = Vec::with_capacity(limit);
        for (i, (lo, hi, _)) in runes.iter().enumerate() {
            if i + 1 == limit && limit < runes.len() {
                out.push(Str::from(&st[*lo..]));
                break;
            }
            out.push(Str::from(&st[*lo..*hi]));
        }
        return out;
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= st.len() {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        if st[i..].starts_with(sep) {
            out.push(Str::from(&st[start..i]));
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(Str::from(&st[start..]));
    out
}

fn indexed_map(parts: Vec<Str>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::String(p)))
        .collect();
    Value::map(Type::String, entries)
}

pub(crate) fn split(a: &[Value]) -> R {
    Ok(indexed_map(go_split_n(
        arg_bytes(a, 1)?,
        arg_bytes(a, 0)?,
        -1,
    )))
}

pub(crate) fn split_list(a: &[Value]) -> R {
    Ok(list_gostr(go_split_n(
        arg_bytes(a, 1)?,
        arg_bytes(a, 0)?,
        -1,
    )))
}

pub(crate) fn splitn(a: &[Value]) -> R {
    let sep = arg_bytes(a, 0)?;
    let n = arg_int(a, 1)?;
    Ok(indexed_map(go_split_n(arg_bytes(a, 2)?, sep, n)))
}

/// Sprig's `strslice`.
pub(crate) fn strslice(v: &Value) -> Vec<Str> {
    match v {
        Value::Slice(sl) if sl.elem == Type::String => sl.items().iter().map(strval).collect(),
        Value::Nil => Vec::new(),
        other => match list_items(other) {
            Some(items) => items
                .iter()
                .filter(|x| !matches!(x, Value::Nil))
                .map(strval)
                .collect(),
            None => vec![strval(other)],
        },
    }
}

pub(crate) fn to_strings(a: &[Value]) -> R {
    let v = arg(a, 0)?;
    if is_string_slice(v) {
        // `strslice` returns a `[]string` as it is: the same slice.
        return Ok(v.clone());
    }
    let cap = strslice_cap(v);
    let items = strslice(v);
    Ok(list_with_cap(
        Type::String,
        items.into_iter().map(Value::String).collect(),
        cap,
    ))
}

/// The capacity of sprig's `strslice` result: a `[]string` is returned as
/// is, other lists go through `make([]string, 0, len)`.
fn strslice_cap(v: &Value) -> usize {
    match v {
        Value::Slice(s) if s.elem == Type::String => s.cap(),
        Value::Slice(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Nil | Value::NilSlice(_) | Value::NilBytes => 0,
        _ => 1,
    }
}

pub(crate) fn join(a: &[Value]) -> R {
    let sep = arg_bytes(a, 0)?;
    sb(join_bytes(&strslice(arg(a, 1)?), sep))
}

/// Whether `v` is a `[]string` (nil or not), which sprig's `strslice`
/// returns as it is.
fn is_string_slice(v: &Value) -> bool {
    match v {
        Value::Slice(s) => s.elem == Type::String,
        Value::NilSlice(e) => *e == Type::String,
        _ => false,
    }
}

pub(crate) fn sort_alpha(a: &[Value]) -> R {
    let v = arg(a, 0)?;
    if is_string_slice(v) {
        // `strslice` gives the argument itself, and `sort.Strings` sorts its
        // backing array in place: every holder of the slice sees the order.
        if let Value::Slice(s) = v {
            s.update(|items| {
                items.sort_by(|x, y| match (x, y) {
                    (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
                    _ => std::cmp::Ordering::Equal,
                });
            });
        }
        return Ok(v.clone());
    }
    let inner = match v {
        Value::Ptr(p) => &**p,
        other => other,
    };
    if list_items(inner).is_some() {
        let cap = strslice_cap(inner);
        let mut items = strslice(v);
        items.sort();
        return Ok(list_with_cap(
            Type::String,
            items.into_iter().map(Value::String).collect(),
            cap,
        ));
    }
    Ok(list_gostr(vec![strval(v)]))
}

// ---- path ----

/// Go's `path.Clean`.
pub(crate) fn path_clean(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p.starts_with(b"/");
    let mut out: Vec<&[u8]> = Vec::new();
    for part in p.split(|c| *c == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.last().is_some_and(|l| *l != b"..") {
                    out.pop();
                } else if !rooted {
                    out.push(b"..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

pub(crate) fn base(a: &[Value]) -> R {
    let p = arg_bytes(a, 0)?;
    if p.is_empty() {
        return s(".");
    }
    let end = p.iter().rposition(|c| *c != b'/').map_or(0, |i| i + 1);
    let trimmed = &p[..end];
    if trimmed.is_empty() {
        return s("/");
    }
    let start = trimmed
        .iter()
        .rposition(|c| *c == b'/')
        .map_or(0, |i| i + 1);
    sb(&trimmed[start..])
}

pub(crate) fn dir(a: &[Value]) -> R {
    let p = arg_bytes(a, 0)?;
    let d = match p.iter().rposition(|c| *c == b'/') {
        Some(i) => &p[..=i],
        None => b"",
    };
    sb(path_clean(d))
}

pub(crate) fn clean(a: &[Value]) -> R {
    sb(path_clean(arg_bytes(a, 0)?))
}

pub(crate) fn ext(a: &[Value]) -> R {
    let p = arg_bytes(a, 0)?;
    for i in (0..p.len()).rev() {
        if p[i] == b'/' {
            break;
        }
        if p[i] == b'.' {
            return sb(&p[i..]);
        }
    }
    s("")
}

pub(crate) fn is_abs(a: &[Value]) -> R {
    b(arg_str(a, 0)?.starts_with('/'))
}

// ---- os ----

fn getenv(name: &str) -> String {
    std::env::var_os(name)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn env(a: &[Value]) -> R {
    s(getenv(&arg_str(a, 0)?))
}

fn is_shell_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `os.getShellName`.
fn shell_name(s: &[u8]) -> (&[u8], usize) {
    if s[0] == b'{' {
        if s.len() > 2 && is_shell_special(s[1]) && s[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..s.len() {
            if s[i] == b'}' {
                if i == 1 {
                    return (&[], 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return (&[], 1);
    }
    if is_shell_special(s[0]) {
        return (&s[0..1], 1);
    }
    let n = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

/// Go's `os.Expand`.
pub(crate) fn expand(st: &str, mapping: impl Fn(&str) -> String) -> String {
    let b = st.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut j = 0;
    let mut changed = false;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            changed = true;
            out.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&b[j + 1..]);
            if name.is_empty() && w > 0 {
            } else if name.is_empty() {
                out.push(b'$');
            } else {
                out.extend_from_slice(mapping(&String::from_utf8_lossy(name)).as_bytes());
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    if !changed {
        return st.to_string();
    }
    if i < b.len() {
        out.extend_from_slice(&b[i..]);
    }
    crate::conv::bytes_to_string(&out)
}

pub(crate) fn expandenv(a: &[Value]) -> R {
    s(expand(&arg_str(a, 0)?, getenv))
}
