//! A Go `text/template`-compatible template engine: lexer, parser (with byte
//! spans on every node), executor and the builtin functions (`and`, `or`, `not`,
//! `eq`…`ge`, `index`, `slice`, `len`, `print*`, `html`, `js`, `urlquery`,
//! `call`), reproducing Go 1.26's behaviour and error texts.
//!
//! Kanister renders Blueprint arguments with `missingkey=error` and sprig's
//! `TxtFuncMap`; [`render_kanister`] and [`Options::kanister`] do exactly that.
//! [`field_references`] lists the `.A.B.C` references of a template for static
//! checks of Blueprints.
//!
//! ```
//! use kapsel_template::{FieldRoot, Template, Value, field_references, render_kanister};
//!
//! let data = Value::from_json(&serde_json::json!({"Object": {"metadata": {"name": "db"}}}));
//! assert_eq!(
//!     render_kanister("config", "{{ .Object.metadata.name | upper }}", &data).unwrap(),
//!     "DB"
//! );
//! let err = render_kanister("config", "{{ .Object.spec }}", &data).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"template: config:1:10: executing "config" at <.Object.spec>: map has no entry for key "spec""#
//! );
//!
//! let t = Template::parse("config", r#"{{ index .Phases.p.Secrets.s.Data "pw" }}"#,
//!     &kapsel_sprig::txt_func_map()).unwrap();
//! let refs = field_references(&t);
//! assert_eq!(refs[0].root, FieldRoot::TopDot);
//! assert_eq!(refs[0].chain, ["Phases", "p", "Secrets", "s", "Data", "pw"]);
//! assert!(refs[0].via_index);
//! ```
//!
//! Depends on `kapsel-govalue` (values, Go formatting) and `kapsel-sprig` (the
//! default function library); it must not depend on Kanister/Kubernetes types
//! or on any other Kapsel crate.
//!
//! Fidelity is checked against real Go (text/template + sprig v2.22) by the
//! recorded corpora in `testdata/template-corpus/` and `tests/data/`, including
//! error texts and positions (Go positions a multi-field node such as `.A.B` at
//! its second field; [`ExecError::offset`] does too, [`ExecError::span`] covers
//! the whole node).
//!
//! Strings are Go's bytes ([`kapsel_govalue::Str`]); [`Template::execute_bytes`]
//! gives Go's exact output, [`Template::execute`] the same as text (lossy only
//! where Go's output is not UTF-8). Indexing a string or `[]byte` gives
//! `uint8`; maps are shared and changed in place by sprig's `set`/`merge`...;
//! slices carry Go's capacity, which `slice` may read up to, and share their
//! backing array as in Go (sprig's `sortAlpha` sorts a `[]string` in place:
//! a variable holding it, a `slice` of it and a `range` over it see the new
//! order). Complex constants (`1i`, `2.5i`, `1+2i`) are `complex128` values
//! as in Go (printing, `%T`, truth, `eq`/`lt`, sprig's conversions, the JSON
//! error). Non-string verbs print the fields of `*semver.Version` and
//! `time.Time` as Go does (`%d` of a UTC time is `{wall ext 0}`).
//!
//! Known differences from Go:
//! - an address that Go prints is printed as `0xc000000000`: the
//!   `*time.Location` of a time that is not UTC under `%d`, `%o`, `%b` or
//!   `%p`, the `cacheZone` of a fixed zone inside a `%!e(*time.Location=...)`
//!   note, a pointer inside a list or map (`%d` of `list (semver "1.2")`),
//!   `%p`. Go's addresses are not reproducible (they change from run to run,
//!   or from build to build for `time.Local`); the differential test's one
//!   known difference;
//! - `time.Local` is modelled as Go sets it up when the local zone is UTC
//!   (what `%!e(...)` shows of it), a time from `now` has no monotonic
//!   reading (Go's has one, which its `%d` form shows), and a location loaded
//!   by name (not a fixed offset) prints and compares as a fixed zone;
//! - methods exist only for `time.Time` (`Year`, `Day`, `Hour`, `Minute`,
//!   `Second`, `Nanosecond`, `YearDay`, `Unix`, `UnixMilli`, `UnixNano`,
//!   `IsZero`, `UTC`, `String`, `Format`, `AddDate`) and sprig's
//!   `*semver.Version` (`String` and the accessors `Major`, `Minor`, `Patch`,
//!   `Prerelease`, `Metadata`, `Original`; not `IncMajor`, `LessThan`...);
//!   in particular the generated `String()` methods of Kubernetes API types
//!   are not modelled, so printing an addressable `v1.Secret`/`ObjectMeta`
//!   directly (`{{ .Profile }}`) differs from Go's `&Secret{...}` form;
//! - map keys are text: a key that is not valid UTF-8 (`dict (trunc 1 "é") 1`)
//!   is stored with U+FFFD, and path and semver parsing read invalid bytes as
//!   U+FFFD (error texts then quote U+FFFD where Go quotes `\xNN`);
//! - limits: nesting of parentheses and control structures deeper than 100
//!   (Go: 10000 / unlimited), template recursion deeper than
//!   [`MAX_TEMPLATE_DEPTH`] (Go: 100000), more than [`MAX_RANGE_ITERATIONS`]
//!   range iterations or [`MAX_OUTPUT_BYTES`] of output (Go: unlimited) are
//!   execution errors. Everything fits a 2 MiB thread stack, even in debug builds.

