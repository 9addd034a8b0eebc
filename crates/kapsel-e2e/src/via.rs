//! The Blueprint tests' actions run through the controller instead of
//! `kapsel run`: [`crate::flow::Stage::through_controller`] starts `kapsel
//! controller` on the test's namespace, and from then on each
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

/// `kapsel controller` for one test namespace, and how its ActionSets are
/// made.
pub struct Controlled {
    /// How ActionSets are made.
    pub via: Via,
    child: Child,
    log: PathBuf,
    /// ActionSet names by the file their status was written to.
    names: Vec<(String, String)>,
    count: usize,
}

impl Drop for Controlled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

    /// [`Controlled::start`] with more arguments (`--metrics-addr ...`).
    pub fn start_with(
        bin: &Path,
        kubeconfig: &Path,
        ns: &str,
        dir: &Path,
        via: Via,
        args: &[&str],
    ) -> Controlled {
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
            child,
            log,
            names: Vec::new(),
            count: 0,
        }
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
        let profile: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("profile.yaml")).unwrap())
                .unwrap();
        kubectl(&["apply", "-f", "-"], Some(&profile.to_string()));

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
                    "object": {"kind": kind, "name": obj_name, "namespace": obj_ns},
                    "profile": {"kind": "Profile", "name": profile["metadata"]["name"],
                        "namespace": profile["metadata"]["namespace"]}});
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
                    .args(["-p", profile["metadata"]["name"].as_str().unwrap()])
                    .args([flag, &target]);
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
