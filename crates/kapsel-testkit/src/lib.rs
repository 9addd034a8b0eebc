//! Kapsel's shared test support, for the tests of every crate (a
//! dev-dependency only: no product crate depends on it, which
//! crates/kapsel-cli/tests/architecture.rs checks).
//!
//! - [`tree`]: a directory tree with every file type, and its description
//!   for comparing a restore with the original.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    clippy::must_use_candidate
)]

pub mod tree;
