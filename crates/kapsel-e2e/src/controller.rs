//! Driving `kapsel controller` from tests: the controller as a child
//! process of the test (out of the cluster, from the built binary), with
//! signals and its memory figures; waits on ActionSets beyond
//! [`crate::actionsets`]'s; the leader-election Lease's holder.
//!
//! A test harness: a failed step panics, which fails the test with the
//! step's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::Api;

use crate::actionsets::actionsets;
use crate::{Env, image};

/// `kapsel_controller::RESTART_REASON` (the e2e crate does not link the
/// controller): the start of `error.message` of an ActionSet whose
/// controller died while it ran.
pub const RESTART_REASON: &str = "the controller stopped while this ActionSet was running";

/// `kapsel controller` as a child process, SIGKILLed when dropped.
pub struct ControllerProcess {
    child: Child,
    log: PathBuf,
    /// Its identity (`POD_NAME`), the Lease's holder when it leads.
    pub identity: String,
}

impl ControllerProcess {
    /// `kapsel controller -n NS --concurrency 4`.
    pub fn start(bin: &Path, ns: &str, log: &Path) -> ControllerProcess {
        ControllerProcess::with_concurrency(bin, ns, log, 4)
    }

    /// `kapsel controller -n NS --concurrency N`.
    pub fn with_concurrency(bin: &Path, ns: &str, log: &Path, n: u32) -> ControllerProcess {
        ControllerProcess::spawn(bin, ns, log, "", &["--concurrency", &n.to_string()])
    }

    /// `kapsel controller -n NS ARGS` with `POD_NAME=identity` (none when
    /// empty), stderr appended to `log`.
    pub fn spawn(
        bin: &Path,
        ns: &str,
        log: &Path,
        identity: &str,
        args: &[&str],
    ) -> ControllerProcess {
        ControllerProcess::spawn_env(bin, ns, log, identity, args, &[])
    }

    /// [`ControllerProcess::spawn`] with more environment variables
    /// (`RUST_LOG` among them overrides `info`).
    pub fn spawn_env(
        bin: &Path,
        ns: &str,
        log: &Path,
        identity: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> ControllerProcess {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("controller")
            .arg("--kubeconfig")
            .arg(std::env::var_os("KUBECONFIG").unwrap())
            .args(["-n", ns])
            .args(args)
            .env("KANISTER_TOOLS", image("tools"))
            .env("RUST_LOG", "info")
            .env_remove("POD_NAME")
            .stdout(Stdio::null())
            .stderr(out);
        if !identity.is_empty() {
            cmd.env("POD_NAME", identity);
        }
        cmd.envs(envs.iter().copied());
        let child = cmd.spawn().unwrap();
        ControllerProcess {
            child,
            log: log.to_path_buf(),
            identity: identity.to_string(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Waits for it to exit (at most `limit`); its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// A field of /proc/<pid>/status in kB (`VmRSS`, `VmHWM`).
    pub fn memory_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        // a stopped process must be resumed to die promptly
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.pid().to_string())
            .stderr(Stdio::null())
            .status();
        self.kill();
    }
}

/// The ActionSet as JSON, if it exists.
pub async fn get_actionset(env: &Env, ns: &str, name: &str) -> Option<serde_json::Value> {
    actionsets(env, ns)
        .get_opt(name)
        .await
        .unwrap()
        .map(|o| serde_json::to_value(&o).unwrap())
}

/// Waits until the ActionSet is `complete` or `failed`; returns it.
pub async fn wait_finished(env: &Env, ns: &str, name: &str, limit: Duration) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        if let Some(v) = get_actionset(env, ns, name).await
            && matches!(v["status"]["state"].as_str(), Some("complete" | "failed"))
        {
            return v;
        }
        assert!(
            t0.elapsed() < limit,
            "ActionSet {name} not finished after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The holder of a Lease (`None`: no Lease, or released).
pub async fn lease_holder(env: &Env, ns: &str, name: &str) -> Option<String> {
    let api: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), ns);
    api.get_opt(name)
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}
