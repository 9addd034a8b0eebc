//! `kapsel repo`: the repository kando writes, for people and scripts.
//!
//! The repository is addressed by `--profile FILE` (a Kanister Profile, or the
//! JSON kando receives) or `--repo DIR` (a local directory). Its password comes
//! from `KAPSEL_REPO_PASSWORD`, the file named by `KAPSEL_REPO_PASSWORD_FILE`,
//! the default kando derives from a Profile's credential, or a prompt on a
//! terminal: never from the command line (`--password` is refused by design,
//! since argv is visible to every user of the host through `ps`).
//!
//! Results go to stdout (a table, or JSON with `--output json`); progress bars
//! and notes to stderr, only on a terminal. Exit codes: 0 ok, 1 problems found
//! (check) or invalid input (wrong password, unknown snapshot, bad Profile),
//! 2 usage or I/O error.

pub(crate) mod progress;
mod target;

use std::io::{BufWriter, Read};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kapsel_repo::check::CheckOptions;
use kapsel_repo::forget::KeepPolicy;
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::restore::RestoreOptions;
use kapsel_repo::tree::{EntryKind, TreeEntry};
use kapsel_repo::{
    BackupOptions, ChunkerParams, Id, InitOptions, KdfParams, RepoError, Repository, Snapshot,
};
use serde_json::json;

use progress::{Ui, human_bytes};
pub use target::Target;

/// Result format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    #[default]
    Text,
    /// JSON on stdout.
    Json,
}

/// `kapsel repo`.
#[derive(Debug, Args)]
pub struct RepoArgs {
    #[command(flatten)]
    target: Target,
    /// The logical path (kando's `--path`): the path a backup is stored
    /// under; elsewhere it selects the snapshots of that path.
    #[arg(long, short = 's', global = true)]
    path: Option<String>,
    /// Result format.
    #[arg(long, value_enum, default_value_t, global = true)]
    output: Format,
    /// No progress bars and no notes (errors are still reported).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: RepoCmd,
}

