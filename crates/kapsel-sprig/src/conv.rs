//! Shared conversions: argument access, sprig's `strval`/`toInt64`/`toFloat64`/
//! `empty`, reflection-style list access and Go's `reflect.DeepEqual`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_govalue::{FuncError, Map, Slice, Str, Type, Value, gofmt, gotime};

/// Go's message for calling a method on a nil `reflect.Type` (what
/// `reflect.TypeOf(nil).Kind()` panics with).
pub(crate) const NIL_DEREF: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// Largest string or list a function may build (Go would try and run out of
/// memory; Kapsel reports an error instead).
pub(crate) const MAX_OUTPUT: usize = 1 << 28;

/// The error for outputs beyond [`MAX_OUTPUT`].
pub(crate) fn too_large(what: &str) -> FuncError {
    FuncError::new(format!(
        "kapsel: {what} result would exceed {MAX_OUTPUT} elements"
    ))
}

/// An argument the engine should have converted but did not: an internal error,
/// never a panic.
pub(crate) fn bad_arg(i: usize, want: &str, got: &Value) -> FuncError {
    FuncError::new(format!(
        "kapsel-sprig: argument {} should be {want}, got {}",
        i + 1,
        type_name(got)
    ))
}

/// The argument at `i`, or an internal error.
pub(crate) fn arg(args: &[Value], i: usize) -> Result<&Value, FuncError> {
    args.get(i)
        .ok_or_else(|| FuncError::new(format!("kapsel-sprig: missing argument {}", i + 1)))
}

/// A `string` argument as text: each byte of invalid UTF-8 becomes U+FFFD, as
/// when Go ranges over the string (right for functions that work on runes; see
/// [`arg_bytes`] for the others).
pub(crate) fn arg_str(args: &[Value], i: usize) -> Result<Cow<'_, str>, FuncError> {
    match arg(args, i)? {
        Value::String(s) => Ok(s.to_str_lossy()),
        other => Err(bad_arg(i, "string", other)),
    }
}

/// A `string` argument as Go's bytes.
pub(crate) fn arg_bytes(args: &[Value], i: usize) -> Result<&[u8], FuncError> {
    match arg(args, i)? {
        Value::String(s) => Ok(s.as_bytes()),
        other => Err(bad_arg(i, "string", other)),
    }
}

/// An `int` argument (`int64` and `int` both accepted).
pub(crate) fn arg_int(args: &[Value], i: usize) -> Result<i64, FuncError> {
    match arg(args, i)? {
        Value::Int(n) | Value::Int64(n) => Ok(*n),
        other => Err(bad_arg(i, "int", other)),
    }
}

/// A `bool` argument.
pub(crate) fn arg_bool(args: &[Value], i: usize) -> Result<bool, FuncError> {
    match arg(args, i)? {
        Value::Bool(b) => Ok(*b),
        other => Err(bad_arg(i, "bool", other)),
    }
}

/// A `time.Time` argument.
pub(crate) fn arg_time(args: &[Value], i: usize) -> Result<&kapsel_govalue::GoTime, FuncError> {
    match arg(args, i)? {
        Value::Time(t) => Ok(t),
        other => Err(bad_arg(i, "time.Time", other)),
    }
}

/// A `map[string]interface{}` argument; `None` for a nil map.
pub(crate) fn arg_map(args: &[Value], i: usize) -> Result<Option<&Arc<Map>>, FuncError> {
    match arg(args, i)? {
        Value::Map(m) => Ok(Some(m)),
        Value::NilMap(_) | Value::Nil => Ok(None),
        other => Err(bad_arg(i, "map[string]interface {}", other)),
    }
}

/// The entries of a `map[string]interface{}` argument (empty for nil).
pub(crate) fn map_entries(args: &[Value], i: usize) -> Result<BTreeMap<String, Value>, FuncError> {
    Ok(arg_map(args, i)?.map(|m| m.snapshot()).unwrap_or_default())
}

/// A `map[string]interface{}` result.
pub(crate) fn map_any(entries: BTreeMap<String, Value>) -> Value {
    Value::map(Type::Any, entries)
}

/// A `[]interface{}` result.
pub(crate) fn list_any(items: Vec<Value>) -> Value {
    Value::slice(Type::Any, items)
}

