//! A store that holds one operation until the test lets it go on: the
//! `nth` GET or PUT whose path contains a needle. Tests use it to stop one
//! process at an exact point while others run.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::ops::Range;
use tokio::sync::Semaphore;

/// Which operation to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
}

pub struct Gate {
    inner: Arc<dyn ObjectStore>,
    rule: Mutex<Option<(Op, String, usize)>>,
    reached: Semaphore,
    release: Semaphore,
}

impl Gate {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Gate> {
        Arc::new(Gate {
            inner,
            rule: Mutex::new(None),
            reached: Semaphore::new(0),
            release: Semaphore::new(0),
        })
    }
    /// Hold the `nth` `op` whose path contains `needle` (once).
    pub fn arm(&self, op: Op, needle: &str, nth: usize) {
        *self.rule.lock().unwrap() = Some((op, needle.to_string(), nth));
    }
    /// Wait until an operation is held.
    pub async fn reached(&self) {
        self.reached.acquire().await.unwrap().forget();
    }
    /// Let the held operation go on.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
    async fn hold_if_armed(&self, op: Op, path: &Path) {
        let hit = {
            let mut r = self.rule.lock().unwrap();
            match r.as_mut() {
                Some((o, needle, n)) if *o == op && path.as_ref().contains(needle.as_str()) => {
                    if *n <= 1 {
                        *r = None;
                        true
                    } else {
                        *n -= 1;
                        false
                    }
                }
                _ => false,
            }
        };
        if hit {
            self.reached.add_permits(1);
            self.release.acquire().await.unwrap().forget();
        }
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gate({})", self.inner)
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gate")
    }
}

#[async_trait::async_trait]
impl ObjectStore for Gate {
    async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
        self.hold_if_armed(Op::Put, l).await;
        self.inner.put_opts(l, p, o).await
    }
    async fn put_multipart_opts(
        &self,
        l: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(l, o).await
    }
    async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
        self.hold_if_armed(Op::Get, l).await;
        self.inner.get_opts(l, o).await
    }
    async fn get_ranges(&self, l: &Path, r: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(l, r).await
    }
    fn delete_stream(
        &self,
        l: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(l)
    }
    fn list(&self, p: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(p)
    }
    fn list_with_offset(
        &self,
        p: Option<&Path>,
        o: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(p, o)
    }
    async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(p).await
    }
    async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
        self.inner.copy_opts(f, t, o).await
    }
    async fn rename_opts(&self, f: &Path, t: &Path, o: RenameOptions) -> Result<()> {
        self.inner.rename_opts(f, t, o).await
    }
}
