//! Diagnostics: what the validator reports, with byte spans into the source.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The Blueprint is invalid: Kanister would reject it or it cannot work.
    Error,
    /// Suspicious or deprecated, but Kanister would accept it.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A labelled region of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Byte offsets into the validated source.
    pub span: Range<usize>,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column (in characters) of `span.start`.
    pub col: usize,
    /// What this region shows.
    pub message: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `KV0201`; documented in `docs/validation.md`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line description.
    pub message: String,
    /// Source regions; the first one is the primary location.
    pub labels: Vec<Label>,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl Diagnostic {
    /// Line and column (1-based) of the primary label, if any.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.labels.first().map(|l| (l.line, l.col))
    }

    /// Attach the source text so that renderers (miette) can show snippets.
    pub fn with_source<'a>(&'a self, name: &'a str, src: &'a str) -> SourcedDiagnostic<'a> {
        SourcedDiagnostic {
            diag: self,
            source: NamedSrc { name, src },
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

fn miette_labels<'a>(
    labels: &'a [Label],
) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + 'a>> {
    if labels.is_empty() {
        return None;
    }
    Some(Box::new(labels.iter().enumerate().map(|(i, l)| {
        let len = l.span.end.saturating_sub(l.span.start);
        let text = if l.message.is_empty() {
            None
        } else {
            Some(l.message.clone())
        };
        if i == 0 {
            miette::LabeledSpan::new_primary_with_span(text, (l.span.start, len))
        } else {
            miette::LabeledSpan::new_with_span(text, (l.span.start, len))
        }
    })))
}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        miette_labels(&self.labels)
    }
}

/// Source text with a name, as miette's `SourceCode`.
#[derive(Debug, Clone, Copy)]
pub struct NamedSrc<'a> {
    name: &'a str,
    src: &'a str,
}

impl miette::SourceCode for NamedSrc<'_> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .src
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A [`Diagnostic`] together with its source, ready for a miette renderer.
#[derive(Debug, Clone, Copy)]
pub struct SourcedDiagnostic<'a> {
    diag: &'a Diagnostic,
    source: NamedSrc<'a>,
}

impl fmt::Display for SourcedDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.diag, f)
    }
}

impl std::error::Error for SourcedDiagnostic<'_> {}

impl miette::Diagnostic for SourcedDiagnostic<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::code(self.diag)
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diag)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.diag)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        miette_labels(&self.diag.labels)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
}

/// Everything found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The path given to [`crate::validate_source`] (for display only).
    pub path: String,
    /// Number of error diagnostics.
    pub errors: usize,
    /// Number of warning diagnostics.
    pub warnings: usize,
    /// All findings, sorted by position (then code).
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Build a report, sorting the diagnostics by position and dropping exact duplicates.
    pub fn new(path: &str, mut diagnostics: Vec<Diagnostic>) -> Report {
        diagnostics.sort_by(|a, b| {
            let ka = a.labels.first().map(|l| l.span.start).unwrap_or(0);
            let kb = b.labels.first().map(|l| l.span.start).unwrap_or(0);
            ka.cmp(&kb)
                .then(a.code.cmp(b.code))
                .then(a.message.cmp(&b.message))
        });
        diagnostics.dedup();
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let warnings = diagnostics.len() - errors;
        Report {
            path: path.to_string(),
            errors,
            warnings,
            diagnostics,
        }
    }

    /// Whether the file fails validation: any error, or any warning when `deny_warnings`.
    pub fn has_errors(&self, deny_warnings: bool) -> bool {
        self.errors > 0 || (deny_warnings && self.warnings > 0)
    }

    /// The report as JSON (the `--output json` shape documented in `docs/validation.md`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
