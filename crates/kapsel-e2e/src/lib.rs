//! End-to-end test harness for Kapsel.
//!
//! Tests built on this crate run against the real Kubernetes cluster named by
//! `KUBECONFIG` — normally the project's own testbed (`testbed/testbed up`,
//! see `docs/testbed.md`), but any cluster works.
//!
//! * [`Env::connect`] connects with kube-rs. When `KUBECONFIG` is unset or the
//!   cluster cannot be reached it prints a loud `SKIP` line and returns
//!   `None`, so `cargo test --workspace` passes on machines without a
//!   cluster — unless `KAPSEL_E2E=1` is set, in which case it panics.
//! * [`Env::run`] creates a throwaway namespace, runs the test body in it and
//!   deletes the namespace afterwards, also when the body panics.
//! * Helpers apply multi-document YAML (server-side apply), wait for
//!   conditions, exec into pods and read logs.
//!
//! Images: the fixtures in `testbed/manifests/apps/` use the testbed's local
//! images `kapsel.local/testbed/<name>:testbed`. Against another cluster set
//! `KAPSEL_E2E_IMAGE_PREFIX` (replaces `kapsel.local/testbed/`) and
//! `KAPSEL_E2E_IMAGE_TAG` (replaces the tag `testbed`).

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{
    Api, AttachParams, DeleteParams, DynamicObject, LogParams, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, Config, ResourceExt};
use tokio::io::AsyncReadExt;

/// Errors from the harness helpers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API returned an error.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// A manifest could not be parsed.
    #[error("manifest: {0}")]
    Manifest(String),
    /// Reading a file failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A wait timed out.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

pub mod actionsets;
pub mod evidence;
pub mod flow;
pub mod pg;
pub mod run;
pub mod s3;
pub mod via;
pub mod watch;
pub mod webhook;

/// Result type of the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Field manager name used for server-side apply.
pub const FIELD_MANAGER: &str = "kapsel-e2e";
/// Label put on every namespace the harness creates.
pub const NAMESPACE_LABEL: &str = "kapsel.dev/e2e";

