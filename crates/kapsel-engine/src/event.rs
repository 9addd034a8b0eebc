//! What the engine reports while it runs: a stream of typed events that a CLI,
//! a controller or a log consumes. Every text in an event has been through the
//! action's [`kapsel_params::Redactor`]: no secret value appears in an event.

use std::time::Duration;

use tokio::sync::mpsc;

/// A phase's or action's end state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Done.
    Complete,
    /// Failed.
    Failed,
    /// Stopped by its deadline.
    TimedOut,
    /// Stopped by cancellation.
    Cancelled,
}

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LogStream {
    /// Standard output (minus phase-output markers).
    Stdout,
    /// Standard error.
    Stderr,
}

/// An engine event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The action started.
    ActionStarted {
        /// Action name.
        action: String,
    },
    /// A phase started (`defer: true` for the defer phase).
    PhaseStarted {
        /// Phase name.
        phase: String,
        /// Function name.
        func: String,
        /// Whether this is the defer phase.
        defer: bool,
    },
    /// A line the running command printed.
    Log {
        /// Phase name.
        phase: String,
        /// stdout or stderr.
        stream: LogStream,
        /// The line, redacted.
        line: String,
    },
    /// A phase ended.
    PhaseEnded {
        /// Phase name.
        phase: String,
        /// How.
        outcome: Outcome,
        /// How long it ran.
        #[serde(with = "duration_ms")]
        duration: Duration,
        /// Why it did not complete (redacted).
        error: Option<String>,
        /// Its outputs (what `status.actions[].phases[].output` shows).
        #[serde(skip_serializing_if = "crate::function::Outputs::is_empty")]
        output: crate::function::Outputs,
    },
    /// The action ended.
    ActionEnded {
        /// Action name.
        action: String,
        /// How.
        outcome: Outcome,
        /// Why it did not complete (redacted).
        error: Option<String>,
    },
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_millis())
    }
}

/// Where events go. Sending never blocks and never fails the action: a
/// consumer that went away just stops receiving.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    /// A sink and the receiver for its events.
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink { tx: Some(tx) }, rx)
    }

    /// A sink that drops every event.
    pub fn discard() -> EventSink {
        EventSink { tx: None }
    }

    /// Sends an event.
    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }
}
