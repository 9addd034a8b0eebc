//! Kanister's `kanctl` command lines, unchanged, for the binary invoked as
//! `kanctl` (a symlink `kanctl -> kapsel`) or as `kapsel kanctl ...`:
//!
//! - `kanctl [-n NS] [--verbose] create [--dry-run] [--skip-validation]
//!   actionset ...` → `kapsel actionset create` (the same flags struct);
//! - `kanctl create profile [-b -e -p -r --skip-SSL-verification]
//!   s3compliant|gcp|azure ...` → `kapsel profile create`;
//! - `kanctl validate blueprint (-f FILE | --name NAME) [-v VERSION]` →
//!   `kapsel blueprint validate --strict` (kanctl's rules include unique
//!   phase names);
//! - `kanctl validate profile (--name NAME | -f FILE)
//!   [--resource-namespace NS] [--schema-validation-only]` → `kapsel
//!   profile validate`.
//!
//! Parsing only: every command runs the code of its `kapsel` form.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kapsel_api::Blueprint;
use kube::api::Api;

use super::actionset::{ActionSetCmd, ActionSetFlags, CreateArgs};
use super::profile::{
    CreateCommon, LocationFlags, ProfileCmd, ProfileCreateArgs, ProfileKind, ProfileValidateArgs,
};
use super::{Cluster, ClusterError, Conn};
use crate::cmd::blueprint::{DiagFormat, ValidateArgs, validate_sources};

/// A set of helpers to help with management of Kanister custom resources
/// (Kapsel's implementation of Kanister's kanctl).
#[derive(Debug, Parser)]
#[command(name = "kanctl", version)]
pub struct Kanctl {
    #[command(flatten)]
    pub conn: Conn,
    /// Display verbose output (debug logs on stderr).
    #[arg(long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub cmd: KanctlCmd,
}

/// kanctl's commands.
#[derive(Debug, Subcommand)]
pub enum KanctlCmd {
    /// Create a custom kanister resource.
    Create(CreateCmd),
    /// Validate custom Kanister resources.
    Validate(ValidateCmd),
}

/// `kanctl create`.
#[derive(Debug, Args)]
pub struct CreateCmd {
    /// If set, resource YAML will be printed but not created.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// If set, resource is not validated before creation.
    #[arg(long, global = true)]
    pub skip_validation: bool,
    #[command(subcommand)]
    pub what: CreateWhat,
}

/// What `kanctl create` creates.
#[derive(Debug, Subcommand)]
pub enum CreateWhat {
    /// Create a new ActionSet or override a <parent> ActionSet.
    Actionset(Box<ActionSetFlags>),
    /// Create a new profile.
    Profile(Box<ProfileCmdArgs>),
}

/// `kanctl create profile`.
#[derive(Debug, Args)]
pub struct ProfileCmdArgs {
    #[command(flatten)]
    pub location: LocationFlags,
    #[command(subcommand)]
    pub kind: ProfileKind,
}

/// What `kanctl validate` validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Resource {
    /// A Blueprint.
    Blueprint,
    /// A Profile.
    Profile,
}

/// `kanctl validate <resource>`.
#[derive(Debug, Args)]
pub struct ValidateCmd {
    /// blueprint or profile.
    #[arg(value_enum)]
    pub resource: Resource,
    /// The K8s name of the custom resource to validate.
    #[arg(long)]
    pub name: Option<String>,
    /// YAML or JSON file of the custom resource to validate (`-`: stdin).
    #[arg(long = "filename", short = 'f')]
    pub filename: Option<String>,
    /// Namespace of the custom resource, with --name (kanctl's default:
    /// `default`; here -n when given, else `default`).
    #[arg(long)]
    pub resource_namespace: Option<String>,
    /// If set, only schema of resource will be validated.
    #[arg(long)]
    pub schema_validation_only: bool,
    /// Kanister function version, e.g. v0.0.0.
    #[arg(long = "functionVersion", short = 'v', default_value = "v0.0.0")]
    pub function_version: String,
}

