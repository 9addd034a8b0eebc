//! The controller's Prometheus metrics (`/metrics` on `--metrics-addr`,
//! docs/controller.md "Metrics and probes").
//!
//! Kanister's one metric, counted as Kanister counts it
//! (`pkg/controller/controller.go`, kanister-k8s.md §6.5):
//! `kanister_action_set_resolutions_total{resolution="success"|"failure"}`,
//! both series present from the start at 0, incremented **once per
//! action**: `failure` when the action's setup fails (its request cannot
//! be built) or a phase or the deferPhase fails (cancellation and
//! deadlines included), `success` when every phase and the deferPhase
//! completed, even if rendering the output artifacts then fails the set.
//!
//! Kapsel's:
//! - `kapsel_actionsets_finished_total{state="complete"|"failed"}`: every
//!   final state this process writes (a run's end, a failed start, an
//!   orphan failed after a restart);
//! - `kapsel_actions_running`, `kapsel_actions_queued` (waiting for a
//!   `--concurrency` slot; their ActionSets stay `pending`);
//! - `kapsel_phase_duration_seconds{function, outcome}` (histogram; the
//!   deferPhase included; outcome `complete|failed|timedOut|cancelled`);
//! - `kapsel_data_bytes_total{function, measure}`: what data functions
//!   report in their outputs. Only `BackupData` reports byte counts today:
//!   `size` (bytes read from the workload, `measure="read"`) and `phySize`
//!   (bytes added to the repository after deduplication and compression,
//!   `measure="stored"`). Restores, `BackupDataAll`, `CopyVolumeData` and
//!   `kando` run by a KubeTask report none, so they are not counted;
//! - `kapsel_webhook_reviews_total{resource, verdict}` (`allowed|denied|
//!   invalid`);
//! - `kapsel_build_info{version}`.
//!
//! **Why prometheus-client:** the Prometheus project's own Rust client;
//! explicit registries (no process-global state, so tests get their own),
//! typed label sets, and nothing but the text encoder compiled in (the
//! `prometheus` crate pulls protobuf and a global default registry).
//! It writes the OpenMetrics text format, which Prometheus reads; sample
//! names are Prometheus's (`..._total`, `..._bucket`).

use std::collections::HashMap;
use std::sync::Arc;

