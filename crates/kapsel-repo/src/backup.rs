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
use crate::lock::{Lock, LockKind, LockTiming};
use crate::repo::{ChunkerParams, Index, Repository, Snapshot, Source, host_name};

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
    /// How the backup's lock is kept (docs/format.md §10).
    pub lock_timing: LockTiming,
    /// Counts the source's bytes as the store acknowledges them: a chunk
    /// counts once the PUT of the pack that holds it has returned, or at
    /// once when the repository already holds it (or another chunk of this
    /// backup carries the same bytes). A tree backup sets the total to the
    /// files' sizes at the walk; a stream backup leaves the total to its
    /// caller, which may know the stream's length.
    pub progress: Option<crate::Progress>,
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
    /// Packs a prune running beside this backup marked or dropped while the
    /// backup used them, copied into new packs before the commit.
    pub copied_packs: u64,
}

/// The state of one backup between [`Repository::begin_backup`] and
/// [`Repository::commit_backup`]; it may store several streams.
pub(crate) struct Session {
    lock: Option<Lock>,
    /// Packs of the loaded index that this backup deduplicated against.
    used_packs: HashSet<Id>,
    index: Arc<Index>,
    adopted: Vec<(Id, Vec<BlobEntry>)>,
    claimed: Arc<Mutex<HashSet<Id>>>,
    uploader: Uploader,
    data_packer: Packer,
    meta_packer: Packer,
    sum: BackupSummary,
    unindexed_blobs: usize,
    workers: usize,
    /// Whether the stream being stored counts in the progress (a tree's
    /// listing does not: only the files' bytes do).
    pub(crate) counted: bool,
}

impl Session {
    /// Give up: release the lock (a backup that fails leaves packs that the
    /// next prune may reclaim at once).
    pub(crate) async fn abandon(mut self) {
        if let Some(l) = self.lock.take() {
            let _ = l.release().await;
        }
    }
}

/// One stream stored by a backup.
pub(crate) struct StoredStream {
    pub(crate) size: u64,
    pub(crate) chunks: u64,
    pub(crate) content: Vec<String>,
}

struct SealedBlob {
    entry: BlobEntry,
    bytes: Vec<u8>,
}

/// A chunk's sequence number, id, length and, when new, its sealed blob.
type WorkerResult = Result<(u64, Id, u32, Option<SealedBlob>)>;

/// A free list of byte buffers, so that steady-state backups allocate no
/// large buffers at all: with glibc's per-thread arenas and its dynamic mmap
/// threshold, buffers of hundreds of KiB allocated on one thread and freed on
/// another fragment the heap until RSS is several times the live data.
#[derive(Clone, Default)]
pub(crate) struct BufPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl BufPool {
    /// An empty buffer with at least `cap` bytes of capacity.
    pub(crate) fn get(&self, cap: usize) -> Vec<u8> {
        let v = self.0.lock().ok().and_then(|mut f| f.pop());
        match v {
            Some(mut v) => {
                v.clear();
                v.reserve(cap);
                v
            }
            None => Vec::with_capacity(cap),
        }
    }
    /// Return a buffer (kept only while fewer than 64 are free).
    pub(crate) fn put(&self, v: Vec<u8>) {
        if let Ok(mut f) = self.0.lock()
            && f.len() < 64
        {
            f.push(v);
        }
    }
}

/// One read buffer of the chunker, shared by the chunks cut from it; it goes
/// back to the chunker's free list when the last chunk is done.
struct ReadBuf {
    data: Vec<u8>,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        let _ = self.home.try_send(std::mem::take(&mut self.data));
    }
}

/// A chunk: a range of a shared read buffer.
struct ChunkRef {
    buf: Arc<ReadBuf>,
    start: usize,
    end: usize,
}

impl ChunkRef {
    fn bytes(&self) -> &[u8] {
        &self.buf.data[self.start..self.end]
    }
}

/// A chunk on its way to the workers: a slice of a read buffer, or a
/// merged chunk in a buffer of its own (see [`Merger`]).
enum Chunk {
    Ref(ChunkRef),
    Merged(MergedBuf),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Ref(c) => c.bytes(),
            Chunk::Merged(m) => &m.data,
        }
    }
}

