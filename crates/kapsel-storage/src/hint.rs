//! A thin `ObjectStore` wrapper that turns "the bucket does not exist"
//! answers into one clear error naming the bucket and what to do.
//!
//! Without it, S3's `NoSuchBucket` on a GET is an ordinary "not found" and the
//! repository layer would report "no repository here", which sends the user
//! looking in the wrong place. Every other call and error passes through
//! unchanged.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// The error the wrapper returns for a missing bucket or container.
#[derive(Debug, thiserror::Error)]
#[error(
    "{what} {bucket:?} does not exist at {at} (the server answered {code}): create it, or correct Location.bucket in the Profile"
)]
pub struct BucketMissing {
    /// "bucket" or "container".
    pub what: &'static str,
    /// Its name.
    pub bucket: String,
    /// The endpoint or service.
    pub at: String,
    /// The server's error code.
    pub code: &'static str,
}

/// Error codes that mean "no such bucket/container", by backend.
const CODES: &[&str] = &["NoSuchBucket", "ContainerNotFound"];

#[derive(Debug)]
pub(crate) struct BucketHint {
    pub(crate) inner: Arc<dyn ObjectStore>,
    pub(crate) what: &'static str,
    pub(crate) bucket: String,
    pub(crate) at: String,
}

impl std::fmt::Display for BucketHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

/// The whole chain of an error as text.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push('\n');
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl BucketHint {
    fn map(&self, e: object_store::Error) -> object_store::Error {
        map_err(e, self.what, &self.bucket, &self.at)
    }
}

fn map_err(
    e: object_store::Error,
    what: &'static str,
    bucket: &str,
    at: &str,
) -> object_store::Error {
    let text = chain(&e);
    match CODES.iter().find(|c| text.contains(*c)) {
        Some(code) => object_store::Error::Generic {
            store: "kapsel-storage",
            source: Box::new(BucketMissing {
                what,
                bucket: bucket.to_string(),
                at: at.to_string(),
                code,
            }),
        },
        None => e,
    }
}

#[async_trait::async_trait]
impl ObjectStore for BucketHint {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner
            .put_opts(location, payload, opts)
            .await
            .map_err(|e| self.map(e))
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner
            .put_multipart_opts(location, opts)
            .await
            .map_err(|e| self.map(e))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner
            .get_opts(location, options)
            .await
            .map_err(|e| self.map(e))
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner
            .get_ranges(location, ranges)
            .await
            .map_err(|e| self.map(e))
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let (what, bucket, at) = (self.what, self.bucket.clone(), self.at.clone());
        self.inner
            .delete_stream(locations)
            .map(move |r| r.map_err(|e| map_err(e, what, &bucket, &at)))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let (what, bucket, at) = (self.what, self.bucket.clone(), self.at.clone());
        self.inner
            .list(prefix)
            .map(move |r| r.map_err(|e| map_err(e, what, &bucket, &at)))
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let (what, bucket, at) = (self.what, self.bucket.clone(), self.at.clone());
        self.inner
            .list_with_offset(prefix, offset)
            .map(move |r| r.map_err(|e| map_err(e, what, &bucket, &at)))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| self.map(e))
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner
            .copy_opts(from, to, options)
            .await
            .map_err(|e| self.map(e))
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner
            .rename_opts(from, to, options)
            .await
            .map_err(|e| self.map(e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn only_missing_buckets_are_rewritten() {
        let e = object_store::Error::NotFound {
            path: "p/config".into(),
            source: "404 <Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        let m = map_err(e, "bucket", "b1", "http://127.0.0.1:1").to_string();
        assert!(
            m.contains("\"b1\" does not exist at http://127.0.0.1:1")
                && m.contains("Location.bucket"),
            "{m}"
        );
        let e = object_store::Error::NotFound {
            path: "p/config".into(),
            source: "404 <Error><Code>NoSuchKey</Code></Error>".into(),
        };
        assert!(matches!(
            map_err(e, "bucket", "b1", "x"),
            object_store::Error::NotFound { .. }
        ));
    }
}
