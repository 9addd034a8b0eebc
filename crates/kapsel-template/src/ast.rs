//! The parse tree of a template, modelled on Go's `text/template/parse` nodes.
//!
//! Every node carries `pos`, the byte offset Go's parser records for it (used for
//! error locations, so they match Go's), and `span`, the byte range of the source
//! text the node covers (used by tools such as the Blueprint validator to point
//! at the offending text).
//!
//! `Display` on nodes reproduces Go's `Node.String()`, which appears in execution
//! error messages (`executing "t" at <.Foo.Bar>: ...`).

use std::fmt;
use std::ops::Range;

/// A byte range in the template source.
pub type Span = Range<usize>;

/// A sequence of nodes (Go's `ListNode`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListNode {
    /// Go's position of the list.
    pub pos: usize,
    /// Source range covered by the list's nodes (empty at `pos` if none).
    pub span: Span,
    /// The nodes in source order.
    pub nodes: Vec<Node>,
}

/// A node of a [`ListNode`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Plain text.
    Text(TextNode),
    /// A non-control action, e.g. `{{.Foo | printf "%s"}}`.
    Action(ActionNode),
    /// A comment `{{/* ... */}}` (kept only when requested; never executed).
    Comment(CommentNode),
    /// `{{if}}`
    If(BranchNode),
    /// `{{range}}`
    Range(BranchNode),
    /// `{{with}}`
    With(BranchNode),
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place).
    Template(TemplateNode),
    /// `{{break}}`
    Break(KeywordNode),
    /// `{{continue}}`
    Continue(KeywordNode),
}

impl Node {
    /// Go's position of the node.
    pub fn pos(&self) -> usize {
        match self {
            Node::Text(n) => n.pos,
            Node::Action(n) => n.pos,
            Node::Comment(n) => n.pos,
            Node::If(n) | Node::Range(n) | Node::With(n) => n.pos,
            Node::Template(n) => n.pos,
            Node::Break(n) | Node::Continue(n) => n.pos,
        }
    }

    /// The source range of the node.
    pub fn span(&self) -> Span {
        match self {
            Node::Text(n) => n.span.clone(),
            Node::Action(n) => n.span.clone(),
            Node::Comment(n) => n.span.clone(),
            Node::If(n) | Node::Range(n) | Node::With(n) => n.span.clone(),
            Node::Template(n) => n.span.clone(),
            Node::Break(n) | Node::Continue(n) => n.span.clone(),
        }
    }
}

/// Plain text between actions.
#[derive(Debug, Clone, PartialEq)]
pub struct TextNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The text (after trimming by `{{-`/`-}}`).
    pub text: String,
}

/// A comment.
#[derive(Debug, Clone, PartialEq)]
pub struct CommentNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The comment text including `/*` and `*/`.
    pub text: String,
}

/// `{{break}}` or `{{continue}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordNode {
    /// Go's position (of the keyword).
    pub pos: usize,
    /// Source range (the whole action).
    pub span: Span,
}

/// An action that prints (or declares/assigns variables).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionNode {
    /// Go's position (first token of the pipeline).
    pub pos: usize,
    /// Source range, delimiters included.
    pub span: Span,
    /// The pipeline.
    pub pipe: PipeNode,
}

/// `if`, `range` or `with`.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchNode {
    /// Go's position (the pipeline's).
    pub pos: usize,
    /// Source range, from the opening `{{` to the closing `}}` of `{{end}}`.
    pub span: Span,
    /// The controlling pipeline.
    pub pipe: PipeNode,
    /// The body.
    pub list: ListNode,
    /// The `{{else}}` body, if any (`else if`/`else with` nest a node here).
    pub else_list: Option<ListNode>,
}

/// `{{template "name" pipeline}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateNode {
    /// Go's position (the name's).
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The called template's name.
    pub name: String,
    /// The pipeline giving its dot, if any.
    pub pipe: Option<PipeNode>,
}

/// A pipeline: optional declarations and commands separated by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct PipeNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// Declared/assigned variables, in source order.
    pub decl: Vec<VariableNode>,
    /// The commands.
    pub cmds: Vec<CommandNode>,
}

/// One command of a pipeline: operands separated by spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The operands; the first may be a function name.
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A function name.
    Identifier(IdentifierNode),
    /// `.`
    Dot(LeafNode),
    /// `nil`
    Nil(LeafNode),
    /// `.A.B`
    Field(FieldNode),
    /// `$x.A.B`
    Variable(VariableNode),
    /// `(pipeline).A.B` or `func.A` (a term followed by fields).
    Chain(ChainNode),
    /// `true`/`false`
    Bool(BoolNode),
    /// A number or character constant.
    Number(NumberNode),
    /// A quoted or raw string.
    String(StringNode),
    /// A parenthesized pipeline.
    Pipe(Box<PipeNode>),
}

