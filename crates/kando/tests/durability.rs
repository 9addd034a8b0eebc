#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Durability of a filesystem repository: every object a push stores is
//! flushed to disk (`fsync`) before it is renamed into place, its directory
//! is flushed after, and the snapshot (the commit point) is renamed into
//! place only after every pack and index file of the push. So a push that
//! reported success survives a power loss, not only the end of the process.
//!
//! Watched with `strace` (the real system calls of a real `kando` process);
//! without strace the test is skipped loudly, or fails under `CI`.

mod support;
use std::process::{Command, Stdio};

use support::*;

/// The strings between `open` and `close` in one syscall line: `"..."`
/// arguments, or `<...>` file names strace -y prints for descriptors.
fn between(line: &str, open: char, close: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(open) {
        let tail = &rest[i + 1..];
        let Some(j) = tail.find(close) else { break };
        out.push(tail[..j].to_string());
        rest = &tail[j + 1..];
    }
    out
}

#[test]
fn a_push_is_on_disk_before_its_snapshot_is_committed() {
    if Command::new("strace").arg("-V").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but strace is not installed (apt-get install strace)");
        }
        kapsel_testkit::skip::notice("SKIPPING: strace is not installed (apt-get install strace)");
        return;
    }
    let dir = scratch_dir();
    let repo = dir.path().join("repo");
    let profile = fs_profile(&repo, "");
    let data = random_bytes(7, 40 << 20);
    let src = dir.path().join("stream");
    std::fs::write(&src, &data).unwrap();
    let log = dir.path().join("strace.log");
    let out = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat",
        ])
        .arg(env!("CARGO_BIN_EXE_kando"))
        .args(["location", "push", "-p", &profile, "-s", "/db", "-"])
        .env("KAPSEL_REPO_PASSWORD", PW)
        .stdin(std::fs::File::open(&src).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    ok(&out, "push under strace");
    let log = std::fs::read_to_string(&log).unwrap();
    let root = repo.join("kapsel").display().to_string();
    let mut synced: Vec<(usize, String)> = Vec::new();
    let mut placed: Vec<(usize, String, String)> = Vec::new();
    for (n, line) in log.lines().enumerate() {
        let call = line.split_whitespace().nth(1).unwrap_or("");
        if call.starts_with("fsync") || call.starts_with("fdatasync") {
            if let Some(f) = between(line, '<', '>').first() {
                synced.push((n, f.clone()));
            }
            continue;
        }
        let p = between(line, '"', '"');
        if (call.starts_with("rename") || call.starts_with("link"))
            && p.len() >= 2
            && p[1].starts_with(&root)
        {
            placed.push((n, p[0].clone(), p[1].clone()));
        }
    }
    let kind = |dst: &str| {
        dst[root.len() + 1..]
            .split('/')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let of = |k: &str| {
        placed
            .iter()
            .filter(|(_, _, d)| kind(d) == k)
            .collect::<Vec<_>>()
    };
    let (packs, index, snaps) = (of("data"), of("index"), of("snapshots"));
    assert!(
        packs.len() >= 3,
        "40 MiB should make at least 3 packs: {placed:?}"
    );
    assert_eq!(snaps.len(), 1, "{placed:?}");
    assert!(!index.is_empty(), "{placed:?}");
    for (n, staged, dst) in &placed {
        assert!(
            synced.iter().any(|(m, f)| m < n && f == staged),
            "{dst} was renamed into place before {staged} was flushed\n{log}"
        );
        let parent = std::path::Path::new(dst)
            .parent()
            .unwrap()
            .display()
            .to_string();
        assert!(
            synced.iter().any(|(m, f)| m > n && *f == parent),
            "the directory of {dst} was never flushed after it\n{log}"
        );
    }
    let commit = snaps[0].0;
    for (n, _, dst) in packs.iter().chain(&index) {
        assert!(*n < commit, "{dst} was stored after the snapshot\n{log}");
    }
    // And the stream is what was pushed.
    let pulled = kando(&["location", "pull", "-p", &profile, "-s", "/db", "-"], b"");
    ok(&pulled, "pull");
    assert!(pulled.stdout == data, "pulled stream differs");
}
