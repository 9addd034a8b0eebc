//! `forget`: retention policies over snapshots.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::Serialize;

use crate::error::{RepoError, Result};
use crate::format::Id;
use crate::repo::{Repository, Snapshot};

/// Which snapshots to keep. Snapshots are grouped by their paths, and each
/// group is judged on its own, newest first; a snapshot is kept if any rule
/// keeps it. Bucketed rules keep the newest snapshot of each of the last N
/// hours/days/weeks/months/years that have snapshots (restic's semantics).
#[derive(Debug, Clone, Default)]
pub struct KeepPolicy {
    /// The N newest.
    pub last: Option<u32>,
    /// One per hour, N hours.
    pub hourly: Option<u32>,
    /// One per day.
    pub daily: Option<u32>,
    /// One per ISO week.
    pub weekly: Option<u32>,
    /// One per month.
    pub monthly: Option<u32>,
    /// One per year.
    pub yearly: Option<u32>,
    /// Everything younger than this, relative to the group's newest snapshot.
    pub within: Option<Duration>,
    /// Everything carrying any of these tags.
    pub tags: Vec<String>,
    /// Apply the policy even when it keeps nothing (see [`Self::is_empty`]):
    /// the explicit way to remove every snapshot.
    pub allow_empty: bool,
}

impl KeepPolicy {
    /// True if no rule can keep anything: every count is absent or zero,
    /// `within` is absent or not positive, and no tag is given. `forget`
    /// refuses such a policy (it would delete every snapshot) unless
    /// [`Self::allow_empty`] is set.
    pub fn is_empty(&self) -> bool {
        let zero = |n: Option<u32>| n.unwrap_or(0) == 0;
        zero(self.last)
            && zero(self.hourly)
            && zero(self.daily)
            && zero(self.weekly)
            && zero(self.monthly)
            && zero(self.yearly)
            && self.within.is_none_or(|w| w <= Duration::zero())
            && self.tags.is_empty()
    }
}

/// The decision for one snapshot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// Snapshot id.
    pub id: String,
    /// Kept?
    pub keep: bool,
    /// Rules that keep it.
    pub reasons: Vec<String>,
}

type BucketFn = fn(&DateTime<Utc>) -> (i32, u32, u32, u32);

/// Decide which of `snaps` to keep.
pub fn apply(policy: &KeepPolicy, snaps: &[(Id, Snapshot)]) -> Vec<Decision> {
    let mut groups: BTreeMap<Vec<String>, Vec<&(Id, Snapshot)>> = BTreeMap::new();
    for s in snaps {
        let mut k = s.1.paths.clone();
        k.sort();
        groups.entry(k).or_default().push(s);
    }
    let rules: [(&str, Option<u32>, BucketFn); 5] = [
        ("hourly", policy.hourly, |t| {
            (t.year(), t.ordinal(), t.hour(), 0)
        }),
        ("daily", policy.daily, |t| (t.year(), t.ordinal(), 0, 0)),
        ("weekly", policy.weekly, |t| {
            let w = t.iso_week();
            (w.year(), w.week(), 0, 0)
        }),
        ("monthly", policy.monthly, |t| (t.year(), t.month(), 0, 0)),
        ("yearly", policy.yearly, |t| (t.year(), 0, 0, 0)),
    ];
    let mut out: HashMap<Id, Decision> = HashMap::new();
    for (_, mut g) in groups {
        g.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(b.0.cmp(&a.0)));
        let newest = g.first().map(|s| s.1.time);
        let mut last_left = policy.last;
        let mut counters: Vec<Option<u32>> = rules.iter().map(|r| r.1).collect();
        let mut last_bucket: Vec<Option<(i32, u32, u32, u32)>> = vec![None; rules.len()];
        for (id, s) in g {
            let mut reasons = Vec::new();
            if let Some(n) = last_left.as_mut()
                && *n > 0
            {
                *n -= 1;
                reasons.push("last".to_string());
            }
            for (i, (name, _, f)) in rules.iter().enumerate() {
                let Some(c) = counters[i].as_mut() else {
                    continue;
                };
                if *c == 0 {
                    continue;
                }
                let b = f(&s.time);
                if last_bucket[i] != Some(b) {
                    last_bucket[i] = Some(b);
                    *c -= 1;
                    reasons.push((*name).to_string());
                }
            }
            if let (Some(w), Some(n)) = (policy.within, newest)
                && s.time >= n - w
            {
                reasons.push("within".to_string());
            }
            if s.tags.iter().any(|t| policy.tags.contains(t)) {
                reasons.push("tag".to_string());
            }
            out.insert(
                *id,
                Decision {
                    id: id.to_hex(),
                    keep: !reasons.is_empty(),
                    reasons,
                },
            );
        }
    }
    snaps.iter().filter_map(|(id, _)| out.remove(id)).collect()
}