impl Arg {
    /// Go's position.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Identifier(n) => n.pos,
            Arg::Dot(n) | Arg::Nil(n) => n.pos,
            Arg::Field(n) => n.pos,
            Arg::Variable(n) => n.pos,
            Arg::Chain(n) => n.pos,
            Arg::Bool(n) => n.pos,
            Arg::Number(n) => n.pos,
            Arg::String(n) => n.pos,
            Arg::Pipe(n) => n.pos,
        }
    }

    /// Source range.
    pub fn span(&self) -> Span {
        match self {
            Arg::Identifier(n) => n.span.clone(),
            Arg::Dot(n) | Arg::Nil(n) => n.span.clone(),
            Arg::Field(n) => n.span.clone(),
            Arg::Variable(n) => n.span.clone(),
            Arg::Chain(n) => n.span.clone(),
            Arg::Bool(n) => n.span.clone(),
            Arg::Number(n) => n.span.clone(),
            Arg::String(n) => n.span.clone(),
            Arg::Pipe(n) => n.span.clone(),
        }
    }
}

/// A node with no content but its place (`.`, `nil`).
#[derive(Debug, Clone, PartialEq)]
pub struct LeafNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
}

/// A function name.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifierNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The name.
    pub name: String,
}

/// `.A.B.C`: field names without dots.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// `["A", "B", "C"]`
    pub ident: Vec<String>,
}

/// `$x.A.B`: `["$x", "A", "B"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The variable name (with `$`) followed by field names.
    pub ident: Vec<String>,
}

/// A term followed by field accesses.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The term.
    pub node: Box<Arg>,
    /// The field names, without dots.
    pub fields: Vec<String>,
}

/// `true` or `false`.
#[derive(Debug, Clone, PartialEq)]
pub struct BoolNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The value.
    pub value: bool,
}

/// A numeric constant with Go's interpretations of it.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The value fits an `int64`.
    pub is_int: bool,
    /// The value fits a `uint64`.
    pub is_uint: bool,
    /// The value is (also) a float.
    pub is_float: bool,
    /// The constant is complex (`1i`, `1+2i`): it evaluates to a `complex128`.
    pub is_complex: bool,
    /// The `complex128` value (real, imaginary).
    pub complex128: (f64, f64),
    /// The `int64` value.
    pub int64: i64,
    /// The `uint64` value.
    pub uint64: u64,
    /// The `float64` value.
    pub float64: f64,
    /// The source text.
    pub text: String,
}

/// A string constant.
#[derive(Debug, Clone, PartialEq)]
pub struct StringNode {
    /// Go's position.
    pub pos: usize,
    /// Source range.
    pub span: Span,
    /// The source text, quotes included.
    pub quoted: String,
    /// The unquoted value (Go's bytes: `"\xff"` is not UTF-8).
    pub text: kapsel_govalue::Str,
}

// ---- Go's String() forms ----

impl fmt::Display for ListNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => f.write_str(&t.text),
            Node::Action(a) => write!(f, "{{{{{}}}}}", a.pipe),
            Node::Comment(c) => write!(f, "{{{{{}}}}}", c.text),
            Node::If(b) => write_branch(f, "if", b),
            Node::Range(b) => write_branch(f, "range", b),
            Node::With(b) => write_branch(f, "with", b),
            Node::Template(t) => {
                write!(
                    f,
                    "{{{{template {}",
                    kapsel_govalue::gostrconv::quote(&t.name)
                )?;
                if let Some(p) = &t.pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

fn write_branch(f: &mut fmt::Formatter<'_>, name: &str, b: &BranchNode) -> fmt::Result {
    write!(f, "{{{{{name} {}}}}}{}", b.pipe, b.list)?;
    if let Some(e) = &b.else_list {
        write!(f, "{{{{else}}}}{e}")?;
    }
    f.write_str("{{end}}")
}

impl fmt::Display for PipeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            for (i, v) in self.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CommandNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Identifier(n) => f.write_str(&n.name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Field(n) => write!(f, "{n}"),
            Arg::Variable(n) => write!(f, "{n}"),
            Arg::Chain(c) => {
                if let Arg::Pipe(p) = &*c.node {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{}", c.node)?;
                }
                for field in &c.fields {
                    write!(f, ".{field}")?;
                }
                Ok(())
            }
            Arg::Bool(b) => f.write_str(if b.value { "true" } else { "false" }),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String(s) => f.write_str(&s.quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for FieldNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in &self.ident {
            write!(f, ".{id}")?;
        }
        Ok(())
    }
}

impl fmt::Display for VariableNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ident.join("."))
    }
}
