#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Compares every case of `tests/data/cases.txt` with what Go's sprig gave for
//! it (`tests/data/expected.jsonl`, written by `tests/gocheck`).
//!
//! The cases are small templates; this file evaluates them with a minimal
//! stand-in for the template engine (literals, `.field` data, nested calls,
//! pipelines, field access) that converts arguments to the declared parameter
//! types the way `text/template` does, so only the functions are under test.

use std::collections::BTreeMap;
use std::sync::Arc;

use kapsel_govalue::{FuncError, FuncMap, GoTime, Param, TimeLoc, Type, Value, gofmt, gotime};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Int(i64),
    Float(f64),
    Ident(String),
    Field(String),
    Open,
    Close,
    Pipe,
}

fn lex(src: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
                // field access on a parenthesised value
                while i < b.len() && b[i] == '.' {
                    let start = i + 1;
                    i += 1;
                    while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                        i += 1;
                    }
                    out.push(Tok::Field(b[start..i].iter().collect()));
                }
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while b[i] != '"' {
                    if b[i] == '\\' {
                        i += 1;
                        match b[i] {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'a' => s.push('\u{7}'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'v' => s.push('\u{b}'),
                            'x' => {
                                let hex: String = b[i + 1..i + 3].iter().collect();
                                s.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                                i += 2;
                            }
                            'u' => {
                                let hex: String = b[i + 1..i + 5].iter().collect();
                                s.push(
                                    char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap(),
                                );
                                i += 4;
                            }
                            other => s.push(other),
                        }
                    } else {
                        s.push(b[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '.' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Field(format!(
                    ".{}",
                    b[start..i].iter().collect::<String>()
                )));
            }
            _ if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                    i += 1;
                }
                let text: String = b[start..i].iter().collect();
                if text.contains('.') || text.contains('e') {
                    out.push(Tok::Float(text.parse().unwrap()));
                } else if text.len() > 1 && text.starts_with('0') {
                    out.push(Tok::Int(i64::from_str_radix(&text[1..], 8).unwrap()));
                } else {
                    out.push(Tok::Int(text.parse().unwrap()));
                }
            }
            _ => {
                let start = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                assert!(i > start, "cannot lex {src:?} at {i}");
                out.push(Tok::Ident(b[start..i].iter().collect()));
            }
        }
    }
    out
}

struct Eval<'a> {
    funcs: &'a FuncMap,
    data: BTreeMap<String, Value>,
    toks: Vec<Tok>,
    pos: usize,
}

fn convert(v: Value, p: Param) -> Value {
    match (p, v) {
        (Param::Float64, Value::Int(n)) => Value::Float(n as f64),
        (Param::Int64, Value::Int(n)) => Value::Int64(n),
        (_, v) => v,
    }
}

fn field(v: &Value, name: &str) -> Value {
    match v {
        Value::Ptr(inner) => field(inner, name),
        // `*semver.Version`'s accessor methods read its unexported fields.
        Value::Struct(s) => {
            let name = kapsel_sprig::semver::ACCESSORS
                .iter()
                .find(|(m, _)| *m == name)
                .map_or(name, |(_, f)| *f);
            s.field(name).cloned().unwrap()
        }
        Value::Map(m) => m.get(name).unwrap_or(Value::Nil),
        other => panic!("no field {name} on {other:?}"),
    }
}

