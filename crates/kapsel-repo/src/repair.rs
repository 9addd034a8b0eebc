//! Damage: how a repository with a damaged object keeps serving everything
//! else, and `repair` (docs/format.md §13).
//!
//! - Warnings ([`Repository::warnings`]): readers skip a damaged index file
//!   or snapshot manifest and say so, naming it, instead of failing.
//! - Key files are read with a size cap and checked (structure, KDF bounds)
//!   before any Argon2id work; a damaged one is reported by name.
//! - [`Repository::repair_index`] rebuilds the index from the packs'
//!   headers; [`Repository::repair_snapshots`] moves unreadable manifests
//!   to `snapshots-damaged/` and reports (optionally forgets) snapshots
//!   whose data is lost.
//! - What a snapshot needs ([`Needs`]), so `check` can name the snapshots a
//!   damaged object affects.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;

use crate::error::{RepoError, Result};
use crate::format::{self, BlobEntry, Id, IndexFile, MarkedPack, ObjectKind};
use crate::repo::{Index, KeyFile, Repository, Snapshot, get_bytes};

/// Largest key file a reader accepts (a real one is about 400 bytes).
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// Where `repair snapshots` moves unreadable manifests.
pub const DAMAGED_SNAPSHOTS_DIR: &str = "snapshots-damaged";

/// A callback receiving each warning once.
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Warnings of one open repository (shared by its clones): each distinct
/// message is kept once and passed to the sink, if one is set.
#[derive(Default)]
pub struct Warnings {
    seen: Mutex<Vec<String>>,
    sink: Mutex<Option<WarningSink>>,
}

impl std::fmt::Debug for Warnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Warnings(..)")
    }
}

impl Repository {
    /// Record a warning (once per distinct message).
    pub(crate) fn warn(&self, msg: String) {
        let new = {
            let mut seen = self.warnings.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.contains(&msg) {
                false
            } else {
                seen.push(msg.clone());
                true
            }
        };
        if new {
            let sink = self
                .warnings
                .sink
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(s) = sink {
                s(&msg);
            }
        }
    }

    /// Every warning so far: damaged objects that were skipped (index
    /// files, snapshot manifests, key files), each naming the object and
    /// the command that repairs it.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Pass every later warning to `sink` as it happens (the CLI prints
    /// them to stderr).
    pub fn set_warning_sink(&self, sink: WarningSink) {
        *self.warnings.sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }
}

// ---- key files ---------------------------------------------------------------

/// Read and check one key file: `Ok(None)` when it vanished since the
/// listing, `Err(reason)` when it is damaged (unreadable, over
/// [`MAX_KEY_FILE`], not a key file, KDF parameters out of bounds).
pub(crate) async fn read_key_file(
    store: &dyn ObjectStore,
    meta: &ObjectMeta,
) -> std::result::Result<Option<KeyFile>, String> {
    if meta.size > MAX_KEY_FILE {
        return Err(format!(
            "{} bytes, over the {MAX_KEY_FILE} bytes a key file may have",
            meta.size
        ));
    }
    let raw = match get_bytes(store, &meta.location).await {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(format!("unreadable: {e}")),
    };
    if raw.len() as u64 > MAX_KEY_FILE {
        return Err(format!(
            "{} bytes, over the {MAX_KEY_FILE} bytes a key file may have",
            raw.len()
        ));
    }
    parse_key_file(&raw).map(Some)
}

/// Parse a key file and check its structure and KDF bounds.
pub(crate) fn parse_key_file(raw: &[u8]) -> std::result::Result<KeyFile, String> {
    let kf: KeyFile =
        serde_json::from_slice(raw).map_err(|e| format!("not a valid key file: {e}"))?;
    if kf.version != 1 {
        return Err(format!(
            "key file version {} (this Kapsel reads 1)",
            kf.version
        ));
    }
    match B64.decode(&kf.salt) {
        Ok(s) if s.len() >= 8 => {}
        _ => return Err("salt is not base64 of at least 8 bytes".into()),
    }
    match B64.decode(&kf.wrapped) {
        Ok(w) if w.len() == 12 + 32 + 16 => {}
        _ => return Err("wrapped key is not base64 of 60 bytes".into()),
    }
    kf.kdf.check_bounds()?;
    Ok(kf)
}

