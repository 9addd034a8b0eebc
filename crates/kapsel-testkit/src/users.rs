//! Running a program as another user (`nobody`) from a checkout that user
//! may not be able to enter: a newcomer's checkout, and its `target/`, often
//! sit in a home directory of mode 700.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of a program in a fresh directory every user can enter and read,
/// with a temporary directory of the other user's own.
pub struct Foreign {
    exe: PathBuf,
    tmp: PathBuf,
    uid: u32,
    gid: u32,
    // Last: removed after everything in it.
    _dir: tempfile::TempDir,
}

impl Foreign {
    /// Copies `exe` for user `uid`:`gid`, into a new directory under /tmp
    /// (not `TMPDIR`, which may be private too).
    pub fn new(exe: &Path, uid: u32, gid: u32) -> Foreign {
        let base = Path::new("/tmp");
        let dir = if base.is_dir() {
            tempfile::Builder::new()
                .prefix("kapsel-foreign-")
                .tempdir_in(base)
        } else {
            tempfile::Builder::new().prefix("kapsel-foreign-").tempdir()
        }
        .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let name = exe.file_name().unwrap();
        let copy = dir.path().join(name);
        fs::copy(exe, &copy).unwrap_or_else(|e| panic!("copying {}: {e}", exe.display()));
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        chown(&tmp, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)).unwrap();
        Foreign {
            exe: copy,
            tmp,
            uid,
            gid,
            _dir: dir,
        }
    }

    /// The copy.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The copy as a command of the other user, started in `/` with
    /// `TMPDIR` its own directory.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.current_dir("/")
            .env("TMPDIR", &self.tmp)
            .uid(self.uid)
            .gid(self.gid);
        c
    }
}
