//! Builds Kapsel's object stores from Kanister Profiles.
//!
//! Input: the JSON that `{{ toJson .Profile }}` renders (Kanister's wire
//! format: `{"Location":{"type","bucket","endpoint","prefix","region"},
//! "Credential":{"Type","KeyPair":{"ID","Secret"},"Secret":<k8s Secret>},
//! "SkipSSLVerify":b}`), plus Kapsel's own `filesystem` location type.
//! Output: an `Arc<dyn ObjectStore>` and the root path of the repository in it.
//!
//! Location types: `s3Compliant`, `azure`, `gcs` (Kanister's) and `filesystem`
//! (Kapsel's). Every network backend gets the same explicit retry and timeout
//! policy ([`NetworkPolicy`]), which environment variables can override.
//!
//! This crate knows nothing of the repository format and never depends on
//! Kubernetes client crates: credentials arrive as values inside the Profile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;

pub mod fsstore;
mod hint;
pub mod password;
pub mod root;
pub mod staging;

pub use hint::BucketMissing;

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
    #[error("unsupported location type {0:?} (supported: s3Compliant, azure, gcs, filesystem)")]
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
    /// An environment override of the network policy is not a number.
    #[error("environment variable {name}={value:?} is not a whole number of {unit}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it counts.
        unit: &'static str,
    },
    /// The Profile's endpoint is not a URL Kapsel can use.
    #[error("profile location endpoint {endpoint:?} is not a usable URL: {reason}")]
    BadEndpoint {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
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
        let none = |detail: &str| self.no_credentials(detail);
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

impl Profile {
    fn no_credentials(&self, detail: &str) -> StorageError {
        StorageError::NoCredentials {
            location: self.location.kind.clone(),
            detail: detail.to_string(),
        }
    }

    /// The `(storage account, account key, cloud environment)` for Azure:
    /// a key pair (ID = storage account name, Secret = account key) or a
    /// `secrets.kanister.io/azure` Secret (`azure_storage_account_id`,
    /// `azure_storage_key`, optional `azure_storage_environment`).
    fn azure_credentials(&self) -> Result<(String, String, Option<String>), StorageError> {
        match self.credential.kind.as_str() {
            "keyPair" | "" if self.credential.key_pair.is_some() => {
                let kp = self.credential.key_pair.clone().unwrap_or_default();
                if kp.id.is_empty() || kp.secret.is_empty() {
                    return Err(self.no_credentials(
                        "KeyPair.ID (storage account name) or KeyPair.Secret (account key) is empty",
                    ));
                }
                Ok((kp.id, kp.secret, None))
            }
            "secret" => {
                let d = self.secret_data();
                let get = |k: &str| {
                    d.get(k)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .filter(|v| !v.is_empty())
                };
                if get("azure_federated_identity").as_deref() == Some("true") {
                    return Err(self.no_credentials(
                        "azure_federated_identity is not supported by Kapsel yet: put azure_storage_account_id and azure_storage_key in the Secret",
                    ));
                }
                match (get("azure_storage_account_id"), get("azure_storage_key")) {
                    (Some(id), Some(key)) => Ok((id, key, get("azure_storage_environment"))),
                    _ => Err(self.no_credentials(
                        "the Secret lacks azure_storage_account_id / azure_storage_key",
                    )),
                }
            }
            "" => Err(self.no_credentials("Credential is empty")),
            other => Err(self.no_credentials(&format!(
                "credential type {other:?} is not supported for Azure"
            ))),
        }
    }

    /// The `(project id, service account key JSON)` for GCS: a key pair
    /// (ID = project id, Secret = service key JSON) or a
    /// `secrets.kanister.io/gcp` Secret (`gcp_project_id`, `gcp_service_key`).
    fn gcs_credentials(&self) -> Result<(String, String), StorageError> {
        let (project, key) = match self.credential.kind.as_str() {
            "keyPair" | "" if self.credential.key_pair.is_some() => {
                let kp = self.credential.key_pair.clone().unwrap_or_default();
                (kp.id, kp.secret)
            }
            "secret" => {
                let d = self.secret_data();
                let get = |k: &str| {
                    d.get(k)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default()
                };
                (get("gcp_project_id"), get("gcp_service_key"))
            }
            "" => return Err(self.no_credentials("Credential is empty")),
            other => {
                return Err(self.no_credentials(&format!(
                    "credential type {other:?} is not supported for GCS"
                )));
            }
        };
        if key.trim().is_empty() {
            return Err(self.no_credentials(
                "no service account key (KeyPair.Secret or the Secret's gcp_service_key)",
            ));
        }
        if serde_json::from_str::<serde_json::Value>(&key)
            .map(|v| !v.is_object())
            .unwrap_or(true)
        {
            // Never echo the key itself: it is a secret.
            return Err(self.no_credentials(
                "the service account key is not a JSON object (expected the key file's JSON)",
            ));
        }
        Ok((project, key))
    }
}

/// Retry and timeout policy of every network backend, explicit rather than
/// object_store's defaults (see ARCHITECTURE.md, `kapsel-storage`).
///
/// Each request is retried on HTTP 5xx, 429 and 408, on S3 200 responses
/// whose body says `SlowDown`/`InternalError`, on connection errors, and on
/// timeouts or dropped connections of idempotent requests (all of Kapsel's:
/// objects are content-addressed), with exponential backoff, until
/// `max_retries` or `retry_timeout` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Retries per request after the first attempt.
    pub max_retries: usize,
    /// No new retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
    /// First backoff; doubled on each retry up to `max_backoff` (with jitter).
    pub init_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Whole request, connect to last body byte (a 16 MiB pack must fit).
    pub request_timeout: Duration,
    /// Longest silence while reading a response (catches stalled downloads).
    pub read_timeout: Duration,
}