/// One key file as `check` found it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCheck {
    /// `keys/<id>`.
    pub key: String,
    /// Whether this session opened the repository with it.
    pub current: bool,
    /// What is wrong, if anything.
    pub problem: Option<String>,
}

impl Repository {
    /// Check every key file: readable, within the size cap, well formed,
    /// KDF parameters within bounds; the key in use must still be there
    /// (it unwrapped when the repository was opened; others cannot be
    /// unwrapped without their passwords).
    pub async fn check_keys(&self) -> Result<Vec<KeyCheck>> {
        let metas = crate::repo::list_names(self.store.as_ref(), &self.path(&["keys"])).await?;
        let mut out = Vec::new();
        let mut saw_current = false;
        for meta in metas {
            let Some(name) = meta.location.filename().map(str::to_string) else {
                continue;
            };
            let current = name == self.key_id();
            let problem = match read_key_file(self.store.as_ref(), &meta).await {
                Ok(Some(_)) => None,
                Ok(None) => continue,
                Err(reason) => Some(reason),
            };
            saw_current |= current;
            out.push(KeyCheck {
                key: format!("keys/{name}"),
                current,
                problem,
            });
        }
        if !saw_current {
            out.push(KeyCheck {
                key: format!("keys/{}", self.key_id()),
                current: true,
                problem: Some("the key this session opened the repository with is gone".into()),
            });
        }
        Ok(out)
    }
}

// ---- packs -------------------------------------------------------------------

/// The error for a blob that lies beyond its pack's end.
pub(crate) fn truncated(pack: &Path, e: &BlobEntry, size: u64) -> RepoError {
    RepoError::corrupt(
        pack.to_string(),
        format!(
            "pack is truncated ({size} bytes; blob {} needs bytes {}..{})",
            e.id,
            e.offset,
            u64::from(e.offset) + u64::from(e.length)
        ),
    )
}

impl Repository {
    /// Turn a failed ranged read into an error that says what is wrong: a
    /// pack shorter than the blob's range is truncated (object_store only
    /// says "Requested range was invalid").
    pub(crate) async fn range_error(
        &self,
        pack: &Path,
        e: &BlobEntry,
        err: object_store::Error,
    ) -> RepoError {
        if matches!(err, object_store::Error::NotFound { .. }) {
            return RepoError::store(pack, err);
        }
        match self.store.head(pack).await {
            Ok(m) if m.size < u64::from(e.offset) + u64::from(e.length) => {
                truncated(pack, e, m.size)
            }
            _ => RepoError::store(pack, err),
        }
    }

    /// Read a pack's header from its tail (two ranged reads, not the whole
    /// pack) and check that its entries tile the blob area.
    pub async fn read_pack_tail_header(&self, pack: &Id, size: u64) -> Result<Vec<BlobEntry>> {
        let p = self.pack_path(pack);
        let min = (format::PACK_PREFIX_LEN + 4) as u64;
        if size < min {
            return Err(RepoError::corrupt(
                p.to_string(),
                format!("pack is truncated ({size} bytes)"),
            ));
        }
        let get = |r: std::ops::Range<u64>| {
            let p = p.clone();
            async move {
                let b = self
                    .store
                    .get_range(&p, r.clone())
                    .await
                    .map_err(|e| RepoError::store(&p, e))?;
                if b.len() as u64 != r.end - r.start {
                    return Err(RepoError::corrupt(p.to_string(), "pack is truncated"));
                }
                Ok(b)
            }
        };
        let prefix = get(0..format::PACK_PREFIX_LEN as u64).await?;
        if &prefix[..4] != format::PACK_MAGIC {
            return Err(RepoError::Foreign {
                object: p.to_string(),
            });
        }
        if prefix[4] != format::FORMAT_VERSION {
            return Err(format::DecodeError::Version(prefix[4]).into_repo(p.as_ref()));
        }
        let tail = get(size - 4..size).await?;
        let hlen = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        let body_end = size
            .checked_sub(4 + hlen)
            .filter(|e| *e >= format::PACK_PREFIX_LEN as u64)
            .ok_or_else(|| {
                RepoError::corrupt(
                    p.to_string(),
                    "pack header length out of range (truncated pack?)",
                )
            })?;
        let header = get(body_end..size - 4).await?;
        let entries = format::open_object(self.key.data_key(), ObjectKind::PackHeader, &header)
            .and_then(|b| format::decode_pack_header(&b))
            .map_err(|e| e.into_repo(p.as_ref()))?;
        let mut pos = format::PACK_PREFIX_LEN as u64;
        for e in &entries {
            if u64::from(e.offset) != pos {
                return Err(RepoError::corrupt(
                    p.to_string(),
                    "pack blobs are not contiguous",
                ));
            }
            pos += u64::from(e.length);
        }
        if pos != body_end {
            return Err(RepoError::corrupt(
                p.to_string(),
                "pack header does not account for the blob area",
            ));
        }
        Ok(entries)
    }
}

