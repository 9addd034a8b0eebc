#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Test helpers: repositories in memory or on disk, deterministic streams.

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

/// xorshift64* bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut g = Gen::new(seed, 0);
    let mut v = vec![0u8; n];
    g.read_exact(&mut v).unwrap();
    v
}

/// A deterministic stream: blocks of `block` bytes alternating random and
/// CSV-like text; `text_only` makes it all text.
pub struct Gen {
    s: u64,
    left: u64,
    pos: u64,
    pub block: u64,
    pub mixed: bool,
}

impl Gen {
    pub fn new(seed: u64, len: u64) -> Self {
        Gen {
            s: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: if len == 0 { u64::MAX } else { len },
            pos: 0,
            block: u64::MAX,
            mixed: false,
        }
    }
    pub fn mixed(seed: u64, len: u64, block: u64) -> Self {
        Gen {
            s: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
            pos: 0,
            block,
            mixed: true,
        }
    }
    fn next(&mut self) -> u64 {
        self.s ^= self.s >> 12;
        self.s ^= self.s << 25;
        self.s ^= self.s >> 27;
        self.s.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        let n = n - n % 8;
        let n = if n == 0 {
            (buf.len() as u64).min(self.left) as usize
        } else {
            n
        };
        let text = self.mixed && (self.pos / self.block) % 2 == 1;
        let mut i = 0;
        while i < n {
            let r = self.next();
            if text {
                let line = format!(
                    "{},user{},{}.{:02}\n",
                    r % 100000,
                    (r >> 20) % 5000,
                    (r >> 33) % 1000,
                    (r >> 45) % 100
                );
                for &b in line.as_bytes() {
                    if i < n {
                        buf[i] = b;
                        i += 1;
                    }
                }
            } else {
                for b in r.to_le_bytes() {
                    if i < n {
                        buf[i] = b;
                        i += 1;
                    }
                }
            }
        }
        self.left -= n as u64;
        self.pos += n as u64;
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
