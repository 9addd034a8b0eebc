//! List and dict functions (sprig's `list.go` and `dict.go`) and the defaults and
//! reflection helpers (`defaults.go`, `reflect.go`).
//!
//! Go maps are references: `set`, `unset`, `merge` and `mergeOverwrite`
//! change the map passed in (see `kapsel_govalue::Map`). Lists carry Go's
//! capacity (what `append` or `make` would leave), which `slice` can reach,
//! and share their backing array as Go's slices do (`slice` returns a window
//! on it; `deepCopy` copies it).

use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_govalue::{FuncError, Map, Slice, Struct, Type, Value, gojson};

use crate::conv::{
    MAX_OUTPUT, arg, arg_bool, arg_map, arg_str, deep_equal, empty, kind_name, list_any,
    list_any_appended, list_or_panic, list_with_cap, map_any, map_entries, strval, to_int64,
    too_large, type_name,
};

type R = Result<Value, FuncError>;

pub(crate) fn list(a: &[Value]) -> R {
    Ok(list_any(a.to_vec()))
}

pub(crate) fn push(a: &[Value]) -> R {
    let mut items = list_or_panic(arg(a, 0)?, |k| format!("Cannot push on type {k}"))?;
    let cap = kapsel_govalue::grow_cap(&Type::Any, items.len(), items.len() + 1);
    items.push(arg(a, 1)?.clone());
    Ok(list_with_cap(Type::Any, items, cap))
}

pub(crate) fn prepend(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot prepend on type {k}"))?;
    let mut out = Vec::with_capacity(items.len() + 1);
    out.push(arg(a, 1)?.clone());
    out.extend(items);
    // append([]interface{}{v}, nl...)
    let cap = kapsel_govalue::grow_cap(&Type::Any, 1, out.len());
    Ok(list_with_cap(Type::Any, out, cap))
}

pub(crate) fn last(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find last on type {k}"))?;
    Ok(items.last().cloned().unwrap_or(Value::Nil))
}

pub(crate) fn first(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find first on type {k}"))?;
    Ok(items.first().cloned().unwrap_or(Value::Nil))
}

pub(crate) fn rest(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find rest on type {k}"))?;
    if items.is_empty() {
        return Ok(Value::NilSlice(Type::Any));
    }
    Ok(list_any(items[1..].to_vec()))
}

pub(crate) fn initial(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find initial on type {k}"))?;
    if items.is_empty() {
        return Ok(Value::NilSlice(Type::Any));
    }
    Ok(list_any(items[..items.len() - 1].to_vec()))
}

pub(crate) fn reverse(a: &[Value]) -> R {
    let mut items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find reverse on type {k}"))?;
    items.reverse();
    Ok(list_any(items))
}

pub(crate) fn compact(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot compact on type {k}"))?;
    Ok(list_any_appended(
        items.into_iter().filter(|v| !empty(v)).collect(),
    ))
}

fn in_list(hay: &[Value], needle: &Value) -> bool {
    hay.iter().any(|h| deep_equal(needle, h))
}

pub(crate) fn uniq(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find uniq on type {k}"))?;
    let mut out: Vec<Value> = Vec::new();
    for it in items {
        if !in_list(&out, &it) {
            out.push(it);
        }
    }
    Ok(list_any_appended(out))
}

pub(crate) fn without(a: &[Value]) -> R {
    let items = list_or_panic(arg(a, 0)?, |k| format!("Cannot find without on type {k}"))?;
    let omit = a.get(1..).unwrap_or_default();
    Ok(list_any_appended(
        items.into_iter().filter(|v| !in_list(omit, v)).collect(),
    ))
}

pub(crate) fn has(a: &[Value]) -> R {
    let needle = arg(a, 0)?;
    let hay = arg(a, 1)?;
    if matches!(hay, Value::Nil) {
        return Ok(Value::Bool(false));
    }
    let items = list_or_panic(hay, |k| format!("Cannot find has on type {k}"))?;
    Ok(Value::Bool(in_list(&items, needle)))
}

