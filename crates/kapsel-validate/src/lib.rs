//! Static checks for Kanister Blueprints, with source-located diagnostics, and
//! the Kanister function [`catalog`].
//!
//! [`validate_source`] takes the text of a Blueprint file and returns a
//! [`Report`] listing every problem found in one pass: YAML syntax, document
//! shape, schema (unknown fields with suggestions, wrong types, missing
//! fields), Kanister functions and their arguments, Go template syntax inside
//! every templated string, and references between phases, objects, artifacts
//! and template parameters. Every diagnostic has a stable code (documented in
//! `docs/validation.md`) and byte spans into the source, so the CLI can render
//! it with miette and `--output json` can serialize it.
//!
//! YAML is read with `kapsel-yaml`'s tree (built from `saphyr-parser` events)
//! rather than `saphyr`'s loader: the loader keeps only start markers and
//! silently overwrites duplicate keys, while the validator needs full spans,
//! scalar styles (to map offsets inside a scalar's value back to the file)
//! and duplicate-key detection. Scalars resolve as Kanister resolves them
//! (YAML 1.1, go-yaml v2); where YAML 1.2 reads one differently, `KV0007`
//! says so.
//!
//! This crate does no I/O and never panics on any input. It depends on
//! `kapsel-template` (Go template parsing and field references, through
//! [`GoEngine`]), `kapsel-params` (the template-parameter type tree) and
//! `kapsel-govalue` (the `Type` of that tree); both are behind small seams
//! ([`template::TemplateEngine`], [`Options::param_types`]) so they can be
//! replaced. It must not depend on the execution engine, the CLI, or any
//! Kubernetes client or platform crate.

#![warn(missing_docs)]

use std::sync::Arc;

pub mod catalog;
mod check;
mod diag;
mod goengine;
pub mod params;
mod suggest;
pub mod template;
mod yaml;

pub use diag::{Diagnostic, Label, NamedSrc, Report, Severity, SourcedDiagnostic};
pub use goengine::GoEngine;

use kapsel_govalue::Type;

/// Validation settings.
#[derive(Clone, Default)]
pub struct Options {
    /// Function version to resolve functions at, like `kanctl validate
    /// --functionVersion` (an ActionSet's `preferredVersion`). `None` = `v0.0.0`.
    pub function_version: Option<String>,
    /// The template parameter type tree (`kapsel_params::template_params_type()`);
    /// `None` uses `kapsel_params::template_params_type()`.
    pub param_types: Option<Type>,
    /// Template parser; `None` uses [`GoEngine`] (the full Go parser).
    pub template_engine: Option<Arc<dyn template::TemplateEngine + Send + Sync>>,
    /// Also apply Kanister's admission-time rules that the controller itself does
    /// not need (currently: phase names unique across *all* actions, `KV0109`).
    pub kanister_strict: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("function_version", &self.function_version)
            .field("param_types", &self.param_types.is_some())
            .field("template_engine", &self.template_engine.is_some())
            .field("kanister_strict", &self.kanister_strict)
            .finish()
    }
}

/// Validate the Blueprint in `src` (read from `path`, used only for display).
///
/// Never panics and does no I/O; all findings are in the returned report,
/// sorted by position.
///
/// ```
/// use kapsel_validate::{Options, validate_source};
///
/// let src = "apiVersion: cr.kanister.io/v1alpha1
/// kind: Blueprint
/// metadata:
///   name: demo
/// actions:
///   backup:
///     phases:
///     - func: KubeTsk
///       name: run
/// ";
/// let report = validate_source("demo.yaml", src, &Options::default());
/// assert!(report.has_errors(false));
/// let d = &report.diagnostics[0];
/// assert_eq!(d.code, "KV0201");
/// assert_eq!(d.position(), Some((8, 13)));
/// assert_eq!(d.help.as_deref(), Some("did you mean `KubeTask`?"));
/// ```
pub fn validate_source(path: &str, src: &str, opts: &Options) -> Report {
    let source = yaml::Src::new(src);
    let builtin;
    let params = match &opts.param_types {
        Some(t) => t,
        None => {
            builtin = kapsel_params::template_params_type();
            &builtin
        }
    };
    let go = GoEngine;
    let engine: &dyn template::TemplateEngine = match &opts.template_engine {
        Some(e) => e.as_ref(),
        None => &go,
    };
    let version = opts.function_version.as_deref();
    let mut cx = check::Ctx {
        src: &source,
        diags: Vec::new(),
        engine,
        params,
        function_version: version,
        strict: opts.kanister_strict,
        maps: Default::default(),
    };
    if let Some(v) = version
        && !v.is_empty()
        && v != catalog::DEFAULT_VERSION
        && let Err(e) = catalog::parse_version(v)
    {
        cx.diags.push(Diagnostic {
            code: "KV0206",
            severity: Severity::Error,
            message: format!("invalid function version: {e}"),
            labels: Vec::new(),
            help: Some("use a semantic version such as `v0.0.0`".into()),
        });
    }
    let loaded = yaml::load(&source);
    cx.load_issues(&loaded.issues);
    let syntax_error = loaded.issues.iter().any(|i| {
        matches!(
            i,
            yaml::LoadIssue::Syntax { .. }
                | yaml::LoadIssue::TooDeep { .. }
                | yaml::LoadIssue::TooManyNodes { .. }
        )
    });
    match &loaded.root {
        Some(root) if !syntax_error => {
            check::check_document(&mut cx, root);
            cx.yaml11_differences(root);
        }
        Some(_) => {}
        None if !syntax_error => cx.diags.push(Diagnostic {
            code: "KV0005",
            severity: Severity::Error,
            message: "the file contains no YAML document".into(),
            labels: vec![Label {
                span: 0..0,
                line: 1,
                col: 1,
                message: "empty".into(),
            }],
            help: Some("a Blueprint starts with `apiVersion: cr.kanister.io/v1alpha1` and `kind: Blueprint`".into()),
        }),
        None => {}
    }
    Report::new(path, cx.diags)
}
