//! Go's builtin template functions (`text/template/funcs.go`), working on the
//! executor's reflect-like values so that nil interfaces, typed nils and static
//! `interface{}` types behave as in Go.

use std::sync::Arc;

use kapsel_govalue::{Param, Str, Type, Value, gofmt, gostrconv};

use crate::exec::{ArgType, Rv, truth};

/// A builtin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Call,
    Html,
    Index,
    Slice,
    Js,
    Len,
    Not,
    Or,
    Print,
    Printf,
    Println,
    Urlquery,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
}

const R: ArgType = ArgType::Reflect;

impl Builtin {
    /// Fixed parameter types and the variadic element type.
    pub fn arity(self) -> (&'static [ArgType], Option<ArgType>) {
        use Builtin::*;
        match self {
            And | Or | Call | Index | Slice | Eq => (&[R], Some(R)),
            Not | Len => (&[R], None),
            Ne | Lt | Le | Gt | Ge => (&[R, R], None),
            Html | Js | Urlquery | Print | Println => (&[], Some(ArgType::P(Param::Any))),
            Printf => (&[ArgType::P(Param::String)], Some(ArgType::P(Param::Any))),
        }
    }
}

/// Looks a builtin up by name.
pub(crate) fn lookup(name: &str) -> Option<Builtin> {
    use Builtin::*;
    Some(match name {
        "and" => And,
        "call" => Call,
        "html" => Html,
        "index" => Index,
        "slice" => Slice,
        "js" => Js,
        "len" => Len,
        "not" => Not,
        "or" => Or,
        "print" => Print,
        "printf" => Printf,
        "println" => Println,
        "urlquery" => Urlquery,
        "eq" => Eq,
        "ge" => Ge,
        "gt" => Gt,
        "le" => Le,
        "lt" => Lt,
        "ne" => Ne,
        _ => return None,
    })
}

/// Whether `name` is a builtin function.
pub(crate) fn is_builtin(name: &str) -> bool {
    lookup(name).is_some()
}

type BResult = Result<Rv, String>;

/// Calls a builtin (not `and`/`or`, which the executor short-circuits) on
/// checked arguments. `callee` is the source text of `call`'s first argument.
pub(crate) fn call(b: Builtin, callee: &str, mut argv: Vec<Rv>) -> BResult {
    use Builtin::*;
    let had_first = !argv.is_empty();
    let first = if argv.is_empty() {
        Rv::Invalid
    } else {
        argv.remove(0)
    };
    let second = argv.first().cloned().unwrap_or(Rv::Invalid);
    match b {
        And | Or => Ok(first),
        Not => Ok(Rv::C(Value::Bool(!truth(&first.deiface())))),
        Len => length(first),
        Index => index(first, argv),
        Slice => slice(first, argv),
        Call => match first.deiface() {
            Rv::Invalid => Err("call of nil".to_string()),
            v => Err(format!("non-function {callee} of type {}", v.type_name())),
        },
        Eq => eq(first, &argv).map(bool_rv),
        Ne => eq(first, &[second]).map(|t| bool_rv(!t)),
        Lt => lt(first, second).map(bool_rv),
        Le => le(first, second).map(bool_rv),
        Gt => le(first, second).map(|t| bool_rv(!t)),
        Ge => lt(first, second).map(|t| bool_rv(!t)),
        Print | Println => {
            let all: Vec<Value> = all_args(had_first, first, &argv)
                .iter()
                .map(Rv::value)
                .collect();
            Ok(str_rv(if b == Print {
                gofmt::sprint_str(&all)
            } else {
                gofmt::sprintln_str(&all)
            }))
        }
        Printf => {
            let fmt = match first.value() {
                Value::String(s) => s,
                _ => Str::default(),
            };
            let rest: Vec<Value> = argv.iter().map(Rv::value).collect();
            Ok(str_rv(gofmt::sprintf_str(&fmt, &rest)))
        }
        Html | Js | Urlquery => {
            let all = all_args(had_first, first, &argv);
            let s = eval_args(&all);
            Ok(str_rv(match b {
                Html => html_escape(&s),
                Js => js_escape(&s),
                _ => query_escape(&s),
            }))
        }
    }
}

fn all_args(had_first: bool, first: Rv, rest: &[Rv]) -> Vec<Rv> {
    let mut all = Vec::with_capacity(rest.len() + 1);
    if had_first {
        all.push(first);
    }
    all.extend_from_slice(rest);
    all
}

fn bool_rv(b: bool) -> Rv {
    Rv::C(Value::Bool(b))
}

