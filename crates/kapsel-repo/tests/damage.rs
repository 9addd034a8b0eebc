#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Damage to each kind of object (pack, index file, snapshot manifest, key
//! file, config) in a filesystem repository: `check` names it and the
//! snapshots it affects, the rest of the repository keeps serving, `repair`
//! brings it back, and restores that need lost bytes fail naming the
//! object, never returning wrong bytes.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use kapsel_repo::check::CheckOptions;
use kapsel_repo::prune::PruneOptions;
use kapsel_repo::repair::{RepairIndexOptions, RepairSnapshotsOptions};
use kapsel_repo::{KdfParams, RepoError, Repository};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

/// A repository on disk with two snapshots in separate packs: `/a` and `/b`.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Arc<dyn ObjectStore>,
    repo: Repository,
    a: String,
    b: String,
    data_a: Vec<u8>,
    data_b: Vec<u8>,
    /// Pack files written by the backup of `/a` (data and meta).
    packs_a: Vec<PathBuf>,
    /// The index file written by the backup of `/a`.
    index_a: PathBuf,
}

fn files(dir: &std::path::Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.insert(p);
        }
    }
    out
}

async fn open(store: &Arc<dyn ObjectStore>, pw: &[u8]) -> kapsel_repo::Result<Repository> {
    Repository::open(store.clone(), Path::from("repo"), pw).await
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let repo = Repository::init(store.clone(), Path::from("repo"), PW, small_opts())
        .await
        .unwrap();
    let root = dir.path().join("repo");
    let data_a = random_bytes(1, 100_000);
    let data_b = random_bytes(2, 120_000);
    let a = backup(&repo, &data_a, "/a").await.snapshot;
    let packs_a: Vec<PathBuf> = files(&root.join("data")).into_iter().collect();
    let index_a = files(&root.join("index")).into_iter().next().unwrap();
    let b = backup(&repo, &data_b, "/b").await.snapshot;
    assert_eq!(packs_a.len(), 2, "a data pack and a meta pack");
    Fixture {
        _dir: dir,
        root,
        store,
        repo,
        a,
        b,
        data_a,
        data_b,
        packs_a,
        index_a,
    }
}

impl Fixture {
    fn data_pack_a(&self) -> PathBuf {
        // The larger of A's packs holds its data blobs.
        self.packs_a
            .iter()
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .unwrap()
            .clone()
    }
    fn manifest(&self, id: &str) -> PathBuf {
        self.root.join("snapshots").join(id)
    }
    fn name(p: &std::path::Path) -> String {
        p.file_name().unwrap().to_string_lossy().into_owned()
    }
    async fn check(&self, read_data: bool) -> kapsel_repo::check::CheckReport {
        open(&self.store, PW)
            .await
            .unwrap()
            .check(CheckOptions {
                read_data,
                ..Default::default()
            })
            .await
            .unwrap()
    }
    /// Restores of B (untouched) still give its bytes.
    async fn b_restores(&self) {
        let r = open(&self.store, PW).await.unwrap();
        assert_eq!(restore(&r, &self.b).await.unwrap(), self.data_b);
    }
}

fn flip(p: &std::path::Path, at: usize) {
    let mut b = std::fs::read(p).unwrap();
    let at = at.min(b.len() - 1);
    b[at] ^= 0x40;
    std::fs::write(p, b).unwrap();
}

fn truncate(p: &std::path::Path) {
    let b = std::fs::read(p).unwrap();
    std::fs::write(p, &b[..b.len() / 2]).unwrap();
}

fn affected(rep: &kapsel_repo::check::CheckReport) -> BTreeSet<String> {
    rep.affected_snapshots
        .iter()
        .map(|a| a.id.clone())
        .collect()
}

fn errors_mention(rep: &kapsel_repo::check::CheckReport, what: &[&str]) -> bool {
    rep.errors
        .iter()
        .any(|e| what.iter().all(|w| e.contains(w)))
}

