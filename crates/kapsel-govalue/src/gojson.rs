//! Go's `encoding/json` over template values: `json.Marshal` (struct fields by
//! their json tags and in declaration order, map keys sorted, `[]byte` as base64,
//! HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029, floats formatted as Go
//! does), `json.MarshalIndent`, and `json.Unmarshal` into `interface{}`.

use crate::value::Value;

/// The error `encoding/json` reports, with Go's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// `json.Marshal(v)`.
pub fn marshal(v: &Value) -> Result<String, JsonError> {
    let _ = v;
    todo!("kapsel-govalue::gojson::marshal")
}

/// `json.MarshalIndent(v, prefix, indent)`.
pub fn marshal_indent(v: &Value, prefix: &str, indent: &str) -> Result<String, JsonError> {
    let _ = (v, prefix, indent);
    todo!("kapsel-govalue::gojson::marshal_indent")
}

/// `json.Unmarshal(data, &x)` with `x interface{}`: objects become
/// `map[string]interface{}`, arrays `[]interface{}`, numbers `float64`.
pub fn unmarshal_any(data: &str) -> Result<Value, JsonError> {
    let _ = data;
    todo!("kapsel-govalue::gojson::unmarshal_any")
}
