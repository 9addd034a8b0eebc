//! Where a repository is (`--profile` or `--repo`) and with which password.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use super::RepoCmdError as E;

/// Environment variable holding the NEW password of `key add` / `key passwd`.
pub const ENV_NEW_PASSWORD: &str = "KAPSEL_REPO_NEW_PASSWORD";
/// Environment variable naming a file holding the NEW password.
pub const ENV_NEW_PASSWORD_FILE: &str = "KAPSEL_REPO_NEW_PASSWORD_FILE";

/// How the repository is addressed.
#[derive(Debug, Args)]
pub struct Target {
    /// A Kanister Profile (YAML, `kind: Profile`) or the form `{{ toJson
    /// .Profile }}` renders for kando (JSON or YAML). The repository is
    /// `<prefix>/kapsel` in its location, exactly where kando keeps it.
    #[arg(long, short = 'p', global = true, value_name = "FILE")]
    pub profile: Option<String>,
    /// With --profile: the repository of `kando data --path PATH`
    /// (`<prefix>/<PATH>`) instead of kando location's (`<prefix>/kapsel`).
    #[arg(long, global = true, value_name = "PATH")]
    pub data_path: Option<String>,
    /// A repository directly in this local directory (instead of --profile).
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<String>,
    /// A Kubernetes Secret manifest that a `kind: Profile` credential refers
    /// to. Repeatable.
    #[arg(long = "secret", global = true, value_name = "FILE")]
    pub secrets: Vec<String>,
    /// An inventory (docs/local-platform.md) whose secrets a `kind: Profile`
    /// credential refers to.
    #[arg(long, short = 'i', global = true, value_name = "FILE")]
    pub inventory: Option<String>,
}

/// A resolved location.
pub struct Place {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The repository root in it.
    pub root: StorePath,
    /// The Profile, for the derived default password.
    pub profile: Option<kapsel_storage::Profile>,
    /// Where, for people (no secrets).
    pub description: String,
    /// The repository's directory when it is on this host's filesystem.
    pub fs_dir: Option<std::path::PathBuf>,
}

fn profile_error(path: &str, message: impl Into<String>, help: Option<&str>) -> E {
    E::Input {
        place: path.to_string(),
        message: message.into(),
        help: help.map(str::to_string),
    }
}

impl Target {
    /// Resolve the location; `create` makes a missing `--repo` directory.
    pub fn place(&self, create: bool) -> Result<Place, E> {
        match (&self.profile, &self.repo) {
            (Some(_), Some(_)) => Err(E::Usage {
                message: "--profile and --repo name two repositories".into(),
                help: "give one of them".into(),
            }),
            (None, None) => Err(E::Usage {
                message: "which repository? --profile FILE or --repo DIR is required".into(),
                help: "--profile takes a Kanister Profile (or kando's JSON form), --repo a local directory".into(),
            }),
            (None, Some(_)) if self.data_path.is_some() => Err(E::Usage {
                message: "--data-path needs --profile".into(),
                help: "with --repo, name the repository's directory itself".into(),
            }),
            (None, Some(dir)) => {
                let p = std::path::Path::new(dir);
                if !p.is_dir() {
                    if !create {
                        return Err(E::Repo {
                            error: kapsel_repo::RepoError::NotFound {
                                location: dir.clone(),
                            },
                            help: Some("create one with `kapsel repo init --repo DIR`".into()),
                        });
                    }
                    std::fs::create_dir_all(p).map_err(|e| E::Io {
                        what: "cannot create the directory",
                        path: dir.clone(),
                        source: e,
                    })?;
                }
                let store = kapsel_storage::filesystem_store(p).map_err(
                    |e| E::Io {
                        what: "cannot open the directory",
                        path: dir.clone(),
                        source: std::io::Error::other(e.to_string()),
                    },
                )?;
                Ok(Place {
                    store: Arc::new(store),
                    root: StorePath::default(),
                    profile: None,
                    description: format!("directory {dir}"),
                    fs_dir: Some(p.to_path_buf()),
                })
            }
            (Some(file), None) => {
                let profile = self.load_profile(file)?;
                let backend = kapsel_storage::backend_from_profile(&profile).map_err(|e| {
                    profile_error(
                        file,
                        e.to_string(),
                        Some("supported: s3Compliant and Kapsel's filesystem location (docs/format.md)"),
                    )
                })?;
                let root = match &self.data_path {
                    None => backend.root,
                    Some(dp) => kapsel_storage::root::data_repository_root(
                        &profile.location.prefix,
                        dp,
                    )
                    .ok_or_else(|| E::Usage {
                        message: format!("--data-path {dp:?} is not a repository path"),
                        help: "give the --path kando data was given, e.g. pg/base (no . or .. segments)".into(),
                    })?,
                };
                Ok(Place {
                    fs_dir: kapsel_storage::filesystem_repository_dir(&profile, &root),
                    store: backend.store,
                    root,
                    profile: Some(profile),
                    description: backend.description,
                })
            }
        }
    }

