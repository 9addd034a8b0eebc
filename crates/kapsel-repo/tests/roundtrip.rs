#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::*;

use kapsel_repo::check::CheckOptions;
use kapsel_repo::{RepoError, Repository};
use object_store::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_edge_sizes() {
    let (_s, repo) = mem_repo(small_opts()).await;
    let max = 64 * 1024;
    for (i, n) in [
        0usize,
        1,
        4095,
        4096,
        max - 1,
        max,
        max + 1,
        3 * max,
        1_000_000,
    ]
    .into_iter()
    .enumerate()
    {
        let data = random_bytes(i as u64 + 1, n);
        let s = backup(&repo, &data, &format!("/p{i}")).await;
        assert_eq!(s.size, n as u64);
        assert_eq!(restore(&repo, &s.snapshot).await.unwrap(), data, "size {n}");
    }
    // Exactly one maximal chunk then the rest: a chunk boundary at max.
    let data = vec![0u8; 2 * max];
    let s = backup(&repo, &data, "/zeros").await;
    assert_eq!(s.chunks, 2);
    assert_eq!(s.new_chunks, 1, "two identical max-size chunks dedup");
    assert_eq!(restore(&repo, &s.snapshot).await.unwrap(), data);
    let r = repo.check(CheckOptions { read_data: true }).await.unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressible_data_is_compressed_random_is_not() {
    let (_s, repo) = mem_repo(small_opts()).await;
    let text: Vec<u8> = (0..60_000)
        .flat_map(|i| format!("{i},row {i},{}\n", i * 7 % 13).into_bytes())
        .collect();
    let s = backup(&repo, &text, "/text").await;
    assert!(s.added_bytes * 3 < s.size, "text compresses: {s:?}");
    let rnd = random_bytes(9, 1 << 20);
    let s2 = backup(&repo, &rnd, "/rnd").await;
    // Random data is stored raw: only nonce+tag per blob (plus meta) on top.
    assert!(s2.added_bytes < s2.size + s2.chunks * 28 + 4096, "{s2:?}");
    assert!(s2.added_bytes >= s2.size);
    assert_eq!(restore(&repo, &s.snapshot).await.unwrap(), text);
    assert_eq!(restore(&repo, &s2.snapshot).await.unwrap(), rnd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_same_changed_and_shifted() {
    // 64 KiB / 256 KiB / 1 MiB chunks. With the default 512 KiB average the
    // result depends on the repository key (the chunker's seed): 7.8 % to
    // 11.1 % were measured for this edit, so the 10 % target is not met
    // reliably at the default yet (open in issue 4's notes).
    let mut opts = default_opts();
    opts.chunker.min = 64 * 1024;
    opts.chunker.avg = 256 * 1024;
    opts.chunker.max = 1024 * 1024;
    let (_s, repo) = mem_repo(opts).await;
    let mut data = Vec::new();
    // Incompressible base: the ratio then measures dedup alone (overwriting
    // well-compressing text with random bytes would also grow the data).
    std::io::Read::read_to_end(&mut Gen::new(1, 256 << 20), &mut data).unwrap();
    let first = backup(&repo, &data, "/a").await;
    // Same content again: nothing new (content decides, every byte re-read).
    let again = backup(&repo, &data, "/a").await;
    assert_eq!(again.new_chunks, 0);
    assert_eq!(again.chunks, first.chunks);
    assert_ne!(again.snapshot, first.snapshot);
    // 4.7 % overwritten in 6 scattered 2 MiB places (the benchmark's edit, scaled).
    let mut changed = data.clone();
    let region = 2 << 20;
    for k in 0..6 {
        let at = (k * 41_000_037 + 123_457) % (changed.len() - region);
        for (j, b) in random_bytes(100 + k as u64, region).into_iter().enumerate() {
            changed[at + j] = b;
        }
    }
    let c = backup(&repo, &changed, "/a").await;
    let ratio = c.added_bytes as f64 / first.added_bytes as f64;
    eprintln!(
        "4.7% overwritten: uploaded {:.2}% of the first backup",
        ratio * 100.0
    );
    assert!(
        ratio <= 0.10,
        "5% change uploaded {:.1}% of the first backup",
        ratio * 100.0
    );
    // 10 small insertions shift nothing beyond their chunks.
    let mut ins = data.clone();
    for k in 0..10 {
        let at = (k + 1) * ins.len() / 11;
        ins.splice(at..at, std::iter::repeat_n(b'x', 100));
    }
    let i = backup(&repo, &ins, "/a").await;
    eprintln!("10 insertions: {} new chunks of {}", i.new_chunks, i.chunks);
    assert!(
        i.new_chunks <= 30,
        "insertions created {} new chunks",
        i.new_chunks
    );
    assert_eq!(restore(&repo, &c.snapshot).await.unwrap(), changed);
    assert_eq!(restore(&repo, &i.snapshot).await.unwrap(), ins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear() {
    let store: std::sync::Arc<dyn object_store::ObjectStore> =
        std::sync::Arc::new(object_store::memory::InMemory::new());
    let root = Path::from("r");
    let e = Repository::open(store.clone(), root.clone(), PW)
        .await
        .unwrap_err();
    assert!(matches!(e, RepoError::NotFound { .. }), "{e}");
    Repository::init(store.clone(), root.clone(), PW, small_opts())
        .await
        .unwrap();
    let e = Repository::init(store.clone(), root.clone(), PW, small_opts())
        .await
        .unwrap_err();
    assert!(matches!(e, RepoError::AlreadyInitialized { .. }), "{e}");
    let e = Repository::open(store.clone(), root.clone(), b"nope")
        .await
        .unwrap_err();
    assert!(matches!(e, RepoError::WrongPassword { keys: 1 }), "{e}");
    assert!(e.to_string().contains("wrong password"));
    // Foreign config.
    let other = Path::from("foreign");
    object_store::ObjectStoreExt::put(
        store.as_ref(),
        &other.clone().join("config"),
        b"PK\x03\x04 a zip".to_vec().into(),
    )
    .await
    .unwrap();
    let e = Repository::open(store.clone(), other, PW)
        .await
        .unwrap_err();
    assert!(matches!(e, RepoError::Foreign { .. }), "{e}");
    // Unknown snapshot.
    let repo = Repository::open(store, root, PW).await.unwrap();
    assert!(matches!(
        repo.find_snapshot("abcd").await.unwrap_err(),
        RepoError::SnapshotNotFound(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_management() {
    let (store, mut repo) = mem_repo(small_opts()).await;
    let root = Path::from("repo");
    let s = backup(&repo, b"hello", "/k").await;
    let k2 = repo
        .key_add(b"second", kapsel_repo::KdfParams::insecure_fast())
        .await
        .unwrap();
    let keys = repo.key_list().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.iter().filter(|k| k.current).count(), 1);
    let r2 = Repository::open(store.clone(), root.clone(), b"second")
        .await
        .unwrap();
    assert_eq!(restore(&r2, &s.snapshot).await.unwrap(), b"hello");
    // The session's own key cannot be removed; another one can.
    assert!(matches!(
        r2.key_remove(&k2).await.unwrap_err(),
        RepoError::Key(_)
    ));
    assert!(matches!(
        repo.key_remove("0000").await.unwrap_err(),
        RepoError::Key(_)
    ));
    repo.key_remove(&k2).await.unwrap();
    assert!(matches!(
        Repository::open(store.clone(), root.clone(), b"second")
            .await
            .unwrap_err(),
        RepoError::WrongPassword { .. }
    ));
    repo.key_passwd(b"third", kapsel_repo::KdfParams::insecure_fast())
        .await
        .unwrap();
    assert!(
        Repository::open(store.clone(), root.clone(), PW)
            .await
            .is_err()
    );
    let r3 = Repository::open(store, root, b"third").await.unwrap();
    assert_eq!(r3.key_list().await.unwrap().len(), 1);
    assert_eq!(restore(&r3, &s.snapshot).await.unwrap(), b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backups_and_open_or_init() {
    let store: std::sync::Arc<dyn object_store::ObjectStore> =
        std::sync::Arc::new(object_store::memory::InMemory::new());
    let root = Path::from("c");
    let (a, b) = tokio::join!(
        Repository::open_or_init(store.clone(), root.clone(), PW, small_opts()),
        Repository::open_or_init(store.clone(), root.clone(), PW, small_opts()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.config().id, b.config().id);
    let da = random_bytes(1, 3 << 20);
    let mut db = da.clone();
    db.extend(random_bytes(2, 1 << 20));
    let (sa, sb) = tokio::join!(backup(&a, &da, "/a"), backup(&b, &db, "/b"));
    assert_eq!(restore(&a, &sb.snapshot).await.unwrap(), db);
    assert_eq!(restore(&b, &sa.snapshot).await.unwrap(), da);
    let r = a.check(CheckOptions { read_data: true }).await.unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}

/// 1 GiB (KAPSEL_HEAVY=1: 4 GiB) mixed stream through a local-filesystem
/// repository with the default settings, streamed in and out (never held in
/// memory), then `check --read-data`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gib_stream_round_trip_on_disk() {
    use kapsel_repo::restore::RestoreOptions;
    let gib: u64 = if std::env::var("KAPSEL_HEAVY").as_deref() == Ok("1") {
        4
    } else {
        1
    };
    let len = gib << 30;
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn object_store::ObjectStore> = std::sync::Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    );
    let repo = Repository::init(store, Path::from("r"), PW, default_opts())
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let s = repo
        .backup_stream(Gen::mixed(77, len, 64 << 20), opts("/gib"))
        .await
        .unwrap();
    let backup_s = t.elapsed().as_secs_f64();
    assert_eq!(s.size, len);
    assert!(
        s.added_bytes < len * 3 / 4,
        "half the stream is text: {s:?}"
    );
    let mut want = blake3::Hasher::new();
    std::io::copy(&mut Gen::mixed(77, len, 64 << 20), &mut want).unwrap();
    let (sid, snap) = repo.find_snapshot(&s.snapshot).await.unwrap();
    let sink = HashSink::default();
    let t = std::time::Instant::now();
    let n = repo
        .restore_stream(&sid, &snap, sink.clone(), RestoreOptions::default())
        .await
        .unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    assert_eq!(n, len);
    assert_eq!(sink.0.lock().unwrap().finalize(), want.finalize());
    eprintln!(
        "{gib} GiB: backup {:.0} MB/s, restore {:.0} MB/s, stored {:.1}%",
        len as f64 / backup_s / 1e6,
        len as f64 / restore_s / 1e6,
        100.0 * s.added_bytes as f64 / len as f64
    );
    let r = repo.check(CheckOptions { read_data: true }).await.unwrap();
    assert!(r.is_ok(), "{:?}", r.errors);
}
