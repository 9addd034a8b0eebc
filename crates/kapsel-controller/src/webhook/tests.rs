//! AdmissionReview handling: snapshots of the responses, and the parity
//! of the webhook's Blueprint diagnostics with the CLI's on the
//! validator's corpus of broken Blueprints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

/// A YAML file as the API server holds it: JSON, keys sorted (Go's
/// `map[string]interface{}`), metadata completed.
fn as_served(yaml: &str, ns: &str) -> Value {
    let docs = kapsel_yaml::Documents::parse(yaml).unwrap();
    let mut v = docs.values().unwrap().into_iter().next().unwrap();
    let meta = v["metadata"].as_object_mut().unwrap();
    meta.insert("namespace".into(), ns.into());
    meta.insert("uid".into(), "5e0c0a52-9d61-4f4e-a1f0-2a7a1b1f0c11".into());
    meta.insert("creationTimestamp".into(), "2025-01-01T00:00:00Z".into());
    meta.insert(
        "annotations".into(),
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}),
    );
    meta.insert(
        "managedFields".into(),
        json!([{"manager": "kubectl-client-side-apply", "operation": "Update"}]),
    );
    sort_keys(v)
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        v => v,
    }
}

fn request(kind: &str, plural: &str, operation: &str, object: Value, old: Value) -> Vec<u8> {
    let meta = if object.is_null() {
        &old["metadata"]
    } else {
        &object["metadata"]
    };
    let name = meta["name"].as_str().unwrap_or_default().to_string();
    let namespace = meta["namespace"].clone();
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": "0c9a8d74-9cb7-44dd-b98e-09fd62def2f4",
            "kind": {"group": "cr.kanister.io", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "cr.kanister.io", "version": "v1alpha1", "resource": plural},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins"]},
            "object": object,
            "oldObject": old,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        }
    })
    .to_string()
    .into_bytes()
}

fn answer(resource: Resource, body: &[u8]) -> Answer {
    review(resource, body, &Metrics::new())
}

