//! The ActionSet: a request to run Blueprint actions on objects, and its status.

// kube's `printcolumn(...)` attributes repeat `type_ = "integer"`, which this
// lint mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Artifact, ObjectReference, preserve_unknown_object_opt};

/// What to run.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cr.kanister.io",
    version = "v1alpha1",
    kind = "ActionSet",
    namespaced,
    status = "ActionSetStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A Kanister ActionSet: Blueprint actions to run on objects, with their progress and results.",
    printcolumn(
        name = "Progress",
        type_ = "string",
        description = "Progress of completion in percentage",
        json_path = ".status.progress.percentCompleted"
    ),
    printcolumn(
        name = "SizeDownloadedB",
        type_ = "integer",
        description = "Amount of data that has been downloaded",
        json_path = ".status.progress.sizeDownloadedB"
    ),
    printcolumn(
        name = "SizeUploadedB",
        type_ = "integer",
        description = "Amount of data that has been uploaded",
        json_path = ".status.progress.sizeUploadedB"
    ),
    printcolumn(
        name = "EstimatedDownloadSizeB",
        type_ = "integer",
        description = "Estimated amount of data to be downloaded",
        json_path = ".status.progress.estimatedDownloadSizeB"
    ),
    printcolumn(
        name = "EstimatedUploadSizeB",
        type_ = "integer",
        description = "Estimated amount of data to be uploaded",
        json_path = ".status.progress.estimatedUploadSizeB"
    ),
    printcolumn(
        name = "Running Phase",
        type_ = "string",
        description = "The phase that is being run. If the actionset is completed, it is set to \"\"",
        json_path = ".status.progress.runningPhase"
    ),
    printcolumn(
        name = "Last Transition Time",
        type_ = "string",
        format = "date-time",
        description = "Progress last transition time",
        json_path = ".status.progress.lastTransitionTime"
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        description = "State of the actionset",
        json_path = ".status.state"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ActionSetSpec {
    /// The actions to run, concurrently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
}

/// One action to run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionSpec {
    /// The Blueprint action's name.
    #[serde(default)]
    pub name: String,
    /// The object to run it on.
    #[serde(default)]
    pub object: ObjectReference,
    /// The Blueprint's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub blueprint: String,
    /// Input artifacts (`.ArtifactsIn`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, Artifact>,
    /// ConfigMaps by name (`.ConfigMaps`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_maps: BTreeMap<String, ObjectReference>,
    /// Secrets by name (`.Secrets`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, ObjectReference>,
    /// The Profile (`.Profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ObjectReference>,
    /// A strategic-merge patch applied to pods the functions create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object_opt")]
    pub pod_override: Option<serde_json::Map<String, serde_json::Value>>,
    /// Free-form options (`.Options`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// The function version to prefer (semver).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_version: String,
    /// Labels for pods the functions create.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Annotations for pods the functions create.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
}

/// The state of an ActionSet or of a phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Not started.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Failed.
    Failed,
    /// Done.
    Complete,
}

/// What happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionSetStatus {
    /// Overall state.
    #[serde(default)]
    pub state: State,
    /// Per action, in the order of `spec.actions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionStatus>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "ErrorStatus::is_empty")]
    pub error: ErrorStatus,
    /// Progress.
    #[serde(default, skip_serializing_if = "ActionProgress::is_empty")]
    pub progress: ActionProgress,
    /// Kubernetes-style conditions (a Kapsel addition; Kanister writes none):
    /// `Running` (with reason `Queued` while waiting for a slot), then
    /// `Complete` or `Failed`, so that `kubectl wait
    /// --for=condition=Complete` works.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
}

/// `status.error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorStatus {
    /// The message.
    #[serde(default)]
    pub message: String,
}

impl ErrorStatus {
    fn is_empty(&self) -> bool {
        self.message.is_empty()
    }
}

/// The status of one action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatus {
    /// The action.
    #[serde(default)]
    pub name: String,
    /// The object.
    #[serde(default)]
    pub object: ObjectReference,
    /// The Blueprint.
    #[serde(default)]
    pub blueprint: String,
    /// Phases in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// Output artifacts (templates until the action completes, then values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, Artifact>,
    /// The defer phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_phase: Option<Phase>,
}

/// The status of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// The phase name.
    #[serde(default)]
    pub name: String,
    /// Its state.
    #[serde(default)]
    pub state: State,
    /// Its outputs (`kando output` values and function outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object_opt")]
    pub output: Option<serde_json::Map<String, serde_json::Value>>,
    /// Its progress.
    #[serde(default, skip_serializing_if = "PhaseProgress::is_empty")]
    pub progress: PhaseProgress,
}

/// `status.progress`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionProgress {
    /// The running phase; empty when done.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub running_phase: String,
    /// Percent completed, as a string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub percent_completed: String,
    /// Bytes downloaded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_downloaded_b: i64,
    /// Bytes uploaded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_uploaded_b: i64,
    /// Estimated bytes to download.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimated_download_size_b: i64,
    /// Estimated bytes to upload.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimated_upload_size_b: i64,
    /// When the progress last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

impl ActionProgress {
    fn is_empty(&self) -> bool {
        *self == ActionProgress::default()
    }
}

/// `status.actions[].phases[].progress`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseProgress {
    /// Percent completed, as a string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub progress_percent: String,
    /// Bytes downloaded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_downloaded_b: i64,
    /// Bytes uploaded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_uploaded_b: i64,
    /// Estimated bytes to download.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimated_download_size_b: i64,
    /// Estimated bytes to upload.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub estimated_upload_size_b: i64,
    /// Estimated seconds left. The JSON name keeps Kanister's spelling.
    #[serde(
        default,
        rename = "estinatedTimeSeconds",
        skip_serializing_if = "is_zero"
    )]
    pub estimated_time_seconds: i64,
    /// When the progress last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

impl PhaseProgress {
    fn is_empty(&self) -> bool {
        *self == PhaseProgress::default()
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
