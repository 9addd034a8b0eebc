//! Date functions (sprig's `date.go`).
//!
//! Go converts times to `time.Local` or to a zone loaded from the tz database.
//! Kapsel's local zone is UTC (as `kapsel_govalue::gotime` models it, and as Go
//! behaves with `TZ` unset and `/etc/localtime` missing or UTC); other zone
//! names are read from the system's zoneinfo files as Go does, and, as in
//! sprig, a zone that fails to load means UTC.

use kapsel_govalue::{FuncError, GoTime, Value, gotime};

use crate::conv::{arg, arg_str, arg_time};

type R = Result<Value, FuncError>;

/// The same instant shown in the named zone: `""`, `UTC` and `Local` are UTC
/// (see the module docs), other names are loaded from the system's zoneinfo
/// files like Go's `time.LoadLocation`; a zone that fails to load gives UTC,
/// as in sprig.
fn in_zone(t: &GoTime, zone: &str) -> GoTime {
    if matches!(zone, "" | "UTC" | "Local") {
        return gotime::utc(t);
    }
    match crate::tz::load(zone) {
        Some(loc) => {
            let (name, offset) = loc.lookup(t.unix_secs);
            gotime::in_fixed_zone(t, &name, offset)
        }
        None => gotime::utc(t),
    }
}

/// The time a `date`-style argument stands for: a `time.Time`, a pointer to one,
/// or Unix seconds as `int`/`int64`; anything else means now.
fn date_arg(v: &Value, allow_ptr: bool) -> GoTime {
    match v {
        Value::Time(t) => (**t).clone(),
        Value::Ptr(p) if allow_ptr => match &**p {
            Value::Time(t) => (**t).clone(),
            _ => gotime::now(),
        },
        Value::Int(n) | Value::Int64(n) => gotime::from_unix(*n, 0),
        _ => gotime::now(),
    }
}

fn date_in_zone_impl(layout: &str, d: &Value, zone: &str) -> String {
    gotime::format(&in_zone(&date_arg(d, true), zone), layout)
}

pub(crate) fn date(a: &[Value]) -> R {
    Ok(Value::string(date_in_zone_impl(
        &arg_str(a, 0)?,
        arg(a, 1)?,
        "Local",
    )))
}

pub(crate) fn html_date(a: &[Value]) -> R {
    Ok(Value::string(date_in_zone_impl(
        "2006-01-02",
        arg(a, 0)?,
        "Local",
    )))
}

pub(crate) fn html_date_in_zone(a: &[Value]) -> R {
    Ok(Value::string(date_in_zone_impl(
        "2006-01-02",
        arg(a, 0)?,
        &arg_str(a, 1)?,
    )))
}

pub(crate) fn date_in_zone(a: &[Value]) -> R {
    Ok(Value::string(date_in_zone_impl(
        &arg_str(a, 0)?,
        arg(a, 1)?,
        &arg_str(a, 2)?,
    )))
}

pub(crate) fn date_modify(a: &[Value]) -> R {
    let d = &*arg_str(a, 0)?;
    let t = arg_time(a, 1)?;
    Ok(Value::Time(std::sync::Arc::new(match parse_duration(d) {
        Some(n) => gotime::add_nanos(t, n),
        None => t.clone(),
    })))
}

pub(crate) fn now(_: &[Value]) -> R {
    Ok(Value::Time(std::sync::Arc::new(gotime::now())))
}

/// Go's `Duration.Round(time.Second)`.
fn round_second(d: i64) -> i64 {
    let m = 1_000_000_000i64;
    let half = |x: i64| (x as u64).wrapping_add(x as u64) < m as u64;
    let r = d % m;
    if d < 0 {
        let r = -r;
        if half(r) {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if half(r) {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

/// Go's `Duration.String`.
pub(crate) fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let u = d.unsigned_abs();
    let frac = |v: u64, prec: u32| -> (String, u64) {
        let p = 10u64.pow(prec);
        let f = v % p;
        let digits = format!("{f:0width$}", width = prec as usize);
        let digits = digits.trim_end_matches('0');
        let s = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        (s, v / p)
    };
    let body = if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".to_string(),
            1..=999 => ("ns", 0),
            1_000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (f, i) = frac(u, prec);
        format!("{i}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        let mut out = format!("{}{f}s", secs % 60);
        let mins = secs / 60;
        if mins > 0 {
            out = format!("{}m{out}", mins % 60);
            let hours = mins / 60;
            if hours > 0 {
                out = format!("{hours}h{out}");
            }
        }
        out
    };
    if neg { format!("-{body}") } else { body }
}

pub(crate) fn ago(a: &[Value]) -> R {
    let t = date_arg(arg(a, 0)?, false);
    let since = gotime::sub_nanos(&gotime::now(), &t);
    Ok(Value::string(duration_string(round_second(since))))
}

pub(crate) fn to_date(a: &[Value]) -> R {
    let t =
        gotime::parse_in_local(&arg_str(a, 0)?, &arg_str(a, 1)?).unwrap_or_else(|_| GoTime::zero());
    Ok(Value::Time(std::sync::Arc::new(t)))
}

pub(crate) fn unix_epoch(a: &[Value]) -> R {
    Ok(Value::string(arg_time(a, 0)?.unix_secs.to_string()))
}

/// Go's `time.ParseDuration`, as nanoseconds; `None` on any error.
pub(crate) fn parse_duration(orig: &str) -> Option<i64> {
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(c) = s.first().filter(|c| **c == b'-' || **c == b'+') {
        neg = *c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        // leading int
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return None;
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        let mut f: u64 = 0;
        let mut scale = 1f64;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return None;
        }
        let i = s
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return None;
        }
        let unit: u64 = match &s[..i] {
            b"ns" => 1,
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[i..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        d += v;
        if d > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return None;
    }
    Some(d as i64)
}
