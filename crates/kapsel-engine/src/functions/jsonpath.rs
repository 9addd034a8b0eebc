//! Kubernetes JSONPath (client-go `util/jsonpath`, as `kubectl -o jsonpath`
//! and Kanister's `Wait` use it) for one `{...}` expression: fields
//! (`.a`, `['a']`), recursive descent (`..a`), wildcards (`.*`, `[*]`),
//! indexes and slices (`[0]`, `[-1]`, `[1:3]`, `[::2]`), unions (`['a','b']`,
//! `[0,2]`) and filters (`[?(@.type=="Ready")]`, `[?(@.x)]`, `==`, `!=`, `<`,
//! `<=`, `>`, `>=`). Missing keys are errors, as with client-go's default.
//! Results print as client-go prints them: strings raw, maps and lists as
//! compact JSON, several results separated by a space.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Recursive(String),
    Wildcard,
    Index(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Fields(Vec<String>),
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Operand,
    op: Option<(String, Operand)>,
}

/// Evaluates `expr` (`{.status.phase}`, `{$.a[0].b}`; the braces optional) on
/// `data` and prints the result as client-go does.
pub fn print(expr: &str, data: &Value) -> Result<String, String> {
    let steps = parse(expr)?;
    let results = eval(&steps, vec![data])?;
    let mut out = String::new();
    for (i, v) in results.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&text(v));
    }
    Ok(out)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Go's `%v` of a float64 (`%g` with the shortest representation).
fn go_float(f: f64) -> String {
    if f != 0.0 && (f.abs() >= 1e21 || f.abs() < 1e-4) {
        let s = format!("{f:e}");
        // Rust: 1e21, 1.5e-5; Go: 1e+21, 1.5e-05
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{f}")
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn parse(expr: &str) -> Result<Vec<Step>, String> {
    let t = expr.trim();
    let t = match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(inner) => inner.trim(),
        None => t,
    };
    let t = t.strip_prefix('$').unwrap_or(t);
    let mut p = Parser {
        s: t.as_bytes(),
        i: 0,
    };
    let steps = p.steps(false)?;
    if p.i < p.s.len() {
        return Err(format!("unrecognized character in action: {:?}", &t[p.i..]));
    }
    Ok(steps)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn name(&mut self) -> String {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'\\' && self.s.get(self.i + 1) == Some(&b'.') {
                out.push(b'.');
                self.i += 2;
                continue;
            }
            if matches!(
                c,
                b'.' | b'[' | b']' | b'(' | b')' | b',' | b'=' | b'!' | b'<' | b'>'
            ) || c.is_ascii_whitespace()
            {
                break;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Steps until the end, or (in a filter) until an operator or `)`.
    fn steps(&mut self, in_filter: bool) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            if in_filter {
                self.skip_ws();
            }
            match self.peek() {
                None => break,
                Some(b'.') => {
                    self.i += 1;
                    if self.peek() == Some(b'.') {
                        self.i += 1;
                        let n = self.name();
                        steps.push(Step::Recursive(n));
                    } else if self.peek() == Some(b'*') {
                        self.i += 1;
                        steps.push(Step::Wildcard);
                    } else {
                        let n = self.name();
                        if !n.is_empty() {
                            steps.push(Step::Field(n));
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    steps.push(self.bracket()?);
                }
                Some(_) if in_filter => break,
                Some(c) => {
                    return Err(format!("unrecognized character in action: {:?}", c as char));
                }
            }
        }
        Ok(steps)
    }

    fn bracket(&mut self) -> Result<Step, String> {
        self.skip_ws();
        let close = |p: &mut Parser<'_>| -> Result<(), String> {
            p.skip_ws();
            if p.peek() == Some(b']') {
                p.i += 1;
                Ok(())
            } else {
                Err("unterminated array".to_string())
            }
        };
        match self.peek() {
            Some(b'*') => {
                self.i += 1;
                close(self)?;
                Ok(Step::Wildcard)
            }
            Some(b'?') => {
                self.i += 1;
                self.skip_ws();
                if self.peek() != Some(b'(') {
                    return Err("a filter must be written [?(...)]".to_string());
                }
                self.i += 1;
                let f = self.filter()?;
                self.skip_ws();
                if self.peek() != Some(b')') {
                    return Err("unclosed filter: missing )".to_string());
                }
                self.i += 1;
                close(self)?;
                Ok(Step::Filter(Box::new(f)))
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b',') {
                        self.i += 1;
                        self.skip_ws();
                        names.push(self.quoted()?);
                    } else {
                        break;
                    }
                }
                close(self)?;
                Ok(if names.len() == 1 {
                    Step::Field(names.remove(0))
                } else {
                    Step::Fields(names)
                })
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c != b']') {
                    self.i += 1;
                }
                let inner = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                close(self)?;
                let num = |t: &str| -> Result<Option<i64>, String> {
                    let t = t.trim();
                    if t.is_empty() {
                        Ok(None)
                    } else {
                        t.parse()
                            .map(Some)
                            .map_err(|_| format!("invalid array index {t:?}"))
                    }
                };
                if inner.contains(':') {
                    let parts: Vec<&str> = inner.split(':').collect();
                    if parts.len() > 3 {
                        return Err(format!("invalid array slice {inner:?}"));
                    }
                    Ok(Step::Slice(
                        num(parts[0])?,
                        num(parts.get(1).copied().unwrap_or(""))?,
                        num(parts.get(2).copied().unwrap_or(""))?,
                    ))
                } else {
                    let idx = inner
                        .split(',')
                        .map(|t| num(t)?.ok_or_else(|| "empty array index".to_string()))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Step::Index(idx))
                }
            }
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let Some(q) = self.peek() else {
            return Err("expected a quoted name".to_string());
        };
        if q != b'\'' && q != b'"' {
            return Err("expected a quoted name".to_string());
        }
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != q) {
            self.i += 1;
        }
        if self.peek() != Some(q) {
            return Err("unterminated quoted string".to_string());
        }
        let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(s)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.i += 1;
                Ok(Operand::Path(self.steps(true)?))
            }
            Some(b'$') => Err("a filter may only compare @ paths and literals".to_string()),
            Some(b'\'' | b'"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !c.is_ascii_whitespace() && c != b')')
                {
                    self.i += 1;
                }
                let t = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                match t.as_str() {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    _ => t
                        .parse::<i64>()
                        .map(Value::from)
                        .or_else(|_| {
                            t.parse::<f64>()
                                .ok()
                                .and_then(serde_json::Number::from_f64)
                                .map(Value::Number)
                                .ok_or(())
                        })
                        .map(Operand::Literal)
                        .map_err(|()| format!("unrecognized filter operand {t:?}")),
                }
            }
        }
    }

    fn filter(&mut self) -> Result<Filter, String> {
        let left = self.operand()?;
        self.skip_ws();
        let mut op = String::new();
        while let Some(c @ (b'=' | b'!' | b'<' | b'>')) = self.peek() {
            op.push(c as char);
            self.i += 1;
        }
        if op.is_empty() {
            return Ok(Filter { left, op: None });
        }
        if !matches!(op.as_str(), "==" | "!=" | "<" | "<=" | ">" | ">=") {
            return Err(format!("unrecognized filter operator {op:?}"));
        }
        let right = self.operand()?;
        Ok(Filter {
            left,
            op: Some((op, right)),
        })
    }
}

