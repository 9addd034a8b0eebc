//! Files that appear under their real name only when complete.
//!
//! A restore writes into a [`NewFile`]: on Linux an unnamed file
//! (`O_TMPFILE`) in the destination's directory, linked in under its name by
//! [`NewFile::commit`]; a process killed before that leaves nothing behind.
//! Where the filesystem has no `O_TMPFILE` the file is written under a
//! hidden name, `.<name>.kapsel-partial-<pid>`, removed on drop, and the
//! next [`NewFile::create`] for the same destination removes such files
//! whose process is gone.

use std::fs::File;
use std::io::{Error, ErrorKind, Result};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The marker in the name of a partial file: `.<name>.kapsel-partial-<pid>`.
pub const PARTIAL_MARKER: &str = ".kapsel-partial-";

enum Staged {
    /// An `O_TMPFILE` file: nothing in the directory until linked.
    Unnamed,
    /// A named partial file, removed unless committed.
    Named(PathBuf),
}

/// A file being written for `dest`; see the module documentation.
pub struct NewFile {
    file: File,
    dest: PathBuf,
    staged: Staged,
}

fn at(path: &Path, e: Error) -> Error {
    Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// The directory and file name of `dest`.
fn split(dest: &Path) -> Result<(PathBuf, &std::ffi::OsStr)> {
    let name = dest.file_name().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{}: not a file name", dest.display()),
        )
    })?;
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((dir.to_path_buf(), name))
}

/// Whether process `pid` exists (a permission error means it does).
fn alive(pid: i32) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(p),
        Err(rustix::io::Errno::SRCH)
    )
}

/// Remove `.<name>.kapsel-partial-<pid>` files next to `dest` whose process
/// is gone (left by a restore that was killed where `O_TMPFILE` is not
/// available). Returns the files removed.
pub fn remove_stale_partials(dest: &Path) -> Result<Vec<PathBuf>> {
    let (dir, name) = split(dest)?;
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(name.as_bytes());
    prefix.extend_from_slice(PARTIAL_MARKER.as_bytes());
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(at(&dir, e)),
    };
    for ent in entries {
        let ent = ent.map_err(|e| at(&dir, e))?;
        let n = ent.file_name();
        let Some(pid) = n.as_bytes().strip_prefix(prefix.as_slice()) else {
            continue;
        };
        let Some(pid) = std::str::from_utf8(pid)
            .ok()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() as i32 || alive(pid) {
            continue;
        }
        let p = ent.path();
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(at(&p, e)),
        }
    }
    Ok(removed)
}

impl NewFile {
    /// Start writing the file that will be `dest`. Stale partial files of
    /// `dest` (of processes that are gone) are removed first.
    pub fn create(dest: &Path) -> Result<NewFile> {
        remove_stale_partials(dest)?;
        Self::create_in(dest, &format!("{}", std::process::id()))
    }

    /// [`Self::create`] without the stale-file sweep, the fallback name
    /// ending in `tag` instead of the pid (tree restores name each file).
    pub(crate) fn create_in(dest: &Path, tag: &str) -> Result<NewFile> {
        let (dir, _) = split(dest)?;
        use rustix::fs::{Mode, OFlags};
        match rustix::fs::openat(
            rustix::fs::CWD,
            &dir,
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        ) {
            Ok(fd) => {
                return Ok(NewFile {
                    file: File::from(fd),
                    dest: dest.to_path_buf(),
                    staged: Staged::Unnamed,
                });
            }
            // No O_TMPFILE here (old kernel, or a filesystem without it):
            // a named partial file instead.
            Err(
                rustix::io::Errno::OPNOTSUPP
                | rustix::io::Errno::ISDIR
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::NOSYS,
            ) => {}
            Err(e) => return Err(at(&dir, e.into())),
        }
        Self::create_named(dest, tag)
    }

