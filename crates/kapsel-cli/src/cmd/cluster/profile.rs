//! `kapsel profile create s3compliant|gcp|azure|filesystem` and `kapsel
//! profile validate`: a Profile and its credential Secret, as `kanctl create
//! profile` makes them (Secret `<s3|gcp|azure>-secret-<random>`, Profile
//! `<type>-profile-<random>`, a `keyPair` credential, or a typed `secret`
//! one for an S3 role or an Azure cloud environment; kanister.md §1, §4).
//!
//! Before anything is created the location is checked from this host
//! (`--skip-validation` skips it): a small object is written under the
//! prefix, read back, listed and deleted, through kapsel-storage, as
//! `kando` in the task pods will reach it. A failure names the bucket,
//! endpoint and cause; no secret value is ever printed (`--dry-run` prints
//! the Secret with its values hidden).
//!
//! Secret values come from flags as in kanctl (`-s`), but a process's
//! argv is visible to every user of the host (`ps`): `--secret-key-file
//! FILE` (`-` for stdin) or the environment (`AWS_SECRET_ACCESS_KEY`,
//! `AZURE_STORAGE_KEY`) keep them out of it.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kapsel_api::{
    Credential, CredentialType, KeyPair, Location, LocationType, ObjectReference, Profile,
    ProfileSpec,
};
use kube::api::{Api, DeleteParams, PostParams};

use super::actionset::CreateOutput;
use super::{Cluster, ClusterError, Conn, PROFILE_RESOURCE, out};

/// `kapsel profile ...`.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create a Profile and its credential Secret (kanctl's flags), after
    /// checking that the location can be written and read with them.
    Create(Box<ProfileCreateArgs>),
    /// Check a Profile (by --name in the cluster, or -f FILE): its schema,
    /// then write, read, list and delete a probe object in its location
    /// with the credential from the cluster.
    Validate(ProfileValidateArgs),
}

/// The location flags of `kanctl create profile`.
#[derive(Debug, Clone, Default, Args)]
pub struct LocationFlags {
    /// The bucket (Azure: the container; filesystem: the directory inside
    /// the task pods).
    #[arg(long, short = 'b', global = true)]
    pub bucket: Option<String>,
    /// The endpoint URL (S3-compatible stores, Azure Stack/Azurite, a GCS
    /// emulator).
    #[arg(long, short = 'e', global = true)]
    pub endpoint: Option<String>,
    /// A prefix inside the bucket.
    #[arg(long, short = 'p', global = true)]
    pub prefix: Option<String>,
    /// The region (required for s3compliant).
    #[arg(long, short = 'r', global = true)]
    pub region: Option<String>,
    /// Do not verify the endpoint's TLS certificate.
    #[arg(long = "skip-SSL-verification", global = true)]
    pub skip_ssl_verification: bool,
}

/// Kapsel's flags of `profile create` beyond the location's.
#[derive(Debug, Clone, Default, Args)]
pub struct CreateCommon {
    /// Print the Secret (values hidden) and the Profile instead of creating them.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Do not check the location (write, read, list, delete a probe object).
    #[arg(long, global = true)]
    pub skip_validation: bool,
    /// The Profile's name (default: `<type>-profile-<random>`, as kanctl).
    #[arg(long, global = true)]
    pub name: Option<String>,
    /// Output: yaml, json or name (the created Profile).
    #[arg(long, value_enum, global = true, value_name = "FORMAT")]
    pub output: Option<CreateOutput>,
}

/// The location types.
#[derive(Debug, Clone, Subcommand)]
pub enum ProfileKind {
    /// Amazon S3 or an S3-compatible store (keyPair credential; with
    /// --role a `secrets.kanister.io/aws` Secret).
    S3compliant(S3Flags),
    /// Google Cloud Storage (keyPair: project id and service key JSON).
    Gcp(GcpFlags),
    /// Azure Blob Storage (keyPair: storage account and key; with
    /// --storage-env a `secrets.kanister.io/azure` Secret).
    Azure(AzureFlags),
    /// Kapsel's `filesystem` location: a directory inside the task pods
    /// (-b); no credential.
    Filesystem(FilesystemFlags),
}

