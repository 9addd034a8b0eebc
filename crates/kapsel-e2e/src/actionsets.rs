//! ActionSets driven as Kanister users drive Kanister's controller:
//! Kanister-format ActionSets applied to the cluster (as `kubectl apply`
//! would), waited for by their status; shared by the tests of `kapsel
//! controller` run as a process (tests/controller.rs and others) and of the
//! controller installed in the cluster (tests/helm.rs). The process is
//! signalled (SIGKILL, SIGSTOP/SIGCONT, SIGTERM) and its memory read by the
//! restart, leader-election and load tests; the leader-election Lease's
//! holder is read here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;

use crate::flow::{Stage, running_pod, sh_in};
use crate::{Env, image, wait_until};

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

/// Installs the CRDs (server-side apply of `kapsel crds`).
pub async fn install_crds(env: &Env, bin: &Path) {
    let out = Command::new(bin).arg("crds").output().unwrap();
    assert!(out.status.success());
    env.apply("default", &String::from_utf8(out.stdout).unwrap())
        .await
        .unwrap();
    // The API serves a new CRD a moment after it is created.
    wait_until(
        Duration::from_secs(60),
        "the ActionSet CRD served",
        || async {
            Ok(actionsets(env, "default")
                .list(&ListParams::default().limit(1))
                .await
                .is_ok())
        },
    )
    .await
    .unwrap();
}

pub fn actionsets(env: &Env, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cr.kanister.io", "v1alpha1", "ActionSet");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "actionsets");
    Api::namespaced_with(env.client.clone(), ns, &ar)
}

/// A Kanister-format ActionSet with one action.
pub fn actionset(name: &str, ns: &str, action: serde_json::Value) -> String {
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"actions": [action]}})
    .to_string()
}

/// A Blueprint `name` in `ns` whose action `name` is one KubeTask phase
/// `phase` running `script` (sh -c) in the tools image; `artifacts`, if
/// any, are its `outputArtifacts`.
pub fn task_blueprint(
    ns: &str,
    name: &str,
    phase: &str,
    script: &str,
    artifacts: Option<serde_json::Value>,
) -> String {
    let mut action = serde_json::json!({"phases": [{"func": "KubeTask", "name": phase, "args": {
        "image": crate::image("tools"), "namespace": "{{ .Namespace.Name }}",
        "command": ["sh", "-c", script]}}]});
    if let Some(a) = artifacts {
        action["outputArtifacts"] = a;
    }
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": name, "namespace": ns}, "actions": {name: action}})
    .to_string()
}

