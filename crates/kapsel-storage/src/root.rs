//! Where in a Profile's location a repository lives.
//!
//! `kando location push|pull|delete` keep one repository at
//! `<prefix>/kapsel` ([`crate::REPO_DIR`], see [`crate::Backend::root`]);
//! `kando data` keeps one per `--path` at `<prefix>/<path>`
//! ([`data_repository_root`]). `kapsel repo` opens either.

use object_store::path::Path;

/// The root of the repository that `kando data --path PATH` uses:
/// `<Location.prefix>/<PATH>`. `None` when `path` has no segment or has a
/// `.` or `..` segment.
pub fn data_repository_root(prefix: &str, path: &str) -> Option<Path> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.is_empty() || segs.iter().any(|s| *s == ".." || *s == ".") {
        return None;
    }
    let mut root = Path::default();
    for seg in prefix.split('/').filter(|s| !s.is_empty()).chain(segs) {
        root = root.join(seg);
    }
    Some(root)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::data_repository_root;

    #[test]
    fn prefix_then_path() {
        assert_eq!(
            data_repository_root("pre/x", "pg/base").unwrap().as_ref(),
            "pre/x/pg/base"
        );
        assert_eq!(data_repository_root("", "/db/").unwrap().as_ref(), "db");
        assert!(data_repository_root("p", "a/../b").is_none());
        assert!(data_repository_root("p", "/").is_none());
    }
}