/// `s3compliant`.
#[derive(Debug, Clone, Default, Args)]
pub struct S3Flags {
    /// The access key id (default: AWS_ACCESS_KEY_ID).
    #[arg(
        long = "access-key",
        short = 'a',
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub access_key: Option<String>,
    /// The secret key (visible in `ps`: prefer --secret-key-file or
    /// AWS_SECRET_ACCESS_KEY).
    #[arg(long = "secret-key", short = 's', conflicts_with = "secret_key_file")]
    pub secret_key: Option<String>,
    /// A file holding the secret key (`-`: stdin); surrounding whitespace
    /// is dropped.
    #[arg(long, value_name = "FILE")]
    pub secret_key_file: Option<String>,
    /// An AWS IAM role, kept in the Secret for Kanister (Kapsel's data
    /// path uses the keys as they are).
    #[arg(long, short = 'R')]
    pub role: Option<String>,
}

/// `gcp`.
#[derive(Debug, Clone, Default, Args)]
pub struct GcpFlags {
    /// The project id (default: the service key's `project_id`).
    #[arg(long = "project-id", short = 'a')]
    pub project_id: Option<String>,
    /// The service account key JSON file (`-`: stdin; default:
    /// GOOGLE_APPLICATION_CREDENTIALS).
    #[arg(
        long = "service-key",
        short = 's',
        env = "GOOGLE_APPLICATION_CREDENTIALS",
        value_name = "FILE"
    )]
    pub service_key: Option<String>,
}

/// `azure`.
#[derive(Debug, Clone, Default, Args)]
pub struct AzureFlags {
    /// The storage account (default: AZURE_STORAGE_ACCOUNT).
    #[arg(
        long = "storage-account",
        short = 'a',
        env = "AZURE_STORAGE_ACCOUNT",
        hide_env_values = true
    )]
    pub storage_account: Option<String>,
    /// The storage account key (visible in `ps`: prefer
    /// --storage-key-file or AZURE_STORAGE_KEY).
    #[arg(long = "storage-key", short = 's', conflicts_with = "storage_key_file")]
    pub storage_key: Option<String>,
    /// A file holding the storage key (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub storage_key_file: Option<String>,
    /// The Azure cloud (AzureCloud, AzureChinaCloud, AzureUSGovernment...).
    #[arg(long = "storage-env")]
    pub storage_env: Option<String>,
}

/// `filesystem`.
#[derive(Debug, Clone, Default, Args)]
pub struct FilesystemFlags {}

/// `kapsel profile create`.
#[derive(Debug, Args)]
pub struct ProfileCreateArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(flatten)]
    pub location: LocationFlags,
    #[command(flatten)]
    pub common: CreateCommon,
    #[command(subcommand)]
    pub kind: ProfileKind,
}

/// `kapsel profile validate`.
#[derive(Debug, Args)]
pub struct ProfileValidateArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// A Profile in the cluster (in -n).
    #[arg(
        long,
        required_unless_present = "filename",
        conflicts_with = "filename"
    )]
    pub name: Option<String>,
    /// A Profile file (`-`: stdin); its credential Secret is read from the cluster.
    #[arg(long, short = 'f')]
    pub filename: Option<String>,
    /// Only check the schema, not the location.
    #[arg(long)]
    pub schema_validation_only: bool,
}

/// Runs a `profile` subcommand.
pub fn run(cmd: ProfileCmd) -> ExitCode {
    super::report(super::runtime().and_then(|rt| {
        rt.block_on(async move {
            match cmd {
                ProfileCmd::Create(a) => create(&a).await,
                ProfileCmd::Validate(a) => validate(&a).await,
            }
        })
    }))
}

/// Where the Secret's values came from: flags, files, the environment.
fn read_secret_file(flag: &str, path: &str) -> Result<String, ClusterError> {
    let mut text = String::new();
    let r = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(drop)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text).map(drop))
    };
    r.map_err(|source| ClusterError::Io {
        what: format!(
            "{flag} {}: cannot read",
            if path == "-" { "(stdin)" } else { path }
        ),
        source,
    })?;
    Ok(text)
}

fn required(v: Option<String>, what: &str, help: &str) -> Result<String, ClusterError> {
    v.filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ClusterError::usage(format!("{what} is required"), Some(help)))
}

/// The Secret and Profile to create (no cluster, no check).
#[derive(Debug, Clone)]
pub struct Planned {
    /// The credential Secret (`None` for filesystem).
    pub secret: Option<Secret>,
    /// The Profile.
    pub profile: Profile,
    /// Notes for stderr.
    pub notes: Vec<String>,
}