/// Whether end-to-end tests are required (`KAPSEL_E2E=1`): then a missing
/// cluster is a failure instead of a skip.
pub fn required() -> bool {
    std::env::var("KAPSEL_E2E").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Says on the process's stderr that `test` is skipped and why (panics
/// instead when [`required`]).
pub fn skip(test: &str, why: &str) {
    // Straight to the process's stderr: the test harness captures
    // `eprintln!`, and a skip must show in the run's output.
    use std::io::Write as _;
    let mut err = std::io::stderr();
    assert!(
        !required(),
        "KAPSEL_E2E=1 but no usable cluster for e2e test `{test}`: {why}"
    );
    let _ = writeln!(err);
    let _ = writeln!(
        err,
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    );
    let _ = writeln!(err, "!! SKIP e2e test `{test}`: {why}");
    let _ = writeln!(
        err,
        "!! Start the testbed (sudo testbed/testbed up) and export KUBECONFIG,"
    );
    let _ = writeln!(
        err,
        "!! or set KAPSEL_E2E=1 to make this a failure. See docs/testbed.md."
    );
    let _ = writeln!(
        err,
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    );
    let _ = writeln!(err);
}

/// A connection to the cluster under test.
#[derive(Clone)]
pub struct Env {
    /// The kube-rs client.
    pub client: Client,
    test: String,
}

impl Env {
    /// Connect to the cluster named by `KUBECONFIG`, or return `None` after
    /// printing a SKIP message (panics instead when [`required`]).
    pub async fn connect(test: &str) -> Option<Env> {
        let Some(path) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) else {
            skip(test, "KUBECONFIG is not set");
            return None;
        };
        let client = match client_from_kubeconfig().await {
            Ok(c) => c,
            Err(e) => {
                skip(test, &format!("cannot load KUBECONFIG={path:?}: {e}"));
                return None;
            }
        };
        match tokio::time::timeout(Duration::from_secs(15), client.apiserver_version()).await {
            Ok(Ok(_)) => Some(Env {
                client,
                test: test.to_owned(),
            }),
            Ok(Err(e)) => {
                skip(test, &format!("cluster in {path:?} is unreachable: {e}"));
                None
            }
            Err(_) => {
                skip(test, &format!("cluster in {path:?} did not answer in 15s"));
                None
            }
        }
    }

    /// Run `body` in a fresh namespace named `kapsel-e2e-<test>-<random>`,
    /// then delete the namespace (even if `body` panicked; the panic is
    /// re-raised afterwards). Set `KAPSEL_E2E_KEEP=1` to keep namespaces of
    /// failed tests for debugging.
    pub async fn run<F, Fut>(&self, body: F)
    where
        F: FnOnce(Env, String) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let ns = self.create_namespace().await.unwrap_or_else(|e| {
            panic!("creating a namespace for {}: {e}", self.test);
        });
        let outcome = tokio::spawn(body(self.clone(), ns.clone())).await;
        let keep = outcome.is_err() && std::env::var("KAPSEL_E2E_KEEP").is_ok_and(|v| v == "1");
        if keep {
            eprintln!("keeping namespace {ns} of failed test {}", self.test);
        } else if let Err(e) = self.delete_namespace(&ns).await {
            eprintln!("warning: deleting namespace {ns}: {e}");
        }
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => panic!("test body of {} failed: {e}", self.test),
            }
        }
    }

    /// Create a throwaway namespace and return its name.
    pub async fn create_namespace(&self) -> Result<String> {
        let slug: String = self
            .test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "kapsel-e2e-{}-{:06x}",
            slug.trim_matches('-'),
            rand::random::<u32>() & 0xff_ffff
        );
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {NAMESPACE_LABEL: "true"}},
        }))
        .map_err(|e| Error::Manifest(e.to_string()))?;
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        // the namespace's default ServiceAccount is created asynchronously;
        // pods are refused until it exists
        let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(self.client.clone(), &name);
        wait_until(Duration::from_secs(30), "default ServiceAccount", || {
            let sa = sa.clone();
            async move { Ok(sa.get_opt("default").await?.is_some()) }
        })
        .await?;
        Ok(name)
    }

    /// Delete a namespace and wait until it is gone (at most 3 minutes).
    /// Its pods, logs, events and Kanister objects are kept as evidence
    /// first ([`evidence::collect`]), for the suite's secret search.
    pub async fn delete_namespace(&self, name: &str) -> Result<()> {
        evidence::collect(self, name).await;
        let api = Api::<Namespace>::all(self.client.clone());
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        wait_until(
            Duration::from_secs(180),
            &format!("namespace {name} to be deleted"),
            || {
                let api = api.clone();
                let name = name.to_owned();
                async move { Ok(api.get_opt(&name).await?.is_none()) }
            },
        )
        .await
    }

    /// Server-side apply every document of `yaml` (into `ns` for namespaced
    /// kinds). Returns the applied objects.
    pub async fn apply(&self, ns: &str, yaml: &str) -> Result<Vec<DynamicObject>> {
        apply(&self.client, ns, yaml).await
    }

    /// Pods API of a namespace.
    pub fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Run `cmd` in a container and return (stdout, stderr, success).
    pub async fn exec(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        cmd: &[&str],
    ) -> Result<ExecOutput> {
        exec(&self.client, ns, pod, container, cmd).await
    }

    /// The logs of a pod's (first or named) container.
    pub async fn logs(&self, ns: &str, pod: &str, container: Option<&str>) -> Result<String> {
        let lp = LogParams {
            container: container.map(str::to_owned),
            ..LogParams::default()
        };
        Ok(self.pods(ns).logs(pod, &lp).await?)
    }
}

async fn client_from_kubeconfig() -> Result<Client, String> {
    let kc = Kubeconfig::read().map_err(|e| e.to_string())?;
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(cfg).map_err(|e| e.to_string())
}

/// Output of [`exec`].
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Whether the command exited with status 0.
    pub success: bool,
    /// The status message the API server reported.
    pub status: Option<String>,
}