/// Runs kanctl's command line `args` (`args[0]` is the program name).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let k = match Kanctl::try_parse_from(args) {
        Ok(k) => k,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if k.verbose {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,kapsel=debug,kapsel_platform_k8s=debug",
            ))
            .with_writer(std::io::stderr)
            .try_init();
    }
    run(k)
}

/// Runs a parsed kanctl command.
pub fn run(k: Kanctl) -> ExitCode {
    match k.cmd {
        KanctlCmd::Create(c) => match c.what {
            CreateWhat::Actionset(flags) => {
                super::actionset::run(ActionSetCmd::Create(Box::new(CreateArgs {
                    conn: k.conn,
                    flags: *flags,
                    dry_run: c.dry_run,
                    skip_validation: c.skip_validation,
                    output: None,
                })))
            }
            CreateWhat::Profile(p) => {
                super::profile::run(ProfileCmd::Create(Box::new(ProfileCreateArgs {
                    conn: k.conn,
                    location: p.location,
                    common: CreateCommon {
                        dry_run: c.dry_run,
                        skip_validation: c.skip_validation,
                        name: None,
                        output: None,
                    },
                    kind: p.kind,
                })))
            }
        },
        KanctlCmd::Validate(v) => {
            if v.name.is_none() && v.filename.is_none() {
                return super::report(Err(ClusterError::usage(
                    "neither name nor filename specified",
                    Some("--name NAME (in the cluster) or -f FILE"),
                )));
            }
            let namespace = v
                .resource_namespace
                .clone()
                .or(k.conn.namespace.clone())
                .unwrap_or_else(|| "default".to_string());
            let conn = Conn {
                namespace: Some(namespace),
                ..k.conn
            };
            match v.resource {
                Resource::Profile => {
                    super::profile::run(ProfileCmd::Validate(ProfileValidateArgs {
                        conn,
                        name: v.name,
                        filename: v.filename,
                        schema_validation_only: v.schema_validation_only,
                    }))
                }
                Resource::Blueprint => super::report(validate_blueprint(&v, &conn)),
            }
        }
    }
}

