#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Corruption, interrupted backups, forget/prune safety.
mod common;
use common::*;

use futures::TryStreamExt;
use kapsel_repo::check::CheckOptions;
use kapsel_repo::forget::KeepPolicy;
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::{BackupOptions, RepoError};
use object_store::{ObjectStore, ObjectStoreExt};

async fn all_objects(store: &dyn ObjectStore) -> Vec<(object_store::path::Path, Vec<u8>)> {
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        let b = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.push((m.location, b.to_vec()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_flipped_byte_is_detected_and_never_restored() {
    let (store, repo) = mem_repo(small_opts()).await;
    let a = random_bytes(1, 600_000);
    let b: Vec<u8> = (0..400_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let sa = backup(&repo, &a, "/a").await;
    let sb = backup(&repo, &b, "/b").await;
    let objects = all_objects(store.as_ref()).await;
    let mut tried = 0;
    for (path, orig) in &objects {
        let name = path.as_ref();
        let kind = if name.contains("/data/") {
            "pack"
        } else if name.contains("/index/") {
            "index"
        } else if name.contains("/snapshots/") {
            "snapshot"
        } else {
            continue;
        };
        for pos in [
            0,
            orig.len() / 3,
            orig.len() / 2,
            orig.len() - 5,
            orig.len() - 1,
        ] {
            let mut bad = orig.clone();
            bad[pos] ^= 0x10;
            store.put(path, bad.into()).await.unwrap();
            tried += 1;
            let rep = repo
                .check(CheckOptions {
                    read_data: true,
                    ..Default::default()
                })
                .await;
            match rep {
                Ok(r) => assert!(
                    !r.is_ok(),
                    "{kind} {name} byte {pos}: check --read-data found nothing"
                ),
                Err(e) => assert!(
                    e.to_string().contains("corrupt") || e.to_string().contains("index"),
                    "{e}"
                ),
            }
            for (s, want) in [(&sa.snapshot, &a), (&sb.snapshot, &b)] {
                match restore(&repo, s).await {
                    Ok(got) => assert!(
                        &got == want,
                        "{kind} {name} byte {pos}: wrong bytes restored"
                    ),
                    Err(e) => {
                        let msg = e.to_string();
                        if kind == "pack" {
                            assert!(matches!(e, RepoError::Restore { .. }), "{msg}");
                            assert!(
                                msg.contains(&s[..]) && msg.contains("data/"),
                                "error must name snapshot and object: {msg}"
                            );
                        }
                    }
                }
            }
            store.put(path, orig.clone().into()).await.unwrap();
        }
    }
    assert!(tried >= 20, "only {tried} corruptions tried");
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_foreign_objects_are_named() {
    let (store, repo) = mem_repo(small_opts()).await;
    let s = backup(&repo, &random_bytes(3, 300_000), "/t").await;
    let snap_path = object_store::path::Path::from(format!("repo/snapshots/{}", s.snapshot));
    let orig = store.get(&snap_path).await.unwrap().bytes().await.unwrap();
    store
        .put(&snap_path, orig.slice(..orig.len() / 2).into())
        .await
        .unwrap();
    let e = restore(&repo, &s.snapshot).await.unwrap_err();
    assert!(
        matches!(e, RepoError::Corrupt { .. }) && e.to_string().contains(&s.snapshot),
        "{e}"
    );
    store
        .put(&snap_path, b"GIF89a.........".to_vec().into())
        .await
        .unwrap();
    let e = restore(&repo, &s.snapshot).await.unwrap_err();
    assert!(e.to_string().contains("snapshots/"), "{e}");
}

/// A reader that fails after `n` bytes, like a killed producer.
struct Failing(std::io::Cursor<Vec<u8>>, usize);
impl std::io::Read for Failing {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        if self.0.position() as usize >= self.1 {
            return Err(std::io::Error::other("producer died"));
        }
        let lim = (self.1 - self.0.position() as usize).min(b.len());
        self.0.read(&mut b[..lim])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_backup_keeps_repo_consistent_and_is_reused() {
    let (_store, repo) = mem_repo(small_opts()).await;
    let first = random_bytes(10, 500_000);
    let s1 = backup(&repo, &first, "/x").await;
    let big = random_bytes(11, 3_000_000);
    let e = repo
        .backup_stream(
            Failing(std::io::Cursor::new(big.clone()), 2_500_000),
            opts("/x"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("producer died"), "{e}");
    assert_eq!(repo.snapshots().await.unwrap().len(), 1);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
    assert!(
        !r.warnings.is_empty(),
        "the interrupted backup's packs are reported as unindexed"
    );
    assert_eq!(restore(&repo, &s1.snapshot).await.unwrap(), first);
    // The next backup adopts the uploaded packs and uploads less.
    let s2 = backup(&repo, &big, "/x").await;
    assert!(s2.adopted_packs > 0);
    assert!(
        s2.added_bytes < 1_500_000,
        "re-uploaded {} bytes",
        s2.added_bytes
    );
    assert_eq!(restore(&repo, &s2.snapshot).await.unwrap(), big);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        r.is_ok() && r.warnings.is_empty(),
        "{:?} {:?}",
        r.errors,
        r.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_and_prune_reclaim_only_unneeded_data() {
    let (store, repo) = mem_repo(small_opts()).await;
    let shared = random_bytes(20, 1_000_000);
    let mut a = shared.clone();
    a.extend(random_bytes(21, 1_000_000));
    let mut b = shared.clone();
    b.extend(random_bytes(22, 1_000_000));
    let sa = backup(&repo, &a, "/a").await;
    let sb = backup(&repo, &b, "/b").await;
    let size = |objs: &Vec<(object_store::path::Path, Vec<u8>)>| {
        objs.iter()
            .filter(|(p, _)| p.as_ref().contains("/data/"))
            .map(|(_, b)| b.len())
            .sum::<usize>()
    };
    let before = size(&all_objects(store.as_ref()).await);
    // keep-last 1 per path keeps both; forgetting /a by id removes it.
    let d = repo
        .forget(
            &KeepPolicy {
                last: Some(1),
                ..Default::default()
            },
            None,
            false,
        )
        .await
        .unwrap();
    assert!(d.iter().all(|x| x.keep));
    repo.delete_snapshots(&[id(&sa.snapshot)]).await.unwrap();
    // Two-phase: with the default grace nothing is deleted yet, only marked.
    let r = repo.prune(PruneOptions::default()).await.unwrap();
    assert!(r.marked + r.repacked > 0 && r.deleted == 0, "{r:?}");
    assert_eq!(restore(&repo, &sb.snapshot).await.unwrap(), b);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
    // After the grace period the marked packs go.
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.deleted > 0, "{r:?}");
    let after = size(&all_objects(store.as_ref()).await);
    assert!(after < before * 3 / 4, "before {before} after {after}");
    assert_eq!(restore(&repo, &sb.snapshot).await.unwrap(), b);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        r.is_ok() && r.warnings.is_empty(),
        "{:?} {:?}",
        r.errors,
        r.warnings
    );
    // An empty policy is refused.
    assert!(matches!(
        repo.forget(&KeepPolicy::default(), None, false).await,
        Err(RepoError::InvalidInput(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marked_packs_come_back_when_a_late_snapshot_needs_them() {
    let (_store, repo) = mem_repo(small_opts()).await;
    let data = random_bytes(30, 800_000);
    let s = backup(&repo, &data, "/late").await;
    let (sid, snap) = repo.find_snapshot(&s.snapshot).await.unwrap();
    let _ = sid;
    // The snapshot is forgotten and prune marks its packs ...
    repo.delete_snapshots(&[id(&s.snapshot)]).await.unwrap();
    let r = repo.prune(PruneOptions::default()).await.unwrap();
    assert!(r.marked > 0);
    // ... while a backup that loaded the index before the mark commits a
    // snapshot using those blobs (simulated by re-committing the manifest).
    let late = kapsel_repo::testing::commit_snapshot(&repo, &snap)
        .await
        .unwrap();
    // Even an immediate-delete prune must bring the packs back, not delete them.
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.recovered > 0 && r.deleted == 0, "{r:?}");
    assert_eq!(restore(&repo, &late.to_hex()).await.unwrap(), data);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_beside_running_backups() {
    let (_store, repo) = mem_repo(small_opts()).await;
    let old = random_bytes(40, 1_000_000);
    let s_old = backup(&repo, &old, "/old").await;
    let keep = random_bytes(41, 1_000_000);
    let s_keep = backup(&repo, &keep, "/keep").await;
    repo.delete_snapshots(&[id(&s_old.snapshot)]).await.unwrap();
    // A new backup re-using /old's content runs while prune marks it.
    let mut newer = old.clone();
    newer.extend(random_bytes(42, 2_000_000));
    let r2 = repo.clone();
    let n2 = newer.clone();
    let (b, p) = tokio::join!(
        async move {
            r2.backup_stream(
                std::io::Cursor::new(n2),
                BackupOptions {
                    paths: vec!["/new".into()],
                    ..Default::default()
                },
            )
            .await
        },
        repo.prune(PruneOptions::default()),
    );
    let b = b.unwrap();
    p.unwrap();
    // A later prune after the grace period must keep what /new needs.
    repo.prune(PruneOptions {
        keep_delete: chrono::Duration::zero(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(restore(&repo, &b.snapshot).await.unwrap(), newer);
    assert_eq!(restore(&repo, &s_keep.snapshot).await.unwrap(), keep);
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}

/// `--read-data-subset`: the groups 1/m .. m/m read every pack exactly once
/// between them, so a damaged pack is found by exactly one group; a
/// percentage reads that share of the packs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_data_subsets_partition_the_packs() {
    use kapsel_repo::check::Subset;
    let (store, repo) = mem_repo(small_opts()).await;
    backup(&repo, &random_bytes(40, 3_000_000), "/s").await;
    let full = repo.check(CheckOptions::default()).await.unwrap();
    assert!(full.packs >= 8, "{full:?}");
    let sub = |s: &str| CheckOptions {
        read_data_subset: Some(Subset::parse(s).unwrap()),
        ..Default::default()
    };
    let mut read = 0;
    for n in 1..=3 {
        let r = repo.check(sub(&format!("{n}/3"))).await.unwrap();
        assert!(r.is_ok(), "{:?}", r.errors);
        read += r.read_packs;
    }
    assert_eq!(read, full.packs);
    let r = repo.check(sub("25%")).await.unwrap();
    assert_eq!(r.read_packs, full.packs.div_ceil(4));
    assert_eq!(
        repo.check(sub("100%")).await.unwrap().read_packs,
        full.packs
    );

    // Damage one data pack: exactly one of the three groups reports it.
    // (Tree packs live under data/ too, but every check reads the trees, so
    // all three groups would see damage there: take the largest pack, which
    // holds file data.)
    let objects = all_objects(store.as_ref()).await;
    let (path, orig) = objects
        .iter()
        .filter(|(p, _)| p.as_ref().contains("/data/"))
        .max_by_key(|(_, b)| b.len())
        .unwrap();
    let mut bad = orig.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    store.put(path, bad.into()).await.unwrap();
    let mut failing = 0;
    for n in 1..=3 {
        let r = repo.check(sub(&format!("{n}/3"))).await.unwrap();
        if !r.is_ok() {
            failing += 1;
            assert!(
                r.errors.iter().any(|e| e.contains(path.as_ref())),
                "{:?}",
                r.errors
            );
        }
    }
    assert_eq!(
        failing,
        1,
        "pack {} of {} bytes, byte {mid} flipped",
        path,
        orig.len()
    );

    for bad in ["0/3", "4/3", "1/0", "x%", "0%", "101%", "half"] {
        assert!(Subset::parse(bad).is_err(), "{bad}");
    }
}

/// A prune replaces index files (merged file first, old ones deleted after)
/// while another process is loading the index: the reader lists again
/// instead of failing on the file that vanished (seen in CI as a push
/// failing beside `kando location delete`), and what it loads is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_replaced_by_a_prune_while_loading_is_listed_again() {
    let (store, repo) = mem_repo(small_opts()).await;
    let a = random_bytes(11, 300_000);
    let b = random_bytes(12, 300_000);
    let sa = backup(&repo, &a, "/a").await;
    let sb = backup(&repo, &b, "/b").await;
    // The first GET of an index file is held, so that a prune can replace
    // the index files between the reader's listing and its reading them.
    let hold = common::gate::Gate::new(store.clone());
    hold.arm(common::gate::Op::Get, "/index/", 1);
    let watched =
        kapsel_repo::Repository::open(hold.clone(), object_store::path::Path::from("repo"), PW)
            .await
            .unwrap();
    let w = watched.clone();
    let loading = tokio::spawn(async move { w.load_index().await });
    hold.reached().await;
    let before: Vec<_> = store
        .list(Some(&object_store::path::Path::from("repo/index")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(before.len(), 2);
    repo.prune(PruneOptions {
        keep_delete: chrono::Duration::zero(),
        ..Default::default()
    })
    .await
    .unwrap();
    let after: Vec<_> = store
        .list(Some(&object_store::path::Path::from("repo/index")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "the prune merged the index files");
    hold.release();
    loading
        .await
        .unwrap()
        .expect("loading the index beside a prune");
    // Everything the snapshots need is still found through that reader.
    assert_eq!(restore(&watched, &sa.snapshot).await.unwrap(), a);
    assert_eq!(restore(&watched, &sb.snapshot).await.unwrap(), b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_of_zeros_is_refused_unless_allowed() {
    let (_store, repo) = mem_repo(small_opts()).await;
    backup(&repo, &random_bytes(40, 50_000), "/z").await;
    backup(&repo, &random_bytes(41, 50_000), "/z").await;
    for policy in [
        KeepPolicy {
            last: Some(0),
            ..Default::default()
        },
        KeepPolicy {
            daily: Some(0),
            monthly: Some(0),
            ..Default::default()
        },
        KeepPolicy {
            within: Some(chrono::Duration::zero()),
            ..Default::default()
        },
    ] {
        for dry_run in [true, false] {
            let r = repo.forget(&policy, None, dry_run).await;
            assert!(
                matches!(&r, Err(RepoError::InvalidInput(m)) if m.contains("every snapshot")),
                "{policy:?}: {r:?}"
            );
        }
        assert_eq!(repo.snapshots().await.unwrap().len(), 2, "{policy:?}");
    }
    // Meant: with allow_empty every snapshot of the path goes.
    let d = repo
        .forget(
            &KeepPolicy {
                last: Some(0),
                allow_empty: true,
                ..Default::default()
            },
            Some("/z"),
            false,
        )
        .await
        .unwrap();
    assert_eq!(d.iter().filter(|x| !x.keep).count(), 2);
    assert!(repo.snapshots().await.unwrap().is_empty());
}

/// A backup's progress counts the bytes whose pack the store has
/// acknowledged, not the bytes read: while the first pack's PUT is held,
/// nothing counts though more than a pack has been read; a second backup of
/// the same bytes (nothing to upload) counts them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_bytes_the_store_acknowledged() {
    let (store, _) = mem_repo(small_opts()).await;
    let gate = common::gate::Gate::new(store.clone());
    gate.arm(common::gate::Op::Put, "/data/", 1);
    let repo =
        kapsel_repo::Repository::open(gate.clone(), object_store::path::Path::from("repo"), PW)
            .await
            .unwrap();
    // 4 MiB of random bytes: 16 packs of 256 KiB.
    let data = random_bytes(7, 4 << 20);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = kapsel_repo::Progress::new();
    let opts = || BackupOptions {
        paths: vec!["/p".into()],
        // One upload at a time: the held PUT holds the backup.
        uploads: 1,
        progress: Some(progress.clone()),
        ..Default::default()
    };
    let reader = CountingReader {
        inner: std::io::Cursor::new(data.clone()),
        n: read.clone(),
    };
    let r = repo.clone();
    let o = opts();
    let first = tokio::spawn(async move { r.backup_stream(reader, o).await });
    gate.reached().await;
    let n = read.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        n >= 256 * 1024,
        "a whole pack was read before its PUT ({n} bytes)"
    );
    assert_eq!(
        progress.done(),
        0,
        "nothing is acknowledged while the first PUT is held"
    );
    gate.release();
    let s = first.await.unwrap().unwrap();
    assert_eq!(progress.done(), data.len() as u64);
    assert!(s.packs > 1);

    let again = kapsel_repo::Progress::new();
    let s2 = repo
        .backup_stream(
            std::io::Cursor::new(data.clone()),
            BackupOptions {
                progress: Some(again.clone()),
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(s2.new_chunks, 0);
    assert_eq!(again.done(), data.len() as u64);
}

struct CountingReader<R> {
    inner: R,
    n: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n
            .fetch_add(k as u64, std::sync::atomic::Ordering::SeqCst);
        Ok(k)
    }
}
