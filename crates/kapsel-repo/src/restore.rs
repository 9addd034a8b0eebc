//! Restoring a stream snapshot: parallel, ordered downloads.

use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetResultPayload, ObjectStore};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backup::BufPool;
use crate::error::{RepoError, Result};
use crate::format::{BlobEntry, Id};
use crate::repo::{Index, Location, Plain, Repository, Snapshot, Source, open_sealed};

/// Options for [`Repository::restore_stream`].
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Groups of blobs (see `read_ahead`) fetched at once, each with all
    /// its ranged reads in flight, within the read-ahead budget (default
    /// 16); blobs are opened (decrypted, decompressed, checked) two per
    /// core at a time, never more than this.
    pub concurrency: usize,
    /// Bytes of packs fetched but not yet written out, at most (default
    /// 32 MiB): the restore's memory bound, with the opened blobs and the
    /// writer's queue. Groups are a quarter of it, up to 16 MiB.
    pub read_ahead: u64,
    /// Blobs of one pack separated by at most this many unused bytes are
    /// fetched with one ranged read (default 1 MiB: reading that much costs
    /// about what a request costs on a remote store). Reads never fetch
    /// more unused bytes than used ones.
    pub max_gap: u64,
    /// Counts the bytes written as they are (the total is the snapshot's
    /// size).
    pub progress: Option<crate::Progress>,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            concurrency: 16,
            read_ahead: 32 << 20,
            max_gap: 1 << 20,
            progress: None,
        }
    }
}

