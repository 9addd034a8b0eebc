//! `prune`: reclaim the space of blobs no snapshot needs, safely beside
//! running backups (two-phase delete, as rustic and kopia do).
//!
//! Phase one *marks* unused packs (recording their blobs) in a new index
//! file; backups that load the index afterwards no longer dedup against
//! them. A later prune deletes a marked pack once it has been marked for
//! `keep_delete`, unless a snapshot written meanwhile needs one of its blobs
//! (a backup that started before the mark): then the pack is brought back.
//! Packs that no index lists are left alone for `orphan_min_age`, because a
//! running backup may be about to index them.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, Utc};
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::backup::Uploader;
use crate::error::{RepoError, Result};
use crate::format::{self, BlobEntry, Id, IndexFile, MarkedPack};
use crate::repo::{Location, Repository};

/// Options for [`Repository::prune`].
#[derive(Debug, Clone, Copy)]
pub struct PruneOptions {
    /// How long a pack stays marked before deletion (default 1 h; zero
    /// deletes at once, which is safe only when no backup is running).
    pub keep_delete: Duration,
    /// Repack a pack when more than this fraction of its bytes is unused.
    pub repack_unused: f64,
    /// Packs in no index are deleted only when older than this (default 24 h).
    pub orphan_min_age: Duration,
    /// Report only.
    pub dry_run: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            keep_delete: Duration::hours(1),
            repack_unused: 0.25,
            orphan_min_age: Duration::hours(24),
            dry_run: false,
        }
    }
}

/// What prune did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    /// Packs newly marked for deletion.
    pub marked: usize,
    /// Marked packs deleted.
    pub deleted: usize,
    /// Marked packs brought back because a snapshot needs them.
    pub recovered: usize,
    /// Partly used packs rewritten.
    pub repacked: usize,
    /// Old packs in no index, deleted.
    pub orphans_deleted: usize,
    /// Bytes of deleted packs.
    pub bytes_freed: u64,
    /// Blobs still in use.
    pub used_blobs: usize,
}

impl Repository {
    /// Every blob a snapshot needs (meta and data), from live or marked packs.
    async fn used_blobs(&self, all: &HashMap<Id, Location>) -> Result<HashSet<Id>> {
        let mut used = HashSet::new();
        for (sid, snap) in self.snapshots_complete("prune").await? {
            for h in snap.source.streams().into_iter().flat_map(|(_, c)| c) {
                let mid = Id::from_hex(h)
                    .ok_or_else(|| RepoError::corrupt(format!("snapshots/{sid}"), "bad meta id"))?;
                let loc = all.get(&mid).ok_or_else(|| RepoError::Restore {
                    snapshot: sid.to_hex(),
                    reason: format!(
                        "meta blob {mid} is in no index; refusing to prune a damaged repository"
                    ),
                })?;
                used.insert(mid);
                let b = self.read_blob(loc).await?;
                for id in format::decode_id_list(&b)
                    .map_err(|e| e.into_repo(&format!("meta blob {mid}")))?
                {
                    if !all.contains_key(&id) {
                        return Err(RepoError::Restore {
                            snapshot: sid.to_hex(),
                            reason: format!(
                                "data blob {id} is in no index; refusing to prune a damaged repository"
                            ),
                        });
                    }
                    used.insert(id);
                }
            }
        }
        Ok(used)
    }

