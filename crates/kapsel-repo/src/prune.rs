//! `prune`: reclaim the space of blobs no snapshot needs, safely beside
//! running backups (docs/format.md §10).
//!
//! Phase one *marks* unused packs (recording their blobs) in a new index
//! file; backups that load the index afterwards no longer dedup against
//! them, and readers still find their blobs. A later prune deletes a marked
//! pack once it has been marked for `keep_delete` and no running backup
//! (by its lock) started before the mark, unless a snapshot written
//! meanwhile needs one of its blobs: then the pack is brought back.
//! Packs that no index lists (left by failed or killed backups) are
//! reclaimed the same way once no running backup can be their writer.
//! Backups check at their commit that every pack they need is live, so a
//! decision made here on a stale view never commits a broken snapshot.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::backup::Uploader;
use crate::error::{RepoError, Result};
use crate::format::{self, BlobEntry, Id, IndexFile, MarkedPack, ObjectKind};
use crate::lock::{FoundLock, Lock, LockKind, LockTiming};
use crate::repo::{Index, Repository, Snapshot};

/// Options for [`Repository::prune`].
#[derive(Debug, Clone, Copy)]
pub struct PruneOptions {
    /// How long a pack stays marked before deletion (default 1 h). Zero
    /// deletes unused packs at once when no backup is running (and marks
    /// them when one is).
    pub keep_delete: Duration,
    /// Repack a pack when more than this fraction of its bytes is unused.
    pub repack_unused: f64,
    /// Packs in no index are considered only when older than this (default
    /// zero: locks tell which backups may still index them; raise it while
    /// Kapsel versions without locks write to the repository).
    pub orphan_min_age: Duration,
    /// Report only.
    pub dry_run: bool,
    /// When a lock is stale, and how far clocks may differ.
    pub lock_timing: LockTiming,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            keep_delete: Duration::hours(1),
            repack_unused: 0.25,
            orphan_min_age: Duration::zero(),
            dry_run: false,
            lock_timing: LockTiming::default(),
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
    /// Packs in no index (left by failed or killed backups), deleted.
    pub orphans_deleted: usize,
    /// Packs in no index, marked for deletion.
    pub orphans_marked: usize,
    /// Packs due for deletion kept because a running backup may need them.
    pub held: usize,
    /// Packs that would have been deleted at once, marked instead because a
    /// backup started while this prune ran.
    pub deferred: usize,
    /// Stale locks of dead processes removed.
    pub stale_locks_removed: usize,
    /// Bytes of deleted packs.
    pub bytes_freed: u64,
    /// Blobs still in use.
    pub used_blobs: usize,
}

/// Deletion of a pack that was live or in no index: allowed only because no
/// backup was running; it becomes a mark if one started meanwhile.
struct AtOnce {
    pack: Id,
    blobs: Option<Vec<BlobEntry>>,
}

