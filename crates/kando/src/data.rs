//! `kando data backup|restore|delete|stats|check`: directory-tree backups
//! in a Kapsel repository, the way Kanister's BackupData, RestoreData,
//! DeleteData, BackupDataStats and CheckRepository use restic in a pod.
//! The contract (arguments, the one JSON line on stdout) is
//! docs/kando.md; the repository is at `<Location.prefix>/<--path>`
//! of the Profile's location; the password rules are `kando location`'s,
//! or the `password` of `--secrets-stdin`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use kapsel_repo::check::CheckOptions;
use kapsel_repo::prune::PruneOptions;

use crate::location::{Direction, Progress};
use kapsel_repo::{BackupOptions, Id, RepoError, Repository, Snapshot, Source};
use kapsel_storage::{Profile, StorageError, backend_from_profile};
use object_store::path::Path as StorePath;
use serde_json::json;

use crate::location::{LocationError, keep_delete, password};

#[derive(Debug, Args)]
pub struct Common {
    /// The Profile as `{{ toJson .Profile }}` renders it.
    #[arg(
        long = "profile",
        conflicts_with = "secrets_stdin",
        required_unless_present = "secrets_stdin"
    )]
    profile: Option<String>,
    /// Read `{"profile": ..., "password": "..."}` (password optional) from stdin.
    #[arg(long = "secrets-stdin")]
    secrets_stdin: bool,
    /// Where the repository lives inside the Profile's location.
    #[arg(long = "path")]
    path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsMode {
    /// Files and bytes a restore would write.
    RestoreSize,
    /// Blobs the snapshot needs in the repository, each counted once.
    RawData,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Back up directory trees as one snapshot.
    Backup {
        #[command(flatten)]
        common: Common,
        /// Tags (the first is reported as backupTag).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Host name recorded in the snapshot.
        #[arg(long = "host")]
        host: Option<String>,
        /// Absolute directories (or files) to back up.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Restore a snapshot's tree under TARGET.
    Restore {
        #[command(flatten)]
        common: Common,
        /// Snapshot id or unique prefix (at least 8 hex digits).
        #[arg(long = "id", conflicts_with = "tag", required_unless_present = "tag")]
        id: Option<String>,
        /// The newest snapshot with this tag.
        #[arg(long = "tag")]
        tag: Option<String>,
        /// Restore only this absolute source path, directly into TARGET.
        #[arg(long = "subpath")]
        subpath: Option<PathBuf>,
        /// Target directory.
        target: PathBuf,
    },
    /// Forget snapshots (by id, or every one with a tag).
    Delete {
        #[command(flatten)]
        common: Common,
        /// Snapshot id or unique prefix.
        #[arg(long = "id", conflicts_with = "tag", required_unless_present = "tag")]
        id: Option<String>,
        /// Every snapshot with this tag.
        #[arg(long = "tag")]
        tag: Option<String>,
        /// Also prune (packs are deleted after KAPSEL_PRUNE_KEEP_DELETE_SECONDS).
        #[arg(long = "reclaim-space")]
        reclaim_space: bool,
    },
    /// Size of a snapshot.
    Stats {
        #[command(flatten)]
        common: Common,
        /// Snapshot id or unique prefix.
        #[arg(long = "id")]
        id: String,
        /// What to count.
        #[arg(long = "mode", value_enum, default_value = "restore-size")]
        mode: StatsMode,
    },
    /// Check the repository.
    Check {
        #[command(flatten)]
        common: Common,
        /// Also download and verify every blob.
        #[arg(long = "read-data")]
        read_data: bool,
    },
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Location(#[from] LocationError),
    #[error("invalid --profile: {0}")]
    #[diagnostic(code(kando::profile))]
    Profile(#[from] StorageError),
    #[error(transparent)]
    #[diagnostic(code(kando::repository))]
    Repo(#[from] RepoError),
    #[error("invalid --path {0:?}")]
    #[diagnostic(
        code(kando::data_path),
        help(
            "give a relative location inside the Profile's bucket, such as `pg/base-backups` (no `..`)"
        )
    )]
    BadPath(String),
    #[error("invalid snapshot id {0:?}")]
    #[diagnostic(
        code(kando::snapshot_id),
        help("give a snapshot id or a unique prefix of at least 8 hex digits")
    )]
    BadId(String),
    #[error("no snapshot has tag {0:?}")]
    #[diagnostic(code(kando::no_snapshot))]
    NoTag(String),
    #[error("snapshot {0} is a stream (kando location push), not a directory tree")]
    #[diagnostic(code(kando::not_a_tree), help("restore it with `kando location pull`"))]
    NotATree(String),
    #[error("the repository check found {0} error(s)")]
    #[diagnostic(code(kando::check_failed))]
    CheckFailed(usize),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// The Profile and optional password, from `--profile` or stdin.
fn secrets(c: &Common) -> Result<(Profile, Option<Vec<u8>>), DataError> {
    if let Some(p) = &c.profile {
        return Ok((Profile::from_json(p)?, None));
    }
    Ok(crate::location::secrets_from_stdin()?)
}

pub(crate) fn repo_root(profile: &Profile, path: &str) -> Result<StorePath, DataError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.is_empty() || segs.iter().any(|s| *s == ".." || *s == ".") {
        return Err(DataError::BadPath(path.to_string()));
    }
    let mut root = StorePath::default();
    for seg in profile
        .location
        .prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .chain(segs)
    {
        root = root.join(seg);
    }
    Ok(root)
}