/// A merged chunk's buffer; it goes back to the merger's free list when
/// the chunk is done.
struct MergedBuf {
    data: Vec<u8>,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl Drop for MergedBuf {
    fn drop(&mut self) {
        let _ = self.home.try_send(std::mem::take(&mut self.data));
    }
}

/// A chunk this compressible (its first [`MERGE_SAMPLE`] bytes shrink this
/// many times at zstd level 1) is merged with its neighbours.
const MERGE_RATIO: usize = 8;
/// Bytes of a chunk the merge probe compresses.
const MERGE_SAMPLE: usize = 8 << 10;
/// Merged chunks held at once (one being filled, the others with workers).
const MERGE_BUFS: usize = 3;

/// Merges runs of highly compressible chunks (database dumps, logs, zeros)
/// into chunks of [`merge_limits`] size, content-defined like the chunks
/// themselves: a merged chunk ends, once at least `min` long, after a chunk
/// whose last eight bytes hash to 0 mod 4, or before it would pass `cap`,
/// or at a file's end, or before a chunk that is not compressible enough.
/// Identical input therefore merges identically, and deduplication works
/// as before, in coarser units only where data compresses at least
/// [`MERGE_RATIO`] times: a chunk's cost in the repository is its
/// compressed size, so a unit of 4-8 MiB there costs what 0.5-1 MiB of
/// ordinary data does. Compressed as one frame (at zstd level 3 or the
/// repository's level if higher), such data stores like borg's 2 MiB chunks
/// instead of 20-25% larger (measured on a pg_dump; docs/benchmarks.md).
struct Merger {
    probe: zstd::bulk::Compressor<'static>,
    zbuf: Vec<u8>,
    min: usize,
    cap: usize,
    cur: Option<Vec<u8>>,
    free_tx: crossbeam_channel::Sender<Vec<u8>>,
    free_rx: crossbeam_channel::Receiver<Vec<u8>>,
    made: usize,
}

/// The merged chunk sizes for `cfg`: `(min, cap)`, at most 8 MiB, at least
/// twice a chunk's maximum (so that merging means something).
pub(crate) fn merge_limits(cfg: &ChunkerParams) -> (usize, usize) {
    let max = cfg.max as usize;
    let cap = (8 * max).min(8 << 20).max(2 * max);
    (cap / 2, cap)
}

impl Merger {
    fn new(cfg: &ChunkerParams) -> Result<Merger> {
        let (min, cap) = merge_limits(cfg);
        let (free_tx, free_rx) = crossbeam_channel::bounded(MERGE_BUFS);
        Ok(Merger {
            probe: zstd::bulk::Compressor::new(1).map_err(RepoError::Io)?,
            zbuf: Vec::with_capacity(zstd::zstd_safe::compress_bound(MERGE_SAMPLE)),
            min,
            cap,
            cur: None,
            free_tx,
            free_rx,
            made: 0,
        })
    }

    fn mergeable(&mut self, data: &[u8]) -> bool {
        let sample = &data[..data.len().min(MERGE_SAMPLE)];
        if sample.len() < 1024 {
            return false;
        }
        self.zbuf.clear();
        match self.probe.compress_to_buffer(sample, &mut self.zbuf) {
            Ok(n) => n * MERGE_RATIO <= sample.len(),
            Err(_) => false,
        }
    }

    /// Take chunk `c` (which ends a file if `file_end`); hand on what is
    /// complete. False when the receiver is gone.
    fn push(
        &mut self,
        c: ChunkRef,
        file_end: bool,
        out: &mut impl FnMut(Chunk) -> bool,
    ) -> Result<bool> {
        // A chunk that ends a file with no run open would be merged alone:
        // hand it on without probing (a tree of small files is mostly such).
        if (file_end && self.cur.is_none()) || !self.mergeable(c.bytes()) {
            return Ok(self.flush(out) && out(Chunk::Ref(c)));
        }
        let n = c.end - c.start;
        if self.cur.as_ref().is_some_and(|b| b.len() + n > self.cap) && !self.flush(out) {
            return Ok(false);
        }
        let mut cur = match self.cur.take() {
            Some(b) => b,
            None => {
                let mut b = match self.free_rx.try_recv() {
                    Ok(b) => b,
                    Err(_) if self.made < MERGE_BUFS => {
                        self.made += 1;
                        Vec::with_capacity(self.cap)
                    }
                    Err(_) => self
                        .free_rx
                        .recv()
                        .map_err(|e| RepoError::Task(format!("merge buffers: {e}")))?,
                };
                b.clear();
                b
            }
        };
        cur.extend_from_slice(c.bytes());
        let tail = &c.bytes()[n.saturating_sub(8)..];
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        let cut = u64::from_le_bytes(last).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 62 == 0;
        drop(c);
        let done = file_end || (cur.len() >= self.min && cut);
        self.cur = Some(cur);
        Ok(!done || self.flush(out))
    }