impl Repository {
    /// Every blob the snapshots need (meta and data), from live or marked
    /// packs; refuses when one is in no index.
    async fn used_blobs(&self, snaps: &[(Id, Snapshot)], index: &Index) -> Result<HashSet<Id>> {
        let mut used = HashSet::new();
        for (sid, snap) in snaps {
            for h in snap.source.streams().into_iter().flat_map(|(_, c)| c) {
                let mid = Id::from_hex(h)
                    .ok_or_else(|| RepoError::corrupt(format!("snapshots/{sid}"), "bad meta id"))?;
                let loc = index.locate(&mid).ok_or_else(|| RepoError::Restore {
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
                    if index.locate(&id).is_none() {
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

    /// The header entries of a pack, read from its end (two ranged reads).
    pub(crate) async fn read_pack_entries_tail(
        &self,
        id: &Id,
        size: u64,
    ) -> Result<Vec<BlobEntry>> {
        let p = self.pack_path(id);
        let short = || RepoError::corrupt(p.to_string(), "too short for a pack");
        if size < 12 {
            return Err(short());
        }
        let len = self
            .store
            .get_range(&p, size - 4..size)
            .await
            .map_err(|e| RepoError::store(&p, e))?;
        let hlen = u32::from_le_bytes(len.as_ref().try_into().map_err(|_| short())?) as u64;
        let start = size
            .checked_sub(4 + hlen)
            .filter(|s| *s >= 8)
            .ok_or_else(|| RepoError::corrupt(p.to_string(), "pack header length out of range"))?;
        let h = self
            .store
            .get_range(&p, start..size - 4)
            .await
            .map_err(|e| RepoError::store(&p, e))?;
        format::open_object(self.key.data_key(), ObjectKind::PackHeader, &h)
            .and_then(|b| format::decode_pack_header(&b))
            .map_err(|e| e.into_repo(p.as_ref()))
    }

    /// Prune the repository. Takes the repository's prune lock: a second
    /// prune refuses to run beside it.
    pub async fn prune(&self, opts: PruneOptions) -> Result<PruneReport> {
        let lock = if opts.dry_run {
            None
        } else {
            Some(self.lock(LockKind::Prune, opts.lock_timing).await?)
        };
        let r = self.prune_locked(&opts, lock.as_ref()).await;
        if let Some(l) = lock {
            let _ = l.release().await;
        }
        r
    }

    async fn prune_locked(&self, opts: &PruneOptions, lock: Option<&Lock>) -> Result<PruneReport> {
        let now = Utc::now();
        let t = opts.lock_timing;
        let own = lock.map(Lock::name);
        // 1. Locks, before the snapshots: a backup that commits after this
        // listing had its lock in it.
        let locks = self.locks().await?;
        let others: Vec<&FoundLock> = locks
            .iter()
            .filter(|l| Some(l.id.as_str()) != own)
            .collect();
        if let Some(own) = own {
            let mine = locks.iter().find(|l| l.id == own).map(|l| l.started());
            let first = others.iter().find(|l| {
                l.kind() == LockKind::Prune
                    && l.is_live(now, &t)
                    && mine.is_none_or(|m| (l.started(), l.id.as_str()) < (m, own))
            });
            if let Some(p) = first {
                return Err(RepoError::Locked(match &p.info {
                    Some(i) => format!(
                        "another prune is running (host {}, pid {}, since {}); a dead one's lock goes stale {} min after its last refresh",
                        i.host,
                        i.pid,
                        i.started.to_rfc3339(),
                        t.stale.num_minutes()
                    ),
                    None => format!(
                        "lock locks/{} cannot be read; it goes stale {} min after {}",
                        p.id,
                        t.stale.num_minutes(),
                        p.modified.to_rfc3339()
                    ),
                }));
            }
        }
        let backups: Vec<&FoundLock> = others
            .iter()
            .copied()
            .filter(|l| l.kind() == LockKind::Backup && l.is_live(now, &t))
            .collect();
        let stale: Vec<&FoundLock> = others
            .iter()
            .copied()
            .filter(|l| !l.is_live(now, &t))
            .collect();
        // A running backup that started before `at` (give or take the
        // clocks' skew) may use a pack marked or written at `at`.
        let held_by_backup = |at: DateTime<Utc>| backups.iter().any(|l| l.started() < at + t.skew);
        let quiet = backups.is_empty();

        // 2. Snapshots, then the index: the index files of a listed
        // snapshot were written before it.
        let snaps = self.snapshots_complete("prune").await?;
        let mut index = self.load_index().await?;
        index.require_complete("prune")?;
        let sizes: HashMap<Id, (u64, DateTime<Utc>)> = self
            .list_ids("data")
            .await?
            .into_iter()
            .map(|(id, m)| (id, (m.size, m.last_modified)))
            .collect();

        // Marks of packs already gone (a prune died between deleting them
        // and rewriting the index) are dropped: never read, never revived.
        let gone: Vec<Id> = index
            .marked
            .keys()
            .filter(|p| !sizes.contains_key(*p))
            .copied()
            .collect();
        if !gone.is_empty() {
            index.drop_marks(&gone);
        }
        let used = self.used_blobs(&snaps, &index).await?;
        let mut rep = PruneReport {
            used_blobs: used.len(),
            ..Default::default()
        };
        let mut live: Vec<(Id, Vec<BlobEntry>)> = Vec::new();
        let mut marked: Vec<MarkedPack> = Vec::new();
        // Marked long enough, and no running backup can need them.
        let mut delete: Vec<Id> = Vec::new();
        let mut at_once: Vec<AtOnce> = Vec::new();
        // Blobs already provided by a live pack we keep.
        let mut provided: HashSet<Id> = HashSet::new();
        let mark = |p: Id,
                    blobs: &[BlobEntry],
                    marked: &mut Vec<MarkedPack>,
                    at_once: &mut Vec<AtOnce>| {
            if opts.keep_delete <= Duration::zero() && quiet {
                at_once.push(AtOnce {
                    pack: p,
                    blobs: Some(blobs.to_vec()),
                });
            } else {
                marked.push(MarkedPack {
                    pack: p,
                    marked_at: now.timestamp(),
                    blobs: blobs.to_vec(),
                });
            }
        };

        // Phase two for earlier marks.
        let mut earlier: Vec<&MarkedPack> = index.marked.values().collect();
        earlier.sort_by_key(|m| m.pack);
        for m in earlier {
            let needed = m
                .blobs
                .iter()
                .any(|b| used.contains(&b.id) && !index.blobs.contains_key(&b.id));
            let marked_at = DateTime::from_timestamp(m.marked_at, 0).unwrap_or(now);
            if needed {
                rep.recovered += 1;
                provided.extend(m.blobs.iter().map(|b| b.id));
                live.push((m.pack, m.blobs.clone()));
            } else if now - marked_at < opts.keep_delete {
                marked.push(m.clone());
            } else if held_by_backup(marked_at) {
                rep.held += 1;
                marked.push(m.clone());
            } else if sizes.contains_key(&m.pack) {
                delete.push(m.pack);
            }
            // A marked pack already gone (an earlier prune was interrupted
            // after deleting it) simply drops out of the index.
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
                mark(*p, blobs, &mut marked, &mut at_once);
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
                mark(*p, blobs, &mut marked, &mut at_once);
            } else {
                provided.extend(blobs.iter().map(|b| b.id));
                live.push((*p, blobs.clone()));
            }
        }
        // Packs in no index: failed or killed backups' leftovers, or packs a
        // running backup has not indexed yet.
        let mut orphans: Vec<(&Id, &(u64, DateTime<Utc>))> = sizes
            .iter()
            .filter(|(p, _)| !index.packs.contains_key(*p) && !index.marked.contains_key(*p))
            .collect();
        orphans.sort_by_key(|(p, _)| **p);
        for (p, (size, modified)) in orphans {
            if now - *modified < opts.orphan_min_age || held_by_backup(*modified) {
                continue;
            }
            if quiet && now - *modified >= opts.keep_delete {
                // Marked in the new index before it is deleted, so that a
                // backup starting meanwhile does not adopt it (one that
                // cannot be read cannot be adopted either).
                rep.orphans_deleted += 1;
                at_once.push(AtOnce {
                    pack: *p,
                    blobs: self.read_pack_entries_tail(p, *size).await.ok(),
                });
                continue;
            }
            // An unreadable one is of no use to anybody: it is deleted by a
            // prune that runs while no backup does.
            if let Ok(blobs) = self.read_pack_entries_tail(p, *size).await {
                rep.orphans_marked += 1;
                marked.push(MarkedPack {
                    pack: *p,
                    marked_at: now.timestamp(),
                    blobs,
                });
            }
        }
        rep.deleted = delete.len();
        rep.bytes_freed = delete
            .iter()
            .chain(at_once.iter().map(|a| &a.pack))
            .filter_map(|p| sizes.get(p).map(|s| s.0))
            .sum();
        if opts.dry_run {
            return Ok(rep);
        }
        uploader.upload(&mut repack).await?;
        uploader.finish().await?;
        live.append(&mut uploader.done);
        // New index first, then drop the files it replaces. Packs to delete
        // at once are written as marked too: if this prune dies before it
        // deletes them, they stay readable and the next prune decides again.
        marked.extend(at_once.iter().filter_map(|a| {
            a.blobs.as_ref().map(|b| MarkedPack {
                pack: a.pack,
                marked_at: now.timestamp(),
                blobs: b.clone(),
            })
        }));
        let mut merged = IndexFile {
            packs: live,
            marked,
        };
        let merged_id = self.write_index(&merged).await?;
        for f in &index.files {
            let p = self.path(&["index", &f.to_hex()]);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        // A backup that took its lock since step 1 may have loaded the index
        // files just deleted and use a pack we meant to delete at once: keep
        // those, marked (such a backup copies marked packs at its commit).
        // One that takes its lock after this loads only the new index.
        if !at_once.is_empty() {
            let known: HashSet<&str> = backups.iter().map(|l| l.id.as_str()).collect();
            let after = self.locks().await?;
            let mut newcomer = after.iter().any(|l| {
                Some(l.id.as_str()) != own
                    && l.kind() == LockKind::Backup
                    && l.is_live(Utc::now(), &t)
                    && !known.contains(l.id.as_str())
            });
            // A backup that started and committed within this prune has
            // released its lock, but left its snapshot (written before the
            // release, so listed after the locks): it may need those packs.
            if !newcomer {
                let listed: HashSet<Id> = snaps.iter().map(|(id, _)| *id).collect();
                newcomer = self
                    .list_ids("snapshots")
                    .await?
                    .iter()
                    .any(|(id, _)| !listed.contains(id));
            }
            if newcomer {
                rep.deferred = at_once.len();
                rep.bytes_freed = delete
                    .iter()
                    .filter_map(|p| sizes.get(p).map(|s| s.0))
                    .sum();
                at_once.clear();
            }
        }
        for id in delete.iter().chain(at_once.iter().map(|a| &a.pack)) {
            let p = self.pack_path(id);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        // The packs deleted at once leave the index: the same index without
        // them replaces the one written above (a prune that dies here leaves
        // their marks to the next prune, which drops marks of packs gone).
        let gone: HashSet<Id> = at_once.iter().map(|a| a.pack).collect();
        if merged.marked.iter().any(|m| gone.contains(&m.pack)) {
            merged.marked.retain(|m| !gone.contains(&m.pack));
            self.write_index(&merged).await?;
            let p = self.path(&["index", &merged_id.to_hex()]);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        for l in stale {
            self.remove_lock(&l.id).await?;
            rep.stale_locks_removed += 1;
        }
        Ok(rep)
    }
}

/// Where the repository's pack bytes are: what snapshots can use, what
/// waits for deletion, and what no index lists.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SpaceReport {
    /// Live packs and their bytes.
    pub live_packs: usize,
    /// Bytes of live packs.
    pub live_bytes: u64,
    /// Packs marked for deletion (reclaimed by a prune after `keep_delete`).
    pub marked_packs: usize,
    /// Bytes of marked packs.
    pub marked_bytes: u64,
    /// Packs no index lists: leftovers of failed or killed backups, or
    /// packs of a running backup.
    pub unindexed_packs: usize,
    /// Bytes of unindexed packs.
    pub unindexed_bytes: u64,
    /// Locks of running backups.
    pub running_backups: usize,
    /// Locks of processes taken for dead (removed by the next prune).
    pub stale_locks: usize,
}

impl Repository {
    /// Where the pack bytes are (`kapsel repo stats`).
    pub async fn space(&self, timing: LockTiming) -> Result<SpaceReport> {
        let now = Utc::now();
        let locks = self.locks().await?;
        let index = self.load_index().await?;
        let mut r = SpaceReport::default();
        for l in &locks {
            if !l.is_live(now, &timing) {
                r.stale_locks += 1;
            } else if l.kind() == LockKind::Backup {
                r.running_backups += 1;
            }
        }
        for (id, meta) in self.list_ids("data").await? {
            if index.packs.contains_key(&id) {
                r.live_packs += 1;
                r.live_bytes += meta.size;
            } else if index.marked.contains_key(&id) {
                r.marked_packs += 1;
                r.marked_bytes += meta.size;
            } else {
                r.unindexed_packs += 1;
                r.unindexed_bytes += meta.size;
            }
        }
        Ok(r)
    }
}
