//! The Blueprint tests' actions run through the controller instead of
//! `kapsel run`: [`crate::flow::Stage::through_controller`] installs
//! charts/kapsel with Helm watching the test's namespace (for
//! Kanister-format ActionSets: the in-cluster controller a Kanister user
//! switches to) or starts a `kapsel controller --kubeconfig` process (for
//! `kapsel actionset create`), and from then on each
//! [`crate::flow::Stage::act`] creates an ActionSet — a Kanister-format
//! ActionSet given to `kubectl apply`, or `kapsel actionset create` with
//! kanctl's flags — waits for it to end, and writes it where `kapsel run -w`
//! would have, so the tests read artifacts and chain `--from` the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::image;

/// How an ActionSet is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A Kanister-format ActionSet, `kubectl apply -f -`.
    KubectlApply,
    /// `kapsel actionset create` (kanctl's flags).
    ActionsetCreate,
}

/// The controller for one test namespace, and how its ActionSets are
/// made.
pub struct Controlled {
    /// How ActionSets are made.
    pub via: Via,
    backend: Backend,
    /// ActionSet names by the file their status was written to.
    names: Vec<(String, String)>,
    count: usize,
}

/// Where the controller runs.
enum Backend {
    /// `kapsel controller --kubeconfig` as a child process (a laptop's way).
    Process { child: Child, log: PathBuf },
    /// charts/kapsel `helm install`ed in its own namespace `ctl`, watching
    /// `namespaces` (the test's first): the in-cluster controller from the
    /// testbed's `kapsel` image, as users install it.
    Chart {
        helm: PathBuf,
        kubeconfig: PathBuf,
        release: String,
        ctl: String,
        namespaces: Vec<String>,
    },
}

impl Drop for Controlled {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Backend::Chart {
                helm,
                kubeconfig,
                release,
                ctl,
                ..
            } => {
                let _ = Command::new(&*helm)
                    .arg("--kubeconfig")
                    .arg(&*kubeconfig)
                    .args([
                        "uninstall",
                        release,
                        "-n",
                        ctl,
                        "--wait",
                        "--timeout",
                        "120s",
                    ])
                    .output();
                let _ = kubectl_output(&["delete", "namespace", ctl, "--wait=false"], None);
            }
        }
    }
}

