//! How `kapsel run` shows an action while it runs: a live view on a terminal
//! (phases with states and durations, the running command's last lines),
//! plain lines otherwise, or one JSON event per line.
//!
//! Everything goes to stderr: stdout carries the resulting ActionSet.
//! Bytes moved are not shown: the engine's events carry no byte counts yet
//! (a phase's data volume is only in kando's own log line).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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

/// Shows events as they come.
pub struct Reporter {
    mode: RunOutput,
    started: Instant,
    live: Option<Live>,
}

impl Reporter {
    /// `terminal`: stderr is a terminal (the live view is used in text mode).
    pub fn new(mode: RunOutput, terminal: bool) -> Reporter {
        Reporter {
            mode,
            started: Instant::now(),
            live: (mode == RunOutput::Text && terminal).then(Live::new),
        }
    }

    /// Shows one event.
    pub fn event(&mut self, e: &Event) {
        if matches!(e, Event::ActionStarted { .. }) {
            self.started = Instant::now();
        }
        match self.mode {
            RunOutput::Quiet => {}
            RunOutput::Json => {
                if let Ok(j) = serde_json::to_string(e) {
                    eprintln!("{j}");
                }
            }
            RunOutput::Text => match &mut self.live {
                Some(l) => l.event(e, self.started.elapsed()),
                None => {
                    let took =
                        matches!(e, Event::ActionEnded { .. }).then(|| self.started.elapsed());
                    if let Some(line) = plain_line(e, took) {
                        eprintln!("{line}");
                    }
                }
            },
        }
    }
}

struct PhaseBar {
    bar: ProgressBar,
    label: String,
    moved: Moved,
}

/// Bytes a phase moved, counted from kando's stderr lines (`kando: progress
/// N bytes` while a transfer runs, `kando: pushed|pulled N bytes ...` when it
/// ends): the engine itself does not know what a command transfers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    done: u64,
    current: u64,
}

impl Moved {
    /// Takes one output line into account; whether it was a kando line.
    pub fn line(&mut self, line: &str) -> bool {
        let Some(rest) = line.trim_start().strip_prefix("kando: ") else {
            return false;
        };
        let mut words = rest.split_whitespace();
        let (Some(kind), Some(n), Some("bytes")) = (words.next(), words.next(), words.next())
        else {
            return false;
        };
        let Ok(n) = n.parse::<u64>() else {
            return false;
        };
        match kind {
            "progress" => self.current = n,
            "pushed" | "pulled" => {
                self.done += n;
                self.current = 0;
            }
            _ => return false,
        }
        true
    }

    /// Bytes so far.
    pub fn total(&self) -> u64 {
        self.done + self.current
    }
}

/// The terminal view.
struct Live {
    mp: MultiProgress,
    header: ProgressBar,
    tail: ProgressBar,
    phases: HashMap<String, PhaseBar>,
    lines: VecDeque<String>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Live {
    fn new() -> Live {
        let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let header = mp.add(ProgressBar::new_spinner());
        header.set_style(style("{spinner} {msg} {elapsed}"));
        header.enable_steady_tick(Duration::from_millis(120));
        let tail = mp.add(ProgressBar::new_spinner());
        tail.set_style(style("{msg}"));
        Live {
            mp,
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

    fn event(&mut self, e: &Event, elapsed: Duration) {
        match e {
            Event::ActionStarted { action } => {
                self.header.set_message(format!("action {action}"));
            }
            Event::PhaseStarted { phase, func, defer } => {
                let label = format!(
                    "{} {phase} ({func})",
                    if *defer { "defer phase" } else { "phase" }
                );
                let bar = self
                    .mp
                    .insert_before(&self.tail, ProgressBar::new_spinner());
                bar.set_style(style("  {spinner} {msg}: running {elapsed}"));
                bar.set_message(label.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.phases.insert(
                    phase.clone(),
                    PhaseBar {
                        bar,
                        label,
                        moved: Moved::default(),
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
                if let Some(p) = self.phases.remove(phase) {
                    p.bar.set_style(style("{msg}"));
                    p.bar.finish_with_message(msg);
                } else {
                    let _ = self.mp.println(msg);
                }
                if let Some(err) = error {
                    for l in err.lines() {
                        let _ = self.mp.println(format!("    {l}"));
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
                    "{mark} action {action}: {} in {}",
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

    #[test]
    fn bytes_moved_from_kando_lines() {
        let mut m = Moved::default();
        assert!(!m.line("pg_dump: dumping contents of table"));
        assert!(!m.line("kando: progress lots bytes"));
        assert!(m.line("kando: progress 1000 bytes"));
        assert_eq!(m.total(), 1000);
        assert!(m.line("kando: progress 5000 bytes"));
        assert_eq!(m.total(), 5000);
        assert!(m.line(
            "kando: pushed 6000 bytes to /x as snapshot ab (1 new of 2 chunks, 10 bytes added)"
        ));
        assert_eq!(m.total(), 6000);
        assert!(m.line("kando: progress 10 bytes"));
        assert!(m.line("kando: pulled 20 bytes of /y (snapshot cd)"));
        assert_eq!(m.total(), 6020);
    }

    #[test]
    fn plain_lines() {
        let e = Event::PhaseEnded {
            phase: "dump".into(),
            outcome: Outcome::TimedOut,
            duration: Duration::from_millis(1500),
            error: Some("deadline".into()),
        };
        assert_eq!(
            plain_line(&e, None).as_deref(),
            Some("phase dump: timed out after 1.5s: deadline")
        );
    }
}
