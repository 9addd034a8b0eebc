//! Restoring a stream snapshot: parallel, ordered downloads.

use std::io::Write;

use futures::{StreamExt, TryStreamExt};

use crate::backup::BufPool;
use crate::error::{RepoError, Result};
use crate::format::Id;
use crate::repo::{Index, Plain, Repository, Snapshot, Source};

/// Options for [`Repository::restore_stream`].
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Blobs fetched and decrypted at once (default 16: enough to keep
    /// every core and a remote store's latency busy; at most this many
    /// blobs, plus the writer's queue, are in memory).
    pub concurrency: usize,
    /// Counts the bytes written as they are (the total is the snapshot's
    /// size).
    pub progress: Option<crate::Progress>,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            concurrency: 16,
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
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Plain>(8);
        let back = pool.clone();
        let progress = opts.progress.clone();
        if let Some(p) = &progress {
            p.set_total(size);
        }
        let writer_task = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, W)> {
            let mut w = writer;
            let mut n = 0u64;
            while let Some(b) = rx.blocking_recv() {
                w.write_all(&b)?;
                n += b.len() as u64;
                if let Some(p) = &progress {
                    p.add(b.len() as u64);
                }
                b.recycle(&back);
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
            .try_flatten();
        let mut blobs = Box::pin(
            lists
                .map(|r| {
                    let pool = &pool;
                    async move {
                        let bid = r?;
                        let loc = index
                            .locate(&bid)
                            .ok_or_else(|| fail(format!("data blob {bid} is not in the index")))?;
                        self.read_plain(loc, Some(pool))
                            .await
                            .map_err(|e| fail(e.to_string()))
                    }
                })
                .buffered(opts.concurrency.max(1)),
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