#[derive(Debug, Subcommand)]
enum RepoCmd {
    /// Create a repository (its first key has the password given as usual).
    Init {
        /// zstd level of data blobs, kept in the repository's config for
        /// every later backup: 1 (default) is fast, 3 compresses text a few
        /// percent better for about a fifth more backup CPU, 19 is the most
        /// (and slowest); negative levels trade ratio for more speed.
        #[arg(long, default_value_t = kapsel_repo::DEFAULT_ZSTD_LEVEL, allow_negative_numbers = true,
              value_parser = clap::value_parser!(i32).range(-7..=19))]
        compression_level: i32,
        /// Average chunk size, kept in the config: a power of two from 64KiB
        /// to 2MiB; chunks range from a quarter to four times it. 256KiB
        /// (default) deduplicates finely; 2MiB compresses very compressible
        /// streams such as database dumps ~15% smaller, with coarser
        /// deduplication.
        #[arg(long, default_value = "256KiB", value_parser = kapsel_repo::ChunkerParams::with_average)]
        chunk_size: kapsel_repo::ChunkerParams,
    },
    /// Store a file or stdin (`-`) as a stream snapshot of --path, or a
    /// directory as a tree snapshot (modes, owners, mtimes, links).
    Backup {
        /// A file, or `-` for stdin.
        #[arg(default_value = "-")]
        source: String,
        /// A tag. Repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// List snapshots (of --path, if given), oldest first.
    Snapshots {
        /// Only snapshots with this tag. Repeatable (any matches).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// What a snapshot holds (a tree's entries, like `ls -l`).
    Ls {
        /// Snapshot id (a unique prefix of at least 4 digits) or `latest`.
        snapshot: String,
    },
    /// Restore a stream snapshot to a file, into a directory or to stdout;
    /// a tree snapshot into a new or empty directory.
    Restore {
        /// Snapshot id (a unique prefix of at least 4 digits) or `latest`.
        snapshot: String,
        /// `-` for stdout, a directory (the file is named after the
        /// snapshot's path), or a new file. An existing file is never
        /// overwritten; nothing is left behind on failure.
        #[arg(long, short = 't')]
        target: String,
    },
    /// Check the structure and the index; with --read-data every blob too.
    /// Exit code 1 when problems are found.
    Check {
        /// Download, decrypt and verify every pack and blob.
        #[arg(long)]
        read_data: bool,
        /// Read and verify only some packs: group N of M by pack id (`2/7`;
        /// running 1/M..M/M covers every pack once) or a random share (`10%`).
        #[arg(long, value_name = "N/M|P%", conflicts_with = "read_data", value_parser = kapsel_repo::check::Subset::parse)]
        read_data_subset: Option<kapsel_repo::check::Subset>,
    },
    /// Remove snapshots that a retention policy does not keep.
    Forget(ForgetArgs),
    /// Delete data no snapshot needs (two-phase: marked, then deleted after
    /// --keep-delete, so that running backups are safe).
    Prune(PruneArgs),
    /// Sizes: logical, unique, stored; dedup and compression ratios.
    Stats,
    /// Manage the repository's keys (passwords).
    #[command(subcommand)]
    Key(KeyCmd),
    /// Repair a damaged repository (docs/format.md §13).
    #[command(subcommand)]
    Repair(RepairCmd),
}

#[derive(Debug, Subcommand)]
enum RepairCmd {
    /// Rebuild the index from the packs' own headers: one new index file
    /// listing every readable pack, then the old index files are deleted.
    /// Unreadable packs are reported and left in place. Do not run it
    /// beside a prune.
    Index {
        /// Report what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Move unreadable snapshot manifests to `snapshots-damaged/`, and list
    /// the snapshots whose data is partly lost.
    Snapshots {
        /// Report what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also forget the snapshots whose data is partly lost (refused while
        /// an index file is damaged: run `repair index` first).
        #[arg(long)]
        forget_partial: bool,
    },
}

#[derive(Debug, Args)]
struct ForgetArgs {
    /// Keep the N newest snapshots.
    #[arg(long)]
    keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours.
    #[arg(long)]
    keep_hourly: Option<u32>,
    /// ... of each of the last N days.
    #[arg(long)]
    keep_daily: Option<u32>,
    /// ... of each of the last N ISO weeks.
    #[arg(long)]
    keep_weekly: Option<u32>,
    /// ... of each of the last N months.
    #[arg(long)]
    keep_monthly: Option<u32>,
    /// ... of each of the last N years.
    #[arg(long)]
    keep_yearly: Option<u32>,
    /// Keep everything younger than this, relative to the newest snapshot
    /// of its path (e.g. 7d, 12h, 2w, 1y; units s m h d w y).
    #[arg(long, value_parser = parse_age)]
    keep_within: Option<chrono::Duration>,
    /// Keep every snapshot with this tag. Repeatable.
    #[arg(long = "keep-tag")]
    keep_tags: Vec<String>,
    /// Apply a policy that keeps nothing (no --keep-* option, or all of
    /// them 0): removes every snapshot (of --path). Refused without it.
    #[arg(long)]
    allow_empty: bool,
    /// Show the decisions, remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Prune afterwards (with prune's defaults).
    #[arg(long)]
    prune: bool,
}

#[derive(Debug, Args)]
struct PruneArgs {
    /// How long unused packs stay marked before they are deleted (default
    /// 1h; 0s deletes at once when no backup is running, and marks them
    /// when one is: running backups are safe either way).
    #[arg(long, value_parser = parse_age, default_value = "1h")]
    keep_delete: chrono::Duration,
    /// Report what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// List the keys.
    List,
    /// Add a key for a new password (KAPSEL_REPO_NEW_PASSWORD,
    /// KAPSEL_REPO_NEW_PASSWORD_FILE, or a prompt).
    Add,
    /// Remove a key (not the one in use).
    Remove {
        /// Key id (or a unique prefix).
        id: String,
    },
    /// Change the password: add a key for the new password, remove the one
    /// used to open the repository.
    Passwd,
}

/// Why a `kapsel repo` command failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RepoCmdError {
    /// Bad usage.
    #[error("{message}")]
    #[diagnostic(code(kapsel::repo::usage))]
    Usage {
        /// What.
        message: String,
        /// What to do.
        #[help]
        help: String,
    },
    /// A file or argument is not what it should be.
    #[error("{place}: {message}")]
    #[diagnostic(code(kapsel::repo::input))]
    Input {
        /// The file or argument.
        place: String,
        /// What is wrong.
        message: String,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// No password source.
    #[error("no repository password")]
    #[diagnostic(
        code(kapsel::repo::no_password),
        help(
            "set KAPSEL_REPO_PASSWORD or KAPSEL_REPO_PASSWORD_FILE, or run on a terminal to be asked; passwords are never taken from the command line"
        )
    )]
    NoPassword,
    /// No source for the new password.
    #[error("no new password")]
    #[diagnostic(
        code(kapsel::repo::no_new_password),
        help(
            "set KAPSEL_REPO_NEW_PASSWORD or KAPSEL_REPO_NEW_PASSWORD_FILE, or run on a terminal to be asked"
        )
    )]
    NoNewPassword,
    /// The password file cannot be read.
    #[error(transparent)]
    #[diagnostic(code(kapsel::repo::password_file))]
    PasswordFile(#[from] kapsel_storage::password::PasswordFileError),
    /// The repository refused or failed.
    #[error("{error}")]
    #[diagnostic(code(kapsel::repo::repository))]
    Repo {
        /// The repository's error.
        error: RepoError,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// A local file operation failed.
    #[error("{what} {path}: {source}")]
    #[diagnostic(code(kapsel::repo::io))]
    Io {
        /// What was done.
        what: &'static str,
        /// On what.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl RepoCmdError {
    /// 1 for findings and invalid input, 2 for usage and I/O errors.
    fn exit_code(&self) -> u8 {
        match self {
            RepoCmdError::Usage { .. } | RepoCmdError::Io { .. } => 2,
            RepoCmdError::Repo { error, .. }
                if matches!(
                    error.cause(),
                    RepoError::Store { .. } | RepoError::Io(_) | RepoError::Task(_)
                ) =>
            {
                2
            }
            _ => 1,
        }
    }
}

impl From<RepoError> for RepoCmdError {
    fn from(source: RepoError) -> Self {
        let help = match source.cause() {
            RepoError::NotFound { .. } => {
                Some("check --profile / --repo, or create one with `kapsel repo init`")
            }
            RepoError::AlreadyInitialized { .. } => {
                Some("use it as it is: `kapsel repo snapshots` lists its content")
            }
            RepoError::WrongPassword { .. } => Some(
                "check KAPSEL_REPO_PASSWORD / KAPSEL_REPO_PASSWORD_FILE; a repository kando created without one opens with the password derived from the Profile's credential (unset both variables)",
            ),
            RepoError::SnapshotNotFound(_) => Some("`kapsel repo snapshots` lists the ids"),
            RepoError::AmbiguousSnapshot(_) => Some("give more digits of the id"),
            RepoError::Key(_) => Some("`kapsel repo key list` shows the keys"),
            RepoError::Corrupt { object, .. } if object.contains("snapshots/") => Some(
                "`kapsel repo repair snapshots` moves damaged manifests aside; restore another snapshot",
            ),
            RepoError::Corrupt { object, .. } if object.contains("index/") => {
                Some("`kapsel repo repair index` rebuilds the index from the packs")
            }
            RepoError::Corrupt { .. } | RepoError::Restore { .. } => Some(
                "`kapsel repo check --read-data` lists every damaged object; restore from another snapshot",
            ),
            RepoError::Foreign { .. } | RepoError::NotARepository { .. } => {
                Some("this location holds something that is not a Kapsel repository")
            }
            RepoError::NotEmpty { .. } => Some(
                "create the repository in a new or empty directory (or another prefix); nothing was written",
            ),
            RepoError::ConfigCorrupt { .. } => Some(
                "the config cannot be repaired from the repository itself: put back a copy of the `config` object; if the named key file was left by an interrupted `init`, remove it",
            ),
            RepoError::DamagedKeys { .. } => Some(
                "`kapsel repo check`, run with another key's password, lists every key file; put back a copy of the damaged key file, or `key remove` it",
            ),
            RepoError::DamagedIndex { .. } => {
                Some("run `kapsel repo repair index`, then try again")
            }
            RepoError::DamagedSnapshots { .. } => {
                Some("run `kapsel repo repair snapshots`, then try again")
            }

            _ => None,
        };
        RepoCmdError::Repo {
            error: source,
            help: help.map(str::to_string),
        }
    }
}

type R<T> = Result<T, RepoCmdError>;

/// Parses `7d`, `12h`, `1d12h`, `30m`, `2w`, `1y`, `0s`.
pub fn parse_age(s: &str) -> Result<chrono::Duration, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = chrono::Duration::zero();
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected a number before {c:?}"))?;
        num.clear();
        let secs = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            'y' => 365 * 86_400,
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {c:?} (use s, m, h, d, w or y)"
                ));
            }
        };
        total += n
            .checked_mul(secs)
            .and_then(chrono::Duration::try_seconds)
            .ok_or_else(|| format!("{s:?} is too long"))?;
    }
    if !num.is_empty() {
        return Err(format!(
            "{s:?}: a unit is missing after {num} (use s, m, h, d, w or y)"
        ));
    }
    Ok(total)
}

