//! What a plain (unquoted, untagged) scalar means.
//!
//! [`resolve_plain`] follows go-yaml v2 (`resolve.go`, the fork vendored as
//! `sigs.k8s.io/yaml/goyaml.v2`), which is what kubectl, client-go and so
//! Kanister use. Its rules, in order:
//! - the empty string, `~`, `null`, `Null`, `NULL` are null;
//! - `y Y yes Yes YES true True TRUE on On ON` are true, `n N no No NO false
//!   False FALSE off Off OFF` are false;
//! - `.inf`, `+.inf`, `-.inf`, `.nan` (each also `.Inf`/`.INF`, `.NaN`/`.NAN`)
//!   are floats;
//! - a scalar starting with `.` is a float if Go's `strconv.ParseFloat` takes it;
//! - a scalar starting with a digit or a sign, with every `_` removed, is an
//!   integer if Go's `strconv.ParseInt(s, 0, 64)` takes it (so `0400` is octal
//!   256, `0o400` 256, `0x1F` 31, `0b1010` 10, `1_000` 1000), else an unsigned
//!   integer if `ParseUint(s, 0, 64)` does, else a float if it has the shape
//!   `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` and is in range,
//!   else a binary integer after `0b`/`-0b`;
//! - everything else is a string: there are no sexagesimal numbers (`1:20` is
//!   the string "1:20"; go-yaml dropped them on purpose), and timestamps stay
//!   the strings they are written as (go-yaml v2 keeps them as strings when
//!   decoding into `interface{}`, as sigs.k8s.io/yaml does).
//!
//! [`resolve_core12`] is the YAML 1.2 core schema, used only to say where the
//! two readings differ.

/// The value of a scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    /// null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (Go `int`).
    Int(i64),
    /// An unsigned integer above `i64::MAX` (Go `uint64`).
    Uint(u64),
    /// A float (Go `float64`), possibly infinite or NaN.
    Float(f64),
    /// A string: the scalar's own text.
    Str,
}

/// The broad type of a scalar, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// null.
    Null,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A float.
    Float,
    /// A string.
    Str,
}

impl ScalarType {
    /// "a boolean", "an integer", ...: for "expected X, found Y" messages.
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

impl Resolved {
    /// The broad type.
    pub fn scalar_type(self) -> ScalarType {
        match self {
            Resolved::Null => ScalarType::Null,
            Resolved::Bool(_) => ScalarType::Bool,
            Resolved::Int(_) | Resolved::Uint(_) => ScalarType::Int,
            Resolved::Float(_) => ScalarType::Float,
            Resolved::Str => ScalarType::Str,
        }
    }
}

/// A plain scalar as go-yaml v2 resolves it (see the module docs).
pub fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    if first == b'.' {
        return match go_parse_decimal_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        };
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Resolved::Str;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Resolved::Int(i);
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Resolved::Uint(u);
    }
    if yaml_style_float(&plain)
        && let Some(f) = go_parse_decimal_float(&plain)
    {
        return Resolved::Float(f);
    }
    // Go's `ParseInt(s, 2, 64)` takes a sign, `ParseUint` does not.
    if let Some(bin) = plain.strip_prefix("0b") {
        if let Ok(i) = i64::from_str_radix(bin, 2) {
            return Resolved::Int(i);
        }
        if !bin.starts_with('+')
            && let Ok(u) = u64::from_str_radix(bin, 2)
        {
            return Resolved::Uint(u);
        }
    } else if let Some(bin) = plain.strip_prefix("-0b")
        && let Ok(i) = i64::from_str_radix(&format!("-{bin}"), 2)
    {
        return Resolved::Int(i);
    }
    Resolved::Str
}

/// A plain scalar under the YAML 1.2 core schema.
pub fn resolve_core12(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let int = |digits: &str, radix: u32, neg: bool| -> Resolved {
        match u64::from_str_radix(digits, radix) {
            Ok(u) if neg => match i64::try_from(u) {
                Ok(i) => Resolved::Int(-i),
                Err(_) if u == i64::MIN.unsigned_abs() => Resolved::Int(i64::MIN),
                Err(_) => Resolved::Float(-(u as f64)),
            },
            Ok(u) => match i64::try_from(u) {
                Ok(i) => Resolved::Int(i),
                Err(_) => Resolved::Uint(u),
            },
            Err(_) => match digits.parse::<f64>() {
                Ok(f) if radix == 10 => Resolved::Float(if neg { -f } else { f }),
                _ => Resolved::Str,
            },
        }
    };
    if let Some(oct) = s.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return int(oct, 8, false);
        }
        return Resolved::Str;
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return int(hex, 16, false);
        }
        return Resolved::Str;
    }
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return int(digits, 10, neg);
    }
    if yaml_style_float(s)
        && let Ok(f) = s.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml v2's
