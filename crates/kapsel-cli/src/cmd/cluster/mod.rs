//! The commands that work on Kanister resources in a cluster, as Kanister's
//! `kanctl` and `kubectl` do: `kapsel actionset create|get|describe|watch|delete`,
//! `kapsel profile create|validate`, `kapsel blueprint apply`, and `kanctl`'s
//! own command lines (`kanctl.rs`, mapped onto the same functions).
//!
//! Every command connects like kubectl (`--kubeconfig`, `--context`, else
//! `KUBECONFIG`, `~/.kube/config`, the in-cluster service account) through
//! `kapsel_platform_k8s::KubePlatform::connect`, and works in `-n/--namespace`
//! (default: the context's namespace).
//!
//! Exit codes: 0 success; 1 invalid input found (a missing Blueprint,
//! action, Profile or object, a Blueprint with errors, a location the
//! Profile's credentials cannot write, an ActionSet that failed under
//! `watch`); 2 usage, connection and API errors.

pub mod actionset;
pub mod apply;
pub mod kanctl;
pub mod profile;
pub mod table;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kapsel_platform_k8s::{ConnectOptions, KubePlatform};

/// The API group/resource prefix kubectl prints (`actionset.cr.kanister.io/NAME`).
pub const ACTIONSET_RESOURCE: &str = "actionset.cr.kanister.io";
/// The same for Blueprints.
pub const BLUEPRINT_RESOURCE: &str = "blueprint.cr.kanister.io";
/// The same for Profiles.
pub const PROFILE_RESOURCE: &str = "profile.cr.kanister.io";

/// How to reach the cluster, and the namespace to work in.
#[derive(Debug, Clone, Default, Args)]
pub struct Conn {
    /// The kubeconfig file (default: KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's).
    #[arg(long, short = 'n', value_name = "NAMESPACE", global = true)]
    pub namespace: Option<String>,
}

/// A failure of a cluster command.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClusterError {
    /// Bad flags or arguments (exit 2).
    #[error("{message}")]
    #[diagnostic(code(kapsel::usage))]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// Something the input names is missing or wrong (exit 1).
    #[error("{message}")]
    #[diagnostic(code(kapsel::invalid))]
    Invalid {
        /// What is wrong.
        message: String,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// The cluster cannot be reached (exit 2).
    #[error("{0}")]
    #[diagnostic(
        code(kapsel::connect),
        help("check the kubeconfig and that the API server is up (`kubectl version`)")
    )]
    Connect(String),
    /// An API request failed (exit 2).
    #[error("{what}: {message}")]
    #[diagnostic(code(kapsel::api))]
    Api {
        /// What was being done.
        what: String,
        /// The API server's or client's message.
        message: String,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// Local I/O: a file, the terminal, stdout (exit 2).
    #[error("{what}: {source}")]
    #[diagnostic(code(kapsel::io))]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl ClusterError {
    /// A usage error.
    pub fn usage(message: impl Into<String>, help: Option<&str>) -> ClusterError {
        ClusterError::Usage {
            message: message.into(),
            help: help.map(str::to_string),
        }
    }

    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>, help: Option<&str>) -> ClusterError {
        ClusterError::Invalid {
            message: message.into(),
            help: help.map(str::to_string),
        }
    }

    /// An API error while doing `what`.
    pub fn api(what: impl Into<String>, e: &kube::Error) -> ClusterError {
        let help = match e {
            kube::Error::Api(s) if s.code == 403 => Some(
                "the user or service account lacks this permission (RBAC): ask for it, or use another --context"
                    .to_string(),
            ),
            kube::Error::Api(s) if s.code == 404 && s.message.contains("the server could not find the requested resource") => Some(
                "the cluster does not serve Kanister's resources: install the CRDs (`kapsel crds | kubectl apply --server-side -f -`)"
                    .to_string(),
            ),
            _ => None,
        };
        ClusterError::Api {
            what: what.into(),
            message: api_message(e),
            help,
        }
    }

    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClusterError::Invalid { .. } => 1,
            _ => 2,
        }
    }
}

/// The API server's message (its `Status`), else the client's error chain.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let t = s.to_string();
                if !text.contains(&t) {
                    text.push_str(": ");
                    text.push_str(&t);
                }
                source = s.source();
            }
            text
        }
    }
}

/// Whether `e` is the API server's 404.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Prints the error (miette) and returns its exit code.
pub fn report(result: Result<ExitCode, ClusterError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            // Names, URLs and paths stay whole: no word breaks, and no
            // wrapping at all when stderr is not a terminal (logs, CI).
            let handler = if std::io::stderr().is_terminal() {
                miette::GraphicalReportHandler::new().with_break_words(false)
            } else {
                miette::GraphicalReportHandler::new_themed(
                    miette::GraphicalTheme::unicode_nocolor(),
                )
                .with_wrap_lines(false)
            };
            let mut text = String::new();
            if handler.render_report(&mut text, &e).is_err() {
                text = format!("Error: {e}\n");
            }
            eprint!("{text}");
            ExitCode::from(code)
        }
    }
}

/// A connected cluster and the namespace the command works in.
pub struct Cluster {
    /// The platform (its client).
    pub platform: KubePlatform,
    /// `-n`, else the context's namespace.
    pub namespace: String,
}

impl Cluster {
    /// Connects as kubectl would.
    pub async fn connect(c: &Conn) -> Result<Cluster, ClusterError> {
        let o = ConnectOptions {
            kubeconfig: c.kubeconfig.clone(),
            context: c.context.clone(),
        };
        let platform = KubePlatform::connect(&o)
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        let namespace = c
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| platform.default_namespace().to_string());
        Ok(Cluster {
            platform,
            namespace,
        })
    }

    /// The client.
    pub fn client(&self) -> kube::Client {
        self.platform.client().clone()
    }
}

/// A multi-threaded tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, ClusterError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Io {
            what: "cannot start the async runtime".to_string(),
            source,
        })
}

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn out(text: &str) -> Result<(), ClusterError> {
    super::out(text).map_err(|e| ClusterError::Io {
        what: "cannot write to stdout".to_string(),
        source: match e {
            super::CliError::Write(e) => e,
            other => std::io::Error::other(other.to_string()),
        },
    })
}

/// `NAME`, or kubectl's `TYPE/NAME` (`actionset/x`,
/// `actionset.cr.kanister.io/x`), as `-o name` prints it.
pub fn strip_type<'a>(name: &'a str, types: &[&str]) -> &'a str {
    match name.split_once('/') {
        Some((t, n)) if types.iter().any(|x| x.eq_ignore_ascii_case(t)) => n,
        _ => name,
    }
}

/// A value as YAML (through JSON, so that field order is serde's).
pub fn to_yaml(v: &impl serde::Serialize) -> Result<String, ClusterError> {
    let json = serde_json::to_value(v).map_err(|e| ClusterError::Io {
        what: "cannot encode".to_string(),
        source: std::io::Error::other(e),
    })?;
    serde_saphyr::to_string(&json).map_err(|e| ClusterError::Io {
        what: "cannot encode YAML".to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// A value as pretty JSON with a final newline.
pub fn to_json(v: &impl serde::Serialize) -> Result<String, ClusterError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| ClusterError::Io {
            what: "cannot encode JSON".to_string(),
            source: std::io::Error::other(e),
        })
}

/// Five characters of Kubernetes' `rand.String` alphabet (no vowels, no
/// look-alikes), as kanctl's generated names use.
pub fn rand_suffix(n: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
