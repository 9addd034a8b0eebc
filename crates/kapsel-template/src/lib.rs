//! A Go `text/template`-compatible template engine.
//!
//! Depends on `kapsel-govalue` (values, Go formatting) and `kapsel-sprig` (the
//! default function library); knows nothing of Kanister or Kubernetes.

pub use kapsel_govalue::{Type, Value};