impl Repository {
    /// Write the stream of snapshot `id` to `writer`; returns the bytes written.
    ///
    /// Every blob is authenticated and its keyed id re-checked before its bytes
    /// reach `writer`; any failure names the snapshot and the object.
    pub async fn restore_stream<W: Write + Send + 'static>(
        &self,
        id: &Id,
        snap: &Snapshot,
        writer: W,
        opts: RestoreOptions,
    ) -> Result<u64> {
        let index = self.load_index().await?;
        self.restore_with_index(&index, id, snap, writer, opts)
            .await
    }

    /// [`Self::restore_stream`] with an index already loaded.
    pub async fn restore_with_index<W: Write + Send + 'static>(
        &self,
        index: &Index,
        id: &Id,
        snap: &Snapshot,
        writer: W,
        opts: RestoreOptions,
    ) -> Result<u64> {
        let (size, content) = match &snap.source {
            Source::Stream { size, content, .. } => (*size, content),
            Source::Tree { .. } => {
                return Err(RepoError::Restore {
                    snapshot: id.to_hex(),
                    reason: "is a directory tree, not a stream: restore it to a directory".into(),
                });
            }
        };
        let (n, _) = self
            .restore_content(index, id, size, content, writer, opts)
            .await?;
        Ok(n)
    }

    /// Write the stream whose chunk lists are the meta blobs `content` to
    /// `writer`; check that it has `size` bytes; hand the writer back.
    pub(crate) async fn restore_content<W: Write + Send + 'static>(
        &self,
        index: &Index,
        id: &Id,
        size: u64,
        content: &[String],
        writer: W,
        opts: RestoreOptions,
    ) -> Result<(u64, W)> {
        let sid = id.to_hex();
        let fail = |reason: String| RepoError::Restore {
            snapshot: sid.clone(),
            reason,
        };
        // Decompressed blobs live in recycled buffers: the writer hands each
        // back once written (steady state allocates none).
        let pool = BufPool::default();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Opened>(4);
        let back = pool.clone();
        let progress = opts.progress.clone();
        if let Some(p) = &progress {
            p.set_total(size);
        }
        let writer_task = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, W)> {
            let mut w = writer;
            let mut n = 0u64;
            while let Some(Opened {
                plain: b,
                budget,
                decoded,
            }) = rx.blocking_recv()
            {
                w.write_all(&b)?;
                n += b.len() as u64;
                if let Some(p) = &progress {
                    p.add(b.len() as u64);
                }
                b.recycle(&back);
                drop(budget);
                drop(decoded);
            }
            w.flush()?;
            Ok((n, w))
        });

        let lists = futures::stream::iter(content.iter().cloned())
            .then(|h| async move {
                let mid = Id::from_hex(&h)
                    .ok_or_else(|| fail(format!("malformed meta blob id {h:?}")))?;
                let loc = index
                    .locate(&mid)
                    .ok_or_else(|| fail(format!("meta blob {mid} is not in the index")))?;
                let b = self.read_blob(loc).await.map_err(|e| fail(e.to_string()))?;
                crate::format::decode_id_list(&b)
                    .map_err(|e| fail(format!("meta blob {mid}: {e:?}")))
            })
            .map_ok(|ids| futures::stream::iter(ids.into_iter().map(Ok::<Id, RepoError>)))
            .try_flatten()
            .map(|r| {
                let bid = r?;
                index
                    .locate(&bid)
                    .copied()
                    .ok_or_else(|| fail(format!("data blob {bid} is not in the index")))
            });
        // Consecutive blobs of one pack are fetched together (one ranged
        // read per run of nearby blobs, not one per blob), at most
        // `read_ahead` bytes of them at once; blobs are then opened in
        // stream order, `opens` at a time.
        let limits = Limits::new(&opts);
        // Decompressed bytes not yet written, at most DECODED_KIB (blobs of
        // merged chunks are up to 8 MiB each; others at most 1 MiB).
        let decoded = Arc::new(Semaphore::new(DECODED_KIB as usize));
        // Opening is CPU work: two per core keep every core busy without
        // holding more decompressed blobs than that.
        let opens = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 2)
            .min(opts.concurrency.max(1));
        let budget = Arc::new(Semaphore::new(limits.budget_kib as usize));
        let fetched = group_runs(lists, limits)
            .map(|g| {
                let budget = budget.clone();
                async move {
                    let g = g?;
                    self.fetch_group(g, budget, limits)
                        .await
                        .map(Arc::new)
                        .map_err(|e| fail(e.to_string()))
                }
            })
            .buffered(opts.concurrency.max(1));
        let mut blobs = Box::pin(
            fetched
                .map_ok(|f| {
                    futures::stream::iter(
                        (0..f.order.len()).map(move |k| Ok::<_, RepoError>((f.clone(), k))),
                    )
                })
                .try_flatten()
                .map(|r| {
                    let pool = &pool;
                    let decoded = decoded.clone();
                    async move {
                        let (f, k) = r?;
                        self.open_fetched(&f, k, pool, decoded)
                            .await
                            .map_err(|e| fail(e.to_string()))
                    }
                })
                .buffered(opens),
        );
        let mut result = Ok(());
        while let Some(b) = blobs.next().await {
            match b {
                Ok(b) => {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(blobs);
        drop(tx);
        let written = writer_task
            .await
            .map_err(|e| RepoError::Task(e.to_string()))?;
        result?;
        let (n, w) = written?;
        if n != size {
            return Err(fail(format!(
                "restored {n} bytes, the snapshot records {size}"
            )));
        }
        Ok((n, w))
    }
}

/// How restores group and bound their reads (from [`RestoreOptions`]).
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// The read-ahead budget, in KiB (semaphore permits).
    budget_kib: u32,
    /// A group's distinct blob bytes, at most (a single blob may exceed it).
    group_bytes: u64,
    /// A group's blob references, at most (a blob repeated many times, as
    /// zeros are, keeps a group's list short).
    group_refs: usize,
    /// See [`RestoreOptions::max_gap`].
    max_gap: u64,
}

