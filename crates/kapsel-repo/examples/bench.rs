//! Throughput probe: `cargo run --release -p kapsel-repo --example bench -- DIR MIB [mixed|random|text]`.
//! Backs up a generated stream into a fresh repository under DIR, backs it up
//! again with ~5 % changed, restores it to a hashing sink, runs
//! `check --read-data`, and prints MB/s. Use `/usr/bin/time -v` for peak RSS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kapsel_repo::check::CheckOptions;
use kapsel_repo::restore::RestoreOptions;
use kapsel_repo::{BackupOptions, InitOptions, KdfParams, Repository};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

struct Gen {
    s: u64,
    left: u64,
    pos: u64,
    kind: String,
    edit_seed: u64,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.s ^= self.s >> 12;
        self.s ^= self.s << 25;
        self.s ^= self.s >> 27;
        self.s.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (buf.len() as u64).min(self.left).min(64 * 1024) as usize;
        let block = self.pos >> 26; // 64 MiB blocks
        let text = match self.kind.as_str() {
            "text" => true,
            "random" => false,
            _ => block % 2 == 1,
        };
        // 2 MiB edit regions at pseudo-random places (about 5 %) when edit_seed != 0.
        let region = self.pos >> 21;
        let edited = self.edit_seed != 0 && (region.wrapping_mul(0x9E3779B97F4A7C15) >> 59) == 0;
        let mut i = 0;
        while i < want {
            let mut r = self.next();
            if edited {
                r ^= self.edit_seed;
            }
            if text {
                let line = format!(
                    "{},user{},{}.{:02},2026-11-{:02}\n",
                    r % 100000,
                    (r >> 20) % 5000,
                    (r >> 33) % 1000,
                    (r >> 45) % 100,
                    (r >> 55) % 28 + 1
                );
                for &b in line.as_bytes() {
                    if i < want {
                        buf[i] = b;
                        i += 1;
                    }
                }
            } else {
                for b in r.to_le_bytes() {
                    if i < want {
                        buf[i] = b;
                        i += 1;
                    }
                }
            }
        }
        self.left -= want as u64;
        self.pos += want as u64;
        Ok(want)
    }
}

#[derive(Clone, Default)]
struct HashSink(Arc<Mutex<blake3::Hasher>>);
impl std::io::Write for HashSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let mib: u64 = args[2].parse().unwrap();
    let kind = args.get(3).cloned().unwrap_or_else(|| "mixed".into());
    let phase = args.get(4).cloned().unwrap_or_else(|| "all".into());
    let n = mib << 20;
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn object_store::ObjectStore> = if std::env::var("BENCH_MEM").is_ok() {
        Arc::new(object_store::memory::InMemory::new())
    } else {
        Arc::new(LocalFileSystem::new_with_prefix(&dir).unwrap())
    };
    let opts = InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..Default::default()
    };
    let repo = Repository::open_or_init(store, Path::from("repo"), b"pw", opts)
        .await
        .unwrap();
    // Materialise both versions in tmpfs first, so that generation is not timed.
    let file = |edit: u64| {
        let f = std::path::PathBuf::from(format!("/dev/shm/kapsel-bench-{kind}-{mib}-{edit}"));
        if !f.exists() {
            let mut g = Gen {
                s: 42,
                left: n,
                pos: 0,
                kind: kind.clone(),
                edit_seed: edit,
            };
            let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
            std::io::copy(&mut g, &mut w).unwrap();
        }
        f
    };
    let f0 = file(0);
    // The edited version: 25 regions of 2 MiB per GiB overwritten with random bytes (4.9 %).
    let f1 = std::path::PathBuf::from(format!("/dev/shm/kapsel-bench-{kind}-{mib}-edited"));
    if !f1.exists() {
        let mut data = std::fs::read(&f0).unwrap();
        let regions = (25 * mib / 1024).max(1);
        let mut g = Gen {
            s: 7,
            left: u64::MAX,
            pos: 0,
            kind: "random".into(),
            edit_seed: 0,
        };
        for _ in 0..regions {
            let at = (g.next() % (n - (2 << 20))) as usize;
            g.read_exact(&mut data[at..at + (2 << 20)]).unwrap();
        }
        std::fs::write(&f1, data).unwrap();
    }
    let make = |edit: u64| std::fs::File::open(if edit == 0 { &f0 } else { &f1 }).unwrap();
    let mut src_hash = blake3::Hasher::new();
    std::io::copy(&mut make(0), &mut src_hash).unwrap();
    let t = Instant::now();
    let workers: usize = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let s = repo
        .backup_stream(
            make(0),
            BackupOptions {
                paths: vec!["/b".into()],
                workers,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dt = t.elapsed().as_secs_f64();
    println!(
        "backup1: {:.2}s {:.0} MB/s, chunks {}, added {} B ({:.1}% of input), packs {}",
        dt,
        n as f64 / dt / 1e6,
        s.chunks,
        s.added_bytes,
        100.0 * s.added_bytes as f64 / n as f64,
        s.packs
    );
    if phase == "backup" {
        return;
    }
    let t = Instant::now();
    let s2 = repo
        .backup_stream(
            make(0xdead_beef),
            BackupOptions {
                paths: vec!["/b".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dt = t.elapsed().as_secs_f64();
    println!(
        "backup2 (4.9% overwritten): {:.2}s {:.0} MB/s, new chunks {}/{}, added {} B = {:.1}% of backup1",
        dt,
        n as f64 / dt / 1e6,
        s2.new_chunks,
        s2.chunks,
        s2.added_bytes,
        100.0 * s2.added_bytes as f64 / s.added_bytes as f64
    );
    let (sid, snap) = repo.find_snapshot(&s.snapshot).await.unwrap();
    let sink = HashSink::default();
    let t = Instant::now();
    repo.restore_stream(&sid, &snap, sink.clone(), RestoreOptions::default())
        .await
        .unwrap();
    let dt = t.elapsed().as_secs_f64();
    let ok = sink.0.lock().unwrap().finalize() == src_hash.finalize();
    println!(
        "restore: {:.2}s {:.0} MB/s, byte-exact: {ok}",
        dt,
        n as f64 / dt / 1e6
    );
    let t = Instant::now();
    let r = repo
        .check(CheckOptions {
            read_data: true,
            ..Default::default()
        })
        .await
        .unwrap();
    println!(
        "check --read-data: {:.2}s, ok {}, {} packs, {} B read",
        t.elapsed().as_secs_f64(),
        r.is_ok(),
        r.packs,
        r.read_bytes
    );
    assert!(ok && r.is_ok());
}
