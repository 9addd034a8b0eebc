//! `check`: structure and index; `check --read-data`: every blob.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use serde::Serialize;

use crate::error::Result;
use crate::format::{self, Id};
use crate::repo::{Index, Repository, get_bytes, open_blob};

/// Options for [`Repository::check`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Download every pack, verify its name, header and every blob.
    pub read_data: bool,
}

/// What `check` found. Errors mean damage; warnings are harmless leftovers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Problems that lose or could lose data.
    pub errors: Vec<String>,
    /// Leftovers such as packs of interrupted backups.
    pub warnings: Vec<String>,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Live packs.
    pub packs: usize,
    /// Live blobs.
    pub blobs: usize,
    /// Bytes read by `--read-data`.
    pub read_bytes: u64,
}

impl CheckReport {
    /// No errors.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

impl Repository {
    /// Check the repository.
    pub async fn check(&self, opts: CheckOptions) -> Result<CheckReport> {
        let mut rep = CheckReport::default();
        // Index files, each on its own so one bad file does not hide the rest.
        let mut index = Index::default();
        for (id, _) in self.list_ids("index").await? {
            match self.read_index_file(&id).await {
                Ok(f) => index.add_file(id, f),
                Err(e) => rep.errors.push(format!("index/{id}: {e}")),
            }
        }
        rep.packs = index.packs.len();
        rep.blobs = index.blobs.len();
        // Packs present.
        let mut present: HashMap<Id, u64> = HashMap::new();
        for (id, meta) in self.list_ids("data").await? {
            let h = id.to_hex();
            let expect = self.pack_path(&id);
            if meta.location != expect {
                rep.errors.push(format!(
                    "pack {} is stored under the wrong name {}",
                    h, meta.location
                ));
            }
            present.insert(id, meta.size);
        }
        for (p, blobs) in &index.packs {
            match present.get(p) {
                None => rep.errors.push(format!(
                    "pack {} is in the index but missing from storage",
                    self.pack_path(p)
                )),
                Some(size) => {
                    let end = blobs
                        .iter()
                        .map(|b| b.offset as u64 + b.length as u64)
                        .max()
                        .unwrap_or(0);
                    if end > *size {
                        rep.errors.push(format!(
                            "pack {} is shorter ({size} B) than its index says ({end} B)",
                            self.pack_path(p)
                        ));
                    }
                }
            }
        }
        for p in present.keys() {
            if !index.packs.contains_key(p) && !index.marked.contains_key(p) {
                rep.warnings.push(format!(
                    "pack {} is in no index (left by an interrupted backup or prune)",
                    self.pack_path(p)
                ));
            }
        }
        // Snapshots and every blob they need.
        let mut checked_meta: HashSet<Id> = HashSet::new();
        for (sid, meta) in self.list_ids("snapshots").await? {
            let _ = meta;
            rep.snapshots += 1;
            let snap = match self.read_snapshot(&sid).await {
                Ok(s) => s,
                Err(e) => {
                    rep.errors.push(format!("snapshots/{sid}: {e}"));
                    continue;
                }
            };
            for (chunks, content) in snap.source.streams() {
                let mut n = 0u64;
                for h in content {
                    let Some(mid) = Id::from_hex(h) else {
                        rep.errors
                            .push(format!("snapshot {sid}: malformed meta id {h:?}"));
                        continue;
                    };
                    let Some(loc) = index.blobs.get(&mid) else {
                        rep.errors.push(format!(
                            "snapshot {sid}: meta blob {mid} is not in the index"
                        ));
                        continue;
                    };
                    let ids = match self.read_blob(loc).await {
                        Ok(b) => match format::decode_id_list(&b) {
                            Ok(ids) => ids,
                            Err(e) => {
                                rep.errors
                                    .push(format!("snapshot {sid}: meta blob {mid}: {e:?}"));
                                continue;
                            }
                        },
                        Err(e) => {
                            rep.errors.push(format!("snapshot {sid}: {e}"));
                            continue;
                        }
                    };
                    n += ids.len() as u64;
                    if !checked_meta.insert(mid) {
                        continue;
                    }
                    for id in ids {
                        if !index.blobs.contains_key(&id) {
                            rep.errors.push(format!(
                                "snapshot {sid}: data blob {id} is not in the index"
                            ));
                        }
                    }
                }
                if n != chunks {
                    rep.errors.push(format!(
                        "snapshot {sid}: lists {n} chunks, its manifest says {chunks}"
                    ));
                }
            }
        }
        if opts.read_data {
            let packs: Vec<(Id, Vec<format::BlobEntry>)> = index
                .packs
                .iter()
                .filter(|(p, _)| present.contains_key(*p))
                .map(|(p, b)| (*p, b.clone()))
                .collect();
            let mut results = futures::stream::iter(packs)
                .map(|(p, entries)| self.verify_pack(p, entries))
                .buffer_unordered(2);
            while let Some((n, errs)) = results.next().await {
                rep.read_bytes += n;
                rep.errors.extend(errs);
            }
        }
        Ok(rep)
    }

    /// Download one pack and verify it completely against `entries`.
    async fn verify_pack(&self, p: Id, entries: Vec<format::BlobEntry>) -> (u64, Vec<String>) {
        let path = self.pack_path(&p);
        let bytes = match get_bytes(self.store.as_ref(), &path).await {
            Ok(b) => b,
            Err(e) => return (0, vec![format!("{path}: {e}")]),
        };
        let key = self.key.clone();
        let n = bytes.len() as u64;
        let r = tokio::task::spawn_blocking(move || {
            let mut errs = Vec::new();
            if Id::of_stored(&bytes) != p {
                errs.push(format!("pack {path}: content does not match its name"));
            }
            let header = match format::parse_pack(key.data_key(), &bytes) {
                Ok(h) => h,
                Err(e) => {
                    errs.push(format!("pack {path}: {}", e.into_repo(path.as_ref())));
                    return errs;
                }
            };
            let hset: HashSet<_> = header.iter().copied().collect();
            for e in &entries {
                if !hset.contains(e) {
                    errs.push(format!(
                        "pack {path}: index entry for blob {} is not in the pack header",
                        e.id
                    ));
                }
            }
            for e in &header {
                let s = &bytes[e.offset as usize..(e.offset + e.length) as usize];
                if let Err(m) = open_blob(&key, e, s) {
                    errs.push(format!("pack {path}: {m}"));
                }
            }
            errs
        })
        .await;
        match r {
            Ok(errs) => (n, errs),
            Err(e) => (n, vec![format!("pack {p}: verification task failed: {e}")]),
        }
    }
}