impl Limits {
    fn new(o: &RestoreOptions) -> Limits {
        let read_ahead = o.read_ahead.max(1 << 20);
        Limits {
            budget_kib: u32::try_from(read_ahead >> 10).unwrap_or(u32::MAX >> 4),
            // Four groups fit the budget: one being written out while
            // three are fetched.
            group_bytes: (read_ahead / 4).clamp(256 << 10, 16 << 20),
            group_refs: 4096,
            max_gap: o.max_gap,
        }
    }
}

/// A run of consecutive blobs of the stream that lie in one pack.
struct Group {
    loc_pack: Id,
    /// The distinct blobs, in the order they were first referenced.
    entries: Vec<BlobEntry>,
    /// For each reference of the stream, in order: its blob in `entries`.
    order: Vec<u32>,
    /// Sum of the distinct blobs' sealed lengths.
    bytes: u64,
    seen: HashMap<Id, u32>,
}

impl Group {
    fn new(loc: &Location) -> Group {
        let mut g = Group {
            loc_pack: loc.pack,
            entries: Vec::new(),
            order: Vec::new(),
            bytes: 0,
            seen: HashMap::new(),
        };
        g.add(loc);
        g
    }

    /// Whether `loc` joins this group without breaking its limits.
    fn takes(&self, loc: &Location, l: &Limits) -> bool {
        loc.pack == self.loc_pack
            && self.order.len() < l.group_refs
            && (self.seen.contains_key(&loc.entry.id)
                || self.bytes + u64::from(loc.entry.length) <= l.group_bytes)
    }

    fn add(&mut self, loc: &Location) {
        let next = self.entries.len() as u32;
        let i = *self.seen.entry(loc.entry.id).or_insert(next);
        if i == next {
            self.entries.push(loc.entry);
            self.bytes += u64::from(loc.entry.length);
        }
        self.order.push(i);
    }
}

/// Cut the stream's blob locations into [`Group`]s.
fn group_runs<'a>(
    locs: impl Stream<Item = Result<Location>> + Send + 'a,
    limits: Limits,
) -> impl Stream<Item = Result<Group>> + Send + 'a {
    futures::stream::unfold(
        (Box::pin(locs), None::<Group>, false),
        move |(mut locs, mut open, done)| async move {
            if done {
                return None;
            }
            loop {
                match locs.next().await {
                    Some(Ok(loc)) => match open.as_mut() {
                        Some(g) if g.takes(&loc, &limits) => g.add(&loc),
                        _ => {
                            if let Some(full) = open.replace(Group::new(&loc)) {
                                return Some((Ok(full), (locs, open, false)));
                            }
                        }
                    },
                    Some(Err(e)) => return Some((Err(e), (locs, None, true))),
                    None => return open.take().map(|g| (Ok(g), (locs, None, true))),
                }
            }
        },
    )
}

/// The ranged reads that cover `sorted` (entries in pack order): blobs at
/// most `max_gap` apart share a read, as long as the read's unused bytes
/// stay below its used ones. Each read lists the entries it covers.
fn plan_reads(
    sorted: &[usize],
    entries: &[BlobEntry],
    max_gap: u64,
) -> Vec<(Range<u64>, Vec<usize>)> {
    let mut reads: Vec<(Range<u64>, Vec<usize>, u64)> = Vec::new();
    for &i in sorted {
        let e = &entries[i];
        let (start, end) = (
            u64::from(e.offset),
            u64::from(e.offset) + u64::from(e.length),
        );
        if let Some((r, members, used)) = reads.last_mut()
            && start >= r.end
            && start - r.end <= max_gap
            && (end - r.start) - (*used + u64::from(e.length)) <= *used + u64::from(e.length)
        {
            r.end = end;
            members.push(i);
            *used += u64::from(e.length);
            continue;
        }
        reads.push((start..end, vec![i], u64::from(e.length)));
    }
    reads.into_iter().map(|(r, m, _)| (r, m)).collect()
}

