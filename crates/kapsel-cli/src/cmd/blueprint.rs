//! `kapsel blueprint validate` and `kapsel blueprint render` (and `apply`,
//! in cluster/apply.rs).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kapsel_api::Blueprint;
use kapsel_params::RenderParams;

use super::{CliError, out, read};

/// Blueprint subcommands.
#[derive(Debug, Subcommand)]
pub enum BlueprintCmd {
    /// Check Blueprints without a cluster: YAML, schema, functions and their
    /// arguments, templates, references between phases and artifacts.
    /// Exit code 0: valid; 1: invalid; 2: usage or I/O error.
    Validate(ValidateArgs),
    /// Validate Blueprint files as `validate` does, then create or update
    /// them in a cluster (server-side apply); nothing is applied when one
    /// has an error (exit 1).
    Apply(super::cluster::apply::ApplyArgs),
    /// Render every phase's args of one action for an object and a parameters
    /// file, printing exactly what would run. Secret values are masked.
    Render(RenderArgs),
}

/// Output formats for diagnostics.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum DiagFormat {
    /// rustc-like diagnostics with source snippets.
    #[default]
    Human,
    /// One JSON document: `{"files": [{"path", "diagnostics": [...]}], "errors", "warnings"}`.
    Json,
}

/// `kapsel blueprint validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Blueprint files.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: DiagFormat,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Resolve functions at this version (an ActionSet's `preferredVersion`).
    #[arg(long)]
    pub function_version: Option<String>,
    /// Also apply Kanister's admission rules that its controller does not need
    /// (phase names unique across all actions, like `kanctl validate`).
    #[arg(long)]
    pub strict: bool,
}

/// Output formats for rendered actions.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum RenderFormat {
    /// YAML: per phase its function, objects and args.
    #[default]
    Yaml,
    /// JSON.
    Json,
}

/// `kapsel blueprint render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The Blueprint file.
    pub file: String,
    /// The action to render.
    #[arg(long, short = 'a')]
    pub action: String,
    /// The render-parameters file (YAML or JSON; see docs/render-params.md).
    #[arg(long, short = 'p')]
    pub params: String,
    /// Print secret values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: RenderFormat,
}

/// Runs a Blueprint subcommand.
pub fn run(cmd: BlueprintCmd) -> Result<ExitCode, CliError> {
    match cmd {
        BlueprintCmd::Validate(a) => validate_blueprints(&a),
        BlueprintCmd::Render(a) => render(&a),
        BlueprintCmd::Apply(a) => Ok(super::cluster::apply::run(a)),
    }
}

/// Validates Blueprint files.
pub fn validate_blueprints(a: &ValidateArgs) -> Result<ExitCode, CliError> {
    let mut sources = Vec::new();
    for path in &a.files {
        sources.push((path.clone(), read(path)?));
    }
    validate_sources(a, &sources)
}

/// Validates Blueprints given as `(name, text)` (files read, or objects
/// fetched from a cluster), printing the diagnostics as `blueprint
/// validate` does; `a.files` is not read.
pub fn validate_sources(
    a: &ValidateArgs,
    sources: &[(String, String)],
) -> Result<ExitCode, CliError> {
    let opts = kapsel_validate::Options {
        function_version: a.function_version.clone(),
        kanister_strict: a.strict,
        ..kapsel_validate::Options::default()
    };
    let handler =
        miette::GraphicalReportHandler::new_themed(if std::env::var_os("NO_COLOR").is_some() {
            miette::GraphicalTheme::unicode_nocolor()
        } else {
            miette::GraphicalTheme::default()
        });
    let mut invalid = false;
    let (mut errors, mut warnings) = (0usize, 0usize);
    let mut json_files = Vec::new();
    for (path, src) in sources {
        let (path, src) = (path.as_str(), src.as_str());
        let report = kapsel_validate::validate_source(path, src, &opts);
        invalid |= report.has_errors(a.deny_warnings);
        for d in &report.diagnostics {
            match d.severity {
                kapsel_validate::Severity::Error => errors += 1,
                _ => warnings += 1,
            }
        }
        match a.output {
            DiagFormat::Human => {
                for d in &report.diagnostics {
                    let mut text = String::new();
                    let sourced = d.with_source(path, src);
                    if handler.render_report(&mut text, &sourced).is_err() {
                        text = format!("{d}\n");
                    }
                    eprint!("{text}");
                }
            }
            DiagFormat::Json => json_files.push(report.to_json()),
        }
    }
    match a.output {
        DiagFormat::Human => {
            let verdict = if invalid { "invalid" } else { "valid" };
            eprintln!(
                "{} file(s) checked: {verdict} ({errors} error(s), {warnings} warning(s))",
                sources.len()
            );
        }
        DiagFormat::Json => {
            let doc = serde_json::json!({
                "files": json_files,
                "errors": errors,
                "warnings": warnings,
                "valid": !invalid,
            });
            out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ))?;
        }
    }
    Ok(if invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &str,
    text: &str,
    what: &str,
) -> Result<T, CliError> {
    kapsel_yaml::from_str(text).map_err(|e| CliError::Input {
        path: path.to_string(),
        message: format!("not a valid {what}: {}", super::run::yaml_error(path, &e)),
        help: Some(format!(
            "run `kapsel blueprint validate {path}` for a detailed check"
        )),
    })
}

fn render(a: &RenderArgs) -> Result<ExitCode, CliError> {
    let bp: Blueprint = parse_yaml(&a.file, &read(&a.file)?, "Blueprint")?;
    let params: RenderParams = parse_yaml(&a.params, &read(&a.params)?, "render-parameters file")
        .map_err(|e| match e {
        CliError::Input { path, message, .. } => CliError::Input {
            path,
            message,
            help: Some("see docs/render-params.md for the format".to_string()),
        },
        other => other,
    })?;
    let Some(action) = bp.action(&a.action) else {
        let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
        return Err(CliError::Input {
            path: a.file.clone(),
            message: format!("the Blueprint has no action {:?}", a.action),
            help: Some(format!("its actions are: {}", known.join(", "))),
        });
    };
    let rendered = kapsel_params::render_action(action, &params).map_err(|e| CliError::Input {
        path: a.params.clone(),
        message: e.to_string(),
        help: None,
    })?;
    let failed = rendered
        .phases
        .iter()
        .chain(rendered.defer_phase.as_ref())
        .any(|p| p.error.is_some())
        || rendered.output_artifacts_error.is_some();
    let value = serde_json::to_value(&rendered).map_err(|e| CliError::Input {
        path: a.file.clone(),
        message: e.to_string(),
        help: None,
    })?;
    let mut text = match a.output {
        RenderFormat::Json => serde_json::to_string_pretty(&value).unwrap_or_default() + "\n",
        RenderFormat::Yaml => serde_saphyr::to_string(&value).unwrap_or_default(),
    };
    if !a.show_secrets {
        text = kapsel_params::Redactor::for_params(&params).redact(&text);
    }
    out(&text)?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
