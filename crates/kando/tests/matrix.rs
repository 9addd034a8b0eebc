#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 4's round-trip matrix through `kando location` on the backends
//! other test files do not already cover with [`roundtrips`]: the
//! filesystem and S3 (SeaweedFS on 127.0.0.1). Azure runs the same in
//! azure.rs; directory trees with every file type run on all three in
//! data.rs.
//!
//! S3 skips (loudly) without `weed`, unless `KAPSEL_S3_TESTS=1`.

mod support;
use support::*;

#[test]
fn filesystem_round_trips() {
    let dir = scratch_dir();
    roundtrips(&fs_profile(&dir.path().join("repo"), ""), "filesystem");
}

#[test]
fn s3_round_trips() {
    let Some(w) = start_weed() else { return };
    roundtrips(&s3_profile(w.port, "kapsel-test", "matrix"), "s3");
}
