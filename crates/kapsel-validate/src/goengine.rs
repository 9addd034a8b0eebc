//! [`TemplateEngine`] backed by `kapsel-template`, the full Go `text/template`
//! parser: Go's own syntax errors and field references.

use std::sync::OnceLock;

use kapsel_govalue::{Func, FuncError, FuncMap, Param, Value};
use kapsel_template::{FieldRoot, Template, field_references};

use crate::template::{FieldRef, FuncSet, RefRoot, TemplateEngine, TemplateError};

/// Parses with `kapsel_template::Template::parse` and lists references with
/// `kapsel_template::field_references`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoEngine;

fn unavailable(_: &[Value]) -> Result<Value, FuncError> {
    Err(FuncError::new("not available during validation"))
}

fn kanister_funcs() -> &'static FuncMap {
    static F: OnceLock<FuncMap> = OnceLock::new();
    F.get_or_init(|| kapsel_template::Options::kanister().funcs)
}

fn kubectl_funcs() -> &'static FuncMap {
    static F: OnceLock<FuncMap> = OnceLock::new();
    F.get_or_init(|| {
        let mut m = FuncMap::new();
        for name in crate::template::KUBECTL_EXTRAS {
            m.insert(Func {
                name,
                params: &[],
                variadic: Some(Param::Any),
                call: unavailable,
            });
        }
        m
    })
}

/// Byte span of each chain element inside `src[span]`: `.Name` for fields,
/// the quoted key for `index` arguments. Falls back to the whole span.
fn element_spans(src: &str, r: &kapsel_template::FieldRef) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let end = r.span.end.min(src.len());
    let mut pos = r.span.start.min(end);
    for name in &r.chain {
        let hay = src.get(pos..end).unwrap_or("");
        let dotted = format!(".{name}");
        let found = find_ident(hay, &dotted)
            .map(|i| (pos + i + 1, pos + i + dotted.len()))
            .or_else(|| {
                ["\"", "`"].iter().find_map(|q| {
                    let quoted = format!("{q}{name}{q}");
                    hay.find(&quoted).map(|i| (pos + i, pos + i + quoted.len()))
                })
            });
        match found {
            Some((s, e)) => {
                out.push(s..e);
                pos = e;
            }
            None => out.push(r.span.clone()),
        }
    }
    out
}

/// Position of `needle` (`.Name`) in `hay` not followed by another identifier char.
fn find_ident(hay: &str, needle: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay.get(from..).and_then(|h| h.find(needle)) {
        let at = from + i;
        let after = hay[at + needle.len()..].chars().next();
        if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

impl TemplateEngine for GoEngine {
    fn analyze(&self, src: &str, funcs: FuncSet) -> Result<Vec<FieldRef>, TemplateError> {
        let map = match funcs {
            FuncSet::Kanister => kanister_funcs(),
            FuncSet::Kubectl => kubectl_funcs(),
        };
        let t = Template::parse("config", src, map).map_err(|e| {
            // Cover the identifier at the error offset (e.g. an unknown function
            // name), or else one character.
            let rest = src.get(e.offset..).unwrap_or("");
            let ident: usize = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .map(char::len_utf8)
                .sum();
            let len = if ident > 0 {
                ident
            } else {
                rest.chars().next().map(char::len_utf8).unwrap_or(0)
            };
            TemplateError {
                offset: e.offset,
                len,
                message: e.message,
            }
        })?;
        Ok(field_references(&t)
            .into_iter()
            .filter_map(|r| {
                let root = match r.root {
                    FieldRoot::TopDot => RefRoot::Dot,
                    FieldRoot::Dollar => RefRoot::Dollar,
                    FieldRoot::Unknown => return None,
                };
                let element_spans = element_spans(src, &r);
                Some(FieldRef {
                    root,
                    chain: r.chain,
                    span: r.span,
                    element_spans,
                    via_index: r.via_index,
                })
            })
            .collect())
    }
}
