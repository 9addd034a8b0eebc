//! Static listing of the field references in a template (`.A.B`, `$.A.B`,
//! `index .A "k"`), for validators that check them against the data a template
//! will receive.

use std::ops::Range;

use crate::Template;
use crate::ast::*;

/// What a field reference starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldRoot {
    /// Dot, where dot is certainly the top-level data (top-level template,
    /// outside `range`/`with` bodies).
    TopDot,
    /// `$` of the top-level template (the top-level data).
    Dollar,
    /// Dot or `$` whose value is not statically the top-level data (inside
    /// `range`/`with` bodies, inside `define`/`block` bodies).
    Unknown,
}

/// One field reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// Where the chain starts.
    pub root: FieldRoot,
    /// The field names, e.g. `["Phases", "pgDump", "Output", "backupLocation"]`;
    /// for `index` references, followed by the constant string keys.
    pub chain: Vec<String>,
    /// The byte range in the source: the field, or the whole `index` command.
    pub span: Range<usize>,
    /// The reference is `index FIELD "k1" "k2"...` (keys appended to `chain`).
    /// The plain field reference is reported separately as well.
    pub via_index: bool,
    /// The source range of each element of `chain`: a field's name without its
    /// dot, an `index` key's quoted literal.
    pub element_spans: Vec<Range<usize>>,
}

/// Spans of the names in a contiguous `.A.B` / `$x.A.B` text starting at `start`
/// (the first `skip` dot-separated parts are not fields: `$x`, or the empty
/// part before a leading dot).
fn name_spans(src_text: &str, start: usize, skip: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut pos = start;
    for (i, part) in src_text.split('.').enumerate() {
        if i >= skip {
            out.push(pos..pos + part.len());
        }
        pos += part.len() + 1;
    }
    out
}

/// All field references of `t` (every tree: top-level and definitions), in
/// source order.
pub fn field_references(t: &Template) -> Vec<FieldRef> {
    let mut out = Vec::new();
    for (name, tree) in t.trees() {
        let top = name == t.name();
        let dot = if top {
            FieldRoot::TopDot
        } else {
            FieldRoot::Unknown
        };
        let dollar = if top {
            FieldRoot::Dollar
        } else {
            FieldRoot::Unknown
        };
        let mut w = Walker {
            out: &mut out,
            dollar,
        };
        w.list(tree, dot);
    }
    out.sort_by(|a, b| {
        (a.span.start, a.span.end, a.via_index).cmp(&(b.span.start, b.span.end, b.via_index))
    });
    out.dedup();
    out
}

struct Walker<'o> {
    out: &'o mut Vec<FieldRef>,
    dollar: FieldRoot,
}

impl Walker<'_> {
    fn list(&mut self, l: &ListNode, dot: FieldRoot) {
        for n in &l.nodes {
            self.node(n, dot);
        }
    }

    fn node(&mut self, n: &Node, dot: FieldRoot) {
        match n {
            Node::Action(a) => self.pipe(&a.pipe, dot),
            Node::If(b) => {
                self.pipe(&b.pipe, dot);
                self.list(&b.list, dot);
                if let Some(e) = &b.else_list {
                    self.list(e, dot);
                }
            }
            Node::Range(b) | Node::With(b) => {
                self.pipe(&b.pipe, dot);
                self.list(&b.list, FieldRoot::Unknown);
                if let Some(e) = &b.else_list {
                    self.list(e, dot);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    self.pipe(p, dot);
                }
            }
            Node::Text(_) | Node::Comment(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }

    fn pipe(&mut self, p: &PipeNode, dot: FieldRoot) {
        for c in &p.cmds {
            self.cmd(c, dot);
        }
    }

    fn cmd(&mut self, c: &CommandNode, dot: FieldRoot) {
        if let [Arg::Identifier(id), item, keys @ ..] = c.args.as_slice()
            && id.name == "index"
            && let Some((root, mut chain, mut element_spans)) = self.base(item, dot)
        {
            let base_len = chain.len();
            let mut last = item.span().end;
            for k in keys {
                match k {
                    Arg::String(s) => {
                        chain.push(s.text.to_str_lossy().into_owned());
                        element_spans.push(s.span.clone());
                        last = s.span.end;
                    }
                    _ => break,
                }
            }
            if chain.len() > base_len {
                self.out.push(FieldRef {
                    root,
                    chain,
                    span: id.span.start..last,
                    via_index: true,
                    element_spans,
                });
            }
        }
        for a in &c.args {
            self.arg(a, dot);
        }
    }

    /// The root, chain and element spans of a field or `$` reference.
    fn base(&self, a: &Arg, dot: FieldRoot) -> Option<(FieldRoot, Vec<String>, Vec<Range<usize>>)> {
        match a {
            Arg::Field(f) => Some((dot, f.ident.clone(), field_spans(f))),
            Arg::Variable(v) if v.ident.first().map(String::as_str) == Some("$") => {
                Some((self.dollar, v.ident[1..].to_vec(), var_spans(v)))
            }
            Arg::Dot(_) => Some((dot, Vec::new(), Vec::new())),
            _ => None,
        }
    }

    fn arg(&mut self, a: &Arg, dot: FieldRoot) {
        match a {
            Arg::Field(f) => self.out.push(FieldRef {
                root: dot,
                chain: f.ident.clone(),
                span: f.span.clone(),
                via_index: false,
                element_spans: field_spans(f),
            }),
            Arg::Variable(v) if v.ident.len() > 1 && v.ident[0] == "$" => {
                self.out.push(FieldRef {
                    root: self.dollar,
                    chain: v.ident[1..].to_vec(),
                    span: v.span.clone(),
                    via_index: false,
                    element_spans: var_spans(v),
                });
            }
            Arg::Chain(c) => self.arg(&c.node, dot),
            Arg::Pipe(p) => self.pipe(p, dot),
            _ => {}
        }
    }
}

fn field_spans(f: &FieldNode) -> Vec<Range<usize>> {
    // `.A.B`: the text before the first dot is empty.
    let text: String = f.ident.iter().map(|i| format!(".{i}")).collect();
    name_spans(&text, f.span.start, 1)
}

fn var_spans(v: &VariableNode) -> Vec<Range<usize>> {
    name_spans(&v.ident.join("."), v.span.start, 1)
}
