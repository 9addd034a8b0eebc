//! The streaming backup pipeline.
//!
//! ```text
//! reader ─► chunker thread ─► N worker threads ─► collector ─► upload tasks
//!  (Read)    FastCDC           id, dedup claim,    reorder ids,   ≤ k packs
//!                              zstd, AES-GCM       fill packs     in flight
//! ```
//! Every hop is a bounded channel or a semaphore, so memory stays bounded
//! whatever the stream length: about `pack_size × (uploads + 1)` plus a few
//! chunks per worker. Content alone decides dedup: every byte is read, cut
//! and hashed on every backup.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::crypto::MasterKey;
use crate::error::{RepoError, Result};
use crate::format::{self, BlobEntry, BlobKind, Id, IndexFile};
use crate::repo::{Index, Repository, Snapshot, Source, host_name};

/// Data ids per Meta blob (512 KiB of ids).
pub const IDS_PER_META: usize = 16 * 1024;
/// An intermediate index file is written after this many new blobs.
const INDEX_FLUSH_BLOBS: usize = 64 * 1024;
/// Orphan packs younger than this are adopted by the next backup.
pub const ADOPT_MAX_AGE_HOURS: i64 = 12;

/// Options for [`Repository::backup_stream`].
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Logical paths the snapshot stands for.
    pub paths: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Host name (default: this host).
    pub host: Option<String>,
    /// Snapshot time (default: now).
    pub time: Option<DateTime<Utc>>,
    /// Worker threads for hashing/compression/encryption (0: one per core).
    pub workers: usize,
    /// Packs uploading at once (0: 2).
    pub uploads: usize,
}

/// What a backup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupSummary {
    /// The new snapshot.
    pub snapshot: String,
    /// Stream length.
    pub size: u64,
    /// Chunks in the stream.
    pub chunks: u64,
    /// Chunks not yet in the repository.
    pub new_chunks: u64,
    /// Sealed bytes added (blobs, before pack and index overhead).
    pub added_bytes: u64,
    /// Packs written.
    pub packs: u64,
    /// Orphan packs of an interrupted backup that this one adopted.
    pub adopted_packs: u64,
}

struct SealedBlob {
    entry: BlobEntry,
    bytes: Vec<u8>,
}

type WorkerResult = Result<(u64, Id, Option<SealedBlob>)>;

/// Compress (unless that saves under 1/64) and seal one chunk.
fn seal_blob(
    key: &MasterKey,
    comp: Option<&mut zstd::bulk::Compressor<'static>>,
    id: Id,
    kind: BlobKind,
    data: &[u8],
) -> SealedBlob {
    let compressed = comp.and_then(|c| c.compress(data).ok());
    let (flags, payload): (u8, &[u8]) = match &compressed {
        Some(z) if z.len() < data.len() - data.len() / 64 => (format::FLAG_ZSTD, z),
        _ => (0, data),
    };
    let bytes = key
        .data_key()
        .seal(&format::blob_aad(&id, kind, flags), payload);
    SealedBlob {
        entry: BlobEntry {
            id,
            kind,
            flags,
            offset: 0,
            length: bytes.len() as u32,
            raw_length: data.len() as u32,
        },
        bytes,
    }
}

/// Accumulates sealed blobs into one pack.
#[derive(Default)]
struct Packer {
    blobs: Vec<(BlobEntry, Vec<u8>)>,
    bytes: usize,
}

/// Uploads packs with bounded concurrency and remembers what they hold.
pub(crate) struct Uploader {
    repo: Repository,
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<(Id, Vec<BlobEntry>, u64)>>,
    /// Uploaded packs not yet in an index file.
    pub(crate) done: Vec<(Id, Vec<BlobEntry>)>,
    pub(crate) packs: u64,
    pub(crate) pack_bytes: u64,
}

impl Uploader {
    pub(crate) fn new(repo: &Repository, uploads: usize) -> Self {
        Uploader {
            repo: repo.clone(),
            permits: Arc::new(Semaphore::new(uploads.max(1))),
            tasks: JoinSet::new(),
            done: Vec::new(),
            packs: 0,
            pack_bytes: 0,
        }
    }

    fn reap(&mut self) -> Result<()> {
        while let Some(r) = self.tasks.try_join_next() {
            let (id, entries, n) = r.map_err(|e| RepoError::Task(e.to_string()))??;
            self.done.push((id, entries));
            self.packs += 1;
            self.pack_bytes += n;
        }
        Ok(())
    }