pub(crate) fn slice(a: &[Value]) -> R {
    let l = arg(a, 0)?;
    let items = list_or_panic(l, |k| {
        format!("list should be type of slice or array but {k}")
    })?;
    let len = items.len() as i64;
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map(to_int64).unwrap_or(0);
    let end = a.get(2).map(to_int64).unwrap_or(len);
    // reflect.Value.Slice: the end may reach the capacity.
    let cap = match l {
        Value::Slice(s) => s.cap() as i64,
        _ => len,
    };
    if start < 0 || end < start || end > cap {
        return Err(FuncError::new(
            "reflect.Value.Slice: slice index out of bounds",
        ));
    }
    Ok(match l {
        Value::Bytes(b) => Value::bytes(&b[start as usize..end as usize]),
        Value::Slice(s) => match s.reslice(start as usize, end as usize, None) {
            Some(part) => Value::Slice(Arc::new(part)),
            None => {
                return Err(FuncError::new(
                    "reflect.Value.Slice: slice index out of bounds",
                ));
            }
        },
        _ => list_any(items[start as usize..end as usize].to_vec()),
    })
}

pub(crate) fn concat(a: &[Value]) -> R {
    let mut out: Vec<Value> = Vec::new();
    for l in a {
        out.extend(list_or_panic(l, |k| {
            format!("Cannot concat type {k} as list")
        })?);
    }
    if out.is_empty() {
        return Ok(Value::NilSlice(Type::Any));
    }
    Ok(list_any_appended(out))
}

/// `until`/`untilStep`'s loop, with a size limit in place of Go's memory
/// exhaustion.
pub(crate) fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let mut v = Vec::new();
    let limit = MAX_OUTPUT / 16;
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        while i > stop {
            if v.len() >= limit {
                return Err(too_large("untilStep"));
            }
            v.push(i);
            i = i.wrapping_add(step);
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    while i < stop {
        if v.len() >= limit {
            return Err(too_large("untilStep"));
        }
        v.push(i);
        i = i.wrapping_add(step);
    }
    Ok(v)
}

// ---- dicts ----

/// Sprig's `set`: changes the map in place (every holder sees it) and
/// returns it.
pub(crate) fn set(a: &[Value]) -> R {
    let Some(m) = arg_map(a, 0)? else {
        return Err(FuncError::new("assignment to entry in nil map"));
    };
    let key = arg_str(a, 1)?.into_owned();
    let val = arg(a, 2)?.clone();
    if let Value::Map(v) = &val
        && Arc::ptr_eq(v, m)
    {
        // Go would build the cycle and overflow its stack printing it.
        return Err(FuncError::new(
            "kapsel: a map cannot be set as its own entry",
        ));
    }
    m.entries_mut().insert(key, val);
    Ok(Value::Map(m.clone()))
}

/// Sprig's `unset`: deletes in place and returns the map.
pub(crate) fn unset(a: &[Value]) -> R {
    let Some(m) = arg_map(a, 0)? else {
        return Ok(arg(a, 0)?.clone());
    };
    m.entries_mut().remove(&*arg_str(a, 1)?);
    Ok(Value::Map(m.clone()))
}

pub(crate) fn has_key(a: &[Value]) -> R {
    let key = &*arg_str(a, 1)?;
    Ok(Value::Bool(
        arg_map(a, 0)?.is_some_and(|m| m.entries().contains_key(key)),
    ))
}

pub(crate) fn pluck(a: &[Value]) -> R {
    let key = &*arg_str(a, 0)?;
    let mut out = Vec::new();
    for i in 1..a.len() {
        if let Some(v) = arg_map(a, i)?.and_then(|m| m.get(key)) {
            out.push(v);
        }
    }
    Ok(list_any_appended(out))
}

/// `keys`: Go lists each map's keys in random order; Kapsel sorts them.
pub(crate) fn keys(a: &[Value]) -> R {
    let mut out = Vec::new();
    for i in 0..a.len() {
        if let Some(m) = arg_map(a, i)? {
            out.extend(m.entries().keys().cloned());
        }
    }
    Ok(Value::appended(
        Type::String,
        out.into_iter().map(Value::from).collect(),
    ))
}

