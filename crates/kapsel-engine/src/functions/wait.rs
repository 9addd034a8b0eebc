//! Wait (deprecated) and WaitV2: poll objects until conditions hold, as
//! Kanister's `pkg/function/wait.go` and `waitv2.go` do.
//!
//! Both take `timeout` and `conditions: {anyOf: [...], allOf: [...]}` of
//! `{objectReference, condition}`; the object references are rendered with
//! the phase's parameters. Each poll: any `anyOf` condition true → done;
//! else all `allOf` conditions true (and at least one) → done. Evaluation
//! errors (object missing, a missing key) are retried; at the timeout the
//! error names the last one.
//!
//! - **Wait** renders `timeout`, replaces each `{ $.jsonpath }` in a
//!   condition with the Kubernetes JSONPath value on the object, then runs
//!   the text as a Go template with sprig and no data; true when it prints
//!   `true`.
//! - **WaitV2** runs the condition as kubectl's go-template printer does on
//!   the object (its JSON, numbers as float64; kubectl's `exists` and
//!   `base64decode`; missing keys print `<no value>`); `timeout` is not
//!   rendered.
//!
//! Unlike Kanister, a condition that does not parse fails at once with the
//! parse error (Kanister's WaitV2 treats it as false until the timeout).

use std::time::Duration;

use kapsel_govalue::{Func, FuncError, FuncMap, Param, Value};
use kapsel_template::{MissingKey, Options, Template};

use super::{Backoff, kube_api, resource_ref};
use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, KubeApi, ResourceRef};

/// `Wait` (deprecated in Kanister for WaitV2).
#[derive(Debug, Clone, Copy)]
pub struct Wait;

/// `WaitV2`.
#[derive(Debug, Clone, Copy)]
pub struct WaitV2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    JsonPath,
    GoTemplate,
}

struct Condition {
    object: ResourceRef,
    /// What the user wrote (for messages).
    source: String,
    eval: Eval,
}

enum Eval {
    /// WaitV2: a parsed kubectl go-template.
    Template(Box<Template>),
    /// Wait: the text with `{ $... }` still in it.
    JsonPath(String),
}

impl Function for Wait {
    fn name(&self) -> &'static str {
        "Wait"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(wait(cx, args, "Wait", Flavour::JsonPath))
    }
}

impl Function for WaitV2 {
    fn name(&self) -> &'static str {
        "WaitV2"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(wait(cx, args, "WaitV2", Flavour::GoTemplate))
    }
}

/// kubectl's go-template printer functions besides Go's builtins.
fn kubectl_funcs() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert(Func {
        name: "exists",
        params: &[Param::Any],
        variadic: Some(Param::Any),
        call: exists,
    });
    m.insert(Func {
        name: "base64decode",
        params: &[Param::String],
        variadic: None,
        call: base64decode,
    });
    m
}

/// kubectl's `exists ITEM INDEX...`: whether the path of map keys and list
/// indexes leads to a non-nil value.
fn exists(a: &[Value]) -> Result<Value, FuncError> {
    fn is_nil(v: &Value) -> bool {
        matches!(
            v,
            Value::Nil | Value::NilBytes | Value::NilSlice(_) | Value::NilMap(_) | Value::NilPtr(_)
        )
    }
    let Some(first) = a.first() else {
        return Ok(Value::Bool(false));
    };
    let mut cur = first.clone();
    for idx in &a[1..] {
        if is_nil(&cur) {
            return Ok(Value::Bool(false));
        }
        let next = match (&cur, idx) {
            (Value::Map(m), Value::String(k)) => m.get(&k.to_str_lossy()).unwrap_or(Value::Nil),
            (Value::Slice(s), Value::Int(i) | Value::Int64(i)) => {
                match usize::try_from(*i).ok().and_then(|i| s.get(i)) {
                    Some(v) => v,
                    None => return Ok(Value::Bool(false)),
                }
            }
            _ => return Ok(Value::Bool(false)),
        };
        cur = next;
    }
    Ok(Value::Bool(!is_nil(&cur)))
}

