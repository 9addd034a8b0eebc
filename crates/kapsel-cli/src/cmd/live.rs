//! How `kapsel run` shows an action while it runs: a live view on a terminal
//! (phases with states and durations, the running command's last lines),
//! plain lines otherwise, or one JSON event per line.
//!
//! With `--actionset`, the actions run concurrently and every event is tagged
//! with its action ([`ActionTag`]): plain lines get a `[action object]`
//! prefix, JSON events `actionIndex` (the position in `spec.actions`),
//! `action` and `object`, and the live view shows one block per action. A
//! single action given by flags is shown untagged, as before.
//!
//! Everything goes to stderr: stdout carries the resulting ActionSet.
//! Bytes moved are counted from kando's own progress lines on a phase's
//! output (`kapsel_engine::progress`); only the live view shows them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kapsel_engine::progress::Transfers;
use kapsel_engine::{Event, Outcome};

use super::repo::progress::human_bytes;

/// Lines of the running command kept on screen.
const TAIL_LINES: usize = 5;
/// Longest line shown in the tail (characters).
const TAIL_WIDTH: usize = 160;

/// The output mode of `kapsel run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RunOutput {
    /// A live view on a terminal, plain lines otherwise.
    #[default]
    #[value(alias = "human")]
    Text,
    /// One JSON event per line.
    Json,
    /// Nothing but errors.
    Quiet,
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Complete => "complete",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed out",
        Outcome::Cancelled => "cancelled",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The plain line for an event (`None`: nothing to print).
pub fn plain_line(e: &Event, action_took: Option<Duration>) -> Option<String> {
    Some(match e {
        Event::ActionStarted { action } => format!("action {action}: started"),
        Event::PhaseStarted { phase, func, defer } => format!(
            "{} {phase} ({func}): running",
            if *defer { "defer phase" } else { "phase" }
        ),
        Event::Log { phase, line, .. } => format!("  {phase} | {line}"),
        Event::PhaseEnded {
            phase,
            outcome: o,
            duration,
            error,
            ..
        } => match error {
            Some(err) => format!(
                "phase {phase}: {} after {}: {err}",
                outcome(*o),
                secs(*duration)
            ),
            None => format!("phase {phase}: {} in {}", outcome(*o), secs(*duration)),
        },
        Event::ActionEnded {
            action, outcome: o, ..
        } => format!(
            "action {action}: {}{}",
            outcome(*o),
            action_took
                .map(|d| format!(" in {}", secs(d)))
                .unwrap_or_default()
        ),
    })
}

/// Which action of an ActionSet an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTag {
    /// The action's position in `spec.actions` (and `status.actions`).
    pub index: usize,
    /// The action's name.
    pub action: String,
    /// The object, `kind/namespace/name`.
    pub object: String,
}

impl ActionTag {
    fn label(&self) -> String {
        format!("{} {}", self.action, self.object)
    }
}

/// The labels of tagged actions: `action object`, with `#index` added where
/// two actions would otherwise look the same.
fn labels(tags: &[ActionTag]) -> Vec<String> {
    let plain: Vec<String> = tags.iter().map(ActionTag::label).collect();
    plain
        .iter()
        .zip(tags)
        .map(|(l, t)| {
            if plain.iter().filter(|o| *o == l).count() > 1 {
                format!("{l} #{}", t.index)
            } else {
                l.clone()
            }
        })
        .collect()
}

/// A JSON event with the action it belongs to.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Tagged<'a> {
    #[serde(flatten)]
    event: &'a Event,
    /// Only for the events that do not name their action themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    action_index: usize,
    object: &'a str,
}

impl<'a> Tagged<'a> {
    fn new(event: &'a Event, tag: &'a ActionTag) -> Tagged<'a> {
        let named = matches!(
            event,
            Event::ActionStarted { .. } | Event::ActionEnded { .. }
        );
        Tagged {
            event,
            action: (!named).then_some(tag.action.as_str()),
            action_index: tag.index,
            object: &tag.object,
        }
    }
}

/// Shows events as they come.
pub struct Reporter {
    mode: RunOutput,
    /// When each action started (by action index).
    started: Vec<Instant>,
    /// `None`: one untagged action (the `--action` form).
    tags: Option<Vec<ActionTag>>,
    labels: Vec<String>,
    live: Option<Live>,
}