/// Runs `kapsel repo`: prints its own errors and returns the exit code.
pub fn run(a: RepoArgs) -> ExitCode {
    let ui = Ui::new(a.output == Format::Json, a.quiet);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RepoCmdError::Io {
            what: "cannot start",
            path: "the async runtime".into(),
            source: e,
        })
        .and_then(|rt| rt.block_on(dispatch(&a, ui)));
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("{:?}", miette::Report::new(e));
            ExitCode::from(code)
        }
    }
}

async fn open(a: &RepoArgs) -> R<Repository> {
    let place = a.target.place(false)?;
    let pw = target::password(&place, false)?;
    let repo = Repository::open(place.store, place.root, &pw).await?;
    // Damaged objects that were skipped: always said, even with --quiet.
    repo.set_warning_sink(std::sync::Arc::new(|w: &str| eprintln!("warning: {w}")));
    for w in repo.warnings() {
        eprintln!("warning: {w}");
    }
    Ok(repo)
}

fn print(text: &str) -> R<()> {
    crate::cmd::out(text).map_err(|e| RepoCmdError::Io {
        what: "cannot write to",
        path: "stdout".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn print_json(v: &serde_json::Value) -> R<()> {
    print(&format!("{v:#}\n"))
}

fn short(id: &Id) -> String {
    id.to_hex()[..8].to_string()
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn source_type(s: &Snapshot) -> String {
    serde_json::to_value(&s.source)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn snapshot_json(id: &Id, s: &Snapshot) -> serde_json::Value {
    json!({
        "id": id.to_hex(),
        "shortId": short(id),
        "time": s.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "host": s.host,
        "paths": s.paths,
        "tags": s.tags,
        "type": source_type(s),
        "size": s.size(),
        "addedBytes": s.added_bytes,
        "program": s.program,
    })
}

/// A table with left-aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// The snapshot an argument names: an id prefix, or `latest` (of --path).
async fn pick(repo: &Repository, arg: &str, path: Option<&str>) -> R<(Id, Snapshot)> {
    if arg == "latest" {
        return repo
            .snapshots()
            .await?
            .into_iter()
            .rev()
            .find(|(_, s)| path.is_none_or(|p| s.paths.iter().any(|x| x == p)))
            .ok_or_else(|| RepoCmdError::Input {
                place: "latest".into(),
                message: match path {
                    Some(p) => format!("no snapshot of path {p:?}"),
                    None => "the repository has no snapshot".into(),
                },
                help: Some("`kapsel repo snapshots` lists them".into()),
            });
    }
    Ok(repo.find_snapshot(arg).await?)
}

async fn dispatch(a: &RepoArgs, ui: Ui) -> R<ExitCode> {
    match &a.cmd {
        RepoCmd::Init {
            compression_level,
            chunk_size,
        } => init(a, *compression_level, *chunk_size, ui).await,
        RepoCmd::Backup { source, tags } => backup(a, ui, source, tags).await,
        RepoCmd::Snapshots { tags } => snapshots(a, tags).await,
        RepoCmd::Ls { snapshot } => ls(a, snapshot).await,
        RepoCmd::Restore { snapshot, target } => restore(a, ui, snapshot, target).await,
        RepoCmd::Check {
            read_data,
            read_data_subset,
        } => check(a, ui, *read_data, *read_data_subset).await,
        RepoCmd::Forget(f) => forget(a, ui, f).await,
        RepoCmd::Prune(p) => {
            let repo = open(a).await?;
            prune(&repo, a, ui, p.keep_delete, p.dry_run).await
        }
        RepoCmd::Stats => stats(a).await,
        RepoCmd::Key(k) => key(a, k).await,
        RepoCmd::Repair(r) => repair(a, ui, r).await,
    }
}

async fn init(a: &RepoArgs, level: i32, chunker: ChunkerParams, ui: Ui) -> R<ExitCode> {
    let place = a.target.place(true)?;
    let pw = target::password(&place, true)?;
    let location = place.description.clone();
    let opts = InitOptions {
        zstd_level: level,
        chunker,
        ..InitOptions::default()
    };
    let repo = Repository::init(place.store, place.root, &pw, opts).await?;
    let keys = repo.key_list().await?;
    if ui.json {
        print_json(&json!({
            "id": repo.config().id,
            "location": location,
            "formatVersion": repo.config().version,
            "compressionLevel": repo.config().zstd_level,
            "chunkSize": repo.config().chunker.avg,
            "key": keys.first().map(|k| k.id.clone()),
        }))?;
    } else {
        print(&format!(
            "created repository {} (format v{}, zstd level {}, {} KiB chunks on average) at {location}\n",
            repo.config().id,
            repo.config().version,
            repo.config().zstd_level,
            repo.config().chunker.avg / 1024
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn backup(a: &RepoArgs, ui: Ui, source: &str, tags: &[String]) -> R<ExitCode> {
    if source != "-" && std::path::Path::new(source).is_dir() {
        return backup_tree(a, ui, source, tags).await;
    }
    let (reader, total, default_path): (Box<dyn Read + Send>, Option<u64>, Option<String>) =
        if source == "-" {
            (Box::new(std::io::stdin()), None, None)
        } else {
            let f = std::fs::File::open(source).map_err(|e| RepoCmdError::Io {
                what: "cannot open",
                path: source.to_string(),
                source: e,
            })?;
            let len = f.metadata().ok().map(|m| m.len());
            let abs = std::path::absolute(source)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| source.to_string());
            (Box::new(f), len, Some(abs))
        };
    let Some(path) = a.path.clone().or(default_path) else {
        return Err(RepoCmdError::Usage {
            message: "a backup of stdin needs --path".into(),
            help: "name the data, e.g. --path /backups/db.dump (kando's --path)".into(),
        });
    };
    let repo = open(a).await?;
    let bar = ui.bytes(total, "backup");
    let s = repo
        .backup_stream(
            bar.wrap_read(reader),
            BackupOptions {
                paths: vec![path.clone()],
                tags: tags.to_vec(),
                ..Default::default()
            },
        )
        .await;
    bar.finish_and_clear();
    let s = s?;
    if ui.json {
        print_json(&json!({
            "snapshot": s.snapshot,
            "path": path,
            "size": s.size,
            "chunks": s.chunks,
            "newChunks": s.new_chunks,
            "addedBytes": s.added_bytes,
            "packs": s.packs,
            "adoptedPacks": s.adopted_packs,
        }))?;
    } else if !ui.quiet {
        print(&format!(
            "snapshot {} of {path}: {} ({} of {} chunks new, {} added)\n",
            s.snapshot,
            human_bytes(s.size),
            s.new_chunks,
            s.chunks,
            human_bytes(s.added_bytes)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A directory: a tree snapshot whose path is the directory's absolute path.
async fn backup_tree(a: &RepoArgs, ui: Ui, source: &str, tags: &[String]) -> R<ExitCode> {
    let abs = std::path::absolute(source).map_err(|e| RepoCmdError::Io {
        what: "cannot resolve",
        path: source.to_string(),
        source: e,
    })?;
    if a.path.is_some() {
        return Err(RepoCmdError::Usage {
            message:
                "--path names stream backups; a directory's snapshot is named by its absolute path"
                    .into(),
            help: "drop --path when backing up a directory".into(),
        });
    }
    let repo = open(a).await?;
    let bar = ui.spinner(&format!("backup of {}", abs.display()));
    let r = repo
        .backup_tree(
            std::slice::from_ref(&abs),
            BackupOptions {
                tags: tags.to_vec(),
                ..Default::default()
            },
        )
        .await;
    bar.finish_and_clear();
    let (s, t) = r?;
    for k in &t.skipped {
        ui.note(&format!("skipped: {k}"));
    }
    if ui.json {
        print_json(&json!({
            "snapshot": s.snapshot,
            "path": abs.display().to_string(),
            "type": "tree",
            "files": t.files,
            "entries": t.entries,
            "size": t.size,
            "chunks": s.chunks,
            "newChunks": s.new_chunks,
            "addedBytes": s.added_bytes,
            "skipped": t.skipped,
        }))?;
    } else if !ui.quiet {
        print(&format!(
            "snapshot {} of {}: {} entries, {} files, {} ({} added)\n",
            s.snapshot,
            abs.display(),
            t.entries,
            t.files,
            human_bytes(t.size),
            human_bytes(s.added_bytes)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn snapshots(a: &RepoArgs, tags: &[String]) -> R<ExitCode> {
    let repo = open(a).await?;
    let snaps: Vec<(Id, Snapshot)> = repo
        .snapshots()
        .await?
        .into_iter()
        .filter(|(_, s)| a.path.as_ref().is_none_or(|p| s.paths.contains(p)))
        .filter(|(_, s)| tags.is_empty() || s.tags.iter().any(|t| tags.contains(t)))
        .collect();
    if a.output == Format::Json {
        let v: Vec<_> = snaps.iter().map(|(i, s)| snapshot_json(i, s)).collect();
        print_json(&serde_json::Value::Array(v))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|(i, s)| {
            vec![
                short(i),
                time(&s.time),
                s.host.clone(),
                s.tags.join(","),
                human_bytes(s.size()),
                human_bytes(s.added_bytes),
                s.paths.join(","),
            ]
        })
        .collect();
    let mut t = table(
        &["ID", "TIME (UTC)", "HOST", "TAGS", "SIZE", "ADDED", "PATHS"],
        &rows,
    );
    t.push_str(&format!("{} snapshot(s)\n", snaps.len()));
    print(&t)?;
    Ok(ExitCode::SUCCESS)
}

async fn ls(a: &RepoArgs, arg: &str) -> R<ExitCode> {
    let repo = open(a).await?;
    let (id, s) = pick(&repo, arg, a.path.as_deref()).await?;
    if source_type(&s) == "tree" {
        return ls_tree(a, &repo, &id, &s).await;
    }
    let mut source = serde_json::to_value(&s.source).unwrap_or_default();
    if let Some(o) = source.as_object_mut() {
        // The ids of the chunk lists are internal.
        o.remove("content");
    }
    if a.output == Format::Json {
        print_json(&json!({
            "snapshot": snapshot_json(&id, &s),
            "entries": s.paths.iter().map(|p| json!({"path": p, "source": source})).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "snapshot {} of {} at {} UTC\n",
        short(&id),
        s.host,
        time(&s.time)
    );
    let chunks = source.get("chunks").and_then(|c| c.as_u64());
    for p in &s.paths {
        out.push_str(&format!(
            "{:<8} {:>12}  {p}{}\n",
            source_type(&s),
            s.size(),
            chunks
                .map(|c| format!("  ({c} chunks)"))
                .unwrap_or_default()
        ));
    }
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn mode_string(e: &TreeEntry) -> String {
    let t = match e.kind {
        EntryKind::Dir => 'd',
        EntryKind::File { .. } | EntryKind::Hardlink { .. } => '-',
        EntryKind::Symlink { .. } => 'l',
        EntryKind::Fifo => 'p',
        EntryKind::CharDev { .. } => 'c',
        EntryKind::BlockDev { .. } => 'b',
    };
    let mut out = String::from(t);
    for shift in [6, 3, 0] {
        let b = (e.mode >> shift) & 7;
        out.push(if b & 4 != 0 { 'r' } else { '-' });
        out.push(if b & 2 != 0 { 'w' } else { '-' });
        out.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    out
}

async fn ls_tree(a: &RepoArgs, repo: &Repository, id: &Id, s: &Snapshot) -> R<ExitCode> {
    let entries = repo.tree_entries(id, s).await?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (kind, size, target) = match &e.kind {
                EntryKind::Dir => ("dir", 0, None),
                EntryKind::File { size, .. } => ("file", *size, None),
                EntryKind::Symlink { target } => ("symlink", 0, Some(target)),
                EntryKind::Hardlink { target } => ("hardlink", 0, Some(target)),
                EntryKind::Fifo => ("fifo", 0, None),
                EntryKind::CharDev { .. } => ("chardev", 0, None),
                EntryKind::BlockDev { .. } => ("blockdev", 0, None),
            };
            json!({
                "path": format!("/{}", String::from_utf8_lossy(&e.path)),
                "type": kind,
                "mode": format!("{:04o}", e.mode),
                "uid": e.uid,
                "gid": e.gid,
                "size": size,
                "mtime": chrono::DateTime::from_timestamp(e.mtime, e.mtime_nsec)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "target": target.map(|t| String::from_utf8_lossy(t).into_owned()),
            })
        })
        .collect();
    if a.output == Format::Json {
        print_json(&json!({"snapshot": snapshot_json(id, s), "entries": rows}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for (e, r) in entries.iter().zip(&rows) {
        let target = r["target"]
            .as_str()
            .map(|t| {
                if matches!(e.kind, EntryKind::Hardlink { .. }) {
                    format!(" => /{t}")
                } else {
                    format!(" -> {t}")
                }
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {:>5} {:>5} {:>12}  {}{target}\n",
            mode_string(e),
            e.uid,
            e.gid,
            r["size"].as_u64().unwrap_or_default(),
            r["path"].as_str().unwrap_or_default()
        ));
    }
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The file a restore writes, from `--target` and the snapshot.
fn restore_file(target: &str, id: &Id, s: &Snapshot) -> std::path::PathBuf {
    let t = std::path::Path::new(target);
    if t.is_dir() || target.ends_with('/') {
        let name = s
            .paths
            .first()
            .and_then(|p| std::path::Path::new(p).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != ".." && !n.is_empty())
            .unwrap_or_else(|| format!("snapshot-{}", short(id)));
        t.join(name)
    } else {
        t.to_path_buf()
    }
}

async fn restore(a: &RepoArgs, ui: Ui, arg: &str, target: &str) -> R<ExitCode> {
    let repo = open(a).await?;
    let (id, s) = pick(&repo, arg, a.path.as_deref()).await?;
    if source_type(&s) == "tree" {
        return restore_tree(&repo, ui, &id, &s, target).await;
    }
    let bar = ui.bytes(Some(s.size()), "restore");
    let opts = RestoreOptions::default();
    let (written, file) = if target == "-" {
        let out = BufWriter::with_capacity(1 << 20, std::io::stdout());
        let n = repo
            .restore_stream(&id, &s, bar.wrap_write(out), opts)
            .await;
        bar.finish_and_clear();
        (n?, None)
    } else {
        let file = restore_file(target, &id, &s);
        if file.exists() {
            return Err(RepoCmdError::Input {
                place: file.display().to_string(),
                message: "exists already".into(),
                help: Some("remove it, or restore to another --target".into()),
            });
        }
        // Written unnamed (O_TMPFILE) and linked in when complete, so a
        // killed restore leaves nothing; where that is unsupported, under
        // `.<name>.kapsel-partial-<pid>` (removed on failure, and by the
        // next restore of that file if the process was killed).
        let mut nf =
            kapsel_repo::newfile::NewFile::create(&file).map_err(|e| RepoCmdError::Io {
                what: "cannot create the restored file",
                path: file.display().to_string(),
                source: e,
            })?;
        let f = nf.file().try_clone().map_err(|e| RepoCmdError::Io {
            what: "cannot create the restored file",
            path: file.display().to_string(),
            source: e,
        })?;
        let n = repo
            .restore_stream(
                &id,
                &s,
                bar.wrap_write(BufWriter::with_capacity(1 << 20, f)),
                opts,
            )
            .await;
        bar.finish_and_clear();
        let n = n?;
        nf.commit().map_err(|e| RepoCmdError::Io {
            what: "cannot put the restored file at",
            path: file.display().to_string(),
            source: e,
        })?;
        (n, Some(file))
    };
    let summary = json!({
        "snapshot": id.to_hex(),
        "bytes": written,
        "target": file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "-".into()),
    });
    if ui.json {
        // With `-` stdout carries the data: the summary goes to stderr.
        if file.is_some() {
            print_json(&summary)?;
        } else {
            eprintln!("{summary}");
        }
    } else if let Some(f) = file {
        ui.note(&format!(
            "restored snapshot {} ({}) to {}",
            short(&id),
            human_bytes(written),
            f.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// A tree snapshot into a directory that is new or empty.
async fn restore_tree(
    repo: &Repository,
    ui: Ui,
    id: &Id,
    s: &Snapshot,
    target: &str,
) -> R<ExitCode> {
    let dir = std::path::Path::new(target);
    let not_empty = target == "-"
        || dir.is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if not_empty {
        return Err(RepoCmdError::Input {
            place: target.to_string(),
            message: "a directory-tree snapshot restores into a new or empty directory".into(),
            help: Some("give --target a directory that does not exist yet".into()),
        });
    }
    let bar = ui.spinner(&format!("restoring into {target}"));
    // One backed-up root (as `kapsel repo backup DIR` makes): it becomes
    // the target itself; several: each under target/<its absolute path>.
    let sub = match s.paths.as_slice() {
        [one] => Some(one.as_bytes()),
        _ => None,
    };
    let r = repo
        .restore_tree(id, s, dir, sub, RestoreOptions::default())
        .await;
    bar.finish_and_clear();
    let t = r?;
    for k in &t.skipped {
        ui.note(&format!("skipped: {k}"));
    }
    if ui.json {
        print_json(&json!({
            "snapshot": id.to_hex(),
            "target": target,
            "files": t.files,
            "entries": t.entries,
            "bytes": t.size,
            "skipped": t.skipped,
        }))?;
    } else {
        ui.note(&format!(
            "restored snapshot {} ({} entries, {}) into {target}",
            short(id),
            t.entries,
            human_bytes(t.size)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(
    a: &RepoArgs,
    ui: Ui,
    read_data: bool,
    subset: Option<kapsel_repo::check::Subset>,
) -> R<ExitCode> {
    let repo = open(a).await?;
    let bar = ui.spinner(if read_data {
        "checking structure, index and every blob"
    } else if subset.is_some() {
        "checking structure, index and a subset of the packs"
    } else {
        "checking structure and index"
    });
    let rep = repo
        .check(CheckOptions {
            read_data,
            read_data_subset: subset,
        })
        .await;
    let read_data = read_data || subset.is_some();
    bar.finish_and_clear();
    let rep = rep?;
    if ui.json {
        print_json(&json!({
            "ok": rep.is_ok(),
            "readData": read_data,
            "errors": rep.errors,
            "warnings": rep.warnings,
            "snapshots": rep.snapshots,
            "packs": rep.packs,
            "blobs": rep.blobs,
            "readBytes": rep.read_bytes,
            "readPacks": rep.read_packs,
            "keys": rep.keys,
            "affectedSnapshots": rep.affected_snapshots,
        }))?;
    } else {
        let mut out = String::new();
        for e in &rep.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        for s in &rep.affected_snapshots {
            out.push_str(&format!(
                "affected: snapshot {}{}: {}\n",
                s.id,
                if s.paths.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", s.paths.join(", "))
                },
                s.problems.join("; ")
            ));
        }
        for w in &rep.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&format!(
            "{}: {} snapshot(s), {} pack(s), {} blob(s){}; {} error(s), {} warning(s)\n",
            if rep.is_ok() { "ok" } else { "FAILED" },
            rep.snapshots,
            rep.packs,
            rep.blobs,
            if read_data {
                format!(
                    ", {} in {} pack(s) read and verified",
                    human_bytes(rep.read_bytes),
                    rep.read_packs
                )
            } else {
                String::new()
            },
            rep.errors.len(),
            rep.warnings.len()
        ));
        if !ui.quiet || !rep.is_ok() {
            print(&out)?;
        }
    }
    Ok(if rep.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn forget(a: &RepoArgs, ui: Ui, f: &ForgetArgs) -> R<ExitCode> {
    let policy = KeepPolicy {
        last: f.keep_last,
        hourly: f.keep_hourly,
        daily: f.keep_daily,
        weekly: f.keep_weekly,
        monthly: f.keep_monthly,
        yearly: f.keep_yearly,
        within: f.keep_within,
        tags: f.keep_tags.clone(),
        allow_empty: f.allow_empty,
    };
    if policy.is_empty() && !policy.allow_empty {
        return Err(RepoCmdError::Usage {
            message: "no retention rule keeps anything (none given, or all 0): forget would remove every snapshot".into(),
            help: "give at least one non-zero --keep-* option, e.g. --keep-last 7 --keep-daily 14; --allow-empty removes every snapshot on purpose".into(),
        });
    }
    let repo = open(a).await?;
    let all = repo.snapshots().await?;
    let decisions = repo.forget(&policy, a.path.as_deref(), f.dry_run).await?;
    let removed = decisions.iter().filter(|d| !d.keep).count();
    if ui.json {
        print_json(&json!({
            "dryRun": f.dry_run,
            "removed": removed,
            "decisions": decisions,
        }))?;
    } else if !ui.quiet {
        let rows: Vec<Vec<String>> = decisions
            .iter()
            .map(|d| {
                let s = all.iter().find(|(i, _)| i.to_hex() == d.id).map(|(_, s)| s);
                vec![
                    d.id[..8.min(d.id.len())].to_string(),
                    s.map(|s| time(&s.time)).unwrap_or_default(),
                    if d.keep { "keep" } else { "remove" }.to_string(),
                    d.reasons.join(","),
                    s.map(|s| s.paths.join(",")).unwrap_or_default(),
                ]
            })
            .collect();
        let mut t = table(&["ID", "TIME (UTC)", "DECISION", "KEPT BY", "PATHS"], &rows);
        t.push_str(&if f.dry_run {
            format!("dry run: {removed} snapshot(s) would be removed\n")
        } else {
            format!("removed {removed} snapshot(s)\n")
        });
        print(&t)?;
    }
    if f.prune && !f.dry_run {
        return prune(&repo, a, ui, PruneOptions::default().keep_delete, false).await;
    }
    Ok(ExitCode::SUCCESS)
}

async fn prune(
    repo: &Repository,
    a: &RepoArgs,
    ui: Ui,
    keep_delete: chrono::Duration,
    dry_run: bool,
) -> R<ExitCode> {
    let bar = ui.spinner("pruning");
    let r = repo
        .prune(PruneOptions {
            keep_delete,
            dry_run,
            ..Default::default()
        })
        .await;
    bar.finish_and_clear();
    let r = r?;
    // Staging files of uploads killed midway (`<object>#<n>`), which the
    // store never lists: filesystem repositories only.
    let staging = match a.target.place(false)?.fs_dir {
        Some(dir) => Some(
            kapsel_storage::staging::remove_stale_staging_files(
                &dir,
                kapsel_storage::staging::STALE_STAGING_AGE,
                dry_run,
            )
            .map_err(|e| RepoCmdError::Io {
                what: "cannot clean up",
                path: e.path.clone(),
                source: e.source,
            })?,
        ),
        None => None,
    };
    if ui.json {
        print_json(&json!({
            "dryRun": dry_run,
            "staleUploadFiles": staging.map(|s| s.files),
            "staleUploadBytes": staging.map(|s| s.bytes),
            "marked": r.marked,
            "deleted": r.deleted,
            "recovered": r.recovered,
            "repacked": r.repacked,
            "orphansDeleted": r.orphans_deleted,
            "orphansMarked": r.orphans_marked,
            "heldForRunningBackups": r.held,
            "deferred": r.deferred,
            "staleLocksRemoved": r.stale_locks_removed,
            "bytesFreed": r.bytes_freed,
            "usedBlobs": r.used_blobs,
        }))?;
    } else if !ui.quiet {
        print(&format!(
            "{}marked {} pack(s) unused ({} left by failed backups), deleted {} ({} left by failed backups), repacked {}, recovered {}; {} freed; {} blob(s) in use\n",
            if dry_run { "dry run: " } else { "" },
            r.marked + r.orphans_marked,
            r.orphans_marked,
            r.deleted + r.orphans_deleted,
            r.orphans_deleted,
            r.repacked,
            r.recovered,
            human_bytes(r.bytes_freed),
            r.used_blobs
        ))?;
        if r.held + r.deferred > 0 {
            print(&format!(
                "kept {} pack(s) a running backup may still need; the next prune after it ends deletes them\n",
                r.held + r.deferred
            ))?;
        }
        if r.stale_locks_removed > 0 {
            print(&format!(
                "removed {} lock(s) of backups or prunes that died\n",
                r.stale_locks_removed
            ))?;
        }
        if let Some(st) = staging {
            print(&format!(
                "{} {} stale upload file(s) ({}) of uploads interrupted over an hour ago\n",
                if dry_run { "would remove" } else { "removed" },
                st.files,
                human_bytes(st.bytes)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn repair(a: &RepoArgs, ui: Ui, r: &RepairCmd) -> R<ExitCode> {
    use kapsel_repo::repair::{RepairIndexOptions, RepairSnapshotsOptions};
    let repo = open(a).await?;
    match r {
        RepairCmd::Index { dry_run } => {
            let bar = ui.spinner("reading every pack's header");
            let rep = repo
                .repair_index(RepairIndexOptions { dry_run: *dry_run })
                .await;
            bar.finish_and_clear();
            let rep = rep?;
            let pairs = |v: &[(String, String)]| {
                v.iter()
                    .map(|(o, e)| json!({"object": o, "error": e}))
                    .collect::<Vec<_>>()
            };
            if ui.json {
                print_json(&json!({
                    "dryRun": rep.dry_run,
                    "packs": rep.packs,
                    "blobs": rep.blobs,
                    "marked": rep.marked,
                    "unreadablePacks": pairs(&rep.unreadable_packs),
                    "damagedIndexFiles": pairs(&rep.damaged_index_files),
                    "replacedIndexFiles": rep.replaced_index_files,
                    "newIndexFile": rep.new_index_file,
                }))?;
            } else {
                let mut out = String::new();
                for (o, e) in &rep.damaged_index_files {
                    out.push_str(&format!("damaged index file {o}: {e}\n"));
                }
                for (o, e) in &rep.unreadable_packs {
                    out.push_str(&format!("unreadable pack {o} (not indexed): {e}\n"));
                }
                out.push_str(&format!(
                    "{}{} {} pack(s) ({} blob(s)) live and {} marked, replacing {} index file(s){}\n",
                    if rep.dry_run { "dry run: " } else { "" },
                    if rep.dry_run { "would index" } else { "indexed" },
                    rep.packs,
                    rep.blobs,
                    rep.marked,
                    rep.replaced_index_files.len(),
                    match &rep.new_index_file {
                        Some(f) => format!(" with {f}"),
                        None => String::new(),
                    }
                ));
                if !rep.unreadable_packs.is_empty() {
                    out.push_str(&format!(
                        "{} pack(s) unreadable: `kapsel repo repair snapshots` lists the snapshots that needed them\n",
                        rep.unreadable_packs.len()
                    ));
                }
                print(&out)?;
            }
        }
        RepairCmd::Snapshots {
            dry_run,
            forget_partial,
        } => {
            let bar = ui.spinner("reading every snapshot");
            let rep = repo
                .repair_snapshots(RepairSnapshotsOptions {
                    dry_run: *dry_run,
                    forget_partial: *forget_partial,
                })
                .await;
            bar.finish_and_clear();
            let rep = rep?;
            if ui.json {
                print_json(&json!({
                    "dryRun": rep.dry_run,
                    "snapshots": rep.snapshots,
                    "damaged": rep.damaged.iter().map(|(o, e)| json!({"object": o, "error": e})).collect::<Vec<_>>(),
                    "movedTo": rep.moved_to,
                    "partial": rep.partial,
                    "forgotten": rep.forgotten,
                }))?;
            } else {
                let mut out = String::new();
                for (o, e) in &rep.damaged {
                    out.push_str(&format!(
                        "damaged manifest {o}: {e}; {}\n",
                        if rep.dry_run {
                            "would move it to snapshots-damaged/"
                        } else {
                            "moved to snapshots-damaged/"
                        }
                    ));
                }
                for p in &rep.partial {
                    out.push_str(&format!(
                        "partial snapshot {} ({}): {}{}\n",
                        p.id,
                        p.paths.join(", "),
                        p.problems.join("; "),
                        if rep.forgotten.contains(&p.id) {
                            if rep.dry_run {
                                "; would forget it"
                            } else {
                                "; forgotten"
                            }
                        } else {
                            ""
                        }
                    ));
                }
                out.push_str(&format!(
                    "{}{} readable snapshot(s), {} damaged manifest(s), {} partial snapshot(s){}\n",
                    if rep.dry_run { "dry run: " } else { "" },
                    rep.snapshots,
                    rep.damaged.len(),
                    rep.partial.len(),
                    if rep.partial.is_empty() || *forget_partial {
                        ""
                    } else {
                        " (kept: --forget-partial forgets them)"
                    }
                ));
                print(&out)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn stats(a: &RepoArgs) -> R<ExitCode> {
    let repo = open(a).await?;
    let snaps = repo.snapshots().await?;
    let index = repo.load_index().await?;
    let logical: u64 = snaps.iter().map(|(_, s)| s.size()).sum();
    let (mut raw, mut stored) = (0u64, 0u64);
    for loc in index.blobs.values() {
        raw += u64::from(loc.entry.raw_length);
        stored += u64::from(loc.entry.length);
    }
    let space = repo.space(kapsel_repo::LockTiming::default()).await?;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let v = json!({
        "liveBytes": space.live_bytes,
        "markedPacks": space.marked_packs,
        "markedBytes": space.marked_bytes,
        "unindexedPacks": space.unindexed_packs,
        "unindexedBytes": space.unindexed_bytes,
        "runningBackups": space.running_backups,
        "staleLocks": space.stale_locks,
        "snapshots": snaps.len(),
        "logicalBytes": logical,
        "uniqueBytes": raw,
        "storedBytes": stored,
        "blobs": index.blobs.len(),
        "packs": index.packs.len(),
        "packsMarkedForDeletion": index.marked.len(),
        "indexFiles": index.files.len(),
        "dedupRatio": ratio(logical, raw),
        "compressionRatio": ratio(raw, stored),
    });
    if a.output == Format::Json {
        print_json(&v)?;
    } else {
        print(&format!(
            "snapshots:        {}\nlogical size:     {} ({logical} B)\nunique data:      {} ({raw} B)\nstored (sealed):  {} ({stored} B)\nblobs:            {}\npacks:            {} ({} marked for deletion)\nindex files:      {}\ndedup ratio:      {:.2}x\ncompression:      {:.2}x\n",
            snaps.len(),
            human_bytes(logical),
            human_bytes(raw),
            human_bytes(stored),
            index.blobs.len(),
            index.packs.len(),
            index.marked.len(),
            index.files.len(),
            ratio(logical, raw),
            ratio(raw, stored),
        ))?;
        print(&format!(
            "pack bytes:       {} live, {} in {} pack(s) marked for deletion, {} in {} pack(s) no index lists (failed, killed or running backups)\nlocks:            {} running backup(s), {} stale\n",
            human_bytes(space.live_bytes),
            human_bytes(space.marked_bytes),
            space.marked_packs,
            human_bytes(space.unindexed_bytes),
            space.unindexed_packs,
            space.running_backups,
            space.stale_locks,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn key(a: &RepoArgs, k: &KeyCmd) -> R<ExitCode> {
    let mut repo = open(a).await?;
    let json = a.output == Format::Json;
    match k {
        KeyCmd::List => {
            let keys = repo.key_list().await?;
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id,
                            "current": k.current,
                            "created": k.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            "host": k.host,
                        })
                    })
                    .collect();
                print_json(&serde_json::Value::Array(v))?;
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            if k.current { "*" } else { "" }.to_string(),
                            k.id[..16.min(k.id.len())].to_string(),
                            time(&k.created),
                            k.host.clone(),
                        ]
                    })
                    .collect();
                print(&table(&["", "ID", "CREATED (UTC)", "HOST"], &rows))?;
            }
        }
        KeyCmd::Add => {
            let pw = target::new_password()?;
            let id = repo.key_add(&pw, KdfParams::default()).await?;
            if json {
                print_json(&json!({"added": id}))?;
            } else {
                print(&format!("added key {id}\n"))?;
            }
        }
        KeyCmd::Remove { id } => {
            let keys = repo.key_list().await?;
            let matches: Vec<_> = keys.iter().filter(|k| k.id.starts_with(id)).collect();
            let full = match matches.as_slice() {
                [one] => one.id.clone(),
                [] => return Err(RepoError::Key(format!("no key {id}")).into()),
                _ => {
                    return Err(RepoCmdError::Input {
                        place: id.clone(),
                        message: "matches several keys".into(),
                        help: Some("give more digits of the key id".into()),
                    });
                }
            };
            repo.key_remove(&full).await?;
            if json {
                print_json(&json!({"removed": full}))?;
            } else {
                print(&format!("removed key {full}\n"))?;
            }
        }
        KeyCmd::Passwd => {
            let pw = target::new_password()?;
            let id = repo.key_passwd(&pw, KdfParams::default()).await?;
            if json {
                print_json(&json!({"key": id}))?;
            } else {
                print(&format!(
                    "password changed: new key {id}; the old password no longer opens the repository\n"
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses `--password` before clap sees it, with the reason.
pub fn refuse_password_flag(args: &[String]) -> Option<ExitCode> {
    let is_repo = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
        == Some("repo");
    if is_repo
        && args
            .iter()
            .any(|a| a == "--password" || a.starts_with("--password="))
    {
        let e = RepoCmdError::Usage {
            message: "--password is refused: a password on the command line is visible to every user of this host (ps, /proc)".into(),
            help: "set KAPSEL_REPO_PASSWORD or KAPSEL_REPO_PASSWORD_FILE, or run on a terminal to be asked".into(),
        };
        eprintln!("{:?}", miette::Report::new(e));
        return Some(ExitCode::from(2));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d").unwrap(), chrono::Duration::days(7));
        assert_eq!(parse_age("1d12h").unwrap(), chrono::Duration::hours(36));
        assert_eq!(parse_age("0s").unwrap(), chrono::Duration::zero());
        assert!(parse_age("7").is_err());
        assert!(parse_age("7x").is_err());
        assert!(parse_age("").is_err());
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