/// Waits until the ActionSet's state is `state`; returns it. Fails early
/// when it reaches another final state.
pub async fn wait_state(
    env: &Env,
    ns: &str,
    name: &str,
    state: &str,
    limit: Duration,
) -> serde_json::Value {
    let api = actionsets(env, ns);
    let t0 = Instant::now();
    loop {
        if let Some(o) = api.get_opt(name).await.unwrap() {
            let v = serde_json::to_value(&o).unwrap();
            let s = v["status"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if s == state {
                return v;
            }
            assert!(
                !(matches!(s.as_str(), "complete" | "failed")),
                "ActionSet {name} ended {s}, not {state}: {:#}",
                v["status"]
            );
        }
        assert!(
            t0.elapsed() < limit,
            "ActionSet {name} not {state} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reasons of the events about ActionSet `name`.
pub async fn reasons(env: &Env, ns: &str, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(env.client.clone(), ns);
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

/// A named object read as JSON from a published example, put in `ns`.
pub fn in_namespace(text: &str, ns: &str) -> String {
    let mut v: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    v["metadata"]["namespace"] = ns.into();
    v.to_string()
}

/// Kanister's time-log example through whatever controller watches `ns`
/// (Blueprint `time-log-bp`, Deployment `time-logger` and Profile
/// `s3-profile` already there): backup → complete, with artifacts, phases
/// and Kanister's events → data destroyed → restore with the backup's
/// artifacts (as `kanctl --from`) → every line back → delete → nothing left
/// in S3.
pub async fn time_log_round_trip(env: &Env, ns: &str, st: &Stage) {
    let ns = ns.to_string();
    let log = |pod: String| {
        let (env, ns) = (env.clone(), ns.clone());
        async move {
            sh_in(
                &env,
                &ns,
                &pod,
                Some("test-container"),
                "cat /var/log/time.log",
            )
            .await
        }
    };
    let pod = running_pod(env, &ns, "app=time-logger").await;
    wait_until(Duration::from_secs(60), "a few log lines", || {
        let (log, pod) = (&log, pod.clone());
        async move { Ok(log(pod).await.lines().count() >= 3) }
    })
    .await
    .unwrap();
    let before = log(pod.clone()).await;

    let action = |name: &str, artifacts: Option<&serde_json::Value>| {
        let mut a = serde_json::json!({"name": name, "blueprint": "time-log-bp",
                "object": {"kind": "Deployment", "name": "time-logger", "namespace": ns},
                "profile": {"kind": "Profile", "name": "s3-profile", "namespace": ns}});
        if let Some(x) = artifacts {
            a["artifacts"] = x.clone();
        }
        a
    };
    let t0 = Instant::now();
    env.apply(&ns, &actionset("backup", &ns, action("backup", None)))
        .await
        .unwrap();
    // The conditions serve `kubectl wait` (it exits non-zero on its
    // timeout, which then fails here).
    let waited = tokio::task::spawn_blocking({
        let ns = ns.clone();
        move || {
            crate::via::kubectl_output(
                &[
                    "wait",
                    "-n",
                    &ns,
                    "--for=condition=Complete",
                    "--timeout=300s",
                    "actionsets.cr.kanister.io/backup",
                ],
                None,
            )
        }
    })
    .await
    .unwrap();
    let backup = wait_state(env, &ns, "backup", "complete", Duration::from_secs(300)).await;
    assert!(
        waited.status.success(),
        "kubectl wait --for=condition=Complete failed on a complete ActionSet: {}{} (conditions: {:#})",
        String::from_utf8_lossy(&waited.stdout),
        String::from_utf8_lossy(&waited.stderr),
        backup["status"]["conditions"]
    );
    eprintln!(
        "backup ActionSet complete in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let status = &backup["status"];
    let a = &status["actions"][0];
    assert_eq!(a["phases"][0]["name"], "backupToS3");
    assert_eq!(a["phases"][0]["state"], "complete");
    // Progress: the pushed log's bytes, counted by kando in the pod.
    let size = before.len() as i64;
    let p = &a["phases"][0]["progress"];
    assert_eq!(p["progressPercent"], "100", "{p:#}");
    let sent = p["sizeUploadedB"].as_i64().unwrap_or(0);
    assert!(
        sent >= size && p["estimatedUploadSizeB"].as_i64() == Some(sent),
        "the phase's progress must count the pushed file ({size}+ bytes): {p:#}"
    );
    assert_eq!(status["progress"]["percentCompleted"], "100");
    assert_eq!(status["progress"]["sizeUploadedB"].as_i64(), Some(sent));
    let conditions: Vec<(String, String)> = status["conditions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap_or_default().to_string(),
                        c["status"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        conditions,
        [("Running", "False"), ("Complete", "True")].map(|(a, b)| (a.to_string(), b.to_string())),
        "{:#}",
        status["conditions"]
    );
    assert!(
        a["phases"][0]["output"]["backupID"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "the phase's output is in the status: {a:#}"
    );
    let artifacts = a["artifacts"].clone();
    assert_eq!(
        artifacts["timeLog"]["keyValue"]["path"],
        format!("{}/time-log", st.s3.bucket)
    );
    assert_eq!(
        artifacts["backupIdentifier"]["keyValue"]["id"],
        a["phases"][0]["output"]["backupID"]
    );
    assert!(
        !st.s3.keys("time-log/").is_empty(),
        "the backup stored nothing"
    );
    let r = reasons(env, &ns, "backup").await;
    for want in [
        "Started Action",
        "Started Phase",
        "Ended Phase",
        "Update Complete",
    ] {
        assert!(r.iter().any(|x| x == want), "no {want:?} event: {r:?}");
    }
    // The same reasons on the target object (a Kapsel addition).
    let r = reasons(env, &ns, "time-logger").await;
    for want in ["Started Action", "Started Phase", "Ended Phase"] {
        assert!(
            r.iter().any(|x| x == want),
            "no {want:?} event on the Deployment: {r:?}"
        );
    }

    // destroy the data, restore with the backup's artifacts
    sh_in(
        env,
        &ns,
        &pod,
        Some("test-container"),
        "rm /var/log/time.log",
    )
    .await;
    env.apply(
        &ns,
        &actionset("restore", &ns, action("restore", Some(&artifacts))),
    )
    .await
    .unwrap();
    let restore = wait_state(env, &ns, "restore", "complete", Duration::from_secs(300)).await;
    let phases: Vec<_> = restore["status"]["actions"][0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("shutdownPod", "complete"),
            ("restoreFromS3", "complete"),
            ("bringupPod", "complete")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let p = &restore["status"]["actions"][0]["phases"][1]["progress"];
    assert!(
        p["sizeDownloadedB"].as_i64().unwrap_or(0) >= sent && p["progressPercent"] == "100",
        "the restore phase's progress must count the pulled file ({sent} bytes): {p:#}"
    );
    let pod = running_pod(env, &ns, "app=time-logger").await;
    let after = log(pod).await;
    assert!(
        after.starts_with(&before),
        "every line written before the backup must be back.\nbefore:\n{before}\nafter:\n{after}"
    );

    env.apply(
        &ns,
        &actionset("delete", &ns, action("delete", Some(&artifacts))),
    )
    .await
    .unwrap();
    wait_state(env, &ns, "delete", "complete", Duration::from_secs(300)).await;
    assert_eq!(
        st.s3.keys("time-log/"),
        Vec::<String>::new(),
        "the delete left data"
    );
}

/// A Kanister resource (`cr.kanister.io/v1alpha1`) of `ns`, untyped.
pub fn kanister_api(env: &Env, ns: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cr.kanister.io", "v1alpha1", kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
    Api::namespaced_with(env.client.clone(), ns, &ar)
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