/// `kanctl validate blueprint`: `kapsel blueprint validate --strict` on
/// the file, or on the Blueprint fetched from the cluster with --name.
fn validate_blueprint(v: &ValidateCmd, conn: &Conn) -> Result<ExitCode, ClusterError> {
    let source = match (&v.filename, &v.name) {
        (Some(f), _) => {
            let mut text = String::new();
            let r = if f == "-" {
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(drop)
            } else {
                std::fs::read_to_string(f).map(|t| text = t)
            };
            r.map_err(|source| ClusterError::Io {
                what: format!("cannot read {f}"),
                source,
            })?;
            (
                if f == "-" {
                    "(stdin)".to_string()
                } else {
                    f.clone()
                },
                text,
            )
        }
        (None, Some(name)) => super::runtime()?.block_on(async {
            let c = Cluster::connect(conn).await?;
            let api: Api<Blueprint> = Api::namespaced(c.client(), &c.namespace);
            let mut bp = api
                .get_opt(name)
                .await
                .map_err(|e| {
                    ClusterError::api(format!("cannot get Blueprint {}/{name}", c.namespace), &e)
                })?
                .ok_or_else(|| {
                    ClusterError::invalid(
                        format!(
                            "Blueprint {name:?} not found in namespace {:?}",
                            c.namespace
                        ),
                        Some("name its namespace with --resource-namespace"),
                    )
                })?;
            bp.metadata.managed_fields = None;
            Ok::<_, ClusterError>((
                format!("Blueprint {}/{name}", c.namespace),
                super::to_yaml(&bp)?,
            ))
        })?,
        (None, None) => unreachable_usage()?,
    };
    let a = ValidateArgs {
        files: Vec::new(),
        output: DiagFormat::Human,
        deny_warnings: false,
        function_version: Some(v.function_version.clone()).filter(|f| !f.is_empty()),
        strict: true,
    };
    validate_sources(&a, &[source]).map_err(|e| ClusterError::Io {
        what: "cannot validate".to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn unreachable_usage() -> Result<(String, String), ClusterError> {
    Err(ClusterError::usage(
        "neither name nor filename specified",
        Some("--name NAME (in the cluster) or -f FILE"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Kanctl {
        Kanctl::try_parse_from(args.split_whitespace()).unwrap_or_else(|e| panic!("{args}: {e}"))
    }

    #[test]
    fn kanctl_command_lines_parse_unchanged() {
        // From Kanister's documentation and examples.
        let k = parse(
            "kanctl create actionset --action backup --namespace kanister --blueprint time-log-bp --deployment default/time-logger --profile s3-profile",
        );
        let KanctlCmd::Create(CreateCmd {
            what: CreateWhat::Actionset(f),
            dry_run: false,
            ..
        }) = &k.cmd
        else {
            panic!("{k:?}")
        };
        assert_eq!(k.conn.namespace.as_deref(), Some("kanister"));
        assert_eq!(f.deployment, ["default/time-logger"]);
        let k = parse(
            "kanctl -n kanister create --dry-run actionset --action restore --from backup-md6gb --skip-validation",
        );
        let KanctlCmd::Create(CreateCmd {
            what: CreateWhat::Actionset(f),
            dry_run: true,
            skip_validation: true,
        }) = &k.cmd
        else {
            panic!("{k:?}")
        };
        assert_eq!(f.from.as_deref(), Some("backup-md6gb"));
        assert_eq!(k.conn.namespace.as_deref(), Some("kanister"));
        let k = parse(
            "kanctl create profile s3compliant --access-key AK --secret-key SK --bucket b --region us-east-1 --namespace kanister",
        );
        let KanctlCmd::Create(CreateCmd {
            what: CreateWhat::Profile(p),
            ..
        }) = &k.cmd
        else {
            panic!()
        };
        assert_eq!(p.location.bucket.as_deref(), Some("b"));
        assert!(
            matches!(&p.kind, ProfileKind::S3compliant(s) if s.access_key.as_deref() == Some("AK"))
        );
        let k = parse(
            "kanctl create profile -b b -r r --skip-SSL-verification gcp -a proj -s key.json --dry-run",
        );
        let KanctlCmd::Create(CreateCmd {
            what: CreateWhat::Profile(p),
            dry_run: true,
            ..
        }) = &k.cmd
        else {
            panic!()
        };
        assert!(p.location.skip_ssl_verification);
        let k = parse("kanctl validate blueprint -f bp.yaml -v v1.0.0-alpha --verbose");
        let KanctlCmd::Validate(v) = &k.cmd else {
            panic!()
        };
        assert_eq!(
            (v.resource, v.function_version.as_str()),
            (Resource::Blueprint, "v1.0.0-alpha")
        );
        assert!(k.verbose);
        let k = parse(
            "kanctl validate profile --name s3-profile --resource-namespace kanister --schema-validation-only",
        );
        let KanctlCmd::Validate(v) = &k.cmd else {
            panic!()
        };
        assert_eq!(v.resource_namespace.as_deref(), Some("kanister"));
        // -v is --pvc under create actionset, --functionVersion under validate.
        let k = parse("kanctl create actionset -a backup -b bp -v ns/data -o a=b,c=d -s s=ns/x");
        let KanctlCmd::Create(CreateCmd {
            what: CreateWhat::Actionset(f),
            ..
        }) = &k.cmd
        else {
            panic!()
        };
        assert_eq!(f.pvc, ["ns/data"]);
        assert_eq!(f.options, ["a=b", "c=d"]);
    }
}
