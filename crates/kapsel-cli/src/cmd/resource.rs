//! `kapsel validate`: any Kanister resource file. Blueprints go through the
//! Blueprint validator; ActionSets and Profiles are decoded into the API types
//! (fields no Kanister type has are reported: Kanister drops them silently) and
//! checked against the rules Kanister's schema and controller apply.

use std::process::ExitCode;

use kapsel_api::{ActionSet, CredentialType, LocationType, Profile};

use super::blueprint::{DiagFormat, ValidateArgs, validate_blueprints};
use super::{CliError, out, read};

/// One finding about an ActionSet or Profile.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Finding {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// Where, e.g. `spec.actions.0.blueprint`.
    pub path: String,
    /// What.
    pub message: String,
}

fn profile_findings(p: &Profile) -> Vec<Finding> {
    let mut f = Vec::new();
    let l = &p.spec.location;
    let mut err = |path: &str, message: String| {
        f.push(Finding {
            severity: "error",
            path: path.to_string(),
            message,
        })
    };
    match l.type_ {
        LocationType::Unset => err(
            "location.type",
            "missing: one of s3Compliant, gcs, azure, filesystem".to_string(),
        ),
        LocationType::S3Compliant => {
            if l.bucket.is_empty() {
                err(
                    "location.bucket",
                    "an s3Compliant location needs a bucket".to_string(),
                );
            }
            if l.region.is_empty() {
                err(
                    "location.region",
                    "an s3Compliant location needs a region (Kanister's schema requires it)"
                        .to_string(),
                );
            }
        }
        LocationType::Gcs | LocationType::Azure | LocationType::Filesystem => {
            if l.bucket.is_empty() {
                err("location.bucket", "the location needs a bucket (a container for Azure, a directory for filesystem)".to_string());
            }
        }
        LocationType::Kopia => {}
    }
    let c = &p.spec.credential;
    match c.type_ {
        CredentialType::KeyPair if c.key_pair.is_none() => err(
            "credential.keyPair",
            "credential type keyPair needs credential.keyPair".to_string(),
        ),
        CredentialType::Secret if c.secret.is_none() => err(
            "credential.secret",
            "credential type secret needs credential.secret".to_string(),
        ),
        CredentialType::Kopia if c.kopia_server_secret.is_none() => err(
            "credential.kopiaServerSecret",
            "credential type kopia needs credential.kopiaServerSecret".to_string(),
        ),
        _ => {}
    }
    f
}

/// Kanister's rules for an ActionSet (also checked by `kapsel run --actionset`).
pub(crate) fn actionset_findings(a: &ActionSet) -> Vec<Finding> {
    let mut f = Vec::new();
    if a.spec.actions.is_empty() {
        f.push(Finding {
            severity: "error",
            path: "spec.actions".to_string(),
            message: "an ActionSet needs at least one action".to_string(),
        });
    }
    for (i, act) in a.spec.actions.iter().enumerate() {
        let mut need = |field: &str, value: &str| {
            if value.is_empty() {
                f.push(Finding {
                    severity: "error",
                    path: format!("spec.actions.{i}.{field}"),
                    message: format!("{field} is required"),
                });
            }
        };
        need("name", &act.name);
        need("blueprint", &act.blueprint);
        need("object.name", &act.object.name);
        // A known kind, or any resource given by apiVersion and resource.
        if act.object.kind.is_empty()
            && (act.object.api_version.is_empty() || act.object.resource.is_empty())
        {
            f.push(Finding {
                severity: "error",
                path: format!("spec.actions.{i}.object"),
                message: "the object needs a kind, or apiVersion and resource".to_string(),
            });
        }
    }
    f
}

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
            let (mut findings, unknown) = match kind {
                "ActionSet" => match kapsel_api::decode::<ActionSet>(doc.clone()) {
                    Ok(d) => (actionset_findings(&d.value), d.unknown_fields),
                    Err(e) => (
                        vec![Finding {
                            severity: "error",
                            path: String::new(),
                            message: e.to_string(),
                        }],
                        vec![],
                    ),
                },
                "Profile" => match kapsel_api::decode::<Profile>(doc.clone()) {
                    Ok(d) => (profile_findings(&d.value), d.unknown_fields),
                    Err(e) => (
                        vec![Finding {
                            severity: "error",
                            path: String::new(),
                            message: e.to_string(),
                        }],
                        vec![],
                    ),
                },
                _ => continue,
            };
            findings.extend(unknown.into_iter().map(|u| Finding {
                severity: "warning",
                path: u.clone(),
                message: "no Kanister type has this field: Kanister drops it silently".to_string(),
            }));
            // Scalars Kanister (YAML 1.1) reads differently from YAML 1.2.
            if let Ok(p) = &parsed
                && let Some(node) = p.nodes().get(i)
            {
                findings.extend(
                    kapsel_yaml::ambiguity::ambiguities(node)
                        .into_iter()
                        .map(|a| {
                            let (line, col) = p.src().line_col(a.span.start);
                            Finding {
                                severity: "warning",
                                path: a.path.clone(),
                                message: format!(
                                    "{} (line {line} column {col}); {}",
                                    a.message(),
                                    a.help()
                                ),
                            }
                        }),
                );
            }
            let meta = &doc["metadata"];
            let name = meta["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| meta["generateName"].as_str().map(|g| format!("{g}*")))
                .unwrap_or_else(|| "(unnamed)".to_string());
            invalid |= findings
                .iter()
                .any(|f| f.severity == "error" || a.deny_warnings);
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
