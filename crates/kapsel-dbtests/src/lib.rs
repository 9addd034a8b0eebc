//! Tests of the database Blueprints (`blueprints/*.yaml`, and Kanister's own
//! published ones) against REAL PostgreSQL, MariaDB, Redis and etcd servers:
//! tests/sql.rs and tests/kv.rs; docs/databases.md.
//!
//! The harness they use (servers from the host's packages, the built
//! `kapsel`, `kapsel run`, the `testdata/local/` fixtures) is
//! `kapsel_testkit::db` and `kapsel_testkit::kapsel`: this crate holds the
//! tests only. When a server's binary is missing a test prints `SKIP` and
//! passes, unless `KAPSEL_DB_TESTS=1` (set in CI), when it fails.
