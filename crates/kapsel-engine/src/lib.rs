//! The execution engine: runs one action of a Blueprint on an object, phase by
//! phase, the way Kanister's controller does, on a platform.
//!
//! Started in this state: [`output`], the parser that collects the values
//! functions hand to later phases (`kando output KEY VALUE` markers in a
//! command's stdout). The phase runner, the `Function` and `Platform` traits and
//! the local platform come next (see the issue notes).
//!
//! Must never depend on kube-client, object_store or a concrete platform.

pub mod output;

pub use output::{OutputError, OutputParser, PHASE_OUTPUT_MARKER};