// `ExecError` carries Go's full location and message by value (the public API
// the other crates use); errors are the cold path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod ast;
mod builtins;
mod exec;
mod lex;
mod methods;
mod parse;
mod refs;
mod strconv;
mod unicode_tables;

use std::collections::BTreeMap;
use std::fmt;

pub use kapsel_govalue::{Func, FuncMap, Param, Type, Value};
pub use refs::{FieldRef, FieldRoot, field_references};

/// The most output one execution may produce (Go has no limit; this keeps a
/// runaway template from exhausting memory).
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// The most `range` iterations one execution may run (Go has no limit; this
/// keeps `{{range 9223372036854775807}}` from running for ever).
pub const MAX_RANGE_ITERATIONS: u64 = 10_000_000;

/// How many nested `{{template}}` calls execution allows before failing.
pub const MAX_TEMPLATE_DEPTH: usize = 100;

/// What a field access on a map does when the key is missing (Go's
/// `missingkey=` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// `missingkey=default` (or `invalid`): yields no value (prints `<no value>`).
    #[default]
    Default,
    /// `missingkey=zero`: yields the zero value of the map's element type.
    Zero,
    /// `missingkey=error`: execution fails with `map has no entry for key "K"`.
    Error,
}

/// Execution options: the functions available besides the builtins and the
/// missing-key behaviour.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Functions in addition to the builtins (a name here overrides a builtin).
    pub funcs: FuncMap,
    /// Missing map key behaviour.
    pub missing_key: MissingKey,
}

impl Options {
    /// What Kanister uses: sprig's `TxtFuncMap` and `missingkey=error`.
    pub fn kanister() -> Options {
        KANISTER_OPTIONS.clone()
    }
}

/// A parse failure, with Go's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The template name used in the message.
    pub name: String,
    /// Byte offset into the source of the token where the error was detected.
    pub offset: usize,
    /// Go's line number for the error (1-based).
    pub line: usize,
    /// Column of `offset` (1-based, in characters).
    pub col: usize,
    /// The message without the `template: NAME:LINE: ` prefix.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template: {}:{}: {}", self.name, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// An execution failure, with Go's message and the failing node's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// The top-level template name (Go's `ParseName`, used in the location).
    pub name: String,
    /// The name of the template being executed (differs inside `define`s).
    pub template: String,
    /// Byte offset of the failing node in the source, where Go places it (for
    /// `.A.B` that is the second field; see `span` for the whole node).
    pub offset: usize,
    /// Line of the failing node (1-based).
    pub line: usize,
    /// Column of the failing node (1-based, in characters).
    pub col: usize,
    /// The source range of the failing node, if any.
    pub span: Option<std::ops::Range<usize>>,
    /// Go's rendering of the failing node (`.Foo.Bar`, `index .A "x"`), if any.
    pub context: Option<String>,
    /// The message, e.g. `map has no entry for key "Foo"`.
    pub message: String,
    /// Go's column: the 0-based byte offset within the line.
    pub go_col: usize,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some(ctx) => write!(
                f,
                "template: {}:{}:{}: executing {} at <{}>: {}",
                self.name,
                self.line,
                self.go_col,
                kapsel_govalue::gostrconv::quote(&self.template),
                ctx,
                self.message
            ),
            None => write!(f, "template: {}: {}", self.template, self.message),
        }
    }
}

