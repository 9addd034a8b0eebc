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
    /// Inventory files of the local platform.
    Inventory,
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
    let (schema, resource) = match kind {
        SchemaKind::Blueprint => (
            schemars::schema_for!(kapsel_api::Blueprint),
            Some("Blueprint"),
        ),
        SchemaKind::Actionset => (
            schemars::schema_for!(kapsel_api::ActionSet),
            Some("ActionSet"),
        ),
        SchemaKind::Profile => (schemars::schema_for!(kapsel_api::Profile), Some("Profile")),
        SchemaKind::Inventory => (
            schemars::schema_for!(kapsel_platform_local::inventory::Inventory),
            None,
        ),
    };
    let mut schema = schema.to_value();
    if let Some(kind_name) = resource {
        for_editors(&mut schema, kind_name);
    }
    if matches!(kind, SchemaKind::Blueprint) {
        add_function_args(&mut schema);
    }
    let text = serde_json::to_string_pretty(&schema).map_err(|e| CliError::Input {
        path: "<schema>".to_string(),
        message: e.to_string(),
        help: None,
    })?;
    out(&(text + "\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// Makes the derived schema useful to an editor: the resource's `apiVersion`,
/// `kind` and `metadata` are required and fixed, and unknown fields are flagged
/// (`additionalProperties: false` on every struct; free-form fields keep
/// `x-kubernetes-preserve-unknown-fields`).
fn for_editors(schema: &mut serde_json::Value, kind: &str) {
    use serde_json::json;
    if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.insert(
            "apiVersion".into(),
            json!({"const": kapsel_api::API_VERSION}),
        );
        props.insert("kind".into(), json!({"const": kind}));
        props.insert(
            "metadata".into(),
            json!({"type": "object", "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}}}),
        );
    }
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("required".into(), json!(["apiVersion", "kind", "metadata"]));
        obj.insert("additionalProperties".into(), json!(false));
    }
    if let Some(defs) = schema.get_mut("$defs").and_then(|d| d.as_object_mut()) {
        for def in defs.values_mut() {
            if let Some(obj) = def.as_object_mut()
                && obj.contains_key("properties")
            {
                obj.entry("additionalProperties").or_insert(json!(false));
            }
        }
    }
}

/// For each Kanister function, the arguments it requires and accepts: the
/// editor completes `func` and flags missing or unknown `args`.
fn add_function_args(schema: &mut serde_json::Value) {
    use serde_json::json;
    let specs = kapsel_validate::catalog::FUNCTIONS;
    let names: Vec<&str> = specs.iter().map(|f| f.name).collect();
    let rules: Vec<serde_json::Value> = specs
        .iter()
        .map(|f| {
            let props: serde_json::Map<String, serde_json::Value> =
                f.all_args().map(|a| (a.to_string(), json!({}))).collect();
            json!({
                "if": {"properties": {"func": {"const": f.name}}, "required": ["func"]},
                "then": {"properties": {"args": {
                    "type": "object",
                    "required": f.required,
                    "properties": props,
                    "additionalProperties": false
                }}}
            })
        })
        .collect();
    if let Some(phase) = schema
        .pointer_mut("/$defs/BlueprintPhase")
        .and_then(|p| p.as_object_mut())
    {
        if let Some(func) = phase.get_mut("properties").and_then(|p| p.get_mut("func")) {
            func["enum"] = json!(names);
        }
        phase.insert("allOf".into(), json!(rules));
        phase.insert("required".into(), json!(["func"]));
    }
}