/// The CRDs (server-side apply of `kapsel crds`, as
/// `actionsets::install_crds`; a fresh cluster has none), waited for until
/// served in `ns`.
fn install_crds(bin: &Path, ns: &str) {
    // the CRDs first (server-side apply of `kapsel crds`, as
    // `actionsets::install_crds`): a fresh cluster has none
    let crds = Command::new(bin).arg("crds").output().unwrap();
    assert!(crds.status.success(), "kapsel crds failed");
    kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            crate::FIELD_MANAGER,
            "-f",
            "-",
        ],
        Some(&String::from_utf8(crds.stdout).unwrap()),
    );
    // the API serves a new CRD a moment after it is created
    let t0 = Instant::now();
    while !Command::new(testbed())
        .args([
            "kubectl",
            "get",
            "blueprints.cr.kanister.io,actionsets.cr.kanister.io,profiles.cr.kanister.io",
            "-n",
            ns,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the Kanister CRDs are not served after 60 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits (at most 120 s) until the webhook for `ns` answers: a server-side
/// dry run of an ActionSet goes through admission; any answer but a failed
/// webhook call (accepted, or refused with a diagnostic) will do. `helm
/// --wait` returns once the new pod is ready, but the Service's endpoints
/// may still point at the old one for a moment after an upgrade.
fn wait_webhook(ns: &str) {
    let probe = json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
        "metadata": {"name": "webhook-probe", "namespace": ns},
        "spec": {"actions": [{"name": "probe", "blueprint": "probe",
            "object": {"kind": "Namespace", "name": ns, "namespace": ns}}]}})
    .to_string();
    let t0 = Instant::now();
    loop {
        let out = kubectl_output(&["apply", "--dry-run=server", "-f", "-"], Some(&probe));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() || !err.contains("failed calling webhook") {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the controller's webhook does not answer after 120 s: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Helm (`KAPSEL_HELM`, else the testbed's build), if there is one.
pub fn helm_path() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("KAPSEL_HELM") {
        return Some(PathBuf::from(h));
    }
    let out = Command::new(testbed()).arg("helm-path").output().ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

fn chart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/kapsel")
}

/// `helm --kubeconfig KUBECONFIG ARGS`; panics with its output on failure.
fn helm_run(helm: &Path, kubeconfig: &Path, args: &[String]) {
    let out = Command::new(helm)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn testbed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testbed/testbed")
}

/// `kubectl ARGS` (the testbed's), `stdin` fed; panics on failure.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl_output(args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kubectl ARGS` (the testbed's), `stdin` fed: its exit status and
/// output, whatever they are.
pub fn kubectl_output(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(testbed())
        .arg("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

impl Controlled {
    /// Starts `kapsel controller` on `ns`, its log in `dir`.
    pub fn start(bin: &Path, kubeconfig: &Path, ns: &str, dir: &Path, via: Via) -> Controlled {
        Controlled::start_with(bin, kubeconfig, ns, dir, via, &[])
    }

    /// Installs charts/kapsel with Helm (release and namespace named after
    /// `ns`), watching `ns`, and waits for its Deployment; `None` when the
    /// testbed has no Helm.
    pub fn install(bin: &Path, kubeconfig: &Path, ns: &str, via: Via) -> Option<Controlled> {
        let helm = helm_path()?;
        install_crds(bin, ns);
        let suffix = &ns[ns.len().saturating_sub(8)..];
        let (release, ctl) = (format!("via-{suffix}"), format!("{ns}-kapsel"));
        let (repo, tag) = image("kapsel")
            .rsplit_once(':')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap();
        let c = Controlled {
            via,
            backend: Backend::Chart {
                helm: helm.clone(),
                kubeconfig: kubeconfig.to_path_buf(),
                release: release.clone(),
                ctl: ctl.clone(),
                namespaces: vec![ns.to_string()],
            },
            names: Vec::new(),
            count: 0,
        };
        helm_run(
            &helm,
            kubeconfig,
            &[
                "install".into(),
                release,
                chart().to_string_lossy().into_owned(),
                "-n".into(),
                ctl,
                "--create-namespace".into(),
                "--set".into(),
                format!("watch.namespaces={{{ns}}}"),
                "--set".into(),
                format!("toolsImage={}", image("tools")),
                "--set".into(),
                format!("image.repository={repo}"),
                "--set".into(),
                format!("image.tag={tag}"),
                "--set".into(),
                "logLevel=info".into(),
                "--wait".into(),
                "--timeout".into(),
                "180s".into(),
            ],
        );
        wait_webhook(ns);
        Some(c)
    }

    /// Lets the controller act on objects in `other` too (a migration's
    /// target namespace): for the chart, `helm upgrade` adding it to
    /// `watch.namespaces` (the chart grants rights where it watches), as an
    /// operator would; a process has the kubeconfig's rights already.
    pub fn reach(&mut self, other: &str) {
        if let Backend::Chart {
            helm,
            kubeconfig,
            release,
            ctl,
            namespaces,
        } = &mut self.backend
        {
            namespaces.push(other.to_string());
            helm_run(
                helm,
                kubeconfig,
                &[
                    "upgrade".into(),
                    release.clone(),
                    chart().to_string_lossy().into_owned(),
                    "-n".into(),
                    ctl.clone(),
                    "--reuse-values".into(),
                    "--set".into(),
                    format!("watch.namespaces={{{}}}", namespaces.join(",")),
                    "--wait".into(),
                    "--timeout".into(),
                    "180s".into(),
                ],
            );
            wait_webhook(&namespaces[0]);
        }
    }

    /// [`Controlled::start`] with more arguments (`--metrics-addr ...`).
    pub fn start_with(
        bin: &Path,
        kubeconfig: &Path,
        ns: &str,
        dir: &Path,
        via: Via,
        args: &[&str],
    ) -> Controlled {
        install_crds(bin, ns);
        let log = dir.join("controller.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("controller")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["-n", ns])
            .args(args)
            .env("KANISTER_TOOLS", image("tools"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap();
        Controlled {
            via,
            backend: Backend::Process { child, log },
            names: Vec::new(),
            count: 0,
        }
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        match &self.backend {
            Backend::Process { log, .. } => std::fs::read_to_string(log).unwrap_or_default(),
            Backend::Chart { ctl, .. } => {
                let out = kubectl_output(
                    &[
                        "logs",
                        "-n",
                        ctl,
                        "-l",
                        "app.kubernetes.io/name=kapsel",
                        "-c",
                        "controller",
                        "--tail=-1",
                    ],
                    None,
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        }
    }

    /// The address of the first log line `<what> listening on ADDR`
    /// (`metrics`, `webhook`), waited for (at most 60 s).
    pub fn listening(&self, what: &str) -> std::net::SocketAddr {
        let needle = format!("{what} listening on ");
        let t0 = Instant::now();
        loop {
            let log = self.log();
            if let Some(addr) = log.lines().find_map(|l| {
                let rest = &l[l.find(&needle)? + needle.len()..];
                rest.split_whitespace().next()?.parse().ok()
            }) {
                return addr;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "no `{needle}ADDR` in the controller's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `action` of the Blueprint in `dir/blueprint.yaml` on `object`
    /// (`kind/ns/name` or `namespace/name`) with the Profile in
    /// `dir/profile.yaml`, as an ActionSet in `ns`; `args` are `kapsel run`'s
    /// (`--from FILE`, `--secret NAME=NS/SECRET`, `--option K=V`). Writes the
    /// ended ActionSet to `dir/write` and returns it (JSON).
    pub fn act(
        &mut self,
        bin: &Path,
        kubeconfig: &Path,
        ns: &str,
        dir: &Path,
        (action, object, write): (&str, &str, &str),
        args: &[&str],
    ) -> String {
        let blueprint = std::fs::read_to_string(dir.join("blueprint.yaml")).unwrap();
        let bp: Value = serde_saphyr::from_str(&blueprint).unwrap();
        let bp_name = bp["metadata"]["name"].as_str().unwrap().to_string();
        kubectl(&["apply", "-n", ns, "-f", "-"], Some(&blueprint));
        // The Profile, if the test has one (a CSI Blueprint needs none).
        let profile: Option<Value> = std::fs::read_to_string(dir.join("profile.yaml"))
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap());
        if let Some(p) = &profile {
            kubectl(&["apply", "-f", "-"], Some(&p.to_string()));
        }

        let parts: Vec<&str> = object.split('/').collect();
        let (kind, obj_ns, obj_name) = match parts.as_slice() {
            [kind, ns, name] => (*kind, *ns, *name),
            ["namespace", name] => ("namespace", *name, *name),
            _ => panic!("object {object:?} is not kind/ns/name"),
        };
        let mut from = None;
        let mut secrets = serde_json::Map::new();
        let mut options = serde_json::Map::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let v = *it.next().unwrap_or_else(|| panic!("{a} without a value"));
            match *a {
                "--from" => from = Some(v),
                "--secret" => {
                    let (name, r) = v.split_once('=').unwrap();
                    let (sns, sname) = r.split_once('/').unwrap();
                    secrets.insert(name.into(), json!({"name": sname, "namespace": sns}));
                }
                "--option" => {
                    let (k, val) = v.split_once('=').unwrap();
                    options.insert(k.into(), json!(val));
                }
                other => panic!("{other} is not supported through the controller"),
            }
        }
        self.count += 1;
        let name = format!("{action}-{}", self.count);
        let parent = from.map(|f| {
            self.names
                .iter()
                .find(|(file, _)| file == f)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| panic!("--from {f}: no ActionSet was written there"))
        });
        match self.via {
            Via::KubectlApply => {
                let mut a = json!({"name": action, "blueprint": bp_name,
                    "object": {"kind": kind, "name": obj_name, "namespace": obj_ns}});
                if let Some(p) = &profile {
                    a["profile"] = json!({"kind": "Profile", "name": p["metadata"]["name"],
                        "namespace": p["metadata"]["namespace"]});
                }
                if !secrets.is_empty() {
                    a["secrets"] = Value::Object(secrets);
                }
                if !options.is_empty() {
                    a["options"] = Value::Object(options);
                }
                if let Some(p) = &parent {
                    let done: Value = serde_json::from_str(&kubectl(
                        &["get", "actionset", "-n", ns, p, "-o", "json"],
                        None,
                    ))
                    .unwrap();
                    a["artifacts"] = done["status"]["actions"][0]["artifacts"].clone();
                }
                let set = json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
                    "metadata": {"name": name, "namespace": ns}, "spec": {"actions": [a]}});
                kubectl(&["apply", "-f", "-"], Some(&set.to_string()));
            }
            Via::ActionsetCreate => {
                let flag = match kind.to_ascii_lowercase().as_str() {
                    "deployment" => "--deployment",
                    "statefulset" => "--statefulset",
                    "pvc" | "persistentvolumeclaim" => "--pvc",
                    "namespace" => "--namespacetargets",
                    other => panic!("no kanctl flag for kind {other}"),
                };
                let target = if kind == "namespace" {
                    obj_name.to_string()
                } else {
                    format!("{obj_ns}/{obj_name}")
                };
                let mut cmd = Command::new(bin);
                cmd.args(["actionset", "create", "--kubeconfig"])
                    .arg(kubeconfig)
                    .args(["-n", ns, "-a", action, "-b", &bp_name, "-A", &name])
                    .args([flag, &target]);
                if let Some(p) = &profile {
                    cmd.args(["-p", p["metadata"]["name"].as_str().unwrap()]);
                }
                for (k, v) in &secrets {
                    cmd.args([
                        "-s",
                        &format!(
                            "{k}={}/{}",
                            v["namespace"].as_str().unwrap(),
                            v["name"].as_str().unwrap()
                        ),
                    ]);
                }
                for (k, v) in &options {
                    cmd.args(["-o", &format!("{k}={}", v.as_str().unwrap())]);
                }
                if let Some(p) = &parent {
                    cmd.args(["--from", p]);
                }
                let out = cmd.output().unwrap();
                assert!(
                    out.status.success(),
                    "kapsel actionset create failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let t0 = Instant::now();
        let done = loop {
            let v: Value = serde_json::from_str(&kubectl(
                &["get", "actionset", "-n", ns, &name, "-o", "json"],
                None,
            ))
            .unwrap();
            match v["status"]["state"].as_str() {
                Some("complete") => break v,
                Some("failed") => panic!(
                    "ActionSet {name} ({action}) failed: {}\ncontroller log:\n{}",
                    v["status"]["error"]["message"],
                    self.log()
                ),
                _ => {}
            }
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "ActionSet {name} not done after 10 minutes: {:#}",
                v["status"]
            );
            std::thread::sleep(Duration::from_millis(500));
        };
        let text = done.to_string();
        std::fs::write(dir.join(write), &text).unwrap();
        self.names.retain(|(f, _)| f != write);
        self.names.push((write.to_string(), name));
        text
    }
}