/// A `[]string` result from Go strings.
pub(crate) fn list_gostr(items: Vec<Str>) -> Value {
    Value::slice(Type::String, items.into_iter().map(Value::String).collect())
}

/// A `[]string` result.
pub(crate) fn list_str(items: Vec<String>) -> Value {
    Value::slice(Type::String, items.into_iter().map(Value::from).collect())
}

/// A `[]int` result built by `append`ing one element at a time (Go's
/// capacity, see [`kapsel_govalue::append_cap`]).
pub(crate) fn list_int(items: Vec<i64>) -> Value {
    Value::appended(Type::Int, items.into_iter().map(Value::Int).collect())
}

/// A `[]interface{}` result built by `append`ing one element at a time to an
/// empty slice (Go's capacity).
pub(crate) fn list_any_appended(items: Vec<Value>) -> Value {
    Value::appended(Type::Any, items)
}

/// A `[]T` result with capacity `cap` (Go's `make([]T, 0, cap)` then
/// appends).
pub(crate) fn list_with_cap(elem: Type, items: Vec<Value>, cap: usize) -> Value {
    Value::Slice(Arc::new(Slice::with_cap(elem, items, cap, Vec::new())))
}

/// Go's `%T`: the dynamic type's name, `<nil>` for a nil interface.
pub(crate) fn type_name(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".to_string(),
        other => other.type_of().to_string(),
    }
}

/// Go's `reflect.Kind` name of the value's dynamic type (`invalid` for nil).
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Uint8(_) => "uint8",
        Value::Float(_) => "float64",
        Value::Complex(..) => "complex128",
        Value::String(_) => "string",
        Value::Bytes(_) | Value::NilBytes | Value::Slice(_) | Value::NilSlice(_) => "slice",
        Value::Map(_) | Value::NilMap(_) => "map",
        Value::Struct(_) | Value::Time(_) => "struct",
        Value::Ptr(_) | Value::NilPtr(_) => "ptr",
    }
}

/// Is this the `*semver.Version` value built by `semver`?
pub(crate) fn semver_string(v: &Value) -> Option<String> {
    let Value::Ptr(inner) = v else { return None };
    let Value::Struct(s) = &**inner else {
        return None;
    };
    if s.ty.name != crate::semver::TYPE_NAME {
        return None;
    }
    crate::semver::version_string(s)
}

/// `fmt.Sprintf("%v", v)`, calling the `String()` of values whose Go type has
/// one but which Kapsel models as plain data (`*semver.Version`).
pub(crate) fn fmt_v(v: &Value) -> Str {
    match semver_string(v) {
        Some(s) => s.into(),
        None => gofmt::format_v_str(v),
    }
}

