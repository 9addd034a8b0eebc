#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A restore reads packs, not blobs: consecutive blobs of one pack come
//! with one ranged read, so a restore of N packs makes O(N) requests
//! whatever the number of blobs in them (on a remote store every request
//! costs a round trip).

mod common;
use common::counting::Counting;
use common::*;

use std::sync::Arc;

use kapsel_repo::Repository;
use kapsel_repo::restore::RestoreOptions;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;

async fn restore_with(repo: &Repository, id: &str, opts: RestoreOptions) -> Vec<u8> {
    let (sid, snap) = repo.find_snapshot(id).await.unwrap();
    let sink = Sink::default();
    repo.restore_stream(&sid, &snap, sink.clone(), opts)
        .await
        .unwrap();
    sink.0.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_reads_each_pack_once_not_each_blob() {
    let mem: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let counting = Counting::new(mem);
    let store: Arc<dyn ObjectStore> = counting.clone();
    // Packs of 256 KiB holding blobs of ~16 KiB: about 16 blobs a pack.
    let repo = Repository::init(store, Path::from("repo"), PW, small_opts())
        .await
        .unwrap();
    let data = random_bytes(7, 16 << 20);
    let first = backup(&repo, &data, "/first").await;
    assert!(
        first.chunks >= 10 * first.packs,
        "the test needs many blobs a pack: {first:?}"
    );
    counting.take();

    let got = restore_with(&repo, &first.snapshot, RestoreOptions::default()).await;
    assert!(got == data, "the restored stream differs");
    let (reads, bytes) = counting.take();
    // About one read per pack: a pack's blobs are consecutive in the stream
    // but for a few at its edges (workers finish chunks out of order), which
    // split a run. Per blob it would be ~14 times as many.
    assert!(
        reads <= first.packs * 3 / 2 + 2,
        "{reads} pack reads for {} packs and {} blobs",
        first.packs,
        first.chunks
    );
    // Nothing read twice, no large gaps read.
    assert!(bytes <= data.len() as u64 * 11 / 10, "{bytes} bytes read");

    // A second stream: the first with 4 regions of 256 KiB rewritten. It
    // uses the first one's packs in long runs, interrupted 4 times.
    let mut second = data.clone();
    for (i, at) in [1usize << 20, 5 << 20, 9 << 20, 13 << 20]
        .into_iter()
        .enumerate()
    {
        second[at..at + (256 << 10)].copy_from_slice(&random_bytes(100 + i as u64, 256 << 10));
    }
    let s2 = backup(&repo, &second, "/second").await;
    counting.take();
    let got = restore_with(&repo, &s2.snapshot, RestoreOptions::default()).await;
    assert!(got == second, "the second restored stream differs");
    let (reads2, bytes2) = counting.take();
    // Each rewritten region splits at most two runs of old packs and adds
    // its own new packs.
    assert!(
        reads2 <= (first.packs + s2.packs) * 3 / 2 + 2 * 4 + 2,
        "{reads2} pack reads: first packs {}, new packs {}, {} blobs",
        first.packs,
        s2.packs,
        s2.chunks
    );
    assert!(
        bytes2 <= second.len() as u64 * 12 / 10,
        "{bytes2} bytes read"
    );

    // One blob at a time (a budget smaller than a pack) still restores
    // everything, in order.
    let tight = RestoreOptions {
        read_ahead: 1,
        concurrency: 3,
        max_gap: 0,
        ..RestoreOptions::default()
    };
    let got = restore_with(&repo, &s2.snapshot, tight).await;
    assert!(got == second, "the restore under a 1 MiB budget differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_blobs_and_empty_streams_restore() {
    let (_, repo) = mem_repo(small_opts()).await;
    // Zeros (merged into identical chunks), then one random MiB repeated a
    // hundred times (a few blobs referenced thousands of times, more than a
    // group's reference list holds), then zeros again.
    let mut data = vec![0u8; 300 << 20];
    let block = random_bytes(3, 1 << 20);
    for k in 100..200 {
        data[k << 20..(k + 1) << 20].copy_from_slice(&block);
    }
    let s = backup(&repo, &data, "/zeros").await;
    assert!(s.chunks > 4096 && s.new_chunks < 100, "{s:?}");
    let got = restore_with(&repo, &s.snapshot, RestoreOptions::default()).await;
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the zeros stream differs");
    let e = backup(&repo, &[], "/empty").await;
    assert!(
        restore_with(&repo, &e.snapshot, RestoreOptions::default())
            .await
            .is_empty()
    );
}
