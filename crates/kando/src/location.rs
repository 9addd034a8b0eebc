//! `kando location push|pull|delete` over a Kapsel repository.
//!
//! The repository lives at `<Location.prefix>/kapsel` in the Profile's bucket
//! (see `kapsel-storage`) and is created on the first push. Each push becomes
//! a snapshot whose path is `--path`; pull restores the newest snapshot of the
//! path (or the one named by `--kopia-snapshot`); delete forgets the path's
//! snapshots and prunes.
//!
//! Repository password, first match wins (never taken from argv):
//! 1. `KAPSEL_REPO_PASSWORD`;
//! 2. the file named by `KAPSEL_REPO_PASSWORD_FILE` (trailing newline dropped);
//! 3. derived from the Profile's credential secret with keyed BLAKE3, so that
//!    unchanged Blueprints work; this protects the data against anyone who
//!    can read the bucket without holding that credential;
//! 4. otherwise kando refuses to run.

use std::io::{BufWriter, Read};

use clap::{Args, Subcommand};
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::restore::RestoreOptions;
use kapsel_repo::{BackupOptions, ChunkerParams, InitOptions, RepoError, Repository};
use kapsel_storage::{Profile, StorageError, backend_from_profile};

use kapsel_storage::password::ENV_PASSWORD_FILE;
/// Seconds a pruned pack stays marked before deletion (default 3600).
pub const ENV_KEEP_DELETE: &str = "KAPSEL_PRUNE_KEEP_DELETE_SECONDS";

#[derive(Debug, Args)]
pub struct Common {
    /// The Profile as `{{ toJson .Profile }}` renders it.
    #[arg(
        short = 'p',
        long = "profile",
        conflicts_with = "secrets_stdin",
        required_unless_present = "secrets_stdin"
    )]
    profile: Option<String>,
    /// Read `{"profile": ..., "password": "..."}` (password optional) from
    /// stdin instead, so that no credential is in argv (not with `push -`).
    #[arg(long = "secrets-stdin")]
    secrets_stdin: bool,
    /// The logical path of the data (the snapshot's path).
    #[arg(short = 's', long = "path")]
    path: String,
}

#[derive(Debug, Subcommand)]
pub enum LocationCommand {
    /// Store a stream (a file, or `-` for stdin) as a snapshot of --path.
    Push {
        #[command(flatten)]
        common: Common,
        /// Output key for the snapshot descriptor.
        #[arg(short = 'o', long = "output-name", default_value = "kandoOutput")]
        output_name: String,
        /// Source file or `-`.
        source: String,
    },
    /// Restore the newest snapshot of --path (or --kopia-snapshot) to a file or `-`.
    Pull {
        #[command(flatten)]
        common: Common,
        /// Snapshot descriptor printed by push (`{"id":...}`) or a snapshot id.
        #[arg(short = 'k', long = "kopia-snapshot")]
        kopia_snapshot: Option<String>,
        /// Destination file or `-`.
        target: String,
    },
    /// Forget the snapshots of --path (or just --kopia-snapshot) and prune.
    Delete {
        #[command(flatten)]
        common: Common,
        /// Snapshot descriptor or id.
        #[arg(short = 'k', long = "kopia-snapshot")]
        kopia_snapshot: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LocationError {
    #[error("invalid --profile: {0}")]
    #[diagnostic(code(kando::profile))]
    Profile(#[from] StorageError),
    #[error("no repository password")]
    #[diagnostic(
        code(kando::no_password),
        help(
            "set KAPSEL_REPO_PASSWORD or KAPSEL_REPO_PASSWORD_FILE, or use a Profile with credentials (the default password is derived from them)"
        )
    )]
    NoPassword,
    #[error("cannot read {ENV_PASSWORD_FILE} {path}: {source}")]
    #[diagnostic(code(kando::password_file))]
    PasswordFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(code(kando::repository))]
    Repo(#[from] RepoError),
    #[error("no snapshot for path {0:?}")]
    #[diagnostic(
        code(kando::no_snapshot),
        help("was anything pushed to this --path with this --profile?")
    )]
    NoSnapshot(String),
    #[error("invalid --kopia-snapshot {0:?}: expected the JSON push printed or a snapshot id")]
    #[diagnostic(code(kando::snapshot_arg))]
    SnapshotArg(String),
    #[error("snapshot {id} is of path {actual:?}, not {wanted:?}")]
    #[diagnostic(code(kando::snapshot_path))]
    WrongPath {
        id: String,
        actual: String,
        wanted: String,
    },
    #[error("{what} {path}: {source}")]
    #[diagnostic(code(kando::io))]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid --secrets-stdin input: {0}")]
    #[diagnostic(
        code(kando::secrets_stdin),
        help(r#"write one JSON object to stdin: {{"profile": <the Profile>, "password": "<optional>"}}"#)
    )]
    SecretsStdin(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{ENV_COMPRESSION_LEVEL}={0:?} is not a zstd level")]
    #[diagnostic(
        code(kando::compression_level),
        help("give a whole number from -7 to 22 (1 when unset), or unset it")
    )]
    CompressionLevel(String),
    #[error("{ENV_READ_AHEAD}={0:?} is not a size from 1MiB to 1024MiB")]
    #[diagnostic(
        code(kando::read_ahead),
        help(
            "e.g. KAPSEL_READ_AHEAD=64MiB (32MiB when unset): a pull's or restore's memory for data fetched ahead"
        )
    )]
    ReadAhead(String),
    #[error("{ENV_CHUNK_SIZE}: {0}")]
    #[diagnostic(
        code(kando::chunk_size),
        help("e.g. KAPSEL_CHUNK_SIZE=2MiB for database dumps (256KiB when unset), or unset it")
    )]
    ChunkSize(String),
}