impl Reporter {
    /// `terminal`: stderr is a terminal (the live view is used in text mode).
    /// `tags`: the actions of an ActionSet, in order; `None` for one action
    /// given by flags (events are shown untagged).
    pub fn new(mode: RunOutput, terminal: bool, tags: Option<Vec<ActionTag>>) -> Reporter {
        let labels = tags.as_deref().map(labels).unwrap_or_default();
        let count = tags.as_ref().map_or(1, Vec::len).max(1);
        Reporter {
            mode,
            started: vec![Instant::now(); count],
            live: (mode == RunOutput::Text && terminal).then(|| Live::new(&labels)),
            tags,
            labels,
        }
    }

    /// Shows one event of the action at `index`.
    pub fn event(&mut self, index: usize, e: &Event) {
        if index >= self.started.len() {
            self.started.resize(index + 1, Instant::now());
        }
        if matches!(e, Event::ActionStarted { .. }) {
            self.started[index] = Instant::now();
        }
        let elapsed = self.started[index].elapsed();
        let tag = self.tags.as_ref().and_then(|t| t.get(index));
        match self.mode {
            RunOutput::Quiet => {}
            RunOutput::Json => {
                let j = match tag {
                    None => serde_json::to_string(e),
                    Some(t) => serde_json::to_string(&Tagged::new(e, t)),
                };
                if let Ok(j) = j {
                    eprintln!("{j}");
                }
            }
            RunOutput::Text => match &mut self.live {
                Some(l) => l.event(index, e, elapsed),
                None => {
                    let took = matches!(e, Event::ActionEnded { .. }).then_some(elapsed);
                    if let Some(line) = plain_line(e, took) {
                        match self.labels.get(index) {
                            Some(label) if tag.is_some() => eprintln!("[{label}] {line}"),
                            _ => eprintln!("{line}"),
                        }
                    }
                }
            },
        }
    }
}

struct PhaseBar {
    bar: ProgressBar,
    label: String,
    moved: Transfers,
}

/// The terminal view: one block per action (a header, its phases, the
/// running command's last lines).
struct Live {
    mp: MultiProgress,
    views: Vec<ActionView>,
}

/// One action's block.
struct ActionView {
    /// The action's label when tagged (`None`: the header names the action
    /// as its `actionStarted` event does).
    label: Option<String>,
    header: ProgressBar,
    tail: ProgressBar,
    phases: HashMap<String, PhaseBar>,
    lines: VecDeque<String>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Live {
    /// `labels`: one per action of an ActionSet, empty for one untagged action.
    fn new(labels: &[String]) -> Live {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let mut views = Vec::new();
        let untagged = [None];
        let tagged: Vec<Option<String>> = labels.iter().cloned().map(Some).collect();
        for label in if labels.is_empty() {
            &untagged[..]
        } else {
            &tagged[..]
        } {
            views.push(ActionView::new(&mp, label.clone()));
        }
        Live { mp, views }
    }

    fn event(&mut self, index: usize, e: &Event, elapsed: Duration) {
        while self.views.len() <= index {
            let view = ActionView::new(&self.mp, None);
            self.views.push(view);
        }
        let mp = self.mp.clone();
        self.views[index].event(&mp, e, elapsed);
    }
}

impl ActionView {
    fn new(mp: &MultiProgress, label: Option<String>) -> ActionView {
        let header = mp.add(ProgressBar::new_spinner());
        header.set_style(style("{spinner} {msg} {elapsed}"));
        header.enable_steady_tick(Duration::from_millis(120));
        if let Some(l) = &label {
            header.set_message(format!("action {l}: pending"));
        }
        let tail = mp.add(ProgressBar::new_spinner());
        tail.set_style(style("{msg}"));
        ActionView {
            label,
            header,
            tail,
            phases: HashMap::new(),
            lines: VecDeque::new(),
        }
    }

    fn show_tail(&self) {
        let text: Vec<String> = self.lines.iter().map(|l| format!("    │ {l}")).collect();
        self.tail.set_message(text.join("\n"));
    }

    fn title<'a>(&'a self, action: &'a str) -> &'a str {
        self.label.as_deref().unwrap_or(action)
    }

