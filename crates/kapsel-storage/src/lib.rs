//! Builds Kapsel's object stores from Kanister Profiles.
//!
//! Input: the JSON that `{{ toJson .Profile }}` renders (Kanister's wire
//! format: `{"Location":{"type","bucket","endpoint","prefix","region"},
//! "Credential":{"Type","KeyPair":{"ID","Secret"},"Secret":<k8s Secret>},
//! "SkipSSLVerify":b}`), plus Kapsel's own `filesystem` location type.
//! Output: an `Arc<dyn ObjectStore>` and the root path of the repository in it.
//!
//! This crate knows nothing of the repository format and never depends on
//! Kubernetes client crates: credentials arrive as values inside the Profile.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Deserialize;

pub mod password;

/// The directory under the Profile's prefix that holds the repository.
pub const REPO_DIR: &str = "kapsel";

/// Why a Profile cannot be turned into a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Not valid Profile JSON.
    #[error("invalid profile JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A location type Kapsel does not support (yet).
    #[error("unsupported location type {0:?} (supported: s3Compliant, filesystem)")]
    UnsupportedLocation(String),
    /// A required field is empty.
    #[error("profile location has no {0}")]
    Missing(&'static str),
    /// The Profile has no usable credentials for its location.
    #[error("profile has no usable credentials for {location}: {detail}")]
    NoCredentials {
        /// Location type.
        location: String,
        /// What is missing.
        detail: String,
    },
    /// Building the client failed.
    #[error("cannot build the {kind} store: {source}")]
    Build {
        /// Backend kind.
        kind: &'static str,
        /// Cause.
        #[source]
        source: object_store::Error,
    },
    /// The local directory cannot be created.
    #[error("cannot create repository directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// `Profile.Location`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Location {
    /// `s3Compliant`, `gcs`, `azure`, `kopia`, or Kapsel's `filesystem`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Bucket (for `filesystem`: the directory).
    #[serde(default)]
    pub bucket: String,
    /// Endpoint URL.
    #[serde(default)]
    pub endpoint: String,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
    /// Region.
    #[serde(default)]
    pub region: String,
}

/// `Profile.Credential.KeyPair`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyPair {
    /// Access key id.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Secret key.
    #[serde(rename = "Secret", default)]
    pub secret: String,
}

/// `Profile.Credential`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Credential {
    /// `keyPair`, `secret` or `kopia`.
    #[serde(rename = "Type", default)]
    pub kind: String,
    /// Key pair, for `keyPair`.
    #[serde(rename = "KeyPair", default)]
    pub key_pair: Option<KeyPair>,
    /// A Kubernetes Secret object, for `secret`.
    #[serde(rename = "Secret", default)]
    pub secret: Option<serde_json::Value>,
}

/// A rendered Profile.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    /// Where.
    #[serde(rename = "Location")]
    pub location: Location,
    /// With what.
    #[serde(rename = "Credential", default)]
    pub credential: Credential,
    /// Accept any TLS certificate.
    #[serde(rename = "SkipSSLVerify", default)]
    pub skip_ssl_verify: bool,
}

impl Profile {
    /// Parse `toJson .Profile` output.
    pub fn from_json(s: &str) -> Result<Profile, StorageError> {
        Ok(serde_json::from_str(s)?)
    }

    /// The data of the credential Secret (`data` base64-decoded, then
    /// `stringData`), if there is one.
    pub fn secret_data(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let Some(s) = &self.credential.secret else {
            return out;
        };
        if let Some(d) = s.get("data").and_then(|d| d.as_object()) {
            for (k, v) in d {
                if let Some(b) = v
                    .as_str()
                    .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                {
                    out.insert(k.clone(), b);
                }
            }
        }
        if let Some(d) = s.get("stringData").and_then(|d| d.as_object()) {
            for (k, v) in d {
                if let Some(v) = v.as_str() {
                    out.insert(k.clone(), v.as_bytes().to_vec());
                }
            }
        }
        out
    }

