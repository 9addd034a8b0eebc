//! Kapsel's deduplicating, encrypted backup repository over object storage.
//!
//! A [`Repository`] lives under a root path of any `object_store::ObjectStore`.
//! Streams are cut by keyed FastCDC, chunks are named by keyed BLAKE3,
//! compressed with zstd (or kept raw when that does not help), sealed with
//! AES-256-GCM and written into packs; index files and snapshot manifests are
//! encrypted too. The byte format is specified in `docs/format.md`
//! (version [`format::FORMAT_VERSION`]).
//!
//! This crate knows nothing of Kubernetes, Kanister Profiles or concrete
//! clouds: callers hand it an `Arc<dyn ObjectStore>` (see `kapsel-storage`).

pub mod backup;
pub mod check;
pub mod crypto;
mod error;
pub mod forget;
pub mod format;
pub mod lock;
pub mod newfile;
pub mod progress;
pub mod prune;
pub mod repair;
mod repo;
pub mod restore;
pub mod tree;

pub use backup::{BackupOptions, BackupSummary};
pub use crypto::KdfParams;
pub use error::{RepoError, Result};
pub use format::Id;
pub use lock::{LockInfo, LockKind, LockTiming};
pub use progress::Progress;
pub use repo::{
    ChunkerAlgorithm, ChunkerParams, Config, DEFAULT_ZSTD_LEVEL, Index, InitOptions, KeyFile,
    KeyInfo, Location, Repository, Snapshot, Source, StreamContent, parse_size,
};

/// Hooks for tests of crash and concurrency behaviour (not a stable API).
#[doc(hidden)]
pub mod testing {
    use crate::{Id, InitOptions, Repository, Result, Snapshot};
    use object_store::ObjectStore;
    use object_store::path::Path;
    use std::sync::Arc;

    /// Create a repository whose master secret is `secret` (so chunk
    /// boundaries, which depend on the key, are reproducible in tests).
    pub async fn init_with_secret(
        store: Arc<dyn ObjectStore>,
        root: Path,
        password: &[u8],
        opts: InitOptions,
        secret: [u8; 32],
    ) -> Result<Repository> {
        Repository::init_with_master(
            store,
            root,
            password,
            opts,
            crate::crypto::MasterKey::from_secret(secret),
        )
        .await
    }

    /// Commit a snapshot manifest as a backup would at its end.
    pub async fn commit_snapshot(repo: &Repository, s: &Snapshot) -> Result<Id> {
        let mut s = s.clone();
        s.time = chrono::Utc::now();
        repo.write_snapshot(&s).await
    }
}