impl Eval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn pipeline(&mut self) -> Result<Value, FuncError> {
        let mut v = self.command(None)?;
        while self.peek() == Some(&Tok::Pipe) {
            self.pos += 1;
            v = self.command(Some(v))?;
        }
        Ok(v)
    }

    fn operand(&mut self) -> Result<Value, FuncError> {
        let t = self.toks[self.pos].clone();
        self.pos += 1;
        let mut v = match t {
            Tok::Str(s) => Value::string(s),
            Tok::Int(n) => Value::Int(n),
            Tok::Float(f) => Value::Float(f),
            Tok::Field(f) => self.data[f.trim_start_matches('.')].clone(),
            Tok::Open => {
                let v = self.pipeline()?;
                assert_eq!(self.toks[self.pos], Tok::Close);
                self.pos += 1;
                v
            }
            Tok::Ident(id) => match id.as_str() {
                "nil" => Value::Nil,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => self.call(&id, Vec::new())?,
            },
            other => panic!("unexpected {other:?}"),
        };
        while let Some(Tok::Field(f)) = self.peek().cloned() {
            if f.starts_with('.') {
                break;
            }
            self.pos += 1;
            v = field(&v, &f);
        }
        Ok(v)
    }

    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, FuncError> {
        let f = self
            .funcs
            .get(name)
            .unwrap_or_else(|| panic!("no function {name}"));
        let mut conv = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            let p = f
                .params
                .get(i)
                .copied()
                .or(f.variadic)
                .unwrap_or_else(|| panic!("too many args for {name}"));
            conv.push(convert(a, p));
        }
        assert!(conv.len() >= f.params.len(), "too few args for {name}");
        (f.call)(&conv)
    }

    fn command(&mut self, piped: Option<Value>) -> Result<Value, FuncError> {
        if let Some(Tok::Ident(id)) = self.peek().cloned().filter(
            |t| !matches!(t, Tok::Ident(i) if matches!(i.as_str(), "nil" | "true" | "false")),
        ) {
            self.pos += 1;
            let mut args = Vec::new();
            while !matches!(self.peek(), None | Some(Tok::Pipe) | Some(Tok::Close)) {
                args.push(self.operand()?);
            }
            args.extend(piped);
            return self.call(&id, args);
        }
        self.operand()
    }
}

fn data() -> BTreeMap<String, Value> {
    let mut d = BTreeMap::new();
    d.insert("bytes".into(), Value::bytes(&b"hi"[..]));
    d.insert(
        "strs".into(),
        Value::slice(Type::String, vec!["b".into(), "a".into(), "b".into()]),
    );
    d.insert("nilmap".into(), Value::NilMap(Type::Any));
    d.insert(
        "t".into(),
        Value::Time(Arc::new(GoTime {
            unix_secs: 1_577_934_245,
            nanos: 6,
            offset_secs: 0,
            zone_name: "UTC".into(),
            loc: TimeLoc::Utc,
        })),
    );
    d.insert(
        "m".into(),
        Value::map(
            Type::Any,
            BTreeMap::from([
                ("a".to_string(), Value::Int(1)),
                ("b".to_string(), "x".into()),
            ]),
        ),
    );
    d.insert(
        "ss".into(),
        Value::map(
            Type::String,
            BTreeMap::from([("k".to_string(), "v".into())]),
        ),
    );
    d.insert("n64".into(), Value::Int64(42));
    d.insert("f".into(), Value::Float(2.5));
    d
}

/// What `text/template` prints for a final value.
fn print(v: &Value) -> String {
    if let Some(s) = kapsel_sprig::stringer(v) {
        return s;
    }
    match v {
        Value::Nil => "<no value>".to_string(),
        Value::Ptr(inner) => print(inner),
        Value::Time(t) => gotime::to_string(t),
        other => gofmt::format_v(other),
    }
}

#[test]
fn go_cases() {
    let funcs = kapsel_sprig::txt_func_map();
    // KAPSEL_SPRIG_CASES / KAPSEL_SPRIG_EXPECTED point at other files (for
    // differential runs with generated cases).
    let cases = std::env::var("KAPSEL_SPRIG_CASES")
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|_| include_str!("data/cases.txt").to_string());
    let expected_text = std::env::var("KAPSEL_SPRIG_EXPECTED")
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_else(|_| include_str!("data/expected.jsonl").to_string());
    let expected: Vec<serde_json::Value> = expected_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let templates: Vec<&str> = cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(templates.len(), expected.len(), "regenerate expected.jsonl");
    // The zone cases were recorded on a machine with /usr/share/zoneinfo; Go
    // (and Kapsel) fall back to UTC without it.
    let have_zoneinfo = std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin").exists();
    let mut failures = Vec::new();
    for (tpl, exp) in templates.iter().zip(&expected) {
        assert_eq!(exp["t"].as_str(), Some(*tpl));
        if !have_zoneinfo && (tpl.contains("InZone") || tpl.contains("in_zone")) {
            continue;
        }
        let inner = tpl
            .trim()
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim();
        let mut ev = Eval {
            funcs: &funcs,
            data: data(),
            toks: lex(inner),
            pos: 0,
        };
        let got = match ev.pipeline() {
            Ok(v) => serde_json::json!({"t": tpl, "out": print(&v)}),
            Err(e) => serde_json::json!({"t": tpl, "err": e.0}),
        };
        if &got != exp {
            failures.push(format!("{tpl}\n   go: {exp}\n  got: {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        templates.len(),
        failures.join("\n")
    );
}
