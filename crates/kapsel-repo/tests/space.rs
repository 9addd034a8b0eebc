#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A backup that runs out of space leaves packs; once space is freed, a
//! prune reclaims them and the next backup succeeds (issue 12, item 5).
//! Needs root to mount a small tmpfs; without root it says so and passes.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::*;
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::{LockTiming, Repository};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

/// Unmounts on drop.
struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn skip(why: &str) {
    kapsel_testkit::skip::notice(&format!("SKIPPING enospc test: {why}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_of_a_backup_that_hit_enospc_is_reclaimed_by_prune() {
    if !rustix::process::geteuid().is_root() {
        skip("mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("fs");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "kapsel-enospc"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
        return;
    }
    let _guard = Tmpfs(mnt.clone());
    let store: Arc<dyn ObjectStore> = Arc::new(
        LocalFileSystem::new_with_prefix(&mnt)
            .unwrap()
            .with_fsync(true),
    );
    let repo = Repository::init(store.clone(), Path::from("repo"), PW, small_opts())
        .await
        .unwrap();
    let first = random_bytes(1, 1_500_000);
    let s1 = backup(&repo, &first, "/first").await;
    // 2 MiB of something else on the same disk.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![7u8; 2 << 20]).unwrap();
    // A backup larger than what is left fails on a full disk.
    let big = random_bytes(2, 4_000_000);
    let err = repo
        .backup_stream(std::io::Cursor::new(big.clone()), opts("/big"))
        .await
        .expect_err("a 4 MB backup on a disk with less free space");
    let msg = err.to_string();
    assert!(
        msg.contains("No space left") || msg.to_lowercase().contains("space"),
        "{msg}"
    );
    let sp = repo.space(LockTiming::default()).await.unwrap();
    assert!(
        sp.unindexed_packs > 0,
        "the failed backup's packs show: {sp:?}"
    );
    assert_eq!(sp.running_backups, 0, "the failed backup released its lock");
    // Space freed; the leftovers go with a prune that deletes at once.
    std::fs::remove_file(&filler).unwrap();
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.orphans_deleted, sp.unindexed_packs, "{r:?}");
    assert_eq!(r.bytes_freed, sp.unindexed_bytes, "{r:?}");
    let after = repo.space(LockTiming::default()).await.unwrap();
    assert_eq!(after.unindexed_packs, 0, "{after:?}");
    // The next backup that fits succeeds, and everything restores.
    let again = random_bytes(3, 3_000_000);
    let s3 = backup(&repo, &again, "/again").await;
    assert_eq!(restore(&repo, &s1.snapshot).await.unwrap(), first);
    assert_eq!(restore(&repo, &s3.snapshot).await.unwrap(), again);
}

/// A prune with the default grace period marks the failed backup's packs
/// (they are counted as marked, then deleted by a later prune).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_failed_backup_are_marked_then_deleted() {
    let (store, repo) = mem_repo(small_opts()).await;
    let a = random_bytes(4, 600_000);
    let sa = backup(&repo, &a, "/a").await;
    // A backup whose stream fails after some packs were uploaded.
    struct Failing(std::io::Cursor<Vec<u8>>);
    impl std::io::Read for Failing {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(b)?;
            if n == 0 {
                return Err(std::io::Error::other("source went away"));
            }
            Ok(n)
        }
    }
    let err = repo
        .backup_stream(
            Failing(std::io::Cursor::new(random_bytes(5, 1_200_000))),
            opts("/b"),
        )
        .await
        .expect_err("a failing source");
    assert!(err.to_string().contains("source went away"), "{err}");
    let sp = repo.space(LockTiming::default()).await.unwrap();
    assert!(sp.unindexed_packs > 0, "{sp:?}");
    assert_eq!(sp.running_backups, 0, "{sp:?}");
    let r = repo.prune(PruneOptions::default()).await.unwrap();
    assert_eq!(r.orphans_marked, sp.unindexed_packs, "{r:?}");
    assert_eq!(r.orphans_deleted, 0, "{r:?}");
    let sp2 = repo.space(LockTiming::default()).await.unwrap();
    assert_eq!(sp2.marked_packs, sp.unindexed_packs, "{sp2:?}");
    // Once the grace period is over (zero here), they go.
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.deleted, sp.unindexed_packs, "{r:?}");
    let sp3 = repo.space(LockTiming::default()).await.unwrap();
    assert_eq!((sp3.marked_packs, sp3.unindexed_packs), (0, 0), "{sp3:?}");
    assert_eq!(restore(&repo, &sa.snapshot).await.unwrap(), a);
    let _ = store;
}

/// A killed backup's lock keeps its packs until the lock is stale; the
/// prune that finds it stale reclaims the packs and removes the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_backups_lock_holds_its_packs_until_stale() {
    let (_store, repo) = mem_repo(small_opts()).await;
    let timing = LockTiming {
        refresh: std::time::Duration::from_secs(3600),
        ..LockTiming::default()
    };
    // Simulate a killed backup: its lock, and packs it uploaded.
    // Its stream blocks at the end until `stop` is dropped.
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    struct Slow(std::io::Cursor<Vec<u8>>, std::sync::mpsc::Receiver<()>);
    impl std::io::Read for Slow {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(b)?;
            if n == 0 {
                let _ = self.1.recv();
                return Err(std::io::Error::other("killed"));
            }
            Ok(n)
        }
    }
    let b = repo.clone();
    let task = tokio::spawn(async move {
        b.backup_stream(
            Slow(std::io::Cursor::new(random_bytes(6, 1_200_000)), wait),
            kapsel_repo::BackupOptions {
                paths: vec!["/killed".into()],
                lock_timing: timing,
                ..Default::default()
            },
        )
        .await
    });
    // Wait for packs to appear.
    let mut sp = repo.space(timing).await.unwrap();
    for _ in 0..200 {
        if sp.unindexed_packs >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        sp = repo.space(timing).await.unwrap();
    }
    assert!(sp.unindexed_packs >= 2 && sp.running_backups == 1, "{sp:?}");
    // Killed: the task is gone without releasing its lock.
    task.abort();
    drop(stop);
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            lock_timing: timing,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (r.orphans_deleted, r.orphans_marked),
        (0, 0),
        "held by the lock: {r:?}"
    );
    // Its lock goes stale (stale time zero stands for 30 minutes later).
    let stale = LockTiming {
        stale: chrono::Duration::zero(),
        ..timing
    };
    let r = repo
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            lock_timing: stale,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.orphans_deleted >= 2, "{r:?}");
    assert_eq!(r.stale_locks_removed, 1, "{r:?}");
    let sp = repo.space(timing).await.unwrap();
    assert_eq!(
        (sp.unindexed_packs, sp.running_backups, sp.stale_locks),
        (0, 0, 0),
        "{sp:?}"
    );
}
