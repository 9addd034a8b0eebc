//! The Profile: where data is stored and with which credentials.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::ObjectReference;

/// The fields of a Profile, at the top level of the resource as in Kanister.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "cr.kanister.io",
    version = "v1alpha1",
    kind = "Profile",
    namespaced,
    no_spec,
    derive = "PartialEq",
    derive = "Default",
    doc = "A Kanister Profile: a storage location and the credential to reach it."
)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSpec {
    /// Where data goes.
    #[serde(default)]
    pub location: Location,
    /// How to authenticate to the location.
    #[serde(default)]
    pub credential: Credential,
    /// Skip TLS certificate verification of the endpoint.
    #[serde(default, rename = "skipSSLVerify")]
    pub skip_ssl_verify: bool,
}

/// The kind of storage location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LocationType {
    /// Not set.
    #[default]
    #[serde(rename = "")]
    Unset,
    /// Amazon S3 or any S3-compatible store.
    #[serde(rename = "s3Compliant")]
    S3Compliant,
    /// Google Cloud Storage.
    #[serde(rename = "gcs")]
    Gcs,
    /// Azure Blob Storage.
    #[serde(rename = "azure")]
    Azure,
    /// A Kopia repository server.
    #[serde(rename = "kopia")]
    Kopia,
    /// Kapsel's addition: a directory on the host, `bucket` naming it (the
    /// embedded default of the local platform; see docs/format.md).
    #[serde(rename = "filesystem")]
    Filesystem,
}

/// A storage location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The kind of store.
    #[serde(default, rename = "type")]
    pub type_: LocationType,
    /// Bucket (S3, GCS) or container (Azure).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    /// Endpoint URL (S3-compatible stores, kopia server).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Region.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
}

/// The kind of credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CredentialType {
    /// Not set.
    #[default]
    #[serde(rename = "")]
    Unset,
    /// Two fields of a Secret: an id and a secret.
    #[serde(rename = "keyPair")]
    KeyPair,
    /// A typed Secret (`secrets.kanister.io/aws`, `/azure`, `/gcp`, ...).
    #[serde(rename = "secret")]
    Secret,
    /// Kopia repository server credentials.
    #[serde(rename = "kopia")]
    Kopia,
}

/// A credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    /// The kind of credential.
    #[serde(default, rename = "type")]
    pub type_: CredentialType,
    /// For `keyPair`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<KeyPair>,
    /// For `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectReference>,
    /// For `kopia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kopia_server_secret: Option<KopiaServerSecret>,
}

/// Two fields of a Secret holding an access key id and a secret key (for GCS:
/// the project id and the service key JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPair {
    /// The Secret's data key holding the id.
    #[serde(default)]
    pub id_field: String,
    /// The Secret's data key holding the secret.
    #[serde(default)]
    pub secret_field: String,
    /// The Secret.
    #[serde(default)]
    pub secret: ObjectReference,
}

/// Credentials of a Kopia repository server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KopiaServerSecret {
    /// User name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Host name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Where the user's passphrase is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_passphrase: Option<KopiaServerSecretRef>,
    /// Where the server's TLS certificate is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<KopiaServerSecretRef>,
    /// Connection options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connect_options: BTreeMap<String, i64>,
}

/// A key in a Secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KopiaServerSecretRef {
    /// The data key.
    #[serde(default)]
    pub key: String,
    /// The Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectReference>,
}
