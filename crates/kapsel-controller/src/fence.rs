//! The platform the engine runs actions on, fenced by the leadership term:
//! every operation (exec, task pod, scale, KubeOps...) is refused once the
//! term has ended, and one under way is dropped (its task pod deleted, its
//! exec stream closed) the moment it ends. The runs are aborted too
//! (run.rs); this is the second line: whatever a run was doing when the
//! process was frozen cannot take one more step after it resumes.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kapsel_engine::platform::{
    BoxFuture, ExecSpec, Exit, KubeApi, MultiContainerSpec, OutputSink, Platform, PlatformError,
    ResourceRef, ScaleSpec, TaskSpec,
};
use kapsel_platform_k8s::KubePlatform;

use crate::leader::{Term, while_valid};

/// [`KubePlatform`] under a leadership [`Term`].
#[derive(Clone)]
pub(crate) struct FencedPlatform {
    inner: KubePlatform,
    term: Term,
}

impl FencedPlatform {
    pub fn new(inner: KubePlatform, term: Term) -> FencedPlatform {
        FencedPlatform { inner, term }
    }
}

/// The error of an operation refused or stopped by the fence.
fn fenced() -> PlatformError {
    PlatformError::Other(
        "this controller is no longer the leader (its lease was not renewed in time): stopped; the new leader takes over"
            .to_string(),
    )
}

async fn guard<T>(
    term: &Term,
    op: impl Future<Output = Result<T, PlatformError>>,
) -> Result<T, PlatformError> {
    while_valid(term, op).await.unwrap_or_else(|| Err(fenced()))
}

impl Platform for FencedPlatform {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn exec<'a>(
        &'a self,
        spec: &'a ExecSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.exec(spec, sink)))
    }

    fn task<'a>(
        &'a self,
        spec: &'a TaskSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.task(spec, sink)))
    }

    fn multi_container<'a>(
        &'a self,
        spec: &'a MultiContainerSpec,
        background: &'a mut dyn OutputSink,
        output: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<Exit, PlatformError>> {
        Box::pin(guard(
            &self.term,
            self.inner.multi_container(spec, background, output),
        ))
    }

    fn scale<'a>(
        &'a self,
        spec: &'a ScaleSpec,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<i32, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.scale(spec, sink)))
    }

    fn pod_volumes<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, String>, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.pod_volumes(namespace, pod)))
    }

    fn volume_path<'a>(
        &'a self,
        namespace: &'a str,
        claim: &'a str,
        mount_path: &'a str,
    ) -> BoxFuture<'a, Result<String, PlatformError>> {
        Box::pin(guard(
            &self.term,
            self.inner.volume_path(namespace, claim, mount_path),
        ))
    }

    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Secret, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.secret(namespace, name)))
    }

    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<ConfigMap, PlatformError>> {
        Box::pin(guard(&self.term, self.inner.config_map(namespace, name)))
    }

    fn kube(&self) -> Option<&dyn KubeApi> {
        self.inner.kube().map(|_| self as &dyn KubeApi)
    }
}

impl KubeApi for FencedPlatform {
    fn create<'a>(
        &'a self,
        object: &'a serde_json::Value,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<(ResourceRef, serde_json::Value), PlatformError>> {
        Box::pin(async move {
            let api = self.inner.kube().ok_or_else(fenced)?;
            guard(&self.term, api.create(object, namespace)).await
        })
    }

    fn get<'a>(
        &'a self,
        object: &'a ResourceRef,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>> {
        Box::pin(async move {
            let api = self.inner.kube().ok_or_else(fenced)?;
            guard(&self.term, api.get(object)).await
        })
    }

    fn patch<'a>(
        &'a self,
        object: &'a ResourceRef,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>> {
        Box::pin(async move {
            let api = self.inner.kube().ok_or_else(fenced)?;
            guard(&self.term, api.patch(object, patch)).await
        })
    }

    fn delete<'a>(&'a self, object: &'a ResourceRef) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let api = self.inner.kube().ok_or_else(fenced)?;
            guard(&self.term, api.delete(object)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_ended_term_refuses_and_stops_operations() {
        let term = Term::unbounded();
        let ok = guard(&term, async { Ok::<_, PlatformError>(1) }).await;
        assert_eq!(ok, Ok(1));
        let t2 = term.clone();
        let stuck = tokio::spawn(async move {
            guard(&t2, std::future::pending::<Result<(), PlatformError>>()).await
        });
        term.end();
        let e = stuck.await.unwrap().unwrap_err();
        assert!(e.to_string().contains("no longer the leader"), "{e}");
        let refused = guard(&term, async { Ok::<_, PlatformError>(1) }).await;
        assert!(refused.is_err());
    }
}
