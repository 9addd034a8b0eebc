//! The repository's error type.

/// Everything that can go wrong in a repository operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// There is no Kapsel repository (no `config` object) at the location.
    #[error("no Kapsel repository at {location} (no config object)")]
    NotFound {
        /// Where we looked.
        location: String,
    },
    /// `init` found an existing repository.
    #[error("a Kapsel repository already exists at {location}")]
    AlreadyInitialized {
        /// Where it is.
        location: String,
    },
    /// `init` found objects that are not a Kapsel repository's (only an
    /// empty location, or one holding just `keys/`, is initialized).
    #[error("refusing to create a repository at {location}: it is not empty and not a Kapsel repository (it holds {})", found.join(", "))]
    NotEmpty {
        /// Where.
        location: String,
        /// The first few objects found, relative to the location.
        found: Vec<String>,
    },
    /// No key file opens with the given password.
    #[error("wrong password: none of the {keys} key file(s) of the repository opens with it")]
    WrongPassword {
        /// How many key files were tried.
        keys: usize,
    },
    /// The location's `config` is not a Kapsel object: something else lives
    /// there.
    #[error(
        "not a Kapsel repository: {object} is a foreign object (it does not start with Kapsel's magic)"
    )]
    NotARepository {
        /// The config object's name.
        object: String,
    },
    /// A key file unwrapped with the password, but `config` does not
    /// authenticate with the key inside (modified bytes, or a config copied
    /// from another repository).
    #[error(
        "config is corrupt: {object} fails authentication with the key of {key}, which this password unwraps (its bytes were modified, or it belongs to another repository)"
    )]
    ConfigCorrupt {
        /// The config object's name.
        object: String,
        /// The key file that unwrapped.
        key: String,
    },
    /// No usable key file unwrapped with the password, and some key files
    /// are damaged (unreadable, not JSON, over-large, KDF parameters out of
    /// bounds): the password may belong to one of them.
    #[error(
        "no key opens the repository: {tried} intact key file(s) do not unwrap with this password, and {} key file(s) are damaged: {}", damaged.len(), damaged.join("; ")
    )]
    DamagedKeys {
        /// Intact key files tried.
        tried: usize,
        /// Each damaged key file with what is wrong.
        damaged: Vec<String>,
    },
    /// The repository has no key file at all.
    #[error("the repository at {location} has no key files: it cannot be opened")]
    NoKeys {
        /// Where it is.
        location: String,
    },
    /// Some index files are unreadable; an operation that must see the
    /// whole index (prune) refuses.
    #[error(
        "{} index file(s) are unreadable ({}); refusing to {action} until `kapsel repo repair index` has rebuilt the index from the packs", files.len(), files.join("; ")
    )]
    DamagedIndex {
        /// What was refused.
        action: String,
        /// Each damaged index file with what is wrong.
        files: Vec<String>,
    },
    /// Some snapshot manifests are unreadable; an operation that must know
    /// what every snapshot needs (prune) refuses.
    #[error(
        "{} snapshot manifest(s) are unreadable ({}); refusing to {action} until `kapsel repo repair snapshots` has moved them aside", files.len(), files.join("; ")
    )]
    DamagedSnapshots {
        /// What was refused.
        action: String,
        /// Each damaged manifest with what is wrong.
        files: Vec<String>,
    },
    /// The object does not start with a Kapsel magic: not ours.
    #[error("object {object} is not a Kapsel object (foreign or garbage data)")]
    Foreign {
        /// The object name.
        object: String,
    },
    /// The object was written by a newer format version.
    #[error("object {object} has format version {version}, this Kapsel reads version {supported}")]
    UnsupportedVersion {
        /// The object name.
        object: String,
        /// The version found.
        version: u8,
        /// The version supported.
        supported: u8,
    },
    /// Authentication, decoding or a consistency check failed.
    #[error("object {object} is corrupt: {reason}")]
    Corrupt {
        /// The object name.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot needs a blob that is not (or no longer) readable.
    #[error("snapshot {snapshot}: {reason}")]
    Restore {
        /// The snapshot id.
        snapshot: String,
        /// What failed, naming the object involved.
        reason: String,
    },
    /// A tree restore stopped: the files it names were not restored (none
    /// of them is left under its name, complete or not).
    #[error("snapshot {snapshot}: {} file(s) not restored ({}): {source}", not_restored.len(), list(not_restored))]
    Incomplete {
        /// The snapshot id.
        snapshot: String,
        /// The files not restored, in restore order.
        not_restored: Vec<String>,
        /// Why the restore stopped.
        #[source]
        source: Box<RepoError>,
    },
    /// No snapshot matches.
    #[error("no snapshot matches {0:?}")]
    SnapshotNotFound(String),
    /// A snapshot id prefix matches several snapshots.
    #[error("snapshot id prefix {0:?} is ambiguous")]
    AmbiguousSnapshot(String),
    /// A key operation that would lock everyone out, or names an unknown key.
    #[error("key operation refused: {0}")]
    Key(String),
    /// Bad arguments.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The object store failed.
    #[error("storage error on {object}: {source}")]
    Store {
        /// The object (or prefix) involved.
        object: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Reading the source stream or writing the restored stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A backup could not commit: a pack it needs was deleted by a prune
    /// running beside it (possible only when the backup's lock looked stale
    /// to that prune, e.g. a process suspended for longer than the lock's
    /// stale time).
    #[error(
        "backup not committed: pack {pack}, which it needs ({role}), was deleted by a prune running beside it; nothing was committed: run the backup again"
    )]
    PackGone {
        /// The pack's object name.
        pack: String,
        /// What the backup needed it for.
        role: &'static str,
    },
    /// Another process holds a lock that excludes this operation.
    #[error("repository is locked: {0}")]
    Locked(String),
    /// A background task died.
    #[error("internal task failure: {0}")]
    Task(String),
}

/// The first few of `names`, for a message.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl RepoError {
    /// The error that stopped an [`RepoError::Incomplete`] restore; the
    /// error itself otherwise.
    pub fn cause(&self) -> &RepoError {
        match self {
            RepoError::Incomplete { source, .. } => source.cause(),
            e => e,
        }
    }

    pub(crate) fn corrupt(object: impl Into<String>, reason: impl Into<String>) -> Self {
        RepoError::Corrupt {
            object: object.into(),
            reason: reason.into(),
        }
    }
    /// Whether this is a store's "no such object" (an object deleted under
    /// us by a concurrent prune or forget).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RepoError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }

    /// Whether this says an object's bytes are damaged (corrupt, foreign,
    /// of an unknown version), as opposed to the store failing.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            RepoError::Corrupt { .. }
                | RepoError::Foreign { .. }
                | RepoError::UnsupportedVersion { .. }
        )
    }

    pub(crate) fn store(object: impl std::fmt::Display, source: object_store::Error) -> Self {
        RepoError::Store {
            object: object.to_string(),
            source,
        }
    }
}

/// Shorthand.
pub type Result<T, E = RepoError> = std::result::Result<T, E>;