/// Sprig's `strval`: strings as is, `[]byte` as text, `Stringer`s (`time.Time`,
/// `*semver.Version`) by their `String()`, everything else by `%v`. Go's bytes.
pub(crate) fn strval(v: &Value) -> Str {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => Str::from(&b[..]),
        Value::NilBytes => Str::default(),
        Value::Time(t) => gotime::to_string(t).into(),
        Value::Ptr(inner) => match &**inner {
            Value::Time(t) => gotime::to_string(t).into(),
            _ => fmt_v(v),
        },
        other => fmt_v(other),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
pub(crate) fn parse_int10(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go's `strconv` `underscoreOK`: underscores only between digits.
fn underscore_ok(s: &[u8]) -> bool {
    let s = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)`, `None` on any error (syntax or range).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    // special values: [+-]inf, [+-]infinity, nan (case-insensitive)
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if unsigned == "inf" || unsigned == "infinity" {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    // readFloat's syntax
    let mut i = 0;
    let mut neg = false;
    if let Some(c @ (b'+' | b'-')) = b.first() {
        neg = *c == b'-';
        i = 1;
    }
    let hex = i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x');
    if hex {
        i += 2;
    }
    let mut digits = String::new();
    let (mut sawdot, mut sawdigits, mut underscores) = (false, false, false);
    let mut frac_digits: i64 = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if sawdot {
                break;
            }
            sawdot = true;
        } else if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            sawdigits = true;
            digits.push(char::from(c));
            if sawdot {
                frac_digits += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !sawdigits {
        return None;
    }
    let exp_char = if hex { b'p' } else { b'e' };
    let mut exp: i64 = 0;
    if i < b.len() && b[i].to_ascii_lowercase() == exp_char {
        i += 1;
        let mut esign = 1;
        if let Some(c @ (b'+' | b'-')) = b.get(i) {
            esign = if *c == b'-' { -1 } else { 1 };
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' {
                underscores = true;
            } else if exp < 10_000 {
                exp = exp * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        exp *= esign;
    } else if hex {
        return None;
    }
    if i != b.len() || underscores && !underscore_ok(&b[..i]) {
        return None;
    }
    let value = if hex {
        let mut mant = 0f64;
        for d in digits.chars() {
            mant = mant * 16.0 + f64::from(d.to_digit(16)?);
        }
        mant * 2f64.powi((exp - 4 * frac_digits).clamp(-5000, 5000) as i32)
    } else {
        let clean: String = s.chars().filter(|c| *c != '_').collect();
        clean.parse::<f64>().ok()?
    };
    if value.is_infinite() {
        return None;
    }
    Some(if neg && hex { -value } else { value })
}

/// Go's `int64(f)` conversion as amd64 performs it (out of range and NaN give
/// the minimum int64).
pub(crate) fn f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Sprig's `toInt64`.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::String(s) => parse_int10(&s.to_str_lossy()).unwrap_or(0),
        Value::Ptr(inner) => match &**inner {
            Value::String(_) => 0,
            other => to_int64(other),
        },
        Value::Int(n) | Value::Int64(n) => *n,
        Value::Uint8(n) => i64::from(*n),
        Value::Float(f) => f64_to_i64(*f),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// Sprig's `toFloat64`.
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::String(s) => parse_float(&s.to_str_lossy()).unwrap_or(0.0),
        Value::Ptr(inner) => match &**inner {
            Value::String(_) => 0.0,
            other => to_float64(other),
        },
        Value::Int(n) | Value::Int64(n) => *n as f64,
        Value::Uint8(n) => f64::from(*n),
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Sprig's `empty`: nil, zero numbers, false, empty strings/maps/slices and nil
/// pointers are empty; structs never are.
pub(crate) fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(n) | Value::Int64(n) => *n == 0,
        Value::Uint8(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        Value::Complex(re, im) => *re == 0.0 && *im == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_) => true,
        Value::Slice(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Struct(_) | Value::Time(_) | Value::Ptr(_) => false,
    }
}

/// Go's `reflect.DeepEqual`.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    a == b
}

/// The elements of a slice value, as `reflect.Value.Index(i).Interface()` gives
/// them; `None` when the value is not a slice (or is nil: `reflect.TypeOf(nil)`).
pub(crate) fn list_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Slice(s) => Some(s.items()),
        Value::NilSlice(_) | Value::NilBytes => Some(Vec::new()),
        // uint8 elements: Kapsel has no uint8 value and uses int.
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Uint8(*x)).collect()),
        _ => None,
    }
}

/// Like [`list_items`], but with Go's panic for non-lists: `Cannot <what> on type
/// <kind>` (or the nil-pointer panic for a nil argument).
pub(crate) fn list_or_panic(
    v: &Value,
    msg: impl Fn(&str) -> String,
) -> Result<Vec<Value>, FuncError> {
    match v {
        Value::Nil => Err(FuncError::new(NIL_DEREF)),
        other => list_items(other).ok_or_else(|| FuncError::new(msg(kind_name(other)))),
    }
}

/// Where the stand-ins for invalid bytes start (Supplementary Private Use
/// Area-B; byte `b` is `STAND_IN + b`, for `b >= 0x80`).
pub(crate) const STAND_IN: u32 = 0x10_FE00;

/// Go's bytes as text for code that works on `str` but must keep Go's
/// bytes (URL parsing, regular expressions): valid UTF-8 as it is, each byte
/// of an invalid sequence as a private-use stand-in (see [`to_bytes`]). The
/// stand-in is one character, as Go's `utf8.DecodeRune` makes an invalid byte
/// one `RuneError` of width 1 (a regex `.` matches it, `[^a]` too).
pub(crate) fn to_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for &x in chunk.invalid() {
            out.push(char::from_u32(STAND_IN + u32::from(x)).unwrap_or('\u{FFFD}'));
        }
    }
    out
}

