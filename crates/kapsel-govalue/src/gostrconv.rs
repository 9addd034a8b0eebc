//! The parts of Go's `strconv` that `fmt` and `encoding/json` rely on: quoting
//! (`Quote`, `QuoteToASCII`, `QuoteRune`, `CanBackquote`, `IsPrint`) and float
//! formatting (`FormatFloat` with the `e E f g G b x X` formats, shortest or with
//! a precision).
//!
//! Shortest float digits come from Rust's shortest round-trip formatting (the same
//! digit strings Go's Ryū/Dragonbox produce); fixed-precision digits come from an
//! exact decimal expansion rounded half-to-even on the exact value, as Go's
//! `decimal.Round` does.

use crate::isprint::PRINT_RANGES;

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the
/// ASCII space.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    PRINT_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < u {
                std::cmp::Ordering::Less
            } else if lo > u {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Decodes `b` as Go's `range` over a string does: each invalid byte on its own
/// yields `Err(byte)`.
pub(crate) fn decode_go(b: &[u8]) -> Vec<Result<char, u8>> {
    let mut out = Vec::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.extend(chunk.valid().chars().map(Ok));
        out.extend(chunk.invalid().iter().map(|&x| Err(x)));
    }
    out
}

fn push_escaped(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ => {
            let u = r as u32;
            if u < 0x20 || u == 0x7f {
                out.push_str("\\x");
                out.push(LOWER_HEX[(u >> 4) as usize & 0xf] as char);
                out.push(LOWER_HEX[u as usize & 0xf] as char);
            } else if u < 0x10000 {
                out.push_str(&format!("\\u{u:04x}"));
            } else {
                out.push_str(&format!("\\U{u:08x}"));
            }
        }
    }
}

fn quote_with(b: &[u8], quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push(quote);
    for r in decode_go(b) {
        match r {
            Ok(c) => push_escaped(&mut out, c, quote, ascii_only),
            Err(x) => {
                out.push_str("\\x");
                out.push(LOWER_HEX[(x >> 4) as usize] as char);
                out.push(LOWER_HEX[(x & 0xf) as usize] as char);
            }
        }
    }
    out.push(quote);
    out
}

/// Go's `strconv.Quote` over bytes (a Go string may hold invalid UTF-8).
pub fn quote_bytes(b: &[u8]) -> String {
    quote_with(b, '"', false)
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s.as_bytes(), '"', false)
}

/// Go's `strconv.QuoteToASCII` over bytes.
pub fn quote_to_ascii_bytes(b: &[u8]) -> String {
    quote_with(b, '"', true)
}