    /// Build a pack from `blobs` (shuffled, so a pack does not reveal the
    /// stream's chunk order) and upload it in the background.
    pub(crate) async fn upload(&mut self, mut blobs: Vec<(BlobEntry, Vec<u8>)>) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        blobs.shuffle(&mut rand::rng());
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RepoError::Task(e.to_string()))?;
        self.reap()?;
        let repo = self.repo.clone();
        let key = repo.key.clone();
        self.tasks.spawn(async move {
            let (pack, entries) =
                tokio::task::spawn_blocking(move || format::build_pack(key.data_key(), blobs))
                    .await
                    .map_err(|e| RepoError::Task(e.to_string()))?;
            let id = Id::of_stored(&pack);
            let n = pack.len() as u64;
            let p = repo.pack_path(&id);
            repo.store
                .put(&p, PutPayload::from(pack))
                .await
                .map_err(|e| RepoError::store(&p, e))?;
            drop(permit);
            Ok((id, entries, n))
        });
        Ok(())
    }

    /// Wait for every upload.
    pub(crate) async fn finish(&mut self) -> Result<()> {
        while let Some(r) = self.tasks.join_next().await {
            let (id, entries, n) = r.map_err(|e| RepoError::Task(e.to_string()))??;
            self.done.push((id, entries));
            self.packs += 1;
            self.pack_bytes += n;
        }
        Ok(())
    }

    /// Write the finished packs into an index file.
    pub(crate) async fn write_index(
        &mut self,
        extra: &mut Vec<(Id, Vec<BlobEntry>)>,
    ) -> Result<()> {
        let mut packs = std::mem::take(&mut self.done);
        packs.append(extra);
        if packs.is_empty() {
            return Ok(());
        }
        self.repo
            .write_index(&IndexFile {
                packs,
                marked: Vec::new(),
            })
            .await?;
        Ok(())
    }
}

impl Packer {
    fn push(&mut self, b: SealedBlob) {
        self.bytes += b.bytes.len();
        self.blobs.push((b.entry, b.bytes));
    }
    fn take(&mut self) -> Vec<(BlobEntry, Vec<u8>)> {
        self.bytes = 0;
        std::mem::take(&mut self.blobs)
    }
}

impl Repository {
    /// Find packs that no index lists (left by an interrupted backup) and are
    /// recent enough not to be on prune's orphan list; read their headers.
    async fn adoptable_packs(&self, index: &Index) -> Result<Vec<(Id, Vec<BlobEntry>)>> {
        let now = Utc::now();
        let mut out = Vec::new();
        for (id, meta) in self.list_ids("data").await? {
            if index.packs.contains_key(&id) || index.marked.contains_key(&id) {
                continue;
            }
            if now - meta.last_modified > chrono::Duration::hours(ADOPT_MAX_AGE_HOURS) {
                continue;
            }
            // A pack that cannot be read whole or fails verification is
            // simply not adopted (it may still be uploading).
            if let Ok(entries) = self.read_pack_header(&id).await {
                out.push((id, entries));
            }
        }
        Ok(out)
    }

    /// Read and verify a whole pack; return its header entries.
    pub(crate) async fn read_pack_header(&self, id: &Id) -> Result<Vec<BlobEntry>> {
        let p = self.pack_path(id);
        let bytes = crate::repo::get_bytes(self.store.as_ref(), &p).await?;
        if Id::of_stored(&bytes) != *id {
            return Err(RepoError::corrupt(
                p.to_string(),
                "content does not match its name",
            ));
        }
        format::parse_pack(self.key.data_key(), &bytes).map_err(|e| e.into_repo(p.as_ref()))
    }