use kapsel_engine::{Event, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Phase-duration buckets, in seconds: phases last from milliseconds
/// (KubeOps) to hours (a large backup).
const PHASE_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Resolution {
    resolution: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Finished {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    function: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    function: String,
    measure: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReviewLabels {
    resource: &'static str,
    verdict: &'static str,
}

#[derive(Clone)]
struct PhaseHistogram;

impl MetricConstructor<Histogram> for PhaseHistogram {
    fn new_metric(&self) -> Histogram {
        Histogram::new(PHASE_BUCKETS)
    }
}

/// The metrics of one controller process.
pub struct Metrics {
    registry: Registry,
    resolutions: Family<Resolution, Counter>,
    finished: Family<Finished, Counter>,
    running: Gauge,
    queued: Gauge,
    phase_duration: Family<PhaseLabels, Histogram, PhaseHistogram>,
    data_bytes: Family<BytesLabels, Counter>,
    reviews: Family<ReviewLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered; Kanister's two series and the finished
    /// states at 0.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let resolutions = Family::<Resolution, Counter>::default();
        registry.register(
            "kanister_action_set_resolutions",
            "Total number of action set resolutions",
            resolutions.clone(),
        );
        for resolution in ["success", "failure"] {
            let _ = resolutions.get_or_create(&Resolution { resolution });
        }
        let finished = Family::<Finished, Counter>::default();
        registry.register(
            "kapsel_actionsets_finished",
            "ActionSets this controller process ended, by final state",
            finished.clone(),
        );
        for state in ["complete", "failed"] {
            let _ = finished.get_or_create(&Finished { state });
        }
        let running = Gauge::default();
        registry.register(
            "kapsel_actions_running",
            "Actions running now",
            running.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "kapsel_actions_queued",
            "Actions waiting for a --concurrency slot (their ActionSets stay pending)",
            queued.clone(),
        );
        let phase_duration =
            Family::<PhaseLabels, Histogram, PhaseHistogram>::new_with_constructor(PhaseHistogram);
        registry.register_with_unit(
            "kapsel_phase_duration",
            "How long phases ran, by function and outcome (deferPhases included)",
            Unit::Seconds,
            phase_duration.clone(),
        );
        let data_bytes = Family::<BytesLabels, Counter>::default();
        registry.register_with_unit(
            "kapsel_data",
            "Bytes data functions reported in their outputs (BackupData: size read, phySize stored)",
            Unit::Bytes,
            data_bytes.clone(),
        );
        let reviews = Family::<ReviewLabels, Counter>::default();
        registry.register(
            "kapsel_webhook_reviews",
            "Admission reviews the validating webhook answered, by resource and verdict",
            reviews.clone(),
        );
        registry.register(
            "kapsel_build",
            "The kapsel build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            resolutions,
            finished,
            running,
            queued,
            phase_duration,
            data_bytes,
            reviews,
        }
    }

    /// The metrics in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// One action resolved, as Kanister counts it.
    pub fn resolution(&self, success: bool) {
        let resolution = if success { "success" } else { "failure" };
        self.resolutions
            .get_or_create(&Resolution { resolution })
            .inc();
    }

    /// Kanister's resolution of one action's result: every phase and the
    /// deferPhase completed (the output artifacts do not count; an action
    /// that never ran, e.g. whose functions did not resolve, failed).
    pub fn resolved(&self, r: &kapsel_engine::ActionResult) {
        let phases: Vec<_> = r.phases.iter().chain(r.defer_phase.as_ref()).collect();
        let ran = r.outcome == Outcome::Complete || !phases.is_empty();
        let complete = ran && phases.iter().all(|p| p.outcome == Some(Outcome::Complete));
        self.resolution(complete);
    }

    /// An ActionSet ended `complete` or `failed`.
    pub fn finished(&self, complete: bool) {
        let state = if complete { "complete" } else { "failed" };
        self.finished.get_or_create(&Finished { state }).inc();
    }

    /// `n` actions wait for slots until the guard is dropped.
    pub fn queued(self: &Arc<Self>, n: usize) -> GaugeGuard {
        GaugeGuard::new(self.queued.clone(), n)
    }

    /// `n` actions run until the guard is dropped.
    pub fn running(self: &Arc<Self>, n: usize) -> GaugeGuard {
        GaugeGuard::new(self.running.clone(), n)
    }

    /// The validating webhook answered a review of `resource`.
    pub fn review(&self, resource: &'static str, verdict: &'static str) {
        self.reviews
            .get_or_create(&ReviewLabels { resource, verdict })
            .inc();
    }
}

/// Adds to a gauge while alive.
#[derive(Debug)]
pub struct GaugeGuard {
    gauge: Gauge,
    n: i64,
}

impl GaugeGuard {
    fn new(gauge: Gauge, n: usize) -> GaugeGuard {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        gauge.inc_by(n);
        GaugeGuard { gauge, n }
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.gauge.dec_by(self.n);
    }
}

/// Follows one action's events: phase durations by function, and the
/// bytes data functions report.
pub(crate) struct ActionObserver {
    metrics: Arc<Metrics>,
    /// Function of each started phase, by phase name.
    funcs: HashMap<String, String>,
}

impl ActionObserver {
    pub fn new(metrics: Arc<Metrics>) -> ActionObserver {
        ActionObserver {
            metrics,
            funcs: HashMap::new(),
        }
    }

    pub fn event(&mut self, e: &Event) {
        match e {
            Event::PhaseStarted { phase, func, .. } => {
                self.funcs.insert(phase.clone(), func.clone());
            }
            Event::PhaseEnded {
                phase,
                outcome,
                duration,
                output,
                ..
            } => {
                let function = self.funcs.get(phase).cloned().unwrap_or_default();
                let outcome = match outcome {
                    Outcome::Complete => "complete",
                    Outcome::Failed => "failed",
                    Outcome::TimedOut => "timedOut",
                    Outcome::Cancelled => "cancelled",
                };
                self.metrics
                    .phase_duration
                    .get_or_create(&PhaseLabels {
                        function: function.clone(),
                        outcome,
                    })
                    .observe(duration.as_secs_f64());
                if function == "BackupData" {
                    for (key, measure) in [("size", "read"), ("phySize", "stored")] {
                        let bytes = output
                            .get(key)
                            .and_then(|v| {
                                v.as_str()
                                    .map(str::to_string)
                                    .or(v.as_u64().map(|n| n.to_string()))
                            })
                            .and_then(|s| s.parse::<u64>().ok());
                        if let Some(b) = bytes {
                            self.metrics
                                .data_bytes
                                .get_or_create(&BytesLabels {
                                    function: function.clone(),
                                    measure,
                                })
                                .inc_by(b);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn kanister_series_exist_at_zero() {
        let m = Metrics::new();
        let text = m.encode();
        assert!(text.contains("kanister_action_set_resolutions_total{resolution=\"success\"} 0\n"));
        assert!(text.contains("kanister_action_set_resolutions_total{resolution=\"failure\"} 0\n"));
        // prometheus-client ends every help text with a period.
        assert!(text.contains(
            "# HELP kanister_action_set_resolutions Total number of action set resolutions.\n"
        ));
    }

    #[test]
    fn a_scrape_after_some_work() {
        let m = Arc::new(Metrics::new());
        m.resolution(true);
        m.resolution(false);
        m.resolution(true);
        m.finished(true);
        let _q = m.queued(2);
        {
            let _r = m.running(3);
        }
        let _r = m.running(1);
        let mut o = ActionObserver::new(m.clone());
        o.event(&Event::PhaseStarted {
            phase: "dump".into(),
            func: "BackupData".into(),
            defer: false,
        });
        let mut output = kapsel_engine::function::Outputs::new();
        output.insert("size".into(), "1536".into());
        output.insert("phySize".into(), "512".into());
        o.event(&Event::PhaseEnded {
            phase: "dump".into(),
            outcome: Outcome::Complete,
            duration: Duration::from_millis(3200),
            error: None,
            output,
        });
        m.review("blueprints", "denied");
        let text = m.encode().replace(env!("CARGO_PKG_VERSION"), "[version]");
        insta::assert_snapshot!(sorted(&text));
    }

    /// The text with each family's samples sorted (a family's series come
    /// in hash order).
    fn sorted(text: &str) -> String {
        let mut out = Vec::new();
        let mut samples: Vec<&str> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                samples.sort();
                out.append(&mut samples);
                out.push(line);
            } else {
                samples.push(line);
            }
        }
        samples.sort();
        out.append(&mut samples);
        out.join("\n")
    }
}
