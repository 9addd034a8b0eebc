//! The executor: Go's `text/template/exec.go`, step for step where it shows
//! (evaluation order, which node an error is reported at, the messages).

use kapsel_govalue::{Func, FuncError, Param, Str, Type, Value, gofmt};

use crate::ast::*;
use crate::builtins::{self, Builtin};
use crate::methods;
use crate::{
    ExecError, MAX_OUTPUT_BYTES, MAX_RANGE_ITERATIONS, MAX_TEMPLATE_DEPTH, MissingKey, Options,
    Template, locate,
};

/// Deepest nesting (control structures plus template calls) execution follows.
pub(crate) const MAX_EXEC_NESTING: usize = 100;

/// A value as Go's `reflect.Value` holds it: invalid (no value), a concrete value,
/// or a value whose static type is `interface{}` (an element of a
/// `map[string]interface{}`/`[]interface{}`, a range variable over one...).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rv {
    /// The zero `reflect.Value`.
    Invalid,
    /// A value of its own dynamic type (never `Value::Nil`).
    C(Value),
    /// A value of static type `interface{}`; `Value::Nil` is the nil interface.
    I(Value),
}

impl Rv {
    /// A concrete value (a nil interface becomes invalid).
    pub fn conc(v: Value) -> Rv {
        if v == Value::Nil {
            Rv::Invalid
        } else {
            Rv::C(v)
        }
    }

    /// The value of a slot (map element, slice element, struct field) of type `t`.
    pub fn slot(v: Value, t: &Type) -> Rv {
        if *t == Type::Any {
            Rv::I(v)
        } else {
            Rv::conc(v)
        }
    }

    /// Go's `indirectInterface`.
    pub fn deiface(self) -> Rv {
        match self {
            Rv::I(v) => Rv::conc(v),
            o => o,
        }
    }

    /// The value as a function receives it through an `interface{}` parameter.
    pub fn value(&self) -> Value {
        match self {
            Rv::Invalid => Value::Nil,
            Rv::C(v) | Rv::I(v) => v.clone(),
        }
    }

    /// The Go type, as `reflect.Value.Type()` would give it.
    pub fn type_name(&self) -> String {
        match self {
            Rv::Invalid => "<nil>".to_string(),
            Rv::C(v) => v.type_of().to_string(),
            Rv::I(_) => "interface {}".to_string(),
        }
    }

    /// Go's `indirect`: through pointers and interfaces; `true` if it stopped at a
    /// nil pointer or nil interface.
    pub fn indirect(self) -> (Rv, bool) {
        let mut v = self;
        loop {
            match v {
                Rv::I(Value::Nil) => return (v, true),
                Rv::I(x) => v = Rv::C(x),
                Rv::C(Value::NilPtr(_)) => return (v, true),
                Rv::C(Value::Ptr(p)) => v = Rv::conc((*p).clone()),
                other => return (other, false),
            }
        }
    }
}

/// Go's `isTrue` (after `indirectInterface`).
pub(crate) fn truth(v: &Rv) -> bool {
    match v {
        Rv::Invalid => false,
        Rv::C(x) | Rv::I(x) => x.truthy(),
    }
}

/// The parameter type an argument is evaluated for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ArgType {
    /// No type (the term of a chain).
    None,
    /// `reflect.Value` (builtins).
    Reflect,
    /// A declared parameter type.
    P(Param),
}

impl ArgType {
    fn name(self) -> String {
        match self {
            ArgType::None => "<nil>".to_string(),
            ArgType::Reflect => "reflect.Value".to_string(),
            ArgType::P(p) => p.go_type().to_string(),
        }
    }

    fn can_be_nil(self) -> bool {
        match self {
            ArgType::None => false,
            ArgType::Reflect => true,
            ArgType::P(p) => matches!(
                p,
                Param::Any | Param::MapAny | Param::AnySlice | Param::StringSlice | Param::Bytes
            ),
        }
    }
}

