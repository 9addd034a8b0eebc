#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The concurrency design of docs/format.md §10, checked over every order
//! of a backup's stages against `forget` and two `prune`s.
//!
//! Backup B stores path `/b`, whose stream begins with the whole of an
//! earlier snapshot `/a` (so B deduplicates against `/a`'s packs) and goes
//! on with new data (so B uploads packs of its own that no index lists
//! until its commit). B is held at four points: before it starts, in the
//! middle of its stream (index loaded, some packs uploaded), at its commit
//! before it checks its packs, and after that check just before it writes
//! its snapshot. Between them the test runs `forget /a`, a prune and another
//! prune, in every order and every placement: 3 orders × 35 placements.
//! Each schedule runs with `keep_delete` zero (unused packs deleted at once
//! when no backup runs) and 1 ms (a backup longer than the grace period),
//! and with B's lock live or looking stale to the prunes that run while B is
//! held mid-stream or before its check (a suspended process). What must
//! hold in every run:
//! - with a live lock, B commits; with a stale one it commits or fails
//!   with `PackGone`, naming the pack;
//! - every snapshot that exists restores byte-identical, before and after a
//!   final prune that deletes everything unused at once;
//! - `check` finds no error.

mod common;

use std::io::Read;

use common::gate::{self, Gate};
use common::*;
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::{LockTiming, RepoError, Repository};
use object_store::path::Path;

/// Where B is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Not started.
    Before,
    /// In its stream: index loaded, blocked reading.
    MidStream,
    /// At its commit, before it rewrites its lock and checks its packs.
    BeforeCheck,
    /// After the check, before the snapshot is written.
    BeforeSnapshot,
    /// Finished.
    After,
}

const STAGES: [Stage; 5] = [
    Stage::Before,
    Stage::MidStream,
    Stage::BeforeCheck,
    Stage::BeforeSnapshot,
    Stage::After,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Forget,
    Prune,
}

/// A stream that stops after `hold_at` bytes until released.
struct HeldReader {
    data: Vec<u8>,
    pos: usize,
    hold_at: usize,
    reached: Option<tokio::sync::oneshot::Sender<()>>,
    release: Option<std::sync::mpsc::Receiver<()>>,
}

impl Read for HeldReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.hold_at
            && let Some(r) = self.release.take()
        {
            if let Some(t) = self.reached.take() {
                let _ = t.send(());
            }
            let _ = r.recv();
        }
        let end = if self.release.is_some() {
            self.hold_at
        } else {
            self.data.len()
        };
        let n = buf.len().min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct Run {
    order: [Op; 3],
    /// For each op, the stage B is held at when it runs.
    at: [Stage; 3],
    keep_delete: chrono::Duration,
    stale_lock: bool,
}

/// How a run ended for B: committed without copying, committed after
/// copying packs, or failed naming a pack.
#[derive(Debug, Default)]
struct Tally {
    committed: usize,
    copied: usize,
    failed: usize,
}

