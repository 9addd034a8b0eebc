//! Kanister's events on the ActionSet (kanister-k8s.md §6.4), through
//! kube-runtime's `Recorder` (events.k8s.io/v1).
//!
//! Reasons and messages are Kanister's: Normal `Started Action`
//! ("Executing action <a>"), `Started Phase` / `Ended Phase`, `Started
//! deferPhase` / `Ended deferPhase`, `Update Complete` ("Updated ActionSet
//! '<n>' Status->complete"); Warning `ActionSetFailed Action: <a>`. The
//! reporting controller is `kapsel-controller` (events.k8s.io/v1 wants a
//! qualified name; Kanister's `Kanister Controller` is not one).
//!
//! The recorder folds events with the same reason and `action` on one
//! object into one series that keeps the first message; the `action` field
//! therefore names the action and phase, so that each phase gets its own
//! event. A failure to record an event is logged, never fatal.

use kapsel_api::ActionSet;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// The events API allows notes up to 1 kB.
const NOTE_LIMIT: usize = 1000;

/// The recorder.
#[derive(Clone)]
pub(crate) struct Events {
    recorder: Recorder,
}

impl Events {
    pub fn new(client: kube::Client) -> Events {
        Events {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: "kapsel-controller".to_string(),
                    instance: std::env::var("POD_NAME").ok(),
                },
            ),
        }
    }

    /// Records one event on `set`.
    pub async fn publish(
        &self,
        set: &ActionSet,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        let mut note = note.to_string();
        if note.len() > NOTE_LIMIT {
            let mut cut = NOTE_LIMIT - 3;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
            note.push_str("...");
        }
        let mut action: String = action.chars().take(128).collect();
        if action.is_empty() {
            action = reason.to_string();
        }
        let ev = Event {
            type_,
            reason: reason.chars().take(128).collect(),
            note: Some(note),
            action,
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &set.object_ref(&())).await {
            tracing::warn!(reason, "recording an event: {e}");
        }
    }

    /// Normal `reason` with `note`.
    pub async fn normal(&self, set: &ActionSet, reason: &str, action: &str, note: &str) {
        self.publish(set, EventType::Normal, reason, action, note)
            .await;
    }

    /// Warning `ActionSetFailed Action: <action>` with `note`.
    pub async fn failed(&self, set: &ActionSet, action: &str, note: &str) {
        self.publish(
            set,
            EventType::Warning,
            &format!("ActionSetFailed Action: {action}"),
            action,
            note,
        )
        .await;
    }
}