const BROKEN: &str = r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: broken
actions:
  backup:
    phases:
    - func: KubeTsk
      name: first
      args:
        image: busybox
        command: ["sh", "-c", "echo hi"]
    - func: KubeExec
      name: first
      args:
        namespace: "{{ .Object.metadata.namespace }}"
        command:
        - sh
        - -c
        - |
          echo {{ .Object.metadata.name }
    - func: KubeTask
      name: third
      args:
        image: busybox
"#;

#[test]
fn a_broken_blueprint_is_denied_with_the_clis_diagnostics() {
    let a = answer(
        Resource::Blueprint,
        &request(
            "Blueprint",
            "blueprints",
            "CREATE",
            as_served(BROKEN, "team-a"),
            Value::Null,
        ),
    );
    assert_eq!(a.status, 200);
    let response = &a.body["response"];
    assert_eq!(response["allowed"], false);
    assert_eq!(response["uid"], "0c9a8d74-9cb7-44dd-b98e-09fd62def2f4");
    assert_eq!(a.body["apiVersion"], "admission.k8s.io/v1");
    insta::assert_snapshot!(response["status"]["message"].as_str().unwrap());
    let mut body = a.body.clone();
    body["response"]["status"]["message"] = "[the message above]".into();
    insta::assert_json_snapshot!("broken_response", body);
}

#[test]
fn the_rerendering_reads_as_people_write_it() {
    insta::assert_snapshot!(blueprint_yaml(&as_served(BROKEN, "team-a")));
}

#[test]
fn a_good_blueprint_is_allowed_and_its_warnings_returned() {
    let good = BROKEN
        .replace("KubeTsk", "KubeTask")
        .replace("name: first\n      args:\n        namespace", "name: second\n      args:\n        pod: db-0\n        namespace")
        .replace("name }\n", "name }}\n")
        .replace("image: busybox\n\"#", "image: busybox\n        command: [true]\n\"#")
        .replace("    - func: KubeTask\n      name: third\n      args:\n        image: busybox\n", "    - func: Wait\n      name: third\n      args:\n        timeout: 1m\n        conditions: {}\n");
    let a = answer(
        Resource::Blueprint,
        &request(
            "Blueprint",
            "blueprints",
            "UPDATE",
            as_served(&good, "team-a"),
            as_served(BROKEN, "team-a"),
        ),
    );
    insta::assert_json_snapshot!(a.body);
    assert_eq!(a.body["response"]["allowed"], true);
}

#[test]
fn actionsets_and_profiles() {
    let set = as_served(
        "apiVersion: cr.kanister.io/v1alpha1\nkind: ActionSet\nmetadata:\n  generateName: backup-\nspec:\n  actions:\n  - name: backup\n    object:\n      name: db\n",
        "team-a",
    );
    let a = answer(
        Resource::ActionSet,
        &request(
            "ActionSet",
            "actionsets",
            "CREATE",
            set.clone(),
            Value::Null,
        ),
    );
    assert_eq!(a.body["response"]["allowed"], false);
    insta::assert_snapshot!(
        "actionset_denied",
        a.body["response"]["status"]["message"].as_str().unwrap()
    );

    // The controller's status writes: spec unchanged → allowed unchecked.
    let mut with_status = set.clone();
    with_status["status"] = json!({"state": "running"});
    let a = answer(
        Resource::ActionSet,
        &request(
            "ActionSet",
            "actionsets",
            "UPDATE",
            with_status,
            set.clone(),
        ),
    );
    assert_eq!(a.body["response"]["allowed"], true);

    let profile = as_served(
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata:\n  name: s3\nlocation:\n  type: s3Compliant\n  region: us-east-1\ncredential:\n  type: keyPair\n",
        "team-a",
    );
    let a = answer(
        Resource::Profile,
        &request("Profile", "profiles", "CREATE", profile, Value::Null),
    );
    assert_eq!(a.body["response"]["allowed"], false);
    insta::assert_snapshot!(
        "profile_denied",
        a.body["response"]["status"]["message"].as_str().unwrap()
    );

    let good = as_served(
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata:\n  name: s3\nlocation:\n  type: s3Compliant\n  bucket: b\n  region: us-east-1\ncredential:\n  type: keyPair\n  keyPair:\n    idField: id\n    secretField: secret\n    secret:\n      name: creds\n",
        "team-a",
    );
    let a = answer(
        Resource::Profile,
        &request("Profile", "profiles", "CREATE", good, Value::Null),
    );
    assert_eq!(a.body["response"]["allowed"], true, "{:#}", a.body);
}

#[test]
fn deletes_misrouted_kinds_and_bad_bodies() {
    let bp = as_served(BROKEN, "team-a");
    let a = answer(
        Resource::Blueprint,
        &request("Blueprint", "blueprints", "DELETE", Value::Null, bp.clone()),
    );
    assert_eq!(a.body["response"]["allowed"], true);

    let a = answer(
        Resource::Profile,
        &request("Blueprint", "blueprints", "CREATE", bp, Value::Null),
    );
    assert_eq!(a.body["response"]["allowed"], false);
    insta::assert_snapshot!(
        "misrouted",
        a.body["response"]["status"]["message"].as_str().unwrap()
    );

    let a = answer(Resource::Blueprint, b"{not json");
    assert_eq!(a.status, 400);
    assert!(
        a.body
            .as_str()
            .unwrap()
            .starts_with("not an AdmissionReview: "),
        "{}",
        a.body
    );
    let a = answer(
        Resource::Blueprint,
        br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#,
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.body, "an AdmissionReview without a request");
}

/// The codes, messages and helps of `kapsel blueprint validate --strict`
/// on a file, and of the webhook on the same Blueprint as the API server
/// sends it, are the same for every Blueprint of the validator's corpus
/// that can reach the API server, but for the YAML-only findings listed.
#[test]
fn the_webhook_says_what_the_cli_says_on_the_validators_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kapsel-validate/tests");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["broken", "valid"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    let opts = kapsel_validate::Options {
        kanister_strict: true,
        ..kapsel_validate::Options::default()
    };
    // Findings about the YAML text itself, which JSON does not carry:
    // syntax, several documents, duplicate keys (kubectl refuses them),
    // scalars YAML 1.1 and 1.2 read differently.
    const YAML_ONLY: [&str; 6] = ["KV0001", "KV0002", "KV0003", "KV0005", "KV0006", "KV0007"];
    let mut compared = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let cli = kapsel_validate::validate_source("f.yaml", &text, &opts);
        let Ok(docs) = kapsel_yaml::Documents::parse(&text) else {
            continue;
        };
        let Ok(values) = docs.values() else {
            continue;
        };
        let Some(doc) = values.into_iter().next().filter(Value::is_object) else {
            continue;
        };
        if doc["metadata"].as_object().is_none() {
            continue;
        }
        let served = sort_keys(doc);
        let hook = kapsel_validate::validate_source("blueprint/x", &blueprint_yaml(&served), &opts);
        let key = |d: &kapsel_validate::Diagnostic| (d.code, d.message.clone(), d.help.clone());
        let mut want: Vec<_> = cli
            .diagnostics
            .iter()
            .filter(|d| !YAML_ONLY.contains(&d.code))
            // The API server keeps only ObjectMeta's fields.
            .filter(|d| !(d.code == "KV0103" && d.message.ends_with("in `metadata`")))
            .map(key)
            .collect();
        let mut got: Vec<_> = hook.diagnostics.iter().map(key).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{}", f.display());
        compared += 1;
    }
    assert!(compared >= 55, "only {compared} files compared");
}