fn eval<'v>(steps: &[Step], mut cur: Vec<&'v Value>) -> Result<Vec<&'v Value>, String> {
    for step in steps {
        let mut next = Vec::new();
        for v in cur {
            match step {
                Step::Field(n) => match v {
                    Value::Object(m) => match m.get(n) {
                        Some(x) => next.push(x),
                        None => return Err(format!("{n} is not found")),
                    },
                    _ => return Err(format!("{n} is not found")),
                },
                Step::Fields(ns) => {
                    for n in ns {
                        match v.get(n) {
                            Some(x) => next.push(x),
                            None => return Err(format!("{n} is not found")),
                        }
                    }
                }
                Step::Recursive(n) => descend(v, n, &mut next),
                Step::Wildcard => match v {
                    Value::Object(m) => next.extend(m.values()),
                    Value::Array(a) => next.extend(a.iter()),
                    _ => {}
                },
                Step::Index(idx) => {
                    let Value::Array(a) = v else {
                        return Err(format!("{v} is not array or slice"));
                    };
                    for &i in idx {
                        let len = a.len() as i64;
                        let j = if i < 0 { i + len } else { i };
                        if j < 0 || j >= len {
                            return Err(format!(
                                "array index out of bounds: index {i}, length {len}"
                            ));
                        }
                        next.push(&a[j as usize]);
                    }
                }
                Step::Slice(start, end, stride) => {
                    let Value::Array(a) = v else {
                        return Err(format!("{v} is not array or slice"));
                    };
                    let len = a.len() as i64;
                    let clamp = |x: i64| {
                        let x = if x < 0 { x + len } else { x };
                        x.clamp(0, len)
                    };
                    let s = clamp(start.unwrap_or(0));
                    let e = clamp(end.unwrap_or(len));
                    let st = stride.unwrap_or(1);
                    if st <= 0 {
                        return Err("the stride of a slice must be positive".to_string());
                    }
                    let mut k = s;
                    while k < e {
                        next.push(&a[k as usize]);
                        k += st;
                    }
                }
                Step::Filter(f) => {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        Value::Object(m) => m.values().collect(),
                        _ => Vec::new(),
                    };
                    for item in items {
                        if matches(f, item)? {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    Ok(cur)
}

fn descend<'v>(v: &'v Value, name: &str, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(m) => {
            if let Some(x) = m.get(name) {
                out.push(x);
            }
            for x in m.values() {
                descend(x, name, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                descend(x, name, out);
            }
        }
        _ => {}
    }
}

fn operand<'v>(o: &'v Operand, item: &'v Value) -> Vec<&'v Value> {
    match o {
        // In a filter a missing key makes the item not match.
        Operand::Path(steps) => eval(steps, vec![item]).unwrap_or_default(),
        Operand::Literal(l) => vec![l],
    }
}

fn matches(f: &Filter, item: &Value) -> Result<bool, String> {
    let left = operand(&f.left, item);
    let Some((op, right)) = &f.op else {
        return Ok(!left.is_empty());
    };
    let right = operand(right, item);
    for l in &left {
        for r in &right {
            if compare(l, op, r) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn compare(l: &Value, op: &str, r: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match (op, ord) {
        ("==", Some(o)) => o == Ordering::Equal,
        ("!=", Some(o)) => o != Ordering::Equal,
        ("!=", None) => true,
        ("<", Some(o)) => o == Ordering::Less,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">", Some(o)) => o == Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::print;
    use serde_json::json;

    fn pod() -> serde_json::Value {
        json!({
            "metadata": {"name": "p", "labels": {"app": "db", "app.kubernetes.io/name": "x"}},
            "spec": {"containers": [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]},
            "status": {
                "phase": "Running",
                "replicas": 3,
                "ratio": 0.5,
                "ready": true,
                "conditions": [
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "False"}
                ]
            }
        })
    }

    #[test]
    fn what_kubectl_prints() {
        let p = pod();
        for (expr, want) in [
            ("{.status.phase}", "Running"),
            ("{$.status.phase}", "Running"),
            ("{ .status.phase }", "Running"),
            (".status.replicas", "3"),
            ("{.status.ratio}", "0.5"),
            ("{.status.ready}", "true"),
            ("{.spec.containers[0].name}", "a"),
            ("{.spec.containers[-1].name}", "b"),
            ("{.spec.containers[*].image}", "i1 i2"),
            ("{.spec.containers[0:1].name}", "a"),
            ("{.spec.containers[0,1].name}", "a b"),
            ("{..image}", "i1 i2"),
            ("{.metadata.labels['app.kubernetes.io/name']}", "x"),
            ("{.metadata.labels.app\\.kubernetes\\.io/name}", "x"),
            ("{.status.conditions[?(@.type==\"Ready\")].status}", "False"),
            (
                "{.status.conditions[?(@.type!='Ready')].type}",
                "Initialized",
            ),
            (
                "{.status.conditions[?(@.status)].type}",
                "Initialized Ready",
            ),
            (
                "{.metadata.labels}",
                r#"{"app":"db","app.kubernetes.io/name":"x"}"#,
            ),
            ("{.spec.containers[?(@.name=='zz')].image}", ""),
        ] {
            assert_eq!(print(expr, &p).as_deref(), Ok(want), "{expr}");
        }
    }

    #[test]
    fn missing_keys_and_bad_indexes_are_errors() {
        let p = pod();
        assert_eq!(
            print("{.status.nope}", &p),
            Err("nope is not found".to_string())
        );
        assert!(
            print("{.spec.containers[5]}", &p)
                .unwrap_err()
                .contains("out of bounds")
        );
        assert!(print("{.spec.containers[?(@.name=='a']}", &p).is_err());
        assert!(print("{.status.phase!}", &p).is_err());
    }

    #[test]
    fn numbers_compare_in_filters() {
        let v = json!({"items": [{"n": 1}, {"n": 5}, {"n": 10}]});
        assert_eq!(print("{.items[?(@.n > 3)].n}", &v).as_deref(), Ok("5 10"));
        assert_eq!(print("{.items[?(@.n<=5)].n}", &v).as_deref(), Ok("1 5"));
        assert_eq!(super::go_float(1e21), "1e+21");
        assert_eq!(super::go_float(0.00001), "1e-05");
    }
}
