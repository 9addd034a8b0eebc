//! `check`: structure and index; `check --read-data`: every blob.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// Every key file and what is wrong with it, if anything.
    pub keys: Vec<crate::repair::KeyCheck>,
    /// Snapshots that a damaged or missing object affects.
    pub affected_snapshots: Vec<AffectedSnapshot>,
}

/// A snapshot some damage affects: restoring it would fail.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AffectedSnapshot {
    /// Snapshot id.
    pub id: String,
    /// Its paths (empty when its manifest itself is damaged).
    pub paths: Vec<String>,
    /// The damaged or missing objects it needs.
    pub problems: Vec<String>,
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
        // Key files: structure and KDF bounds of each.
        let mut rep = CheckReport {
            keys: self.check_keys().await?,
            ..CheckReport::default()
        };
        for k in &rep.keys {
            if let Some(p) = &k.problem {
                rep.errors.push(format!("key file {}: {p}", k.key));
            }
        }
        // Index files, each on its own so one bad file does not hide the rest.
        let mut good = Vec::new();
        let mut damaged_index = Vec::new();
        for (id, f) in self.read_index_files().await? {
            match f {
                Ok(f) => good.push((id, f)),
                Err(e) => {
                    rep.errors.push(format!(
                        "index/{id}: {e}; run `kapsel repo repair index` to rebuild the index from the packs"
                    ));
                    damaged_index.push(id);
                }
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
        // Damaged packs, with what is wrong.
        let mut bad_packs: Vec<(Id, String)> = Vec::new();
        for (p, blobs) in &index.packs {
            match present.get(p) {
                None => bad_packs.push((
                    *p,
                    format!(
                        "pack {} is in the index but missing from storage",
                        self.pack_path(p)
                    ),
                )),
                Some(size) => {
                    let end = blobs
                        .iter()
                        .map(|b| b.offset as u64 + b.length as u64)
                        .max()
                        .unwrap_or(0);
                    if end > *size {
                        bad_packs.push((
                            *p,
                            format!(
                                "pack {} is truncated: shorter ({size} B) than its index says ({end} B)",
                                self.pack_path(p)
                            ),
                        ));
                    }
                }
            }
        }
        for p in present.keys() {
            if !index.packs.contains_key(p) && !index.marked.contains_key(p) {
                let msg = format!(
                    "pack {} is in no index (left by an interrupted backup or prune)",
                    self.pack_path(p)
                );
                if damaged_index.is_empty() {
                    rep.warnings.push(msg);
                } else {
                    rep.warnings.push(format!(
                        "{msg}, or listed by a damaged index file: `kapsel repo repair index` lists it again"
                    ));
                }
            }
        }
        // Snapshots and every blob they need.
        let list = self.read_all_snapshots().await?;
        rep.snapshots = list.snapshots.len() + list.damaged.len();
        let mut affected: BTreeMap<usize, AffectedSnapshot> = BTreeMap::new();
        for (sid, e) in &list.damaged {
            rep.errors.push(format!(
                "snapshots/{sid}: {e}; run `kapsel repo repair snapshots` to move it aside"
            ));
            rep.affected_snapshots.push(AffectedSnapshot {
                id: sid.to_hex(),
                paths: Vec::new(),
                problems: vec![format!("its manifest snapshots/{sid} is damaged")],
            });
        }
        let needs = self.snapshot_needs(&index, &list.snapshots).await;
        let mut problems: Vec<_> = needs.problems.iter().collect();
        problems.sort_by_key(|(i, _)| **i);
        for (i, ps) in problems {
            let (sid, snap) = &list.snapshots[*i];
            let hint = if damaged_index.is_empty() {
                ""
            } else {
                " (an index file is damaged: `kapsel repo repair index` may bring them back)"
            };
            for p in ps {
                rep.errors
                    .push(format!("{}: {p}{hint}", crate::repair::describe(sid, snap)));
            }
            affected
                .entry(*i)
                .or_default()
                .problems
                .extend(ps.iter().cloned());
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
                .map(|(p, entries)| async move { (p, self.verify_pack(p, entries).await) })
                .buffer_unordered(2);
            while let Some((p, (n, errs))) = results.next().await {
                rep.read_bytes += n;
                if let Some(first) = errs.first() {
                    bad_packs.push((p, first.clone()));
                }
                rep.errors.extend(errs.into_iter().skip(1));
            }
        }
        // Each damaged pack, with the snapshots that need its blobs.
        bad_packs.sort();
        for (p, msg) in bad_packs {
            let mut snaps: BTreeSet<usize> = BTreeSet::new();
            for b in index.packs.get(&p).into_iter().flatten() {
                snaps.extend(needs.snapshots_of(&b.id));
            }
            if snaps.is_empty() {
                rep.errors
                    .push(format!("{msg}; no snapshot needs its blobs"));
                continue;
            }
            let names: Vec<String> = snaps
                .iter()
                .map(|i| {
                    let (sid, snap) = &list.snapshots[*i];
                    crate::repair::describe(sid, snap)
                })
                .collect();
            rep.errors
                .push(format!("{msg}; affects {}", names.join(", ")));
            for i in snaps {
                affected
                    .entry(i)
                    .or_default()
                    .problems
                    .push(format!("pack {} is damaged", self.pack_path(&p)));
            }
        }
        for (i, mut a) in affected {
            let (sid, snap) = &list.snapshots[i];
            a.id = sid.to_hex();
            a.paths = snap.paths.clone();
            rep.affected_snapshots.push(a);
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
