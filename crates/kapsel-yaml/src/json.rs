//! A YAML tree as JSON, as sigs.k8s.io/yaml's `YAMLToJSON` makes it
//! (go-yaml v2 values, `convertToJSONableObject`, then Go's `json.Marshal`),
//! read back as JSON.

use std::ops::Range;

use serde_json::{Map, Number, Value};

use crate::resolve::{Resolved, ScalarType};
use crate::tree::{Kind, Node};

/// A node JSON cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The node.
    pub span: Range<usize>,
    /// What, in sigs.k8s.io/yaml's or Go's words.
    pub message: String,
}

/// The JSON value of `node`.
pub fn to_json(node: &Node) -> Result<Value, JsonError> {
    match &node.kind {
        Kind::Scalar(s) => {
            if let Some(tag) = s.tag.as_deref() {
                let want = match tag {
                    "int" => Some(ScalarType::Int),
                    "float" => Some(ScalarType::Float),
                    "bool" => Some(ScalarType::Bool),
                    "null" => Some(ScalarType::Null),
                    _ => None,
                };
                let got = s.resolved().scalar_type();
                if want.is_some_and(|w| w != got) {
                    let short = match got {
                        ScalarType::Null => "!!null",
                        ScalarType::Bool => "!!bool",
                        ScalarType::Int => "!!int",
                        ScalarType::Float => "!!float",
                        ScalarType::Str => "!!str",
                    };
                    return Err(JsonError {
                        span: node.span.clone(),
                        message: format!("cannot decode {short} `{}` as a !!{tag}", s.value),
                    });
                }
            }
            scalar_json(s.resolved(), &s.value).ok_or_else(|| JsonError {
                span: node.span.clone(),
                message: format!(
                    "json: unsupported value: {} (Kanister cannot read `{}`)",
                    go_float_name(s.resolved()),
                    s.value
                ),
            })
        }
        Kind::Seq(items) => items
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Kind::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = json_key(k)?;
                if map.contains_key(&key) {
                    // kubectl decodes strictly: `on` and `true`, or `1` and
                    // `0x1`, are one key once resolved.
                    return Err(JsonError {
                        span: k.span.clone(),
                        message: format!(
                            "mapping key {key:?} already defined (this key resolves to it)"
                        ),
                    });
                }
                map.insert(key, to_json(v)?);
            }
            Ok(Value::Object(map))
        }
    }
}

fn go_float_name(r: Resolved) -> &'static str {
    match r {
        Resolved::Float(f) if f.is_nan() => "NaN",
        Resolved::Float(f) if f > 0.0 => "+Inf",
        _ => "-Inf",
    }
}

/// A resolved scalar as JSON; `None` for NaN and infinities (`json.Marshal`
/// refuses them).
pub fn scalar_json(r: Resolved, text: &str) -> Option<Value> {
    Some(match r {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Number(i.into()),
        Resolved::Uint(u) => Value::Number(u.into()),
        Resolved::Float(f) => Value::Number(go_json_number(f)?),
        Resolved::Str => Value::String(text.to_string()),
    })
}

/// The number Go's `json.Marshal` writes for a float64, as JSON reads it
/// back: an integral value below 1e21 is written without a fraction or
/// exponent (`1.0` → `1`, `1e3` → `1000`), so it is an integer; others stay
/// floats. `None` for NaN and infinities.
pub fn go_json_number(f: f64) -> Option<Number> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f == 0.0 {
            return Some(Number::from(0));
        }
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Some(Number::from(f as i64));
        }
        if f > 0.0 && f < u64::MAX as f64 {
            return Some(Number::from(f as u64));
        }
    }
    Number::from_f64(f)
}

/// A mapping key as a JSON object key: sigs.k8s.io/yaml's
/// `convertToJSONableObject` writes strings as they are, integers in decimal,
/// booleans as `true`/`false`, floats with `strconv.FormatFloat(f, 'g', -1,
/// 32)`; null, unsigned-only and collection keys are errors.
pub fn json_key(k: &Node) -> Result<String, JsonError> {
    let err = |what: &str| JsonError {
        span: k.span.clone(),
        message: format!("Unsupported map key of type: {what} (JSON keys are strings)"),
    };
    let Kind::Scalar(s) = &k.kind else {
        return Err(err(if matches!(k.kind, Kind::Seq(_)) {
            "[]interface {}"
        } else {
            "map[interface {}]interface {}"
        }));
    };
    Ok(match s.resolved() {
        Resolved::Str => s.value.clone(),
        Resolved::Bool(b) => b.to_string(),
        Resolved::Int(i) => i.to_string(),
        Resolved::Uint(_) => return Err(err("uint64")),
        Resolved::Null => return Err(err("<nil>")),
        Resolved::Float(f) => go_format_g32(f),
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, with go-yaml's names for the
/// infinities and NaN.
pub fn go_format_g32(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    let f32v = f as f32;
    if f32v.is_infinite() {
        return if f32v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f32v == 0.0 {
        return if f32v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Shortest digits of the float32, from Rust's `{:e}` (also shortest).
    let e = format!("{:e}", f32v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if f32v < 0.0 { "-" } else { "" };
    // %e when the exponent is < -4 or >= 6 (shortest 'g' uses precision 6).
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let dp = exp + 1; // digits before the decimal point
    let n = digits.len() as i32;
    let body = if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp >= n {
        format!("{digits}{}", "0".repeat((dp - n) as usize))
    } else {
        let (a, b) = digits.split_at(dp as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_numbers() {
        let n = |f: f64| go_json_number(f).map(|n| n.to_string());
        assert_eq!(n(1.0).as_deref(), Some("1"));
        assert_eq!(n(1000.0).as_deref(), Some("1000"));
        assert_eq!(n(-0.0).as_deref(), Some("0"));
        assert_eq!(n(1.5).as_deref(), Some("1.5"));
        assert!(go_json_number(1e20).is_some_and(|n| n.is_f64()));
        assert!(go_json_number(1e19).is_some_and(|n| n.is_u64()));
        assert!(go_json_number(-9.2e18).is_some_and(|n| n.is_i64()));
        assert!(go_json_number(1e21).is_some_and(|n| n.is_f64()));
        assert!(go_json_number(f64::NAN).is_none());
        assert!(go_json_number(f64::INFINITY).is_none());
    }

    #[test]
    fn go_key_format() {
        let cases = [
            (1.0, "1"),
            (1000.0, "1000"),
            (0.1, "0.1"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (std::f64::consts::PI, "3.1415927"),
            (1e30, "1e+30"),
            (f64::INFINITY, ".inf"),
            (0.0, "0"),
        ];
        for (f, want) in cases {
            assert_eq!(go_format_g32(f), want, "{f}");
        }
    }
}
