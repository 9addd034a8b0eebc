//! Kapsel's own binaries for tests that run them as a user would: `kapsel`
//! and `kando` built once, `kapsel run` and `kapsel blueprint validate`,
//! and the filesystem Profile and inventories of `testdata/local/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::fixtures::{password, repo_root, write_private};

/// The built `kapsel` and the directory holding it and `kando`.
pub struct Tools {
    /// The `kapsel` binary.
    pub kapsel: PathBuf,
    /// target/debug: `kando` is there too.
    pub bin_dir: PathBuf,
}

/// Builds `kapsel` and `kando` once (cargo's lock serialises this with other
/// builds); `KAPSEL_BIN_DIR` names a directory holding both instead.
pub fn tools() -> &'static Tools {
    static T: OnceLock<Tools> = OnceLock::new();
    T.get_or_init(|| {
        if let Some(dir) = std::env::var_os("KAPSEL_BIN_DIR") {
            let bin_dir = PathBuf::from(dir);
            return Tools {
                kapsel: bin_dir.join("kapsel"),
                bin_dir,
            };
        }
        let root = repo_root();
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "kapsel-cli", "-p", "kando"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success(), "building kapsel and kando failed");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let bin_dir = target.join("debug");
        Tools {
            kapsel: bin_dir.join("kapsel"),
            bin_dir,
        }
    })
}

/// A filesystem Profile and the repository password file, in `dir`.
pub struct Location {
    /// The Profile file.
    pub profile: PathBuf,
    /// The repository password file (KAPSEL_REPO_PASSWORD_FILE).
    pub password_file: PathBuf,
    /// The backups directory (the Profile's bucket).
    pub bucket: PathBuf,
}

/// Writes testdata/local/filesystem-profile.yaml for a bucket under `dir`.
pub fn location(dir: &Path) -> Location {
    let bucket = dir.join("backups");
    let password_file = dir.join("repo-password");
    write_private(&password_file, &format!("{}\n", password()), None);
    let profile = dir.join("profile.yaml");
    fill(
        "filesystem-profile.yaml",
        &[("BUCKET", bucket.display().to_string())],
        &profile,
    );
    Location {
        profile,
        password_file,
        bucket,
    }
}

/// Copies testdata/local/`name` to `to`, replacing each `@KEY@`; panics if a
/// placeholder is left.
pub fn fill(name: &str, values: &[(&str, String)], to: &Path) {
    let src = repo_root().join("testdata/local").join(name);
    let mut text = fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    for (k, v) in values {
        text = text.replace(&format!("@{k}@"), v);
    }
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find('@') {
            rest = &rest[i + 1..];
            if let Some(end) = rest.find('@') {
                let key = &rest[..end];
                if !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
                {
                    panic!("{}: placeholder @{key}@ has no value", src.display());
                }
            }
        }
    }
    fs::write(to, text).unwrap();
}

/// The result of one `kapsel run`.
pub struct Run {
    /// The ActionSet it wrote.
    pub actionset: PathBuf,
    /// Wall time.
    pub took: Duration,
    /// Progress lines (stderr).
    pub stderr: String,
}

/// `kapsel run ARGS --write <dir>/<name>.yaml`, which must succeed.
pub fn kapsel_run(dir: &Path, name: &str, args: &[&str]) -> Run {
    let actionset = dir.join(format!("{name}.yaml"));
    let start = Instant::now();
    let out = Command::new(&tools().kapsel)
        .arg("run")
        .args(args)
        .arg("--write")
        .arg(&actionset)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "kapsel run {name} {args:?} failed ({}):\n{stderr}\nActionSet:\n{}",
        out.status,
        fs::read_to_string(&actionset).unwrap_or_default()
    );
    Run {
        actionset,
        took,
        stderr,
    }
}

/// `kapsel blueprint validate --strict FILE` must pass.
pub fn validate_strict(blueprint: &Path) {
    let out = Command::new(&tools().kapsel)
        .args(["blueprint", "validate", "--strict", "--deny-warnings"])
        .arg(blueprint)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not valid:\n{}{}",
        blueprint.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kapsel run ARGS` quietly; its exit code.
pub fn kapsel_run_code(args: &[&str]) -> Option<i32> {
    Command::new(&tools().kapsel)
        .arg("run")
        .args(args)
        .args(["--progress", "quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .code()
}
