//! Staging files of uploads that never finished, in a filesystem repository.
//!
//! object_store 0.14's `LocalFileSystem` writes each object to
//! `<name>#<n>` (the smallest `n` ≥ 1 that does not exist), fsyncs it and
//! renames (or, for create-if-absent, hard-links) it into place. A process
//! killed in between leaves the `#<n>` file, and nothing removes it: the
//! store's `list` skips names ending in `#<digits>`, so the repository never
//! sees them. [`remove_stale_staging_files`] does, for files not written to
//! for a while (an upload in progress keeps touching its file).

use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How old a staging file must be before it counts as abandoned (no
/// upload takes this long without writing).
pub const STALE_STAGING_AGE: Duration = Duration::from_secs(3600);

/// What [`remove_stale_staging_files`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StagingSweep {
    /// Files removed (or, in a dry run, that would be).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {path}: {source}")]
pub struct StagingError {
    /// What was done.
    pub what: &'static str,
    /// On what.
    pub path: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Whether `name` is a `LocalFileSystem` staging name: `<something>#<digits>`.
pub fn is_staging_name(name: &[u8]) -> bool {
    match name.iter().rposition(|b| *b == b'#') {
        Some(i) if i > 0 => {
            let digits = &name[i + 1..];
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Remove the staging files (`<name>#<n>`) under `dir`, a filesystem
/// repository's directory, that were last modified more than `older_than`
/// ago; with `dry_run` only count them. Symlinks are not followed; a
/// missing `dir` holds nothing.
pub fn remove_stale_staging_files(
    dir: &Path,
    older_than: Duration,
    dry_run: bool,
) -> Result<StagingSweep, StagingError> {
    use std::os::unix::ffi::OsStrExt;
    let err = |what, path: &Path| {
        let path = path.display().to_string();
        move |source| StagingError { what, path, source }
    };
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut sweep = StagingSweep::default();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(err("read the directory", &d)(e)),
        };
        for ent in entries {
            let ent = ent.map_err(err("read the directory", &d))?;
            let p = ent.path();
            let ft = ent.file_type().map_err(err("inspect", &p))?;
            if ft.is_dir() {
                dirs.push(p);
                continue;
            }
            if !ft.is_file() || !is_staging_name(ent.file_name().as_bytes()) {
                continue;
            }
            let md = match ent.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(err("inspect", &p)(e)),
            };
            if md.modified().map_err(err("inspect", &p))? > cutoff {
                continue;
            }
            if !dry_run {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    // Finished or removed meanwhile.
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(err("remove", &p)(e)),
                }
            }
            sweep.files += 1;
            sweep.bytes += md.len();
        }
    }
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names() {
        for n in ["a#1", "0123abcd#12", "x#y#3"] {
            assert!(is_staging_name(n.as_bytes()), "{n}");
        }
        for n in ["a#", "#1", "a#1b", "a", "a#b"] {
            assert!(!is_staging_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn only_old_staging_files_go() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("data/ab");
        std::fs::create_dir_all(&sub).unwrap();
        let old = sub.join("abcd#1");
        let fresh = sub.join("abce#1");
        let object = sub.join("abcf");
        std::fs::write(&old, vec![7u8; 1000]).unwrap();
        std::fs::write(&fresh, b"new").unwrap();
        std::fs::write(&object, b"obj").unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&object)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let dry = remove_stale_staging_files(d.path(), STALE_STAGING_AGE, true).unwrap();
        assert_eq!(
            dry,
            StagingSweep {
                files: 1,
                bytes: 1000
            }
        );
        assert!(old.exists());
        let r = remove_stale_staging_files(d.path(), STALE_STAGING_AGE, false).unwrap();
        assert_eq!(dry, r);
        assert!(!old.exists() && fresh.exists() && object.exists());
        assert_eq!(
            remove_stale_staging_files(&d.path().join("none"), STALE_STAGING_AGE, false).unwrap(),
            StagingSweep::default()
        );
    }
}