/// Go's `strconv.QuoteRune` (`ascii_only`: `QuoteRuneToASCII`). Code points that
/// are not valid Unicode scalar values become U+FFFD.
pub fn quote_rune(r: u64, ascii_only: bool) -> String {
    let c = u32::try_from(r)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote` over bytes.
pub fn can_backquote(b: &[u8]) -> bool {
    decode_go(b).into_iter().all(|r| match r {
        Err(_) => false,
        Ok('\u{feff}') => false,
        Ok(c) if (c as u32) >= 0x80 => true,
        Ok(c) => !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}'),
    })
}

/// Decimal digits of a finite non-negative float: `0.d1d2d3... × 10^dp`. Zero has
/// no digits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    digits: Vec<u8>,
    dp: i32,
}

impl Decimal {
    /// The shortest digits that round-trip, as Go's shortest formatting gives.
    fn shortest(v: f64) -> Decimal {
        if v == 0.0 {
            return Decimal {
                digits: Vec::new(),
                dp: 0,
            };
        }
        let s = format!("{:e}", v.abs());
        let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
        let d = Decimal {
            digits,
            dp: exp + 1,
        };
        d.break_tie(v)
    }

    /// Rust may pick either of two shortest candidates that lie equally close
    /// to the exact value; Go picks the one with an even last digit. A tie needs
    /// an exact expansion one digit longer than the candidate and ending in 5,
    /// which only values with a small binary exponent have.
    fn break_tie(self, v: f64) -> Decimal {
        let bits = v.abs().to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        if mant == 0 {
            return self;
        }
        let e = exp + mant.trailing_zeros() as i32;
        if !(-70..=70).contains(&e) {
            return self;
        }
        let mut exact = Decimal::exact(v);
        let n = self.digits.len();
        if exact.digits.len() != n + 1 || exact.digits.last() != Some(&b'5') {
            return self;
        }
        exact.round(n as i32);
        if exact == self {
            return self;
        }
        let text = format!("0.{}e{}", String::from_utf8_lossy(&exact.digits), exact.dp);
        if text.parse::<f64>().ok() == Some(v.abs()) {
            exact
        } else {
            self
        }
    }

    /// The exact decimal expansion of `|v|`.
    fn exact(v: f64) -> Decimal {
        let bits = v.abs().to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        if mant == 0 {
            return Decimal {
                digits: Vec::new(),
                dp: 0,
            };
        }
        // Base 1e9 limbs, little endian.
        let mut limbs: Vec<u64> = vec![mant % 1_000_000_000, mant / 1_000_000_000];
        let mul = |limbs: &mut Vec<u64>, m: u64| {
            let mut carry = 0u64;
            for l in limbs.iter_mut() {
                let x = *l * m + carry;
                *l = x % 1_000_000_000;
                carry = x / 1_000_000_000;
            }
            while carry > 0 {
                limbs.push(carry % 1_000_000_000);
                carry /= 1_000_000_000;
            }
        };
        let mut dp_shift = 0i32;
        if exp >= 0 {
            let mut e = exp;
            while e > 0 {
                let k = e.min(20);
                mul(&mut limbs, 1u64 << k);
                e -= k;
            }
        } else {
            // v = mant * 5^-exp / 10^-exp
            let mut e = -exp;
            dp_shift = exp;
            while e > 0 {
                let k = e.min(12);
                mul(&mut limbs, 5u64.pow(k as u32));
                e -= k;
            }
        }
        while limbs.len() > 1 && limbs.last() == Some(&0) {
            limbs.pop();
        }
        let mut s = String::new();
        for (i, l) in limbs.iter().rev().enumerate() {
            if i == 0 {
                s.push_str(&l.to_string());
            } else {
                s.push_str(&format!("{l:09}"));
            }
        }
        let mut digits: Vec<u8> = s.into_bytes();
        let dp = digits.len() as i32 + dp_shift;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal { digits, dp }
    }

    /// Go's `decimal.Round(nd)`: keep `nd` digits, rounding half to even.
    fn round(&mut self, nd: i32) {
        if nd < 0 || nd as usize >= self.digits.len() {
            return;
        }
        let nd = nd as usize;
        let up = if self.digits[nd] == b'5' && nd + 1 == self.digits.len() {
            nd > 0 && (self.digits[nd - 1] - b'0') % 2 == 1
        } else {
            self.digits[nd] >= b'5'
        };
        if up {
            let mut i = nd;
            loop {
                if i == 0 {
                    self.digits.clear();
                    self.digits.push(b'1');
                    self.dp += 1;
                    return;
                }
                i -= 1;
                if self.digits[i] < b'9' {
                    self.digits[i] += 1;
                    self.digits.truncate(i + 1);
                    return;
                }
            }
        } else {
            self.digits.truncate(nd);
            while self.digits.last() == Some(&b'0') {
                self.digits.pop();
            }
        }
    }
}

fn fmt_e(out: &mut String, d: &Decimal, prec: i32, e: char) {
    out.push(d.digits.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as usize {
            out.push(d.digits.get(i).map_or('0', |&c| c as char));
        }
    }
    out.push(e);
    let mut exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, d: &Decimal, prec: i32) {
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            out.push(d.digits.get(i).map_or('0', |&c| c as char));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            let j = d.dp + i;
            let c = if j >= 0 {
                d.digits.get(j as usize).map_or('0', |&c| c as char)
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

fn fmt_b(out: &mut String, v: f64) {
    let bits = v.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    out.push_str(&mant.to_string());
    out.push('p');
    if exp >= 0 {
        out.push('+');
    }
    out.push_str(&exp.to_string());
}

fn fmt_x(out: &mut String, v: f64, prec: i32, upper: bool) {
    let bits = v.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut mant, mut exp) = if biased == 0 {
        (frac, -1022i64)
    } else {
        (frac | (1u64 << 52), biased - 1023)
    };
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        LOWER_HEX
    };
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`. `prec < 0` means the shortest
/// representation that round-trips. Unknown formats give `%` followed by the
/// format byte, as Go does.
pub fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-Inf" } else { "+Inf" }.to_string();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    match fmt {
        'b' => {
            fmt_b(&mut out, v);
            return out;
        }
        'x' | 'X' => {
            fmt_x(&mut out, v, prec, fmt == 'X');
            return out;
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {}
        _ => {
            return format!("%{fmt}");
        }
    }
    let shortest = prec < 0;
    let mut prec = prec;
    let d = if shortest {
        let d = Decimal::shortest(v);
        let nd = d.digits.len() as i32;
        prec = match fmt {
            'e' | 'E' => (nd - 1).max(0),
            'f' => (nd - d.dp).max(0),
            _ => nd,
        };
        d
    } else {
        let mut d = Decimal::exact(v);
        match fmt {
            'e' | 'E' => d.round(prec + 1),
            'f' => d.round(d.dp + prec),
            _ => {
                if prec == 0 {
                    prec = 1;
                }
                d.round(prec);
            }
        }
        d
    };
    let nd = d.digits.len() as i32;
    match fmt {
        'e' | 'E' => fmt_e(&mut out, &d, prec, fmt),
        'f' => fmt_f(&mut out, &d, prec),
        _ => {
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let e = if fmt == 'g' { 'e' } else { 'E' };
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, &d, prec - 1, e);
            } else {
                if prec > d.dp {
                    prec = nd;
                }
                fmt_f(&mut out, &d, (prec - d.dp).max(0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_g() {
        assert_eq!(format_float(1e6, 'g', -1), "1e+06");
        assert_eq!(format_float(3.25, 'g', -1), "3.25");
        assert_eq!(format_float(1e-5, 'g', -1), "1e-05");
        assert_eq!(format_float(100000.0, 'g', -1), "100000");
        assert_eq!(format_float(1234567.0, 'g', -1), "1.234567e+06");
        assert_eq!(format_float(0.0, 'g', -1), "0");
        assert_eq!(format_float(-0.0, 'g', -1), "-0");
        assert_eq!(format_float(f64::NAN, 'g', -1), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY, 'g', -1), "-Inf");
    }

    #[test]
    fn shortest_ties_go_to_even() {
        // Exactly 13100653132995.8125: ...812 and ...813 are equally close.
        let x = f64::from_bits(0x42a7_d477_8d79_87a0);
        assert_eq!(format_float(x, 'g', -1), "1.3100653132995812e+13");
        assert_eq!(format_float(0.3, 'g', -1), "0.3");
    }

    #[test]
    fn fixed() {
        assert_eq!(format_float(0.125, 'f', 2), "0.12");
        assert_eq!(format_float(0.375, 'f', 2), "0.38");
        assert_eq!(format_float(2.5, 'f', 0), "2");
        assert_eq!(format_float(1.0, 'e', 3), "1.000e+00");
        assert_eq!(format_float(123456.0, 'e', -1), "1.23456e+05");
        assert_eq!(format_float(1e21, 'f', -1), "1000000000000000000000");
        assert_eq!(format_float(1.0, 'x', -1), "0x1p+00");
        assert_eq!(format_float(1.0, 'b', -1), "4503599627370496p-52");
    }

    #[test]
    fn quoting() {
        assert_eq!(
            quote("a\"b\\\n\u{7f}é\u{2028}"),
            "\"a\\\"b\\\\\\n\\x7fé\\u2028\""
        );
        assert_eq!(
            quote_to_ascii_bytes("é☺\u{1F600}".as_bytes()),
            "\"\\u00e9\\u263a\\U0001f600\""
        );
        assert_eq!(quote_bytes(b"\xffa"), "\"\\xffa\"");
        assert_eq!(quote_rune(0x27, false), "'\\''");
        assert_eq!(quote_rune(0x11_0000, false), "'\u{FFFD}'");
        assert!(can_backquote(b"a\tb"));
        assert!(!can_backquote(b"a`b"));
        assert!(!can_backquote(b"a\nb"));
    }
}
