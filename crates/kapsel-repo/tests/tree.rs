#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Directory-tree snapshots through a local-filesystem repository: every
//! file type, metadata, hardlinks, sparse files, non-UTF-8 names; a
//! sub-path restore; 50,000 small files. (The S3 round trip of the same
//! tree runs through the kando binary in crates/kando/tests/data.rs.)

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kapsel_repo::check::CheckOptions;
use kapsel_repo::restore::RestoreOptions;
use kapsel_repo::{BackupOptions, InitOptions, KdfParams, Repository};
use kapsel_testkit::tree::{describe, make_tree, walk};

async fn fs_repo(dir: &Path) -> Repository {
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).unwrap());
    Repository::init(
        store,
        object_store::path::Path::from("repo"),
        b"pw",
        InitOptions {
            kdf: KdfParams::insecure_fast(),
            ..InitOptions::default()
        },
    )
    .await
    .unwrap()
}

fn bopts() -> BackupOptions {
    BackupOptions {
        tags: vec!["t".into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_type_round_trips_exactly() {
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path());
    let root = src.path().join("d");
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = fs_repo(repo_dir.path()).await;
    let (sum, t) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    assert_eq!(t.files, 6, "{t:?}");
    assert!(t.skipped.is_empty(), "{:?}", t.skipped);
    // The sparse 48 MiB file is mostly zeros: it dedups and compresses.
    assert!(sum.added_bytes < 8 << 20, "{sum:?}");
    let (sid, snap) = repo.find_snapshot(&t.snapshot).await.unwrap();
    assert_eq!(snap.paths, vec![root.to_string_lossy().into_owned()]);

    let out = tempfile::tempdir().unwrap();
    let r = repo
        .restore_tree(&sid, &snap, out.path(), None, RestoreOptions::default())
        .await
        .unwrap();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(r.files, 6);
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    let want = describe(&root);
    let got = describe(&restored);
    assert_eq!(got, want);
    // The sparse file's holes stayed holes.
    let md = std::fs::metadata(restored.join("sparse.img")).unwrap();
    assert!(md.blocks() * 512 < 4 << 20, "{} blocks", md.blocks());

    // Sub-path restore: just `sub`, placed at the target itself; its
    // hardlink's inode is restored there as a file with the same content.
    let out2 = tempfile::tempdir().unwrap();
    let target = out2.path().join("only-sub");
    let sub = root.join("sub");
    repo.restore_tree(
        &sid,
        &snap,
        &target,
        Some(sub.as_os_str().as_bytes()),
        RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(target.join("linked3")).unwrap(),
        b"one inode, three names"
    );
    assert_eq!(
        std::fs::read(target.join("deeper/text.csv")).unwrap(),
        std::fs::read(sub.join("deeper/text.csv")).unwrap()
    );
    assert!(!target.join("hello.txt").exists());
    let e = repo
        .restore_tree(
            &sid,
            &snap,
            out2.path(),
            Some(b"/not/in/snapshot"),
            RestoreOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has no path"), "{e}");

    // A stream restore of a tree is refused with a clear error.
    let e = repo
        .restore_stream(&sid, &snap, std::io::sink(), RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("directory tree"), "{e}");

    // A second backup of the unchanged tree adds only its manifest's blobs.
    let (again, _) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    assert_eq!(again.new_chunks, 0, "{again:?}");
    let rep = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rep.is_ok(), "{:?}", rep.errors);
}

/// A scratch directory in tmpfs when there is one (50,000 files on a busy
/// disk measure the disk, not Kapsel).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_small_files() {
    let src = scratch();
    let root = src.path().join("many");
    let mut total = 0u64;
    for d in 0..100 {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..500 {
            let n = 1 + (d * 500 + f) % 3000;
            let body: Vec<u8> = (0..n).map(|i| (i * 31 + f + d) as u8).collect();
            total += n as u64;
            std::fs::write(dir.join(format!("f{f:04}")), body).unwrap();
        }
    }
    let repo_dir = scratch();
    let repo = fs_repo(repo_dir.path()).await;
    let t0 = std::time::Instant::now();
    let (sum, t) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    let backup_s = t0.elapsed().as_secs_f64();
    assert_eq!(t.files, 50_000);
    assert_eq!(t.size, total);
    let (sid, snap) = repo.find_snapshot(&t.snapshot).await.unwrap();
    let out = scratch();
    let t0 = std::time::Instant::now();
    let r = repo
        .restore_tree(&sid, &snap, out.path(), None, RestoreOptions::default())
        .await
        .unwrap();
    let restore_s = t0.elapsed().as_secs_f64();
    assert_eq!(r.files, 50_000);
    eprintln!(
        "50,000 files, {total} bytes: backup {backup_s:.1} s ({} packs, {} chunks), restore {restore_s:.1} s",
        sum.packs, sum.chunks
    );
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_eq!(describe(&restored), describe(&root));
}

/// Files are chunked one by one (a chunk never spans two files), so a second
/// backup after changing 5% of the files, scattered, stores about those files
/// and not the neighbours that shared chunks with them. Before per-file cuts,
/// this added over half of the first backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_scattered_small_files_stores_only_them() {
    let src = scratch();
    let root = src.path().join("files");
    std::fs::create_dir_all(&root).unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let n = 4000usize;
    for f in 0..n {
        let len = 2048 + (next() % 14_000) as usize;
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        std::fs::write(root.join(format!("f{f:05}")), body).unwrap();
    }
    // One large file too: CDC still cuts inside it.
    let big: Vec<u8> = (0..(3 << 20)).map(|_| next() as u8).collect();
    std::fs::write(root.join("big"), &big).unwrap();
    let repo_dir = scratch();
    let repo = fs_repo(repo_dir.path()).await;
    let (first, _) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    // Every 20th file gets a new body (5%).
    for f in (7..n).step_by(20) {
        let p = root.join(format!("f{f:05}"));
        let len = std::fs::metadata(&p).unwrap().len() as usize;
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        std::fs::write(p, body).unwrap();
    }
    let (second, t2) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    let share = second.added_bytes as f64 / first.added_bytes as f64;
    eprintln!(
        "tree dedup: first {} bytes, second added {} bytes ({:.1}%), {} of {} chunks new",
        first.added_bytes,
        second.added_bytes,
        share * 100.0,
        second.new_chunks,
        second.chunks
    );
    // 5% of the files changed; the tree listing itself is new each time.
    assert!(share < 0.10, "second backup added {:.1}%", share * 100.0);
    assert!(second.new_chunks >= (n / 20) as u64, "{second:?}");
    let (sid, snap) = repo.find_snapshot(&t2.snapshot).await.unwrap();
    let out = scratch();
    repo.restore_tree(&sid, &snap, out.path(), None, RestoreOptions::default())
        .await
        .unwrap();
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_eq!(describe(&restored), describe(&root));
}

