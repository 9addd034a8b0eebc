//! The render-parameters file: the state of the world a Blueprint is rendered
//! against (`kapsel blueprint render --params`, and the goldens' fixtures).
//! Documented in docs/render-params.md; the Go oracle in tools/template-oracle
//! reads the same format.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::Deserialize;

/// A render-parameters file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderParams {
    /// `.Time`, used verbatim (Kanister: UTC RFC3339Nano of the action's start).
    #[serde(default)]
    pub time: String,
    /// `.Object`: the unstructured object the action runs on.
    #[serde(default)]
    pub object: Option<serde_json::Map<String, serde_json::Value>>,
    /// Pods, containers and volumes of a workload object.
    #[serde(default)]
    pub workload: Option<Workload>,
    /// `.ArtifactsIn`.
    #[serde(default)]
    pub artifacts_in: Option<BTreeMap<String, ArtifactIn>>,
    /// `.ConfigMaps`.
    #[serde(default)]
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// `.Secrets`.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
    /// `.Profile`, credentials already resolved.
    #[serde(default)]
    pub profile: Option<ProfileParams>,
    /// `.Options`.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// `.PodOverride`.
    #[serde(default)]
    pub pod_override: Option<serde_json::Map<String, serde_json::Value>>,
    /// `.PodLabels`.
    #[serde(default)]
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// `.PodAnnotations`.
    #[serde(default)]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Secrets, ConfigMaps and outputs of phases, by phase name.
    #[serde(default)]
    pub phases: BTreeMap<String, PhaseParams>,
    /// The defer phase's Secrets, ConfigMaps and output.
    #[serde(default)]
    pub defer_phase: Option<PhaseParams>,
    /// Free text describing the fixture; ignored.
    #[serde(default)]
    pub comment: Option<serde_json::Value>,
}

/// Pods of a workload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Workload {
    /// Pod names.
    #[serde(default)]
    pub pods: Option<Vec<String>>,
    /// Container names per pod.
    #[serde(default)]
    pub containers: Option<Vec<Option<Vec<String>>>>,
    /// Pod → PVC name → mount path.
    #[serde(default)]
    pub persistent_volume_claims: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

/// An input artifact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArtifactIn {
    /// Key/value pairs.
    #[serde(default)]
    pub key_value: Option<BTreeMap<String, String>>,
    /// Kopia snapshot JSON.
    #[serde(default)]
    pub kopia_snapshot: String,
}

/// A resolved Profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileParams {
    /// The location.
    #[serde(default)]
    pub location: LocationParams,
    /// The resolved credential.
    #[serde(default)]
    pub credential: CredentialParams,
    /// Skip TLS verification.
    #[serde(default, rename = "skipSSLVerify")]
    pub skip_ssl_verify: bool,
}

/// `v1alpha1.Location`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationParams {
    /// s3Compliant, gcs, azure, kopia.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// Bucket.
    #[serde(default)]
    pub bucket: String,
    /// Endpoint.
    #[serde(default)]
    pub endpoint: String,
    /// Prefix.
    #[serde(default)]
    pub prefix: String,
    /// Region.
    #[serde(default)]
    pub region: String,
}

/// `param.Credential`, resolved to plaintext.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialParams {
    /// keyPair, secret, kopia.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// The key pair's values.
    #[serde(default)]
    pub key_pair: Option<KeyPairParams>,
    /// The typed Secret.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Kopia server credentials.
    #[serde(default)]
    pub kopia_server_secret: Option<KopiaParams>,
}

/// `param.KeyPair`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairParams {
    /// Access key id.
    #[serde(default)]
    pub id: String,
    /// Secret key.
    #[serde(default)]
    pub secret: String,
}

/// `param.KopiaServerCreds`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KopiaParams {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// TLS certificate.
    #[serde(default)]
    pub cert: String,
    /// Connect options.
    #[serde(default)]
    pub connect_options: Option<BTreeMap<String, i64>>,
}

/// A phase's state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PhaseParams {
    /// Secrets fetched through the phase's `objects`.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
    /// ConfigMaps fetched through the phase's `objects`.
    #[serde(default)]
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// The phase's output.
    #[serde(default)]
    pub output: Option<serde_json::Map<String, serde_json::Value>>,
}
