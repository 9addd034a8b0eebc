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

use k8s_openapi::api::core::v1::ObjectReference;
use kapsel_api::ActionSet;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// The events API allows notes up to 1 kB.
const NOTE_LIMIT: usize = 1000;

/// `text` cut to at most `limit` bytes (on a character boundary), ending
/// in `...` when cut.
pub(crate) fn shortened(text: &str, limit: usize) -> String {
    let mut t = text.to_string();
    if t.len() > limit {
        let mut cut = limit.saturating_sub(3);
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push_str("...");
    }
    t
}

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
        self.publish_on(&set.object_ref(&()), None, type_, reason, action, note)
            .await;
    }

    /// Records one event on `regarding`, `related` to another object.
    async fn publish_on(
        &self,
        regarding: &ObjectReference,
        related: Option<ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        let note = shortened(note, NOTE_LIMIT);
        let mut action: String = action.chars().take(128).collect();
        if action.is_empty() {
            action = reason.to_string();
        }
        let ev = Event {
            type_,
            reason: reason.chars().take(128).collect(),
            note: Some(note),
            action,
            secondary: related,
        };
        if let Err(e) = self.recorder.publish(&ev, regarding).await {
            tracing::warn!(reason, "recording an event: {e}");
        }
    }

    /// The same event on the ActionSet and on its action's target object
    /// (`kubectl describe deployment ...` shows what Kanister's actions did
    /// to it): there the note names the ActionSet, which is also the
    /// event's related object. Recording on the target needs `create` on
    /// events in its namespace; without it the event is logged as not
    /// recorded and the action goes on.
    pub async fn with_target(
        &self,
        set: &ActionSet,
        target: Option<&ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        self.publish(set, type_, reason, action, note).await;
        if let Some(t) = target {
            let name = format!(
                "{}/{}",
                set.metadata.namespace.as_deref().unwrap_or_default(),
                set.metadata.name.as_deref().unwrap_or_default()
            );
            self.publish_on(
                t,
                Some(set.object_ref(&())),
                type_,
                reason,
                action,
                &format!("ActionSet {name}: {note}"),
            )
            .await;
        }
    }

    /// Normal `reason` with `note`.
    pub async fn normal(&self, set: &ActionSet, reason: &str, action: &str, note: &str) {
        self.publish(set, EventType::Normal, reason, action, note)
            .await;
    }

    /// Warning `ActionSetFailed Action: <action>` with `note`.
    pub async fn failed(&self, set: &ActionSet, action: &str, note: &str) {
        self.failed_with_target(set, None, action, note).await;
    }

    /// [`Events::failed`], also on the action's target object.
    pub async fn failed_with_target(
        &self,
        set: &ActionSet,
        target: Option<&ObjectReference>,
        action: &str,
        note: &str,
    ) {
        self.with_target(
            set,
            target,
            EventType::Warning,
            &format!("ActionSetFailed Action: {action}"),
            action,
            note,
        )
        .await;
    }
}

/// The target object's reference, from the parameters the engine renders
/// with (`.Object`: apiVersion, kind, name, namespace and uid as read from
/// the cluster). `None` for objects that have none of these (a kind the
/// platform resolves without reading the object).
pub(crate) fn target_of(req: &kapsel_engine::ActionRequest) -> Option<ObjectReference> {
    let o = req.params.object.as_ref()?;
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    let meta = o.get("metadata");
    Some(ObjectReference {
        api_version: text(o.get("apiVersion")),
        kind: text(o.get("kind")),
        name: Some(text(meta.and_then(|m| m.get("name")))?),
        namespace: text(meta.and_then(|m| m.get("namespace"))),
        uid: text(meta.and_then(|m| m.get("uid"))),
        ..Default::default()
    })
}