    /// Prune the repository.
    pub async fn prune(&self, opts: PruneOptions) -> Result<PruneReport> {
        let now = Utc::now();
        let index = self.load_index().await?;
        index.require_complete("prune")?;
        let mut all: HashMap<Id, Location> = HashMap::new();
        for m in index.marked.values() {
            for b in &m.blobs {
                all.insert(
                    b.id,
                    Location {
                        pack: m.pack,
                        entry: *b,
                    },
                );
            }
        }
        for (id, loc) in &index.blobs {
            all.insert(*id, *loc);
        }
        let used = self.used_blobs(&all).await?;
        let mut rep = PruneReport {
            used_blobs: used.len(),
            ..Default::default()
        };
        let sizes: HashMap<Id, (u64, chrono::DateTime<Utc>)> = self
            .list_ids("data")
            .await?
            .into_iter()
            .map(|(id, m)| (id, (m.size, m.last_modified)))
            .collect();

        let mut live: Vec<(Id, Vec<BlobEntry>)> = Vec::new();
        let mut marked: Vec<MarkedPack> = Vec::new();
        let mut delete: Vec<Id> = Vec::new();
        // Blobs already provided by a live pack we keep.
        let mut provided: HashSet<Id> = HashSet::new();

        // Phase two for earlier marks.
        for m in index.marked.values() {
            let needed = m
                .blobs
                .iter()
                .any(|b| used.contains(&b.id) && !index.blobs.contains_key(&b.id));
            if needed {
                rep.recovered += 1;
                provided.extend(m.blobs.iter().map(|b| b.id));
                live.push((m.pack, m.blobs.clone()));
            } else if now - chrono::DateTime::from_timestamp(m.marked_at, 0).unwrap_or(now)
                >= opts.keep_delete
            {
                delete.push(m.pack);
            } else {
                marked.push(m.clone());
            }
        }
        // Phase one for live packs.
        let mut uploader = Uploader::new(self, 2);
        let mut repack = uploader.packer();
        let mut packs: Vec<(&Id, &Vec<BlobEntry>)> = index.packs.iter().collect();
        packs.sort_by_key(|(p, _)| **p);
        for (p, blobs) in packs {
            // A blob counts for this pack only if this pack is its canonical
            // location and no kept pack already provides it.
            let useful: Vec<&BlobEntry> = blobs
                .iter()
                .filter(|b| {
                    used.contains(&b.id)
                        && index.blobs.get(&b.id).map(|l| l.pack) == Some(*p)
                        && !provided.contains(&b.id)
                })
                .collect();
            let total: u64 = blobs.iter().map(|b| b.length as u64).sum();
            let useful_bytes: u64 = useful.iter().map(|b| b.length as u64).sum();
            if useful.is_empty() {
                rep.marked += 1;
                self.mark_or_delete(&opts, now, *p, blobs, &mut marked, &mut delete);
            } else if (total - useful_bytes) as f64 > opts.repack_unused * total as f64 {
                rep.repacked += 1;
                if !opts.dry_run {
                    let bytes =
                        crate::repo::get_bytes(self.store.as_ref(), &self.pack_path(p)).await?;
                    for b in &useful {
                        let s = bytes
                            .get(b.offset as usize..(b.offset + b.length) as usize)
                            .ok_or_else(|| {
                                RepoError::corrupt(
                                    self.pack_path(p).to_string(),
                                    "blob beyond the end",
                                )
                            })?;
                        // Verify before copying: never spread damage.
                        crate::repo::open_blob(&self.key, b, s)
                            .map_err(|r| RepoError::corrupt(self.pack_path(p).to_string(), r))?;
                        repack.push(**b, s);
                        provided.insert(b.id);
                    }
                    if repack.bytes() >= self.config.pack_size as usize {
                        uploader.upload(&mut repack).await?;
                    }
                }
                self.mark_or_delete(&opts, now, *p, blobs, &mut marked, &mut delete);
            } else {
                provided.extend(blobs.iter().map(|b| b.id));
                live.push((*p, blobs.clone()));
            }
        }
        for (p, (size, modified)) in &sizes {
            let known = index.packs.contains_key(p) || index.marked.contains_key(p);
            if !known && now - *modified >= opts.orphan_min_age {
                rep.orphans_deleted += 1;
                delete.push(*p);
            }
            let _ = size;
        }
        rep.deleted = delete.len() - rep.orphans_deleted;
        rep.bytes_freed = delete
            .iter()
            .filter_map(|p| sizes.get(p).map(|s| s.0))
            .sum();
        if opts.dry_run {
            return Ok(rep);
        }
        uploader.upload(&mut repack).await?;
        uploader.finish().await?;
        live.append(&mut uploader.done);
        // New index first, then drop the files it replaces, then the packs.
        self.write_index(&IndexFile {
            packs: live,
            marked,
        })
        .await?;
        for f in &index.files {
            let p = self.path(&["index", &f.to_hex()]);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        for id in &delete {
            let p = self.pack_path(id);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        Ok(rep)
    }

    fn mark_or_delete(
        &self,
        opts: &PruneOptions,
        now: chrono::DateTime<Utc>,
        p: Id,
        blobs: &[BlobEntry],
        marked: &mut Vec<MarkedPack>,
        delete: &mut Vec<Id>,
    ) {
        if opts.keep_delete <= Duration::zero() {
            delete.push(p);
        } else {
            marked.push(MarkedPack {
                pack: p,
                marked_at: now.timestamp(),
                blobs: blobs.to_vec(),
            });
        }
    }
}
