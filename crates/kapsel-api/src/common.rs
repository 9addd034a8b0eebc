//! Types shared by several resources.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kanister's `ObjectReference`: a reference to any Kubernetes object.
///
/// Known kinds (case-insensitive) are deployment, statefulset, deploymentconfig,
/// pvc, namespace and unstructured; any other kind needs `apiVersion` and
/// `resource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// API group of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Resource type (plural) of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Kind of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// An artifact: values an action produces for later actions (`outputArtifacts`,
/// `status.actions[].artifacts`) or receives (`spec.actions[].artifacts`, seen by
/// templates as `.ArtifactsIn`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_value: BTreeMap<String, String>,
    /// A kopia snapshot description (JSON) as emitted by `kando location push`
    /// with a kopia profile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kopia_snapshot: String,
}

/// Schema for free-form objects (`args`, `podOverride`, phase `output`): an object
/// whose content the API server keeps as it is.
pub(crate) fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Like [`preserve_unknown_object`] for an optional field.
pub(crate) fn preserve_unknown_object_opt(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    preserve_unknown_object(g)
}