pub(crate) enum Flow {
    Err(Box<ExecError>),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

/// The node execution is at, for error messages.
#[derive(Clone, Copy)]
enum At<'a> {
    None,
    Node(&'a Node),
    List(&'a ListNode),
    Pipe(&'a PipeNode),
    Cmd(&'a CommandNode),
    Arg(&'a Arg),
}

impl At<'_> {
    fn pos_ctx(&self) -> Option<(usize, Span, String)> {
        match self {
            At::None => None,
            At::Node(n) => Some((n.pos(), n.span(), n.to_string())),
            At::List(l) => Some((l.pos, l.span.clone(), l.to_string())),
            At::Pipe(p) => Some((p.pos, p.span.clone(), p.to_string())),
            At::Cmd(c) => Some((c.pos, c.span.clone(), c.to_string())),
            At::Arg(a) => Some((a.pos(), a.span(), a.to_string())),
        }
    }
}

/// A function found by name.
enum FuncRef<'a> {
    User(&'a Func),
    Builtin(Builtin),
}

struct State<'a> {
    t: &'a Template,
    opts: &'a Options,
    out: Vec<u8>,
    vars: Vec<(String, Rv)>,
    tmpl_name: String,
    node: At<'a>,
    template_depth: usize,
    nesting: usize,
    iterations: u64,
}

pub(crate) fn execute(t: &Template, data: &Value, opts: &Options) -> Result<Vec<u8>, ExecError> {
    let dot = Rv::conc(data.clone());
    let mut s = State {
        t,
        opts,
        out: Vec::new(),
        vars: vec![("$".to_string(), dot.clone())],
        tmpl_name: t.name.clone(),
        node: At::None,
        template_depth: 0,
        nesting: 0,
        iterations: 0,
    };
    let root = t.root();
    match s.walk_list(&dot, root) {
        Ok(()) => Ok(s.out),
        Err(Flow::Err(e)) => Err(*e),
        // The parser rejects break/continue outside range.
        Err(Flow::Break | Flow::Continue) => Ok(s.out),
    }
}

fn quote(s: &str) -> String {
    kapsel_govalue::gostrconv::quote(s)
}

impl<'a> State<'a> {
    fn at(&mut self, n: At<'a>) {
        self.node = n;
    }

    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        let message = msg.into();
        let (offset, span, context) = match self.node.pos_ctx() {
            Some((p, sp, c)) => (p, Some(sp), Some(c)),
            None => (0, None, None),
        };
        let (line, col, go_col) = locate(&self.t.src, offset);
        Err(Flow::Err(Box::new(ExecError {
            name: self.t.name.clone(),
            template: self.tmpl_name.clone(),
            offset,
            line,
            col,
            span,
            context,
            message,
            go_col,
        })))
    }

    fn mark(&self) -> usize {
        self.vars.len()
    }

    fn pop(&mut self, mark: usize) {
        self.vars.truncate(mark);
    }

    fn set_var(&mut self, name: &str, v: Rv) -> R<()> {
        for slot in self.vars.iter_mut().rev() {
            if slot.0 == name {
                slot.1 = v;
                return Ok(());
            }
        }
        self.err(format!("undefined variable: {name}"))
    }

    fn set_top_var(&mut self, n: usize, v: Rv) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn var_value(&self, name: &str) -> R<Rv> {
        for slot in self.vars.iter().rev() {
            if slot.0 == name {
                return Ok(slot.1.clone());
            }
        }
        self.err(format!("undefined variable: {name}"))
    }

    fn enter(&mut self) -> R<()> {
        self.nesting += 1;
        if self.nesting > MAX_EXEC_NESTING {
            return self.err(format!(
                "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            ));
        }
        Ok(())
    }

    // ---- walking ----

    fn walk_list(&mut self, dot: &Rv, list: &'a ListNode) -> R<()> {
        self.at(At::List(list));
        for n in &list.nodes {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Rv, node: &'a Node) -> R<()> {
        self.at(At::Node(node));
        match node {
            Node::Action(a) => {
                let v = self.eval_pipeline(dot, Some(&a.pipe))?;
                if a.pipe.decl.is_empty() {
                    self.print_value(node, v)?;
                }
                Ok(())
            }
            Node::Break(_) => Err(Flow::Break),
            Node::Continue(_) => Err(Flow::Continue),
            Node::Comment(_) => Ok(()),
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template(t) => self.walk_template(dot, node, t),
            Node::Text(t) => self.write(t.text.as_bytes()),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Rv, b: &'a BranchNode) -> R<()> {
        self.enter()?;
        let mark = self.mark();
        let r = (|| {
            let val = self.eval_pipeline(dot, Some(&b.pipe))?;
            let val = val.deiface();
            if truth(&val) {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(el) = &b.else_list {
                self.walk_list(dot, el)
            } else {
                Ok(())
            }
        })();
        self.pop(mark);
        self.nesting -= 1;
        r
    }

    fn walk_range(&mut self, dot: &Rv, node: &'a Node, r: &'a BranchNode) -> R<()> {
        self.enter()?;
        let outer = self.mark();
        self.at(At::Node(node));
        let res = self.walk_range_inner(dot, r);
        self.pop(outer);
        self.nesting -= 1;
        match res {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn one_iteration(&mut self, r: &'a BranchNode, mark: usize, index: Rv, elem: Rv) -> R<()> {
        self.iterations += 1;
        if self.iterations > MAX_RANGE_ITERATIONS {
            return self.err(format!("range iterations exceed {MAX_RANGE_ITERATIONS}"));
        }
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0].ident[0], index.clone())?;
                } else {
                    self.set_var(&decl[0].ident[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1].ident[0], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let res = self.walk_list(&elem, &r.list);
        self.pop(mark);
        match res {
            Err(Flow::Continue) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Rv, r: &'a BranchNode) -> R<()> {
        let (val, _) = self.eval_pipeline(dot, Some(&r.pipe))?.indirect();
        let mark = self.mark();
        let ran = match &val {
            Rv::C(Value::Int(_) | Value::Int64(_) | Value::Uint8(_)) => {
                if r.pipe.decl.len() > 1 {
                    return self.err(format!(
                        "can't use {} to iterate over more than one variable",
                        gofmt::format_v(&val.value())
                    ));
                }
                let n = match val {
                    Rv::C(Value::Int(n) | Value::Int64(n)) => n,
                    Rv::C(Value::Uint8(n)) => i64::from(n),
                    _ => 0,
                };
                let mut i = 0;
                while i < n {
                    let e = match val {
                        Rv::C(Value::Int64(_)) => Value::Int64(i),
                        Rv::C(Value::Uint8(_)) => Value::Uint8(i as u8),
                        _ => Value::Int(i),
                    };
                    self.one_iteration(r, mark, Rv::Invalid, Rv::C(e))?;
                    i += 1;
                }
                n > 0
            }
            Rv::C(Value::Slice(s)) => {
                // Go reads each element when its turn comes (`val.Index(i)`):
                // the body may change the backing array (sprig's `sortAlpha`).
                for i in 0..s.len() {
                    let item = s.get(i).unwrap_or_else(|| s.elem.zero());
                    let e = Rv::slot(item, &s.elem);
                    self.one_iteration(r, mark, Rv::C(Value::Int(i as i64)), e)?;
                }
                !s.is_empty()
            }
            Rv::C(Value::Bytes(b)) => {
                for (i, item) in b.iter().enumerate() {
                    let e = Rv::C(Value::Uint8(*item));
                    self.one_iteration(r, mark, Rv::C(Value::Int(i as i64)), e)?;
                }
                !b.is_empty()
            }
            Rv::C(Value::Map(m)) => {
                // Go sorts the keys first and reads each value when its turn
                // comes (the body may change the map: a deleted entry gives
                // no value).
                let keys: Vec<String> = m.entries().keys().cloned().collect();
                for k in &keys {
                    let e = match m.get(k) {
                        Some(v) => Rv::slot(v, &m.elem),
                        None => Rv::Invalid,
                    };
                    self.one_iteration(r, mark, Rv::C(Value::string(k.as_str())), e)?;
                }
                !keys.is_empty()
            }
            Rv::C(Value::NilSlice(_) | Value::NilMap(_) | Value::NilBytes) | Rv::Invalid => false,
            other => {
                return self.err(format!(
                    "range can't iterate over {}",
                    gofmt::format_v(&other.value())
                ));
            }
        };
        if !ran && let Some(el) = &r.else_list {
            return self.walk_list(dot, el);
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Rv, node: &'a Node, t: &'a TemplateNode) -> R<()> {
        self.at(At::Node(node));
        let Some(tree) = self.t.trees.get(&t.name) else {
            return self.err(format!("template {} not defined", quote(&t.name)));
        };
        if self.template_depth >= MAX_TEMPLATE_DEPTH {
            return self.err(format!(
                "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            ));
        }
        self.enter()?;
        let new_dot = self.eval_pipeline(dot, t.pipe.as_ref())?;
        let saved_vars =
            std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.tmpl_name, t.name.clone());
        let saved_node = self.node;
        self.template_depth += 1;
        let r = self.walk_list(&new_dot, tree);
        self.template_depth -= 1;
        self.nesting -= 1;
        self.vars = saved_vars;
        self.tmpl_name = saved_name;
        self.node = saved_node;
        r
    }

    // ---- evaluation ----

    fn eval_pipeline(&mut self, dot: &Rv, pipe: Option<&'a PipeNode>) -> R<Rv> {
        let Some(pipe) = pipe else {
            return Ok(Rv::Invalid);
        };
        self.at(At::Pipe(pipe));
        let mut value: Option<Rv> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            value = Some(v.deiface());
        }
        let value = value.unwrap_or(Rv::Invalid);
        for var in &pipe.decl {
            let name = var.ident.first().map(String::as_str).unwrap_or("$");
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.to_string(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'a [Arg], fin: &Option<Rv>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            let first = args.first().map(|a| a.to_string()).unwrap_or_default();
            return self.err(format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Rv, cmd: &'a CommandNode, fin: Option<Rv>) -> R<Rv> {
        let Some(first) = cmd.args.first() else {
            return self.err("empty command");
        };
        match first {
            Arg::Field(f) => return self.eval_field_node(dot, first, f, &cmd.args, fin),
            Arg::Chain(c) => return self.eval_chain_node(dot, first, c, &cmd.args, fin),
            Arg::Identifier(id) => {
                return self.eval_function(dot, first, id, At::Cmd(cmd), Some(&cmd.args), fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, Some(p));
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, first, v, &cmd.args, fin),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool(b) => Ok(Rv::C(Value::Bool(b.value))),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => self.err("nil is not a command"),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String(s) => Ok(Rv::C(Value::String(s.text.clone()))),
            _ => self.err(format!(
                "can't evaluate command {}",
                quote(&first.to_string())
            )),
        }
    }

    fn ideal_constant(&mut self, node: &'a Arg, n: &NumberNode) -> R<Rv> {
        self.at(At::Arg(node));
        let is_hex_int = n.text.len() > 2
            && n.text.starts_with('0')
            && matches!(n.text.as_bytes()[1], b'x' | b'X')
            && !n.text.contains(['p', 'P']);
        let is_rune = n.text.starts_with('\'');
        if n.is_complex {
            let (re, im) = n.complex128;
            return Ok(Rv::C(Value::Complex(re, im)));
        }
        if n.is_float && !is_hex_int && !is_rune && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Rv::C(Value::Float(n.float64)));
        }
        if n.is_int {
            return Ok(Rv::C(Value::Int(n.int64)));
        }
        if n.is_uint {
            return self.err(format!("{} overflows int", n.text));
        }
        Ok(Rv::Invalid)
    }

    fn eval_field_node(
        &mut self,
        dot: &Rv,
        node: &'a Arg,
        f: &'a FieldNode,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        self.at(At::Arg(node));
        self.eval_field_chain(dot, dot.clone(), &f.ident, args, fin)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Rv,
        node: &'a Arg,
        c: &'a ChainNode,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        self.at(At::Arg(node));
        if c.fields.is_empty() {
            return self.err("internal error: no fields in evalChainNode");
        }
        if matches!(*c.node, Arg::Nil(_)) {
            return self.err(format!("indirection through explicit nil in {node}"));
        }
        let pipe = self.eval_arg(dot, ArgType::None, &c.node)?;
        self.eval_field_chain(dot, pipe, &c.fields, args, fin)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Rv,
        node: &'a Arg,
        v: &'a VariableNode,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        self.at(At::Arg(node));
        let name = v.ident.first().map(String::as_str).unwrap_or("$");
        let value = self.var_value(name)?;
        if v.ident.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &v.ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Rv,
        mut receiver: Rv,
        ident: &'a [String],
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        let n = ident.len();
        for name in &ident[..n.saturating_sub(1)] {
            receiver = self.eval_field(dot, name, &[], &None, receiver)?;
        }
        match ident.last() {
            Some(name) => self.eval_field(dot, name, args, &fin, receiver),
            None => Ok(receiver),
        }
    }

    fn eval_field(
        &mut self,
        dot: &Rv,
        field: &str,
        args: &'a [Arg],
        fin: &Option<Rv>,
        receiver: Rv,
    ) -> R<Rv> {
        if receiver == Rv::Invalid {
            if self.opts.missing_key == MissingKey::Error {
                return self.err(format!("nil data; no entry for key {}", quote(field)));
            }
            return Ok(Rv::Invalid);
        }
        let typ = receiver.type_name();
        let original = receiver.value();
        let (receiver, is_nil) = receiver.indirect();
        if is_nil && matches!(receiver, Rv::I(_)) {
            return self.err(format!("nil pointer evaluating {typ}.{field}"));
        }
        if let Some(m) = methods::find(&original, &receiver.value(), field) {
            return self.call_method(dot, m, field, args, fin.clone());
        }
        let has_args = args.len() > 1 || fin.is_some();
        match &receiver {
            Rv::C(Value::Struct(s)) => {
                if let Some(path) = s.ty.lookup(field) {
                    // Go's IsExported: the name starts with an upper-case letter.
                    if !field.chars().next().is_some_and(char::is_uppercase) {
                        return self.err(format!(
                            "{field} is an unexported field of struct type {typ}"
                        ));
                    }
                    let (v, ft) = match struct_field(s, &path) {
                        Ok(x) => x,
                        Err(embedded) => {
                            return self.err(format!(
                                "reflect: indirection through nil pointer to embedded struct field {embedded}"
                            ));
                        }
                    };
                    if has_args {
                        return self.err(format!(
                            "{field} has arguments but cannot be invoked as function"
                        ));
                    }
                    return Ok(Rv::slot(v, &ft));
                }
            }
            Rv::C(Value::Time(_)) => {
                if matches!(field, "wall" | "ext" | "loc") {
                    return self.err(format!(
                        "{field} is an unexported field of struct type {typ}"
                    ));
                }
            }
            Rv::C(Value::Map(_) | Value::NilMap(_)) => {
                if has_args {
                    return self.err(format!("{field} is not a method but has arguments"));
                }
                let (found, elem) = match &receiver {
                    Rv::C(Value::Map(m)) => (m.get(field), m.elem.clone()),
                    Rv::C(Value::NilMap(e)) => (None, e.clone()),
                    _ => (None, Type::Any),
                };
                return match found {
                    Some(v) => Ok(Rv::slot(v, &elem)),
                    None => match self.opts.missing_key {
                        MissingKey::Default => Ok(Rv::Invalid),
                        MissingKey::Zero => Ok(Rv::slot(elem.zero(), &elem)),
                        MissingKey::Error => {
                            self.err(format!("map has no entry for key {}", quote(field)))
                        }
                    },
                };
            }
            Rv::C(Value::NilPtr(t)) => {
                let no_such_field = match t {
                    Type::Struct(st) => st.lookup(field).is_none(),
                    Type::Time => !matches!(field, "wall" | "ext" | "loc"),
                    _ => false,
                };
                if !no_such_field && is_nil {
                    return self.err(format!("nil pointer evaluating {typ}.{field}"));
                }
            }
            _ => {}
        }
        self.err(format!("can't evaluate field {field} in type {typ}"))
    }

    fn find_function(&self, name: &str) -> Option<FuncRef<'a>> {
        if let Some(f) = self.opts.funcs.get(name) {
            return Some(FuncRef::User(f));
        }
        builtins::lookup(name).map(FuncRef::Builtin)
    }

    /// `node` is the identifier; `call_node` is where a call error is reported.
    fn eval_function(
        &mut self,
        dot: &Rv,
        node: &'a Arg,
        id: &'a IdentifierNode,
        call_node: At<'a>,
        args: Option<&'a [Arg]>,
        fin: Option<Rv>,
    ) -> R<Rv> {
        self.at(At::Arg(node));
        let Some(f) = self.find_function(&id.name) else {
            return self.err(format!("{} is not a defined function", quote(&id.name)));
        };
        let args: &'a [Arg] = match args {
            Some(a) => a.get(1..).unwrap_or(&[]),
            None => &[],
        };
        match f {
            FuncRef::User(func) => self.call_user(dot, func, call_node, args, fin),
            FuncRef::Builtin(b) => self.call_builtin(dot, b, &id.name, call_node, args, fin),
        }
    }

    fn check_arity(
        &self,
        name: &str,
        fixed: usize,
        variadic: bool,
        nargs: usize,
        num_in: usize,
    ) -> R<()> {
        if variadic {
            if num_in < fixed {
                return self.err(format!(
                    "wrong number of args for {name}: want at least {fixed} got {nargs}"
                ));
            }
        } else if num_in != fixed {
            return self.err(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            ));
        }
        Ok(())
    }

    fn call_user(
        &mut self,
        dot: &Rv,
        func: &'a Func,
        call_node: At<'a>,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        let num_in = args.len() + usize::from(fin.is_some());
        let fixed = func.params.len();
        self.check_arity(
            func.name,
            fixed,
            func.variadic.is_some(),
            args.len(),
            num_in,
        )?;
        let mut argv: Vec<Value> = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < fixed && i < args.len() {
            let v = self.eval_arg(dot, ArgType::P(func.params[i]), &args[i])?;
            argv.push(v.value());
            i += 1;
        }
        if let Some(vp) = func.variadic {
            while i < args.len() {
                let v = self.eval_arg(dot, ArgType::P(vp), &args[i])?;
                argv.push(v.value());
                i += 1;
            }
        }
        if let Some(f) = fin {
            let t = if num_in - 1 < fixed {
                func.params.get(num_in - 1).copied()
            } else {
                func.variadic.or_else(|| func.params.last().copied())
            };
            let t = t.map_or(ArgType::P(Param::Any), ArgType::P);
            let v = self.validate_type(f, t)?;
            argv.push(v.value());
        }
        let call = func.call;
        let result = std::panic::catch_unwind(|| call(&argv))
            .unwrap_or_else(|_| Err(FuncError::new("function panicked")));
        match result {
            Ok(v) => Ok(Rv::conc(v)),
            Err(e) => {
                self.at(call_node);
                self.err(format!("error calling {}: {}", func.name, e.0))
            }
        }
    }

    /// A method call (Go's `evalCall` on a bound method).
    fn call_method(
        &mut self,
        dot: &Rv,
        m: methods::Method,
        name: &str,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        let node = self.node;
        let args: &'a [Arg] = args.get(1..).unwrap_or(&[]);
        let num_in = args.len() + usize::from(fin.is_some());
        self.check_arity(name, m.params.len(), false, args.len(), num_in)?;
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = m.params.get(i).copied().unwrap_or(Param::Any);
            argv.push(self.eval_arg(dot, ArgType::P(p), a)?.value());
        }
        if let Some(f) = fin {
            let p = m.params.last().copied().unwrap_or(Param::Any);
            argv.push(self.validate_type(f, ArgType::P(p))?.value());
        }
        match (m.call)(&m.recv, &argv) {
            Ok(v) => Ok(Rv::conc(v)),
            Err(e) => {
                self.at(node);
                self.err(format!("error calling {name}: {e}"))
            }
        }
    }

    fn call_builtin(
        &mut self,
        dot: &Rv,
        b: Builtin,
        name: &str,
        call_node: At<'a>,
        args: &'a [Arg],
        fin: Option<Rv>,
    ) -> R<Rv> {
        let (fixed, variadic) = b.arity();
        let num_in = args.len() + usize::from(fin.is_some());
        self.check_arity(name, fixed.len(), variadic.is_some(), args.len(), num_in)?;
        if matches!(b, Builtin::And | Builtin::Or) {
            let is_or = b == Builtin::Or;
            let mut v = Rv::Invalid;
            for a in args {
                v = self.eval_arg(dot, ArgType::Reflect, a)?;
                if truth(&v.clone().deiface()) == is_or {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = self.validate_type(f, ArgType::Reflect)?;
            }
            return Ok(v);
        }
        let mut argv: Vec<Rv> = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < fixed.len() && i < args.len() {
            argv.push(self.eval_arg(dot, fixed[i], &args[i])?);
            i += 1;
        }
        if let Some(vt) = variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, vt, &args[i])?);
                i += 1;
            }
        }
        let mut final_str = None;
        if let Some(f) = fin {
            let t = if num_in - 1 < fixed.len() {
                fixed[num_in - 1]
            } else {
                variadic.unwrap_or(ArgType::Reflect)
            };
            if b == Builtin::Call && args.is_empty() {
                final_str = Some(reflect_value_string(&f));
            }
            argv.push(self.validate_type(f, t)?);
        }
        let callee = if b == Builtin::Call {
            match args.first() {
                Some(a) => a.to_string(),
                None => final_str.unwrap_or_default(),
            }
        } else {
            String::new()
        };
        match builtins::call(b, &callee, argv) {
            Ok(v) => Ok(v),
            Err(msg) => {
                self.at(call_node);
                self.err(format!("error calling {name}: {msg}"))
            }
        }
    }

    /// Go's `validateType`.
    fn validate_type(&self, value: Rv, typ: ArgType) -> R<Rv> {
        let p = match typ {
            ArgType::None | ArgType::Reflect => return Ok(value),
            ArgType::P(p) => p,
        };
        if value == Rv::Invalid {
            if typ.can_be_nil() {
                return Ok(Rv::slot(p.go_type().zero(), &p.go_type()));
            }
            return self.err(format!("invalid value; expected {}", typ.name()));
        }
        if p == Param::Any {
            return Ok(value);
        }
        let want = p.go_type();
        let mut value = value;
        if let Rv::I(inner) = &value
            && *inner != Value::Nil
        {
            let c = Rv::C(inner.clone());
            if inner.type_of() == want {
                return Ok(c);
            }
            value = c;
        }
        match &value {
            Rv::C(v) if v.type_of() == want => Ok(value),
            Rv::C(Value::Ptr(inner)) if inner.type_of() == want => Ok(Rv::conc((**inner).clone())),
            Rv::C(Value::NilPtr(t)) if *t == want => {
                self.err(format!("dereference of nil pointer of type {want}"))
            }
            _ => self.err(format!(
                "wrong type for value; expected {want}; got {}",
                value.type_name()
            )),
        }
    }

    fn eval_arg(&mut self, dot: &Rv, typ: ArgType, n: &'a Arg) -> R<Rv> {
        self.at(At::Arg(n));
        match n {
            Arg::Dot(_) => return self.validate_type(dot.clone(), typ),
            Arg::Nil(_) => {
                if typ.can_be_nil() {
                    return Ok(match typ {
                        ArgType::P(p) => Rv::slot(p.go_type().zero(), &p.go_type()),
                        _ => Rv::Invalid,
                    });
                }
                return self.err(format!("cannot assign nil to {}", typ.name()));
            }
            Arg::Field(f) => {
                let v = self.eval_field_node(dot, n, f, std::slice::from_ref(n), None)?;
                return self.validate_type(v, typ);
            }
            Arg::Variable(v) => {
                let v = self.eval_variable_node(dot, n, v, &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, Some(p))?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier(id) => {
                let v = self.eval_function(dot, n, id, At::Arg(n), None, None)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain(c) => {
                let v = self.eval_chain_node(dot, n, c, &[], None)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        match typ {
            ArgType::P(Param::Bool) => match n {
                Arg::Bool(b) => Ok(Rv::C(Value::Bool(b.value))),
                _ => self.err(format!("expected bool; found {n}")),
            },
            ArgType::P(Param::Float64) => match n {
                Arg::Number(x) if x.is_float => Ok(Rv::C(Value::Float(x.float64))),
                _ => self.err(format!("expected float; found {n}")),
            },
            ArgType::P(Param::Int) => match n {
                Arg::Number(x) if x.is_int => Ok(Rv::C(Value::Int(x.int64))),
                _ => self.err(format!("expected integer; found {n}")),
            },
            ArgType::P(Param::Int64) => match n {
                Arg::Number(x) if x.is_int => Ok(Rv::C(Value::Int64(x.int64))),
                _ => self.err(format!("expected integer; found {n}")),
            },
            ArgType::P(Param::String) => match n {
                Arg::String(s) => Ok(Rv::C(Value::String(s.text.clone()))),
                _ => self.err(format!("expected string; found {n}")),
            },
            ArgType::P(Param::Any) | ArgType::Reflect => self.eval_empty_interface(dot, n),
            _ => self.err(format!("can't handle {n} for arg of type {}", typ.name())),
        }
    }

    fn eval_empty_interface(&mut self, dot: &Rv, n: &'a Arg) -> R<Rv> {
        self.at(At::Arg(n));
        match n {
            Arg::Bool(b) => Ok(Rv::C(Value::Bool(b.value))),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Field(f) => self.eval_field_node(dot, n, f, &[], None),
            Arg::Identifier(id) => self.eval_function(dot, n, id, At::Arg(n), None, None),
            Arg::Nil(_) => self.err("evalEmptyInterface: nil (can't happen)"),
            Arg::Number(x) => self.ideal_constant(n, x),
            Arg::String(s) => Ok(Rv::C(Value::String(s.text.clone()))),
            Arg::Variable(v) => self.eval_variable_node(dot, n, v, &[], None),
            Arg::Pipe(p) => self.eval_pipeline(dot, Some(p)),
            Arg::Chain(_) => self.err(format!(
                "can't handle assignment of {n} to empty interface argument"
            )),
        }
    }

    fn print_value(&mut self, n: &'a Node, v: Rv) -> R<()> {
        self.at(At::Node(n));
        let s = printable_str(v);
        self.write(&s)
    }

    fn write(&mut self, s: &[u8]) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT_BYTES {
            return self.err(format!("output exceeds {MAX_OUTPUT_BYTES} bytes"));
        }
        self.out.extend_from_slice(s);
        Ok(())
    }
}

/// The value and type of the struct field at `path` (Go's `FieldByIndexErr`);
/// `Err(name)` if the path crosses a nil embedded pointer `name`.
fn struct_field(
    s: &std::sync::Arc<kapsel_govalue::Struct>,
    path: &[usize],
) -> Result<(Value, Type), String> {
    let mut cur = s.clone();
    for (k, i) in path.iter().enumerate() {
        let fv = cur.fields.get(*i).cloned().unwrap_or(Value::Nil);
        let (fname, ft) = cur
            .ty
            .fields
            .get(*i)
            .map(|f| (f.name.clone(), f.ty.clone()))
            .unwrap_or_else(|| (String::new(), Type::Any));
        if k + 1 == path.len() {
            return Ok((fv, ft));
        }
        cur = match fv {
            Value::Struct(x) => x,
            Value::Ptr(p) => match &*p {
                Value::Struct(x) => x.clone(),
                _ => return Err(fname),
            },
            _ => return Err(fname),
        };
    }
    Ok((Value::Nil, Type::Any))
}

/// Go's `printableValue` followed by `fmt.Fprint`: Go's bytes.
pub(crate) fn printable_str(v: Rv) -> Str {
    match printable_value(v) {
        None => Str::from("<no value>"),
        Some(v) => match kapsel_sprig::stringer(&v) {
            Some(s) => Str::from(s),
            None => gofmt::format_v_str(&v),
        },
    }
}

/// Go's `printableValue`: pointers are followed (a nil one stays), no value is
/// `None` (printed `<no value>`).
pub(crate) fn printable_value(v: Rv) -> Option<Value> {
    if let Rv::C(x @ Value::Ptr(_)) = &v
        && kapsel_sprig::stringer(x).is_some()
    {
        return Some(x.clone());
    }
    let v = match v {
        Rv::C(Value::Ptr(_)) => v.indirect().0,
        o => o,
    };
    match v {
        Rv::Invalid => None,
        Rv::C(x) | Rv::I(x) => Some(x),
    }
}

/// `reflect.Value.String()`.
fn reflect_value_string(v: &Rv) -> String {
    match v {
        Rv::Invalid => "<invalid Value>".to_string(),
        Rv::C(Value::String(s)) => s.to_string(),
        Rv::C(x) => format!("<{} Value>", x.type_of()),
        Rv::I(_) => "<interface {} Value>".to_string(),
    }
}
