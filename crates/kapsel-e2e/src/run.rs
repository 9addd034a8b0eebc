//! Running `kapsel run` against the cluster under test, keeping everything
//! it printed.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::image;

/// `kapsel run --kubeconfig` in a working directory.
pub struct Run {
    /// Working directory (files the tests write: Blueprints, Profiles, ActionSets).
    pub dir: PathBuf,
    /// The cluster's kubeconfig.
    pub kubeconfig: PathBuf,
    /// The `kapsel` binary.
    pub bin: PathBuf,
    /// Everything every run printed (stdout and stderr), for secret scans.
    pub outputs: Vec<String>,
}

impl Run {
    /// Runs `kapsel run --kubeconfig K ARGS --output json` in `dir`.
    pub fn kapsel(&mut self, args: &[&str]) -> Output {
        let out = Command::new(&self.bin)
            .arg("run")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .args(["--output", "json"])
            .env("KANISTER_TOOLS", image("tools"))
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.outputs
            .push(String::from_utf8_lossy(&out.stdout).into_owned());
        self.outputs
            .push(String::from_utf8_lossy(&out.stderr).into_owned());
        out
    }

    /// Like [`Run::kapsel`], failing the test when the run fails.
    pub fn ok(&mut self, what: &str, args: &[&str]) {
        let out = self.kapsel(args);
        assert!(
            out.status.success(),
            "{what} failed ({}):\nstderr:\n{}\nstdout:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// A path in `dir`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
