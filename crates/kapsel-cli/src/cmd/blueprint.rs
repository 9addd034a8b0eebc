//! `kapsel blueprint validate` and `kapsel blueprint render`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use base64::Engine as _;
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
#[derive(Debug, Args)]
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
        BlueprintCmd::Validate(a) => validate(&a),
        BlueprintCmd::Render(a) => render(&a),
    }
}

fn validate(a: &ValidateArgs) -> Result<ExitCode, CliError> {
    let opts = kapsel_validate::Options {
        function_version: a.function_version.clone(),
        param_types: Some(kapsel_params::template_params_type()),
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
    for path in &a.files {
        let src = read(path)?;
        let report = kapsel_validate::validate_source(path, &src, &opts);
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
                    let sourced = d.with_source(path, &src);
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
                a.files.len()
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
    serde_saphyr::from_str(text).map_err(|e| CliError::Input {
        path: path.to_string(),
        message: format!("not a valid {what}: {e}"),
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
        text = mask(&text, &secret_values(&params));
    }
    out(&text)?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every secret value the parameters hold: Secret data (action, phase, defer
/// phase and profile Secrets) and resolved profile credentials.
fn secret_values(p: &RenderParams) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let add_secret = |s: &k8s_openapi::api::core::v1::Secret, out: &mut BTreeSet<String>| {
        for v in s.data.iter().flat_map(|d| d.values()) {
            out.insert(String::from_utf8_lossy(&v.0).into_owned());
        }
        for v in s.string_data.iter().flat_map(|d| d.values()) {
            out.insert(v.clone());
        }
    };
    for s in p.secrets.values() {
        add_secret(s, &mut out);
    }
    for ph in p.phases.values().chain(p.defer_phase.as_ref()) {
        for s in ph.secrets.values() {
            add_secret(s, &mut out);
        }
    }
    if let Some(prof) = &p.profile {
        if let Some(kp) = &prof.credential.key_pair {
            out.insert(kp.secret.clone());
        }
        if let Some(s) = &prof.credential.secret {
            add_secret(s, &mut out);
        }
        if let Some(k) = &prof.credential.kopia_server_secret {
            out.insert(k.password.clone());
        }
    }
    // Very short values would mask unrelated text; they are masked only when
    // they stand alone, which substring replacement cannot tell: skip them.
    out.retain(|v| v.chars().count() >= 4);
    out
}

/// Replaces each secret, and its JSON-escaped, YAML-escaped and base64 forms,
/// with `********`. Longer secrets first, so a secret containing another is
/// masked whole.
fn mask(text: &str, secrets: &BTreeSet<String>) -> String {
    let mut forms: Vec<String> = Vec::new();
    for s in secrets {
        forms.push(s.clone());
        if let Ok(j) = serde_json::to_string(s) {
            let inner = &j[1..j.len() - 1];
            forms.push(inner.to_string());
            // The rendered text is itself JSON- or YAML-escaped once more.
            if let Ok(jj) = serde_json::to_string(inner) {
                forms.push(jj[1..jj.len() - 1].to_string());
            }
        }
        forms.push(base64::engine::general_purpose::STANDARD.encode(s));
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    let mut text = text.to_string();
    for f in forms.iter().filter(|f| !f.is_empty()) {
        text = text.replace(f.as_str(), "********");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_raw_escaped_and_base64_forms() {
        let secrets: BTreeSet<String> = ["pa\"ss/word".to_string()].into();
        let text = format!(
            "a pa\"ss/word b {} c {}",
            r#"pa\"ss/word"#,
            base64::engine::general_purpose::STANDARD.encode("pa\"ss/word")
        );
        assert_eq!(mask(&text, &secrets), "a ******** b ******** c ********");
    }
}