/// The bytes that [`to_text`] made `s` from.
pub(crate) fn to_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match u32::from(c).checked_sub(STAND_IN) {
            Some(b @ 0x80..=0xFF) => out.push(b as u8),
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// Converts Go string bytes to a Kapsel string. Kapsel strings are UTF-8, so
/// each byte of an invalid sequence becomes U+FFFD, as Go's `encoding/json`
/// (and so the Kubernetes API) would write it.
pub(crate) fn bytes_to_string(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    out
}

/// Go's `unicode.IsSpace`.
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    ) || (c as u32 > 0xFF && c.is_whitespace())
}

/// Greek letters with ypogegrammeni: their full uppercase mapping has two
/// characters, their simple (Go) one is the titlecase letter.
fn greek_iota_upper(c: char) -> Option<char> {
    let u = c as u32;
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return None,
    };
    char::from_u32(mapped)
}

/// Go's `unicode.ToUpper` (simple one-to-one case mapping).
pub(crate) fn to_upper(c: char) -> char {
    if let Some(u) = greek_iota_upper(c) {
        return u;
    }
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` (simple one-to-one case mapping).
pub(crate) fn to_lower(c: char) -> char {
    if c == '\u{130}' {
        // İ: simple lowercase mapping is i.
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`.
pub(crate) fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        _ => to_upper(c),
    }
}

/// Letters and symbols with Unicode's Other_Uppercase / Other_Lowercase
/// property: Rust counts them as upper/lower case, Go (category Lu/Ll) does not.
fn other_case(c: char) -> bool {
    matches!(c as u32,
        0xAA | 0xBA | 0x2B0..=0x2B8 | 0x2C0..=0x2C1 | 0x2E0..=0x2E4 | 0x345 | 0x37A
        | 0x10FC | 0x1D2C..=0x1D6A | 0x1D78 | 0x1D9B..=0x1DBF | 0x2071 | 0x207F
        | 0x2090..=0x209C | 0x2160..=0x217F | 0x24B6..=0x24E9 | 0x2C7C..=0x2C7D
        | 0xA69C..=0xA69D | 0xA770 | 0xA7F2..=0xA7F4 | 0xA7F8..=0xA7F9 | 0xAB5C..=0xAB5F
        | 0xAB69 | 0x10780 | 0x10783..=0x10785 | 0x10787..=0x107B0 | 0x107B2..=0x107BA
        | 0x1E030..=0x1E06D | 0x1F130..=0x1F149 | 0x1F150..=0x1F169 | 0x1F170..=0x1F189)
}

/// Go's `unicode.IsUpper` (category Lu).
pub(crate) fn is_upper(c: char) -> bool {
    c.is_uppercase() && !is_title(c) && !other_case(c)
}

/// Go's `unicode.IsLower`.
pub(crate) fn is_lower(c: char) -> bool {
    c.is_lowercase() && !other_case(c)
}

/// Go's `unicode.IsTitle`.
pub(crate) fn is_title(c: char) -> bool {
    matches!(
        c,
        '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}' | '\u{1F88}'..='\u{1F8F}'
            | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}' | '\u{1FBC}' | '\u{1FCC}'
            | '\u{1FFC}'
    )
}

/// Maps a character-per-byte string (Latin-1 view of Go's byte loops).
pub(crate) fn latin1(bytes: impl IntoIterator<Item = u8>) -> String {
    bytes.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bytes_survive_text_stand_ins() {
        let cases: &[&[u8]] = &[
            b"",
            b"plain",
            "héllo".as_bytes(),
            b"a\xc3b",
            b"\xff\xfe",
            b"\xe6\x97,\xa5",
        ];
        for b in cases {
            let t = to_text(b);
            assert_eq!(to_bytes(&t), *b, "{b:?}");
            // One character per invalid byte, as Go decodes it.
            assert_eq!(t.chars().count(), decode_lossy_count(b), "{b:?}");
        }
        assert_eq!(to_text("é".as_bytes()), "é");
    }

    fn decode_lossy_count(b: &[u8]) -> usize {
        kapsel_govalue::decode_lossy(b).chars().count()
    }
}
