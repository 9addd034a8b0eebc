#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location` end to end through the real binary, on a filesystem Profile.

mod support;

use std::process::{Command, Output, Stdio};

/// kando with no password in its environment but what `env` gives.
use support::kando_clean as kando;

fn profile(dir: &std::path::Path) -> String {
    support::fs_profile(dir, "pre")
}

const PW: (&str, &str) = ("KAPSEL_REPO_PASSWORD", "s3cret");

fn data(n: usize, seed: u8) -> Vec<u8> {
    let mut s = seed as u64 + 1;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 3 == 0 {
                b'a' + (i % 7) as u8
            } else {
                (s >> 56) as u8
            }
        })
        .collect()
}

#[test]
fn push_pull_delete_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let v1 = data(3_000_000, 1);
    let out = kando(
        &[
            "location",
            "push",
            "--profile",
            &p,
            "--path",
            "/db/dump.sql",
            "-",
        ],
        &[PW],
        &v1,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("###Phase-output###: "))
        .unwrap();
    let marker: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("###Phase-output###: ")).unwrap();
    assert_eq!(marker["key"], "kandoOutput");
    let desc: serde_json::Value = serde_json::from_str(marker["value"].as_str().unwrap()).unwrap();
    assert_eq!(desc["logicalSize"], 3_000_000);
    let id1 = desc["id"].as_str().unwrap().to_string();
    assert!(d.path().join("pre/kapsel/config").is_file());

    // A second push of new content to the same path; pull gets the newest.
    let v2 = data(1_000_000, 2);
    let out = kando(
        &[
            "location",
            "push",
            "-p",
            &p,
            "-s",
            "/db/dump.sql",
            "-o",
            "snap",
            "-",
        ],
        &[PW],
        &v2,
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#"{"key":"snap","value":"{\"id\":"#));
    let out = kando(
        &[
            "location",
            "pull",
            "--profile",
            &p,
            "--path",
            "/db/dump.sql",
            "-",
        ],
        &[PW],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == v2);
    // --kopia-snapshot picks the older one; both the JSON and a bare id work.
    let desc1 = serde_json::json!({"id": id1}).to_string();
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            &p,
            "-s",
            "/db/dump.sql",
            "--kopia-snapshot",
            &desc1,
            "-",
        ],
        &[PW],
        b"",
    );
    assert!(out.stdout == v1);
    // Pull to a file.
    let f = d.path().join("out.bin");
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            &p,
            "-s",
            "/db/dump.sql",
            "-k",
            &id1,
            f.to_str().unwrap(),
        ],
        &[PW],
        b"",
    );
    assert!(out.status.success());
    assert!(std::fs::read(&f).unwrap() == v1);

    // Wrong password: a clear error, non-zero exit.
    let out = kando(
        &["location", "pull", "-p", &p, "-s", "/db/dump.sql", "-"],
        &[("KAPSEL_REPO_PASSWORD", "nope")],
        b"",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong password"), "{err}");
    assert!(
        err.contains("help: the password comes from KAPSEL_REPO_PASSWORD"),
        "{err}"
    );
    assert!(!err.contains("nope"), "{err}");
    assert!(out.stdout.is_empty());
    // Unknown path.
    let out = kando(
        &["location", "pull", "-p", &p, "-s", "/other", "-"],
        &[PW],
        b"",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot for path"));

    // Delete with immediate reclaim; the path is gone, the repo stays valid.
    let out = kando(
        &["location", "delete", "-p", &p, "-s", "/db/dump.sql"],
        &[PW, ("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "0")],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(
        &["location", "pull", "-p", &p, "-s", "/db/dump.sql", "-"],
        &[PW],
        b"",
    );
    assert!(!out.status.success());
    let packs = walk(&d.path().join("pre/kapsel/data"));
    assert_eq!(packs, 0, "all packs reclaimed");
}

fn walk(p: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            walk(&e.path())
        } else {
            1
        }
    })
    .sum()
}