/// A group's sealed blobs, fetched: each blob's bytes until it is opened.
struct Fetched {
    entries: Vec<BlobEntry>,
    order: Vec<u32>,
    /// Each blob's sealed bytes, with its references not yet opened (the
    /// last takes the bytes, earlier ones copy them).
    pieces: Vec<Mutex<(u32, Option<BytesMut>)>>,
    pack: String,
    /// Its share of the read-ahead budget, released when it is dropped.
    budget: Arc<OwnedSemaphorePermit>,
}

impl Repository {
    /// Fetch a group's blobs with as few ranged reads as [`plan_reads`]
    /// allows, once the read-ahead budget has room for them.
    async fn fetch_group(&self, g: Group, budget: Arc<Semaphore>, l: Limits) -> Result<Fetched> {
        let p = self.pack_path(&g.loc_pack);
        let mut sorted: Vec<usize> = (0..g.entries.len()).collect();
        sorted.sort_by_key(|&i| g.entries[i].offset);
        let reads = plan_reads(&sorted, &g.entries, l.max_gap);
        let total: u64 = reads.iter().map(|(r, _)| r.end - r.start).sum();
        let kib = u32::try_from(total.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, l.budget_kib);
        let permit = budget
            .acquire_many_owned(kib)
            .await
            .map_err(|e| RepoError::Task(e.to_string()))?;
        // The reads run at once, up to READS_PER_GROUP (a remote store's
        // latency is paid once per group, not once per read), each into its
        // own buffer allocated here on a runtime thread: buffers of
        // megabytes allocated on the many blocking threads (as
        // object_store's file reads do) fragment the heap until RSS is
        // several times the budget.
        let bufs: Vec<_> = futures::stream::iter(reads.iter().map(|(r, _)| {
            let buf = Vec::with_capacity(usize::try_from(r.end - r.start).unwrap_or(usize::MAX));
            read_range_into(self.store.as_ref(), &p, r.clone(), buf)
        }))
        // A group of many small blobs (a tree of small files) may need
        // hundreds of reads: each is a connection or an open file.
        .buffered(READS_PER_GROUP)
        .collect()
        .await;
        let mut pieces: Vec<Option<BytesMut>> = vec![None; g.entries.len()];
        for ((r, members), got) in reads.iter().zip(bufs) {
            let buf = match got {
                Ok(b) => b,
                Err(RangeFail::Store(err)) => {
                    // Named by the read's last blob: if the pack is shorter
                    // than that, it is truncated.
                    let last = &g.entries[members[members.len() - 1]];
                    return Err(self.range_error(&p, last, err).await);
                }
                Err(RangeFail::Short(got)) => {
                    let last = &g.entries[members[members.len() - 1]];
                    return Err(crate::repair::truncated(&p, last, r.start + got));
                }
                Err(RangeFail::Io(e)) => return Err(RepoError::Task(e.to_string())),
            };
            debug_assert_eq!(buf.len() as u64, r.end - r.start);
            // A vector's bytes convert without a copy (they are not shared).
            let mut rest = bytes::Bytes::from(buf)
                .try_into_mut()
                .unwrap_or_else(|b| BytesMut::from(&b[..]));
            let mut at = r.start;
            for &i in members {
                let e = &g.entries[i];
                let _gap = rest.split_to((u64::from(e.offset) - at) as usize);
                pieces[i] = Some(rest.split_to(e.length as usize));
                at = u64::from(e.offset) + u64::from(e.length);
            }
        }
        let mut uses = vec![0u32; g.entries.len()];
        for &i in &g.order {
            uses[i as usize] += 1;
        }
        Ok(Fetched {
            entries: g.entries,
            order: g.order,
            pieces: uses.into_iter().zip(pieces).map(Mutex::new).collect(),
            pack: p.to_string(),
            budget: Arc::new(permit),
        })
    }