    /// The secret parts of the credential, in a fixed order, for deriving a
    /// default repository password (empty when there is none).
    pub fn credential_secret_material(&self) -> Vec<u8> {
        let mut m = Vec::new();
        if let Some(kp) = &self.credential.key_pair
            && !kp.secret.is_empty()
        {
            m.extend_from_slice(b"keyPair\0");
            m.extend_from_slice(kp.secret.as_bytes());
        }
        for (k, v) in self.secret_data() {
            if k.contains("secret") || k.contains("key") || k.contains("password") {
                m.extend_from_slice(k.as_bytes());
                m.push(0);
                m.extend_from_slice(&v);
                m.push(0);
            }
        }
        m
    }

    /// The `(id, secret, session token)` for S3.
    fn s3_credentials(&self) -> Result<(String, String, Option<String>), StorageError> {
        let none = |detail: &str| StorageError::NoCredentials {
            location: self.location.kind.clone(),
            detail: detail.to_string(),
        };
        match self.credential.kind.as_str() {
            "keyPair" | "" if self.credential.key_pair.is_some() => {
                let kp = self.credential.key_pair.clone().unwrap_or_default();
                if kp.id.is_empty() || kp.secret.is_empty() {
                    return Err(none("KeyPair.ID or KeyPair.Secret is empty"));
                }
                Ok((kp.id, kp.secret, None))
            }
            "secret" => {
                let d = self.secret_data();
                let get = |k: &str| d.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
                match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                    (Some(id), Some(sec)) if !id.is_empty() && !sec.is_empty() => {
                        Ok((id, sec, get("aws_session_token")))
                    }
                    _ => Err(none(
                        "the Secret lacks aws_access_key_id / aws_secret_access_key",
                    )),
                }
            }
            "" => Err(none("Credential is empty")),
            other => Err(none(&format!(
                "credential type {other:?} is not supported for S3"
            ))),
        }
    }
}

/// A store and the repository's root inside it.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The repository root (`<prefix>/kapsel`).
    pub root: Path,
    /// Human-readable location, without secrets.
    pub description: String,
}

fn root_for(prefix: &str) -> Path {
    let mut p = Path::default();
    for seg in prefix.split('/').filter(|s| !s.is_empty()) {
        p = p.join(seg);
    }
    p.join(REPO_DIR)
}