/// Builds the Secret and Profile as kanctl's `constructSecret` and
/// `constructProfile` do. `suffix` names the Secret.
pub fn plan(a: &ProfileCreateArgs, namespace: &str, suffix: &str) -> Result<Planned, ClusterError> {
    let l = &a.location;
    let opt = |s: &Option<String>| s.clone().unwrap_or_default().trim().to_string();
    let (type_, prefix, secret_kind) = match &a.kind {
        ProfileKind::S3compliant(_) => (LocationType::S3Compliant, "s3-profile-", "s3"),
        ProfileKind::Gcp(_) => (LocationType::Gcs, "gcp-profile-", "gcp"),
        ProfileKind::Azure(_) => (LocationType::Azure, "azure-profile-", "azure"),
        ProfileKind::Filesystem(_) => (LocationType::Filesystem, "filesystem-profile-", ""),
    };
    let mut notes = Vec::new();
    let mut data: BTreeMap<String, String> = BTreeMap::new();
    let mut secret_type: Option<String> = None;
    let mut typed = false;
    let (id_field, secret_field) = match &a.kind {
        ProfileKind::S3compliant(f) => {
            let id = required(
                f.access_key.clone(),
                "the access key (-a/--access-key or AWS_ACCESS_KEY_ID)",
                "give the access key id with -a, or in the environment as AWS_ACCESS_KEY_ID",
            )?;
            let key = match (&f.secret_key, &f.secret_key_file) {
                (Some(s), _) => s.clone(),
                (None, Some(p)) => read_secret_file("--secret-key-file", p)?.trim().to_string(),
                (None, None) => std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            };
            let key = required(
                Some(key),
                "the secret key (--secret-key-file, AWS_SECRET_ACCESS_KEY or -s)",
                "give it in a file (--secret-key-file FILE, `-` for stdin) or in the environment as AWS_SECRET_ACCESS_KEY; -s works too, but argv is visible in `ps`",
            )?;
            data.insert("aws_access_key_id".into(), id);
            data.insert("aws_secret_access_key".into(), key);
            if let Some(role) = f.role.clone().filter(|r| !r.trim().is_empty()) {
                data.insert("role".into(), role);
                secret_type = Some("secrets.kanister.io/aws".into());
                typed = true;
                notes.push("the role is kept in the Secret for Kanister; Kapsel's kando uses the access key as it is (it does not assume roles)".into());
            }
            ("aws_access_key_id", "aws_secret_access_key")
        }
        ProfileKind::Gcp(f) => {
            let path = required(
                f.service_key.clone(),
                "the service key file (-s/--service-key or GOOGLE_APPLICATION_CREDENTIALS)",
                "give the service account's JSON key file with -s FILE (`-` for stdin)",
            )?;
            let key = read_secret_file("--service-key", &path)?;
            let parsed: serde_json::Value = serde_json::from_str(&key).map_err(|e| {
                ClusterError::usage(
                    format!(
                        "--service-key {path}: not a JSON service account key (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                    Some("give the key file Google Cloud created for the service account"),
                )
            })?;
            let project = f
                .project_id
                .clone()
                .filter(|p| !p.trim().is_empty())
                .or_else(|| {
                    parsed
                        .get("project_id")
                        .and_then(|p| p.as_str())
                        .map(str::to_string)
                });
            let project = required(
                project,
                "the project id (-a/--project-id)",
                "give it with -a, or use a key file that has project_id",
            )?;
            data.insert("gcp_project_id".into(), project);
            data.insert("gcp_service_key".into(), key);
            ("gcp_project_id", "gcp_service_key")
        }
        ProfileKind::Azure(f) => {
            let account = required(
                f.storage_account.clone(),
                "the storage account (-a/--storage-account or AZURE_STORAGE_ACCOUNT)",
                "give it with -a, or in the environment as AZURE_STORAGE_ACCOUNT",
            )?;
            let key = match (&f.storage_key, &f.storage_key_file) {
                (Some(s), _) => s.clone(),
                (None, Some(p)) => read_secret_file("--storage-key-file", p)?
                    .trim()
                    .to_string(),
                (None, None) => std::env::var("AZURE_STORAGE_KEY").unwrap_or_default(),
            };
            let key = required(
                Some(key),
                "the storage key (--storage-key-file, AZURE_STORAGE_KEY or -s)",
                "give it in a file (--storage-key-file FILE, `-` for stdin) or in the environment as AZURE_STORAGE_KEY; -s works too, but argv is visible in `ps`",
            )?;
            data.insert("azure_storage_account_id".into(), account);
            data.insert("azure_storage_key".into(), key);
            if let Some(env) = f.storage_env.clone().filter(|e| !e.trim().is_empty()) {
                data.insert("azure_storage_environment".into(), env);
                secret_type = Some("secrets.kanister.io/azure".into());
                typed = true;
            }
            ("azure_storage_account_id", "azure_storage_key")
        }
        ProfileKind::Filesystem(_) => ("", ""),
    };
    let secret = (!data.is_empty()).then(|| Secret {
        metadata: ObjectMeta {
            name: Some(format!("{secret_kind}-secret-{suffix}")),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        string_data: Some(data),
        type_: secret_type,
        ..Secret::default()
    });
    let credential = match &secret {
        None => Credential::default(),
        Some(s) => {
            let r = ObjectReference {
                name: s.metadata.name.clone().unwrap_or_default(),
                namespace: namespace.to_string(),
                ..ObjectReference::default()
            };
            if typed {
                Credential {
                    type_: CredentialType::Secret,
                    secret: Some(r),
                    ..Credential::default()
                }
            } else {
                Credential {
                    type_: CredentialType::KeyPair,
                    key_pair: Some(KeyPair {
                        id_field: id_field.into(),
                        secret_field: secret_field.into(),
                        secret: r,
                    }),
                    ..Credential::default()
                }
            }
        }
    };
    let name = a.common.name.clone().filter(|n| !n.trim().is_empty());
    let profile = Profile {
        metadata: ObjectMeta {
            name: name.clone(),
            generate_name: name.is_none().then(|| prefix.to_string()),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        spec: ProfileSpec {
            location: Location {
                type_,
                bucket: opt(&l.bucket),
                endpoint: opt(&l.endpoint),
                prefix: opt(&l.prefix),
                region: opt(&l.region),
            },
            credential,
            skip_ssl_verify: l.skip_ssl_verification,
        },
    };
    Ok(Planned {
        secret,
        profile,
        notes,
    })
}

/// Kanister's schema rules for a Profile (`validate.ProfileSchema`, as
/// `kapsel validate` checks them), as one error.
fn schema_check(p: &Profile) -> Result<(), ClusterError> {
    let errors: Vec<String> = kapsel_api::check::profile_findings(p)
        .into_iter()
        .filter(|f| f.is_error())
        .map(|f| format!("{}: {}", f.path, f.message))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::invalid(
            format!("the Profile is not valid:\n- {}", errors.join("\n- ")),
            Some("an s3compliant location needs -b BUCKET and -r REGION; the others -b"),
        ))
    }
}

/// A Profile and its Secret turned into the form kapsel-storage (and
/// kando) read: `toJson .Profile`.
pub fn wire_profile(
    p: &Profile,
    secret: Option<&Secret>,
) -> Result<kapsel_storage::Profile, ClusterError> {
    let resolved = kapsel_params::profile::resolve_profile(p, |ns, name| match secret {
        Some(s) => Ok(s.clone()),
        None => Err(format!("Secret {ns}/{name} not found")),
    })
    .map_err(|e| ClusterError::invalid(format!("the Profile's credential: {e}"), None))?;
    let v = wire_json(&resolved);
    kapsel_storage::Profile::from_json(&v.to_string())
        .map_err(|e| ClusterError::invalid(format!("the Profile: {e}"), None))
}

/// `toJson .Profile` of a resolved Profile.
pub fn wire_json(p: &kapsel_params::file::ProfileParams) -> serde_json::Value {
    serde_json::json!({
        "Location": {
            "type": p.location.type_,
            "bucket": p.location.bucket,
            "endpoint": p.location.endpoint,
            "prefix": p.location.prefix,
            "region": p.location.region,
        },
        "Credential": {
            "Type": p.credential.type_,
            "KeyPair": p.credential.key_pair.as_ref().map(|k| serde_json::json!({"ID": k.id, "Secret": k.secret})),
            "Secret": p.credential.secret.as_ref().and_then(|s| serde_json::to_value(s).ok()),
        },
        "SkipSSLVerify": p.skip_ssl_verify,
    })
}

/// The location as a user names it, without secrets.
pub fn location_text(l: &kapsel_storage::Location) -> String {
    let what = match l.kind.as_str() {
        "azure" => "container",
        "filesystem" => "directory",
        _ => "bucket",
    };
    let mut s = format!("{} {what} {:?}", l.kind, l.bucket);
    if !l.endpoint.is_empty() {
        s.push_str(&format!(" at {}", l.endpoint));
    }
    if !l.prefix.is_empty() {
        s.push_str(&format!(" (prefix {:?})", l.prefix));
    }
    s
}

/// An object store's error with an S3/Azure XML body shortened to its
/// code and message.
pub fn tidy_store_error(text: &str) -> String {
    let Some(start) = text.find("<?xml") else {
        return text.to_string();
    };
    let body = &text[start..];
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let from = body.find(&open)? + open.len();
        let to = body[from..].find(&close)? + from;
        Some(body[from..to].trim().to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{}{c}: {m}", &text[..start]),
        (Some(c), None) => format!("{}{c}", &text[..start]),
        _ => text.to_string(),
    }
}

/// Every secret value of the Profile (to keep them out of messages).
fn secret_values(p: &kapsel_storage::Profile) -> Vec<String> {
    let mut v: Vec<String> = p
        .secret_data()
        .into_values()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    if let Some(kp) = &p.credential.key_pair {
        // The id too: an S3 error body may echo it (AWSAccessKeyId).
        v.push(kp.secret.clone());
        v.push(kp.id.clone());
    }
    v.retain(|s| s.len() >= 4);
    v
}

/// Writes a probe object under the location's prefix, reads it back,
/// lists the prefix and deletes the probe: the permissions kando needs.
pub async fn check_location(p: &kapsel_storage::Profile) -> Result<(), ClusterError> {
    use object_store::ObjectStoreExt;
    let at = location_text(&p.location);
    let secrets = secret_values(p);
    let redact = |e: &dyn std::fmt::Display| {
        let mut t = tidy_store_error(&e.to_string());
        for s in &secrets {
            t = t.replace(s.as_str(), "<hidden>");
        }
        t
    };
    let help = "check the bucket, endpoint, region and credentials (and that the bucket exists); --skip-validation creates the Profile without this check";
    let fail = |step: &str, e: &dyn std::fmt::Display| {
        ClusterError::invalid(format!("cannot {step} {at}: {}", redact(e)), Some(help))
    };
    // A short policy: a check should fail in seconds, not retry for minutes.
    let policy = kapsel_storage::NetworkPolicy {
        max_retries: 2,
        retry_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        read_timeout: Duration::from_secs(20),
        ..kapsel_storage::NetworkPolicy::default()
    };
    let backend = kapsel_storage::backend_with_policy(p, &policy).map_err(|e| fail("use", &e))?;
    let mut prefix = object_store::path::Path::default();
    for seg in p.location.prefix.split('/').filter(|s| !s.is_empty()) {
        prefix = prefix.join(seg);
    }
    let probe = prefix
        .clone()
        .join(format!(".kapsel-profile-check-{}", super::rand_suffix(10)).as_str());
    let body = format!("kapsel profile check {}", chrono::Utc::now().to_rfc3339());
    let store = backend.store;
    store
        .put(&probe, body.clone().into())
        .await
        .map_err(|e| fail("write to", &e))?;
    let read = async {
        let got = store.get(&probe).await?.bytes().await?;
        store.list_with_delimiter(Some(&prefix)).await?;
        Ok::<_, object_store::Error>(got)
    }
    .await;
    // Delete whatever happened to the read.
    let deleted = store.delete(&probe).await;
    let got = read.map_err(|e| fail("read from", &e))?;
    if got.as_ref() != body.as_bytes() {
        return Err(ClusterError::invalid(
            format!("{at}: the probe object read back differs from what was written"),
            Some("the endpoint may not be an object store, or another tool rewrites objects"),
        ));
    }
    deleted.map_err(|e| fail("delete from", &e))?;
    Ok(())
}

/// A Secret with its values hidden, for `--dry-run`.
fn hidden(s: &Secret) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["apiVersion"] = "v1".into();
    v["kind"] = "Secret".into();
    if let Some(d) = v.get_mut("stringData").and_then(|d| d.as_object_mut()) {
        for (_, x) in d.iter_mut() {
            *x = "<hidden: give the value when creating the Secret>".into();
        }
    }
    reorder(v, &["apiVersion", "kind", "metadata"])
}

