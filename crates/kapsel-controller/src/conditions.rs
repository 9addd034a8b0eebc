//! `status.conditions`, a Kapsel addition (Kanister writes none,
//! kanister-k8s.md §6.3), derived from the state on every status write so
//! that they can never disagree with it:
//!
//! - `Running`: `True` while the ActionSet runs (the message names the
//!   running phase); `False` with reason `Pending` before it starts,
//!   `Queued` while it waits for free slots (`--concurrency`; written by the
//!   queue, kept until it starts), `Completed` or `Failed` after.
//! - `Complete`: `True` once every action completed.
//! - `Failed`: `True` once it failed; the message is `status.error`'s.
//!
//! `kubectl wait --for=condition=Complete actionset/<name>` therefore waits
//! for success and `--for=condition=Failed` for failure. A condition's
//! `lastTransitionTime` changes only when its status does. No
//! `observedGeneration`: without a status subresource (Kanister's CRD has
//! none) every status write bumps `metadata.generation` itself, so the
//! value would be stale the moment it is written, and `kubectl wait`
//! ignores conditions whose `observedGeneration` is behind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kapsel_api::{ActionSet, ActionSetStatus, State};

use crate::status::now;

/// The `Running` condition's reason while an ActionSet waits for slots.
pub(crate) const QUEUED: &str = "Queued";

/// The longest condition message kept (the API allows 32768 bytes).
const MESSAGE_LIMIT: usize = 4096;

fn put(conditions: &mut Vec<Condition>, type_: &str, status: bool, reason: &str, message: &str) {
    let status = if status { "True" } else { "False" };
    let message = crate::events::shortened(message, MESSAGE_LIMIT);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.status = status.to_string();
                c.last_transition_time = now();
            }
            c.reason = reason.to_string();
            c.message = message;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message,
            last_transition_time: now(),
            observed_generation: None,
        }),
    }
}

/// Marks a `pending` ActionSet as queued with `message`.
pub(crate) fn queued(set: &mut ActionSet, message: &str) {
    if let Some(st) = set.status.as_mut()
        && st.state == State::Pending
    {
        set_running(st, false, QUEUED, message);
    }
}

fn set_running(st: &mut ActionSetStatus, on: bool, reason: &str, message: &str) {
    put(&mut st.conditions, "Running", on, reason, message);
}

/// Brings the conditions in line with the state.
pub(crate) fn refresh(set: &mut ActionSet) {
    let Some(st) = set.status.as_mut() else {
        return;
    };
    match st.state {
        State::Pending => {
            let queued = st
                .conditions
                .iter()
                .any(|c| c.type_ == "Running" && c.reason == QUEUED);
            if !queued {
                set_running(st, false, "Pending", "waiting to start");
            }
        }
        State::Running => {
            let message = match st.progress.running_phase.as_str() {
                "" => "running".to_string(),
                p => format!("running phase {p}"),
            };
            set_running(st, true, "Running", &message);
        }
        State::Complete => {
            set_running(st, false, "Completed", "every action completed");
            put(
                &mut st.conditions,
                "Complete",
                true,
                "Completed",
                "every action completed",
            );
        }
        State::Failed => {
            let message = st.error.message.clone();
            set_running(st, false, "Failed", &message);
            put(&mut st.conditions, "Failed", true, "Failed", &message);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kapsel_api::{ActionSetSpec, ErrorStatus};

    fn set_in(state: State) -> ActionSet {
        let mut s = ActionSet::new("a", ActionSetSpec::default());
        s.metadata.generation = Some(3);
        s.status = Some(ActionSetStatus {
            state,
            ..Default::default()
        });
        s
    }

    fn get<'a>(s: &'a ActionSet, t: &str) -> Option<&'a Condition> {
        s.status.as_ref()?.conditions.iter().find(|c| c.type_ == t)
    }

    #[test]
    fn follow_the_state() {
        let mut s = set_in(State::Pending);
        refresh(&mut s);
        assert_eq!(get(&s, "Running").unwrap().reason, "Pending");
        queued(&mut s, "waiting for 1 free slot(s)");
        refresh(&mut s);
        let c = get(&s, "Running").unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", QUEUED));
        assert_eq!(c.observed_generation, None);

        let st = s.status.as_mut().unwrap();
        st.state = State::Running;
        st.progress.running_phase = "dump".into();
        refresh(&mut s);
        let c = get(&s, "Running").unwrap();
        assert_eq!(c.status, "True");
        assert_eq!(c.message, "running phase dump");
        assert!(get(&s, "Complete").is_none());
        let started = c.last_transition_time.clone();

        // Same status: the transition time stays.
        refresh(&mut s);
        assert_eq!(get(&s, "Running").unwrap().last_transition_time, started);

        let st = s.status.as_mut().unwrap();
        st.state = State::Failed;
        st.error = ErrorStatus {
            message: "phase dump: exit 1".into(),
        };
        refresh(&mut s);
        let f = get(&s, "Failed").unwrap();
        assert_eq!(
            (f.status.as_str(), f.message.as_str()),
            ("True", "phase dump: exit 1")
        );
        assert_eq!(get(&s, "Running").unwrap().status, "False");
        assert!(get(&s, "Complete").is_none());
    }

    #[test]
    fn complete_sets_complete_only() {
        let mut s = set_in(State::Complete);
        refresh(&mut s);
        assert_eq!(get(&s, "Complete").unwrap().status, "True");
        assert!(get(&s, "Failed").is_none());
        // Queuing a finished set changes nothing.
        queued(&mut s, "x");
        assert_eq!(get(&s, "Running").unwrap().reason, "Completed");
    }
}