fn str_rv(s: impl Into<Str>) -> Rv {
    Rv::C(Value::String(s.into()))
}

/// Go's `evalArgs`: `fmt.Sprint` of the arguments, each made printable first.
fn eval_args(args: &[Rv]) -> Str {
    if let [one] = args
        && let Value::String(s) = one.value()
    {
        return s;
    }
    let vals: Vec<Value> = args
        .iter()
        .map(|a| match a.value() {
            Value::Nil => Value::string("<no value>"),
            // A pointer whose type has a String method stays a pointer: fmt
            // calls the method (and spaces it as a non-string operand).
            v if kapsel_govalue::string_method(&v).is_some() => v,
            v @ Value::Ptr(_) => match Rv::C(v).indirect().0 {
                Rv::Invalid => Value::string("<no value>"),
                Rv::C(x) | Rv::I(x) => x,
            },
            v => v,
        })
        .collect();
    gofmt::sprint_str(&vals)
}

/// Go's `HTMLEscapeString` (byte-wise: other bytes are copied as they are).
pub(crate) fn html_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        match c {
            0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
            b'"' => out.extend_from_slice(b"&#34;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `JSEscapeString`: printable runes (and the bytes of invalid UTF-8,
/// which decode as the printable U+FFFD) are copied as they are.
pub(crate) fn js_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let (c, size) = gofmt::decode_rune(&s[i..]);
        let raw = &s[i..i + size];
        i += size;
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\'' => out.extend_from_slice(b"\\'"),
            '"' => out.extend_from_slice(b"\\\""),
            '<' => out.extend_from_slice(b"\\u003C"),
            '>' => out.extend_from_slice(b"\\u003E"),
            '&' => out.extend_from_slice(b"\\u0026"),
            '=' => out.extend_from_slice(b"\\u003D"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u00{:02X}", c as u32).as_bytes())
            }
            c if c.is_ascii() || gostrconv::is_print(c) => out.extend_from_slice(raw),
            c => out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes()),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            b => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
    out
}

