//! A running backup's or restore's byte counts, shared with whoever reports
//! them (kando's `kando: progress` lines, a terminal bar).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes moved so far and, once known, how many are expected. Clones share
/// the counts. Backups count the source's bytes as the store acknowledges
/// the packs that hold them (a tree backup's expected total is the files'
/// sizes at the walk); restores count the bytes written (the expected
/// total is the snapshot's size).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
}

impl Progress {
    /// Counts starting at zero, no total yet.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Adds `n` bytes moved.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the bytes expected.
    pub fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
    }

    /// Bytes moved so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Bytes expected, when known (a stream read from a pipe has none).
    pub fn total(&self) -> Option<u64> {
        match self.total.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_counts() {
        let p = Progress::new();
        let q = p.clone();
        assert_eq!(p.total(), None);
        q.add(5);
        q.add(7);
        q.set_total(100);
        assert_eq!((p.done(), p.total()), (12, Some(100)));
    }
}
