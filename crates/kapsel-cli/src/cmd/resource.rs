//! `kapsel validate`: any Kanister resource file. Blueprints go through the
//! Blueprint validator; ActionSets and Profiles are decoded into the API types
//! (fields no Kanister type has are reported: Kanister drops them silently) and
//! checked against the rules Kanister's schema and controller apply.

use std::process::ExitCode;

use kapsel_api::check::Finding;

use super::blueprint::{DiagFormat, ValidateArgs, validate_blueprints};
use super::{CliError, out, read};

/// Validates files of any Kanister kind.
pub fn validate(a: &ValidateArgs) -> Result<ExitCode, CliError> {
    let mut blueprints = Vec::new();
    let mut invalid = false;
    let mut report = Vec::new();
    for path in &a.files {
        let text = read(path)?;
        let parsed = kapsel_yaml::Documents::parse(&text);
        let docs: Vec<serde_json::Value> = match parsed.as_ref().map(|p| p.values()) {
            Ok(Ok(d)) => d,
            Ok(Err(_)) | Err(_) => {
                // Let the Blueprint validator report YAML errors with positions.
                blueprints.push(path.clone());
                continue;
            }
        };
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        if kinds.contains(&"Blueprint") || kinds.is_empty() {
            blueprints.push(path.clone());
            continue;
        }
        for (i, doc) in docs
            .iter()
            .enumerate()
            .filter(|(_, d)| d["apiVersion"] == kapsel_api::API_VERSION)
        {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let Some(mut findings) = kapsel_api::check::findings(kind, doc.clone()) else {
                continue;
            };
            // Scalars Kanister (YAML 1.1) reads differently from YAML 1.2.
            if let Ok(p) = &parsed
                && let Some(node) = p.nodes().get(i)
            {
                findings.extend(
                    kapsel_yaml::ambiguity::ambiguities(node)
                        .into_iter()
                        .map(|a| {
                            let (line, col) = p.src().line_col(a.span.start);
                            Finding::warning(
                                a.path.clone(),
                                format!("{} (line {line} column {col}); {}", a.message(), a.help()),
                            )
                        }),
                );
            }
            let meta = &doc["metadata"];
            let name = meta["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| meta["generateName"].as_str().map(|g| format!("{g}*")))
                .unwrap_or_else(|| "(unnamed)".to_string());
            invalid |= findings.iter().any(|f| f.is_error() || a.deny_warnings);
            report.push((path.clone(), kind.to_string(), name, findings));
        }
    }
    let mut code = ExitCode::SUCCESS;
    if !blueprints.is_empty() {
        let sub = ValidateArgs {
            files: blueprints,
            ..a.clone()
        };
        code = validate_blueprints(&sub)?;
    }
    match a.output {
        DiagFormat::Human => {
            for (path, kind, name, findings) in &report {
                for f in findings {
                    eprintln!(
                        "{}: {path}: {kind} {name}: {}: {}",
                        f.severity, f.path, f.message
                    );
                }
                if findings.is_empty() {
                    eprintln!("{path}: {kind} {name}: valid");
                }
            }
        }
        DiagFormat::Json => {
            let doc: Vec<_> = report
                .iter()
                .map(|(path, kind, name, findings)| serde_json::json!({"path": path, "kind": kind, "name": name, "findings": findings}))
                .collect();
            if !doc.is_empty() {
                out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                ))?;
            }
        }
    }
    Ok(if invalid { ExitCode::from(1) } else { code })
}