/// The zstd level of a repository kando creates (it keeps it in its config;
/// existing repositories keep theirs).
pub(crate) const ENV_COMPRESSION_LEVEL: &str = "KAPSEL_COMPRESSION_LEVEL";

/// The average chunk size of a repository kando creates (kept in its config).
pub(crate) const ENV_CHUNK_SIZE: &str = "KAPSEL_CHUNK_SIZE";

/// Bytes of packs a pull or restore fetches ahead of what it has written
/// (`RestoreOptions::read_ahead`): its memory bound, and on a store far
/// away its speed.
pub(crate) const ENV_READ_AHEAD: &str = "KAPSEL_READ_AHEAD";

/// Options for a pull or restore: the read-ahead from [`ENV_READ_AHEAD`].
pub(crate) fn restore_options(
    progress: kapsel_repo::Progress,
) -> Result<RestoreOptions, LocationError> {
    let mut o = RestoreOptions {
        progress: Some(progress),
        ..Default::default()
    };
    if let Ok(v) = std::env::var(ENV_READ_AHEAD) {
        o.read_ahead = kapsel_repo::parse_size(&v)
            .filter(|n| (1 << 20..=1 << 30).contains(n))
            .ok_or(LocationError::ReadAhead(v))?;
    }
    Ok(o)
}

/// Options for a repository kando creates on first use.
pub(crate) fn init_options() -> Result<InitOptions, LocationError> {
    let mut o = InitOptions::default();
    if let Ok(v) = std::env::var(ENV_COMPRESSION_LEVEL) {
        o.zstd_level = v
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|l| (-7..=22).contains(l))
            .ok_or(LocationError::CompressionLevel(v))?;
    }
    if let Ok(v) = std::env::var(ENV_CHUNK_SIZE) {
        o.chunker = ChunkerParams::with_average(&v).map_err(LocationError::ChunkSize)?;
    }
    Ok(o)
}

/// Reads `{"profile": ..., "password": "..."}` from stdin (`--secrets-stdin`).
pub(crate) fn secrets_from_stdin() -> Result<(Profile, Option<Vec<u8>>), LocationError> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| LocationError::SecretsStdin(format!("cannot read stdin: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(s.trim())
        .map_err(|e| LocationError::SecretsStdin(format!("not JSON ({e})")))?;
    let profile = v
        .get("profile")
        .filter(|p| p.is_object())
        .ok_or_else(|| LocationError::SecretsStdin("no \"profile\" object".into()))?;
    let profile = Profile::from_json(&profile.to_string())?;
    let pw = match v.get("password") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(p)) if p.is_empty() => None,
        Some(serde_json::Value::String(p)) => Some(p.clone().into_bytes()),
        Some(_) => {
            return Err(LocationError::SecretsStdin(
                "\"password\" must be a string".into(),
            ));
        }
    };
    Ok((profile, pw))
}

/// The password, by the rules in the module docs (shared with `kapsel repo`:
/// `kapsel_storage::password`).
pub fn password(profile: &Profile) -> Result<Vec<u8>, LocationError> {
    kapsel_storage::password::profile_password(profile)
        .map_err(|e| LocationError::PasswordFile {
            path: e.path,
            source: e.source,
        })?
        .ok_or(LocationError::NoPassword)
}