#[test]
fn password_rules_and_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    // No env password and no credentials in the Profile: refuse, write nothing.
    let out = kando(
        &["location", "push", "-p", &p, "-s", "/x", "-"],
        &[],
        b"abc",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no repository password"));
    assert!(!d.path().join("pre/kapsel/config").exists());
    // Missing repository on pull.
    let out = kando(&["location", "pull", "-p", &p, "-s", "/x", "-"], &[PW], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kapsel repository"));
    // Delete on a missing repository is a no-op.
    let out = kando(&["location", "delete", "-p", &p, "-s", "/x"], &[PW], b"");
    assert!(out.status.success());
    // A password file works; credentials in the Profile give a derived default.
    let pwf = d.path().join("pw");
    std::fs::write(&pwf, "filepw\n").unwrap();
    let out = kando(
        &["location", "push", "-p", &p, "-s", "/x", "-"],
        &[("KAPSEL_REPO_PASSWORD_FILE", pwf.to_str().unwrap())],
        b"abc",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(
        &["location", "pull", "-p", &p, "-s", "/x", "-"],
        &[("KAPSEL_REPO_PASSWORD", "filepw")],
        b"",
    );
    assert_eq!(out.stdout, b"abc");
    let with_cred = serde_json::json!({"Location":{"type":"filesystem","bucket":d.path().join("b2").to_str().unwrap()},
        "Credential":{"Type":"keyPair","KeyPair":{"ID":"id","Secret":"sec"}}}).to_string();
    let out = kando(
        &["location", "push", "-p", &with_cred, "-s", "/y", "-"],
        &[],
        b"xyz",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kando(
        &["location", "pull", "-p", &with_cred, "-s", "/y", "-"],
        &[],
        b"",
    );
    assert_eq!(out.stdout, b"xyz");
    // Bad profile JSON and unsupported location types are reported as such.
    let out = kando(
        &["location", "pull", "-p", "{", "-s", "/y", "-"],
        &[PW],
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --profile"));
    let out = kando(
        &[
            "location",
            "pull",
            "-p",
            r#"{"Location":{"type":"kopia","bucket":"b"}}"#,
            "-s",
            "/y",
            "-",
        ],
        &[PW],
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported location type"));
}

/// The number just before `marker` in a push's summary line on stderr
/// ("... (N new of M chunks, B bytes added)").
fn summary_number(out: &Output, marker: &str) -> u64 {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let s = err.split(marker).next().unwrap_or_default();
    s.rsplit(' ')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|_| panic!("no number before {marker:?} in {err}"))
}

/// Nothing was written under the profile's prefix in `dir`.
fn nothing_written(dir: &std::path::Path) -> bool {
    let pre = dir.join("pre");
    !pre.exists() || std::fs::read_dir(pre).unwrap().next().is_none()
}

/// `KAPSEL_COMPRESSION_LEVEL` sets the zstd level of a repository kando
/// creates; the level stays with the repository; a value that is not a
/// level is refused before anything is written.
#[test]
fn compression_level_of_a_new_repository() {
    let text: Vec<u8> = (0..60_000u32)
        .flat_map(|i| {
            format!(
                "{i},order-{},{}\n",
                i % 977,
                i.wrapping_mul(2_654_435_761) % 10_007
            )
            .into_bytes()
        })
        .collect();
    let added = |out: &Output| summary_number(out, " bytes added");
    let mut sizes = Vec::new();
    for level in ["-5", "19"] {
        let d = tempfile::tempdir().unwrap();
        let p = profile(d.path());
        let out = kando(
            &["location", "push", "--profile", &p, "--path", "/t", "-"],
            &[PW, ("KAPSEL_COMPRESSION_LEVEL", level)],
            &text,
        );
        assert!(out.status.success(), "{out:?}");
        let first = added(&out);
        // A later push without the variable keeps the repository's level.
        let more: Vec<u8> = (0..60_000u32)
            .flat_map(|i| {
                format!(
                    "{i};invoice-{};{}\n",
                    i % 613,
                    i.wrapping_mul(40_503) % 9_973
                )
                .into_bytes()
            })
            .collect();
        let out = kando(
            &["location", "push", "--profile", &p, "--path", "/u", "-"],
            &[PW],
            &more,
        );
        assert!(out.status.success(), "{out:?}");
        sizes.push((first, added(&out)));
    }
    let ((fast, fast2), (dense, dense2)) = (sizes[0], sizes[1]);
    assert!(dense < fast, "level 19 {dense} vs level -5 {fast}");
    assert!(
        dense2 < fast2,
        "the level stayed with the repository: {dense2} vs {fast2}"
    );
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let out = kando(
        &["location", "push", "--profile", &p, "--path", "/t", "-"],
        &[PW, ("KAPSEL_COMPRESSION_LEVEL", "fast")],
        b"x",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("KAPSEL_COMPRESSION_LEVEL"));
    assert!(nothing_written(d.path()));
}

/// `KAPSEL_CHUNK_SIZE` sets the average chunk size of a repository kando
/// creates (counted from push's summary line: "N new of M chunks"); a value
/// out of range is refused before anything is written.
#[test]
fn chunk_size_of_a_new_repository() {
    let data = data(16 << 20, 7);
    let mut counts = Vec::new();
    for size in [None, Some("2MiB")] {
        let d = tempfile::tempdir().unwrap();
        let p = profile(d.path());
        let mut env = vec![PW];
        if let Some(s) = size {
            env.push(("KAPSEL_CHUNK_SIZE", s));
        }
        let out = kando(
            &["location", "push", "--profile", &p, "--path", "/c", "-"],
            &env,
            &data,
        );
        assert!(out.status.success(), "{out:?}");
        counts.push(summary_number(&out, " chunks,"));
    }
    assert!(
        (32..=128).contains(&counts[0]) && (3..=20).contains(&counts[1]),
        "chunks at the default and at 2MiB: {counts:?}"
    );
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let out = kando(
        &["location", "push", "--profile", &p, "--path", "/c", "-"],
        &[PW, ("KAPSEL_CHUNK_SIZE", "1GiB")],
        b"x",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("KAPSEL_CHUNK_SIZE") && err.contains("power of two"),
        "{err}"
    );
    assert!(nothing_written(d.path()));
}

/// kando's implicit init refuses a location that holds other data, writing
/// nothing; `location delete` (which prunes) removes the staging files of
/// uploads killed over an hour ago and says so, keeping fresh ones.
#[test]
fn implicit_init_refuses_other_data_and_delete_sweeps_stale_uploads() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let repo = d.path().join("pre/kapsel");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README"), b"not a repository").unwrap();
    let push = || {
        kando(
            &["location", "push", "--profile", &p, "--path", "/x", "-"],
            &[PW],
            &data(50_000, 4),
        )
    };
    let out = push();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("not empty") && err.contains("README"), "{err}");
    assert_eq!(walk(&repo), 1, "something was written");
    std::fs::remove_file(repo.join("README")).unwrap();
    let out = push();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sub = repo.join("data/ab");
    std::fs::create_dir_all(&sub).unwrap();
    let old = sub.join(format!("{}#1", "ab".repeat(32)));
    let fresh = sub.join(format!("{}#2", "ab".repeat(32)));
    std::fs::write(&old, vec![1u8; 5000]).unwrap();
    std::fs::write(&fresh, b"in flight").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    let out = kando(&["location", "delete", "-p", &p, "-s", "/x"], &[PW], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("kando: removed 1 stale upload file(s) (5000 bytes)")),
        "{err}"
    );
    assert!(!old.exists() && fresh.exists());
}

/// A `pull` to a file that is SIGKILLed midway leaves nothing under the
/// file's name (the file is written unnamed, or under a hidden partial name
/// that the next pull removes); the next pull replaces an existing file.
#[test]
fn a_killed_pull_leaves_no_partial_file() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let body = data(48 << 20, 9);
    let out = kando(
        &["location", "push", "--profile", &p, "--path", "/big", "-"],
        &[PW],
        &body,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = d.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("dump");
    let args = [
        "location",
        "pull",
        "--profile",
        &p,
        "--path",
        "/big",
        target.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_kando"))
        .args(args)
        .env(PW.0, PW.1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let seen = 'outer: loop {
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) {
            for fd in fds.flatten() {
                if let Ok(l) = std::fs::read_link(fd.path())
                    && l.starts_with(&dir)
                    && std::fs::metadata(fd.path()).is_ok_and(|m| m.len() >= 1 << 20)
                {
                    child.kill().unwrap();
                    break 'outer l;
                }
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the pull ended before it could be killed"
        );
        assert!(t0.elapsed().as_secs() < 120, "no pulled bytes seen");
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    child.wait().unwrap();
    assert!(!target.exists(), "a killed pull left {target:?}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    if seen.to_string_lossy().ends_with(" (deleted)") {
        assert!(left.is_empty(), "{left:?}");
    }
    // An older file at the target is replaced by a complete one.
    std::fs::write(&target, b"old").unwrap();
    let out = kando(&args, &[PW], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&target).unwrap() == body);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("dump")]);
}

/// `KAPSEL_READ_AHEAD` bounds what a pull fetches ahead: the smallest budget
/// still restores every byte (groups shrink to fit it); a value out of
/// range is refused before a target file appears.
#[test]
fn read_ahead_of_a_pull() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    let input = data(8 << 20, 3);
    let out = kando(
        &["location", "push", "-p", &p, "-s", "/ra", "-"],
        &[PW],
        &input,
    );
    assert!(out.status.success(), "{out:?}");
    let out = kando(
        &["location", "pull", "-p", &p, "-s", "/ra", "-"],
        &[PW, ("KAPSEL_READ_AHEAD", "1MiB")],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == input, "the pulled bytes differ");
    let target = d.path().join("out.bin");
    for bad in ["512KiB", "2048MiB", "lots"] {
        let out = kando(
            &[
                "location",
                "pull",
                "-p",
                &p,
                "-s",
                "/ra",
                target.to_str().unwrap(),
            ],
            &[PW, ("KAPSEL_READ_AHEAD", bad)],
            b"",
        );
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("KAPSEL_READ_AHEAD") && err.contains(bad),
            "{err}"
        );
        assert!(!target.exists(), "{bad}: a target file appeared");
    }
}
