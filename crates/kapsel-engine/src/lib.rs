//! The execution engine: runs one action of a Blueprint on an object, phase by
//! phase, the way Kanister's controller does, on a [`Platform`].
//!
//! - [`runner::run_action`]: objects, phases in order, the defer phase always,
//!   output artifacts; deadlines per phase and per action; cancellation;
//!   [`runner::run_defer_phase`]: the defer phase alone, after a takeover.
//! - [`Function`] and [`Registry`]: the function library (every Kanister
//!   function; those needing Kubernetes, CSI or RDS fail with an error naming
//!   the platform), resolved at a version and checked against the catalog's
//!   argument specs (the same ones `kapsel blueprint validate` uses).
//! - [`Platform`]: where functions run (the local host, later Kubernetes).
//! - [`Event`]: what happens, as a stream of typed events, redacted.
//! - [`output`]: the phase-output marker parser.
//! - [`progress`]: bytes a phase moves, from kando's progress lines.
//! - [`actionset`]: requests from a Kanister ActionSet's actions and the
//!   status Kanister writes for their results (`kapsel run --actionset` and
//!   the controller share it).
//!
//! Must never depend on kube-client, object_store or a concrete platform.

pub mod actionset;
pub mod event;
pub mod function;
pub mod functions;
pub mod launcher;
pub mod output;
pub mod platform;
pub mod podspec;
pub mod progress;
pub mod runner;

pub use event::{Event, EventSink, LogStream, Outcome};
pub use function::{Function, FunctionError, ObjectInfo, PodOptions, Registry};
pub use output::{OutputError, OutputParser, PHASE_OUTPUT_MARKER};
pub use platform::{
    BoxFuture, ContainerCommand, ExecSpec, Exit, KubeApi, MultiContainerSpec, OutputSink, Platform,
    PlatformError, ResourceRef, ScaleSpec, Stdin, Stream, TaskSpec, VolumeMount,
};
pub use runner::{
    ACTION_TIMEOUT_OPTION, ActionRequest, ActionResult, PHASE_TIMEOUT_OPTION, PhaseResult,
    parse_duration, run_action, run_defer_phase,
};
