#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Separate kando processes on one repository at the same time: two pushes
//! (one sharing most of its content with a snapshot being deleted) and a
//! `location delete`, which forgets and prunes, beside them. Afterwards,
//! and after a prune with no grace period, every remaining snapshot
//! restores byte-exact and the repository passes `check --read-data`.

mod support;
use std::process::{Command, Stdio};

use kapsel_repo::check::CheckOptions;
use support::*;

#[test]
fn two_pushes_and_a_prune_at_once() {
    let dir = scratch_dir();
    let profile = fs_profile(&dir.path().join("repo"), "");
    let a = random_bytes(1, 24 << 20);
    let b = random_bytes(2, 24 << 20);
    for (path, data) in [("/a", &a), ("/b", &b)] {
        ok(
            &kando(&["location", "push", "-p", &profile, "-s", path, "-"], data),
            path,
        );
    }
    // /c re-uses /a's content, which the delete beside it forgets.
    let mut c = a.clone();
    c.extend(random_bytes(3, 16 << 20));
    let d = random_bytes(4, 40 << 20);
    let files: Vec<_> = [("c", &c), ("d", &d)]
        .iter()
        .map(|(n, data)| {
            let f = dir.path().join(n);
            std::fs::write(&f, data).unwrap();
            f
        })
        .collect();
    let spawn = |args: &[&str], stdin: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_kando"))
            .args(args)
            .env("KAPSEL_REPO_PASSWORD", PW)
            // The production grace period: prune only marks what it would delete.
            .env("KAPSEL_PRUNE_KEEP_DELETE_SECONDS", "3600")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let pc = spawn(
        &["location", "push", "-p", &profile, "-s", "/c", "-"],
        std::fs::File::open(&files[0]).unwrap().into(),
    );
    let pd = spawn(
        &["location", "push", "-p", &profile, "-s", "/d", "-"],
        std::fs::File::open(&files[1]).unwrap().into(),
    );
    let del = spawn(
        &["location", "delete", "-p", &profile, "-s", "/a"],
        Stdio::null(),
    );
    for (what, p) in [("push /c", pc), ("push /d", pd), ("delete /a", del)] {
        ok(&p.wait_with_output().unwrap(), what);
    }
    // A prune with no grace period deletes what is really unused.
    let out = kando(&["location", "delete", "-p", &profile, "-s", "/none"], b"");
    ok(&out, "final prune");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    for (path, want) in [("/b", &b), ("/c", &c), ("/d", &d)] {
        let out = kando(&["location", "pull", "-p", &profile, "-s", path, "-"], b"");
        ok(&out, &format!("pull {path}"));
        assert!(&out.stdout == want, "{path} restored differently");
    }
    let out = kando(&["location", "pull", "-p", &profile, "-s", "/a", "-"], b"");
    assert!(!out.status.success(), "/a was deleted");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let repo = open_repo(&rt, &profile);
    let r = rt
        .block_on(repo.check(CheckOptions {
            read_data: true,
            ..Default::default()
        }))
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
    assert_eq!(r.snapshots, 3);
}