/// Parse `--kopia-snapshot`: push's JSON descriptor or a bare id.
fn snapshot_arg(s: &str) -> Result<String, LocationError> {
    let t = s.trim();
    if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|_| LocationError::SnapshotArg(s.into()))?;
        return v
            .get("id")
            .and_then(|i| i.as_str())
            .map(str::to_string)
            .ok_or_else(|| LocationError::SnapshotArg(s.into()));
    }
    if t.len() >= 8 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(t.to_string());
    }
    Err(LocationError::SnapshotArg(s.into()))
}

/// A transfer's byte counts, reported on stderr every [`PROGRESS_EVERY`]
/// as `kando: progress <N> bytes <sent|received>` followed by ` of <M>` when
/// the total is known, and at its end as `kando: <sent|received> <N>
/// bytes`. A stable line format: `kapsel run`'s live view and the
/// controller's ActionSet status read it (kapsel_engine::progress).
pub(crate) struct Progress {
    counts: kapsel_repo::Progress,
    direction: &'static str,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Interval of kando's progress lines.
pub(crate) const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Which way the bytes go, as the progress line says it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    /// To the repository.
    Sent,
    /// From the repository.
    Received,
}

fn progress_line(c: &kapsel_repo::Progress, direction: &str) -> String {
    match c.total() {
        Some(t) => format!("kando: progress {} bytes {direction} of {t}", c.done()),
        None => format!("kando: progress {} bytes {direction}", c.done()),
    }
}

impl Progress {
    pub(crate) fn start(direction: Direction) -> Progress {
        let counts = kapsel_repo::Progress::new();
        let direction = match direction {
            Direction::Sent => "sent",
            Direction::Received => "received",
        };
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let c = counts.clone();
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(PROGRESS_EVERY)
            {
                eprintln!("{}", progress_line(&c, direction));
            }
        });
        Progress {
            counts,
            direction,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// The counts to add to (and to set the total of).
    pub(crate) fn counts(&self) -> kapsel_repo::Progress {
        self.counts.clone()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Dropping the sender ends the reporting thread; the last line
        // gives the final count.
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        eprintln!("kando: {} {} bytes", self.direction, self.counts.done());
    }
}

/// Standard output as a plain file for a binary stream: no line buffering
/// (std's `Stdout` scans every write for newlines), and, when it is a pipe,
/// a 1 MiB pipe buffer instead of 64 KiB, so both ends of the pipe wake up
/// 16 times less often. A size the system refuses leaves the pipe as it is.
pub(crate) fn raw_stdout() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
    let _ = rustix::pipe::fcntl_setpipe_size(&fd, 1 << 20);
    Ok(std::fs::File::from(fd))
}

pub(crate) fn keep_delete() -> chrono::Duration {
    let secs = std::env::var(ENV_KEEP_DELETE)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(3600);
    chrono::Duration::seconds(secs.max(0))
}

async fn open(common: &Common, create: bool) -> Result<Repository, LocationError> {
    Ok(open_with_profile(common, create).await?.0)
}

/// Remove the staging files of uploads killed midway (`<object>#<n>`, not
/// written to for an hour) from a filesystem repository, after a prune,
/// and say so on stderr. Other location types have none.
pub(crate) fn sweep_staging(profile: &Profile, repo: &Repository) {
    let Some(dir) = kapsel_storage::filesystem_repository_dir(profile, repo.store().1) else {
        return;
    };
    match kapsel_storage::staging::remove_stale_staging_files(
        &dir,
        kapsel_storage::staging::STALE_STAGING_AGE,
        false,
    ) {
        Ok(s) => eprintln!(
            "kando: removed {} stale upload file(s) ({} bytes) of uploads interrupted over an hour ago",
            s.files, s.bytes
        ),
        // The prune itself succeeded: a leftover file is not worth failing it.
        Err(e) => eprintln!("kando: warning: {e}"),
    }
}

async fn open_with_profile(
    common: &Common,
    create: bool,
) -> Result<(Repository, Profile), LocationError> {
    let (profile, pw) = match &common.profile {
        Some(p) => (Profile::from_json(p)?, None),
        None => secrets_from_stdin()?,
    };
    open_with(profile, pw, create).await
}

