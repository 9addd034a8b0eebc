//! Kapsel's shared test support, for the tests of every crate (a
//! dev-dependency only: no product crate depends on it, which
//! crates/kapsel-cli/tests/architecture.rs checks).
//!
//! - [`skip`]: the one way a test says it was skipped (a server or tool is
//!   missing): straight to stderr, or a failure when `KAPSEL_*_TESTS=1`.
//! - [`objstore`]: SeaweedFS (S3), Azurite (Azure Blob) and fake-gcs-server
//!   (GCS) on 127.0.0.1, and the Profiles that point at them or at a
//!   directory.
//! - [`db`]: PostgreSQL, MariaDB, Redis and etcd from the host's packages.
//! - [`tree`]: a directory tree with every file type, and its description
//!   for comparing a restore with the original.
//! - [`kapsel`]: the built `kapsel` and `kando`, `kapsel run`, the
//!   `testdata/local/` Profile and inventories.
//! - [`users`]: a program copied where another user (`nobody`) can run it.
//! - [`net`], [`fixtures`]: ports, one-shot HTTP, finding programs, the
//!   repository root, passwords, base64.
//!
//! The Kubernetes cluster harness is not here: it is crates/kapsel-e2e.
//! Helpers that need a crate's own binary (`env!("CARGO_BIN_EXE_…")`) stay
//! in that crate's `tests/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    clippy::must_use_candidate
)]

pub mod db;
pub mod fixtures;
pub mod kapsel;
pub mod net;
pub mod objstore;
pub mod skip;
pub mod tree;
pub mod users;