// ---- damaged index files and manifests -------------------------------------

impl Index {
    /// Refuse `action` when some index file was skipped as damaged: blobs
    /// only it listed would look unused, and their packs like orphans.
    pub fn require_complete(&self, action: &str) -> Result<()> {
        if self.damaged.is_empty() {
            return Ok(());
        }
        Err(RepoError::DamagedIndex {
            action: action.to_string(),
            files: self
                .damaged
                .iter()
                .map(|(id, e)| format!("index/{id}: {e}"))
                .collect(),
        })
    }
}

/// Every snapshot, and the manifests that could not be read.
#[derive(Debug, Clone, Default)]
pub struct SnapshotList {
    /// Readable snapshots, oldest first.
    pub snapshots: Vec<(Id, Snapshot)>,
    /// Damaged manifests (id, what is wrong).
    pub damaged: Vec<(Id, String)>,
}

impl Repository {
    /// Read every manifest; damaged ones are listed, not fatal.
    pub(crate) async fn read_all_snapshots(&self) -> Result<SnapshotList> {
        let ids = self.list_ids("snapshots").await?;
        let snaps =
            futures::future::join_all(ids.iter().map(|(id, _)| self.read_snapshot(id))).await;
        let mut out = SnapshotList::default();
        for ((id, _), r) in ids.into_iter().zip(snaps) {
            match r {
                Ok(s) => out.snapshots.push((id, s)),
                // Forgotten between the listing and its reading.
                Err(e) if e.is_not_found() => {}
                Err(e) if e.is_damage() => out.damaged.push((id, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        out.snapshots
            .sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Every readable snapshot (oldest first) and every damaged manifest;
    /// each damaged one is also a warning naming it.
    pub async fn snapshots_report(&self) -> Result<SnapshotList> {
        let l = self.read_all_snapshots().await?;
        for (id, e) in &l.damaged {
            self.warn(format!(
                "skipping damaged snapshot manifest snapshots/{id} ({e}); run `kapsel repo repair snapshots`"
            ));
        }
        Ok(l)
    }

    /// Every snapshot, refusing `action` when a manifest is damaged (what
    /// that snapshot needs is unknown).
    pub async fn snapshots_complete(&self, action: &str) -> Result<Vec<(Id, Snapshot)>> {
        let l = self.read_all_snapshots().await?;
        if !l.damaged.is_empty() {
            return Err(RepoError::DamagedSnapshots {
                action: action.to_string(),
                files: l
                    .damaged
                    .iter()
                    .map(|(id, e)| format!("snapshots/{id}: {e}"))
                    .collect(),
            });
        }
        Ok(l.snapshots)
    }
}

// ---- what snapshots need ---------------------------------------------------------

/// What the snapshots need: each meta blob with the snapshots listing it,
/// each data blob with the meta blobs listing it.
#[derive(Debug, Default)]
pub struct Needs {
    /// Meta blob → snapshots (indexes into the list given) that list it.
    pub metas: HashMap<Id, Vec<usize>>,
    /// Meta blob → the number of ids in it (absent when unreadable).
    pub meta_len: HashMap<Id, u64>,
    /// Data blob → meta blobs listing it.
    pub data: HashMap<Id, Vec<Id>>,
    /// Per snapshot (index), what is missing or unreadable.
    pub problems: HashMap<usize, Vec<String>>,
}

impl Needs {
    /// The snapshots (indexes) that need blob `b`.
    pub fn snapshots_of(&self, b: &Id) -> BTreeSet<usize> {
        let mut s: BTreeSet<usize> = BTreeSet::new();
        if let Some(v) = self.metas.get(b) {
            s.extend(v);
        }
        for m in self.data.get(b).into_iter().flatten() {
            s.extend(self.metas.get(m).into_iter().flatten());
        }
        s
    }
}

impl Repository {
    /// Read every meta blob the snapshots list (once each) and record
    /// what needs what, and each snapshot's missing or unreadable blobs.
    pub async fn snapshot_needs(&self, index: &Index, snaps: &[(Id, Snapshot)]) -> Needs {
        let mut n = Needs::default();
        for (i, (_, snap)) in snaps.iter().enumerate() {
            for (chunks, content) in snap.source.streams() {
                let mut total = Some(0u64);
                for h in content {
                    let Some(mid) = Id::from_hex(h) else {
                        n.problems
                            .entry(i)
                            .or_default()
                            .push(format!("malformed meta blob id {h:?}"));
                        total = None;
                        continue;
                    };
                    let first = !n.metas.contains_key(&mid);
                    n.metas.entry(mid).or_default().push(i);
                    if first {
                        match index.locate(&mid) {
                            None => {}
                            Some(loc) => match self.read_blob(loc).await.and_then(|b| {
                                format::decode_id_list(&b)
                                    .map_err(|e| e.into_repo(&format!("meta blob {mid}")))
                            }) {
                                Ok(ids) => {
                                    n.meta_len.insert(mid, ids.len() as u64);
                                    for id in ids {
                                        n.data.entry(id).or_default().push(mid);
                                    }
                                }
                                Err(e) => {
                                    n.problems
                                        .entry(i)
                                        .or_default()
                                        .push(format!("meta blob {mid} is unreadable: {e}"));
                                }
                            },
                        }
                    } else if !n.meta_len.contains_key(&mid) && index.locate(&mid).is_some() {
                        n.problems
                            .entry(i)
                            .or_default()
                            .push(format!("meta blob {mid} is unreadable"));
                    }
                    if index.locate(&mid).is_none() {
                        n.problems
                            .entry(i)
                            .or_default()
                            .push(format!("meta blob {mid} is in no index"));
                    }
                    total = match (total, n.meta_len.get(&mid)) {
                        (Some(t), Some(l)) => Some(t + l),
                        _ => None,
                    };
                }
                if let Some(t) = total
                    && t != chunks
                {
                    n.problems
                        .entry(i)
                        .or_default()
                        .push(format!("lists {t} chunks, its manifest says {chunks}"));
                }
            }
        }
        // Data blobs in no index, per snapshot (counted, first one named).
        let mut missing: HashMap<usize, (usize, Id)> = HashMap::new();
        for b in n.data.keys() {
            if index.locate(b).is_some() {
                continue;
            }
            for s in n.snapshots_of(b) {
                let e = missing.entry(s).or_insert((0, *b));
                e.0 += 1;
                e.1 = e.1.min(*b);
            }
        }
        for (s, (count, first)) in missing {
            n.problems.entry(s).or_default().push(format!(
                "{count} data blob(s) are in no index (e.g. {first})"
            ));
        }
        n
    }
}

/// `snapshot <id> (paths a, b)`.
pub(crate) fn describe(id: &Id, s: &Snapshot) -> String {
    format!("snapshot {id} ({})", s.paths.join(", "))
}

// ---- repair index --------------------------------------------------------------

/// Options for [`Repository::repair_index`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RepairIndexOptions {
    /// Report what would be done, change nothing.
    pub dry_run: bool,
}

/// What [`Repository::repair_index`] found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairIndexReport {
    /// Packs listed in the new index as live.
    pub packs: usize,
    /// Blobs in those packs.
    pub blobs: usize,
    /// Packs kept as marked (marked in a readable old index file, still
    /// present and readable).
    pub marked: usize,
    /// Packs whose header could not be read (pack, what is wrong): not
    /// indexed, left in place.
    pub unreadable_packs: Vec<(String, String)>,
    /// Old index files that were damaged (file, what is wrong).
    pub damaged_index_files: Vec<(String, String)>,
    /// Old index files replaced (deleted unless dry run).
    pub replaced_index_files: Vec<String>,
    /// The new index file (none on a dry run).
    pub new_index_file: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Repository {
    /// Rebuild the index from the packs' own headers: every pack whose
    /// header reads and authenticates is listed (live, or marked when a
    /// readable old index file marked it), in one new index file; then the
    /// index files listed before are deleted. Unreadable packs are
    /// reported and left alone. Packs marked only in a damaged index file
    /// come back as live; a later prune marks them again if unused.
    /// Pack names are not verified against content (that is `check
    /// --read-data`). Do not run it beside a prune.
    pub async fn repair_index(&self, opts: RepairIndexOptions) -> Result<RepairIndexReport> {
        let mut rep = RepairIndexReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        // Index files first, packs second: a pack written after the pack
        // listing by a running backup is indexed by that backup in a file
        // written after this listing, which is kept.
        let old = self.read_index_files().await?;
        let mut marked_before: HashMap<Id, i64> = HashMap::new();
        for (id, f) in &old {
            rep.replaced_index_files.push(format!("index/{id}"));
            match f {
                Ok(f) => {
                    for m in &f.marked {
                        marked_before.entry(m.pack).or_insert(m.marked_at);
                    }
                }
                Err(e) => rep
                    .damaged_index_files
                    .push((format!("index/{id}"), e.to_string())),
            }
        }
        let packs = self.list_ids("data").await?;
        let mut results = futures::stream::iter(packs.into_iter().map(|(id, meta)| async move {
            let r = self.read_pack_tail_header(&id, meta.size).await;
            (id, meta, r)
        }))
        .buffer_unordered(8);
        let mut ix = IndexFile::default();
        use futures::StreamExt as _;
        while let Some((id, meta, r)) = results.next().await {
            if meta.location != self.pack_path(&id) {
                rep.unreadable_packs.push((
                    meta.location.to_string(),
                    format!(
                        "stored under the wrong name (expected {})",
                        self.pack_path(&id)
                    ),
                ));
                continue;
            }
            match r {
                Ok(entries) => {
                    if let Some(at) = marked_before.get(&id) {
                        rep.marked += 1;
                        ix.marked.push(MarkedPack {
                            pack: id,
                            marked_at: *at,
                            blobs: entries,
                        });
                    } else {
                        rep.packs += 1;
                        rep.blobs += entries.len();
                        ix.packs.push((id, entries));
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => rep
                    .unreadable_packs
                    .push((meta.location.to_string(), e.to_string())),
            }
        }
        drop(results);
        ix.packs.sort_by_key(|(p, _)| *p);
        ix.marked.sort_by_key(|m| m.pack);
        rep.unreadable_packs.sort();
        if opts.dry_run {
            return Ok(rep);
        }
        let new = self.write_index(&ix).await?;
        rep.new_index_file = Some(format!("index/{new}"));
        for (id, _) in &old {
            if *id == new {
                continue;
            }
            let p = self.path(&["index", &id.to_hex()]);
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(RepoError::store(&p, e)),
            }
        }
        rep.replaced_index_files
            .retain(|f| *f != format!("index/{new}"));
        Ok(rep)
    }
}

// ---- repair snapshots ------------------------------------------------------------

/// Options for [`Repository::repair_snapshots`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RepairSnapshotsOptions {
    /// Report what would be done, change nothing.
    pub dry_run: bool,
    /// Also forget (delete the manifests of) snapshots whose data is lost.
    pub forget_partial: bool,
}

/// A snapshot some of whose blobs are lost.
#[derive(Debug, Clone, Serialize)]
pub struct PartialSnapshot {
    /// Snapshot id.
    pub id: String,
    /// Its paths.
    pub paths: Vec<String>,
    /// What is missing or unreadable.
    pub problems: Vec<String>,
}

/// What [`Repository::repair_snapshots`] found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairSnapshotsReport {
    /// Readable snapshots.
    pub snapshots: usize,
    /// Damaged manifests (`snapshots/<id>`, what is wrong), moved to
    /// `snapshots-damaged/<id>` unless a dry run.
    pub damaged: Vec<(String, String)>,
    /// Where damaged manifests were moved to.
    pub moved_to: Vec<String>,
    /// Snapshots whose data is partly lost.
    pub partial: Vec<PartialSnapshot>,
    /// Partial snapshots forgotten (`--forget-partial`).
    pub forgotten: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Repository {
    /// Move every unreadable snapshot manifest to `snapshots-damaged/<id>`
    /// (copy, then delete from `snapshots/`), and report the snapshots
    /// whose blobs are in no index, in a missing pack, or unreadable
    /// (forgotten only with `forget_partial`, which is refused while an
    /// index file is damaged: `repair index` may bring their blobs back).
    pub async fn repair_snapshots(
        &self,
        opts: RepairSnapshotsOptions,
    ) -> Result<RepairSnapshotsReport> {
        let mut rep = RepairSnapshotsReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        let list = self.read_all_snapshots().await?;
        rep.snapshots = list.snapshots.len();
        for (id, e) in &list.damaged {
            rep.damaged.push((format!("snapshots/{id}"), e.clone()));
            if opts.dry_run {
                continue;
            }
            let from = self.path(&["snapshots", &id.to_hex()]);
            let to = self.path(&[DAMAGED_SNAPSHOTS_DIR, &id.to_hex()]);
            let bytes = match get_bytes(self.store.as_ref(), &from).await {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            self.store
                .put_opts(
                    &to,
                    PutPayload::from(bytes),
                    PutOptions::from(PutMode::Overwrite),
                )
                .await
                .map_err(|e| RepoError::store(&to, e))?;
            self.delete_snapshots(&[*id]).await?;
            rep.moved_to.push(format!("{DAMAGED_SNAPSHOTS_DIR}/{id}"));
        }
        let index = self.load_index().await?;
        if opts.forget_partial {
            index.require_complete("forget partial snapshots")?;
        }
        let present = self.pack_ids().await?;
        let needs = self.snapshot_needs(&index, &list.snapshots).await;
        let mut problems = needs.problems.clone();
        // Blobs whose pack is missing.
        let mut gone: HashMap<usize, (usize, Id)> = HashMap::new();
        for b in needs.metas.keys().chain(needs.data.keys()) {
            if let Some(loc) = index.locate(b)
                && !present.contains(&loc.pack)
            {
                for s in needs.snapshots_of(b) {
                    let e = gone.entry(s).or_insert((0, loc.pack));
                    e.0 += 1;
                }
            }
        }
        for (s, (count, pack)) in gone {
            problems.entry(s).or_default().push(format!(
                "{count} blob(s) are in missing packs (e.g. {})",
                self.pack_path(&pack)
            ));
        }
        let mut partial: Vec<usize> = problems.keys().copied().collect();
        partial.sort();
        for i in partial {
            let (id, s) = &list.snapshots[i];
            let mut p = problems.remove(&i).unwrap_or_default();
            p.sort();
            if !index.damaged.is_empty() {
                p.push(format!(
                    "{} index file(s) are damaged: run `kapsel repo repair index` first, it may bring these blobs back",
                    index.damaged.len()
                ));
            }
            rep.partial.push(PartialSnapshot {
                id: id.to_hex(),
                paths: s.paths.clone(),
                problems: p,
            });
        }
        if opts.forget_partial && !opts.dry_run {
            let ids: Vec<Id> = rep
                .partial
                .iter()
                .filter_map(|p| Id::from_hex(&p.id))
                .collect();
            self.delete_snapshots(&ids).await?;
            rep.forgotten = rep.partial.iter().map(|p| p.id.clone()).collect();
        } else if opts.forget_partial {
            rep.forgotten = rep.partial.iter().map(|p| p.id.clone()).collect();
        }
        Ok(rep)
    }
}