// ---- packs ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_byte_flip_is_named_with_its_snapshot_and_never_restored_wrong() {
    let f = fixture().await;
    let pack = f.data_pack_a();
    flip(&pack, 100);
    let rep = f.check(true).await;
    assert!(!rep.is_ok());
    let name = Fixture::name(&pack);
    assert!(
        errors_mention(&rep, &[&name, &f.a, "/a"]),
        "{:#?}",
        rep.errors
    );
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    let e = restore(&f.repo, &f.a).await.unwrap_err().to_string();
    assert!(
        e.contains("fails authentication") && e.contains(&name),
        "{e}"
    );
    f.b_restores().await;
    // The header is intact: repair index keeps the pack, nothing is partial
    // in the index's eyes, B still restores.
    let r = f
        .repo
        .repair_index(RepairIndexOptions::default())
        .await
        .unwrap();
    assert!(r.unreadable_packs.is_empty(), "{r:?}");
    f.b_restores().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_pack_is_named_and_repair_forgets_only_what_is_lost() {
    let f = fixture().await;
    let pack = f.data_pack_a();
    let len = std::fs::metadata(&pack).unwrap().len();
    truncate(&pack);
    let name = Fixture::name(&pack);
    // Plain check (no data read) sees it from the size.
    let rep = f.check(false).await;
    assert!(
        errors_mention(&rep, &[&name, "truncated", &f.a, "/a"]),
        "{:#?}",
        rep.errors
    );
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    // Restore names the pack and says truncated, not a generic range error.
    let e = restore(&f.repo, &f.a).await.unwrap_err().to_string();
    assert!(e.contains(&name) && e.contains("truncated"), "{e}");
    assert!(!e.contains("Requested range"), "{e}");
    // Cut before every blob: a range past the end, which object_store
    // reports as an invalid range; still "truncated".
    let half = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &half[..8]).unwrap();
    let e = restore(&f.repo, &f.a).await.unwrap_err().to_string();
    assert!(e.contains(&name) && e.contains("truncated (8 bytes"), "{e}");
    assert!(!e.contains("Requested range"), "{e}");
    std::fs::write(&pack, &half).unwrap();
    f.b_restores().await;
    // Repair index: the pack's header is gone, so it is reported, not indexed.
    let dry = f
        .repo
        .repair_index(RepairIndexOptions { dry_run: true })
        .await
        .unwrap();
    assert_eq!(dry.unreadable_packs.len(), 1, "{dry:?}");
    assert!(dry.new_index_file.is_none());
    assert_eq!(
        files(&f.root.join("index")).len(),
        2,
        "dry run changes nothing"
    );
    let r = f
        .repo
        .repair_index(RepairIndexOptions::default())
        .await
        .unwrap();
    assert!(r.unreadable_packs[0].0.contains(&name), "{r:?}");
    assert_eq!(files(&f.root.join("index")).len(), 1);
    // Repair snapshots: A is partial, kept unless asked.
    let s = f
        .repo
        .repair_snapshots(RepairSnapshotsOptions::default())
        .await
        .unwrap();
    assert_eq!(s.partial.len(), 1, "{s:?}");
    assert_eq!(s.partial[0].id, f.a);
    assert_eq!(s.partial[0].paths, vec!["/a".to_string()]);
    assert!(s.forgotten.is_empty());
    assert_eq!(f.repo.snapshots().await.unwrap().len(), 2);
    let s = f
        .repo
        .repair_snapshots(RepairSnapshotsOptions {
            forget_partial: true,
            dry_run: false,
        })
        .await
        .unwrap();
    assert_eq!(s.forgotten, vec![f.a.clone()]);
    let snaps = f.repo.snapshots().await.unwrap();
    assert_eq!(snaps.len(), 1);
    f.b_restores().await;
    // What is left checks clean (the truncated pack is only a leftover).
    let rep = f.check(true).await;
    assert!(rep.is_ok(), "{:#?}", rep.errors);
    let _ = len;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pack_is_named_with_its_snapshot() {
    let f = fixture().await;
    let pack = f.data_pack_a();
    std::fs::remove_file(&pack).unwrap();
    let name = Fixture::name(&pack);
    let rep = f.check(false).await;
    assert!(
        errors_mention(&rep, &[&name, "missing", &f.a, "/a"]),
        "{:#?}",
        rep.errors
    );
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    let e = restore(&f.repo, &f.a).await.unwrap_err().to_string();
    assert!(e.contains(&name), "{e}");
    f.b_restores().await;
    f.repo
        .repair_index(RepairIndexOptions::default())
        .await
        .unwrap();
    let s = f
        .repo
        .repair_snapshots(RepairSnapshotsOptions::default())
        .await
        .unwrap();
    assert_eq!(
        s.partial.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![f.a.clone()]
    );
    f.b_restores().await;
}

