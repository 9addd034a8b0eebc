//! `kapsel cleanup`: deletes the task pods that killed `kapsel run`s left
//! in a cluster (a run removes its own pods, also on a deadline or Ctrl-C;
//! a SIGKILL leaves them, and the next run in the namespace removes those
//! of this host by itself).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use kapsel_platform_k8s::{ConnectOptions, KubePlatform};

use super::{CliError, out};

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per pod.
    #[default]
    Text,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// `kapsel cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Delete every Kapsel task pod, also those of runs that may still be
    /// going (on another host, or alive here).
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: Format,
}

/// Runs the command.
pub fn run(a: CleanupArgs) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let fail = |what: &str, e: String, help: &str| CliError::Input {
        path: what.to_string(),
        message: e,
        help: Some(help.to_string()),
    };
    let report = runtime.block_on(async {
        let o = ConnectOptions {
            kubeconfig: a.kubeconfig.clone(),
            context: a.context.clone(),
        };
        let k = KubePlatform::connect(&o).await.map_err(|e| {
            fail(
                "--kubeconfig",
                e.to_string(),
                "check the kubeconfig and that the API server is up (`kubectl version`)",
            )
        })?;
        let ns = if a.all_namespaces {
            None
        } else {
            Some(
                a.namespace
                    .clone()
                    .unwrap_or_else(|| k.default_namespace().to_string()),
            )
        };
        k.cleanup(ns.as_deref(), a.all).await.map_err(|e| {
            fail(
                "cleanup",
                e.to_string(),
                "check the permissions to list and delete pods",
            )
        })
    })?;
    let text = match a.output {
        Format::Json => serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .map_err(|e| CliError::Write(std::io::Error::other(e)))?,
        Format::Yaml => serde_saphyr::to_string(&report)
            .map_err(|e| CliError::Write(std::io::Error::other(e)))?,
        Format::Text => {
            let mut s = String::new();
            for p in &report.deleted {
                s.push_str(&format!("deleted pod {p}\n"));
            }
            for p in &report.kept {
                s.push_str(&format!(
                    "kept pod {p} (its run may still be going; --all deletes it)\n"
                ));
            }
            for p in &report.deleted_secrets {
                s.push_str(&format!("deleted command Secret {p}\n"));
            }
            if s.is_empty() {
                s.push_str("no leftover pods\n");
            }
            s
        }
    };
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}