    /// Hand on the merged chunk being filled, if any.
    fn flush(&mut self, out: &mut impl FnMut(Chunk) -> bool) -> bool {
        match self.cur.take() {
            Some(data) if !data.is_empty() => out(Chunk::Merged(MergedBuf {
                data,
                home: self.free_tx.clone(),
            })),
            _ => true,
        }
    }
}

/// Cuts a stream into chunks with FastCDC 2020 (exactly the cut points of
/// `fastcdc::v2020::StreamCDC`), reading into a few large reusable buffers
/// instead of allocating every chunk: at most `bufs` buffers of
/// `clamp(4 × max, 2 × max, 4 MiB)` bytes exist, and reading waits for a free one.
///
/// With `files` (the lengths of the files concatenated in the stream, appended
/// by the reader as each file ends), a chunk never spans two files: the cut
/// search restarts at every file start, as restic and borg chunk per file, so
/// changing one small file changes one chunk, not every chunk around it.
fn chunk_stream<R: Read>(
    mut reader: R,
    cfg: ChunkerParams,
    seed: u64,
    bufs: usize,
    files: Option<FileLengths>,
    mut emit: impl FnMut(ChunkRef, bool) -> Result<bool>,
) -> Result<u64> {
    let mut bounds = Boundaries {
        files,
        next: 0,
        end: 0,
    };
    let level = match cfg.normalization {
        0 => fastcdc::v2020::Normalization::Level0,
        1 => fastcdc::v2020::Normalization::Level1,
        3 => fastcdc::v2020::Normalization::Level3,
        _ => fastcdc::v2020::Normalization::Level2,
    };
    let (min, avg, max) = (cfg.min as usize, cfg.avg as usize, cfg.max as usize);
    let (mask_s, mask_l) = fastcdc::v2020::select_masks(avg, level);
    let (gear, gear_ls) = fastcdc::v2020::get_gear_with_seed(seed);
    // Small enough that little read data waits for a cut when the producer
    // dies (an interrupted backup has uploaded nearly all it read), large
    // enough that carrying the tail (< max) over costs little.
    let size = (4 * max).min(4 << 20).max(2 * max);
    let (free_tx, free_rx) = crossbeam_channel::bounded::<Vec<u8>>(bufs);
    let mut made = 0usize;
    let mut carry: Option<ChunkRef> = None;
    let mut eof = false;
    let mut total = 0u64;
    while !eof || carry.is_some() {
        let mut v = match free_rx.try_recv() {
            Ok(v) => v,
            Err(_) if made < bufs => {
                made += 1;
                vec![0u8; size]
            }
            Err(_) => free_rx
                .recv()
                .map_err(|e| RepoError::Task(format!("chunker buffers: {e}")))?,
        };
        let mut filled = 0;
        if let Some(c) = carry.take() {
            let b = c.bytes();
            v[..b.len()].copy_from_slice(b);
            filled = b.len();
        }
        while !eof && filled < size {
            match reader.read(&mut v[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RepoError::Io(e)),
            }
        }
        let buf = Arc::new(ReadBuf {
            data: v,
            home: free_tx.clone(),
        });
        let mut pos = 0;
        while pos < filled {
            let remaining = filled - pos;
            // The next file boundary inside the data at hand, if any.
            let limit = bounds
                .next_after(total)
                .map(|b| b - total)
                .filter(|&l| l > 0 && l <= remaining as u64)
                .map(|l| l as usize);
            if !eof && remaining < max && limit.is_none() {
                carry = Some(ChunkRef {
                    buf: buf.clone(),
                    start: pos,
                    end: filled,
                });
                break;
            }
            let (_, count) = fastcdc::v2020::cut_gear(
                &buf.data[pos..pos + limit.unwrap_or(remaining)],
                min,
                avg,
                max,
                mask_s,
                mask_l,
                mask_s << 1,
                mask_l << 1,
                &gear,
                &gear_ls,
            );
            if count == 0 {
                break;
            }
            total += count as u64;
            let c = ChunkRef {
                buf: buf.clone(),
                start: pos,
                end: pos + count,
            };
            pos += count;
            // Whether the chunk ends where a file does.
            let file_end = limit == Some(count);
            if !emit(c, file_end)? {
                return Ok(total);
            }
        }
    }
    Ok(total)
}

/// Lengths of the files a tree's content stream concatenates, in order.
pub(crate) type FileLengths = Arc<Mutex<Vec<u64>>>;

/// The file boundaries (absolute stream offsets) seen so far.
struct Boundaries {
    files: Option<FileLengths>,
    /// Index of the next file length to add.
    next: usize,
    /// End offset of the files added so far.
    end: u64,
}

impl Boundaries {
    /// The first known file end strictly after `offset`.
    fn next_after(&mut self, offset: u64) -> Option<u64> {
        let files = self.files.as_ref()?;
        while self.end <= offset {
            let len = files.lock().ok()?.get(self.next).copied()?;
            self.next += 1;
            self.end += len;
        }
        Some(self.end)
    }
}

/// Whether a chunk is worth a full compression pass: a sample of it (eight
/// 1 KiB slices spread over the chunk) must shrink by at least 1/32 when
/// compressed. Random or already compressed data (media, archives,
/// encrypted files) fails the probe and is stored as is, for about 3% of
/// the cost of compressing it in vain; compressible data pays that 3%.
/// Chunks under 32 KiB are always tried.
fn worth_compressing(
    c: &mut zstd::bulk::Compressor<'static>,
    data: &[u8],
    zbuf: &mut Vec<u8>,
) -> bool {
    const SLICES: usize = 8;
    const SLICE: usize = 1024;
    if data.len() < 4 * SLICES * SLICE {
        return true;
    }
    let mut sample = [0u8; SLICES * SLICE];
    let step = data.len() / SLICES;
    for (i, dst) in sample.chunks_exact_mut(SLICE).enumerate() {
        dst.copy_from_slice(&data[i * step..i * step + SLICE]);
    }
    zbuf.clear();
    zbuf.reserve(zstd::zstd_safe::compress_bound(sample.len()));
    match c.compress_to_buffer(&sample[..], zbuf) {
        Ok(n) => n < sample.len() - sample.len() / 32,
        Err(_) => true,
    }
}

/// Compress (unless that saves under 1/64, or a sample says it would not)
/// and seal one chunk into `out`. `zbuf` is the caller's reusable
/// compression buffer.
fn seal_blob_into(
    key: &MasterKey,
    comp: Option<(&mut zstd::bulk::Compressor<'static>, &mut Vec<u8>)>,
    id: Id,
    kind: BlobKind,
    data: &[u8],
    mut out: Vec<u8>,
) -> SealedBlob {
    let limit = data.len() - data.len() / 64;
    let compressed = comp.and_then(|(c, zbuf)| {
        if !worth_compressing(c, data, zbuf) {
            return None;
        }
        zbuf.clear();
        zbuf.reserve(zstd::zstd_safe::compress_bound(data.len()));
        match c.compress_to_buffer(data, zbuf) {
            Ok(n) if n < limit => Some(&zbuf[..n]),
            _ => None,
        }
    });
    let (flags, payload): (u8, &[u8]) = match compressed {
        Some(z) => (format::FLAG_ZSTD, z),
        None => (0, data),
    };
    out.clear();
    key.data_key()
        .seal_into(&format::blob_aad(&id, kind, flags), payload, &mut out);
    SealedBlob {
        entry: BlobEntry {
            id,
            kind,
            flags,
            offset: 0,
            length: out.len() as u32,
            raw_length: data.len() as u32,
        },
        bytes: out,
    }
}

/// Assembles one pack in a single reusable buffer: the 8-byte prefix, then
/// sealed blobs appended as they come. [`Uploader::upload`] writes them in a
/// shuffled order without copying (the payload is a list of slices).
pub(crate) struct Packer {
    buf: Vec<u8>,
    entries: Vec<BlobEntry>,
    /// Source bytes that count as stored once this pack's upload returns.
    carried: u64,
}

impl Packer {
    pub(crate) fn new(buf: Vec<u8>) -> Self {
        let mut buf = buf;
        buf.clear();
        buf.extend_from_slice(format::PACK_MAGIC);
        buf.extend_from_slice(&[format::FORMAT_VERSION, 0, 0, 0]);
        Packer {
            buf,
            entries: Vec::new(),
            carried: 0,
        }
    }
    /// Append a sealed blob (offset and length are set here).
    pub(crate) fn push(&mut self, entry: BlobEntry, sealed: &[u8]) {
        let mut e = entry;
        e.offset = self.buf.len() as u32;
        e.length = sealed.len() as u32;
        self.buf.extend_from_slice(sealed);
        self.entries.push(e);
    }
    /// Bytes of blobs held.
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() - format::PACK_PREFIX_LEN
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Count `n` source bytes as stored when this pack is.
    pub(crate) fn carry(&mut self, n: u64) {
        self.carried += n;
    }
}

/// Uploads packs with bounded concurrency and remembers what they hold.
pub(crate) struct Uploader {
    repo: Repository,
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<(Id, Vec<BlobEntry>, u64)>>,
    /// Pack buffers that came back from finished uploads.
    pool: BufPool,
    pack_cap: usize,
    /// Uploaded packs not yet in an index file.
    pub(crate) done: Vec<(Id, Vec<BlobEntry>)>,
    /// Every pack uploaded.
    pub(crate) uploaded: Vec<Id>,
    pub(crate) packs: u64,
    pub(crate) pack_bytes: u64,
    /// Told the source bytes of each pack whose upload returned.
    progress: Option<crate::Progress>,
}

impl Uploader {
    pub(crate) fn new(repo: &Repository, uploads: usize) -> Self {
        Uploader {
            repo: repo.clone(),
            permits: Arc::new(Semaphore::new(uploads.max(1))),
            tasks: JoinSet::new(),
            pool: BufPool::default(),
            // A pack is closed once it reaches pack_size, so it holds at most
            // one more blob (a merged chunk at most + seal overhead).
            pack_cap: repo.config.pack_size as usize + merge_limits(&repo.config.chunker).1 + 4096,
            done: Vec::new(),
            uploaded: Vec::new(),
            packs: 0,
            pack_bytes: 0,
            progress: None,
        }
    }

    /// Report the bytes that packs carry (see [`Packer::carry`]) to `p`.
    pub(crate) fn with_progress(mut self, p: Option<crate::Progress>) -> Self {
        self.progress = p;
        self
    }

    /// An empty packer on a recycled buffer.
    pub(crate) fn packer(&self) -> Packer {
        Packer::new(self.pool.get(self.pack_cap))
    }

    fn reap(&mut self) -> Result<()> {
        while let Some(r) = self.tasks.try_join_next() {
            let (id, entries, n) = r.map_err(|e| RepoError::Task(e.to_string()))??;
            self.uploaded.push(id);
            self.done.push((id, entries));
            self.packs += 1;
            self.pack_bytes += n;
        }
        Ok(())
    }

    /// Upload the packer's blobs as one pack (shuffled, so a pack does not
    /// reveal the stream's chunk order) in the background, and reset it.
    pub(crate) async fn upload(&mut self, packer: &mut Packer) -> Result<()> {
        if packer.is_empty() {
            return Ok(());
        }
        // The permit first: a finished upload has then returned its buffer,
        // which the fresh packer reuses (at most uploads + 1 pack buffers).
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RepoError::Task(e.to_string()))?;
        self.reap()?;
        let fresh = self.packer();
        let Packer {
            buf,
            mut entries,
            carried,
        } = std::mem::replace(packer, fresh);
        let progress = self.progress.clone();
        entries.shuffle(&mut rand::rng());
        let repo = self.repo.clone();
        let pool = self.pool.clone();
        self.tasks.spawn(async move {
            let body = bytes::Bytes::from(buf);
            let key = repo.key.clone();
            let (payload, entries, id, n) =
                tokio::task::spawn_blocking(move || assemble_pack(key.data_key(), &body, entries))
                    .await
                    .map_err(|e| RepoError::Task(e.to_string()))?;
            let p = repo.pack_path(&id);
            let r = repo.store.put(&p, payload.0).await;
            // Every slice of the buffer is gone with the payload: take the
            // allocation back for the next pack.
            // (Measured: always unique once `put` returns; if a store kept a
            // reference, the next pack would simply allocate.)
            if let Ok(m) = payload.1.try_into_mut() {
                pool.put(Vec::from(m));
            }
            r.map_err(|e| RepoError::store(&p, e))?;
            if let Some(progress) = progress {
                progress.add(carried);
            }
            drop(permit);
            Ok((id, entries, n))
        });
        Ok(())
    }

    /// Wait for every upload.
    pub(crate) async fn finish(&mut self) -> Result<()> {
        while let Some(r) = self.tasks.join_next().await {
            let (id, entries, n) = r.map_err(|e| RepoError::Task(e.to_string()))??;
            self.uploaded.push(id);
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

/// The payload of a pack whose blobs sit in `body` (after its 8-byte
/// prefix) in arrival order, written in the order of `entries`: a list of
/// slices of `body`, then the sealed header and its length. Returns the
/// payload, `body` (to recycle once the payload is dropped), the entries
/// with their offsets in the pack, the pack id and its length.
fn assemble_pack(
    key: &crate::crypto::AeadKey,
    body: &bytes::Bytes,
    entries: Vec<BlobEntry>,
) -> ((PutPayload, bytes::Bytes), Vec<BlobEntry>, Id, u64) {
    let mut parts = Vec::with_capacity(entries.len() + 3);
    let mut hasher = blake3::Hasher::new();
    let prefix = body.slice(..format::PACK_PREFIX_LEN);
    hasher.update(&prefix);
    parts.push(prefix);
    let mut pos = format::PACK_PREFIX_LEN as u32;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let s = body.slice(e.offset as usize..(e.offset + e.length) as usize);
        hasher.update(&s);
        parts.push(s);
        out.push(BlobEntry { offset: pos, ..e });
        pos += e.length;
    }
    let header = format::seal_object(
        key,
        format::ObjectKind::PackHeader,
        &format::encode_pack_header(&out),
    );
    let hlen = (header.len() as u32).to_le_bytes();
    hasher.update(&header);
    hasher.update(&hlen);
    let n = pos as u64 + header.len() as u64 + 4;
    parts.push(bytes::Bytes::from(header));
    parts.push(bytes::Bytes::copy_from_slice(&hlen));
    let id = Id(*hasher.finalize().as_bytes());
    let payload: PutPayload = parts.into_iter().collect();
    ((payload, body.clone()), out, id, n)
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
        let mut session = self.begin_backup(&opts).await?;
        let st = match self.store_stream(&mut session, reader, None).await {
            Ok(st) => st,
            Err(e) => {
                session.abandon().await;
                return Err(e);
            }
        };
        let source = Source::Stream {
            size: st.size,
            chunks: st.chunks,
            content: st.content,
        };
        self.commit_backup(session, source, opts, st.size).await
    }

    /// Start a backup: load the index, adopt orphan packs, set up uploads.
    pub(crate) async fn begin_backup(&self, opts: &BackupOptions) -> Result<Session> {
        // The lock first: a prune that lists locks after this sees it, and
        // one that listed them before wrote its marks before we read them.
        let lock = self.lock(LockKind::Backup, opts.lock_timing).await?;
        let loaded = async {
            let index = self.load_index().await?;
            let adopted = self.adoptable_packs(&index).await?;
            Ok::<_, RepoError>((index, adopted))
        }
        .await;
        let (mut index, adopted) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let _ = lock.release().await;
                return Err(e);
            }
        };
        for (p, entries) in &adopted {
            index.add_pack(*p, entries.clone());
        }
        let workers = if opts.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            opts.workers
        };
        let uploader = Uploader::new(self, if opts.uploads == 0 { 2 } else { opts.uploads })
            .with_progress(opts.progress.clone());
        Ok(Session {
            lock: Some(lock),
            used_packs: HashSet::new(),
            index: Arc::new(index),
            sum: BackupSummary {
                adopted_packs: adopted.len() as u64,
                ..Default::default()
            },
            adopted,
            claimed: Arc::default(),
            data_packer: uploader.packer(),
            meta_packer: uploader.packer(),
            uploader,
            unindexed_blobs: 0,
            workers,
            counted: true,
        })
    }

    /// Chunk, deduplicate, seal and upload one stream within a backup.
    pub(crate) async fn store_stream<R: Read + Send + 'static>(
        &self,
        session: &mut Session,
        reader: R,
        files: Option<FileLengths>,
    ) -> Result<StoredStream> {
        let workers = session.workers;
        let index = session.index.clone();
        let claimed = session.claimed.clone();
        let cfg = self.config.chunker;
        let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<(u64, Chunk)>(workers * 2);
        let (res_tx, mut res_rx) = tokio::sync::mpsc::channel::<WorkerResult>(workers * 2);
        let seed = self.key.chunker_seed();
        // Sealed blobs travel from the workers to the collector in recycled
        // buffers; at most `workers × 4` are in flight.
        let sealed_pool = BufPool::default();
        let sealed_cap = cfg.max as usize + crate::crypto::SEAL_OVERHEAD;

        // Read buffers: one being filled, the rest pinned by chunks in the
        // channel or in the workers.
        let read_bufs = workers + 3;
        let chunker = tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut seq = 0u64;
            let mut send = |c: Chunk| {
                let ok = chunk_tx.send((seq, c)).is_ok();
                seq += 1;
                ok
            };
            let mut merger = Merger::new(&cfg)?;
            let n = chunk_stream(reader, cfg, seed, read_bufs, files, |c, file_end| {
                merger.push(c, file_end, &mut send)
            })?;
            merger.flush(&mut send);
            Ok(n)
        });

        let mut worker_handles = Vec::new();
        for _ in 0..workers {
            let rx = chunk_rx.clone();
            let tx = res_tx.clone();
            let key = self.key.clone();
            let index = index.clone();
            let claimed = claimed.clone();
            let zlevel = self.config.zstd_level;
            let pool = sealed_pool.clone();
            worker_handles.push(tokio::task::spawn_blocking(move || {
                let mut comp = match zstd::bulk::Compressor::new(zlevel) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(RepoError::Io(e)));
                        return;
                    }
                };
                let mut zbuf = Vec::new();
                // Merged chunks (highly compressible, 4-8 MiB) compress as one
                // frame at level 3 at least: on such data it is as fast as
                // level 1 and stores ~20% less (docs/benchmarks.md).
                let mut merged_comp: Option<zstd::bulk::Compressor<'static>> = None;
                while let Ok((seq, chunk)) = rx.recv() {
                    let data = chunk.bytes();
                    // A chunk is at most 8 MiB long (ChunkerParams::max, merge_limits).
                    let len = data.len() as u32;
                    let id = key.blob_id(data);
                    let new = !index.blobs.contains_key(&id)
                        && claimed.lock().map(|mut c| c.insert(id)).unwrap_or(true);
                    let c = match &chunk {
                        Chunk::Merged(_) if zlevel < 3 => match merged_comp.as_mut() {
                            Some(c) => c,
                            None => match zstd::bulk::Compressor::new(3) {
                                Ok(c) => merged_comp.insert(c),
                                Err(e) => {
                                    let _ = tx.blocking_send(Err(RepoError::Io(e)));
                                    return;
                                }
                            },
                        },
                        _ => &mut comp,
                    };
                    let blob = new.then(|| {
                        seal_blob_into(
                            &key,
                            Some((c, &mut zbuf)),
                            id,
                            BlobKind::Data,
                            data,
                            pool.get(sealed_cap),
                        )
                    });
                    drop(chunk);
                    if tx.blocking_send(Ok((seq, id, len, blob))).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(chunk_rx);
        drop(res_tx);

        let pack_size = self.config.pack_size as usize;
        let mut pending: BTreeMap<u64, Id> = BTreeMap::new();
        let mut next = 0u64;
        let mut list: Vec<Id> = Vec::with_capacity(IDS_PER_META);
        let mut content: Vec<String> = Vec::new();
        let s = session;

        let result: Result<()> = async {
            while let Some(r) = res_rx.recv().await {
                let (seq, id, len, blob) = r?;
                if blob.is_none() {
                    if let Some(l) = s.index.blobs.get(&id) {
                        s.used_packs.insert(l.pack);
                    }
                    // Already stored, or carried by a pack of this backup
                    // (counted here rather than twice).
                    if let Some(p) = s.uploader.progress.as_ref().filter(|_| s.counted) {
                        p.add(u64::from(len));
                    }
                }
                if let Some(b) = blob {
                    s.sum.new_chunks += 1;
                    s.sum.added_bytes += b.bytes.len() as u64;
                    s.unindexed_blobs += 1;
                    s.data_packer.push(b.entry, &b.bytes);
                    if s.counted {
                        s.data_packer.carry(u64::from(len));
                    }
                    sealed_pool.put(b.bytes);
                    if s.data_packer.bytes() >= pack_size {
                        s.uploader.upload(&mut s.data_packer).await?;
                    }
                }
                pending.insert(seq, id);
                while let Some(id) = pending.remove(&next) {
                    next += 1;
                    list.push(id);
                    if list.len() == IDS_PER_META {
                        self.emit_meta(s, &mut list, &mut content);
                        if s.meta_packer.bytes() >= pack_size {
                            s.uploader.upload(&mut s.meta_packer).await?;
                        }
                    }
                }
                if s.unindexed_blobs >= INDEX_FLUSH_BLOBS && !s.uploader.done.is_empty() {
                    s.unindexed_blobs = 0;
                    s.uploader.write_index(&mut s.adopted).await?;
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
            self.emit_meta(s, &mut list, &mut content);
        }
        s.sum.chunks += next;
        Ok(StoredStream {
            size,
            chunks: next,
            content,
        })
    }

    /// Finish a backup: upload the last packs, write the index, make sure
    /// every pack the snapshot needs is live, then write the snapshot (the
    /// commit point). The lock is released whatever the outcome.
    pub(crate) async fn commit_backup(
        &self,
        session: Session,
        source: Source,
        opts: BackupOptions,
        size: u64,
    ) -> Result<BackupSummary> {
        let mut s = session;
        let lock = s.lock.take();
        let r = self
            .commit_locked(&mut s, lock.as_ref(), source, opts, size)
            .await;
        if let Some(l) = lock {
            // A lock left behind only delays reclaiming space until it goes
            // stale: not worth failing a committed backup for.
            let _ = l.release().await;
        }
        r
    }

    async fn commit_locked(
        &self,
        s: &mut Session,
        lock: Option<&Lock>,
        source: Source,
        opts: BackupOptions,
        size: u64,
    ) -> Result<BackupSummary> {
        let time = opts.time.unwrap_or_else(Utc::now);
        s.uploader.upload(&mut s.data_packer).await?;
        s.uploader.upload(&mut s.meta_packer).await?;
        s.uploader.finish().await?;
        // Commit order: packs (done) → lock rewritten → every needed pack
        // checked → index → snapshot.
        if let Some(l) = lock {
            l.refresh_now().await?;
        }
        // Our own packs must still exist: a prune to which our lock looked
        // stale (a suspended process) may have taken them for a failed
        // backup's leftovers. Their data is gone with the stream: fail.
        let present = self.pack_ids().await?;
        let adopted: HashSet<Id> = s.adopted.iter().map(|(p, _)| *p).collect();
        let own: HashSet<Id> = s.uploader.uploaded.iter().copied().collect();
        if let Some(p) = own.iter().find(|p| !present.contains(*p)) {
            return Err(RepoError::PackGone {
                pack: self.pack_path(p).to_string(),
                role: "uploaded by this backup",
            });
        }
        if let Some(p) = adopted.iter().find(|p| !present.contains(*p)) {
            return Err(RepoError::PackGone {
                pack: self.pack_path(p).to_string(),
                role: "left by an interrupted backup and adopted by this one",
            });
        }
        // The packs of the index we deduplicated against must be live now: a
        // prune that ran beside us may have marked them (or dropped them,
        // had our lock looked stale to it). Copy those into new packs while
        // they still exist; fail if one is gone.
        let now = self.load_index().await?;
        let mut lost: Vec<Id> = s
            .used_packs
            .iter()
            .filter(|p| {
                // An adopted pack no index lists yet is ours to index.
                let ours_to_index = adopted.contains(*p) && !now.marked.contains_key(*p);
                !own.contains(*p) && !now.packs.contains_key(*p) && !ours_to_index
            })
            .copied()
            .collect();
        lost.sort();
        if !lost.is_empty() {
            let mut packer = s.uploader.packer();
            for p in &lost {
                self.copy_pack(&mut s.uploader, &mut packer, p).await?;
            }
            s.uploader.upload(&mut packer).await?;
            s.uploader.finish().await?;
            s.sum.copied_packs = lost.len() as u64;
            if let Some(l) = lock {
                l.refresh_now().await?;
            }
        }
        s.uploader.write_index(&mut s.adopted).await?;
        let mut sum = s.sum.clone();
        sum.size = size;
        sum.packs = s.uploader.packs;
        let snap = Snapshot {
            version: format::FORMAT_VERSION,
            time,
            host: opts.host.unwrap_or_else(host_name),
            paths: opts.paths,
            tags: opts.tags,
            source,
            added_bytes: sum.added_bytes,
            program: format!("kapsel {}", env!("CARGO_PKG_VERSION")),
        };
        sum.snapshot = self.write_snapshot(&snap).await?.to_hex();
        Ok(sum)
    }

    /// Copy every blob of pack `p` (verified first) into `packer`, uploading
    /// full packs; a pack that is gone fails the backup.
    async fn copy_pack(&self, up: &mut Uploader, packer: &mut Packer, p: &Id) -> Result<()> {
        let path = self.pack_path(p);
        let bytes = match crate::repo::get_bytes(self.store.as_ref(), &path).await {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(RepoError::PackGone {
                    pack: path.to_string(),
                    role: "deduplicated against, marked for deletion since",
                });
            }
            Err(e) => return Err(e),
        };
        if Id::of_stored(&bytes) != *p {
            return Err(RepoError::corrupt(
                path.to_string(),
                "content does not match its name",
            ));
        }
        let entries = format::parse_pack(self.key.data_key(), &bytes)
            .map_err(|e| e.into_repo(path.as_ref()))?;
        for e in entries {
            let sealed = bytes
                .get(e.offset as usize..(e.offset + e.length) as usize)
                .ok_or_else(|| RepoError::corrupt(path.to_string(), "blob beyond the end"))?;
            crate::repo::open_blob(&self.key, &e, sealed)
                .map_err(|r| RepoError::corrupt(path.to_string(), r))?;
            packer.push(e, sealed);
            if packer.bytes() >= self.config.pack_size as usize {
                up.upload(packer).await?;
            }
        }
        Ok(())
    }

    fn emit_meta(&self, s: &mut Session, list: &mut Vec<Id>, content: &mut Vec<String>) {
        let bytes = format::encode_id_list(list);
        list.clear();
        let id = self.key.blob_id(&bytes);
        content.push(id.to_hex());
        if let Some(l) = s.index.blobs.get(&id) {
            s.used_packs.insert(l.pack);
        }
        let new = !s.index.blobs.contains_key(&id)
            && s.claimed.lock().map(|mut c| c.insert(id)).unwrap_or(true);
        if new {
            // Ids are random bytes: never worth compressing.
            let b = seal_blob_into(&self.key, None, id, BlobKind::Meta, &bytes, Vec::new());
            s.sum.added_bytes += b.bytes.len() as u64;
            s.meta_packer.push(b.entry, &b.bytes);
        }
    }
}
