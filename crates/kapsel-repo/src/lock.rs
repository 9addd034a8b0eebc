//! Locks: how backups and prunes see each other (docs/format.md §10).
//!
//! A backup writes `locks/<random id>` before it loads the index and keeps
//! rewriting it while it runs; a prune writes one too, and refuses to run
//! beside another prune. A lock is an encrypted envelope (kind 5) holding
//! [`LockInfo`]. Locks never decide what a backup may commit: a backup
//! verifies at its commit that every pack it needs is live (copying the ones
//! a prune marked or dropped, or failing); locks only let a prune keep the
//! packs a running backup may need, so that long backups do not have to
//! copy or fail. Correctness therefore does not depend on clocks; only how
//! long packs are kept does.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{RepoError, Result};
use crate::format::{self, ObjectKind};
use crate::repo::{Repository, host_name};

/// Timing of locks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockTiming {
    /// How often a running backup or prune rewrites its lock (default 5 min).
    pub refresh: std::time::Duration,
    /// A lock not rewritten for this long belongs to a dead process
    /// (default 30 min).
    pub stale: Duration,
    /// How far apart two machines' clocks may be (default 5 min): a pack
    /// marked (or written) up to this long before a backup's lock started may
    /// still be one that backup uses.
    pub skew: Duration,
}

impl Default for LockTiming {
    fn default() -> Self {
        LockTiming {
            refresh: std::time::Duration::from_secs(300),
            stale: Duration::minutes(30),
            skew: Duration::minutes(5),
        }
    }
}

/// What holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// A backup (any number at once).
    Backup,
    /// A prune (one at a time).
    Prune,
}

/// The content of a lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Format version (1).
    pub version: u8,
    /// Backup or prune.
    pub kind: LockKind,
    /// Host of the process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started (its clock).
    pub started: DateTime<Utc>,
    /// When it last rewrote the lock (its clock).
    pub refreshed: DateTime<Utc>,
    /// The process's pid namespace (`/proc/self/ns/pid`), so that a reader
    /// on the same host and in the same namespace can tell a dead holder
    /// at once (containers of one pod share a host name, not pids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<String>,
}

