//! The Blueprint: an application's data operations, as actions made of phases.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Artifact, ObjectReference, preserve_unknown_object_opt};

/// The fields of a Blueprint. Kanister keeps them at the top level of the
/// resource, next to `metadata` (there is no `spec`).
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cr.kanister.io",
    version = "v1alpha1",
    kind = "Blueprint",
    namespaced,
    no_spec,
    derive = "PartialEq",
    derive = "Default",
    doc = "A Kanister Blueprint: actions (backup, restore, delete...) made of phases, each a function with templated arguments."
)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintSpec {
    /// The actions by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, BlueprintAction>,
}

/// One action of a Blueprint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintAction {
    /// Optional name (the map key is what ActionSets refer to).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The kind of object the action runs on (StatefulSet, Deployment, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// ConfigMaps the action expects in `spec.actions[].configMaps` (documentary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_map_names: Vec<String>,
    /// Secrets the action expects in `spec.actions[].secrets` (documentary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_names: Vec<String>,
    /// Artifacts the action expects in `spec.actions[].artifacts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_artifact_names: Vec<String>,
    /// Artifacts the action produces; values are templates rendered after all
    /// phases ran.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_artifacts: BTreeMap<String, Artifact>,
    /// The phases, run in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<BlueprintPhase>,
    /// A phase that always runs after the others, whether they succeeded or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_phase: Option<BlueprintPhase>,
}

/// One phase: a function called with templated arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintPhase {
    /// The function (KubeExec, KubeTask, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub func: String,
    /// The phase name, unique in the Blueprint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Objects fetched before the phase runs (Secrets and ConfigMaps become
    /// `.Phases.<name>.Secrets|ConfigMaps`); names and namespaces are templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, ObjectReference>,
    /// The function's arguments; every string in them is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object_opt")]
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Blueprint {
    /// The action called `name`.
    pub fn action(&self, name: &str) -> Option<&BlueprintAction> {
        self.spec.actions.get(name)
    }
}