async fn open_with(
    profile: Profile,
    pw: Option<Vec<u8>>,
    create: bool,
) -> Result<(Repository, Profile), LocationError> {
    let backend = backend_from_profile(&profile)?;
    let pw = match pw {
        Some(pw) => pw,
        None => password(&profile)?,
    };
    let repo = if create {
        Repository::open_or_init(backend.store, backend.root, &pw, init_options()?).await?
    } else {
        Repository::open(backend.store, backend.root, &pw).await?
    };
    print_warnings(&repo);
    Ok((repo, profile))
}

/// Print the repository's warnings (damaged objects it skipped, each named
/// with the `kapsel repo repair` command that fixes it) on stderr, now and
/// as they happen.
pub(crate) fn print_warnings(repo: &Repository) {
    repo.set_warning_sink(std::sync::Arc::new(|w: &str| {
        eprintln!("kando: warning: {w}")
    }));
    for w in repo.warnings() {
        eprintln!("kando: warning: {w}");
    }
}

pub fn run(cmd: LocationCommand) -> Result<(), LocationError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LocationError::Runtime)?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: LocationCommand) -> Result<(), LocationError> {
    match cmd {
        LocationCommand::Push {
            common,
            output_name,
            source,
        } => {
            if source == "-" && common.secrets_stdin {
                return Err(LocationError::SecretsStdin(
                    "stdin carries the data of `push -`: give --profile, or push a file".into(),
                ));
            }
            let progress = Progress::start(Direction::Sent);
            let reader: Box<dyn Read + Send> = if source == "-" {
                Box::new(std::io::stdin())
            } else {
                let f = std::fs::File::open(&source).map_err(|e| LocationError::Io {
                    what: "cannot open",
                    path: source.clone(),
                    source: e,
                })?;
                if let Ok(m) = f.metadata()
                    && m.is_file()
                {
                    progress.counts().set_total(m.len());
                }
                Box::new(f)
            };
            let repo = open(&common, true).await?;
            let s = repo
                .backup_stream(
                    reader,
                    BackupOptions {
                        paths: vec![common.path.clone()],
                        tags: vec!["kando".into()],
                        progress: Some(progress.counts()),
                        ..Default::default()
                    },
                )
                .await?;
            eprintln!(
                "kando: pushed {} bytes to {} as snapshot {} ({} new of {} chunks, {} bytes added)",
                s.size, common.path, s.snapshot, s.new_chunks, s.chunks, s.added_bytes
            );
            let value = serde_json::json!({
                "id": s.snapshot,
                "logicalSize": s.size,
                "physicalSize": s.added_bytes,
            })
            .to_string();
            crate::emit_output(&output_name, &value).map_err(|e| LocationError::Io {
                what: "cannot write to",
                path: "stdout".into(),
                source: e,
            })?;
            Ok(())
        }
        LocationCommand::Pull {
            common,
            kopia_snapshot,
            target,
        } => {
            let wanted = kopia_snapshot.as_deref().map(snapshot_arg).transpose()?;
            let repo = open(&common, false).await?;
            let (id, snap) = match wanted {
                Some(id) => {
                    let (i, s) = repo.find_snapshot(&id).await?;
                    if !s.paths.iter().any(|p| p == &common.path) {
                        return Err(LocationError::WrongPath {
                            id: i.to_hex(),
                            actual: s.paths.join(","),
                            wanted: common.path,
                        });
                    }
                    (i, s)
                }
                None => repo
                    .snapshots()
                    .await?
                    .into_iter()
                    .rev()
                    .find(|(_, s)| s.paths.iter().any(|p| p == &common.path))
                    .ok_or_else(|| LocationError::NoSnapshot(common.path.clone()))?,
            };
            let progress = Progress::start(Direction::Received);
            let opts = restore_options(progress.counts())?;
            if target == "-" {
                let stdout = raw_stdout().map_err(|e| LocationError::Io {
                    what: "cannot write to",
                    path: "stdout".into(),
                    source: e,
                })?;
                let out = BufWriter::with_capacity(1 << 20, stdout);
                repo.restore_stream(&id, &snap, out, opts).await?;
            } else {
                let io = |what: &'static str| {
                    let path = target.clone();
                    move |source| LocationError::Io { what, path, source }
                };
                let special = std::fs::metadata(&target).is_ok_and(|m| !m.is_file());
                if special {
                    // A device or a pipe (e.g. /dev/stdout): written as it is.
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&target)
                        .map_err(io("cannot open"))?;
                    repo.restore_stream(&id, &snap, BufWriter::with_capacity(1 << 20, f), opts)
                        .await?;
                } else {
                    // A file appears (or replaces the old one) only when
                    // complete: a failed or killed pull leaves no partial
                    // file under the name (kapsel_repo::newfile).
                    let mut nf =
                        kapsel_repo::newfile::NewFile::create(std::path::Path::new(&target))
                            .map_err(io("cannot create"))?;
                    let f = nf.file().try_clone().map_err(io("cannot create"))?;
                    repo.restore_stream(&id, &snap, BufWriter::with_capacity(1 << 20, f), opts)
                        .await?;
                    nf.commit_replacing()
                        .map_err(io("cannot put the pulled file at"))?;
                }
            }
            let n = progress.counts().done();
            drop(progress);
            eprintln!(
                "kando: pulled {n} bytes of {} (snapshot {})",
                common.path,
                id.to_hex()
            );
            Ok(())
        }
        LocationCommand::Delete {
            common,
            kopia_snapshot,
        } => {
            let wanted = kopia_snapshot.as_deref().map(snapshot_arg).transpose()?;
            let (profile, pw) = match &common.profile {
                Some(p) => (Profile::from_json(p)?, None),
                None => secrets_from_stdin()?,
            };
            // Kanister's LocationDelete removes everything under the
            // artifact's prefix: a `kando data` repository there (what
            // BackupData wrote) is deleted whole.
            if wanted.is_none()
                && let Some(n) = delete_data_repository(&profile, &common.path).await?
            {
                eprintln!(
                    "kando: deleted the data repository at {} ({n} objects)",
                    common.path
                );
                return Ok(());
            }
            let (repo, profile) = match open_with(profile, pw, false).await {
                Ok(r) => r,
                Err(LocationError::Repo(RepoError::NotFound { location })) => {
                    eprintln!("kando: no repository at {location}: nothing to delete");
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let ids: Vec<kapsel_repo::Id> = match wanted {
                Some(id) => match repo.find_snapshot(&id).await {
                    Ok((i, _)) => vec![i],
                    Err(RepoError::SnapshotNotFound(_)) => vec![],
                    Err(e) => return Err(e.into()),
                },
                None => repo
                    .snapshots()
                    .await?
                    .into_iter()
                    .filter(|(_, s)| s.paths.iter().any(|p| p == &common.path))
                    .map(|(i, _)| i)
                    .collect(),
            };
            repo.delete_snapshots(&ids).await?;
            let r = repo
                .prune(PruneOptions {
                    keep_delete: keep_delete(),
                    ..Default::default()
                })
                .await?;
            eprintln!(
                "kando: forgot {} snapshot(s) of {}; prune marked {} pack(s), deleted {} ({} bytes freed)",
                ids.len(),
                common.path,
                r.marked,
                r.deleted + r.orphans_deleted,
                r.bytes_freed
            );
            sweep_staging(&profile, &repo);
            Ok(())
        }
    }
}

