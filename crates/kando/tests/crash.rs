#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `kando location push` of a 1 GiB stream killed with SIGKILL at 20 seeded
//! points. After each kill the repository passes `check --read-data`, an
//! earlier snapshot restores byte-exact and no uploaded pack is lost; the
//! push that finally completes reuses what the killed pushes uploaded.
//!
//! The repository is a filesystem location (in /dev/shm when available): the
//! point is the writer dying, which the storage backend does not change.

mod support;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kapsel_repo::check::CheckOptions;
use kapsel_repo::restore::RestoreOptions;
use support::*;

const RUNS: usize = 20;

/// Total bytes of pack objects under `dir`.
fn pack_bytes(dir: &std::path::Path) -> (usize, u64) {
    fn walk(p: &std::path::Path, out: &mut (usize, u64)) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk(&e.path(), out);
            } else {
                out.0 += 1;
                out.1 += m.len();
            }
        }
    }
    let mut out = (0, 0);
    walk(&dir.join("kapsel").join("data"), &mut out);
    out
}

/// A writer that hashes (shared, as restore wants an owned writer).
#[derive(Clone, Default)]
struct HashW(Arc<Mutex<(blake3::Hasher, u64)>>);
impl Write for HashW {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut g = self.0.lock().unwrap();
        g.0.update(b);
        g.1 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn sigkilled_pushes_leave_a_sound_repository_and_are_resumed() {
    let t0 = Instant::now();
    let dir = scratch_dir();
    let repo_dir = dir.path().join("repo");
    let profile = fs_profile(&repo_dir, "");
    let len = 1u64 << 30;
    let src = dir.path().join("stream");
    let want = write_stream_file(&src, 0xC4A5, len);
    // An earlier snapshot that must survive every crash.
    let earlier = random_bytes(0xEA, 8 << 20);
    let out = kando(
        &["location", "push", "-p", &profile, "-s", "/earlier", "-"],
        &earlier,
    );
    ok(&out, "earlier push");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let repo = open_repo(&rt, &profile);
    let (eid, esnap) = rt.block_on(repo.snapshots()).unwrap().remove(0);

    let mut rng = 0x5EED_C4A5_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut before = pack_bytes(&repo_dir);
    let mut kills = Vec::new();
    for run in 0..RUNS {
        // Kill somewhere between 32 MiB and the end of the stream.
        let kill_at = (32 << 20) + next() % (len - (40 << 20));
        let mut child = Command::new(env!("CARGO_BIN_EXE_kando"))
            .args(["location", "push", "-p", &profile, "-s", "/big", "-"])
            .env("KAPSEL_REPO_PASSWORD", PW)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut f = std::fs::File::open(&src).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        while sent < kill_at {
            let n = f.read(&mut buf).unwrap();
            if stdin.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n as u64;
        }
        child.kill().unwrap(); // SIGKILL
        drop(stdin);
        let st = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(
            st.signal(),
            Some(9),
            "run {run}: push was not killed ({st}): {err}"
        );
        // The repository is sound and the earlier snapshot intact.
        let r = rt
            .block_on(repo.check(CheckOptions {
                read_data: true,
                ..Default::default()
            }))
            .unwrap();
        assert!(r.is_ok(), "run {run} (killed at {kill_at}): {:?}", r.errors);
        assert_eq!(
            r.snapshots, 1,
            "run {run}: a killed push committed a snapshot"
        );
        let h = HashW::default();
        rt.block_on(repo.restore_stream(&eid, &esnap, h.clone(), RestoreOptions::default()))
            .unwrap();
        assert_eq!(
            {
                let g = h.0.lock().unwrap();
                (g.1, g.0.finalize())
            },
            (earlier.len() as u64, blake3::hash(&earlier)),
            "run {run}: the earlier snapshot changed"
        );
        // Uploaded packs are kept for reuse, never lost.
        let now = pack_bytes(&repo_dir);
        assert!(
            now.0 >= before.0 && now.1 >= before.1,
            "run {run}: packs went from {before:?} to {now:?}"
        );
        before = now;
        kills.push(kill_at >> 20);
    }
    let uploaded = before.1;
    // The next push completes and reuses what the killed ones uploaded.
    let t = Instant::now();
    let out = push_file(
        &["location", "push", "-p", &profile, "-s", "/big", "-"],
        &src,
        &[],
    );
    ok(&out, "push after the crashes");
    let added = pushed_added_bytes(&out);
    let (new, total) = pushed_chunks(&out);
    eprintln!(
        "crash: {RUNS} SIGKILLs at MiB {kills:?}; {} packs / {uploaded} B were on storage; the completing push added {added} B ({new} new of {total} chunks) in {:.1} s; total {:.1} s",
        before.0,
        t.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        uploaded > len / 4,
        "the killed pushes uploaded only {uploaded} B"
    );
    assert!(
        added + uploaded <= len + len / 50 + (64 << 20),
        "the completing push re-uploaded data: added {added} B with {uploaded} B already stored"
    );
    assert!(new < total, "nothing was reused");
    let (st, err, n, got) = pull_hash(
        &["location", "pull", "-p", &profile, "-s", "/big", "-"],
        &[],
    );
    assert!(st.success(), "{err}");
    assert_eq!((n, got), (len, want), "restored stream differs");
    let r = rt
        .block_on(repo.check(CheckOptions {
            read_data: true,
            ..Default::default()
        }))
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}