async fn open(c: &Common, create: bool) -> Result<Repository, DataError> {
    Ok(open_with_profile(c, create).await?.0)
}

async fn open_with_profile(c: &Common, create: bool) -> Result<(Repository, Profile), DataError> {
    let (profile, pw) = secrets(c)?;
    let root = repo_root(&profile, &c.path)?;
    let backend = backend_from_profile(&profile)?;
    let pw = match pw {
        Some(p) => p,
        None => password(&profile)?,
    };
    let repo = if create {
        Repository::open_or_init(backend.store, root, &pw, crate::location::init_options()?).await?
    } else {
        Repository::open(backend.store, root, &pw).await?
    };
    crate::location::print_warnings(&repo);
    Ok((repo, profile))
}

fn check_id(id: &str) -> Result<(), DataError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DataError::BadId(id.to_string()));
    }
    Ok(())
}

/// By id, or the newest with `tag`.
async fn pick(
    repo: &Repository,
    id: Option<&str>,
    tag: Option<&str>,
) -> Result<(Id, Snapshot), DataError> {
    if let Some(id) = id {
        check_id(id)?;
        return Ok(repo.find_snapshot(id).await?);
    }
    let tag = tag.unwrap_or_default();
    repo.snapshots()
        .await?
        .into_iter()
        .rev()
        .find(|(_, s)| s.tags.iter().any(|t| t == tag))
        .ok_or_else(|| DataError::NoTag(tag.to_string()))
}

fn print(v: serde_json::Value) -> Result<(), DataError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}").map_err(DataError::Stdout)?;
    out.flush().map_err(DataError::Stdout)
}