pub(crate) fn pick(a: &[Value]) -> R {
    let d = map_entries(a, 0)?;
    let mut out = BTreeMap::new();
    for i in 1..a.len() {
        let k = &*arg_str(a, i)?;
        if let Some(v) = d.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Ok(map_any(out))
}

pub(crate) fn omit(a: &[Value]) -> R {
    let mut d = map_entries(a, 0)?;
    for i in 1..a.len() {
        d.remove(&*arg_str(a, i)?);
    }
    Ok(map_any(d))
}

pub(crate) fn dict(a: &[Value]) -> R {
    let mut out = BTreeMap::new();
    for pair in a.chunks(2) {
        let key = strval(&pair[0]).to_str_lossy().into_owned();
        let val = pair.get(1).cloned().unwrap_or_else(|| Value::string(""));
        out.insert(key, val);
    }
    Ok(map_any(out))
}

/// Go's `SetMapIndex`: a value read from a map with element type `src_elem`
/// can be stored in one with element type `dst_elem` only if the types agree or
/// the destination holds `interface{}`.
fn set_index(dst: &Map, src_elem: &Type, key: &str, val: Value) -> Result<(), FuncError> {
    if dst.elem != Type::Any && *src_elem != dst.elem {
        return Err(FuncError::new(format!(
            "reflect.Value.SetMapIndex: value of type {src_elem} is not assignable to type {}",
            dst.elem
        )));
    }
    dst.entries_mut().insert(key.to_string(), val);
    Ok(())
}

/// mergo v0.3.12's `deepMerge` of one `map[string]T` into another, in place
/// (nested maps too, as Go does).
fn merge_maps(dst: &Map, src: &Map, overwrite: bool, depth: usize) -> Result<(), FuncError> {
    if depth > MAX_MERGE_DEPTH {
        return Err(FuncError::new(
            "kapsel: merge of maps nested deeper than 100 levels (a map containing itself?)",
        ));
    }
    let src_elem = &src.elem;
    for (k, sv) in src.snapshot() {
        let src_nil = match sv {
            Value::Nil => true,
            Value::NilMap(_) | Value::NilSlice(_) | Value::NilPtr(_) | Value::NilBytes => {
                *src_elem != Type::Any
            }
            _ => false,
        };
        if src_nil {
            if overwrite {
                set_index(dst, src_elem, &k, sv.clone())?;
            }
            continue;
        }
        let dv = dst.get(&k);
        let src_is_map = matches!(sv, Value::Map(_) | Value::NilMap(_));
        let src_is_slice = matches!(
            sv,
            Value::Slice(_) | Value::NilSlice(_) | Value::Bytes(_) | Value::NilBytes
        );
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&sv, &dv) {
            merge_maps(dm, sm, overwrite, depth + 1)?;
        }
        match &dv {
            Some(d) if !empty(d) && (src_is_map || src_is_slice) => {
                if src_is_slice && overwrite {
                    set_index(dst, src_elem, &k, sv.clone())?;
                }
            }
            Some(d) if !(overwrite || empty(d)) => {}
            _ => set_index(dst, src_elem, &k, sv.clone())?,
        }
    }
    Ok(())
}

/// How deep `merge` follows nested maps (Go has no limit but would recurse
/// for ever on a map that contains itself).
const MAX_MERGE_DEPTH: usize = 100;

/// Sprig's `merge`/`mergeOverwrite`: merges into the first map in place and
/// returns it (a nil first map gives a new map).
fn merge_impl(a: &[Value], overwrite: bool) -> R {
    let dst = match arg_map(a, 0)? {
        Some(m) => m.clone(),
        None => Arc::new(Map::new(Type::Any, BTreeMap::new())),
    };
    for i in 1..a.len() {
        if let Some(src) = arg_map(a, i)? {
            merge_maps(&dst, src, overwrite, 0)?;
        }
    }
    Ok(Value::Map(dst))
}

pub(crate) fn merge(a: &[Value]) -> R {
    merge_impl(a, false)
}

pub(crate) fn merge_overwrite(a: &[Value]) -> R {
    merge_impl(a, true)
}

/// `values`: Go gives random order; Kapsel gives key order.
pub(crate) fn values(a: &[Value]) -> R {
    Ok(list_any_appended(
        map_entries(a, 0)?.into_values().collect(),
    ))
}

pub(crate) fn deep_copy(a: &[Value]) -> R {
    match arg(a, 0)? {
        Value::Nil => Err(FuncError::new(
            "reflect: call of reflect.Value.Type on zero Value",
        )),
        v => copy_structure(v, 0),
    }
}

/// How deep [`copy_structure`] follows nested values (Go recurses until its
/// stack overflows on a map that contains itself).
const MAX_COPY_DEPTH: usize = 1000;