    fn event(&mut self, mp: &MultiProgress, e: &Event, elapsed: Duration) {
        match e {
            Event::ActionStarted { action } => {
                self.header
                    .set_message(format!("action {}", self.title(action)));
            }
            Event::PhaseStarted { phase, func, defer } => {
                let label = format!(
                    "{} {phase} ({func})",
                    if *defer { "defer phase" } else { "phase" }
                );
                let bar = mp.insert_before(&self.tail, ProgressBar::new_spinner());
                bar.set_style(style("  {spinner} {msg}: running {elapsed}"));
                bar.set_message(label.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.phases.insert(
                    phase.clone(),
                    PhaseBar {
                        bar,
                        label,
                        moved: Transfers::default(),
                    },
                );
                self.lines.clear();
                self.show_tail();
            }
            Event::Log { phase, line, .. } => {
                if let Some(p) = self.phases.get_mut(phase)
                    && p.moved.line(line)
                {
                    p.bar.set_message(format!(
                        "{}, {} moved",
                        p.label,
                        human_bytes(p.moved.total())
                    ));
                }
                let mut l: String = line.chars().take(TAIL_WIDTH).collect();
                if line.chars().count() > TAIL_WIDTH {
                    l.push('…');
                }
                self.lines.push_back(l);
                while self.lines.len() > TAIL_LINES {
                    self.lines.pop_front();
                }
                self.show_tail();
            }
            Event::PhaseEnded {
                phase,
                outcome: o,
                duration,
                error,
                ..
            } => {
                let mark = if *o == Outcome::Complete {
                    "✔"
                } else {
                    "✘"
                };
                let msg = match self.phases.get(phase) {
                    Some(p) => format!(
                        "  {mark} {}: {} in {}{}",
                        p.label,
                        outcome(*o),
                        secs(*duration),
                        match p.moved.total() {
                            0 => String::new(),
                            n => format!(", {} moved", human_bytes(n)),
                        }
                    ),
                    None => format!(
                        "  {mark} phase {phase}: {} in {}",
                        outcome(*o),
                        secs(*duration)
                    ),
                };
                let prefix = self
                    .label
                    .as_ref()
                    .map(|l| format!("[{l}] "))
                    .unwrap_or_default();
                if let Some(p) = self.phases.remove(phase) {
                    p.bar.set_style(style("{msg}"));
                    p.bar.finish_with_message(msg);
                } else {
                    let _ = mp.println(format!("{prefix}{msg}"));
                }
                if let Some(err) = error {
                    for l in err.lines() {
                        let _ = mp.println(format!("{prefix}    {l}"));
                    }
                }
                self.lines.clear();
                self.show_tail();
            }
            Event::ActionEnded {
                action, outcome: o, ..
            } => {
                let mark = if *o == Outcome::Complete {
                    "✔"
                } else {
                    "✘"
                };
                self.tail.finish_and_clear();
                self.header.set_style(style("{msg}"));
                self.header.finish_with_message(format!(
                    "{mark} action {}: {} in {}",
                    self.title(action),
                    outcome(*o),
                    secs(elapsed)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(index: usize, action: &str, object: &str) -> ActionTag {
        ActionTag {
            index,
            action: action.into(),
            object: object.into(),
        }
    }

    #[test]
    fn labels_name_action_and_object_and_tell_twins_apart() {
        let tags = [
            tag(0, "backup", "statefulset/db/a"),
            tag(1, "backup", "statefulset/db/b"),
            tag(2, "backup", "statefulset/db/a"),
        ];
        assert_eq!(
            labels(&tags),
            [
                "backup statefulset/db/a #0",
                "backup statefulset/db/b",
                "backup statefulset/db/a #2"
            ]
        );
    }

    #[test]
    fn tagged_json_names_the_action_once() {
        let t = tag(1, "backup", "statefulset/db/b");
        let tagged = |e: &Event| serde_json::to_value(Tagged::new(e, &t)).unwrap();
        let v = tagged(&Event::ActionStarted {
            action: "backup".into(),
        });
        assert_eq!(
            v,
            serde_json::json!({"event": "actionStarted", "action": "backup", "actionIndex": 1, "object": "statefulset/db/b"})
        );
        let v = tagged(&Event::PhaseStarted {
            phase: "dump".into(),
            func: "KubeTask".into(),
            defer: false,
        });
        assert_eq!(v["action"], "backup");
        assert_eq!(v["phase"], "dump");
        assert_eq!(v["actionIndex"], 1);
    }

    #[test]
    fn plain_lines() {
        let e = Event::PhaseEnded {
            phase: "dump".into(),
            outcome: Outcome::TimedOut,
            duration: Duration::from_millis(1500),
            error: Some("deadline".into()),
            output: Default::default(),
        };
        assert_eq!(
            plain_line(&e, None).as_deref(),
            Some("phase dump: timed out after 1.5s: deadline")
        );
    }
}
