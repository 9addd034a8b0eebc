//! Kapsel's deduplicating, encrypted backup repository (being built; see docs/format.md).
