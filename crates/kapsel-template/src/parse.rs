//! The parser: Go's `text/template/parse/parse.go`, including its three-token
//! lookahead (which decides the line numbers in error messages) and its
//! handling of `define`/`block` definitions.

use std::collections::BTreeMap;

use crate::ast::*;
use crate::lex::{Item, ItemType, Lexer};
use crate::strconv;

/// The deepest nesting of parentheses and control structures accepted. Go allows
/// 10000 parenthesized levels and unlimited control nesting; a smaller bound keeps
/// the recursive parser and executor within the thread's stack.
pub(crate) const MAX_PARSE_DEPTH: usize = 100;

/// A parse failure: Go's message and where it was detected.
#[derive(Debug, Clone)]
pub(crate) struct PErr {
    pub line: usize,
    pub offset: usize,
    pub msg: String,
}

type PResult<T> = Result<T, PErr>;

/// A terminator returned by `itemList`.
enum Parsed {
    Node(Node),
    End { end: usize },
    Else { pos: usize },
}

impl Parsed {
    fn go_string(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End { .. } => "{{end}}".to_string(),
            Parsed::Else { .. } => "{{else}}".to_string(),
        }
    }
}

/// Shared parsing state: the lexer and the set of trees being built.
pub(crate) struct Shared<'a> {
    lex: Lexer<'a>,
    has_func: &'a dyn Fn(&str) -> bool,
    pub trees: BTreeMap<String, ListNode>,
    depth: usize,
}

/// One tree's parser (Go's `*Tree` during parsing).
struct TreeParser {
    name: String,
    parse_name: String,
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
}

fn eof_item() -> Item {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: String::new(),
        line: 0,
    }
}

