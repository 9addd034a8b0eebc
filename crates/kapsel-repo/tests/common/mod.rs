#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Test helpers: repositories in memory or on disk, deterministic streams.

pub mod counting;
pub mod gate;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use kapsel_repo::restore::RestoreOptions;
use kapsel_repo::{BackupOptions, ChunkerParams, Id, InitOptions, KdfParams, Repository};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;

pub const PW: &[u8] = b"correct horse";

pub fn small_opts() -> InitOptions {
    InitOptions {
        chunker: ChunkerParams {
            min: 4 * 1024,
            avg: 16 * 1024,
            max: 64 * 1024,
            ..ChunkerParams::default()
        },
        pack_size: 256 * 1024,
        zstd_level: 3,
        kdf: KdfParams::insecure_fast(),
    }
}

pub fn default_opts() -> InitOptions {
    InitOptions {
        kdf: KdfParams::insecure_fast(),
        ..InitOptions::default()
    }
}

pub async fn mem_repo(opts: InitOptions) -> (Arc<dyn ObjectStore>, Repository) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let repo = Repository::init(store.clone(), Path::from("repo"), PW, opts)
        .await
        .unwrap();
    (store, repo)
}

/// Rows like a pg_dump's `COPY` data (~60x compressible: merged chunks).
pub fn dump_rows(from: u64, n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for aid in from..from + n {
        v.extend_from_slice(format!("{aid}\t{}\t0\t{:84}\n", 1 + aid / 100_000, "").as_bytes());
    }
    v
}

/// xorshift64* bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut g = Gen::new(seed, 0);
    let mut v = vec![0u8; n];
    g.read_exact(&mut v).unwrap();
    v
}

/// A deterministic stream, independent of read sizes: blocks of `block`
/// bytes alternating random and CSV-like text (all random unless `mixed`).
pub struct Gen {
    s: u64,
    left: u64,
    pos: u64,
    pub block: u64,
    pub mixed: bool,
    rec: [u8; 32],
    rec_at: usize,
}

impl Gen {
    pub fn new(seed: u64, len: u64) -> Self {
        Self::mixed(seed, if len == 0 { u64::MAX } else { len }, u64::MAX).all_random()
    }
    fn all_random(mut self) -> Self {
        self.mixed = false;
        self
    }
    pub fn mixed(seed: u64, len: u64, block: u64) -> Self {
        Gen {
            s: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
            pos: 0,
            block,
            mixed: true,
            rec: [0; 32],
            rec_at: 32,
        }
    }
    fn next(&mut self) -> u64 {
        self.s ^= self.s >> 12;
        self.s ^= self.s << 25;
        self.s ^= self.s >> 27;
        self.s.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn refill(&mut self) {
        let text = self.mixed && (self.pos / self.block) % 2 == 1;
        let r = self.next();
        if text {
            // "ddddd,userdddd,ddd.dd,2026-11-dd\n" with digits from r.
            let mut x = r;
            let mut digit = || {
                let d = b'0' + (x % 10) as u8;
                x /= 10;
                d
            };
            let mut rec = *b"00000,user0000,000.00,2026-11-0\n";
            for i in [0, 1, 2, 3, 4, 10, 11, 12, 13, 16, 17, 18, 20, 21] {
                rec[i] = digit();
            }
            rec[30] = b'1' + (r >> 60) as u8 % 9;
            self.rec = rec;
        } else {
            for k in 0..4 {
                let v = if k == 0 { r } else { self.next() };
                self.rec[k * 8..k * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
        self.rec_at = 0;
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        let mut i = 0;
        while i < n {
            if self.rec_at == 32 {
                self.refill();
            }
            let k = (32 - self.rec_at).min(n - i);
            buf[i..i + k].copy_from_slice(&self.rec[self.rec_at..self.rec_at + k]);
            self.rec_at += k;
            i += k;
            self.pos += k as u64;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A writer that collects into shared memory.
#[derive(Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that only hashes.
#[derive(Clone, Default)]
pub struct HashSink(pub Arc<Mutex<blake3::Hasher>>);
impl Write for HashSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn opts(path: &str) -> BackupOptions {
    BackupOptions {
        paths: vec![path.to_string()],
        ..Default::default()
    }
}

pub async fn backup(repo: &Repository, data: &[u8], path: &str) -> kapsel_repo::BackupSummary {
    repo.backup_stream(std::io::Cursor::new(data.to_vec()), opts(path))
        .await
        .unwrap()
}

pub async fn restore(repo: &Repository, id: &str) -> kapsel_repo::Result<Vec<u8>> {
    let (sid, snap) = repo.find_snapshot(id).await?;
    let sink = Sink::default();
    repo.restore_stream(&sid, &snap, sink.clone(), RestoreOptions::default())
        .await?;
    let v = sink.0.lock().unwrap().clone();
    Ok(v)
}

pub fn id(h: &str) -> Id {
    Id::from_hex(h).unwrap()
}