/// `yamlStyleFloat`, also the YAML 1.2 core float shape).
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)` for a string without underscores: an
/// optional sign, then `0x`/`0o`/`0b` (any case) or a leading `0` (octal).
pub(crate) fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(body)?;
    if neg {
        if u == i64::MIN.unsigned_abs() {
            Some(i64::MIN)
        } else {
            i64::try_from(u).ok().map(|i| -i)
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` for a string without underscores (no
/// sign accepted).
pub(crate) fn go_parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (radix, digits) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if digits.is_empty() {
        // "0": the prefix alone is zero, as in Go.
        return (radix == 8).then_some(0);
    }
    if !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` restricted to decimal forms (no hex, no
/// `inf`/`nan` words): digits may be separated by single underscores as in Go
/// literals; out of range (±Inf) is an error, as in Go.
pub(crate) fn go_parse_decimal_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let mut mantissa_digits = 0;
    let mut seen_dot = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => mantissa_digits += 1,
            b'_' => {}
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let mut exp_digits = 0;
        while let Some(&c) = b.get(i) {
            match c {
                b'0'..=b'9' => exp_digits += 1,
                b'_' => {}
                _ => break,
            }
            i += 1;
        }
        if exp_digits == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let f: f64 = clean.parse().ok()?;
    f.is_finite().then_some(f)
}

/// Go's `strconv.underscoreOK` for a decimal number: every `_` between digits.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    // '^' start, '0' digit, '_' underscore, '!' other.
    let mut saw = '^';
    for c in s.chars() {
        if c.is_ascii_digit() {
            saw = '0';
        } else if c == '_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
    }
    saw != '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_yaml_v2_table() {
        use Resolved::*;
        let cases: &[(&str, Resolved)] = &[
            ("", Null),
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("nULL", Str),
            ("yes", Bool(true)),
            ("Yes", Bool(true)),
            ("YES", Bool(true)),
            ("yEs", Str),
            ("y", Bool(true)),
            ("n", Bool(false)),
            ("on", Bool(true)),
            ("ON", Bool(true)),
            ("off", Bool(false)),
            ("no", Bool(false)),
            ("true", Bool(true)),
            ("False", Bool(false)),
            ("0400", Int(256)),
            ("0o400", Int(256)),
            ("0O400", Int(256)),
            ("0x1F", Int(31)),
            ("0X1f", Int(31)),
            ("+0x1F", Int(31)),
            ("-0x1F", Int(-31)),
            ("0b1010", Int(10)),
            ("-0b1010", Int(-10)),
            ("1_000", Int(1000)),
            ("1__0", Int(10)),
            ("0", Int(0)),
            ("-0", Int(0)),
            ("+5", Int(5)),
            ("08", Float(8.0)),
            ("0400.5", Float(400.5)),
            ("09.5", Float(9.5)),
            ("1.0", Float(1.0)),
            ("1.", Float(1.0)),
            ("1e3", Float(1000.0)),
            ("1E+3", Float(1000.0)),
            ("-1.5e-3", Float(-0.0015)),
            (".5", Float(0.5)),
            (".5_5", Float(0.55)),
            ("._5", Str),
            (".", Str),
            ("1_0.5", Float(10.5)),
            ("1e400", Str),
            ("1e-400", Float(0.0)),
            ("9223372036854775807", Int(i64::MAX)),
            ("-9223372036854775808", Int(i64::MIN)),
            ("9223372036854775808", Uint(9223372036854775808)),
            ("18446744073709551615", Uint(u64::MAX)),
            ("18446744073709551616", Float(18446744073709551616.0)),
            ("0xFFFFFFFFFFFFFFFF", Uint(u64::MAX)),
            ("1:20", Str),
            ("190:20:30", Str),
            ("2001-12-14", Str),
            ("0x", Str),
            ("0b", Str),
            ("0o", Str),
            ("0b102", Str),
            ("0b+1", Int(1)),
            ("0b-1", Int(-1)),
            ("-0b-1", Str),
            ("089", Float(89.0)),
            ("0x1p3", Str),
            ("inf", Str),
            ("+inf", Str),
            ("Infinity", Str),
            ("-", Str),
            ("+", Str),
            ("1-2", Str),
            ("12abc", Str),
            ("1 000", Str),
            ("_1000", Str),
            ("<<", Str),
            ("hello", Str),
        ];
        for (text, want) in cases {
            let got = resolve_plain(text);
            assert!(same(got, *want), "{text:?}: got {got:?}, want {want:?}");
        }
        assert!(matches!(resolve_plain(".nan"), Float(f) if f.is_nan()));
        assert_eq!(resolve_plain("-.Inf"), Float(f64::NEG_INFINITY));
        assert_eq!(resolve_plain("+.INF"), Float(f64::INFINITY));
    }

    #[test]
    fn core12_table() {
        use Resolved::*;
        let cases: &[(&str, Resolved)] = &[
            ("0400", Int(400)),
            ("0o400", Int(256)),
            ("0x1F", Int(31)),
            ("+0x1F", Str),
            ("0b1010", Str),
            ("1_000", Str),
            ("yes", Str),
            ("on", Str),
            ("true", Bool(true)),
            ("1.0", Float(1.0)),
            ("1e3", Float(1000.0)),
            ("1:20", Str),
            ("08", Int(8)),
            ("-12", Int(-12)),
            ("~", Null),
        ];
        for (text, want) in cases {
            let got = resolve_core12(text);
            assert!(same(got, *want), "{text:?}: got {got:?}, want {want:?}");
        }
    }

    fn same(a: Resolved, b: Resolved) -> bool {
        match (a, b) {
            (Resolved::Float(x), Resolved::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
            _ => a == b,
        }
    }
}