    /// The named fallback of [`Self::create_in`].
    pub(crate) fn create_named(dest: &Path, tag: &str) -> Result<NewFile> {
        let (dir, name) = split(dest)?;
        let mut partial = std::ffi::OsString::from(".");
        partial.push(name);
        partial.push(PARTIAL_MARKER);
        partial.push(tag);
        let partial = dir.join(partial);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| at(&partial, e))?;
        Ok(NewFile {
            file,
            dest: dest.to_path_buf(),
            staged: Staged::Named(partial),
        })
    }

    /// The file to write.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where it goes.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Whether the file is unnamed until committed (`O_TMPFILE`).
    pub fn is_unnamed(&self) -> bool {
        matches!(self.staged, Staged::Unnamed)
    }

    /// Put the complete file under its name. Fails if something exists
    /// there already (nothing is overwritten).
    pub fn commit(mut self) -> Result<()> {
        match std::mem::replace(&mut self.staged, Staged::Unnamed) {
            Staged::Unnamed => {
                use std::os::fd::AsRawFd;
                let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    proc_path.as_str(),
                    rustix::fs::CWD,
                    &self.dest,
                    rustix::fs::AtFlags::SYMLINK_FOLLOW,
                )
                .or_else(|e| {
                    if e != rustix::io::Errno::NOENT || Path::new("/proc/self/fd").exists() {
                        return Err(e);
                    }
                    // Without /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH).
                    rustix::fs::linkat(
                        &self.file,
                        "",
                        rustix::fs::CWD,
                        &self.dest,
                        rustix::fs::AtFlags::EMPTY_PATH,
                    )
                })
                .map_err(|e| at(&self.dest, e.into()))
            }
            Staged::Named(p) => {
                let r = std::fs::hard_link(&p, &self.dest).map_err(|e| at(&self.dest, e));
                let _ = std::fs::remove_file(&p);
                r
            }
        }
    }
}

impl NewFile {
    /// [`Self::commit`], but a file already at the destination is replaced
    /// (atomically: by a rename over it).
    pub fn commit_replacing(mut self) -> Result<()> {
        if let Staged::Named(p) = std::mem::replace(&mut self.staged, Staged::Unnamed) {
            let r = std::fs::rename(&p, &self.dest).map_err(|e| at(&self.dest, e));
            if r.is_err() {
                let _ = std::fs::remove_file(&p);
            }
            return r;
        }
        let dest = self.dest.clone();
        let (dir, name) = split(&dest)?;
        let mut tmp = std::ffi::OsString::from(".");
        tmp.push(name);
        tmp.push(PARTIAL_MARKER);
        tmp.push(std::process::id().to_string());
        let tmp = dir.join(tmp);
        let _ = std::fs::remove_file(&tmp);
        // Link the complete file under a hidden name, then rename it over
        // the destination.
        self.dest = tmp.clone();
        self.commit()?;
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            at(&dest, e)
        })
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if let Staged::Named(p) = &self.staged {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::io::Write;

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn appears_only_when_committed() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("out");
        let mut f = NewFile::create(&dest).unwrap();
        f.file().write_all(b"hello").unwrap();
        if f.is_unnamed() {
            assert!(names(d.path()).is_empty());
        }
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(names(d.path()), vec!["out"]);
        // Never overwrites.
        let f = NewFile::create(&dest).unwrap();
        assert_eq!(
            f.commit().unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        // Dropped uncommitted: nothing stays, either way.
        let mut f = NewFile::create_in(&d.path().join("gone"), "7").unwrap();
        f.file().write_all(b"x").unwrap();
        drop(f);
        assert_eq!(names(d.path()), vec!["out"]);
        let mut f = NewFile::create_named(&d.path().join("gone"), "7").unwrap();
        f.file().write_all(b"x").unwrap();
        assert_eq!(names(d.path()), vec![".gone.kapsel-partial-7", "out"]);
        drop(f);
        assert_eq!(names(d.path()), vec!["out"]);
        // The named form commits the same way.
        let mut f = NewFile::create_named(&d.path().join("named"), "8").unwrap();
        f.file().write_all(b"n").unwrap();
        f.commit().unwrap();
        assert_eq!(names(d.path()), vec!["named", "out"]);
        assert_eq!(std::fs::read(d.path().join("named")).unwrap(), b"n");
        // Replacing, both forms.
        let mut f = NewFile::create(&dest).unwrap();
        f.file().write_all(b"second").unwrap();
        f.commit_replacing().unwrap();
        let mut f = NewFile::create_named(&d.path().join("named"), "9").unwrap();
        f.file().write_all(b"n2").unwrap();
        f.commit_replacing().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        assert_eq!(std::fs::read(d.path().join("named")).unwrap(), b"n2");
        assert_eq!(names(d.path()), vec!["named", "out"]);
    }

    #[test]
    fn stale_partials_of_dead_processes_go() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("f");
        // A process that has exited: its pid is free.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let dead = c.id();
        c.wait().unwrap();
        let stale = d.path().join(format!(".f{PARTIAL_MARKER}{dead}"));
        let live = d.path().join(format!(".f{PARTIAL_MARKER}1"));
        let other = d.path().join(format!(".g{PARTIAL_MARKER}{dead}"));
        for p in [&stale, &live, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_partials(&dest).unwrap(), vec![stale.clone()]);
        assert!(!stale.exists() && live.exists() && other.exists());
    }
}
