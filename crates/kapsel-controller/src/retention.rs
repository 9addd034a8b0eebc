//! Retention of finished ActionSets (kanister#2121: Kanister keeps them
//! forever, and they pile up).
//!
//! - `--ttl-after-finished D`: an ActionSet `complete` or `failed` for
//!   longer than D (since `status.progress.lastTransitionTime`, its last
//!   state change) is deleted. Default: none, kept forever, as Kanister.
//! - `--keep-last N`: the N most recently finished ActionSets of each
//!   namespace and Blueprint+action (the set of `blueprint/action` pairs of
//!   its `spec.actions`) are kept even past their TTL.
//! - The annotation [`TTL_ANNOTATION`] on an ActionSet overrides the TTL
//!   for it: a Go duration (`0s`: as soon as it is finished), or `never`.
//!   An invalid value keeps the ActionSet (and is logged once).
//!
//! `pending` and `running` ActionSets are never deleted. The sweep reads
//! the controller's watch cache (no API request) every 10 s, and only the
//! leader sweeps; each deletion carries the ActionSet's uid as a
//! precondition, so a re-created ActionSet of the same name is not hit.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kapsel_api::{ActionSet, State};
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::Shared;

/// The annotation overriding `--ttl-after-finished` for one ActionSet.
pub const TTL_ANNOTATION: &str = "kapsel.dev/ttl-after-finished";

/// How often the leader looks for ActionSets to delete.
const SWEEP_PERIOD: Duration = Duration::from_secs(10);

/// Which finished ActionSets are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Finished ActionSets older than this are deleted (`None`: kept).
    pub ttl: Option<Duration>,
    /// At least this many of the most recently finished ActionSets per
    /// namespace and Blueprint+action are kept, whatever their age.
    pub keep_last: usize,
}

/// One ActionSet to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid (the deletion's precondition).
    pub uid: String,
    /// Why, for the log.
    pub why: String,
}

/// What a sweep found.
#[derive(Debug, Default)]
pub struct Due {
    /// ActionSets to delete.
    pub delete: Vec<Doomed>,
    /// ActionSets kept because their annotation is invalid: (uid, message).
    pub invalid: Vec<(String, String)>,
}

/// The TTL of one ActionSet: its annotation's, else the default.
fn ttl_of(set: &ActionSet, default: Option<Duration>) -> Result<Option<Duration>, String> {
    match set.annotations().get(TTL_ANNOTATION) {
        None => Ok(default),
        Some(v) if v.trim().eq_ignore_ascii_case("never") => Ok(None),
        Some(v) => kapsel_engine::parse_duration(v)
            .map(Some)
            .map_err(|e| format!("annotation {TTL_ANNOTATION}: {e}, or never")),
    }
}

/// When the ActionSet finished; `None` while it is not finished.
fn finished_at(set: &ActionSet) -> Option<Timestamp> {
    let st = set.status.as_ref()?;
    if !matches!(st.state, State::Complete | State::Failed) {
        return None;
    }
    st.progress
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| set.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .or(Some(Timestamp::UNIX_EPOCH))
}

/// A retention group: the namespace and the sorted `blueprint/action`s.
type Group = (String, Vec<String>);

/// The finished ActionSets due for deletion at `now`.
pub fn due(sets: &[Arc<ActionSet>], r: &Retention, now: Timestamp) -> Due {
    let mut out = Due::default();
    let mut groups: BTreeMap<Group, Vec<(Timestamp, &ActionSet)>> = BTreeMap::new();
    for set in sets {
        let Some(at) = finished_at(set) else {
            continue;
        };
        let mut what: Vec<String> = set
            .spec
            .actions
            .iter()
            .map(|a| format!("{}/{}", a.blueprint, a.name))
            .collect();
        what.sort();
        groups
            .entry((set.namespace().unwrap_or_default(), what))
            .or_default()
            .push((at, set));
    }
    for ((namespace, what), mut members) in groups {
        // newest first; times are whole seconds: ties by creation, then
        // name, newest or last first
        let created = |s: &ActionSet| s.metadata.creation_timestamp.as_ref().map(|t| t.0);
        members.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| created(b.1).cmp(&created(a.1)))
                .then_with(|| b.1.name_any().cmp(&a.1.name_any()))
        });
        for (at, set) in members.into_iter().skip(r.keep_last) {
            let uid = set.uid().unwrap_or_default();
            let ttl = match ttl_of(set, r.ttl) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) => {
                    out.invalid.push((uid, e));
                    continue;
                }
            };
            let age_ms = now.as_millisecond().saturating_sub(at.as_millisecond());
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            if age_ms >= ttl_ms {
                out.delete.push(Doomed {
                    namespace: namespace.clone(),
                    name: set.name_any(),
                    uid,
                    why: format!(
                        "finished at {at}, more than {ttl:?} ago; not among the last {} of {}",
                        r.keep_last,
                        what.join(", ")
                    ),
                });
            }
        }
    }
    out
}