/// Deletes the `kando data` repository rooted at `path` (every object under
/// it), if there is one there; `None` when `path` holds no repository.
async fn delete_data_repository(
    profile: &Profile,
    path: &str,
) -> Result<Option<usize>, LocationError> {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let Ok(root) = crate::data::repo_root(profile, path) else {
        return Ok(None);
    };
    let backend = backend_from_profile(profile)?;
    let store = backend.store;
    let config = root.clone().join("config");
    if store.head(&config).await.is_err() {
        return Ok(None);
    }
    let objects: Vec<_> = store
        .list(Some(&root))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| store_error(path, e))?;
    // The config last: a delete cut short leaves a repository that is
    // still recognised, and the next delete finishes it.
    let n = objects.len();
    for o in objects
        .iter()
        .filter(|o| **o != config)
        .chain(std::iter::once(&config))
    {
        match store.delete(o).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_error(path, e)),
        }
    }
    Ok(Some(n))
}

fn store_error(path: &str, e: object_store::Error) -> LocationError {
    LocationError::Io {
        what: "cannot delete the data repository at",
        path: path.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn snapshot_args() {
        assert_eq!(
            snapshot_arg(r#"{"id":"abcdef0123","logicalSize":1}"#).unwrap(),
            "abcdef0123"
        );
        assert_eq!(snapshot_arg("abcdef0123").unwrap(), "abcdef0123");
        assert!(snapshot_arg("{}").is_err());
        assert!(snapshot_arg("latest").is_err());
    }
}