/// Run `cmd` in a container of a pod (no stdin, no tty).
pub async fn exec(
    client: &Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    cmd: &[&str],
) -> Result<ExecOutput> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut ap = AttachParams::default().stdout(true).stderr(true);
    if let Some(c) = container {
        ap = ap.container(c);
    }
    let mut proc = api.exec(pod, cmd.iter().copied(), &ap).await?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    let out = proc.stdout();
    let err = proc.stderr();
    let status = proc.take_status();
    let read_out = async {
        if let Some(mut o) = out {
            o.read_to_string(&mut stdout).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let read_err = async {
        if let Some(mut e) = err {
            e.read_to_string(&mut stderr).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let (a, b) = tokio::join!(read_out, read_err);
    a?;
    b?;
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    proc.join()
        .await
        .map_err(|e| Error::Manifest(format!("exec stream: {e}")))?;
    let success = status.as_ref().and_then(|s| s.status.as_deref()) == Some("Success");
    Ok(ExecOutput {
        stdout,
        stderr,
        success,
        status: status.and_then(|s| s.message),
    })
}

/// Server-side apply every document of `yaml`.
pub async fn apply(client: &Client, ns: &str, yaml: &str) -> Result<Vec<DynamicObject>> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| Error::Manifest(e.to_string()))?;
    let mut applied = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let obj: DynamicObject =
            serde_json::from_value(doc).map_err(|e| Error::Manifest(e.to_string()))?;
        let tm = obj
            .types
            .clone()
            .ok_or_else(|| Error::Manifest("document without apiVersion/kind".into()))?;
        let gvk = GroupVersionKind::try_from(&tm).map_err(|e| Error::Manifest(e.to_string()))?;
        let (ar, caps) = discovery::pinned_kind(client, &gvk).await?;
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            Api::namespaced_with(client.clone(), ns, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let name = obj.name_any();
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        applied.push(api.patch(&name, &pp, &Patch::Apply(&obj)).await?);
    }
    Ok(applied)
}

/// Poll `check` every second until it returns `Ok(true)`; errors from
/// `check` are retried (they are reported if the wait times out).
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_err = None;
    loop {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last_err = Some(e.to_string()),
        }
        if tokio::time::Instant::now() >= deadline {
            let what = match last_err {
                Some(e) => format!("{what} (last error: {e})"),
                None => what.to_owned(),
            };
            return Err(Error::Timeout(timeout, what));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Directory of the testbed's app fixtures (`testbed/manifests/apps`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testbed/manifests/apps")
}

/// The YAML of an app fixture (`postgresql`, `mariadb`, `mysql`, `redis`,
/// `etcd`), with image names rewritten by [`image`].
pub fn fixture(name: &str) -> Result<String> {
    let text = std::fs::read_to_string(fixtures_dir().join(format!("{name}.yaml")))?;
    Ok(rewrite_images(&text))
}

const TESTBED_PREFIX: &str = "kapsel.local/testbed/";
const TESTBED_TAG: &str = "testbed";

/// The image reference for a testbed image (`tools`, `redis-tools`,
/// `mysql-sidecar`, `postgresql`, `mariadb`, `redis`, `etcd`), honouring
/// `KAPSEL_E2E_IMAGE_PREFIX` and `KAPSEL_E2E_IMAGE_TAG`.
pub fn image(name: &str) -> String {
    rewrite_images(&format!("{TESTBED_PREFIX}{name}:{TESTBED_TAG}"))
}

fn rewrite_images(text: &str) -> String {
    let prefix = std::env::var("KAPSEL_E2E_IMAGE_PREFIX").ok();
    let tag = std::env::var("KAPSEL_E2E_IMAGE_TAG").ok();
    if prefix.is_none() && tag.is_none() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(TESTBED_PREFIX) {
        out.push_str(&rest[..i]);
        let after = &rest[i + TESTBED_PREFIX.len()..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        let reference = &after[..end];
        let (name, t) = reference
            .split_once(':')
            .unwrap_or((reference, TESTBED_TAG));
        out.push_str(prefix.as_deref().unwrap_or(TESTBED_PREFIX));
        out.push_str(name);
        out.push(':');
        out.push_str(if t == TESTBED_TAG {
            tag.as_deref().unwrap_or(TESTBED_TAG)
        } else {
            t
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Kanister's published examples (`KANISTER_EXAMPLES`, else
/// `<workspace>/../shared/kanister-examples`); `None` after saying so when
/// absent (a failure in CI).
pub fn kanister_examples(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KANISTER_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kanister-examples")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} missing in CI",
        dir.display()
    );
    skip(test, &format!("{} not found", dir.display()));
    None
}

/// The `kapsel` binary of this build (`KAPSEL_BIN_DIR`, else next to the
/// test binary's directory, where `cargo build --bin kapsel` and the
/// testbed put it).
pub fn kapsel_bin() -> Result<PathBuf> {
    let dir = match std::env::var_os("KAPSEL_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()?
            .parent()
            .and_then(|d| d.parent())
            .map(PathBuf::from)
            .ok_or_else(|| Error::Other("no target directory".into()))?,
    };
    let bin = dir.join("kapsel");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(Error::Other(format!(
            "{} not found: build it first (cargo build --bin kapsel)",
            bin.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_exist_and_parse() {
        for name in ["postgresql", "mariadb", "mysql", "redis", "etcd"] {
            let text = fixture(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let docs: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                docs.iter().any(|d| d["kind"] == "StatefulSet"),
                "{name} has a StatefulSet"
            );
        }
    }

    #[test]
    fn image_names() {
        if std::env::var_os("KAPSEL_E2E_IMAGE_PREFIX").is_none()
            && std::env::var_os("KAPSEL_E2E_IMAGE_TAG").is_none()
        {
            assert_eq!(image("tools"), "kapsel.local/testbed/tools:testbed");
        }
    }
}