/// Run a data command.
pub fn run(cmd: DataCommand) -> Result<(), DataError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DataError::Runtime)?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: DataCommand) -> Result<(), DataError> {
    match cmd {
        DataCommand::Backup {
            common,
            tags,
            host,
            dirs,
        } => {
            let repo = open(&common, true).await?;
            let progress = Progress::start(Direction::Sent);
            let (sum, t) = repo
                .backup_tree(
                    &dirs,
                    BackupOptions {
                        tags: tags.clone(),
                        host,
                        progress: Some(progress.counts()),
                        ..Default::default()
                    },
                )
                .await?;
            drop(progress);
            for s in &t.skipped {
                eprintln!("kando: skipped {s}");
            }
            print(json!({
                "snapshotID": sum.snapshot,
                "backupTag": tags.first().cloned().unwrap_or_default(),
                "fileCount": t.files,
                "size": t.size,
                "phySize": sum.added_bytes,
            }))?;
            Ok(())
        }
        DataCommand::Restore {
            common,
            id,
            tag,
            subpath,
            target,
        } => {
            let repo = open(&common, false).await?;
            let (sid, snap) = pick(&repo, id.as_deref(), tag.as_deref()).await?;
            if !matches!(snap.source, Source::Tree { .. }) {
                return Err(DataError::NotATree(sid.to_hex()));
            }
            use std::os::unix::ffi::OsStrExt;
            let progress = Progress::start(Direction::Received);
            let opts = crate::location::restore_options(progress.counts())?;
            let r = repo
                .restore_tree(
                    &sid,
                    &snap,
                    &target,
                    subpath.as_ref().map(|p| p.as_os_str().as_bytes()),
                    opts,
                )
                .await?;
            drop(progress);
            for s in &r.skipped {
                eprintln!("kando: skipped {s}");
            }
            print(json!({"snapshotID": sid.to_hex(), "fileCount": r.files, "size": r.size}))?;
            Ok(())
        }
        DataCommand::Delete {
            common,
            id,
            tag,
            reclaim_space,
        } => {
            let (repo, profile) = open_with_profile(&common, false).await?;
            let ids: Vec<Id> = match (&id, &tag) {
                (Some(id), _) => {
                    check_id(id)?;
                    vec![repo.find_snapshot(id).await?.0]
                }
                (None, Some(tag)) => repo
                    .snapshots()
                    .await?
                    .into_iter()
                    .filter(|(_, s)| s.tags.iter().any(|t| t == tag))
                    .map(|(i, _)| i)
                    .collect(),
                (None, None) => vec![],
            };
            repo.delete_snapshots(&ids).await?;
            let mut freed = 0;
            if reclaim_space {
                let r = repo
                    .prune(PruneOptions {
                        keep_delete: keep_delete(),
                        ..Default::default()
                    })
                    .await?;
                freed = r.bytes_freed;
                crate::location::sweep_staging(&profile, &repo);
            }
            print(json!({
                "deleted": ids.iter().map(|i| i.to_hex()).collect::<Vec<_>>(),
                "spaceFreed": freed,
            }))?;
            Ok(())
        }
        DataCommand::Stats { common, id, mode } => {
            let repo = open(&common, false).await?;
            check_id(&id)?;
            let (sid, snap) = repo.find_snapshot(&id).await?;
            let files = match &snap.source {
                Source::Tree { files, .. } => *files,
                Source::Stream { .. } => 1,
            };
            let v = match mode {
                StatsMode::RestoreSize => {
                    json!({"mode": "restore-size", "fileCount": files, "size": snap.size()})
                }
                StatsMode::RawData => {
                    let (blobs, bytes) = repo.snapshot_raw_size(&sid, &snap).await?;
                    json!({"mode": "raw-data", "fileCount": files, "size": bytes, "blobCount": blobs})
                }
            };
            print(v)?;
            Ok(())
        }
        DataCommand::Check { common, read_data } => {
            let mut flags = (false, false);
            let repo = match open(&common, false).await {
                Ok(r) => Some(r),
                Err(DataError::Repo(RepoError::WrongPassword { .. })) => {
                    flags.0 = true;
                    None
                }
                Err(DataError::Repo(
                    e @ (RepoError::NotFound { .. } | RepoError::Store { .. }),
                )) => {
                    eprintln!("kando: repository unavailable: {e}");
                    flags.1 = true;
                    None
                }
                Err(e) => return Err(e),
            };
            if let Some(repo) = repo {
                let rep = repo
                    .check(CheckOptions {
                        read_data,
                        ..Default::default()
                    })
                    .await?;
                for w in &rep.warnings {
                    eprintln!("kando: warning: {w}");
                }
                if !rep.is_ok() {
                    for e in &rep.errors {
                        eprintln!("kando: error: {e}");
                    }
                    return Err(DataError::CheckFailed(rep.errors.len()));
                }
            }
            print(json!({
                "passwordIncorrect": flags.0,
                "repoUnavailable": flags.1,
                "errors": [],
            }))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn repository_root_is_prefix_then_path() {
        let p = Profile::from_json(
            r#"{"Location":{"type":"filesystem","bucket":"/b","prefix":"/pre/x/"}}"#,
        )
        .unwrap();
        assert_eq!(repo_root(&p, "pg/base").unwrap().as_ref(), "pre/x/pg/base");
        assert!(repo_root(&p, "a/../b").is_err());
        assert!(repo_root(&p, "/").is_err());
    }
}