    /// Back up one byte stream as a snapshot.
    pub async fn backup_stream<R: Read + Send + 'static>(
        &self,
        reader: R,
        opts: BackupOptions,
    ) -> Result<BackupSummary> {
        let time = opts.time.unwrap_or_else(Utc::now);
        let mut index = self.load_index().await?;
        let mut adopted = self.adoptable_packs(&index).await?;
        for (p, entries) in &adopted {
            index.add_pack(*p, entries.clone());
        }
        let adopted_packs = adopted.len() as u64;
        let index = Arc::new(index);
        let workers = if opts.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            opts.workers
        };
        let cfg = self.config.chunker;
        let level = match cfg.normalization {
            0 => fastcdc::v2020::Normalization::Level0,
            1 => fastcdc::v2020::Normalization::Level1,
            3 => fastcdc::v2020::Normalization::Level3,
            _ => fastcdc::v2020::Normalization::Level2,
        };
        let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<(u64, Vec<u8>)>(workers * 2);
        let (res_tx, mut res_rx) = tokio::sync::mpsc::channel::<WorkerResult>(workers * 2);
        let seed = self.key.chunker_seed();

        let chunker = tokio::task::spawn_blocking(move || -> Result<u64> {
            let cdc = fastcdc::v2020::StreamCDC::with_level_and_seed(
                reader,
                cfg.min as usize,
                cfg.avg as usize,
                cfg.max as usize,
                level,
                seed,
            );
            let mut size = 0u64;
            for (seq, c) in cdc.enumerate() {
                let c = c.map_err(|e| match e {
                    fastcdc::v2020::Error::IoError(io) => RepoError::Io(io),
                    other => RepoError::Io(std::io::Error::other(other.to_string())),
                })?;
                size += c.length as u64;
                if chunk_tx.send((seq as u64, c.data)).is_err() {
                    break;
                }
            }
            Ok(size)
        });

        let claimed: Arc<Mutex<HashSet<Id>>> = Arc::default();
        let mut worker_handles = Vec::new();
        for _ in 0..workers {
            let rx = chunk_rx.clone();
            let tx = res_tx.clone();
            let key = self.key.clone();
            let index = index.clone();
            let claimed = claimed.clone();
            let zlevel = self.config.zstd_level;
            worker_handles.push(tokio::task::spawn_blocking(move || {
                let mut comp = match zstd::bulk::Compressor::new(zlevel) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(RepoError::Io(e)));
                        return;
                    }
                };
                while let Ok((seq, data)) = rx.recv() {
                    let id = key.blob_id(&data);
                    let new = !index.blobs.contains_key(&id)
                        && claimed.lock().map(|mut c| c.insert(id)).unwrap_or(true);
                    let blob =
                        new.then(|| seal_blob(&key, Some(&mut comp), id, BlobKind::Data, &data));
                    drop(data);
                    if tx.blocking_send(Ok((seq, id, blob))).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(chunk_rx);
        drop(res_tx);

        let pack_size = self.config.pack_size as usize;
        let mut uploader = Uploader::new(self, if opts.uploads == 0 { 2 } else { opts.uploads });
        let mut data_packer = Packer::default();
        let mut meta_packer = Packer::default();
        let mut pending: BTreeMap<u64, Id> = BTreeMap::new();
        let mut next = 0u64;
        let mut list: Vec<Id> = Vec::with_capacity(IDS_PER_META);
        let mut content: Vec<String> = Vec::new();
        let mut sum = BackupSummary {
            adopted_packs,
            ..Default::default()
        };
        let mut unindexed_blobs = 0usize;

        let result: Result<()> = async {
            while let Some(r) = res_rx.recv().await {
                let (seq, id, blob) = r?;
                if let Some(b) = blob {
                    sum.new_chunks += 1;
                    sum.added_bytes += b.bytes.len() as u64;
                    unindexed_blobs += 1;
                    data_packer.push(b);
                    if data_packer.bytes >= pack_size {
                        uploader.upload(data_packer.take()).await?;
                    }
                }
                pending.insert(seq, id);
                while let Some(id) = pending.remove(&next) {
                    next += 1;
                    list.push(id);
                    if list.len() == IDS_PER_META {
                        self.emit_meta(
                            &index,
                            &claimed,
                            &mut list,
                            &mut content,
                            &mut meta_packer,
                            &mut sum,
                        );
                        if meta_packer.bytes >= pack_size {
                            uploader.upload(meta_packer.take()).await?;
                        }
                    }
                }
                if unindexed_blobs >= INDEX_FLUSH_BLOBS && !uploader.done.is_empty() {
                    unindexed_blobs = 0;
                    uploader.write_index(&mut adopted).await?;
                }
            }
            Ok(())
        }
        .await;
        drop(res_rx);
        let size = chunker.await.map_err(|e| RepoError::Task(e.to_string()))?;
        for w in worker_handles {
            w.await.map_err(|e| RepoError::Task(e.to_string()))?;
        }
        result?;
        let size = size?;
        if !pending.is_empty() {
            return Err(RepoError::Task("chunk sequence has a gap".into()));
        }
        if !list.is_empty() {
            self.emit_meta(
                &index,
                &claimed,
                &mut list,
                &mut content,
                &mut meta_packer,
                &mut sum,
            );
        }
        uploader.upload(data_packer.take()).await?;
        uploader.upload(meta_packer.take()).await?;
        uploader.finish().await?;
        // Commit order: packs (done) → index → snapshot.
        uploader.write_index(&mut adopted).await?;
        sum.size = size;
        sum.chunks = next;
        sum.packs = uploader.packs;
        let snap = Snapshot {
            version: format::FORMAT_VERSION,
            time,
            host: opts.host.unwrap_or_else(host_name),
            paths: opts.paths,
            tags: opts.tags,
            source: Source::Stream {
                size,
                chunks: next,
                content,
            },
            added_bytes: sum.added_bytes,
            program: format!("kapsel {}", env!("CARGO_PKG_VERSION")),
        };
        sum.snapshot = self.write_snapshot(&snap).await?.to_hex();
        Ok(sum)
    }

    fn emit_meta(
        &self,
        index: &Index,
        claimed: &Mutex<HashSet<Id>>,
        list: &mut Vec<Id>,
        content: &mut Vec<String>,
        packer: &mut Packer,
        sum: &mut BackupSummary,
    ) {
        let bytes = format::encode_id_list(list);
        list.clear();
        let id = self.key.blob_id(&bytes);
        content.push(id.to_hex());
        let new = !index.blobs.contains_key(&id)
            && claimed.lock().map(|mut c| c.insert(id)).unwrap_or(true);
        if new {
            // Ids are random bytes: never worth compressing.
            let b = seal_blob(&self.key, None, id, BlobKind::Meta, &bytes);
            sum.added_bytes += b.bytes.len() as u64;
            packer.push(b);
        }
    }
}