/// Deletes the finished ActionSets due, every [`SWEEP_PERIOD`], until
/// `stop` fires or the leadership term ends.
pub(crate) async fn sweep(
    shared: Arc<Shared>,
    stores: Vec<Store<ActionSet>>,
    stop: CancellationToken,
) {
    let mut warned: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        let sets: Vec<Arc<ActionSet>> = stores.iter().flat_map(|s| s.state()).collect();
        let found = due(&sets, &shared.config.retention, Timestamp::now());
        for (uid, e) in found.invalid {
            if warned.insert(uid.clone()) {
                tracing::warn!(uid, "kept past its TTL: {e}");
            }
        }
        for d in found.delete {
            if stop.is_cancelled() || !shared.term.valid() {
                return;
            }
            let api: Api<ActionSet> = Api::namespaced(shared.client.clone(), &d.namespace);
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(d.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&d.name, &dp).await {
                Ok(_) => {
                    tracing::info!(actionset = %d.name, namespace = %d.namespace, "deleted (retention): {}", d.why)
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => {
                    tracing::warn!(actionset = %d.name, namespace = %d.namespace, "deleting (retention): {e}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, ns: &str, bp: &str, state: &str, finished: Option<&str>) -> Arc<ActionSet> {
        let mut v = serde_json::json!({
            "apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
            "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"actions": [{"name": "backup", "blueprint": bp,
                "object": {"kind": "Namespace", "name": ns}}]},
            "status": {"state": state, "actions": [], "error": {"message": ""},
                "progress": {}}
        });
        if let Some(t) = finished {
            v["status"]["progress"]["lastTransitionTime"] = t.into();
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn names(d: &Due) -> Vec<&str> {
        let mut v: Vec<&str> = d.delete.iter().map(|d| d.name.as_str()).collect();
        v.sort();
        v
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn kept_forever_by_default() {
        let sets = vec![set(
            "a",
            "n",
            "bp",
            "complete",
            Some("2025-01-01T00:00:00Z"),
        )];
        let d = due(&sets, &Retention::default(), at("2030-01-01T00:00:00Z"));
        assert!(d.delete.is_empty());
    }

    #[test]
    fn finished_past_the_ttl_are_deleted_never_running_or_pending() {
        let sets = vec![
            set("old", "n", "bp", "complete", Some("2025-01-01T00:00:00Z")),
            set("oldfail", "n", "bp", "failed", Some("2025-01-01T00:00:00Z")),
            set("young", "n", "bp", "complete", Some("2025-01-01T00:59:30Z")),
            set("run", "n", "bp", "running", Some("2025-01-01T00:00:00Z")),
            set("pend", "n", "bp", "pending", Some("2025-01-01T00:00:00Z")),
        ];
        let r = Retention {
            ttl: Some(Duration::from_secs(60)),
            keep_last: 0,
        };
        let d = due(&sets, &r, at("2025-01-01T01:00:00Z"));
        assert_eq!(names(&d), ["old", "oldfail"]);
        assert_eq!(d.delete[0].uid, format!("uid-{}", d.delete[0].name));
    }

    #[test]
    fn the_last_n_per_blueprint_and_action_are_kept_past_the_ttl() {
        let sets = vec![
            set("a1", "n", "bp-a", "complete", Some("2025-01-01T00:00:01Z")),
            set("a2", "n", "bp-a", "complete", Some("2025-01-01T00:00:02Z")),
            set("a3", "n", "bp-a", "failed", Some("2025-01-01T00:00:03Z")),
            set("b1", "n", "bp-b", "complete", Some("2025-01-01T00:00:01Z")),
            // another namespace is another group
            set("c1", "m", "bp-a", "complete", Some("2025-01-01T00:00:01Z")),
        ];
        let r = Retention {
            ttl: Some(Duration::from_secs(1)),
            keep_last: 2,
        };
        let d = due(&sets, &r, at("2026-01-01T00:00:00Z"));
        assert_eq!(names(&d), ["a1"]);
        let r = Retention {
            ttl: Some(Duration::from_secs(1)),
            keep_last: 1,
        };
        let d = due(&sets, &r, at("2026-01-01T00:00:00Z"));
        assert_eq!(names(&d), ["a1", "a2"]);
    }

    #[test]
    fn ties_keep_the_last_created() {
        let sets = vec![
            set("t1", "n", "bp", "complete", Some("2025-01-01T00:00:01Z")),
            set("t2", "n", "bp", "complete", Some("2025-01-01T00:00:01Z")),
        ];
        let r = Retention {
            ttl: Some(Duration::from_secs(1)),
            keep_last: 1,
        };
        let d = due(&sets, &r, at("2026-01-01T00:00:00Z"));
        assert_eq!(names(&d), ["t1"]);
    }

    #[test]
    fn the_annotation_overrides_the_ttl() {
        let with = |name: &str, v: &str| {
            let mut s = (*set(name, "n", "bp", "complete", Some("2025-01-01T00:00:00Z"))).clone();
            s.metadata
                .annotations
                .get_or_insert_default()
                .insert(TTL_ANNOTATION.into(), v.into());
            Arc::new(s)
        };
        let sets = vec![
            with("now", "0s"),
            with("keep", "never"),
            with("long", "1000h"),
            with("bad", "soon"),
            set("plain", "n", "bp", "complete", Some("2025-01-01T00:00:00Z")),
        ];
        // no default TTL: only the annotated one due goes
        let d = due(&sets, &Retention::default(), at("2025-01-02T00:00:00Z"));
        assert_eq!(names(&d), ["now"]);
        assert_eq!(d.invalid.len(), 1);
        assert!(
            d.invalid[0].1.contains(TTL_ANNOTATION),
            "{}",
            d.invalid[0].1
        );
        // a default TTL: the plain one goes too; never and 1000h stay
        let r = Retention {
            ttl: Some(Duration::from_secs(3600)),
            keep_last: 0,
        };
        let d = due(&sets, &r, at("2025-01-02T00:00:00Z"));
        assert_eq!(names(&d), ["now", "plain"]);
    }
}
