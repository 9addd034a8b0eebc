//! `kapsel blueprint apply -f FILE`: validates the Blueprints with exactly
//! `kapsel blueprint validate`'s checks and diagnostics, refuses (exit 1)
//! when there is an error, else creates or updates each by server-side
//! apply (field manager `kapsel`, taking over fields another manager set),
//! printing `blueprint.cr.kanister.io/<name> created|configured|unchanged`
//! as kubectl does.

use std::process::ExitCode;

use clap::Args;
use kapsel_api::Blueprint;
use kube::api::{Api, Patch, PatchParams};

use super::{BLUEPRINT_RESOURCE, Cluster, ClusterError, Conn, out};
use crate::cmd::blueprint::{DiagFormat, ValidateArgs, validate_sources};

/// The field manager of Kapsel's server-side applies.
pub const FIELD_MANAGER: &str = "kapsel";

/// `kapsel blueprint apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Blueprint files (YAML, one or more documents; `-`: stdin). Repeatable.
    #[arg(long = "filename", short = 'f', required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Resolve functions at this version when validating.
    #[arg(long)]
    pub function_version: Option<String>,
    /// Also refuse on warnings.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Runs the command.
pub fn run(a: ApplyArgs) -> ExitCode {
    super::report(super::runtime().and_then(|rt| rt.block_on(apply(&a))))
}

fn read(path: &str) -> Result<String, ClusterError> {
    let mut text = String::new();
    let r = if path == "-" {
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(drop)
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    r.map_err(|source| ClusterError::Io {
        what: format!("cannot read {path}"),
        source,
    })?;
    Ok(text)
}

async fn apply(a: &ApplyArgs) -> Result<ExitCode, ClusterError> {
    let mut sources = Vec::new();
    for f in &a.files {
        let name = if f == "-" {
            "(stdin)".to_string()
        } else {
            f.clone()
        };
        sources.push((name, read(f)?));
    }
    let v = ValidateArgs {
        files: Vec::new(),
        output: DiagFormat::Human,
        deny_warnings: a.deny_warnings,
        function_version: a.function_version.clone(),
        strict: false,
    };
    let code = validate_sources(&v, &sources).map_err(|e| ClusterError::Io {
        what: "cannot validate".to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    if code != ExitCode::SUCCESS {
        return Err(ClusterError::invalid(
            "not applied: the Blueprint has errors (above)",
            Some(
                "fix them and apply again; `kapsel blueprint validate FILE` checks without a cluster",
            ),
        ));
    }
    // Every Blueprint document, with its file.
    let mut docs = Vec::new();
    for (file, text) in &sources {
        let values = kapsel_yaml::to_values(text)
            .map_err(|e| ClusterError::invalid(format!("{file}: {e}"), None))?;
        for d in values {
            if d.get("kind").and_then(|k| k.as_str()) == Some("Blueprint") {
                docs.push((file.clone(), d));
            }
        }
    }
    if docs.is_empty() {
        return Err(ClusterError::invalid(
            format!("no Blueprint in {}", a.files.join(", ")),
            Some("the files need documents with kind: Blueprint"),
        ));
    }
    let c = Cluster::connect(&a.conn).await?;
    for (file, mut doc) in docs {
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            return Err(ClusterError::invalid(
                format!("{file}: the Blueprint has no metadata.name"),
                Some("give it a name: ActionSets name their Blueprint"),
            ));
        }
        let given = doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ns = match (&a.conn.namespace, given.is_empty()) {
            (Some(flag), false) if *flag != given => {
                return Err(ClusterError::invalid(
                    format!(
                        "{file}: the namespace of Blueprint {name} ({given:?}) does not match the namespace {flag:?} (-n)"
                    ),
                    Some(&format!(
                        "pass -n {given}, or remove metadata.namespace from the file to apply it to -n"
                    )),
                ));
            }
            (_, false) => given,
            (_, true) => c.namespace.clone(),
        };
        if let Some(m) = doc.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            m.insert("namespace".into(), ns.clone().into());
            for k in ["managedFields", "creationTimestamp", "uid", "generation"] {
                m.remove(k);
            }
        }
        let api: Api<Blueprint> = Api::namespaced(c.client(), &ns);
        let before = api
            .get_opt(&name)
            .await
            .map_err(|e| ClusterError::api(format!("cannot get Blueprint {ns}/{name}"), &e))?;
        let after = api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&doc),
            )
            .await
            .map_err(|e| {
                ClusterError::api(format!("cannot apply Blueprint {ns}/{name} ({file})"), &e)
            })?;
        let verb = match before {
            None => "created",
            Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
                "unchanged"
            }
            Some(_) => "configured",
        };
        out(&format!("{BLUEPRINT_RESOURCE}/{name} {verb}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