/// `v` with the keys `first` first (YAML reads better so).
fn reorder(v: serde_json::Value, first: &[&str]) -> serde_json::Value {
    let serde_json::Value::Object(mut m) = v else {
        return v;
    };
    let mut out = serde_json::Map::new();
    for k in first {
        if let Some(x) = m.remove(*k) {
            out.insert((*k).to_string(), x);
        }
    }
    out.extend(m);
    serde_json::Value::Object(out)
}

/// The Profile as a manifest.
fn profile_manifest(p: &Profile) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.retain(|_, x| !x.is_null());
    }
    reorder(
        v,
        &[
            "apiVersion",
            "kind",
            "metadata",
            "location",
            "credential",
            "skipSSLVerify",
        ],
    )
}

/// `kapsel profile create` (and `kanctl create profile`).
pub async fn create(a: &ProfileCreateArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    let planned = plan(a, &c.namespace, &super::rand_suffix(6))?;
    for n in &planned.notes {
        eprintln!("note: {n}");
    }
    schema_check(&planned.profile)?;
    if a.common.dry_run {
        let mut docs: Vec<serde_json::Value> = planned.secret.iter().map(hidden).collect();
        docs.push(profile_manifest(&planned.profile));
        let mut text = if a.common.output == Some(CreateOutput::Json) {
            // Several objects: kubectl's `List`.
            super::to_json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs}))?
        } else {
            let mut t = Vec::new();
            for d in &docs {
                t.push(super::to_yaml(d)?);
            }
            t.join("---\n")
        };
        if a.common.output == Some(CreateOutput::Name) {
            text = format!(
                "{PROFILE_RESOURCE}/{}\n",
                planned
                    .profile
                    .metadata
                    .name
                    .clone()
                    .or(planned
                        .profile
                        .metadata
                        .generate_name
                        .clone()
                        .map(|g| g + "<random>"))
                    .unwrap_or_default()
            );
        }
        out(&text)?;
        if planned.secret.is_some() {
            eprintln!("note: the Secret's values are not printed");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.common.skip_validation {
        if planned.profile.spec.location.type_ == LocationType::Filesystem {
            eprintln!(
                "note: a filesystem location is a directory inside the task pods: it is not checked from here"
            );
        } else {
            let wire = wire_profile(&planned.profile, planned.secret.as_ref())?;
            check_location(&wire).await?;
        }
    }
    // Kapsel's messages go to stderr when stdout is for a script.
    let say = |s: String| -> Result<(), ClusterError> {
        if a.common.output.is_some() {
            eprintln!("{s}");
            Ok(())
        } else {
            out(&format!("{s}\n"))
        }
    };
    let secrets: Api<Secret> = Api::namespaced(c.client(), &c.namespace);
    let mut created_secret = None;
    if let Some(s) = &planned.secret {
        let name = s.metadata.name.clone().unwrap_or_default();
        secrets
            .create(&PostParams::default(), s)
            .await
            .map_err(|e| {
                ClusterError::api(format!("cannot create Secret {}/{name}", c.namespace), &e)
            })?;
        say(format!("secret '{name}' created"))?;
        created_secret = Some(name);
    }
    let profiles: Api<Profile> = Api::namespaced(c.client(), &c.namespace);
    let created = match profiles
        .create(&PostParams::default(), &planned.profile)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            if let Some(name) = &created_secret {
                match secrets.delete(name, &DeleteParams::default()).await {
                    Ok(_) => say(format!("secret '{name}' deleted"))?,
                    Err(d) => eprintln!(
                        "warning: cannot delete Secret {}/{name} after the Profile failed: {}",
                        c.namespace,
                        super::api_message(&d)
                    ),
                }
            }
            return Err(ClusterError::api(
                format!("cannot create the Profile in namespace {}", c.namespace),
                &e,
            ));
        }
    };
    let name = created.metadata.name.clone().unwrap_or_default();
    let mut shown = created.clone();
    shown.metadata.managed_fields = None;
    match a.common.output {
        None => out(&format!("profile '{name}' created\n"))?,
        Some(CreateOutput::Name) => out(&format!("{PROFILE_RESOURCE}/{name}\n"))?,
        Some(CreateOutput::Yaml) => out(&super::to_yaml(&shown)?)?,
        Some(CreateOutput::Json) => out(&super::to_json(&shown)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a Profile file (`-`: stdin).
fn read_profile_file(path: &str) -> Result<Profile, ClusterError> {
    let text = read_secret_file("-f", path)?;
    kapsel_yaml::from_str(&text).map_err(|e| {
        ClusterError::invalid(
            format!(
                "{path}: not a valid Profile: {}",
                crate::cmd::run::yaml_error(path, &e)
            ),
            None,
        )
    })
}

/// The stages kanctl prints.
fn stage(what: &str, ok: bool) -> Result<(), ClusterError> {
    out(&format!("{what} - {}\n", if ok { "OK" } else { "FAIL" }))
}

/// `kapsel profile validate` (and `kanctl validate profile`).
pub async fn validate(a: &ProfileValidateArgs) -> Result<ExitCode, ClusterError> {
    let c = Cluster::connect(&a.conn).await?;
    let profile = match (&a.name, &a.filename) {
        (Some(n), _) => {
            let api: Api<Profile> = Api::namespaced(c.client(), &c.namespace);
            match api.get_opt(n).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(ClusterError::invalid(
                        format!("Profile {:?} not found in namespace {:?}", n, c.namespace),
                        Some("name the namespace with -n (kanctl: --resource-namespace)"),
                    ));
                }
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("cannot get Profile {}/{n}", c.namespace),
                        &e,
                    ));
                }
            }
        }
        (None, Some(f)) => read_profile_file(f)?,
        (None, None) => {
            return Err(ClusterError::usage(
                "neither name nor filename specified",
                Some("--name NAME (in the cluster) or -f FILE"),
            ));
        }
    };
    if let Err(e) = schema_check(&profile) {
        stage("Validate Profile schema", false)?;
        return Err(e);
    }
    stage("Validate Profile schema", true)?;
    if a.schema_validation_only {
        out("Validate read/write access to the location - SKIP\n")?;
        out("All checks passed.. OK\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    if profile.spec.location.type_ == LocationType::Filesystem {
        out(
            "Validate read/write access to the location - SKIP (a filesystem location is a directory inside the task pods)\n",
        )?;
        out("All checks passed.. OK\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    // The credential's Secret, from the cluster.
    let cred = &profile.spec.credential;
    let reference = match cred.type_ {
        CredentialType::KeyPair => cred.key_pair.as_ref().map(|k| k.secret.clone()),
        CredentialType::Secret => cred.secret.clone(),
        _ => None,
    };
    let secret = match reference {
        None => None,
        Some(r) => {
            let ns = if r.namespace.is_empty() {
                c.namespace.clone()
            } else {
                r.namespace.clone()
            };
            let api: Api<Secret> = Api::namespaced(c.client(), &ns);
            match api.get_opt(&r.name).await {
                Ok(Some(s)) => Some(s),
                Ok(None) => {
                    stage("Validate the credential's Secret", false)?;
                    return Err(ClusterError::invalid(
                        format!("the Profile's credential Secret {ns}/{} not found", r.name),
                        Some(
                            "create the Secret, or fix credential.keyPair.secret / credential.secret",
                        ),
                    ));
                }
                Err(e) => {
                    return Err(ClusterError::api(
                        format!("cannot get Secret {ns}/{}", r.name),
                        &e,
                    ));
                }
            }
        }
    };
    let wire = wire_profile(&profile, secret.as_ref())?;
    let what = format!(
        "Validate read/write access to {}",
        location_text(&wire.location)
    );
    if let Err(e) = check_location(&wire).await {
        stage(&what, false)?;
        return Err(e);
    }
    stage(&what, true)?;
    out("All checks passed.. OK\n")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Create(Box<ProfileCreateArgs>),
    }

    fn args(a: &[&str]) -> ProfileCreateArgs {
        let t = T::try_parse_from(["t", "create"].into_iter().chain(a.iter().copied())).unwrap();
        let Sub::Create(c) = t.cmd;
        *c
    }

    #[test]
    fn s3_profile_is_kanctls_shape() {
        // Location flags before or after the type, as kanctl's persistent flags.
        let a = args(&[
            "-b",
            "bucket",
            "s3compliant",
            "-e",
            "http://s3:9000",
            "-r",
            "us-east-1",
            "-a",
            "AKID",
            "-s",
            "SECRET",
            "-p",
            "pre",
        ]);
        let p = plan(&a, "kanister", "abc123").unwrap();
        let mut secret = serde_json::to_value(p.secret.as_ref().unwrap()).unwrap();
        assert_eq!(secret["stringData"]["aws_secret_access_key"], "SECRET");
        secret = hidden(p.secret.as_ref().unwrap());
        insta::assert_yaml_snapshot!(
            "profile_s3",
            serde_json::json!({"secret": secret, "profile": profile_manifest(&p.profile)})
        );
        assert!(schema_check(&p.profile).is_ok());
        let wire = wire_profile(&p.profile, p.secret.as_ref()).unwrap();
        assert_eq!(wire.credential.key_pair.as_ref().unwrap().secret, "SECRET");
        assert_eq!(
            location_text(&wire.location),
            "s3Compliant bucket \"bucket\" at http://s3:9000 (prefix \"pre\")"
        );
    }

    #[test]
    fn role_and_storage_env_make_typed_secrets() {
        let a = args(&[
            "s3compliant",
            "-b",
            "b",
            "-r",
            "r",
            "-a",
            "A",
            "-s",
            "S",
            "-R",
            "arn:aws:iam::1:role/x",
        ]);
        let p = plan(&a, "ns", "x").unwrap();
        assert_eq!(
            p.secret.as_ref().unwrap().type_.as_deref(),
            Some("secrets.kanister.io/aws")
        );
        assert_eq!(p.profile.spec.credential.type_, CredentialType::Secret);
        let a = args(&[
            "azure",
            "-b",
            "c",
            "-a",
            "acct",
            "-s",
            "KEY",
            "--storage-env",
            "AzureChinaCloud",
            "--name",
            "az",
        ]);
        let p = plan(&a, "ns", "x").unwrap();
        assert_eq!(
            p.secret.as_ref().unwrap().metadata.name.as_deref(),
            Some("azure-secret-x")
        );
        assert_eq!(p.profile.metadata.name.as_deref(), Some("az"));
        let wire = wire_profile(&p.profile, p.secret.as_ref()).unwrap();
        assert_eq!(wire.credential.kind, "secret");
    }

    #[test]
    fn secret_key_from_a_file_and_missing_values() {
        let dir = tempfile_dir();
        let f = dir.join("key");
        std::fs::write(&f, "from-file\n").unwrap();
        let a = args(&[
            "s3compliant",
            "-b",
            "b",
            "-r",
            "r",
            "-a",
            "A",
            "--secret-key-file",
            f.to_str().unwrap(),
        ]);
        let p = plan(&a, "ns", "x").unwrap();
        assert_eq!(
            p.secret.unwrap().string_data.unwrap()["aws_secret_access_key"],
            "from-file"
        );
        // No region: Kanister's schema refuses it.
        let a = args(&["s3compliant", "-b", "b", "-a", "A", "-s", "S"]);
        let e = schema_check(&plan(&a, "ns", "x").unwrap().profile).unwrap_err();
        assert!(e.to_string().contains("needs a region"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn xml_error_bodies_are_shortened() {
        let e = "Error performing PUT http://h/b/o in 18ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><Key>o</Key></Error>";
        assert_eq!(
            tidy_store_error(e),
            "Error performing PUT http://h/b/o in 18ms - Server returned non-2xx status code: 403 Forbidden: SignatureDoesNotMatch: The request signature we calculated does not match."
        );
        assert_eq!(tidy_store_error("plain"), "plain");
    }

    #[test]
    fn filesystem_has_no_secret() {
        let a = args(&["filesystem", "-b", "/data/backups"]);
        let p = plan(&a, "ns", "x").unwrap();
        assert!(p.secret.is_none());
        assert_eq!(
            p.profile.metadata.generate_name.as_deref(),
            Some("filesystem-profile-")
        );
        assert!(schema_check(&p.profile).is_ok());
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "kapsel-cli-profile-{}",
            super::super::rand_suffix(8)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn check_location_on_a_directory() {
        let dir = tempfile_dir();
        let p = kapsel_storage::Profile::from_json(
            &serde_json::json!({"Location": {"type": "filesystem", "bucket": dir.to_str().unwrap(), "prefix": "a/b"}}).to_string(),
        )
        .unwrap();
        check_location(&p).await.unwrap();
        // The probe is gone.
        let left: Vec<_> = walk(&dir);
        assert!(
            left.iter().all(|p| !p.contains("kapsel-profile-check")),
            "{left:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn walk(d: &std::path::Path) -> Vec<String> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            v.push(p.display().to_string());
            if p.is_dir() {
                v.extend(walk(&p));
            }
        }
        v
    }
}
