//! The parts of Go's `strconv` the template parser relies on: `Unquote`,
//! `UnquoteChar`, and base-0 `ParseInt`/`ParseUint`/`ParseFloat`.

/// The result of one `UnquoteChar`: a rune, or a raw byte from `\x`/octal
/// escapes inside a double-quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A Unicode scalar value (or a `\x`/octal value used as a rune).
    Rune(u32, bool),
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape of `s`.
/// Returns the value, whether it must be written as UTF-8 (multibyte), and the tail.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(Unit, &str), ()> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(())?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(());
    }
    if !c.is_ascii() {
        return Ok((Unit::Rune(c as u32, true), chars.as_str()));
    }
    if c != '\\' {
        return Ok((Unit::Rune(c as u32, false), chars.as_str()));
    }
    let b = s.as_bytes();
    if b.len() <= 1 {
        return Err(());
    }
    let e = b[1] as char;
    let rest = s.get(2..).ok_or(())?;
    let simple = |v: char| Ok((Unit::Rune(v as u32, false), rest));
    match e {
        'a' => simple('\x07'),
        'b' => simple('\x08'),
        'f' => simple('\x0c'),
        'n' => simple('\n'),
        'r' => simple('\r'),
        't' => simple('\t'),
        'v' => simple('\x0b'),
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).ok_or(())?;
            let mut v: u32 = 0;
            for d in digits.chars() {
                v = v.checked_mul(16).ok_or(())? + d.to_digit(16).ok_or(())?;
            }
            let tail = rest.get(n..).ok_or(())?;
            if e == 'x' {
                return Ok((Unit::Rune(v, false), tail));
            }
            if char::from_u32(v).is_none() {
                return Err(());
            }
            Ok((Unit::Rune(v, true), tail))
        }
        '0'..='7' => {
            let mut v = e as u32 - '0' as u32;
            let digits = rest.get(..2).ok_or(())?;
            for d in digits.chars() {
                v = v * 8 + d.to_digit(8).ok_or(())?;
            }
            if v > 255 {
                return Err(());
            }
            Ok((Unit::Rune(v, false), rest.get(2..).ok_or(())?))
        }
        '\\' => simple('\\'),
        '\'' | '"' => {
            if e != quote {
                return Err(());
            }
            simple(e)
        }
        _ => Err(()),
    }
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` literals (what the lexer
/// produces): Go's bytes (byte escapes such as `\xff` may make them invalid
/// UTF-8).
pub(crate) fn unquote(s: &str) -> Result<Vec<u8>, ()> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(());
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return Err(());
    }
    let inner = s.get(1..s.len() - 1).ok_or(())?;
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(());
            }
            Ok(inner.replace('\r', "").into_bytes())
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(());
            }
            let mut out: Vec<u8> = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (Unit::Rune(v, multibyte), tail) = unquote_char(rest, '"')?;
                rest = tail;
                if v < 0x80 || !multibyte {
                    if v > 0xff {
                        return Err(());
                    }
                    out.push(v as u8);
                } else {
                    let c = char::from_u32(v).ok_or(())?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            Ok(out)
        }
        _ => Err(()),
    }
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' {
        let c = b[i + 1].to_ascii_lowercase();
        if c == b'b' || c == b'o' || c == b'x' {
            hex = c == b'x';
            i += 2;
            saw = b'0';
        }
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
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

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (base, digits): (u32, &str) = if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'x' | b'X')
    {
        (16, s.get(2..)?)
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'o' | b'O') {
        (8, s.get(2..)?)
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'b' | b'B') {
        (2, s.get(2..)?)
    } else if b[0] == b'0' && b.len() > 1 {
        (8, s.get(1..)?)
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    if digits.is_empty() {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, s.get(1..)?),
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u > 1u64 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for what the template lexer can produce
/// (decimal and hexadecimal forms, underscores). Out-of-range values are errors.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    parse_float_unchecked(s).filter(|v| v.is_finite())
}

/// Go's `strconv.ParseFloat(s, 64)` with its error: the message of the
/// `*strconv.NumError` (`strconv.ParseFloat: parsing "1e400": value out of
/// range`, `... invalid syntax`).
pub(crate) fn parse_float_err(s: &str) -> Result<f64, String> {
    match parse_float_unchecked(s) {
        Some(v) if v.is_finite() => Ok(v),
        Some(_) => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            kapsel_govalue::gostrconv::quote(s)
        )),
        None => Err(format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            kapsel_govalue::gostrconv::quote(s)
        )),
    }
}

/// [`parse_float`] that keeps an overflow (an infinite result).
fn parse_float_unchecked(s: &str) -> Option<f64> {
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'+') => (false, clean.get(1..)?),
        Some(b'-') => (true, clean.get(1..)?),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let v = if lower.starts_with("0x") {
        parse_hex_float(lower.get(2..)?)?
    } else {
        if !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find('p') {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => return None,
    };
    let exp: i32 = {
        let (neg, d) = match exp.as_bytes().first() {
            Some(b'+') => (false, exp.get(1..)?),
            Some(b'-') => (true, exp.get(1..)?),
            _ => (false, exp),
        };
        if d.is_empty() || !d.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let v: i32 = d.get(..d.len().min(6))?.parse().ok()?;
        if neg { -v } else { v }
    };
    let mut value = 0f64;
    let mut scale = 0i32;
    let mut seen_dot = false;
    let mut any = false;
    for c in mant.chars() {
        if c == '.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = c.to_digit(16)?;
        any = true;
        value = value * 16.0 + f64::from(d);
        if seen_dot {
            scale -= 4;
        }
    }
    if !any {
        return None;
    }
    Some(value * 2f64.powi(exp + scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("1__0"), None);
        assert_eq!(parse_int("089"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_uint("-1"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("089"), Some(89.0));
        assert_eq!(parse_float("0x1p4"), Some(16.0));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("."), None);
        assert_eq!(parse_float_err("-2.5"), Ok(-2.5));
        assert_eq!(
            parse_float_err("+1e400").map_err(|e| e.to_string()),
            Err(r#"strconv.ParseFloat: parsing "+1e400": value out of range"#.to_string())
        );
        assert_eq!(
            parse_float_err("1_0x"),
            Err(r#"strconv.ParseFloat: parsing "1_0x": invalid syntax"#.to_string())
        );
    }

    #[test]
    fn unquoting() {
        assert_eq!(
            unquote(r#""a\tb\u00e9\x41""#),
            Ok("a\tbéA".as_bytes().to_vec())
        );
        assert_eq!(unquote(r#""\xff""#), Ok(vec![0xff]));
        assert_eq!(unquote("`a\r\nb`"), Ok(b"a\nb".to_vec()));
        assert_eq!(unquote(r#""\q""#), Err(()));
        assert_eq!(unquote(r#""\'""#), Err(()));
    }
}