/// This process's pid namespace, where Linux tells it.
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether a lock's holder is known to be dead: same host, same pid
/// namespace, and no such process.
fn holder_is_dead(i: &LockInfo) -> bool {
    if i.host != host_name() || i.pid_ns.is_none() || i.pid_ns != pid_namespace() {
        return false;
    }
    if i.pid == std::process::id() {
        return false;
    }
    let Some(pid) = i32::try_from(i.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// A lock as a reader finds it.
#[derive(Debug, Clone)]
pub struct FoundLock {
    /// The lock's object name (`locks/<id>`).
    pub id: String,
    /// Its content; `None` when it cannot be read (damaged, or another
    /// repository's key): such a lock counts as live, started at the epoch,
    /// until the store's modification time is older than `stale`.
    pub info: Option<LockInfo>,
    /// The store's modification time.
    pub modified: DateTime<Utc>,
}

impl FoundLock {
    /// Whether the lock's holder may still be running: its lock was
    /// rewritten less than `stale` ago, and it is not a process of this host
    /// and pid namespace that no longer exists.
    pub fn is_live(&self, now: DateTime<Utc>, t: &LockTiming) -> bool {
        let last = match &self.info {
            Some(i) => i.refreshed.max(self.modified),
            None => self.modified,
        };
        now - last < t.stale && !self.info.as_ref().is_some_and(holder_is_dead)
    }
    /// When the holder started (the epoch when unknown).
    pub fn started(&self) -> DateTime<Utc> {
        self.info
            .as_ref()
            .map_or(DateTime::<Utc>::UNIX_EPOCH, |i| i.started)
    }
    /// Backup, prune, or unknown (counts as a backup).
    pub fn kind(&self) -> LockKind {
        self.info.as_ref().map_or(LockKind::Backup, |i| i.kind)
    }
}

#[derive(Debug)]
struct State {
    info: LockInfo,
    /// Time of the last successful write.
    last_ok: DateTime<Utc>,
    /// Longest time between two successful writes so far.
    max_gap: Duration,
}

/// A lock held by this process: rewritten every `refresh` by a background
/// task until [`Lock::release`] (or drop, which stops the rewriting; the
/// object then goes stale).
pub(crate) struct Lock {
    repo: Repository,
    path: Path,
    name: String,
    state: Arc<Mutex<State>>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl Repository {
    async fn write_lock(&self, path: &Path, info: &LockInfo) -> Result<()> {
        let json = serde_json::to_vec(info).map_err(|e| RepoError::InvalidInput(e.to_string()))?;
        let sealed = format::seal_object(self.key.data_key(), ObjectKind::Lock, &json);
        self.store
            .put(path, PutPayload::from(sealed))
            .await
            .map_err(|e| RepoError::store(path, e))?;
        Ok(())
    }

    /// Take a lock of `kind`; it is rewritten every `timing.refresh`.
    pub(crate) async fn lock(&self, kind: LockKind, timing: LockTiming) -> Result<Lock> {
        let mut raw = [0u8; 32];
        crate::crypto::random_bytes(&mut raw);
        let name = hex::encode(raw);
        let path = self.path(&["locks", &name]);
        let now = Utc::now();
        let info = LockInfo {
            version: 1,
            kind,
            host: host_name(),
            pid: std::process::id(),
            started: now,
            refreshed: now,
            pid_ns: pid_namespace(),
        };
        self.write_lock(&path, &info).await?;
        let state = Arc::new(Mutex::new(State {
            info,
            last_ok: now,
            max_gap: Duration::zero(),
        }));
        let refresher = {
            let repo = self.clone();
            let path = path.clone();
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(timing.refresh).await;
                    // A failed rewrite is retried at the next tick; the gap
                    // shows in `max_gap`.
                    let _ = refresh(&repo, &path, &state).await;
                }
            })
        };
        Ok(Lock {
            repo: self.clone(),
            path,
            name,
            state,
            refresher,
        })
    }

    /// Every lock in the repository. A lock that vanished while listing is
    /// skipped; one that cannot be opened is returned without content.
    pub async fn locks(&self) -> Result<Vec<FoundLock>> {
        let metas = crate::repo::list_names(self.store.as_ref(), &self.path(&["locks"])).await?;
        let mut out = Vec::with_capacity(metas.len());
        for m in metas {
            let Some(name) = m.location.filename().map(str::to_string) else {
                continue;
            };
            let bytes = match crate::repo::get_bytes(self.store.as_ref(), &m.location).await {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let info = format::open_object(self.key.data_key(), ObjectKind::Lock, &bytes)
                .ok()
                .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok());
            out.push(FoundLock {
                id: name,
                info,
                modified: m.last_modified,
            });
        }
        Ok(out)
    }

    /// Remove a lock object by name (stale locks of dead processes).
    pub(crate) async fn remove_lock(&self, name: &str) -> Result<()> {
        let p = self.path(&["locks", name]);
        match self.store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(RepoError::store(&p, e)),
        }
    }
}

async fn refresh(repo: &Repository, path: &Path, state: &Mutex<State>) -> Result<()> {
    let now = Utc::now();
    let info = {
        let mut s = state
            .lock()
            .map_err(|_| RepoError::Task("lock state poisoned".into()))?;
        s.info.refreshed = now;
        s.info.clone()
    };
    repo.write_lock(path, &info).await?;
    let mut s = state
        .lock()
        .map_err(|_| RepoError::Task("lock state poisoned".into()))?;
    let gap = now - s.last_ok;
    if gap > s.max_gap {
        s.max_gap = gap;
    }
    s.last_ok = now;
    Ok(())
}

impl Lock {
    /// The lock's object name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Rewrite the lock now; returns the longest time between two
    /// successful writes so far (including this one).
    pub(crate) async fn refresh_now(&self) -> Result<Duration> {
        refresh(&self.repo, &self.path, &self.state).await?;
        self.state
            .lock()
            .map(|s| s.max_gap)
            .map_err(|_| RepoError::Task("lock state poisoned".into()))
    }

    /// Stop rewriting and delete the lock object.
    pub(crate) async fn release(self) -> Result<()> {
        self.refresher.abort();
        self.repo.remove_lock(&self.name).await
    }
}