fn base64decode(a: &[Value]) -> Result<Value, FuncError> {
    use base64::Engine as _;
    let s = match a.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(|b| Value::string(String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| FuncError::new(format!("base64 decode failed: {e}")))
}

static KUBECTL: std::sync::LazyLock<Options> = std::sync::LazyLock::new(|| Options {
    funcs: kubectl_funcs(),
    missing_key: MissingKey::Default,
});

static SPRIG_ZERO: std::sync::LazyLock<Options> = std::sync::LazyLock::new(|| Options {
    funcs: Options::kanister().funcs,
    missing_key: MissingKey::Zero,
});

fn parse_conditions(
    cx: &Context<'_>,
    args: &Args,
    function: &str,
    flavour: Flavour,
) -> Result<(Vec<Condition>, Vec<Condition>), FunctionError> {
    let bad = |message: String| FunctionError::Arg {
        arg: "conditions".to_string(),
        message,
    };
    let Some(serde_json::Value::Object(conds)) = args.get("conditions") else {
        return Err(bad(
            "missing, or not a map with anyOf and/or allOf".to_string()
        ));
    };
    let mut lists = [Vec::new(), Vec::new()];
    for (key, list) in conds {
        let slot = match key.as_str() {
            "anyOf" => 0,
            "allOf" => 1,
            other => return Err(bad(format!("unknown key {other:?} (anyOf, allOf)"))),
        };
        let items = match list {
            serde_json::Value::Array(a) => a.as_slice(),
            serde_json::Value::Null => &[],
            _ => return Err(bad(format!("{key} is not a list"))),
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let source = item
                .get("condition")
                .and_then(|c| c.as_str())
                .unwrap_or_default()
                .to_string();
            let raw = item
                .get("objectReference")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let object = resource_ref(&raw, Some(cx.render))
                .map_err(|e| bad(format!("{at}.objectReference: {e}")))?;
            let eval = match flavour {
                Flavour::GoTemplate => Eval::Template(Box::new(
                    Template::parse(function, &source, &KUBECTL.funcs)
                        .map_err(|e| bad(format!("{at}.condition: {e}")))?,
                )),
                Flavour::JsonPath => Eval::JsonPath(source.clone()),
            };
            lists[slot].push(Condition {
                object,
                source,
                eval,
            });
        }
    }
    let [any, all] = lists;
    Ok((any, all))
}

/// Replaces each `{ $path }` with its JSONPath value on `object`.
fn substitute_jsonpath(text: &str, object: &serde_json::Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let trimmed = after.trim_start();
        let Some(path) = trimmed.strip_prefix('$') else {
            out.push_str(&rest[..=start]);
            rest = after;
            continue;
        };
        let Some(end) = path.find('}') else {
            out.push_str(rest);
            return Ok(out);
        };
        out.push_str(&rest[..start]);
        let expr = format!("{{{}}}", path[..end].trim());
        out.push_str(&super::jsonpath::print(&expr, object)?);
        rest = &path[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

async fn evaluate(kube: &dyn KubeApi, c: &Condition) -> Result<bool, String> {
    let object = kube.get(&c.object).await.map_err(|e| e.to_string())?;
    let printed = match &c.eval {
        Eval::Template(t) => t
            .execute(&Value::from_json(&object), &KUBECTL)
            .map_err(|e| e.to_string())?,
        Eval::JsonPath(text) => {
            let resolved = substitute_jsonpath(text, &object)?;
            let t = Template::parse("config", &resolved, &SPRIG_ZERO.funcs)
                .map_err(|e| e.to_string())?;
            t.execute(&Value::Nil, &SPRIG_ZERO)
                .map_err(|e| e.to_string())?
        }
    };
    Ok(printed.trim() == "true")
}

async fn wait(
    cx: Context<'_>,
    args: &Args,
    function: &'static str,
    flavour: Flavour,
) -> Result<Outputs, FunctionError> {
    let kube = kube_api(&cx, function, "the Kubernetes API")?;
    let timeout = arg::string(args, "timeout")?;
    let timeout = match flavour {
        // Wait renders its timeout; WaitV2 takes it as written.
        Flavour::JsonPath => (cx.render)(&timeout).map_err(FunctionError::Failed)?,
        Flavour::GoTemplate => timeout,
    };
    let timeout = crate::runner::parse_duration(&timeout).map_err(|e| FunctionError::Arg {
        arg: "timeout".to_string(),
        message: format!("Failed to parse timeout: {e}"),
    })?;
    let (any, all) = parse_conditions(&cx, args, function, flavour)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = Backoff::new();
    let mut last_error: Option<String>;
    loop {
        match poll_once(kube, &any, &all).await {
            Ok(true) => return Ok(Outputs::new()),
            Ok(false) => last_error = None,
            Err(e) => last_error = Some(e),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        let pause = backoff.next().min(deadline - now);
        tokio::time::sleep(pause).await;
    }
    let conds: Vec<String> = any
        .iter()
        .chain(all.iter())
        .map(|c| format!("{} on {}", c.source.trim(), c.object))
        .collect();
    Err(FunctionError::Failed(cx.redactor.redact(&format!(
        "Failed to wait for the condition to be met within {}: {}{}",
        humanize(timeout),
        conds.join("; "),
        last_error
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default()
    ))))
}

async fn poll_once(
    kube: &dyn KubeApi,
    any: &[Condition],
    all: &[Condition],
) -> Result<bool, String> {
    for c in any {
        if evaluate(kube, c).await? {
            return Ok(true);
        }
    }
    if all.is_empty() {
        return Ok(false);
    }
    for c in all {
        if !evaluate(kube, c).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{s:.3}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_substitution_as_kanister() {
        let o = json!({"status": {"phase": "Running", "n": 2}});
        assert_eq!(
            substitute_jsonpath(
                r#"{{ if eq "{ $.status.phase }" "Running" }}true{{ end }}"#,
                &o
            )
            .unwrap(),
            r#"{{ if eq "Running" "Running" }}true{{ end }}"#
        );
        assert_eq!(substitute_jsonpath("{$.status.n}", &o).unwrap(), "2");
        assert!(substitute_jsonpath("{ $.status.none }", &o).is_err());
    }

    #[test]
    fn kubectl_functions() {
        let t = Template::parse(
            "t",
            r#"{{ if exists . "status" "conditions" }}yes{{ else }}no{{ end }} {{ base64decode "aGk=" }} {{ .missing }}"#,
            &KUBECTL.funcs,
        )
        .unwrap();
        let v = Value::from_json(&json!({"status": {"conditions": [1]}}));
        assert_eq!(t.execute(&v, &KUBECTL).unwrap(), "yes hi <no value>");
        let v = Value::from_json(&json!({"status": {}}));
        assert!(t.execute(&v, &KUBECTL).unwrap().starts_with("no"));
        // JSON numbers are float64 to kubectl's printer, as in Go
        let t = Template::parse("t", "{{ eq .n 1.0 }}", &KUBECTL.funcs).unwrap();
        assert_eq!(
            t.execute(&Value::from_json(&json!({"n": 1})), &KUBECTL)
                .unwrap(),
            "true"
        );
    }
}
