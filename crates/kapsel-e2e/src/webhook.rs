//! The controller's validating webhook and metrics server, driven from
//! tests: a CA and a serving certificate for 127.0.0.1 (rcgen), a
//! ValidatingWebhookConfiguration pointing the API server at the
//! controller run out of the cluster (removed when dropped, also after a
//! failure), and plain HTTP GETs of the metrics server.
//!
//! The API server of the testbed runs on this host, so it reaches
//! `https://127.0.0.1:PORT`. Each registration is scoped to one namespace
//! (a `namespaceSelector` on its name), so other tests never meet it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use base64::Engine;

use crate::via::kubectl_output;

/// A CA and the serving certificate it signed for `127.0.0.1` and
/// `localhost`, written as `tls.crt` and `tls.key` (a kubernetes.io/tls
/// Secret's keys) in a directory.
pub struct ServingCert {
    /// The CA certificate (PEM): the webhook configuration's `caBundle`.
    pub ca_pem: String,
}

impl ServingCert {
    /// Makes them and writes `dir/tls.crt` and `dir/tls.key`.
    pub fn write(dir: &Path) -> ServingCert {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "kapsel e2e webhook CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
        std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("tls.crt"), leaf.pem()).unwrap();
        ServingCert {
            ca_pem: ca_cert.pem(),
        }
    }
}

/// A ValidatingWebhookConfiguration sending `ns`'s Blueprints and Profiles
/// (CREATE, UPDATE) and ActionSets (CREATE) to the webhook at `addr`;
/// deleted when dropped.
pub struct Registration {
    /// Its name.
    pub name: String,
}

impl Registration {
    /// Registers it (failurePolicy Fail) with `cert`'s CA.
    pub fn create(name: &str, ns: &str, addr: SocketAddr, cert: &ServingCert) -> Registration {
        let ca = base64::engine::general_purpose::STANDARD.encode(&cert.ca_pem);
        let hooks: Vec<serde_json::Value> = [
            ("blueprints", "blueprint", vec!["CREATE", "UPDATE"]),
            ("profiles", "profile", vec!["CREATE", "UPDATE"]),
            ("actionsets", "actionset", vec!["CREATE"]),
        ]
        .into_iter()
        .map(|(plural, path, ops)| {
            serde_json::json!({
                "name": format!("{plural}.{ns}.validate.kapsel.dev"),
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 10,
                "clientConfig": {
                    "url": format!("https://{addr}/validate/v1alpha1/{path}"),
                    "caBundle": ca,
                },
                "rules": [{"apiGroups": ["cr.kanister.io"], "apiVersions": ["v1alpha1"],
                    "operations": ops, "resources": [plural], "scope": "Namespaced"}],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            })
        })
        .collect();
        let config = serde_json::json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name, "labels": {"kapsel.dev/e2e": "webhook"}},
            "webhooks": hooks,
        });
        let out = kubectl_output(&["apply", "-f", "-"], Some(&config.to_string()));
        assert!(
            out.status.success(),
            "registering the webhook: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Registration {
            name: name.to_string(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let out = kubectl_output(
            &[
                "delete",
                "validatingwebhookconfiguration",
                &self.name,
                "--ignore-not-found",
            ],
            None,
        );
        if !out.status.success() {
            eprintln!(
                "warning: deleting ValidatingWebhookConfiguration {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `GET path` over plain HTTP/1.1: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_string())
}

/// The value of the sample `name{labels}` (labels as written, e.g.
/// `resolution="success"`; empty for none) in a Prometheus text scrape.
pub fn sample(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}
