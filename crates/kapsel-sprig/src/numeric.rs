//! Arithmetic and number conversions (sprig's `numeric.go` and the arithmetic
//! lambdas of `functions.go`).

use kapsel_govalue::{FuncError, Value};

use crate::conv::{arg, arg_int, arg_str, list_int, to_float64, to_int64};

type R = Result<Value, FuncError>;

const DIV_ZERO: &str = "runtime error: integer divide by zero";

/// Sprig's `atoi`: `strconv.Atoi`, its error dropped. Out of range, Go
/// returns the nearest int with the error, so that is what sprig gives;
/// anything else that is not a number is 0.
pub(crate) fn atoi(a: &[Value]) -> R {
    let s = &*arg_str(a, 0)?;
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let n = match crate::conv::parse_int10(s) {
        Some(n) => n,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            if s.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            }
        }
        None => 0,
    };
    Ok(Value::Int(n))
}

pub(crate) fn int64(a: &[Value]) -> R {
    Ok(Value::Int64(to_int64(arg(a, 0)?)))
}

pub(crate) fn int(a: &[Value]) -> R {
    Ok(Value::Int(to_int64(arg(a, 0)?)))
}

pub(crate) fn float64(a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)?)))
}

/// Go's `strconv.ParseInt(s, 8, 64)`.
fn parse_octal(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, 8).ok()?;
    if neg {
        if mag > 1 << 63 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

pub(crate) fn to_decimal(a: &[Value]) -> R {
    let v = arg(a, 0)?;
    let text = match v {
        Value::String(s) => s.to_string(),
        Value::Int(n) | Value::Int64(n) => n.to_string(),
        other => crate::conv::fmt_v(other).to_str_lossy().into_owned(),
    };
    Ok(Value::Int64(parse_octal(&text).unwrap_or(0)))
}

pub(crate) fn add1(a: &[Value]) -> R {
    Ok(Value::Int64(to_int64(arg(a, 0)?).wrapping_add(1)))
}

pub(crate) fn add(a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_int64(v))),
    ))
}

pub(crate) fn sub(a: &[Value]) -> R {
    Ok(Value::Int64(
        to_int64(arg(a, 0)?).wrapping_sub(to_int64(arg(a, 1)?)),
    ))
}

pub(crate) fn div(a: &[Value]) -> R {
    let d = to_int64(arg(a, 1)?);
    if d == 0 {
        return Err(FuncError::new(DIV_ZERO));
    }
    Ok(Value::Int64(to_int64(arg(a, 0)?).wrapping_div(d)))
}

pub(crate) fn modulo(a: &[Value]) -> R {
    let d = to_int64(arg(a, 1)?);
    if d == 0 {
        return Err(FuncError::new(DIV_ZERO));
    }
    Ok(Value::Int64(to_int64(arg(a, 0)?).wrapping_rem(d)))
}

pub(crate) fn mul(a: &[Value]) -> R {
    let first = to_int64(arg(a, 0)?);
    Ok(Value::Int64(
        a[1..]
            .iter()
            .fold(first, |acc, v| acc.wrapping_mul(to_int64(v))),
    ))
}

pub(crate) fn max(a: &[Value]) -> R {
    let first = to_int64(arg(a, 0)?);
    Ok(Value::Int64(
        a[1..].iter().map(to_int64).fold(first, i64::max),
    ))
}

pub(crate) fn min(a: &[Value]) -> R {
    let first = to_int64(arg(a, 0)?);
    Ok(Value::Int64(
        a[1..].iter().map(to_int64).fold(first, i64::min),
    ))
}

pub(crate) fn ceil(a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)?).ceil()))
}

pub(crate) fn floor(a: &[Value]) -> R {
    Ok(Value::Float(to_float64(arg(a, 0)?).floor()))
}

pub(crate) fn round(a: &[Value]) -> R {
    let val = to_float64(arg(a, 0)?);
    let places = arg_int(a, 1)? as f64;
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        Some(other) => to_float64(other),
        None => 0.5,
    };
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let frac = digit.fract();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}

pub(crate) fn until(a: &[Value]) -> R {
    let count = arg_int(a, 0)?;
    let step = if count < 0 { -1 } else { 1 };
    Ok(list_int(crate::lists::until_step(0, count, step)?))
}

pub(crate) fn until_step(a: &[Value]) -> R {
    Ok(list_int(crate::lists::until_step(
        arg_int(a, 0)?,
        arg_int(a, 1)?,
        arg_int(a, 2)?,
    )?))
}