/// A CA and serving certificates it signs for 127.0.0.1 and localhost.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kapsel test CA");
        let cert = params.self_signed(&key).unwrap();
        Ca {
            issuer: rcgen::Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    /// Writes a new serving certificate to `dir`; returns its DER.
    fn serve_cert(&self, dir: &Path) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
        cert.der().to_vec()
    }
}

/// One request over TLS: the certificate the server presented and the
/// HTTP response text.
async fn post(ca: &Ca, addr: SocketAddr, path: &str, body: &[u8]) -> (Vec<u8>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    (cert, String::from_utf8_lossy(&out).into_owned())
}

/// The server starts once the files exist, answers over TLS with a
/// certificate the CA signed, and serves a rotated certificate without a
/// restart; a broken pair keeps the previous one in use.
#[tokio::test]
async fn the_tls_server_starts_with_its_certificate_and_follows_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let opts = WebhookOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        cert_dir: dir.path().to_path_buf(),
        reload_every: Duration::from_millis(50),
    };
    let server = tokio::spawn(serve_inner(
        opts,
        Arc::new(Metrics::new()),
        stop.clone(),
        Some(tx),
    ));
    let mut rx = rx;
    // No files: not listening.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "listening without a certificate");
    let first = ca.serve_cert(dir.path());
    let addr = rx.await.unwrap();

    let body = request(
        "Blueprint",
        "blueprints",
        "CREATE",
        as_served(BROKEN, "ns"),
        Value::Null,
    );
    let (cert, response) = post(&ca, addr, BLUEPRINT_PATH, &body).await;
    assert_eq!(cert, first);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains(r#""allowed":false"#), "{response}");
    assert!(
        response.contains("KV0201 at actions.backup.phases[0].func"),
        "{response}"
    );
    let (_, response) = post(&ca, addr, "/validate/v1alpha1/pod", &body).await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    let (_, response) = post(&ca, addr, PROFILE_PATH, b"{}").await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    // Rotation (as cert-manager writes the Secret).
    let second = ca.serve_cert(dir.path());
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = post(&ca, addr, BLUEPRINT_PATH, &body).await.0;
        if seen == second {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, second, "the rotated certificate is not served");

    // A key that does not match: the previous pair stays.
    let other = tempfile::tempdir().unwrap();
    ca.serve_cert(other.path());
    std::fs::copy(other.path().join("tls.key"), dir.path().join("tls.key")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(post(&ca, addr, BLUEPRINT_PATH, &body).await.0, second);

    stop.cancel();
    server.await.unwrap();
}