/// Environment variables overriding [`NetworkPolicy`] fields.
pub const ENV_MAX_RETRIES: &str = "KAPSEL_STORAGE_MAX_RETRIES";
/// Seconds; see [`NetworkPolicy::retry_timeout`].
pub const ENV_RETRY_TIMEOUT: &str = "KAPSEL_STORAGE_RETRY_TIMEOUT_SECONDS";
/// Seconds; see [`NetworkPolicy::connect_timeout`].
pub const ENV_CONNECT_TIMEOUT: &str = "KAPSEL_STORAGE_CONNECT_TIMEOUT_SECONDS";
/// Seconds; see [`NetworkPolicy::request_timeout`].
pub const ENV_REQUEST_TIMEOUT: &str = "KAPSEL_STORAGE_REQUEST_TIMEOUT_SECONDS";
/// Seconds; see [`NetworkPolicy::read_timeout`].
pub const ENV_READ_TIMEOUT: &str = "KAPSEL_STORAGE_READ_TIMEOUT_SECONDS";

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            max_retries: 10,
            retry_timeout: Duration::from_secs(5 * 60),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl NetworkPolicy {
    /// The defaults with the `KAPSEL_STORAGE_*` environment overrides applied.
    pub fn from_env() -> Result<Self, StorageError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StorageError> {
        let mut p = NetworkPolicy::default();
        let num = |name: &'static str, unit: &'static str| -> Result<Option<u64>, StorageError> {
            match get(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| StorageError::BadEnv {
                        name,
                        value: v,
                        unit,
                    }),
            }
        };
        if let Some(n) = num(ENV_MAX_RETRIES, "retries")? {
            p.max_retries = usize::try_from(n).unwrap_or(usize::MAX);
        }
        let secs = |name: &'static str, d: &mut Duration| -> Result<(), StorageError> {
            if let Some(n) = num(name, "seconds")? {
                *d = Duration::from_secs(n.max(1));
            }
            Ok(())
        };
        secs(ENV_RETRY_TIMEOUT, &mut p.retry_timeout)?;
        secs(ENV_CONNECT_TIMEOUT, &mut p.connect_timeout)?;
        secs(ENV_REQUEST_TIMEOUT, &mut p.request_timeout)?;
        secs(ENV_READ_TIMEOUT, &mut p.read_timeout)?;
        Ok(p)
    }

    /// object_store's retry configuration for this policy.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.init_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }

    /// object_store's client options for this policy.
    pub fn client_options(&self, skip_ssl_verify: bool, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_allow_invalid_certificates(skip_ssl_verify)
            .with_allow_http(allow_http)
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.request_timeout)
            .with_read_timeout(self.read_timeout)
    }
}

