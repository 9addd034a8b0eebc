//! `kapsel crds` and `kapsel schema`.

use std::process::ExitCode;

use super::{CliError, out};

/// Resources with a JSON Schema.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// Blueprint files.
    Blueprint,
    /// ActionSet files.
    Actionset,
    /// Profile files.
    Profile,
}

/// Prints the CRDs as a multi-document YAML stream.
pub fn crds() -> Result<ExitCode, CliError> {
    let mut text = String::new();
    for crd in kapsel_api::crds() {
        let yaml = serde_saphyr::to_string(&crd).map_err(|e| CliError::Input {
            path: "<crds>".to_string(),
            message: e.to_string(),
            help: None,
        })?;
        text.push_str("---\n");
        text.push_str(&yaml);
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the JSON Schema of a resource.
pub fn schema(kind: SchemaKind) -> Result<ExitCode, CliError> {
    let schema = match kind {
        SchemaKind::Blueprint => schemars::schema_for!(kapsel_api::Blueprint),
        SchemaKind::Actionset => schemars::schema_for!(kapsel_api::ActionSet),
        SchemaKind::Profile => schemars::schema_for!(kapsel_api::Profile),
    };
    let text = serde_json::to_string_pretty(&schema).map_err(|e| CliError::Input {
        path: "<schema>".to_string(),
        message: e.to_string(),
        help: None,
    })?;
    out(&(text + "\n"))?;
    Ok(ExitCode::SUCCESS)
}
