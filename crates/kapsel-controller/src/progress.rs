//! Bytes, percent and ETA in an ActionSet's status while its phases run
//! (Kanister's built-in functions only ever report 0 or 100, kanister.md
//! §5). A phase's bytes come from kando's progress lines on its output
//! (`kapsel_engine::progress`): `sizeUploadedB`/`sizeDownloadedB` so far,
//! `estimatedUploadSizeB`/`estimatedDownloadSizeB` when kando knows the
//! total, `progressPercent` from them (at most 99 until the phase
//! completes, then 100; 0 while nothing is known), `estinatedTimeSeconds`
//! from the rate so far. The ActionSet's `status.progress` is Kanister's
//! aggregate: `percentCompleted` the integer mean of the phases' percents,
//! the byte counts summed. Written with phase starts and ends, and every
//! [`WRITE_EVERY`] while bytes move.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kapsel_api::{ActionSetStatus, PhaseProgress};
use kapsel_engine::progress::{Direction, Flow, Transfers};

use crate::status::now;

/// How often a running phase's byte counts are written (Kanister polls its
/// functions' progress every 5 s).
pub(crate) const WRITE_EVERY: Duration = Duration::from_secs(5);

/// A running phase's transfers.
#[derive(Debug)]
pub(crate) struct Track {
    transfers: Transfers,
    started: Instant,
    /// Bytes changed since the last write.
    pub changed: bool,
}

impl Track {
    pub fn new() -> Track {
        Track {
            transfers: Transfers::default(),
            started: Instant::now(),
            changed: false,
        }
    }

    /// Takes an output line (a kando line marks the track changed).
    pub fn line(&mut self, line: &str) {
        self.changed |= self.transfers.line(line);
    }

    /// The phase's progress now (`done`: it completed).
    pub fn progress(&self, done: bool) -> PhaseProgress {
        progress_of(&self.transfers, self.started.elapsed(), done)
    }
}

/// Phases' tracks by action index and phase name.
pub(crate) type Tracks = HashMap<(usize, String), Track>;

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A phase's progress from its transfers after `elapsed`.
fn progress_of(t: &Transfers, elapsed: Duration, done: bool) -> PhaseProgress {
    let up = t.flow(Direction::Sent);
    let down = t.flow(Direction::Received);
    let flows: Vec<Flow> = [up, down]
        .into_iter()
        .filter(|f| f.bytes > 0 || f.expected.is_some())
        .collect();
    let bytes: u64 = flows.iter().map(|f| f.bytes).sum();
    let expected: Option<u64> = if flows.is_empty() {
        None
    } else {
        flows.iter().map(|f| f.expected).sum()
    };
    let (percent, eta) = match expected {
        _ if done => (100, 0),
        Some(e) if e > 0 => {
            let pct = (bytes.saturating_mul(100) / e).min(99);
            let eta = if bytes > 0 && e > bytes {
                let secs = elapsed.as_secs_f64() * (e - bytes) as f64 / bytes as f64;
                secs.ceil() as i64
            } else {
                0
            };
            (pct, eta)
        }
        _ => (0, 0),
    };
    PhaseProgress {
        progress_percent: percent.to_string(),
        size_downloaded_b: as_i64(down.bytes),
        size_uploaded_b: as_i64(up.bytes),
        estimated_download_size_b: as_i64(down.expected.unwrap_or(0)),
        estimated_upload_size_b: as_i64(up.expected.unwrap_or(0)),
        estimated_time_seconds: eta,
        last_transition_time: Some(now()),
    }
}

/// A phase that has started or ended without a track (0 or 100).
pub(crate) fn plain(done: bool) -> PhaseProgress {
    progress_of(&Transfers::default(), Duration::ZERO, done)
}

/// `status.progress` from the phases: the mean percent, summed bytes.
pub(crate) fn refresh_total(st: &mut ActionSetStatus) {
    let phases: Vec<&PhaseProgress> = st
        .actions
        .iter()
        .flat_map(|a| a.phases.iter().map(|p| &p.progress))
        .collect();
    if phases.is_empty() {
        return;
    }
    let sum: u64 = phases
        .iter()
        .map(|p| p.progress_percent.parse::<u64>().unwrap_or(0))
        .sum();
    let all = st
        .actions
        .iter()
        .flat_map(|a| a.phases.iter().chain(a.defer_phase.as_ref()))
        .map(|p| &p.progress);
    let p = &mut st.progress;
    p.percent_completed = (sum / phases.len() as u64).to_string();
    (
        p.size_uploaded_b,
        p.size_downloaded_b,
        p.estimated_upload_size_b,
        p.estimated_download_size_b,
    ) = (0, 0, 0, 0);
    for q in all {
        p.size_uploaded_b += q.size_uploaded_b;
        p.size_downloaded_b += q.size_downloaded_b;
        p.estimated_upload_size_b += q.estimated_upload_size_b;
        p.estimated_download_size_b += q.estimated_download_size_b;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kapsel_api::{ActionStatus, Phase};

    #[test]
    fn percent_and_eta_from_the_rate() {
        let mut t = Transfers::default();
        t.line("kando: progress 250 bytes sent of 1000");
        let p = progress_of(&t, Duration::from_secs(10), false);
        assert_eq!(p.progress_percent, "25");
        assert_eq!((p.size_uploaded_b, p.estimated_upload_size_b), (250, 1000));
        // 250 bytes in 10 s: 750 more take 30 s.
        assert_eq!(p.estimated_time_seconds, 30);
        // Never 100 before the phase completes.
        t.line("kando: progress 1000 bytes sent of 1000");
        assert_eq!(
            progress_of(&t, Duration::from_secs(1), false).progress_percent,
            "99"
        );
        let d = progress_of(&t, Duration::from_secs(1), true);
        assert_eq!(
            (d.progress_percent.as_str(), d.estimated_time_seconds),
            ("100", 0)
        );
        // Unknown totals: bytes, no percent.
        let mut u = Transfers::default();
        u.line("kando: progress 42 bytes received");
        let p = progress_of(&u, Duration::from_secs(1), false);
        assert_eq!(
            (p.progress_percent.as_str(), p.size_downloaded_b),
            ("0", 42)
        );
        assert_eq!(plain(false).progress_percent, "0");
    }

    #[test]
    fn totals_are_the_mean_and_the_sums() {
        let phase = |pct: &str, up: i64| Phase {
            name: "p".into(),
            progress: PhaseProgress {
                progress_percent: pct.into(),
                size_uploaded_b: up,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut st = ActionSetStatus {
            actions: vec![
                ActionStatus {
                    phases: vec![phase("100", 10), phase("50", 5)],
                    ..Default::default()
                },
                ActionStatus {
                    phases: vec![phase("0", 0)],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        refresh_total(&mut st);
        assert_eq!(st.progress.percent_completed, "50");
        assert_eq!(st.progress.size_uploaded_b, 15);
    }
}