/// Build the backend a Profile describes.
pub fn backend_from_profile(p: &Profile) -> Result<Backend, StorageError> {
    let loc = &p.location;
    match loc.kind.as_str() {
        "filesystem" => {
            let dir = if !loc.bucket.is_empty() {
                loc.bucket.clone()
            } else if let Some(d) = loc.endpoint.strip_prefix("file://") {
                d.to_string()
            } else {
                return Err(StorageError::Missing("bucket (the directory)"));
            };
            std::fs::create_dir_all(&dir).map_err(|source| StorageError::Dir {
                path: dir.clone(),
                source,
            })?;
            let store =
                object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|source| {
                    StorageError::Build {
                        kind: "filesystem",
                        source,
                    }
                })?;
            Ok(Backend {
                store: Arc::new(store),
                root: root_for(&loc.prefix),
                description: format!("filesystem {dir} prefix {:?}", loc.prefix),
            })
        }
        "s3Compliant" => {
            if loc.bucket.is_empty() {
                return Err(StorageError::Missing("bucket"));
            }
            let (id, secret, token) = p.s3_credentials()?;
            let region = if loc.region.is_empty() {
                "us-east-1"
            } else {
                loc.region.as_str()
            };
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(&loc.bucket)
                .with_region(region)
                .with_access_key_id(id)
                .with_secret_access_key(secret)
                .with_client_options(
                    object_store::ClientOptions::new()
                        .with_allow_invalid_certificates(p.skip_ssl_verify),
                );
            if let Some(t) = token {
                b = b.with_token(t);
            }
            if !loc.endpoint.is_empty() {
                // Custom endpoints (MinIO, SeaweedFS, Ceph...) use path-style.
                let ep = if loc.endpoint.contains("://") {
                    loc.endpoint.clone()
                } else {
                    format!("https://{}", loc.endpoint)
                };
                b = b
                    .with_allow_http(ep.starts_with("http://"))
                    .with_endpoint(ep)
                    .with_virtual_hosted_style_request(false);
            }
            let store = b
                .build()
                .map_err(|source| StorageError::Build { kind: "s3", source })?;
            Ok(Backend {
                store: Arc::new(store),
                root: root_for(&loc.prefix),
                description: format!(
                    "s3 bucket {} at {} prefix {:?}",
                    loc.bucket,
                    if loc.endpoint.is_empty() {
                        "AWS"
                    } else {
                        &loc.endpoint
                    },
                    loc.prefix
                ),
            })
        }
        other => Err(StorageError::UnsupportedLocation(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_kanister_wire_format() {
        let j = r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://127.0.0.1:9000","prefix":"/p/q","region":""},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"AK","Secret":"SK"},"Secret":null,"KopiaServerSecret":null},
            "SkipSSLVerify":false}"#;
        let p = Profile::from_json(j).unwrap();
        assert_eq!(p.location.kind, "s3Compliant");
        assert_eq!(
            p.s3_credentials().unwrap(),
            ("AK".into(), "SK".into(), None)
        );
        let b = backend_from_profile(&p).unwrap();
        assert_eq!(b.root.as_ref(), "p/q/kapsel");
        assert!(!p.credential_secret_material().is_empty());
    }

    #[test]
    fn secret_credentials_and_errors() {
        let j = r#"{"Location":{"type":"s3Compliant","bucket":"b"},
            "Credential":{"Type":"secret","Secret":{"type":"secrets.kanister.io/aws","data":{"aws_access_key_id":"QUs=","aws_secret_access_key":"U0s=","aws_session_token":"VA=="}}}}"#;
        let p = Profile::from_json(j).unwrap();
        assert_eq!(
            p.s3_credentials().unwrap(),
            ("AK".into(), "SK".into(), Some("T".into()))
        );
        let none =
            Profile::from_json(r#"{"Location":{"type":"s3Compliant","bucket":"b"}}"#).unwrap();
        assert!(matches!(
            backend_from_profile(&none),
            Err(StorageError::NoCredentials { .. })
        ));
        assert!(none.credential_secret_material().is_empty());
        let nob = Profile::from_json(r#"{"Location":{"type":"s3Compliant"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"a","Secret":"b"}}}"#).unwrap();
        assert!(matches!(
            backend_from_profile(&nob),
            Err(StorageError::Missing("bucket"))
        ));
        let gcs = Profile::from_json(r#"{"Location":{"type":"gcs","bucket":"b"}}"#).unwrap();
        assert!(matches!(
            backend_from_profile(&gcs),
            Err(StorageError::UnsupportedLocation(_))
        ));
        assert!(matches!(
            Profile::from_json("{"),
            Err(StorageError::Json(_))
        ));
    }

    #[test]
    fn filesystem_location() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("repo-dir");
        let j = serde_json::json!({"Location":{"type":"filesystem","bucket":dir.to_str().unwrap(),"prefix":"x"}}).to_string();
        let b = backend_from_profile(&Profile::from_json(&j).unwrap()).unwrap();
        assert!(dir.is_dir());
        assert_eq!(b.root.as_ref(), "x/kapsel");
        let j = serde_json::json!({"Location":{"type":"filesystem","endpoint":format!("file://{}", dir.display())}}).to_string();
        let b = backend_from_profile(&Profile::from_json(&j).unwrap()).unwrap();
        assert_eq!(b.root.as_ref(), "kapsel");
    }
}