/// `copystructure.Copy` (v1.0.0), what sprig's `deepCopy` does: maps and
/// slices are new (a slice keeps its length and capacity, the array past
/// the length is zero), pointers point to copies, a struct's unexported
/// fields are left zero (Go may not set them: a `*semver.Version` copies as
/// `0.0.0`), `time.Time` is copied as it is.
fn copy_structure(v: &Value, depth: usize) -> R {
    if depth > MAX_COPY_DEPTH {
        return Err(FuncError::new(
            "kapsel: deepCopy: value nested too deeply (does it contain itself?)",
        ));
    }
    Ok(match v {
        Value::Map(m) => {
            let mut entries = BTreeMap::new();
            for (k, x) in m.snapshot() {
                entries.insert(k, copy_structure(&x, depth + 1)?);
            }
            Value::map(m.elem.clone(), entries)
        }
        Value::Slice(s) => {
            let items = s
                .items()
                .iter()
                .map(|x| copy_structure(x, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Slice(Arc::new(Slice::with_cap(
                s.elem.clone(),
                items,
                s.cap(),
                Vec::new(),
            )))
        }
        Value::Ptr(inner) => Value::ptr(copy_structure(inner, depth + 1)?),
        Value::Struct(st) => {
            let mut fields = Vec::with_capacity(st.fields.len());
            for (fd, x) in st.ty.fields.iter().zip(st.fields.iter()) {
                let exported = fd.name.chars().next().is_some_and(char::is_uppercase);
                fields.push(if exported {
                    copy_structure(x, depth + 1)?
                } else {
                    fd.ty.zero()
                });
            }
            Value::Struct(Arc::new(Struct {
                ty: st.ty.clone(),
                fields,
            }))
        }
        other => other.clone(),
    })
}

// ---- defaults ----

pub(crate) fn dfault(a: &[Value]) -> R {
    let d = arg(a, 0)?;
    match a.get(1) {
        Some(g) if !empty(g) => Ok(g.clone()),
        _ => Ok(d.clone()),
    }
}

pub(crate) fn is_empty(a: &[Value]) -> R {
    Ok(Value::Bool(empty(arg(a, 0)?)))
}

pub(crate) fn coalesce(a: &[Value]) -> R {
    Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
}

/// Replaces the values whose Go type has its own `MarshalJSON` but which Kapsel
/// models as plain data (`*semver.Version`, marshalled as its string).
fn json_ready(v: &Value) -> Value {
    if let Some(s) = crate::conv::semver_string(v) {
        return Value::string(s);
    }
    match v {
        Value::Slice(s) => Value::slice(s.elem.clone(), s.items().iter().map(json_ready).collect()),
        Value::Map(m) => Value::map(
            m.elem.clone(),
            m.entries()
                .iter()
                .map(|(k, v)| (k.clone(), json_ready(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn to_json(a: &[Value]) -> R {
    Ok(Value::string(
        gojson::marshal(&json_ready(arg(a, 0)?)).unwrap_or_default(),
    ))
}

pub(crate) fn to_pretty_json(a: &[Value]) -> R {
    Ok(Value::string(
        gojson::marshal_indent(&json_ready(arg(a, 0)?), "", "  ").unwrap_or_default(),
    ))
}

pub(crate) fn ternary(a: &[Value]) -> R {
    let vt = arg(a, 0)?;
    let vf = arg(a, 1)?;
    Ok(if arg_bool(a, 2)? {
        vt.clone()
    } else {
        vf.clone()
    })
}

// ---- reflection ----

pub(crate) fn type_of(a: &[Value]) -> R {
    Ok(Value::string(type_name(arg(a, 0)?)))
}

pub(crate) fn type_is(a: &[Value]) -> R {
    Ok(Value::Bool(*arg_str(a, 0)? == type_name(arg(a, 1)?)))
}

pub(crate) fn type_is_like(a: &[Value]) -> R {
    let target = &*arg_str(a, 0)?;
    let t = type_name(arg(a, 1)?);
    Ok(Value::Bool(t == target || t == format!("*{target}")))
}

pub(crate) fn kind_of(a: &[Value]) -> R {
    Ok(Value::string(kind_name(arg(a, 0)?)))
}

pub(crate) fn kind_is(a: &[Value]) -> R {
    Ok(Value::Bool(&*arg_str(a, 0)? == kind_name(arg(a, 1)?)))
}

pub(crate) fn deep_equal_fn(a: &[Value]) -> R {
    Ok(Value::Bool(deep_equal(arg(a, 0)?, arg(a, 1)?)))
}
