//! A seeded soak of the repository with real processes (issue 12): two
//! writers back up overlapping data while `forget` and `prune` (grace
//! periods of 0 s and 1 s) run beside them, and random processes are
//! SIGKILLed at random moments. Afterwards `check --read-data` is clean and
//! every snapshot a backup reported as committed restores byte-identical
//! (unless a `forget` that ran after it removed it; the newest of each path
//! always stays).
//!
//! `KAPSEL_SOAK_SEED` picks the seed (default fixed), `KAPSEL_SOAK_SECONDS`
//! the time budget (default 45 s); the counts are printed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PW: &str = "soak password";

fn kapsel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kapsel"));
    c.env("KAPSEL_REPO_PASSWORD", PW)
        .env_remove("KAPSEL_REPO_PASSWORD_FILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn repo_cmd(repo: &Path, args: &[&str]) -> Command {
    let mut c = kapsel();
    c.arg("repo").args(args).arg("--repo").arg(repo);
    c
}

fn out(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A directory removed at the end.
struct TempDir(PathBuf);
impl TempDir {
    fn new() -> Self {
        let d = std::env::temp_dir().join(format!("kapsel-soak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn block(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// A running process and what it stands for.
enum Job {
    Backup {
        child: Child,
        path: String,
        content: Vec<u8>,
    },
    Forget(Child),
    Prune(Child),
}

impl Job {
    fn child(&mut self) -> &mut Child {
        match self {
            Job::Backup { child, .. } | Job::Forget(child) | Job::Prune(child) => child,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    backups_committed: usize,
    backups_failed: usize,
    backups_killed: usize,
    forgets: usize,
    prunes: usize,
    prunes_refused: usize,
    killed_other: usize,
    restored: usize,
    /// The first messages of failed backups.
    failures: Vec<String>,
}

#[test]
fn soak_two_writers_forget_prune_and_sigkills() {
    let seed: u64 = std::env::var("KAPSEL_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x4b41_5053);
    let budget = Duration::from_secs(
        std::env::var("KAPSEL_SOAK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(45),
    );
    let dir = TempDir::new();
    let repo = dir.path().join("repo");
    let o = repo_cmd(&repo, &["init", "--chunk-size", "64KiB"])
        .output()
        .unwrap();
    assert!(o.status.success(), "init: {}", out(&o));

    // 12 blocks of 256 KiB; each backup is 6 of them in a random order, so
    // backups share most of their chunks (and packs) with earlier ones.
    let blocks: Vec<Vec<u8>> = (0..12).map(|i| block(seed ^ (i + 1), 256 << 10)).collect();
    let mut rng = Rng(seed | 1);
    let mut c = Counts::default();
    // Path → committed snapshots (id, content, commit order).
    let mut committed: HashMap<String, Vec<(String, Vec<u8>, usize)>> = HashMap::new();
    let mut order = 0usize;
    let start = Instant::now();
    let mut round = 0u64;
    while start.elapsed() < budget {
        round += 1;
        let mut jobs: Vec<Job> = Vec::new();
        for w in 0..2 {
            let mut content = Vec::new();
            for _ in 0..6 {
                content.extend_from_slice(&blocks[rng.below(12) as usize]);
            }
            let src: PathBuf = dir.path().join(format!("src-{w}"));
            std::fs::write(&src, &content).unwrap();
            let path = format!("/writer{w}");
            let child = repo_cmd(
                &repo,
                &[
                    "backup",
                    src.to_str().unwrap(),
                    "--path",
                    &path,
                    "--output",
                    "json",
                ],
            )
            .spawn()
            .unwrap();
            jobs.push(Job::Backup {
                child,
                path,
                content,
            });
        }
        if rng.below(2) == 0 {
            let keep = (2 + rng.below(3)).to_string();
            jobs.push(Job::Forget(
                repo_cmd(&repo, &["forget", "--keep-last", &keep])
                    .spawn()
                    .unwrap(),
            ));
        }
        let keep_delete = if rng.below(2) == 0 { "0s" } else { "1s" };
        jobs.push(Job::Prune(
            repo_cmd(&repo, &["prune", "--keep-delete", keep_delete])
                .spawn()
                .unwrap(),
        ));
        // Kill one process at a random moment in half of the rounds.
        let victim = (rng.below(2) == 0).then(|| rng.below(jobs.len() as u64) as usize);
        let delay = Duration::from_millis(rng.below(400));
        std::thread::sleep(delay);
        if let Some(v) = victim {
            let ch = jobs[v].child();
            if ch.try_wait().unwrap().is_none() {
                let _ = ch.kill();
            }
        }
        for mut j in jobs {
            let killed_by_us = |o: &Output| {
                use std::os::unix::process::ExitStatusExt;
                o.status.signal() == Some(9)
            };
            match &mut j {
                Job::Backup { .. } => {
                    let Job::Backup {
                        child,
                        path,
                        content,
                    } = j
                    else {
                        unreachable!()
                    };
                    let o = child.wait_with_output().unwrap();
                    if killed_by_us(&o) {
                        c.backups_killed += 1;
                    } else if o.status.success() {
                        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
                            .unwrap_or_else(|e| panic!("backup JSON: {e}: {}", out(&o)));
                        let id = v["snapshot"].as_str().unwrap().to_string();
                        order += 1;
                        committed
                            .entry(path)
                            .or_default()
                            .push((id, content, order));
                        c.backups_committed += 1;
                    } else {
                        // A backup may fail loudly (a pack it needed was
                        // deleted while it was suspended); never silently.
                        let e = String::from_utf8_lossy(&o.stderr);
                        assert!(
                            e.contains("backup not committed") || e.contains("locked"),
                            "round {round}: backup failed unexpectedly: {}",
                            out(&o)
                        );
                        c.backups_failed += 1;
                        if c.failures.len() < 3 {
                            c.failures
                                .push(e.split_whitespace().collect::<Vec<_>>().join(" "));
                        }
                    }
                }
                Job::Forget(_) | Job::Prune(_) => {
                    let is_prune = matches!(j, Job::Prune(_));
                    let (Job::Forget(child) | Job::Prune(child)) = j else {
                        unreachable!()
                    };
                    let o = child.wait_with_output().unwrap();
                    if killed_by_us(&o) {
                        c.killed_other += 1;
                    } else if o.status.success() {
                        if is_prune {
                            c.prunes += 1;
                        } else {
                            c.forgets += 1;
                        }
                    } else {
                        let e = String::from_utf8_lossy(&o.stderr);
                        // A prune beside another (a killed one's lock is
                        // seen dead at once on this host) or beside a
                        // snapshot being forgotten may refuse; nothing else.
                        assert!(
                            is_prune && e.contains("locked"),
                            "round {round}: {} failed: {}",
                            if is_prune { "prune" } else { "forget" },
                            out(&o)
                        );
                        c.prunes_refused += 1;
                    }
                }
            }
        }
    }

    // Everything unused goes now; nothing committed may go with it.
    let o = repo_cmd(&repo, &["prune", "--keep-delete", "0s"])
        .output()
        .unwrap();
    assert!(o.status.success(), "final prune: {}", out(&o));
    let o = repo_cmd(&repo, &["check", "--read-data"]).output().unwrap();
    assert!(o.status.success(), "check --read-data: {}", out(&o));
    let o = repo_cmd(&repo, &["snapshots", "--output", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "snapshots: {}", out(&o));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let present: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    for (path, snaps) in &committed {
        let newest = snaps.iter().max_by_key(|s| s.2).unwrap();
        assert!(
            present.contains(&newest.0),
            "the newest committed snapshot of {path} is gone: {}",
            newest.0
        );
        for (id, content, _) in snaps {
            if !present.contains(id) {
                continue;
            }
            let o = repo_cmd(&repo, &["restore", id, "-t", "-"])
                .output()
                .unwrap();
            assert!(o.status.success(), "restore {id}: {}", out(&o));
            assert!(
                o.stdout == *content,
                "snapshot {id} of {path} restored different bytes"
            );
            c.restored += 1;
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "soak seed {seed:#x}: {round} rounds in {:.1} s: {c:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(c.backups_committed > 0 && c.restored > 0, "{c:?}");
}