impl Repository {
    /// Apply `policy` to the snapshots whose paths include `path` (all if
    /// `None`) and delete the others. Returns the decisions. A policy that
    /// keeps nothing ([`KeepPolicy::is_empty`], e.g. `last: Some(0)`) is
    /// refused with [`RepoError::InvalidInput`] unless its `allow_empty` is set.
    pub async fn forget(
        &self,
        policy: &KeepPolicy,
        path: Option<&str>,
        dry_run: bool,
    ) -> Result<Vec<Decision>> {
        if policy.is_empty() && !policy.allow_empty {
            return Err(RepoError::InvalidInput(
                "refusing to forget with a policy that keeps nothing (no rule, or every rule zero): it would remove every snapshot; set allow_empty to mean it".into(),
            ));
        }
        let snaps: Vec<(Id, Snapshot)> = self
            .snapshots()
            .await?
            .into_iter()
            .filter(|(_, s)| path.is_none_or(|p| s.paths.iter().any(|x| x == p)))
            .collect();
        let d = apply(policy, &snaps);
        if !dry_run {
            let gone: Vec<Id> = d
                .iter()
                .filter(|x| !x.keep)
                .filter_map(|x| Id::from_hex(&x.id))
                .collect();
            self.delete_snapshots(&gone).await?;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::repo::Source;
    use chrono::TimeZone;

    fn snap(i: u8, t: DateTime<Utc>, path: &str, tags: &[&str]) -> (Id, Snapshot) {
        (
            Id([i; 32]),
            Snapshot {
                version: 1,
                time: t,
                host: "h".into(),
                paths: vec![path.into()],
                tags: tags.iter().map(|s| s.to_string()).collect(),
                source: Source::Stream {
                    size: 0,
                    chunks: 0,
                    content: vec![],
                },
                added_bytes: 0,
                program: "t".into(),
            },
        )
    }

    fn kept(p: &KeepPolicy, s: &[(Id, Snapshot)]) -> Vec<u8> {
        apply(p, s)
            .iter()
            .filter(|d| d.keep)
            .map(|d| Id::from_hex(&d.id).unwrap().0[0])
            .collect()
    }

    #[test]
    fn policies() {
        // Two snapshots a day for 40 days, at 01:00 and 13:00, path "a".
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let s: Vec<_> = (0..80u8)
            .map(|i| {
                snap(
                    i,
                    t0 + Duration::hours(12 * i as i64),
                    "a",
                    if i == 3 { &["keep"] } else { &[] },
                )
            })
            .collect();
        assert_eq!(
            kept(
                &KeepPolicy {
                    last: Some(3),
                    ..Default::default()
                },
                &s
            ),
            vec![77, 78, 79]
        );
        // daily 3: the newest of each of the last three days.
        assert_eq!(
            kept(
                &KeepPolicy {
                    daily: Some(3),
                    ..Default::default()
                },
                &s
            ),
            vec![75, 77, 79]
        );
        // monthly 2: newest of Feb (79, on Feb 9th) and of Jan (61 = Jan 31 13:00).
        assert_eq!(
            kept(
                &KeepPolicy {
                    monthly: Some(2),
                    ..Default::default()
                },
                &s
            ),
            vec![61, 79]
        );
        assert_eq!(
            kept(
                &KeepPolicy {
                    yearly: Some(5),
                    ..Default::default()
                },
                &s
            ),
            vec![79]
        );
        assert_eq!(
            kept(
                &KeepPolicy {
                    within: Some(Duration::hours(24)),
                    ..Default::default()
                },
                &s
            ),
            vec![77, 78, 79]
        );
        assert_eq!(
            kept(
                &KeepPolicy {
                    last: Some(1),
                    tags: vec!["keep".into()],
                    ..Default::default()
                },
                &s
            ),
            vec![3, 79]
        );
        assert_eq!(
            kept(
                &KeepPolicy {
                    hourly: Some(2),
                    ..Default::default()
                },
                &s
            ),
            vec![78, 79]
        );
        // ISO weeks: 2026-02-09 is a Monday (week 7); 02-08 Sunday ends week 6.
        assert_eq!(
            kept(
                &KeepPolicy {
                    weekly: Some(2),
                    ..Default::default()
                },
                &s
            ),
            vec![77, 79]
        );
    }

    #[test]
    fn groups_by_path() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let s = vec![
            snap(1, t0, "a", &[]),
            snap(2, t0 + Duration::hours(1), "a", &[]),
            snap(3, t0, "b", &[]),
        ];
        assert_eq!(
            kept(
                &KeepPolicy {
                    last: Some(1),
                    ..Default::default()
                },
                &s
            ),
            vec![2, 3]
        );
        assert!(KeepPolicy::default().is_empty());
    }

    #[test]
    fn zero_rules_are_empty() {
        for p in [
            KeepPolicy {
                last: Some(0),
                ..Default::default()
            },
            KeepPolicy {
                daily: Some(0),
                weekly: Some(0),
                ..Default::default()
            },
            KeepPolicy {
                yearly: Some(0),
                within: Some(Duration::zero()),
                ..Default::default()
            },
        ] {
            assert!(p.is_empty(), "{p:?}");
        }
        for p in [
            KeepPolicy {
                last: Some(0),
                daily: Some(1),
                ..Default::default()
            },
            KeepPolicy {
                within: Some(Duration::seconds(1)),
                ..Default::default()
            },
            KeepPolicy {
                tags: vec!["x".into()],
                ..Default::default()
            },
        ] {
            assert!(!p.is_empty(), "{p:?}");
        }
    }
}
