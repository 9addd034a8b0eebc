//! The few Go methods templates can reach on the values Kapsel models:
//! `time.Time`'s common accessors and `Format`, and `String()` of values sprig
//! models as data (`*semver.Version`).

use kapsel_govalue::{GoTime, Param, Value, gotime};

/// A method bound to its receiver.
pub(crate) struct Method {
    /// The receiver.
    pub recv: Value,
    /// Parameter types.
    pub params: &'static [Param],
    /// The implementation: receiver and checked arguments.
    pub call: fn(&Value, &[Value]) -> Result<Value, String>,
}

fn time_of(v: &Value) -> Option<&GoTime> {
    match v {
        Value::Time(t) => Some(t),
        _ => None,
    }
}

fn fmt_int(v: &Value, layout: &str) -> Result<Value, String> {
    let t = time_of(v).ok_or_else(|| "not a time".to_string())?;
    let s = gotime::format(t, layout);
    s.trim()
        .parse::<i64>()
        .map(Value::Int)
        .map_err(|e| e.to_string())
}

/// Finds method `name` on `original` (the value before indirection) or
/// `indirect` (after following pointers).
pub(crate) fn find(original: &Value, indirect: &Value, name: &str) -> Option<Method> {
    if name == "String"
        && let Some(s) = kapsel_sprig::stringer(original)
    {
        return Some(Method {
            recv: Value::string(s),
            params: &[],
            call: |r, _| Ok(r.clone()),
        });
    }
    // `*semver.Version`'s accessor methods return its unexported fields.
    if let Value::Struct(st) = indirect
        && st.ty.name == kapsel_sprig::semver::TYPE_NAME
        && let Some((_, field)) = kapsel_sprig::semver::ACCESSORS
            .iter()
            .find(|(m, _)| *m == name)
        && let Some(v) = st.field(field)
    {
        return Some(Method {
            recv: v.clone(),
            params: &[],
            call: |r, _| Ok(r.clone()),
        });
    }
    time_of(indirect)?;
    let recv = indirect.clone();
    let m = |params: &'static [Param], call: fn(&Value, &[Value]) -> Result<Value, String>| {
        Some(Method {
            recv: recv.clone(),
            params,
            call,
        })
    };
    match name {
        "Year" => m(&[], |r, _| fmt_int(r, "2006")),
        "YearDay" => m(&[], |r, _| fmt_int(r, "002")),
        "Day" => m(&[], |r, _| fmt_int(r, "2")),
        "Hour" => m(&[], |r, _| fmt_int(r, "15")),
        "Minute" => m(&[], |r, _| fmt_int(r, "4")),
        "Second" => m(&[], |r, _| fmt_int(r, "5")),
        "Nanosecond" => m(&[], |r, _| {
            Ok(Value::Int(time_of(r).map_or(0, |t| i64::from(t.nanos))))
        }),
        "Unix" => m(&[], |r, _| {
            Ok(Value::Int64(time_of(r).map_or(0, |t| t.unix_secs)))
        }),
        "UnixMilli" => m(&[], |r, _| {
            Ok(Value::Int64(time_of(r).map_or(0, |t| {
                t.unix_secs.wrapping_mul(1000) + i64::from(t.nanos / 1_000_000)
            })))
        }),
        "UnixNano" => m(&[], |r, _| {
            Ok(Value::Int64(time_of(r).map_or(0, |t| {
                t.unix_secs.wrapping_mul(1_000_000_000) + i64::from(t.nanos)
            })))
        }),
        "IsZero" => m(&[], |r, _| {
            Ok(Value::Bool(time_of(r).is_some_and(|t| {
                t.unix_secs == GoTime::zero().unix_secs && t.nanos == 0
            })))
        }),
        "UTC" => m(&[], |r, _| {
            let t = time_of(r).ok_or_else(|| "not a time".to_string())?;
            Ok(Value::Time(std::sync::Arc::new(gotime::utc(t))))
        }),
        "String" => m(&[], |r, _| {
            let t = time_of(r).ok_or_else(|| "not a time".to_string())?;
            Ok(Value::string(gotime::to_string(t)))
        }),
        "Format" => m(&[Param::String], |r, a| {
            let t = time_of(r).ok_or_else(|| "not a time".to_string())?;
            let layout = match a.first() {
                Some(Value::String(s)) => s.to_string(),
                _ => String::new(),
            };
            Ok(Value::string(gotime::format(t, &layout)))
        }),
        "AddDate" => m(&[Param::Int, Param::Int, Param::Int], |r, a| {
            let t = time_of(r).ok_or_else(|| "not a time".to_string())?;
            let n = |i: usize| match a.get(i) {
                Some(Value::Int(v)) => *v,
                _ => 0,
            };
            Ok(Value::Time(std::sync::Arc::new(gotime::add_date(
                t,
                n(0),
                n(1),
                n(2),
            ))))
        }),
        _ => None,
    }
}
