//! `kando`: the helper Blueprints call inside pods, a drop-in for Kanister's.
//!
//! - `kando output KEY VALUE` prints the phase-output marker the engine
//!   collects (`###Phase-output###: {"key":"K","value":"V"}`).
//! - `kando location push|pull|delete` move streams to and from a Kapsel
//!   repository at the Profile's location (see `location.rs` and
//!   docs/format.md for the password and layout decisions).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod data;
mod location;

/// The marker Kanister's output parser looks for in a phase's stdout.
const PHASE_OUTPUT_MARKER: &str = "###Phase-output###:";

#[derive(Debug, Parser)]
#[command(
    name = "kando",
    version,
    about = "Kapsel's in-pod helper, compatible with Kanister's kando"
)]
struct Cli {
    /// Log level (accepted for compatibility).
    #[arg(short = 'v', long = "verbosity", global = true, default_value = "warn")]
    verbosity: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hand a value to later phases: prints the phase-output marker on stdout.
    Output {
        /// The key ([A-Za-z0-9_]+).
        key: String,
        /// The value.
        value: String,
    },
    /// Move data to and from the Profile's location.
    Location {
        #[command(subcommand)]
        command: location::LocationCommand,
    },
    /// Back up and restore directory trees (Kanister's BackupData & co.).
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum KandoError {
    #[error("invalid output key {0:?}")]
    #[diagnostic(
        code(kando::output_key),
        help("keys may only contain letters, digits and underscores ([A-Za-z0-9_]+)")
    )]
    BadKey(String),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Location(#[from] location::LocationError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] data::DataError),
    #[error("cannot write to stdout: {0}")]
    Write(#[from] std::io::Error),
}

/// Print a marker line on stdout.
pub(crate) fn emit_output(key: &str, value: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", marker_line(key, value))?;
    stdout.flush()
}

/// The marker line for `key`/`value`, JSON-encoded as Go's encoding/json does
/// (including its escaping of `<`, `>`, `&`, U+2028 and U+2029).
fn marker_line(key: &str, value: &str) -> String {
    let json = serde_json::json!({"key": key, "value": value}).to_string();
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("{PHASE_OUTPUT_MARKER} {json}")
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn run(cli: Cli) -> Result<(), KandoError> {
    match cli.command {
        Command::Output { key, value } => {
            if !valid_key(&key) {
                return Err(KandoError::BadKey(key));
            }
            emit_output(&key, &value)?;
            Ok(())
        }
        Command::Location { command } => Ok(location::run(command)?),
        Command::Data { command } => Ok(data::run(command)?),
    }
}

/// What to do about a repository error (the library's errors carry no help).
fn repo_hint(e: &KandoError) -> Option<&'static str> {
    use kapsel_repo::RepoError as R;
    let r = match e {
        KandoError::Location(location::LocationError::Repo(r))
        | KandoError::Data(data::DataError::Repo(r))
        | KandoError::Data(data::DataError::Location(location::LocationError::Repo(r))) => r,
        _ => return None,
    };
    Some(match r {
        R::WrongPassword { .. } => {
            "the password comes from KAPSEL_REPO_PASSWORD, KAPSEL_REPO_PASSWORD_FILE, --secrets-stdin's \"password\", or is derived from the Profile's credential: use the one the repository was created with"
        }
        R::NotFound { .. } => {
            "nothing was pushed to this location yet: check the Profile's bucket and prefix and --path"
        }
        R::Foreign { .. } | R::NotARepository { .. } | R::UnsupportedVersion { .. } => {
            "the location holds objects Kapsel did not write (or a newer format): point the Profile's prefix at a Kapsel repository"
        }
        R::Corrupt { .. } | R::Restore { .. } => {
            "run `kapsel repo check --read-data` to list every damaged object; restore from another snapshot"
        }
        R::SnapshotNotFound(_) | R::AmbiguousSnapshot(_) => {
            "list the snapshots with `kapsel repo snapshots`; give a longer id prefix"
        }
        R::ConfigCorrupt { .. } | R::DamagedKeys { .. } => {
            "the repository's config or a key file is damaged: put back a copy of it; `kapsel repo check` (opened with another key) lists every key file"
        }
        R::DamagedIndex { .. } | R::DamagedSnapshots { .. } => {
            "run the `kapsel repo repair` command the message names, then try again"
        }
        R::Store { .. } => {
            "check the endpoint, the bucket and the credentials in the Profile; transient errors were retried"
        }
        _ => return None,
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let r = run(cli);
    report_peak_rss();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A repository that `kando data check` found damaged exits 1
            // (CheckRepository tells it from unusable input, which exits 2).
            let code = if matches!(e, KandoError::Data(data::DataError::CheckFailed(_))) {
                1
            } else {
                2
            };
            let hint = repo_hint(&e);
            eprintln!("{:?}", miette::Report::new(e));
            if let Some(h) = hint {
                eprintln!("  help: {h}");
            }
            ExitCode::from(code)
        }
    }
}

/// With `KAPSEL_REPORT_PEAK_RSS=1`, print the process's peak resident
/// memory (`VmHWM`) as `kando: peak RSS <KiB> KiB` on stderr: how the tests
/// and benchmarks check the memory bound of the process itself.
fn report_peak_rss() {
    if std::env::var_os("KAPSEL_REPORT_PEAK_RSS").is_none_or(|v| v != "1") {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        Some(kib) => eprintln!("kando: peak RSS {kib} KiB"),
        None => eprintln!("kando: peak RSS unknown (no VmHWM in /proc/self/status)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_matches_kanister() {
        assert_eq!(
            marker_line("backupLocation", "pg/a b&<c>"),
            r#"###Phase-output###: {"key":"backupLocation","value":"pg/a b\u0026\u003cc\u003e"}"#
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(valid_key("a_B9"));
        assert!(!valid_key("a-b"));
        assert!(!valid_key(""));
    }
}
