//! Parses arbitrary UTF-8 as a template and executes it the way Kanister does
//! (sprig functions, `missingkey=error`) against a small fixed data value. Any
//! panic is a bug: bad templates must produce errors.

#![no_main]

use std::sync::LazyLock;

use std::collections::BTreeMap;

use kapsel_govalue::{Type, Value};
use kapsel_template::{Options, Template, field_references};
use libfuzzer_sys::fuzz_target;

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::map(
        Type::Any,
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn list(items: Vec<Value>) -> Value {
    Value::slice(Type::Any, items)
}

/// JSON-like data, as Go's encoding/json decodes it (numbers are float64).
static DATA: LazyLock<Value> = LazyLock::new(|| {
    let s = |x: &str| Value::string(x);
    map(vec![
        ("s", s("hello")),
        ("n", Value::Float(42.0)),
        ("f", Value::Float(3.5)),
        ("z", Value::Float(0.0)),
        ("t", Value::Bool(true)),
        ("nil", Value::Nil),
        ("l", list(vec![s("a"), s("b"), s("c")])),
        ("e", list(vec![])),
        (
            "mixed",
            list(vec![
                Value::Float(1.0),
                s("two"),
                Value::Nil,
                map(vec![("k", s("v"))]),
                list(vec![Value::Float(1.0)]),
            ]),
        ),
        (
            "m",
            map(vec![
                ("a", Value::Float(1.0)),
                ("b", s("two")),
                ("c", list(vec![Value::Float(1.0), Value::Float(2.0)])),
                ("d", map(vec![("x", s("y"))])),
            ]),
        ),
        (
            "Phases",
            map(vec![(
                "p",
                map(vec![
                    ("Output", map(vec![("k", s("v"))])),
                    (
                        "Secrets",
                        map(vec![(
                            "s",
                            map(vec![("Data", map(vec![("password", s("cHc="))]))]),
                        )]),
                    ),
                ]),
            )]),
        ),
    ])
});

static OPTS: LazyLock<Options> = LazyLock::new(Options::kanister);

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let opts = &*OPTS;
    if let Ok(t) = Template::parse("config", src, &opts.funcs) {
        let _ = field_references(&t);
        let _ = t.execute(&DATA, opts);
    }
});