impl std::error::Error for ExecError {}

/// A parse or execution failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template did not parse.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// Execution failed.
    #[error("{0}")]
    Exec(#[from] ExecError),
}

/// A parsed template with the templates it defines.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    src: String,
    trees: BTreeMap<String, ast::ListNode>,
    empty_root: ast::ListNode,
}

/// Line (1-based), column (1-based, chars) and Go's column (0-based bytes) of a
/// byte offset.
pub(crate) fn locate(src: &str, offset: usize) -> (usize, usize, usize) {
    let mut off = offset.min(src.len());
    while !src.is_char_boundary(off) {
        off -= 1;
    }
    let before = &src[..off];
    let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col, off - line_start)
}

impl Template {
    /// Parses `src` as template `name`. Function names are checked against
    /// `funcs` and the builtins, as Go does.
    pub fn parse(name: &str, src: &str, funcs: &FuncMap) -> Result<Template, ParseError> {
        let has_func = |n: &str| funcs.get(n).is_some() || builtins::is_builtin(n);
        match parse::parse(name, src, &has_func) {
            Ok(trees) => Ok(Template {
                name: name.to_string(),
                src: src.to_string(),
                trees,
                empty_root: ast::ListNode {
                    pos: 0,
                    span: 0..0,
                    nodes: Vec::new(),
                },
            }),
            Err(e) => {
                let (_, col, _) = locate(src, e.offset);
                Err(ParseError {
                    name: name.to_string(),
                    offset: e.offset.min(src.len()),
                    line: e.line,
                    col,
                    message: e.msg,
                })
            }
        }
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The parsed tree of the top-level template.
    pub fn root(&self) -> &ast::ListNode {
        self.trees.get(&self.name).unwrap_or(&self.empty_root)
    }

    /// All trees: the top-level one and every `define`/`block`, by name.
    pub fn trees(&self) -> &BTreeMap<String, ast::ListNode> {
        &self.trees
    }

    /// Executes the template on `data`, giving Go's output bytes exactly (Go
    /// strings are bytes: `slice`, `trunc`, `substr`, `b64dec`... can produce
    /// invalid UTF-8).
    pub fn execute_bytes(&self, data: &Value, opts: &Options) -> Result<Vec<u8>, ExecError> {
        exec::execute(self, data, opts)
    }

    /// Executes the template on `data`, as text. Identical to Go's output
    /// whenever that is valid UTF-8; otherwise each byte of an invalid
    /// sequence becomes U+FFFD (what Go's `encoding/json`, and so the
    /// Kubernetes API, would store). Use [`Template::execute_bytes`] for the
    /// exact bytes.
    pub fn execute(&self, data: &Value, opts: &Options) -> Result<String, ExecError> {
        let out = exec::execute(self, data, opts)?;
        Ok(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => kapsel_govalue::decode_lossy(e.as_bytes()).into_owned(),
        })
    }
}

static KANISTER_OPTIONS: std::sync::LazyLock<Options> = std::sync::LazyLock::new(|| Options {
    funcs: kapsel_sprig::txt_func_map(),
    missing_key: MissingKey::Error,
});

/// Parses and executes `src` as Kanister does: sprig functions, `missingkey=error`.
pub fn render_kanister(name: &str, src: &str, data: &Value) -> Result<String, Error> {
    let opts = &*KANISTER_OPTIONS;
    let t = Template::parse(name, src, &opts.funcs)?;
    Ok(t.execute(data, opts)?)
}