async fn run(r: &Run, a: &[u8], b: &[u8], tally: &mut Tally) -> String {
    let (store, repo) = mem_repo(small_opts()).await;
    let sa = backup(&repo, a, "/a").await;
    let gate = Gate::new(store.clone());
    let brepo = Repository::open(gate.clone(), Path::from("repo"), PW)
        .await
        .unwrap();
    let timing = LockTiming {
        // No periodic rewrite during the test: only the commit's own.
        refresh: std::time::Duration::from_secs(3600),
        ..LockTiming::default()
    };
    let prune_opts = |stale: bool| PruneOptions {
        keep_delete: r.keep_delete,
        lock_timing: if stale {
            LockTiming {
                stale: chrono::Duration::zero(),
                ..timing
            }
        } else {
            timing
        },
        ..Default::default()
    };
    let mut next_op = 0;
    let mut log = Vec::new();
    let mut do_ops = |stage: Stage, log: &mut Vec<String>| {
        let mut todo = Vec::new();
        while next_op < 3 && r.at[next_op] == stage {
            todo.push(r.order[next_op]);
            next_op += 1;
        }
        let stale = r.stale_lock && matches!(stage, Stage::MidStream | Stage::BeforeCheck);
        let repo = repo.clone();
        let po = prune_opts(stale);
        log.push(format!("{stage:?}: {todo:?}"));
        async move {
            for op in todo {
                match op {
                    Op::Forget => {
                        let ids: Vec<_> = repo
                            .snapshots()
                            .await
                            .unwrap()
                            .into_iter()
                            .filter(|(_, s)| s.paths == ["/a"])
                            .map(|(i, _)| i)
                            .collect();
                        repo.delete_snapshots(&ids).await.unwrap();
                    }
                    Op::Prune => {
                        repo.prune(po).await.unwrap();
                    }
                }
            }
        }
    };

    do_ops(Stage::Before, &mut log).await;
    // B, held mid-stream by its reader.
    let (reached_tx, reached_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let reader = HeldReader {
        data: b.to_vec(),
        pos: 0,
        hold_at: b.len() * 9 / 10,
        reached: Some(reached_tx),
        release: Some(release_rx),
    };
    // The second put under locks/ is the commit's rewrite of the lock.
    gate.arm(gate::Op::Put, "/locks/", 2);
    let bo = kapsel_repo::BackupOptions {
        paths: vec!["/b".into()],
        lock_timing: timing,
        ..Default::default()
    };
    let mut task = {
        let brepo = brepo.clone();
        tokio::spawn(async move { brepo.backup_stream(reader, bo).await })
    };
    // Wait until B reaches the armed gate, or ends (a backup that fails its
    // check never reaches its snapshot write).
    let mut outcome = None;
    async fn reach(
        gate: &Gate,
        task: &mut tokio::task::JoinHandle<kapsel_repo::Result<kapsel_repo::BackupSummary>>,
        outcome: &mut Option<kapsel_repo::Result<kapsel_repo::BackupSummary>>,
    ) {
        if outcome.is_some() {
            return;
        }
        tokio::select! {
            () = gate.reached() => {}
            r = task => *outcome = Some(r.unwrap()),
        }
    }
    reached_rx.await.unwrap();
    do_ops(Stage::MidStream, &mut log).await;
    release_tx.send(()).unwrap();
    reach(&gate, &mut task, &mut outcome).await;
    do_ops(Stage::BeforeCheck, &mut log).await;
    gate.arm(gate::Op::Put, "/snapshots/", 1);
    gate.release();
    reach(&gate, &mut task, &mut outcome).await;
    do_ops(Stage::BeforeSnapshot, &mut log).await;
    gate.release();
    let outcome = match outcome {
        Some(o) => o,
        None => task.await.unwrap(),
    };
    do_ops(Stage::After, &mut log).await;
    let ctx = format!(
        "{:?} {:?} keep_delete={} stale_lock={} {log:?}",
        r.order, r.at, r.keep_delete, r.stale_lock
    );

    let sb = match outcome {
        Ok(s) => {
            if s.copied_packs > 0 {
                tally.copied += 1;
            } else {
                tally.committed += 1;
            }
            Some(s.snapshot)
        }
        Err(RepoError::PackGone { .. }) if r.stale_lock => {
            tally.failed += 1;
            None
        }
        Err(e) => panic!("{ctx}: backup failed: {e}"),
    };
    let forgotten = r.order.contains(&Op::Forget);
    let verify = |when: &'static str| {
        let repo = repo.clone();
        let sa = sa.snapshot.clone();
        let sb = sb.clone();
        let ctx = ctx.clone();
        async move {
            let snaps = repo.snapshots().await.unwrap();
            let ids: Vec<String> = snaps.iter().map(|(i, _)| i.to_hex()).collect();
            assert_eq!(ids.contains(&sa), !forgotten, "{ctx} {when}: /a");
            if !forgotten {
                assert_eq!(restore(&repo, &sa).await.unwrap(), a, "{ctx} {when}: /a");
            }
            if let Some(sb) = &sb {
                assert!(ids.contains(sb), "{ctx} {when}: /b committed but gone");
                let got = restore(&repo, sb)
                    .await
                    .unwrap_or_else(|e| panic!("{ctx} {when}: restore /b: {e}"));
                assert!(got == b, "{ctx} {when}: /b restored different bytes");
            }
            let c = repo
                .check(kapsel_repo::check::CheckOptions {
                    read_data: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert!(c.errors.is_empty(), "{ctx} {when}: check: {:?}", c.errors);
        }
    };
    verify("at the end").await;
    // Whatever is still marked or unindexed goes now: nothing a snapshot
    // needs may go with it.
    repo.prune(PruneOptions {
        keep_delete: chrono::Duration::zero(),
        lock_timing: timing,
        ..Default::default()
    })
    .await
    .unwrap();
    verify("after a final prune").await;
    ctx
}

/// Every way to put three ordered operations into the five stages.
fn placements() -> Vec<[Stage; 3]> {
    let mut v = Vec::new();
    for (i, x) in STAGES.iter().enumerate() {
        for (j, y) in STAGES.iter().enumerate().skip(i) {
            for z in STAGES.iter().skip(j) {
                v.push([*x, *y, *z]);
            }
        }
    }
    v
}

async fn all_schedules(keep_delete: chrono::Duration, stale_lock: bool) -> usize {
    let mut tally = Tally::default();
    let a = random_bytes(1, 400_000);
    let mut b = a.clone();
    b.extend(random_bytes(2, 700_000));
    let orders = [
        [Op::Forget, Op::Prune, Op::Prune],
        [Op::Prune, Op::Forget, Op::Prune],
        [Op::Prune, Op::Prune, Op::Forget],
    ];
    let mut n = 0;
    for order in orders {
        for at in placements() {
            run(
                &Run {
                    order,
                    at,
                    keep_delete,
                    stale_lock,
                },
                &a,
                &b,
                &mut tally,
            )
            .await;
            n += 1;
        }
    }
    eprintln!("keep_delete={keep_delete} stale_lock={stale_lock}: {n} schedules, {tally:?}");
    assert_eq!(tally.committed + tally.copied + tally.failed, n);
    if stale_lock {
        // The suspended backup's packs were taken for leftovers in some
        // schedules: the check must have seen it.
        assert!(tally.failed + tally.copied > 0, "{tally:?}");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_keep_delete_zero_live_lock() {
    assert_eq!(all_schedules(chrono::Duration::zero(), false).await, 105);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_backup_longer_than_keep_delete_live_lock() {
    assert_eq!(
        all_schedules(chrono::Duration::milliseconds(1), false).await,
        105
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_keep_delete_zero_suspended_backup() {
    assert_eq!(all_schedules(chrono::Duration::zero(), true).await, 105);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_backup_longer_than_keep_delete_suspended_backup() {
    assert_eq!(
        all_schedules(chrono::Duration::milliseconds(1), true).await,
        105
    );
}