    /// Reads either Profile form.
    fn load_profile(&self, file: &str) -> Result<kapsel_storage::Profile, E> {
        let text = std::fs::read_to_string(file).map_err(|e| E::Io {
            what: "cannot read",
            path: file.to_string(),
            source: e,
        })?;
        let value: serde_json::Value = kapsel_yaml::to_value(&text)
            .map_err(|e| profile_error(file, format!("neither YAML nor JSON: {e}"), None))?;
        let wire = if value.get("Location").is_some() {
            value
        } else if value.get("kind").and_then(|k| k.as_str()) == Some("Profile") {
            self.resolve_cr(file, &text)?
        } else {
            return Err(profile_error(
                file,
                "not a Profile",
                Some(
                    "expected a Kanister Profile (`kind: Profile`) or the rendered form with a `Location` key",
                ),
            ));
        };
        kapsel_storage::Profile::from_json(&wire.to_string())
            .map_err(|e| profile_error(file, e.to_string(), None))
    }

    /// A `kind: Profile` resource, its credential resolved through --secret
    /// files and the --inventory, turned into the wire form.
    fn resolve_cr(&self, file: &str, text: &str) -> Result<serde_json::Value, E> {
        let cr: kapsel_api::Profile = kapsel_yaml::from_str(text)
            .map_err(|e| profile_error(file, format!("not a valid Profile: {e}"), None))?;
        let mut secrets = Vec::new();
        for s in &self.secrets {
            let t = std::fs::read_to_string(s).map_err(|e| E::Io {
                what: "cannot read",
                path: s.clone(),
                source: e,
            })?;
            let secret: k8s_openapi::api::core::v1::Secret = kapsel_yaml::from_str(&t)
                .map_err(|e| profile_error(s, format!("not a Kubernetes Secret: {e}"), None))?;
            secrets.push(secret);
        }
        let platform = match &self.inventory {
            Some(i) => kapsel_platform_local::LocalPlatform::load(std::path::Path::new(i), vec![])
                .map_err(|e| profile_error(i, e.to_string(), None))?,
            None => kapsel_platform_local::LocalPlatform::new(
                kapsel_platform_local::inventory::Inventory::default(),
                std::path::Path::new("."),
                vec![],
            ),
        };
        let p = crate::cmd::run::resolve_profile(&platform, &cr, &secrets).map_err(|e| {
            profile_error(
                file,
                e,
                Some("give the credential's Secret with --secret FILE or --inventory FILE"),
            )
        })?;
        let secret = p
            .credential
            .secret
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| profile_error(file, e.to_string(), None))?;
        Ok(serde_json::json!({
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
                "Secret": secret,
            },
            "SkipSSLVerify": p.skip_ssl_verify,
        }))
    }
}

fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && console::Term::stderr().is_term()
}

/// Asks on the terminal (no echo); twice when `confirm`.
fn prompt(label: &str, confirm: bool) -> Result<Vec<u8>, E> {
    let term = console::Term::stderr();
    let io = |e: std::io::Error| E::Io {
        what: "cannot read the password from",
        path: "the terminal".into(),
        source: e,
    };
    term.write_str(&format!("{label}: ")).map_err(io)?;
    let first = term.read_secure_line().map_err(io)?;
    if first.is_empty() {
        return Err(E::Usage {
            message: "empty password".into(),
            help: "type a password, or set KAPSEL_REPO_PASSWORD_FILE".into(),
        });
    }
    if confirm {
        term.write_str(&format!("{label} (again): ")).map_err(io)?;
        if term.read_secure_line().map_err(io)? != first {
            return Err(E::Usage {
                message: "the two passwords differ".into(),
                help: "try again".into(),
            });
        }
    }
    Ok(first.into_bytes())
}

/// The repository password: KAPSEL_REPO_PASSWORD, KAPSEL_REPO_PASSWORD_FILE,
/// the Profile-derived default kando uses, then a prompt on a terminal.
pub fn password(place: &Place, confirm: bool) -> Result<Vec<u8>, E> {
    let found = match &place.profile {
        Some(p) => kapsel_storage::password::profile_password(p)?,
        None => kapsel_storage::password::password_from_env()?,
    };
    match found {
        Some(p) => Ok(p),
        None if on_terminal() => prompt("Repository password", confirm),
        None => Err(E::NoPassword),
    }
}

/// The new password of `key add` / `key passwd`.
pub fn new_password() -> Result<Vec<u8>, E> {
    match kapsel_storage::password::password_from_env_vars(ENV_NEW_PASSWORD, ENV_NEW_PASSWORD_FILE)?
    {
        Some(p) => Ok(p),
        None if on_terminal() => prompt("New repository password", true),
        None => Err(E::NoNewPassword),
    }
}
