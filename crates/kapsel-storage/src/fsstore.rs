//! The filesystem store, with errors that say what failed.
//!
//! object_store's `LocalFileSystem` publishes an object by renaming (or, for
//! create-if-absent, hard-linking) its staging file into place and then, with
//! fsync on, flushing the directory; a failure of either step comes back as
//! the same "Unable to rename file: <OS error>", without the path. Both
//! steps happen inside object_store, so the error itself cannot tell them
//! apart; this wrapper can: if the object was not there before the write and
//! is there after the failure, the rename or link succeeded and the fsync of
//! the directory failed. It says which, naming the directory and the OS
//! error. Every other call and error passes through unchanged.

use std::ops::Range;
use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// What failed when an object was published into a filesystem repository.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The object is in place, but flushing its directory failed.
    #[error(
        "fsync of directory {dir} failed after {file} was {how} into place: {os_error} (the object may not survive a power loss)"
    )]
    DirectoryFsync {
        /// "renamed" or "linked".
        how: &'static str,
        /// The directory.
        dir: String,
        /// The object's file.
        file: String,
        /// The operating system's error, as object_store reported it.
        os_error: String,
    },
    /// The object is not in place: the rename (or link) of its staging
    /// file failed, or, when an older copy was there, that or the fsync of
    /// the directory.
    #[error("{what} failed in directory {dir}: {os_error}")]
    Rename {
        /// Which step or steps.
        what: String,
        /// The directory.
        dir: String,
        /// The operating system's error, as object_store reported it.
        os_error: String,
    },
}

/// `LocalFileSystem` with fsync, and errors naming what failed (see the
/// module documentation). Built by [`crate::filesystem_store`].
#[derive(Debug)]
pub struct FsStore {
    inner: LocalFileSystem,
}

impl FsStore {
    pub(crate) fn new(inner: LocalFileSystem) -> FsStore {
        FsStore { inner }
    }
}

impl std::fmt::Display for FsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

const RENAME_MESSAGE: &str = "Unable to rename file: ";

/// The better error for a failed publish of `file`, if `e` is object_store's
/// rename error. `existed`: the file was there before the write; `exists`:
/// it is there now.
fn explain(
    e: object_store::Error,
    file: &std::path::Path,
    existed: bool,
    exists: bool,
    mode: &PutMode,
) -> object_store::Error {
    let text = e.to_string();
    let Some(at) = text.find(RENAME_MESSAGE) else {
        return e;
    };
    let os_error = text[at + RENAME_MESSAGE.len()..].to_string();
    let dir = file
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let publish = if matches!(mode, PutMode::Create) {
        "hard link"
    } else {
        "rename"
    };
    let err = if !existed && exists {
        PublishError::DirectoryFsync {
            how: if matches!(mode, PutMode::Create) {
                "linked"
            } else {
                "renamed"
            },
            dir,
            file: file.display().to_string(),
            os_error,
        }
    } else if !exists {
        PublishError::Rename {
            what: format!(
                "the {publish} of the staging file of {} into place",
                file.display()
            ),
            dir,
            os_error,
        }
    } else {
        PublishError::Rename {
            what: format!(
                "the {publish} of the staging file of {} over the existing file, or the fsync of its directory,",
                file.display()
            ),
            dir,
            os_error,
        }
    };
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(err),
    }
}

#[async_trait::async_trait]
impl ObjectStore for FsStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let file: Option<PathBuf> = self.inner.path_to_filesystem(location).ok();
        let existed = file.as_ref().is_some_and(|f| f.symlink_metadata().is_ok());
        let mode = opts.mode.clone();
        match self.inner.put_opts(location, payload, opts).await {
            Ok(r) => Ok(r),
            Err(e) => match file {
                Some(f) => {
                    let exists = f.symlink_metadata().is_ok();
                    Err(explain(e, &f, existed, exists, &mode))
                }
                None => Err(e),
            },
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn rename_error() -> object_store::Error {
        // What LocalFileSystem returns when a rename or the directory fsync
        // after it fails.
        object_store::Error::Generic {
            store: "LocalFileSystem",
            source: "Unable to rename file: Input/output error (os error 5)".into(),
        }
    }

    #[test]
    fn says_which_step_failed() {
        let f = std::path::Path::new("/r/data/ab/abcd");
        let m = explain(rename_error(), f, false, true, &PutMode::Overwrite).to_string();
        assert!(
            m.contains("fsync of directory /r/data/ab failed after /r/data/ab/abcd was renamed")
                && m.contains("Input/output error (os error 5)"),
            "{m}"
        );
        let m = explain(rename_error(), f, false, false, &PutMode::Create).to_string();
        assert!(
            m.contains("the hard link of the staging file of /r/data/ab/abcd into place failed in directory /r/data/ab: Input/output error"),
            "{m}"
        );
        let m = explain(rename_error(), f, true, true, &PutMode::Overwrite).to_string();
        assert!(m.contains("or the fsync of its directory"), "{m}");
        // Other errors pass through.
        let e = object_store::Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        };
        assert!(matches!(
            explain(e, f, false, false, &PutMode::Overwrite),
            object_store::Error::NotFound { .. }
        ));
    }
}