/// Go's `indexArg`.
fn index_arg(index: &Rv, cap: usize) -> Result<usize, String> {
    let x = match index {
        Rv::C(Value::Int(i) | Value::Int64(i)) => *i,
        Rv::C(Value::Uint8(i)) => i64::from(*i),
        Rv::Invalid => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: Rv, indexes: Vec<Rv>) -> BResult {
    let mut item = item.deiface();
    if item == Rv::Invalid {
        return Err("index of untyped nil".to_string());
    }
    for index in indexes {
        let index = index.deiface();
        let (it, is_nil) = item.indirect();
        if is_nil {
            return Err("index of nil pointer".to_string());
        }
        item = match &it {
            Rv::C(Value::Slice(s)) => {
                let x = index_arg(&index, s.len())?;
                match s.get(x) {
                    Some(v) => Rv::slot(v, &s.elem),
                    None => return Err("reflect: slice index out of range".to_string()),
                }
            }
            Rv::C(Value::NilSlice(_) | Value::NilBytes) => {
                index_arg(&index, 0)?;
                return Err("reflect: slice index out of range".to_string());
            }
            Rv::C(Value::Bytes(b)) => {
                let x = index_arg(&index, b.len())?;
                match b.get(x) {
                    Some(v) => Rv::C(Value::Uint8(*v)),
                    None => return Err("reflect: slice index out of range".to_string()),
                }
            }
            Rv::C(Value::String(s)) => {
                let x = index_arg(&index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(v) => Rv::C(Value::Uint8(*v)),
                    None => return Err("reflect: string index out of range".to_string()),
                }
            }
            Rv::C(Value::Map(_) | Value::NilMap(_)) => {
                let key = match &index {
                    Rv::Invalid => {
                        return Err("value is nil; should be of type string".to_string());
                    }
                    Rv::C(Value::String(k)) => k.clone(),
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                let (found, elem) = match &it {
                    Rv::C(Value::Map(m)) => (m.get(&key.to_str_lossy()), m.elem.clone()),
                    Rv::C(Value::NilMap(e)) => (None, e.clone()),
                    _ => (None, Type::Any),
                };
                match found {
                    Some(v) => Rv::slot(v, &elem),
                    None => Rv::slot(elem.zero(), &elem),
                }
            }
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: Rv, indexes: Vec<Rv>) -> BResult {
    let item = item.deiface();
    if item == Rv::Invalid {
        return Err("slice of untyped nil".to_string());
    }
    let (item, is_nil) = item.indirect();
    if is_nil {
        return Err("slice of nil pointer".to_string());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let (len, cap) = match &item {
        Rv::C(Value::String(s)) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_string());
            }
            (s.len(), s.len())
        }
        Rv::C(Value::Slice(s)) => (s.len(), s.cap()),
        Rv::C(Value::Bytes(b)) => (b.len(), b.len()),
        Rv::C(Value::NilSlice(_) | Value::NilBytes) => (0, 0),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, 0];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, cap)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let (i, j) = (idx[0], idx[1]);
    Ok(match item {
        Rv::C(Value::String(s)) => Rv::C(Value::string(s.as_bytes().get(i..j).unwrap_or(&[]))),
        Rv::C(Value::Slice(s)) => {
            let k = (indexes.len() == 3).then_some(idx[2]);
            match s.reslice(i, j, k) {
                Some(part) => Rv::C(Value::Slice(Arc::new(part))),
                None => return Err("reflect: slice index out of range".to_string()),
            }
        }
        Rv::C(Value::Bytes(b)) => Rv::C(Value::Bytes(Arc::from(b.get(i..j).unwrap_or(&[])))),
        other => other,
    })
}

fn length(item: Rv) -> BResult {
    let (item, is_nil) = item.indirect();
    if is_nil {
        return Err("len of nil pointer".to_string());
    }
    let n = match &item {
        Rv::Invalid => {
            return Err("reflect: call of reflect.Value.Type on zero Value".to_string());
        }
        Rv::C(Value::String(s)) => s.len(),
        Rv::C(Value::Slice(s)) => s.len(),
        Rv::C(Value::Bytes(b)) => b.len(),
        Rv::C(Value::Map(m)) => m.len(),
        Rv::C(Value::NilSlice(_) | Value::NilBytes | Value::NilMap(_)) => 0,
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Rv::C(Value::Int(n as i64)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
}

fn basic_kind(v: &Rv) -> Kind {
    match v {
        Rv::C(Value::Bool(_)) => Kind::Bool,
        Rv::C(Value::Int(_) | Value::Int64(_)) => Kind::Int,
        Rv::C(Value::Uint8(_)) => Kind::Uint,
        Rv::C(Value::Float(_)) => Kind::Float,
        Rv::C(Value::Complex(..)) => Kind::Complex,
        Rv::C(Value::String(_)) => Kind::String,
        _ => Kind::Invalid,
    }
}

/// reflect.Kind classes of the non-basic values.
fn reflect_kind(v: &Rv) -> u8 {
    match v {
        Rv::Invalid => 0,
        Rv::I(_) => 1,
        Rv::C(x) => match x {
            Value::Nil => 0,
            Value::Bool(_) => 2,
            Value::Int(_) | Value::Int64(_) => 3,
            Value::Uint8(_) => 10,
            Value::Float(_) => 4,
            Value::Complex(..) => 11,
            Value::String(_) => 5,
            Value::Bytes(_) | Value::NilBytes | Value::Slice(_) | Value::NilSlice(_) => 6,
            Value::Map(_) | Value::NilMap(_) => 7,
            Value::Struct(_) | Value::Time(_) => 8,
            Value::Ptr(_) | Value::NilPtr(_) => 9,
        },
    }
}

fn is_nil(v: &Rv) -> bool {
    matches!(
        v,
        Rv::Invalid
            | Rv::I(Value::Nil)
            | Rv::C(Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_))
    )
}

fn type_comparable(t: &Type) -> bool {
    match t {
        Type::Slice(_) | Type::Map(_) | Type::Bytes => false,
        Type::Struct(st) => st.fields.iter().all(|f| type_comparable(&f.ty)),
        _ => true,
    }
}

/// Go's `==` on two values of the same comparable type.
fn go_equal(a: &Value, b: &Value) -> bool {
    if a.type_of() != b.type_of() {
        return false;
    }
    match (a, b) {
        (Value::Ptr(x), Value::Ptr(y)) => Arc::ptr_eq(x, y),
        (Value::Struct(x), Value::Struct(y)) => x
            .fields
            .iter()
            .zip(y.fields.iter())
            .all(|(p, q)| go_equal(p, q)),
        (Value::Float(x), Value::Float(y)) => x == y,
        // time.Time's == compares wall, ext and the *time.Location pointer:
        // time.UTC (nil) and time.Local are one each, and so is each unnamed
        // whole-hour time.FixedZone from -12 to +14 (Go caches those); any
        // other location is its own allocation, shared only by the same value.
        (Value::Time(x), Value::Time(y)) => {
            let shared_loc = x.loc != kapsel_govalue::TimeLoc::Other
                || x.zone_name.is_empty()
                    && x.offset_secs % 3600 == 0
                    && (-12..=14).contains(&(x.offset_secs / 3600));
            x == y && (shared_loc || Arc::ptr_eq(x, y))
        }
        _ => a == b,
    }
}

fn eq(arg1: Rv, rest: &[Rv]) -> Result<bool, String> {
    let arg1 = arg1.deiface();
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic_kind(&arg1);
    for arg in rest {
        let arg = arg.clone().deiface();
        let k2 = basic_kind(&arg);
        let truth = if let (Some(a), Some(b)) = (integer(&arg1), integer(&arg))
            && k1 != k2
        {
            // Go compares signed and unsigned integers regardless of sign.
            a == b
        } else if k1 != k2 {
            if arg1 != Rv::Invalid && arg != Rv::Invalid {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    arg1.type_name(),
                    arg.type_name()
                ));
            }
            false
        } else {
            match (&arg1, &arg) {
                (Rv::C(Value::Bool(a)), Rv::C(Value::Bool(b))) => a == b,
                (Rv::C(Value::Float(a)), Rv::C(Value::Float(b))) => a == b,
                (Rv::C(Value::Complex(ar, ai)), Rv::C(Value::Complex(br, bi))) => {
                    ar == br && ai == bi
                }
                (
                    Rv::C(Value::Int(a) | Value::Int64(a)),
                    Rv::C(Value::Int(b) | Value::Int64(b)),
                ) => a == b,
                (Rv::C(Value::Uint8(a)), Rv::C(Value::Uint8(b))) => a == b,
                (Rv::C(Value::String(a)), Rv::C(Value::String(b))) => a == b,
                _ => {
                    let (ka, kb) = (reflect_kind(&arg1), reflect_kind(&arg));
                    if ka != kb && ka != 0 && kb != 0 {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", &[arg1.value()]),
                            arg1.type_name(),
                            arg.type_name(),
                            gofmt::sprintf("%v", &[arg.value()])
                        ));
                    }
                    if is_nil(&arg1) || is_nil(&arg) {
                        is_nil(&arg1) == is_nil(&arg)
                    } else {
                        let bt = arg.value().type_of();
                        if !type_comparable(&bt) {
                            return Err(format!(
                                "non-comparable type {}: {}",
                                gofmt::sprintf("%s", &[arg.value()]),
                                bt
                            ));
                        }
                        go_equal(&arg1.value(), &arg.value())
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(arg1: Rv, arg2: Rv) -> Result<bool, String> {
    let arg1 = arg1.deiface();
    let k1 = basic_kind(&arg1);
    if k1 == Kind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    let arg2 = arg2.deiface();
    let k2 = basic_kind(&arg2);
    if k2 == Kind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    if k1 != k2 {
        if let (Some(a), Some(b)) = (integer(&arg1), integer(&arg2)) {
            return Ok(a < b);
        }
        return Err(format!(
            "incompatible types for comparison: {} and {}",
            arg1.type_name(),
            arg2.type_name()
        ));
    }
    match (&arg1, &arg2) {
        (Rv::C(Value::Uint8(a)), Rv::C(Value::Uint8(b))) => Ok(a < b),
        (Rv::C(Value::Float(a)), Rv::C(Value::Float(b))) => Ok(a < b),
        (Rv::C(Value::Int(a) | Value::Int64(a)), Rv::C(Value::Int(b) | Value::Int64(b))) => {
            Ok(a < b)
        }
        (Rv::C(Value::String(a)), Rv::C(Value::String(b))) => Ok(a.as_bytes() < b.as_bytes()),
        _ => Err("invalid type for comparison".to_string()),
    }
}

/// The value of a signed or unsigned integer.
fn integer(v: &Rv) -> Option<i128> {
    match v {
        Rv::C(Value::Int(i) | Value::Int64(i)) => Some(i128::from(*i)),
        Rv::C(Value::Uint8(b)) => Some(i128::from(*b)),
        _ => None,
    }
}

fn le(arg1: Rv, arg2: Rv) -> Result<bool, String> {
    if lt(arg1.clone(), arg2.clone())? {
        return Ok(true);
    }
    eq(arg1, &[arg2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape(b"<a href='x'>&\"</a>"),
            b"&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape(b"a'b\"c<d>=\\\n"),
            b"a\\'b\\\"c\\u003Cd\\u003E\\u003D\\\\\\u000A"
        );
        assert_eq!(
            query_escape("a b&c=d/é".as_bytes()),
            b"a+b%26c%3Dd%2F%C3%A9"
        );
    }
}