    /// Open the `k`th blob reference of a fetched group.
    async fn open_fetched(
        &self,
        f: &Arc<Fetched>,
        k: usize,
        pool: &crate::backup::BufPool,
        decoded: Arc<Semaphore>,
    ) -> Result<Opened> {
        let i = f.order[k] as usize;
        let e = f.entries[i];
        // Blobs are opened in stream order and the semaphore is fair, so the
        // next blob to write always gets its share.
        let kib = e.raw_length.div_ceil(1024).clamp(1, DECODED_KIB);
        let decoded = decoded
            .acquire_many_owned(kib)
            .await
            .map_err(|err| RepoError::Task(err.to_string()))?;
        let sealed = {
            let mut slot = f.pieces[i]
                .lock()
                .map_err(|_| RepoError::Task("a restore task panicked".into()))?;
            slot.0 = slot.0.saturating_sub(1);
            let piece = if slot.0 == 0 {
                slot.1.take()
            } else {
                slot.1.clone()
            };
            piece.ok_or_else(|| RepoError::Task(format!("blob {} was opened twice", e.id)))?
        };
        let key = self.key.clone();
        let pname = f.pack.clone();
        let pool = pool.clone();
        let plain = tokio::task::spawn_blocking(move || {
            open_sealed(&key, &e, sealed, Some(&pool)).map_err(|r| RepoError::corrupt(pname, r))
        })
        .await
        .map_err(|err| RepoError::Task(err.to_string()))??;
        // A blob stored uncompressed is a slice of the group's buffer: the
        // buffer, and so its share of the budget, lives until it is written.
        let budget = matches!(plain, Plain::Slice(_)).then(|| f.budget.clone());
        Ok(Opened {
            plain,
            budget,
            decoded,
        })
    }
}

/// An opened blob on its way to the writer.
struct Opened {
    plain: Plain,
    /// The budget share of the buffer `plain` is a slice of, if it is one.
    budget: Option<Arc<OwnedSemaphorePermit>>,
    /// Its share of the decompressed bytes' budget.
    decoded: OwnedSemaphorePermit,
}

/// Ranged reads of one group in flight at once.
const READS_PER_GROUP: usize = 8;

/// KiB of opened blobs a restore holds at most: two merged chunks.
const DECODED_KIB: u32 = 16 << 10;

/// Why [`read_range_into`] failed.
enum RangeFail {
    Store(object_store::Error),
    /// The object ended this many bytes into the range.
    Short(u64),
    Io(std::io::Error),
}

/// Append bytes `r` of object `p` to `buf` (a file is read straight into
/// it, a remote object's body copied as it arrives).
async fn read_range_into(
    store: &dyn ObjectStore,
    p: &Path,
    r: Range<u64>,
    mut buf: Vec<u8>,
) -> std::result::Result<Vec<u8>, RangeFail> {
    let want = r.end - r.start;
    let opts = GetOptions {
        range: Some(r.clone().into()),
        ..GetOptions::default()
    };
    let got = store.get_opts(p, opts).await.map_err(RangeFail::Store)?;
    let start = buf.len() as u64;
    let buf = match got.payload {
        GetResultPayload::File(file, _) => {
            let from = got.range.start;
            tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                let mut f = file;
                f.seek(SeekFrom::Start(from))?;
                f.take(want).read_to_end(&mut buf)?;
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .map_err(|e| RangeFail::Io(std::io::Error::other(e.to_string())))?
            .map_err(RangeFail::Io)?
        }
        GetResultPayload::Stream(mut body) => {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(RangeFail::Store)?;
                if buf.len() as u64 - start + chunk.len() as u64 > want {
                    return Err(RangeFail::Store(object_store::Error::Generic {
                        store: "restore",
                        source: format!("{p}: the store sent more than the {want} bytes asked for")
                            .into(),
                    }));
                }
                buf.extend_from_slice(&chunk);
            }
            buf
        }
    };
    let n = buf.len() as u64 - start;
    if n != want {
        return Err(RangeFail::Short(n));
    }
    Ok(buf)
}
