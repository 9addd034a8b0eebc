//! What the suite leaves to be searched for secrets: before a test
//! namespace is deleted ([`crate::Env::delete_namespace`], which
//! [`crate::Env::run`] calls), every pod (spec and status), the logs of
//! every container, every event and every ActionSet, Blueprint and Profile
//! in it are written to the evidence directory, and the values of its
//! Secrets to a separate list. The last test binary (`tests/zz_no_secrets.rs`)
//! searches all the evidence of the run for all those values.
//!
//! Tests add what lives outside the cluster (a controller's log file) with
//! [`text`]. The directory is `KAPSEL_E2E_EVIDENCE`, else
//! `<temp>/kapsel-e2e-evidence`; the search empties it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, LogParams};
use kube::core::GroupVersionKind;

use crate::Env;

/// The evidence directory (created).
pub fn dir() -> PathBuf {
    let d = std::env::var_os("KAPSEL_E2E_EVIDENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kapsel-e2e-evidence"));
    std::fs::create_dir_all(d.join("texts")).unwrap();
    d
}

/// Secret values shorter than this are not searched for (a port, `true`).
pub const MIN_SECRET_LEN: usize = 8;

/// Keeps `body` (a log, a status) as evidence under `name`.
pub fn text(name: &str, body: &str) {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir()
        .join("texts")
        .join(format!("{safe}-{:08x}.txt", rand::random::<u32>()));
    std::fs::write(path, body).unwrap();
}

/// Adds secret values to the list the search uses.
pub fn secrets<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir().join("secrets.jsonl"))
        .unwrap();
    for v in values {
        if v.len() >= MIN_SECRET_LEN {
            writeln!(f, "{}", serde_json::to_string(v).unwrap()).unwrap();
        }
    }
}

fn kanister(env: &Env, ns: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cr.kanister.io", "v1alpha1", kind);
    Api::namespaced_with(
        env.client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Writes the namespace's evidence (best effort: a namespace half gone
/// still gives what it has).
pub async fn collect(env: &Env, ns: &str) {
    let lp = ListParams::default();
    let mut texts: Vec<(String, String)> = Vec::new();
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    if let Ok(list) = pods.list(&lp).await {
        for p in list.items {
            let name = p.metadata.name.clone().unwrap_or_default();
            let containers: Vec<String> = p
                .spec
                .iter()
                .flat_map(|s| {
                    s.init_containers
                        .iter()
                        .flatten()
                        .chain(s.containers.iter())
                        .map(|c| c.name.clone())
                })
                .collect();
            texts.push((format!("pod {name}"), serde_json::to_string(&p).unwrap()));
            for c in containers {
                let lp = LogParams {
                    container: Some(c.clone()),
                    ..LogParams::default()
                };
                if let Ok(log) = pods.logs(&name, &lp).await {
                    texts.push((format!("log {name}/{c}"), log));
                }
            }
        }
    }
    let events: Api<Event> = Api::namespaced(env.client.clone(), ns);
    if let Ok(list) = events.list(&lp).await {
        for e in list.items {
            texts.push(("event".into(), serde_json::to_string(&e).unwrap()));
        }
    }
    for (kind, plural) in [
        ("ActionSet", "actionsets"),
        ("Blueprint", "blueprints"),
        ("Profile", "profiles"),
    ] {
        if let Ok(list) = kanister(env, ns, kind, plural).list(&lp).await {
            for o in list.items {
                texts.push((kind.to_string(), serde_json::to_string(&o).unwrap()));
            }
        }
    }
    let secrets_api: Api<Secret> = Api::namespaced(env.client.clone(), ns);
    let mut values = Vec::new();
    if let Ok(list) = secrets_api.list(&lp).await {
        for s in list.items {
            let name = s.metadata.name.clone().unwrap_or_default();
            let ty = s.type_.clone().unwrap_or_default();
            // a task's command (no secret of its own: the secrets in it are
            // the Profile's and the Secrets' already listed), Helm's
            // release record, a certificate's public parts
            if name.starts_with("kapsel-command-") || ty.starts_with("helm.sh/") {
                continue;
            }
            for (k, v) in s.data.unwrap_or_default() {
                if ty == "kubernetes.io/tls" && k != "tls.key" {
                    continue;
                }
                if let Ok(text) = String::from_utf8(v.0) {
                    values.push(text);
                }
            }
        }
    }
    secrets(values.iter().map(String::as_str));
    let body: String = texts
        .into_iter()
        .map(|(what, t)| serde_json::json!({"ns": ns, "what": what, "text": t}).to_string() + "\n")
        .collect();
    std::fs::write(dir().join(format!("{ns}.jsonl")), body).unwrap();
}
