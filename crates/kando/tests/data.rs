#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando data backup|restore|delete|stats|check` through the real binary
//! (the contract is docs/kando.md): a tree with every file
//! type round trips byte- and metadata-exact through a filesystem Profile,
//! and through S3 (SeaweedFS started by the test; skipped loudly without
//! `weed` unless KAPSEL_S3_TESTS=1), Azure (Azurite) and GCS
//! (fake-gcs-server, which serves reads and deletes only: the backup is
//! written through a filesystem Profile and copied in).

mod support;

use std::path::{Path, PathBuf};

use kapsel_testkit::tree::{describe, make_tree};
use support::{
    GCS_BUCKET, azure_profile, fs_profile, gcs_profile, gcs_upload_tree, s3_profile, start_azurite,
    start_fake_gcs, start_weed,
};

/// kando with no password in its environment but what `env` gives.
use support::kando_clean as kando;

const PW: (&str, &str) = ("KAPSEL_REPO_PASSWORD", "data-pw");

/// Run, require success, return the one JSON line of stdout.
fn ok_json(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> serde_json::Value {
    ok_json_stderr(args, env, stdin).0
}

/// [`ok_json`] and stderr.
fn ok_json_stderr(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> (serde_json::Value, String) {
    let out = kando(args, env, stdin);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s.lines().count(), 1, "one JSON line expected: {s:?}");
    (serde_json::from_str(s.trim()).unwrap(), err)
}

/// The bytes of kando's last transfer line (`kando: sent|received N bytes`).
fn transfer_line(stderr: &str, direction: &str) -> u64 {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("kando: {direction} ")))
        .collect();
    assert_eq!(lines.len(), 1, "one `kando: {direction}` line: {stderr}");
    lines[0]
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("malformed: {}", lines[0]))
}

/// A tree backed up under `apps/db`: its snapshot id and size, and the
/// source tree (kept until dropped).
struct Backup {
    id: String,
    size: u64,
    root: PathBuf,
    _src: tempfile::TempDir,
}

/// Back up the test tree under `apps/db` through `profile` (tags `nightly`
/// and `x`, host `pod-1`).
fn backup(profile: &str) -> Backup {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let root = src.path().join("d");
    let rs = root.to_str().unwrap();
    let p = profile;
    let (b, berr) = ok_json_stderr(
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
    // Its progress: every file byte counted as sent (kapsel_engine::progress
    // reads this line into an ActionSet's status).
    assert_eq!(transfer_line(&berr, "sent"), size);
    Backup {
        id,
        size,
        root,
        _src: src,
    }
}

/// What only reads the repository of [`backup`] through `profile`:
/// restores (by id prefix, by tag with `--secrets-stdin`, a sub-path),
/// stats, check (healthy, wrong password, missing repository) and the
/// errors of bad ids and paths.
fn reads(profile: &str, b: &Backup) {
    let (p, id, size, root) = (profile, b.id.as_str(), b.size, &b.root);

    // Restore by id prefix: the tree under TARGET/<absolute path>.
    let out = tempfile::tempdir().unwrap();
    let (r, rerr) = ok_json_stderr(
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
    assert_eq!(r["snapshotID"], id);
    assert_eq!(r["fileCount"], 6);
    assert_eq!(r["size"].as_u64().unwrap(), size);
    assert_eq!(transfer_line(&rerr, "received"), size);
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_eq!(describe(&restored), describe(root));

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
    assert_eq!(r["snapshotID"], id);
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
            id,
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
            id,
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
            id,
        ],
    ] {
        let o = kando(&args, &[PW], b"");
        assert!(!o.status.success(), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(!o.stderr.is_empty());
        assert!(!Path::new("/tmp/never-created-kando").exists());
    }
}

/// Backup, restores (by id, by tag, a sub-path), stats, check, delete.
fn round_trip(profile: &str, corrupt_dir: Option<&Path>) {
    let b = backup(profile);
    reads(profile, &b);
    let (p, id, root) = (profile, b.id.as_str(), &b.root);
    let rs = root.to_str().unwrap();
    let out2 = tempfile::tempdir().unwrap();
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
            id,
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
    round_trip(&fs_profile(d.path(), "pre"), Some(d.path()));
}

#[test]
fn tree_round_trip_s3() {
    let Some(w) = start_weed() else { return };
    round_trip(&s3_profile(w.port, "kapsel-test", "team"), None);
}

/// The same tree round trip against Azure Blob storage (Azurite).
#[test]
fn tree_round_trip_azure() {
    let Some(az) = start_azurite() else {
        return;
    };
    round_trip(&azure_profile(az.port, "kapsel-test", "trees"), None);
}

/// The reads of the tree round trip against GCS (fake-gcs-server), then
/// the delete of the whole data repository that Kanister's LocationDelete
/// does. fake-gcs-server has no XML API upload (tests/gcs.rs), so the backup
/// is written through a filesystem Profile and its objects copied into the
/// bucket with fake-gcs-server's JSON upload.
#[test]
fn tree_round_trip_gcs() {
    let Some(g) = start_fake_gcs() else { return };
    let d = tempfile::tempdir().unwrap();
    let b = backup(&fs_profile(d.path(), "trees"));
    let n = gcs_upload_tree(g.port, GCS_BUCKET, d.path(), "");
    let p = gcs_profile(g.port, GCS_BUCKET, "trees");
    reads(&p, &b);
    // LocationDelete of the artifact's prefix: every object of the data
    // repository (list, delete), the config last.
    let out = kando(
        &["location", "delete", "--profile", &p, "--path", "apps/db"],
        &[PW],
        b"",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "deleted the data repository at apps/db ({n} objects)"
        )),
        "{err}"
    );
    let c = ok_json(
        &["data", "check", "--profile", &p, "--path", "apps/db"],
        &[PW],
        b"",
    );
    assert_eq!(c["repoUnavailable"], true);
}
