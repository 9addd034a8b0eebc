//! Go values as Go's `text/template` sees them, and the parts of Go's standard
//! library that templates reach: `fmt` ([`gofmt`]), `encoding/json` ([`gojson`]),
//! `time` layouts ([`gotime`]).
//!
//! This crate is the floor of the template stack: `kapsel-sprig` (the function
//! library) and `kapsel-template` (the engine) build on it, and `kapsel-params`
//! produces its [`Value`]s. It depends on no other Kapsel crate and knows nothing
//! of Kanister or Kubernetes.

pub mod func;
pub mod gofmt;
pub mod gojson;
pub mod gostrconv;
pub mod gotime;
mod isprint;
pub mod value;

pub use func::{Func, FuncError, FuncImpl, FuncMap, Param};
pub use value::{FieldDef, GoTime, JsonField, Map, Slice, Struct, StructType, Type, Value};