// ---- index files -------------------------------------------------------------------

async fn damaged_index_case(damage: impl Fn(&std::path::Path)) {
    let f = fixture().await;
    damage(&f.index_a);
    let ix_name = Fixture::name(&f.index_a);
    let r = open(&f.store, PW).await.unwrap();
    // Snapshots still list; B restores; A fails naming a blob; a warning
    // names the index file.
    assert_eq!(r.snapshots().await.unwrap().len(), 2);
    assert_eq!(restore(&r, &f.b).await.unwrap(), f.data_b);
    let e = restore(&r, &f.a).await.unwrap_err().to_string();
    assert!(e.contains("not in the index") && e.contains(&f.a), "{e}");
    let w = r.warnings();
    assert!(
        w.iter()
            .any(|w| w.contains(&ix_name) && w.contains("repair index")),
        "{w:?}"
    );
    // Check names the file, points to repair, and names A.
    let rep = f.check(false).await;
    assert!(
        errors_mention(&rep, &[&ix_name, "kapsel repo repair index"]),
        "{:#?}",
        rep.errors
    );
    assert!(errors_mention(&rep, &[&f.a, "/a"]), "{:#?}", rep.errors);
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    // Prune refuses instead of deleting A's packs as unused or orphaned.
    let e = r
        .prune(PruneOptions {
            keep_delete: chrono::Duration::zero(),
            orphan_min_age: chrono::Duration::zero(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, RepoError::DamagedIndex { .. }) && e.to_string().contains("repair index"),
        "{e}"
    );
    assert!(f.packs_a.iter().all(|p| p.exists()));
    // repair snapshots sees A as partial, says why, and will not forget it.
    let s = r
        .repair_snapshots(RepairSnapshotsOptions::default())
        .await
        .unwrap();
    assert_eq!(s.partial.len(), 1, "{s:?}");
    assert!(
        s.partial[0]
            .problems
            .iter()
            .any(|p| p.contains("repair index")),
        "{s:?}"
    );
    let e = r
        .repair_snapshots(RepairSnapshotsOptions {
            forget_partial: true,
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, RepoError::DamagedIndex { .. }), "{e}");
    assert_eq!(r.snapshots().await.unwrap().len(), 2);
    // Repair: everything restores, check is clean, prune works.
    let rep = r.repair_index(RepairIndexOptions::default()).await.unwrap();
    assert_eq!(rep.packs, 4, "{rep:?}");
    let r = open(&f.store, PW).await.unwrap();
    assert_eq!(restore(&r, &f.a).await.unwrap(), f.data_a);
    assert_eq!(restore(&r, &f.b).await.unwrap(), f.data_b);
    let rep = f.check(true).await;
    assert!(rep.is_ok(), "{:#?}", rep.errors);
    assert!(rep.warnings.is_empty(), "{:#?}", rep.warnings);
    r.prune(PruneOptions::default()).await.unwrap();
    assert_eq!(restore(&r, &f.a).await.unwrap(), f.data_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_file_byte_flip() {
    damaged_index_case(|p| flip(p, 40)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_file_truncated() {
    damaged_index_case(truncate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_file_deleted() {
    let f = fixture().await;
    std::fs::remove_file(&f.index_a).unwrap();
    let rep = f.check(false).await;
    assert!(
        errors_mention(&rep, &[&f.a, "/a", "in no index"]),
        "{:#?}",
        rep.errors
    );
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    f.b_restores().await;
    let e = restore(&f.repo, &f.a).await.unwrap_err().to_string();
    assert!(e.contains("not in the index"), "{e}");
    // Prune refuses: a snapshot needs blobs in no index.
    assert!(f.repo.prune(PruneOptions::default()).await.is_err());
    f.repo
        .repair_index(RepairIndexOptions::default())
        .await
        .unwrap();
    assert_eq!(restore(&f.repo, &f.a).await.unwrap(), f.data_a);
    assert!(f.check(true).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_index_keeps_marks_of_readable_index_files() {
    let f = fixture().await;
    // Forget A and prune with a grace period: A's packs are marked.
    f.repo.delete_snapshots(&[id(&f.a)]).await.unwrap();
    let p = f.repo.prune(PruneOptions::default()).await.unwrap();
    assert_eq!(p.marked, 2, "{p:?}");
    let r = f
        .repo
        .repair_index(RepairIndexOptions::default())
        .await
        .unwrap();
    assert_eq!((r.packs, r.marked), (2, 2), "{r:?}");
    let ix = f.repo.load_index().await.unwrap();
    assert_eq!(ix.marked.len(), 2);
    f.b_restores().await;
}

// ---- snapshot manifests ----------------------------------------------------------

async fn damaged_manifest_case(damage: impl Fn(&std::path::Path)) {
    let f = fixture().await;
    let m = f.manifest(&f.a);
    damage(&m);
    let r = open(&f.store, PW).await.unwrap();
    // Listing skips it with a warning; B restores; forget and prune work or
    // refuse honestly.
    let snaps = r.snapshots().await.unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].0.to_hex(), f.b);
    assert!(
        r.warnings()
            .iter()
            .any(|w| w.contains(&f.a) && w.contains("repair snapshots")),
        "{:?}",
        r.warnings()
    );
    let rep = r.snapshots_report().await.unwrap();
    assert_eq!(rep.damaged.len(), 1);
    f.b_restores().await;
    let e = restore(&r, &f.a).await.unwrap_err().to_string();
    assert!(e.contains(&f.a) && e.contains("corrupt"), "{e}");
    let rep = f.check(false).await;
    assert!(
        errors_mention(&rep, &[&f.a, "kapsel repo repair snapshots"]),
        "{:#?}",
        rep.errors
    );
    assert_eq!(affected(&rep), BTreeSet::from([f.a.clone()]));
    let e = r.prune(PruneOptions::default()).await.unwrap_err();
    assert!(
        matches!(e, RepoError::DamagedSnapshots { .. }) && e.to_string().contains(&f.a),
        "{e}"
    );
    // Dry run changes nothing; repair moves it aside.
    let d = r
        .repair_snapshots(RepairSnapshotsOptions {
            dry_run: true,
            forget_partial: false,
        })
        .await
        .unwrap();
    assert_eq!(d.damaged.len(), 1);
    assert!(m.exists());
    let d = r
        .repair_snapshots(RepairSnapshotsOptions::default())
        .await
        .unwrap();
    assert_eq!(d.moved_to, vec![format!("snapshots-damaged/{}", f.a)]);
    assert!(!m.exists());
    assert!(f.root.join("snapshots-damaged").join(&f.a).exists());
    assert!(d.partial.is_empty(), "{d:?}");
    let rep = f.check(false).await;
    assert!(rep.is_ok(), "{:#?}", rep.errors);
    r.prune(PruneOptions::default()).await.unwrap();
    f.b_restores().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_byte_flip() {
    damaged_manifest_case(|p| flip(p, 30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_truncated() {
    damaged_manifest_case(truncate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_deleted_leaves_the_rest_serving() {
    let f = fixture().await;
    std::fs::remove_file(f.manifest(&f.a)).unwrap();
    // A deleted manifest is a forgotten snapshot: nothing else is affected.
    let rep = f.check(false).await;
    assert!(rep.is_ok(), "{:#?}", rep.errors);
    assert_eq!(f.repo.snapshots().await.unwrap().len(), 1);
    f.b_restores().await;
}

// ---- key files -----------------------------------------------------------------------

async fn two_keys() -> (Fixture, PathBuf) {
    let f = fixture().await;
    let before = files(&f.root.join("keys"));
    f.repo
        .key_add(b"second", KdfParams::insecure_fast())
        .await
        .unwrap();
    let second = files(&f.root.join("keys"))
        .difference(&before)
        .next()
        .unwrap()
        .clone();
    (f, second)
}

async fn damaged_key_case(damage: impl Fn(&std::path::Path), parses: bool) {
    let (f, second) = two_keys().await;
    damage(&second);
    let name = Fixture::name(&second);
    // The intact key still opens; a warning names the damaged one.
    let r = open(&f.store, PW).await.unwrap();
    assert_eq!(restore(&r, &f.a).await.unwrap(), f.data_a);
    // Check names it.
    let rep = r.check(CheckOptions::default()).await.unwrap();
    if parses {
        assert!(rep.is_ok(), "{:#?}", rep.errors);
    } else {
        assert!(
            errors_mention(&rep, &[&name, "key file"]),
            "{:#?}",
            rep.errors
        );
        // Its own password: damaged key named, not "wrong password".
        let e = open(&f.store, b"second").await.unwrap_err();
        assert!(matches!(e, RepoError::DamagedKeys { tried: 1, .. }), "{e}");
        let m = e.to_string();
        assert!(m.contains(&name) && !m.contains("wrong password"), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_byte_flip() {
    // The first byte: the file is no longer JSON.
    damaged_key_case(|p| flip(p, 0), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_truncated() {
    damaged_key_case(truncate, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_deleted() {
    let (f, second) = two_keys().await;
    std::fs::remove_file(&second).unwrap();
    open(&f.store, PW).await.unwrap();
    let e = open(&f.store, b"second").await.unwrap_err();
    assert!(matches!(e, RepoError::WrongPassword { keys: 1 }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_over_large_is_named_and_not_counted() {
    let (f, second) = two_keys().await;
    let mut b = std::fs::read(&second).unwrap();
    b.extend(std::iter::repeat_n(b' ', 70_000));
    std::fs::write(&second, b).unwrap();
    let name = Fixture::name(&second);
    open(&f.store, PW).await.unwrap();
    let e = open(&f.store, b"second").await.unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, RepoError::DamagedKeys { tried: 1, .. })
            && m.contains(&name)
            && m.contains("over"),
        "{m}"
    );
    let rep = f.check(false).await;
    assert!(errors_mention(&rep, &[&name, "over"]), "{:#?}", rep.errors);
}

fn set_kdf(p: &std::path::Path, memory: u64, iterations: u64, parallelism: u64) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["kdf"] = serde_json::json!({
        "memory_kib": memory, "iterations": iterations, "parallelism": parallelism
    });
    std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_kdf_parameters_out_of_bounds_are_errors_not_panics_or_minutes() {
    for (m, t, p, want) in [
        (65536, 3, 4294967295u64, "parallelism 4294967295"),
        (3 * 1024 * 1024, 99, 4, "exceeds the bound"),
        (65536, 1000, 4, "iterations 1000"),
        (8 * 1024 * 1024, 1, 4, "memory"),
    ] {
        let (f, second) = two_keys().await;
        set_kdf(&second, m, t, p);
        let name = Fixture::name(&second);
        let start = std::time::Instant::now();
        let e = open(&f.store, b"second").await.unwrap_err();
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
        let msg = e.to_string();
        assert!(
            matches!(e, RepoError::DamagedKeys { .. }) && msg.contains(&name) && msg.contains(want),
            "{msg}"
        );
        // The other key still opens, and check names the bad one.
        let rep = f.check(false).await;
        assert!(errors_mention(&rep, &[&name, want]), "{:#?}", rep.errors);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_verifies_key_files() {
    let f = fixture().await;
    let rep = f.check(false).await;
    assert!(rep.is_ok(), "{:#?}", rep.errors);
    assert_eq!(rep.keys.len(), 1);
    assert!(rep.keys[0].current && rep.keys[0].problem.is_none());
}

// ---- config ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_corrupt_config_and_foreign_repository_differ() {
    let f = fixture().await;
    let config = f.root.join("config");
    let good = std::fs::read(&config).unwrap();
    // Wrong password, intact repository.
    let e = open(&f.store, b"nope").await.unwrap_err();
    assert!(matches!(e, RepoError::WrongPassword { keys: 1 }), "{e}");
    assert!(e.to_string().contains("wrong password"));
    // One flipped byte in the ciphertext: corrupt, not wrong password.
    flip(&config, 30);
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(matches!(e, RepoError::ConfigCorrupt { .. }), "{e}");
    assert!(e.to_string().contains("config is corrupt"), "{e}");
    // With a wrong password the same damage cannot be seen: wrong password.
    let e = open(&f.store, b"nope").await.unwrap_err();
    assert!(matches!(e, RepoError::WrongPassword { .. }), "{e}");
    // Garbage after an intact header.
    let mut g = good[..6].to_vec();
    g.extend(random_bytes(9, 200));
    std::fs::write(&config, &g).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(e.to_string().contains("config is corrupt"), "{e}");
    // Truncated.
    std::fs::write(&config, &good[..good.len() / 2]).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
    std::fs::write(&config, &good[..10]).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
    // A flipped magic byte, or garbage: not a Kapsel repository.
    let mut m = good.clone();
    m[1] ^= 1;
    std::fs::write(&config, &m).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(matches!(e, RepoError::NotARepository { .. }), "{e}");
    assert!(e.to_string().contains("not a Kapsel repository"), "{e}");
    // Another repository's config (same password): corrupt or foreign
    // repository, never "wrong password".
    let other = tempfile::tempdir().unwrap();
    let ostore: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(other.path()).unwrap());
    Repository::init(ostore, Path::from("repo"), PW, small_opts())
        .await
        .unwrap();
    std::fs::copy(other.path().join("repo/config"), &config).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(
        matches!(e, RepoError::ConfigCorrupt { .. })
            && e.to_string().contains("another repository"),
        "{e}"
    );
    // Deleted: no repository.
    std::fs::remove_file(&config).unwrap();
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(matches!(e, RepoError::NotFound { .. }), "{e}");
    // Restored: everything serves again.
    std::fs::write(&config, &good).unwrap();
    f.b_restores().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_key_does_not_stop_another_key() {
    let (f, second) = two_keys().await;
    // A key file that is not complete JSON.
    std::fs::write(&second, b"{\"version\": 1").unwrap();
    let r = open(&f.store, PW).await.unwrap();
    assert_eq!(restore(&r, &f.b).await.unwrap(), f.data_b);
    // No key files at all.
    for k in files(&f.root.join("keys")) {
        std::fs::remove_file(k).unwrap();
    }
    let e = open(&f.store, PW).await.unwrap_err();
    assert!(matches!(e, RepoError::NoKeys { .. }), "{e}");
}