/// `endpoint` as a URL: kept if it has a scheme, else `https://` is added.
fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("https://{}", endpoint.trim_end_matches('/'))
    }
}

/// Whether a service account key JSON has a non-empty `private_key`.
fn has_private_key(key: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(key).is_ok_and(|v| {
        v.get("private_key")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|k| !k.trim().is_empty())
    })
}

/// The blob service URL for an Azure storage account.
///
/// - no endpoint: the account's public endpoint in the Secret's
///   `azure_storage_environment` cloud (`AzurePublicCloud` by default,
///   `AzureChinaCloud`, `AzureUSGovernmentCloud`, `AzureGermanCloud`);
/// - an endpoint whose host starts with `<account>.`: used as it is
///   (virtual-host style, e.g. `https://acct.blob.core.windows.net`);
/// - any other endpoint with an empty path (Azurite, Azure Stack, a proxy):
///   path style, `<endpoint>/<account>`;
/// - an endpoint with a path: used as it is.
fn azure_service_url(
    endpoint: &str,
    account: &str,
    environment: Option<&str>,
) -> Result<String, StorageError> {
    if endpoint.is_empty() {
        let suffix = match environment.unwrap_or("AzurePublicCloud") {
            "" | "AzurePublicCloud" | "AzureCloud" => "core.windows.net",
            "AzureChinaCloud" => "core.chinacloudapi.cn",
            "AzureUSGovernmentCloud" | "AzureUSGovernment" => "core.usgovcloudapi.net",
            "AzureGermanCloud" => "core.cloudapi.de",
            other => {
                return Err(StorageError::BadEndpoint {
                    endpoint: String::new(),
                    reason: format!(
                        "unknown azure_storage_environment {other:?} (AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud, AzureGermanCloud); or set Location.endpoint"
                    ),
                });
            }
        };
        return Ok(format!("https://{account}.blob.{suffix}"));
    }
    let url = endpoint_url(endpoint);
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let (host, path) = after_scheme
        .split_once('/')
        .map_or((after_scheme, ""), |(h, p)| (h, p));
    if host.is_empty() {
        return Err(StorageError::BadEndpoint {
            endpoint: endpoint.to_string(),
            reason: "no host".into(),
        });
    }
    if host.starts_with(&format!("{account}.")) || !path.is_empty() {
        Ok(url)
    } else {
        Ok(format!("{url}/{account}"))
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

/// Wrap a cloud store so that a missing bucket is reported as such.
fn hinted(
    inner: Arc<dyn ObjectStore>,
    what: &'static str,
    bucket: &str,
    at: String,
) -> Arc<dyn ObjectStore> {
    Arc::new(hint::BucketHint {
        inner,
        what,
        bucket: bucket.to_string(),
        at,
    })
}

fn root_for(prefix: &str) -> Path {
    let mut p = Path::default();
    for seg in prefix.split('/').filter(|s| !s.is_empty()) {
        p = p.join(seg);
    }
    p.join(REPO_DIR)
}

/// Build the backend a Profile describes, with the network policy from
/// [`NetworkPolicy::from_env`].
pub fn backend_from_profile(p: &Profile) -> Result<Backend, StorageError> {
    let policy = if matches!(p.location.kind.as_str(), "filesystem") {
        NetworkPolicy::default()
    } else {
        NetworkPolicy::from_env()?
    };
    backend_with_policy(p, &policy)
}

/// A repository directory on this host's filesystem, as every Kapsel
/// command opens one: each object is written to a staging file, flushed to
/// disk (`fsync`) and renamed into place, and the directory entry is flushed
/// too. A backup writes its snapshot, the commit point, only after its packs
/// and index were stored, so once it reports success the snapshot and
/// everything it needs survive a power loss or a kernel crash, not only the
/// end of the process (restic's local backend does the same; borg fsyncs its
/// segments).
///
/// A failed publish says which step failed (the rename of the staging file
/// or the fsync of the directory, with the directory and the OS error): see
/// [`fsstore`].
pub fn filesystem_store(
    dir: impl AsRef<std::path::Path>,
) -> Result<fsstore::FsStore, object_store::Error> {
    Ok(fsstore::FsStore::new(
        object_store::local::LocalFileSystem::new_with_prefix(dir)?.with_fsync(true),
    ))
}

/// The directory of the repository at `root` of a `filesystem` Profile's
/// store (`None` for other location types): where
/// [`staging::remove_stale_staging_files`] looks.
pub fn filesystem_repository_dir(p: &Profile, root: &Path) -> Option<std::path::PathBuf> {
    let loc = &p.location;
    if loc.kind != "filesystem" {
        return None;
    }
    let dir = if !loc.bucket.is_empty() {
        loc.bucket.as_str()
    } else {
        loc.endpoint.strip_prefix("file://")?
    };
    let mut d = std::path::PathBuf::from(dir);
    for part in root.parts() {
        d.push(part.as_ref());
    }
    Some(d)
}

/// Build the backend a Profile describes, with an explicit network policy.
pub fn backend_with_policy(p: &Profile, policy: &NetworkPolicy) -> Result<Backend, StorageError> {
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
            let store = filesystem_store(&dir).map_err(|source| StorageError::Build {
                kind: "filesystem",
                source,
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
                .with_retry(policy.retry_config())
                .with_client_options(
                    policy.client_options(p.skip_ssl_verify, loc.endpoint.starts_with("http://")),
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
                b = b.with_endpoint(ep).with_virtual_hosted_style_request(false);
            }
            let store = b
                .build()
                .map_err(|source| StorageError::Build { kind: "s3", source })?;
            let at = if loc.endpoint.is_empty() {
                "AWS".to_string()
            } else {
                loc.endpoint.clone()
            };
            Ok(Backend {
                store: hinted(Arc::new(store), "bucket", &loc.bucket, at),
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
        "azure" => {
            if loc.bucket.is_empty() {
                return Err(StorageError::Missing("bucket (the Azure container)"));
            }
            let (account, key, environment) = p.azure_credentials()?;
            let service = azure_service_url(&loc.endpoint, &account, environment.as_deref())?;
            let store = object_store::azure::MicrosoftAzureBuilder::new()
                .with_account(&account)
                .with_access_key(key)
                .with_container_name(&loc.bucket)
                .with_endpoint(service.clone())
                .with_retry(policy.retry_config())
                .with_client_options(
                    policy.client_options(p.skip_ssl_verify, service.starts_with("http://")),
                )
                .build()
                .map_err(|source| StorageError::Build {
                    kind: "azure",
                    source,
                })?;
            Ok(Backend {
                store: hinted(Arc::new(store), "container", &loc.bucket, service.clone()),
                root: root_for(&loc.prefix),
                description: format!(
                    "azure container {} at {service} prefix {:?}",
                    loc.bucket, loc.prefix
                ),
            })
        }
        "gcs" => {
            if loc.bucket.is_empty() {
                return Err(StorageError::Missing("bucket"));
            }
            let (_project, key) = p.gcs_credentials()?;
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::new()
                .with_bucket_name(&loc.bucket)
                .with_retry(policy.retry_config())
                .with_client_options(
                    policy.client_options(p.skip_ssl_verify, loc.endpoint.starts_with("http://")),
                );
            if has_private_key(&key) {
                b = b.with_service_account_key(key);
            } else if !loc.endpoint.is_empty() {
                // An emulator (fake-gcs-server...) at the Profile's endpoint
                // takes a key without a private key: no OAuth token is
                // fetched, requests carry an empty bearer (what
                // object_store's `disable_oauth` does).
                b = b.with_credentials(Arc::new(object_store::StaticCredentialProvider::new(
                    object_store::gcp::GcpCredential {
                        bearer: String::new(),
                    },
                )));
            } else {
                return Err(p.no_credentials(
                    "the service account key has no private_key (only an emulator, at Location.endpoint, takes a key without one)",
                ));
            }
            if !loc.endpoint.is_empty() {
                b = b.with_base_url(&endpoint_url(&loc.endpoint));
            }
            let store = b.build().map_err(|source| StorageError::Build {
                kind: "gcs",
                source,
            })?;
            let at = if loc.endpoint.is_empty() {
                "Google Cloud Storage".to_string()
            } else {
                loc.endpoint.clone()
            };
            Ok(Backend {
                store: hinted(Arc::new(store), "bucket", &loc.bucket, at),
                root: root_for(&loc.prefix),
                description: format!(
                    "gcs bucket {} at {} prefix {:?}",
                    loc.bucket,
                    if loc.endpoint.is_empty() {
                        "Google Cloud"
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
        let kopia = Profile::from_json(r#"{"Location":{"type":"kopia","bucket":"b"}}"#).unwrap();
        assert!(matches!(
            backend_from_profile(&kopia),
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
        let p = Profile::from_json(&j).unwrap();
        let b = backend_from_profile(&p).unwrap();
        assert_eq!(b.root.as_ref(), "kapsel");
        assert_eq!(
            filesystem_repository_dir(&p, &Path::from("x/kapsel")),
            Some(dir.join("x").join("kapsel"))
        );
        let s3 = Profile::from_json(r#"{"Location":{"type":"s3Compliant","bucket":"b"}}"#).unwrap();
        assert_eq!(filesystem_repository_dir(&s3, &Path::from("kapsel")), None);
    }

    #[test]
    fn azure_credentials_and_urls() {
        let kp = Profile::from_json(
            r#"{"Location":{"type":"azure","bucket":"c","prefix":"p"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"acct","Secret":"a2V5"}}}"#,
        )
        .unwrap();
        assert_eq!(
            kp.azure_credentials().unwrap(),
            ("acct".into(), "a2V5".into(), None)
        );
        let b = backend_from_profile(&kp).unwrap();
        assert_eq!(b.root.as_ref(), "p/kapsel");
        assert!(
            b.description.contains("https://acct.blob.core.windows.net"),
            "{}",
            b.description
        );
        let sec = Profile::from_json(r#"{"Location":{"type":"azure","bucket":"c"},
            "Credential":{"Type":"secret","Secret":{"type":"secrets.kanister.io/azure","stringData":{"azure_storage_account_id":"acct","azure_storage_key":"a2V5","azure_storage_environment":"AzureChinaCloud"}}}}"#)
        .unwrap();
        let (a, k, env) = sec.azure_credentials().unwrap();
        assert_eq!((a.as_str(), k.as_str()), ("acct", "a2V5"));
        assert_eq!(
            azure_service_url("", &a, env.as_deref()).unwrap(),
            "https://acct.blob.core.chinacloudapi.cn"
        );
        assert_eq!(
            azure_service_url("http://127.0.0.1:10000", "devstoreaccount1", None).unwrap(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(
            azure_service_url("http://127.0.0.1:10000/acct/", "acct", None).unwrap(),
            "http://127.0.0.1:10000/acct"
        );
        assert_eq!(
            azure_service_url("acct.blob.example.org", "acct", None).unwrap(),
            "https://acct.blob.example.org"
        );
        assert!(azure_service_url("", "acct", Some("Mars")).is_err());
        let empty = Profile::from_json(
            r#"{"Location":{"type":"azure","bucket":"c"},
            "Credential":{"Type":"secret","Secret":{"data":{"azure_storage_account_id":"YQ=="}}}}"#,
        )
        .unwrap();
        let e = backend_from_profile(&empty).unwrap_err().to_string();
        assert!(e.contains("azure_storage_key"), "{e}");
        let nob = Profile::from_json(
            r#"{"Location":{"type":"azure"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"a","Secret":"a2V5"}}}"#,
        )
        .unwrap();
        assert!(
            backend_from_profile(&nob)
                .unwrap_err()
                .to_string()
                .contains("container")
        );
    }

    #[test]
    fn gcs_credentials() {
        let key = r#"{"type":"service_account","private_key":"k","private_key_id":"i","client_email":"e@x","disable_oauth":true}"#;
        let j = serde_json::json!({"Location":{"type":"gcs","bucket":"b","endpoint":"http://127.0.0.1:4443","prefix":"/p"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"proj","Secret":key}}})
        .to_string();
        let p = Profile::from_json(&j).unwrap();
        assert_eq!(p.gcs_credentials().unwrap(), ("proj".into(), key.into()));
        let b = backend_from_profile(&p).unwrap();
        assert_eq!(b.root.as_ref(), "p/kapsel");
        let j = serde_json::json!({"Location":{"type":"gcs","bucket":"b"},
            "Credential":{"Type":"secret","Secret":{"stringData":{"gcp_project_id":"proj","gcp_service_key":key}}}})
        .to_string();
        let p = Profile::from_json(&j).unwrap();
        assert_eq!(p.gcs_credentials().unwrap().1, key);
        let bad = serde_json::json!({"Location":{"type":"gcs","bucket":"b"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"proj","Secret":"not-json-SECRETVALUE"}}})
        .to_string();
        let e = backend_from_profile(&Profile::from_json(&bad).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a JSON object") && !e.contains("SECRETVALUE"),
            "{e}"
        );
        let none = Profile::from_json(r#"{"Location":{"type":"gcs","bucket":"b"}}"#).unwrap();
        assert!(matches!(
            backend_from_profile(&none),
            Err(StorageError::NoCredentials { .. })
        ));
    }

    /// A GCS Profile with `key` as the key pair's Secret, at `endpoint`.
    fn gcs_profile(key: &str, endpoint: &str) -> Profile {
        let j = serde_json::json!({"Location":{"type":"gcs","bucket":"b","endpoint":endpoint},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"proj","Secret":key}}})
        .to_string();
        Profile::from_json(&j).unwrap()
    }

    #[test]
    fn gcs_emulator_and_real_keys() {
        // An emulator: a key without a private key at an endpoint builds
        // (no token is fetched; requests carry an empty bearer).
        let emu = r#"{"type":"service_account","project_id":"proj","client_email":"e@x"}"#;
        let b = backend_from_profile(&gcs_profile(emu, "http://127.0.0.1:4443")).unwrap();
        assert!(
            b.description.contains("http://127.0.0.1:4443"),
            "{}",
            b.description
        );
        let empty = r#"{"private_key":"","private_key_id":"","client_email":""}"#;
        backend_from_profile(&gcs_profile(empty, "http://127.0.0.1:4443")).unwrap();
        // Without an endpoint such a key is refused, saying why.
        let e = backend_from_profile(&gcs_profile(emu, ""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no private_key") && e.contains("endpoint"),
            "{e}"
        );
        // A real key (a throwaway RSA key made here) builds, with or without
        // an endpoint: object_store parses the PEM key when it builds.
        let pem = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect("openssl makes the throwaway RSA key");
        assert!(pem.status.success(), "openssl genpkey failed");
        let pem = String::from_utf8(pem.stdout).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem:.40}");
        let real = serde_json::json!({"type":"service_account","project_id":"proj",
            "private_key_id":"0123abcd","private_key":pem,
            "client_email":"kapsel@proj.iam.gserviceaccount.com"})
        .to_string();
        backend_from_profile(&gcs_profile(&real, "")).unwrap();
        backend_from_profile(&gcs_profile(&real, "https://storage.example.org")).unwrap();
        // A key whose private key is not a key fails to build, and the
        // error does not show the key.
        let bad = real.replace(
            pem.lines().nth(3).unwrap(),
            "SECRETVALUESECRETVALUESECRETVALUESECRETVALUESECRETVALUE",
        );
        let e = backend_from_profile(&gcs_profile(&bad, ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gcs") && !e.contains("SECRETVALUE"), "{e}");
        assert!(!e.contains(pem.lines().nth(5).unwrap()), "{e}");
    }

    #[test]
    fn network_policy_overrides() {
        let d = NetworkPolicy::default();
        assert_eq!(NetworkPolicy::from_lookup(|_| None).unwrap(), d);
        let p = NetworkPolicy::from_lookup(|k| match k {
            ENV_MAX_RETRIES => Some("3".into()),
            ENV_REQUEST_TIMEOUT => Some(" 7 ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(p.max_retries, 3);
        assert_eq!(p.request_timeout, Duration::from_secs(7));
        assert_eq!(p.read_timeout, d.read_timeout);
        let r = p.retry_config();
        assert_eq!(r.max_retries, 3);
        assert_eq!(r.backoff.init_backoff, d.init_backoff);
        let e = NetworkPolicy::from_lookup(|k| (k == ENV_READ_TIMEOUT).then(|| "soon".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_READ_TIMEOUT) && e.contains("soon"), "{e}");
    }
}
