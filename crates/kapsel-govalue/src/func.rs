//! The contract for template functions: how a function declares its Go signature
//! and how it is called.
//!
//! Go's `text/template` checks a call against the function's Go signature before
//! calling it: the number of arguments (`wrong number of args for NAME: want N got
//! M`) and each argument's type (`wrong type for value; expected string; got int`).
//! A [`Func`] states that signature with [`Param`]s; the engine does the checks and
//! conversions (an untyped integer constant becomes `int`, a number constant passed
//! to a `float64` parameter becomes `float64`, `nil` is allowed only for
//! `interface{}`/map parameters), then calls [`Func::call`] with arguments that
//! already have the declared types. A function returning Go's `(T, error)` returns
//! `Err(FuncError)`, which the engine reports as `error calling NAME: MESSAGE`.

use std::collections::BTreeMap;

use crate::value::{Type, Value};

/// The Go type of one parameter of a template function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// `interface{}`: any value, including nil.
    Any,
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `int64`
    Int64,
    /// `float64`
    Float64,
    /// `string`
    String,
    /// `[]byte`
    Bytes,
    /// `[]string`
    StringSlice,
    /// `[]interface{}`
    AnySlice,
    /// `map[string]interface{}`
    MapAny,
    /// `time.Time`
    Time,
}

impl Param {
    /// The Go type this parameter has.
    pub fn go_type(self) -> Type {
        match self {
            Param::Any => Type::Any,
            Param::Bool => Type::Bool,
            Param::Int => Type::Int,
            Param::Int64 => Type::Int64,
            Param::Float64 => Type::Float64,
            Param::String => Type::String,
            Param::Bytes => Type::Bytes,
            Param::StringSlice => Type::slice(Type::String),
            Param::AnySlice => Type::slice(Type::Any),
            Param::MapAny => Type::map(Type::Any),
            Param::Time => Type::Time,
        }
    }
}

/// The error a function returns (Go's non-nil `error` result). The message is
/// what Go's `err.Error()` would give; the engine prefixes `error calling NAME: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FuncError(pub String);

impl FuncError {
    /// An error with the given message.
    pub fn new(msg: impl Into<String>) -> FuncError {
        FuncError(msg.into())
    }
}

/// The implementation of a function: receives arguments already checked and
/// converted to the declared [`Param`] types (variadic ones included, flattened).
pub type FuncImpl = fn(&[Value]) -> Result<Value, FuncError>;

/// A template function with its Go signature.
#[derive(Debug, Clone, Copy)]
pub struct Func {
    /// The name templates call it by.
    pub name: &'static str,
    /// Fixed parameters.
    pub params: &'static [Param],
    /// The element type of a trailing `...T` parameter, if the function is variadic.
    pub variadic: Option<Param>,
    /// The implementation.
    pub call: FuncImpl,
}

/// A set of functions by name (Go's `template.FuncMap`).
#[derive(Debug, Clone, Default)]
pub struct FuncMap {
    funcs: BTreeMap<&'static str, Func>,
}

impl FuncMap {
    /// An empty map.
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// Adds or replaces a function.
    pub fn insert(&mut self, f: Func) {
        self.funcs.insert(f.name, f);
    }

    /// Adds every function of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: &FuncMap) {
        for f in other.funcs.values() {
            self.insert(*f);
        }
    }

    /// Looks a function up.
    pub fn get(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    /// All function names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.funcs.keys().copied()
    }
}

/// A Go `String() string` method of a type modelled as data (sprig's
/// `*semver.Version`): returns the string for values of its type, `None` for
/// any other value.
pub type StringerFn = fn(&Value) -> Option<String>;

static STRINGERS: std::sync::RwLock<Vec<StringerFn>> = std::sync::RwLock::new(Vec::new());

/// Registers a `String()` method, which `fmt` then uses as Go's does (for the
/// verbs `%v %s %q %x %X`, at any depth). Registering the same function twice
/// has no effect.
pub fn register_stringer(f: StringerFn) {
    if let Ok(mut v) = STRINGERS.write()
        && !v.iter().any(|g| std::ptr::fn_addr_eq(*g, f))
    {
        v.push(f);
    }
}

/// The result of the registered `String()` method for `v`, if its type has one.
pub fn string_method(v: &Value) -> Option<String> {
    STRINGERS.read().ok()?.iter().find_map(|f| f(v))
}