/// A tree restore that fails midway (a pack that no longer authenticates)
/// leaves no truncated file under a real name and no partial file: each
/// file is either complete or absent, and the error names the absent ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_leaves_no_partial_file() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("t");
    std::fs::create_dir_all(&root).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut files = BTreeMap::new();
    for i in 0..8 {
        let body: Vec<u8> = (0..700_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let name = format!("f{i}");
        std::fs::write(root.join(&name), &body).unwrap();
        files.insert(name, body);
    }
    let repo_dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(repo_dir.path()).unwrap());
    let repo = Repository::init(
        store,
        object_store::path::Path::from("repo"),
        b"pw",
        InitOptions {
            kdf: KdfParams::insecure_fast(),
            pack_size: 1 << 20,
            ..InitOptions::default()
        },
    )
    .await
    .unwrap();
    let (_, t) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    let (sid, snap) = repo.find_snapshot(&t.snapshot).await.unwrap();
    // Damage the middle of the largest pack: some file's data.
    let packs: Vec<PathBuf> = walk(&repo_dir.path().join("repo/data"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(packs.len() >= 3, "{packs:?}");
    let pack = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut b = std::fs::read(pack).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    std::fs::write(pack, &b).unwrap();

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("r");
    let e = repo
        .restore_tree(
            &sid,
            &snap,
            &target,
            Some(root.as_os_str().as_bytes()),
            RestoreOptions::default(),
        )
        .await
        .unwrap_err();
    let kapsel_repo::RepoError::Incomplete { not_restored, .. } = &e else {
        panic!("{e}");
    };
    assert!(!not_restored.is_empty());
    let msg = e.to_string();
    assert!(msg.contains("not restored"), "{msg}");
    let mut present = Vec::new();
    for ent in std::fs::read_dir(&target).unwrap() {
        let ent = ent.unwrap();
        let name = ent.file_name().to_string_lossy().into_owned();
        let want = files
            .get(&name)
            .unwrap_or_else(|| panic!("{name} left in the target ({msg})"));
        assert!(
            std::fs::read(ent.path()).unwrap() == *want,
            "{name} is under its name but not complete"
        );
        present.push(name);
    }
    for name in files.keys() {
        let p = target.join(name).display().to_string();
        assert_eq!(
            present.contains(name),
            !not_restored.contains(&p),
            "{name}: {msg}"
        );
        if !present.contains(name) {
            assert!(msg.contains(&p), "{msg}");
        }
    }
    assert!(present.len() < files.len());
}

/// Merged chunks (docs/format.md §5) end at a file's end, as chunks do: a
/// new file ahead of two large compressible ones adds its own chunk and the
/// listing's, and the other files' merged chunks deduplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_chunks_end_with_their_file() {
    let src = scratch();
    let root = src.path().join("dumps");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("b.sql"), common::dump_rows(1, 100_000)).unwrap();
    std::fs::write(root.join("c.sql"), common::dump_rows(500_000, 100_000)).unwrap();
    let repo_dir = scratch();
    let repo = fs_repo(repo_dir.path()).await;
    let (first, _) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    // Two files of ~10 MB at merged sizes of 4-8 MiB, plus the listing.
    assert!(first.chunks <= 7, "{first:?}");
    std::fs::write(root.join("a.sql"), common::dump_rows(900_000, 20_000)).unwrap();
    let (second, t2) = repo
        .backup_tree(std::slice::from_ref(&root), bopts())
        .await
        .unwrap();
    assert!(second.new_chunks <= 2, "{second:?}");
    let (sid, snap) = repo.find_snapshot(&t2.snapshot).await.unwrap();
    let out = scratch();
    repo.restore_tree(&sid, &snap, out.path(), None, RestoreOptions::default())
        .await
        .unwrap();
    let restored = out.path().join(root.strip_prefix("/").unwrap());
    assert_eq!(describe(&restored), describe(&root));
}