/// Parses `src` into its set of trees (the top-level one under `name`).
pub(crate) fn parse(
    name: &str,
    src: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> PResult<BTreeMap<String, ListNode>> {
    let mut lex = Lexer::new(src);
    lex.break_ok = !has_func("break");
    lex.continue_ok = !has_func("continue");
    let mut sh = Shared {
        lex,
        has_func,
        trees: BTreeMap::new(),
        depth: 0,
    };
    let mut t = TreeParser::new(name, name);
    let root = t.parse_top(&mut sh)?;
    t.add(&mut sh, root)?;
    Ok(sh.trees)
}

/// Go's `IsEmptyTree`.
pub(crate) fn is_empty_tree(l: &ListNode) -> bool {
    l.nodes.iter().all(|n| match n {
        Node::Text(t) => t.text.trim_matches(is_go_space).is_empty(),
        Node::Comment(_) => true,
        _ => false,
    })
}

fn is_go_space(c: char) -> bool {
    // bytes.TrimSpace: Unicode white space.
    c.is_whitespace() || c == '\u{85}' || c == '\u{a0}'
}

impl TreeParser {
    fn new(name: &str, parse_name: &str) -> TreeParser {
        TreeParser {
            name: name.to_string(),
            parse_name: parse_name.to_string(),
            token: [eof_item(), eof_item(), eof_item()],
            peek_count: 0,
            vars: vec!["$".to_string()],
            action_line: 0,
            range_depth: 0,
        }
    }

    fn next(&mut self, sh: &mut Shared) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = sh.lex.next_item();
        }
        self.token
            .get(self.peek_count)
            .cloned()
            .unwrap_or_else(eof_item)
    }

    fn backup(&mut self) {
        // Go's grammar never backs up more than three tokens.
        self.peek_count = (self.peek_count + 1).min(self.token.len());
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self, sh: &mut Shared) -> Item {
        if self.peek_count > 0 {
            return self
                .token
                .get(self.peek_count - 1)
                .cloned()
                .unwrap_or_else(eof_item);
        }
        self.peek_count = 1;
        self.token[0] = sh.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self, sh: &mut Shared) -> Item {
        loop {
            let t = self.next(sh);
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self, sh: &mut Shared) -> Item {
        let t = self.next_non_space(sh);
        self.backup();
        t
    }

    fn errorf<T>(&self, msg: String) -> PResult<T> {
        Err(PErr {
            line: self.token[0].line,
            offset: self.token[0].pos,
            msg,
        })
    }

    fn expect(&mut self, sh: &mut Shared, expected: ItemType, context: &str) -> PResult<Item> {
        let token = self.next_non_space(sh);
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> PResult<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.name_for_errors(),
                    self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return Err(PErr {
                line: self.token[0].line,
                offset: token.pos,
                msg: format!("{token}{extra}"),
            });
        }
        Err(PErr {
            line: self.token[0].line,
            offset: token.pos,
            msg: format!("unexpected {token} in {context}"),
        })
    }

    fn name_for_errors(&self) -> &str {
        &self.parse_name
    }

    fn add(&self, sh: &mut Shared, root: ListNode) -> PResult<()> {
        match sh.trees.get(&self.name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return self.errorf(format!(
                        "template: multiple definition of template {}",
                        kapsel_govalue::gostrconv::quote(&self.name)
                    ));
                }
                Ok(())
            }
            _ => {
                sh.trees.insert(self.name.clone(), root);
                Ok(())
            }
        }
    }

    fn new_list(pos: usize) -> ListNode {
        ListNode {
            pos,
            span: pos..pos,
            nodes: Vec::new(),
        }
    }

    fn push(list: &mut ListNode, n: Node) {
        let sp = n.span();
        if list.nodes.is_empty() {
            list.span = sp.clone();
        } else {
            list.span.end = list.span.end.max(sp.end);
        }
        list.nodes.push(n);
    }

    fn parse_top(&mut self, sh: &mut Shared) -> PResult<ListNode> {
        let p = self.peek(sh).pos;
        let mut root = Self::new_list(p);
        while self.peek(sh).typ != ItemType::Eof {
            if self.peek(sh).typ == ItemType::LeftDelim {
                let delim = self.next(sh);
                if self.next_non_space(sh).typ == ItemType::Define {
                    let mut nt = TreeParser::new("definition", &self.parse_name);
                    nt.parse_definition(sh)?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action(sh)? {
                p @ (Parsed::End { .. } | Parsed::Else { .. }) => {
                    return self.errorf(format!("unexpected {}", p.go_string()));
                }
                Parsed::Node(n) => Self::push(&mut root, n),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self, sh: &mut Shared) -> PResult<()> {
        let context = "define clause";
        let name = self.next_non_space(sh);
        if name.typ != ItemType::String && name.typ != ItemType::RawString {
            return self.unexpected(&name, context);
        }
        self.name = match strconv::unquote(&name.val) {
            Ok(s) => kapsel_govalue::decode_lossy(&s).into_owned(),
            Err(()) => return self.errorf("invalid syntax".to_string()),
        };
        self.expect(sh, ItemType::RightDelim, context)?;
        let (root, end) = self.item_list(sh)?;
        if !matches!(end, Parsed::End { .. }) {
            return self.errorf(format!("unexpected {} in {}", end.go_string(), context));
        }
        self.add(sh, root)
    }

    fn item_list(&mut self, sh: &mut Shared) -> PResult<(ListNode, Parsed)> {
        let p = self.peek_non_space(sh).pos;
        let mut list = Self::new_list(p);
        while self.peek_non_space(sh).typ != ItemType::Eof {
            let n = self.text_or_action(sh)?;
            match n {
                Parsed::End { .. } | Parsed::Else { .. } => return Ok((list, n)),
                Parsed::Node(n) => Self::push(&mut list, n),
            }
        }
        self.errorf("unexpected EOF".to_string())
    }

    fn text_or_action(&mut self, sh: &mut Shared) -> PResult<Parsed> {
        let token = self.next_non_space(sh);
        match token.typ {
            ItemType::Text => {
                let end = token.pos + token.val.len();
                Ok(Parsed::Node(Node::Text(TextNode {
                    pos: token.pos,
                    span: token.pos..end,
                    text: token.val,
                })))
            }
            ItemType::LeftDelim => {
                self.action_line = token.line;
                sh.depth += 1;
                let r = if sh.depth > MAX_PARSE_DEPTH {
                    self.errorf("max expression depth exceeded".to_string())
                } else {
                    self.action(sh, token.pos)
                };
                sh.depth -= 1;
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self, sh: &mut Shared, start: usize) -> PResult<Parsed> {
        let token = self.next_non_space(sh);
        match token.typ {
            ItemType::Block => return self.block_control(sh, start),
            ItemType::Break | ItemType::Continue => {
                let is_break = token.typ == ItemType::Break;
                let ctx = if is_break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let t = self.next_non_space(sh);
                if t.typ != ItemType::RightDelim {
                    return self.unexpected(&t, ctx);
                }
                if self.range_depth == 0 {
                    return self.errorf(format!("{ctx} outside {{{{range}}}}"));
                }
                let k = KeywordNode {
                    pos: token.pos,
                    span: start..t.pos + t.val.len(),
                };
                return Ok(Parsed::Node(if is_break {
                    Node::Break(k)
                } else {
                    Node::Continue(k)
                }));
            }
            ItemType::Else => return self.else_control(sh),
            ItemType::End => {
                let t = self.expect(sh, ItemType::RightDelim, "end")?;
                return Ok(Parsed::End {
                    end: t.pos + t.val.len(),
                });
            }
            ItemType::If => return self.branch(sh, "if", start).map(Parsed::Node),
            ItemType::Range => return self.branch(sh, "range", start).map(Parsed::Node),
            ItemType::With => return self.branch(sh, "with", start).map(Parsed::Node),
            ItemType::Template => return self.template_control(sh, start),
            _ => {}
        }
        self.backup();
        let token = self.peek(sh);
        let (pipe, end) = self.pipeline(sh, "command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action(ActionNode {
            pos: token.pos,
            span: start..end,
            pipe,
        })))
    }

    fn else_control(&mut self, sh: &mut Shared) -> PResult<Parsed> {
        let peek = self.peek_non_space(sh);
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else { pos: peek.pos });
        }
        let t = self.expect(sh, ItemType::RightDelim, "else")?;
        Ok(Parsed::Else { pos: t.pos })
    }

    /// Returns the pipeline and the end offset of its terminating token.
    fn pipeline(
        &mut self,
        sh: &mut Shared,
        context: &str,
        end: ItemType,
    ) -> PResult<(PipeNode, usize)> {
        let token = self.peek_non_space(sh);
        let mut pipe = PipeNode {
            pos: token.pos,
            span: token.pos..token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space(sh);
            if v.typ != ItemType::Variable {
                break 'decls;
            }
            self.next(sh);
            let token_after_variable = self.peek(sh);
            let next = self.peek_non_space(sh);
            let var_node = |v: &Item| VariableNode {
                pos: v.pos,
                span: v.pos..v.pos + v.val.len(),
                ident: v.val.split('.').map(str::to_string).collect(),
            };
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space(sh);
                pipe.decl.push(var_node(&v));
                self.vars.push(v.val.clone());
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space(sh);
                pipe.decl.push(var_node(&v));
                self.vars.push(v.val.clone());
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space(sh).typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue 'decls;
                        }
                        _ => return self.errorf("range can only initialize variables".to_string()),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else if token_after_variable.typ == ItemType::Space {
                self.backup3(v, token_after_variable);
            } else {
                self.backup2(v);
            }
            break 'decls;
        }
        loop {
            let token = self.next_non_space(sh);
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                if let Some(c) = pipe.cmds.last() {
                    pipe.span.end = c.span.end;
                } else if let Some(d) = pipe.decl.last() {
                    pipe.span.end = d.span.end;
                }
                return Ok((pipe, token.pos + token.val.len()));
            }
            match token.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let c = self.command(sh)?;
                    pipe.cmds.push(c);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &PipeNode, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Bool(_) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(_) | Arg::String(_))
            ) {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn branch(&mut self, sh: &mut Shared, context: &str, start: usize) -> PResult<Node> {
        let nvars = self.vars.len();
        let r = self.parse_control(sh, context, start);
        self.vars.truncate(nvars);
        let b = r?;
        Ok(match context {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    fn parse_control(
        &mut self,
        sh: &mut Shared,
        context: &str,
        start: usize,
    ) -> PResult<BranchNode> {
        let (pipe, _) = self.pipeline(sh, context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list(sh);
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        let mut end_off = match &next {
            Parsed::End { end, .. } => *end,
            _ => list.span.end,
        };
        if let Parsed::Else { pos, .. } = next {
            let peek = self.peek(sh);
            if (context == "if" && peek.typ == ItemType::If)
                || (context == "with" && peek.typ == ItemType::With)
            {
                self.next(sh);
                let mut el = Self::new_list(pos);
                sh.depth += 1;
                let inner = if sh.depth > MAX_PARSE_DEPTH {
                    self.errorf("max expression depth exceeded".to_string())
                } else {
                    self.branch(sh, context, pos)
                };
                sh.depth -= 1;
                let inner = inner?;
                end_off = inner.span().end;
                Self::push(&mut el, inner);
                else_list = Some(el);
            } else {
                let (el, n2) = self.item_list(sh)?;
                match n2 {
                    Parsed::End { end, .. } => end_off = end,
                    other => {
                        return self.errorf(format!("expected end; found {}", other.go_string()));
                    }
                }
                else_list = Some(el);
            }
        }
        Ok(BranchNode {
            pos: pipe.pos,
            span: start..end_off,
            pipe,
            list,
            else_list,
        })
    }

    fn block_control(&mut self, sh: &mut Shared, start: usize) -> PResult<Parsed> {
        let context = "block clause";
        let token = self.next_non_space(sh);
        let name = self.parse_template_name(&token, context)?;
        let (pipe, _) = self.pipeline(sh, context, ItemType::RightDelim)?;
        let mut block = TreeParser::new(&name, &self.parse_name);
        let (root, end) = block.item_list(sh)?;
        let end_off = match end {
            Parsed::End { end, .. } => end,
            other => {
                return self.errorf(format!("unexpected {} in {}", other.go_string(), context));
            }
        };
        block.add(sh, root)?;
        Ok(Parsed::Node(Node::Template(TemplateNode {
            pos: token.pos,
            span: start..end_off,
            name,
            pipe: Some(pipe),
        })))
    }

    fn template_control(&mut self, sh: &mut Shared, start: usize) -> PResult<Parsed> {
        let context = "template clause";
        let token = self.next_non_space(sh);
        let name = self.parse_template_name(&token, context)?;
        let mut pipe = None;
        let t = self.next_non_space(sh);
        let end = if t.typ != ItemType::RightDelim {
            self.backup();
            let (p, end) = self.pipeline(sh, context, ItemType::RightDelim)?;
            pipe = Some(p);
            end
        } else {
            t.pos + t.val.len()
        };
        Ok(Parsed::Node(Node::Template(TemplateNode {
            pos: token.pos,
            span: start..end,
            name,
            pipe,
        })))
    }

    fn parse_template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => match strconv::unquote(&token.val) {
                Ok(s) => Ok(kapsel_govalue::decode_lossy(&s).into_owned()),
                Err(()) => self.errorf("invalid syntax".to_string()),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn command(&mut self, sh: &mut Shared) -> PResult<CommandNode> {
        let p = self.peek_non_space(sh).pos;
        let mut cmd = CommandNode {
            pos: p,
            span: p..p,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space(sh);
            if let Some(operand) = self.operand(sh)? {
                cmd.span.end = operand.span().end;
                cmd.args.push(operand);
            }
            let token = self.next(sh);
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command".to_string());
        }
        Ok(cmd)
    }

    fn operand(&mut self, sh: &mut Shared) -> PResult<Option<Arg>> {
        let Some(node) = self.term(sh)? else {
            return Ok(None);
        };
        if self.peek(sh).typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek(sh).pos;
        let mut fields = Vec::new();
        let mut end = node.span().end;
        while self.peek(sh).typ == ItemType::Field {
            let f = self.next(sh);
            end = f.pos + f.val.len();
            fields.push(f.val.get(1..).unwrap_or("").to_string());
        }
        let start = node.span().start;
        Ok(Some(match node {
            Arg::Field(mut f) => {
                f.ident.extend(fields);
                f.pos = pos;
                f.span = start..end;
                Arg::Field(f)
            }
            Arg::Variable(mut v) => {
                v.ident.extend(fields);
                v.pos = pos;
                v.span = start..end;
                Arg::Variable(v)
            }
            n @ (Arg::Bool(_) | Arg::String(_) | Arg::Number(_) | Arg::Nil(_) | Arg::Dot(_)) => {
                return self.errorf(format!(
                    "unexpected . after term {}",
                    kapsel_govalue::gostrconv::quote(&n.to_string())
                ));
            }
            n => Arg::Chain(ChainNode {
                pos,
                span: start..end,
                node: Box::new(n),
                fields,
            }),
        }))
    }

    fn term(&mut self, sh: &mut Shared) -> PResult<Option<Arg>> {
        let token = self.next_non_space(sh);
        let span = token.pos..token.pos + token.val.len();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if !(sh.has_func)(&token.val) {
                    return self.errorf(format!(
                        "function {} not defined",
                        kapsel_govalue::gostrconv::quote(&token.val)
                    ));
                }
                Arg::Identifier(IdentifierNode {
                    pos,
                    span,
                    name: token.val,
                })
            }
            ItemType::Dot => Arg::Dot(LeafNode { pos, span }),
            ItemType::Nil => Arg::Nil(LeafNode { pos, span }),
            ItemType::Variable => {
                let ident: Vec<String> = token.val.split('.').map(str::to_string).collect();
                let first = ident.first().cloned().unwrap_or_default();
                if !self.vars.contains(&first) {
                    return self.errorf(format!(
                        "undefined variable {}",
                        kapsel_govalue::gostrconv::quote(&first)
                    ));
                }
                Arg::Variable(VariableNode { pos, span, ident })
            }
            ItemType::Field => Arg::Field(FieldNode {
                pos,
                span,
                ident: token
                    .val
                    .get(1..)
                    .unwrap_or("")
                    .split('.')
                    .map(str::to_string)
                    .collect(),
            }),
            ItemType::Bool => Arg::Bool(BoolNode {
                pos,
                span,
                value: token.val == "true",
            }),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                match new_number(pos, &token.val, token.typ) {
                    Ok(n) => Arg::Number(n),
                    Err(msg) => return self.errorf(msg),
                }
            }
            ItemType::LeftParen => {
                if sh.depth >= MAX_PARSE_DEPTH {
                    return self.errorf("max expression depth exceeded".to_string());
                }
                sh.depth += 1;
                let r = self.pipeline(sh, "parenthesized pipeline", ItemType::RightParen);
                sh.depth -= 1;
                let (mut p, end) = r?;
                p.span = pos..end;
                Arg::Pipe(Box::new(p))
            }
            ItemType::String | ItemType::RawString => match strconv::unquote(&token.val) {
                Ok(s) => Arg::String(StringNode {
                    pos,
                    span,
                    quoted: token.val,
                    text: s.into(),
                }),
                Err(()) => return self.errorf("invalid syntax".to_string()),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

fn float_is_int(f: f64) -> bool {
    f.trunc() == f && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
}

fn float_is_uint(f: f64) -> bool {
    f.trunc() == f && (0.0..18_446_744_073_709_551_616.0).contains(&f)
}

/// Go's `simplifyComplex`: the other types a complex constant with a zero
/// imaginary part also is.
fn simplify_complex(n: &mut NumberNode) {
    let (re, im) = n.complex128;
    n.is_float = im == 0.0;
    if n.is_float {
        n.float64 = re;
        n.is_int = float_is_int(re);
        if n.is_int {
            n.int64 = re as i64;
        }
        n.is_uint = float_is_uint(re);
        if n.is_uint {
            n.uint64 = re as u64;
        }
    }
}

/// `fmt.Sscan(text, &c)` for a `complex128`, as Go's parser uses it for a
/// complex constant such as `1+2i` (`ss.complexTokens` and `convertFloat`);
/// the error is Go's message.
fn scan_complex(text: &str) -> Result<(f64, f64), String> {
    const ERR_COMPLEX: &str = "syntax error scanning complex number";
    struct Scan<'s> {
        b: &'s [u8],
        pos: usize,
        buf: String,
    }
    impl Scan<'_> {
        /// `ss.accept`: takes the next byte if it is one of `ok`.
        fn accept(&mut self, ok: &str) -> bool {
            match self.b.get(self.pos) {
                Some(&c) if ok.as_bytes().contains(&c) => {
                    self.buf.push(char::from(c));
                    self.pos += 1;
                    true
                }
                _ => false,
            }
        }

        /// `ss.floatToken`.
        fn float_token(&mut self) -> String {
            const DIGITS: &str = "0123456789_";
            self.buf.clear();
            if self.accept("nN") && self.accept("aA") && self.accept("nN") {
                return self.buf.clone();
            }
            self.accept("+-");
            if self.accept("iI") && self.accept("nN") && self.accept("fF") {
                return self.buf.clone();
            }
            let mut digits = DIGITS;
            let mut exp = "eEpP";
            if self.accept("0") && self.accept("xX") {
                digits = "0123456789aAbBcCdDeEfF_";
                exp = "pP";
            }
            while self.accept(digits) {}
            if self.accept(".") {
                while self.accept(digits) {}
            }
            if self.accept(exp) {
                self.accept("+-");
                while self.accept(DIGITS) {}
            }
            self.buf.clone()
        }
    }
    let mut s = Scan {
        b: text.as_bytes(),
        pos: 0,
        buf: String::new(),
    };
    if text.is_empty() {
        return Err("EOF".to_string());
    }
    let parens = s.accept("(");
    let real = s.float_token();
    s.buf.clear();
    if !s.accept("+-") {
        return Err(ERR_COMPLEX.to_string());
    }
    let sign = s.buf.clone();
    let imag = format!("{sign}{}", s.float_token());
    if !s.accept("i") || parens && !s.accept(")") {
        return Err(ERR_COMPLEX.to_string());
    }
    Ok((convert_float(&real)?, convert_float(&imag)?))
}

/// `ss.convertFloat` for a token of [`scan_complex`]: `strconv.ParseFloat`,
/// except that a decimal mantissa with a binary exponent (`1.5p3`) is
/// `1.5 * 2^3`.
fn convert_float(s: &str) -> Result<f64, String> {
    if let Some(p) = s.find('p')
        && !s.contains(['x', 'X'])
    {
        // Go puts the whole token into the error.
        let quoted = kapsel_govalue::gostrconv::quote(s);
        let f = strconv::parse_float(&s[..p])
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {quoted}: invalid syntax"))?;
        let m: i32 = s[p + 1..]
            .parse()
            .map_err(|_| format!("strconv.Atoi: parsing {quoted}: invalid syntax"))?;
        return Ok(ldexp(f, m));
    }
    strconv::parse_float_err(s)
}

/// Go's `math.Ldexp`.
fn ldexp(f: f64, e: i32) -> f64 {
    let mut f = f;
    let mut e = e;
    // Scale in steps that stay finite and exact.
    while e > 1000 {
        f *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        f *= 2f64.powi(-1000);
        e += 1000;
    }
    f * 2f64.powi(e)
}

/// Go's `newNumber`.
pub(crate) fn new_number(pos: usize, text: &str, typ: ItemType) -> Result<NumberNode, String> {
    let mut n = NumberNode {
        pos,
        span: pos..pos + text.len(),
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        complex128: (0.0, 0.0),
        int64: 0,
        uint64: 0,
        float64: 0.0,
        text: text.to_string(),
    };
    if typ == ItemType::CharConstant {
        let inner = text.get(1..).unwrap_or("");
        let (strconv::Unit::Rune(v, _), tail) =
            strconv::unquote_char(inner, '\'').map_err(|()| "invalid syntax".to_string())?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        n.int64 = i64::from(v);
        n.is_int = true;
        n.uint64 = u64::from(v);
        n.is_uint = true;
        n.float64 = f64::from(v);
        n.is_float = true;
        return Ok(n);
    }
    if typ == ItemType::Complex {
        // Go lets fmt.Sscan parse the pair.
        n.complex128 = scan_complex(text)?;
        n.is_complex = true;
        simplify_complex(&mut n);
        return Ok(n);
    }
    // Imaginary constants can only be complex unless they are zero.
    if let Some(body) = text.strip_suffix('i')
        && let Some(f) = strconv::parse_float(body)
    {
        n.is_complex = true;
        n.complex128 = (0.0, f);
        simplify_complex(&mut n);
        return Ok(n);
    }
    let u = strconv::parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint64 = u;
    }
    if let Some(i) = strconv::parse_int(text) {
        n.is_int = true;
        n.int64 = i;
        if i == 0 {
            n.is_uint = true;
            n.uint64 = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float64 = n.int64 as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float64 = n.uint64 as f64;
    } else if let Some(f) = strconv::parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!(
                "integer overflow: {}",
                kapsel_govalue::gostrconv::quote(text)
            ));
        }
        n.is_float = true;
        n.float64 = f;
        if float_is_int(f) {
            n.is_int = true;
            n.int64 = f as i64;
        }
        if float_is_uint(f) {
            n.is_uint = true;
            n.uint64 = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            kapsel_govalue::gostrconv::quote(text)
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complex_constants() {
        // Values and messages recorded from Go's parser (fmt.Sscan for a pair).
        let n = |t: &str, typ| new_number(0, t, typ);
        let c = n("1.5-2i", ItemType::Complex).unwrap();
        assert_eq!(
            (c.is_complex, c.complex128, c.is_float),
            (true, (1.5, -2.0), false)
        );
        let c = n("3+0i", ItemType::Complex).unwrap();
        assert_eq!((c.is_float, c.is_int, c.int64), (true, true, 3));
        let c = n("0i", ItemType::Number).unwrap();
        assert_eq!((c.is_complex, c.is_int, c.is_uint), (true, true, true));
        let c = n("0x1p-2i", ItemType::Number).unwrap();
        assert_eq!(c.complex128, (0.0, 0.25));
        assert_eq!(
            n("1i+2i", ItemType::Complex).unwrap_err(),
            "syntax error scanning complex number"
        );
        assert_eq!(
            n("1+1e400i", ItemType::Complex).unwrap_err(),
            r#"strconv.ParseFloat: parsing "+1e400": value out of range"#
        );
        assert_eq!(
            n("0x10i", ItemType::Number).unwrap_err(),
            r#"illegal number syntax: "0x10i""#
        );
    }
}
