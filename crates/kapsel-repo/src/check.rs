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
    /// Read only a subset of the packs (implies reading data).
    pub read_data_subset: Option<Subset>,
}

/// Which packs `check` reads when not all of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subset {
    /// Group `n` of `m` (1-based), by pack id: running 1/m .. m/m reads every
    /// pack exactly once, e.g. one group a day.
    Group {
        /// Which group (1..=m).
        n: u32,
        /// How many groups.
        m: u32,
    },
    /// A random share of the packs, in percent (0 < p <= 100); at least one
    /// pack when there is any.
    Percent(f64),
}

impl Subset {
    /// Parses `N/M` or `P%`.
    pub fn parse(s: &str) -> std::result::Result<Subset, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a percentage such as 10%"))?;
            if !(v > 0.0 && v <= 100.0) {
                return Err(format!(
                    "{s:?}: the percentage must be above 0 and at most 100"
                ));
            }
            return Ok(Subset::Percent(v));
        }
        if let Some((n, m)) = t.split_once('/') {
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("{s:?}: N in N/M must be a number"))?;
            let m: u32 = m
                .trim()
                .parse()
                .map_err(|_| format!("{s:?}: M in N/M must be a number"))?;
            if m == 0 || n == 0 || n > m {
                return Err(format!("{s:?}: need 1 <= N <= M"));
            }
            return Ok(Subset::Group { n, m });
        }
        Err(format!(
            "{s:?}: expected N/M (e.g. 2/7) or a percentage (e.g. 10%)"
        ))
    }

    /// Picks the packs to read.
    fn select<T>(self, mut packs: Vec<(Id, T)>) -> Vec<(Id, T)> {
        match self {
            Subset::Group { n, m } => packs
                .into_iter()
                .filter(|(p, _)| {
                    let b = &p.0;
                    let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    v % m == n - 1
                })
                .collect(),
            Subset::Percent(pct) => {
                use rand::seq::SliceRandom;
                let want = ((packs.len() as f64) * pct / 100.0).ceil() as usize;
                packs.shuffle(&mut rand::rng());
                packs.truncate(want.min(packs.len()));
                packs
            }
        }
    }
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
    /// Packs read and verified.
    pub read_packs: usize,
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
        let mut good = Vec::new();
        for (id, f) in self.read_index_files().await? {
            match f {
                Ok(f) => good.push((id, f)),
                Err(e) => rep.errors.push(format!("index/{id}: {e}")),
            }
        }
        let index = Index::from_files(good);
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
            let snap = match self.read_snapshot(&sid).await {
                Ok(s) => s,
                // Forgotten since the listing.
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    rep.snapshots += 1;
                    rep.errors.push(format!("snapshots/{sid}: {e}"));
                    continue;
                }
            };
            rep.snapshots += 1;
            for (chunks, content) in snap.source.streams() {
                let mut n = 0u64;
                for h in content {
                    let Some(mid) = Id::from_hex(h) else {
                        rep.errors
                            .push(format!("snapshot {sid}: malformed meta id {h:?}"));
                        continue;
                    };
                    let Some(loc) = index.locate(&mid) else {
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
                        if index.locate(&id).is_none() {
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
        if opts.read_data || opts.read_data_subset.is_some() {
            let mut packs: Vec<(Id, Vec<format::BlobEntry>)> = index
                .packs
                .iter()
                .filter(|(p, _)| present.contains_key(*p))
                .map(|(p, b)| (*p, b.clone()))
                .collect();
            if let (false, Some(sub)) = (opts.read_data, opts.read_data_subset) {
                packs = sub.select(packs);
            }
            rep.read_packs = packs.len();
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
