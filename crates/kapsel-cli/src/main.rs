//! `kapsel`: the user command line of Kapsel.
//!
//! Subcommands: `blueprint validate|render|apply`, `validate`, `run`,
//! `actionset create|get|describe|watch|delete`, `profile create|validate`,
//! `cleanup`, `controller`, `install`, `uninstall`, `repo`, `crds`,
//! `schema`, and `kanctl ...` (Kanister's kanctl command lines; also when
//! the binary is invoked as `kanctl`, e.g. through a symlink). docs/cli.md
//! describes the cluster commands and the kanctl mapping.
//! Only data goes to stdout; diagnostics and errors go to stderr. Exit codes: 0
//! success, 1 invalid input found (e.g. a Blueprint with errors), 2 usage or
//! I/O error.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kapsel: application-consistent backup and restore driven by Kanister
/// Blueprints.
#[derive(Debug, Parser)]
#[command(name = "kapsel", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with Blueprints: validate and render (no cluster), apply.
    #[command(subcommand)]
    Blueprint(cmd::blueprint::BlueprintCmd),
    /// Create, list, describe, watch and delete ActionSets in a cluster
    /// (`create` takes kanctl's flags).
    #[command(subcommand, name = "actionset", alias = "actionsets")]
    ActionSet(cmd::cluster::actionset::ActionSetCmd),
    /// Create a Profile and its credential Secret (kanctl's flags), or
    /// validate one.
    #[command(subcommand, alias = "profiles")]
    Profile(cmd::cluster::profile::ProfileCmd),
    /// Kanister's kanctl command lines, unchanged (`kapsel kanctl create
    /// actionset ...`); the same as invoking this binary as `kanctl`.
    #[command(disable_help_flag = true)]
    Kanctl {
        /// kanctl's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Validate Kanister resource files of any kind: Blueprints (as `blueprint
    /// validate`), ActionSets and Profiles (fields, Kanister's rules).
    Validate(cmd::blueprint::ValidateArgs),
    /// Run one action of a Blueprint, or every action of an ActionSet
    /// (concurrently), on this host (the local platform, --inventory) or on
    /// a Kubernetes cluster (--kubeconfig, --context, --cluster), and write
    /// the resulting ActionSet.
    Run(Box<cmd::run::RunArgs>),
    /// Delete task pods that killed runs left in a cluster.
    Cleanup(cmd::cleanup::CleanupArgs),
    /// Reconcile Kanister ActionSets in a cluster, as Kanister's controller
    /// (in-cluster, or from here with a kubeconfig), until Ctrl-C/SIGTERM.
    Controller(cmd::controller::ControllerArgs),
    /// Install the controller in a cluster: the Helm chart's objects
    /// (charts/kapsel) applied without Helm.
    Install(Box<cmd::install::InstallArgs>),
    /// Remove what `kapsel install` applied (the CRDs only with --crds).
    Uninstall(cmd::install::UninstallArgs),
    /// Work with a Kapsel repository (the one kando writes): init, backup,
    /// snapshots, ls, restore, check, forget, prune, stats, keys.
    Repo(Box<cmd::repo::RepoArgs>),
    /// Print the CustomResourceDefinitions of ActionSet, Blueprint and Profile
    /// (YAML, one document each).
    Crds,
    /// Print a JSON Schema for editors (yaml-language-server).
    Schema {
        /// Which resource.
        #[arg(value_enum)]
        kind: cmd::schema::SchemaKind,
    },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(code) = cmd::repo::refuse_password_flag(&args) {
        return code;
    }
    // Invoked as `kanctl` (a symlink kanctl -> kapsel): kanctl's command line.
    let argv0 = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if argv0 == "kanctl" {
        return cmd::cluster::kanctl::main(std::env::args_os().collect());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Blueprint(b) => cmd::blueprint::run(b),
        Command::ActionSet(a) => return cmd::cluster::actionset::run(a),
        Command::Profile(p) => return cmd::cluster::profile::run(p),
        Command::Kanctl { args } => {
            let argv = std::iter::once(std::ffi::OsString::from("kanctl")).chain(args);
            return cmd::cluster::kanctl::main(argv.collect());
        }
        Command::Validate(a) => cmd::resource::validate(&a),
        Command::Run(a) => cmd::run::run(*a),
        Command::Cleanup(a) => cmd::cleanup::run(a),
        Command::Controller(a) => cmd::controller::run(a),
        Command::Install(a) => cmd::install::install(*a),
        Command::Uninstall(a) => cmd::install::uninstall(a),
        Command::Repo(a) => return cmd::repo::run(*a),
        Command::Crds => cmd::schema::crds(),
        Command::Schema { kind } => cmd::schema::schema(kind),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::from(2)
        }
    }
}
