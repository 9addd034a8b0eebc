//! Generic object access for KubeOps, Wait, WaitV2 and the CSI functions:
//! objects as JSON through the dynamic API, as client-go's dynamic client
//! serves Kanister.

use kapsel_engine::platform::{BoxFuture, KubeApi, PlatformError, ResourceRef};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::{Scope, pinned_kind};

use crate::KubePlatform;
use crate::error::{KubeError, api_error};

/// The field manager Kapsel's writes are recorded under.
const FIELD_MANAGER: &str = "kapsel";

fn api_resource(r: &ResourceRef) -> ApiResource {
    ApiResource {
        group: r.group.clone(),
        version: r.version.clone(),
        api_version: if r.group.is_empty() {
            r.version.clone()
        } else {
            format!("{}/{}", r.group, r.version)
        },
        kind: r.kind.clone(),
        plural: r.resource.clone(),
    }
}

fn api_for(p: &KubePlatform, r: &ResourceRef) -> Api<DynamicObject> {
    let ar = api_resource(r);
    if r.namespace.is_empty() {
        Api::all_with(p.client.clone(), &ar)
    } else {
        Api::namespaced_with(p.client.clone(), &r.namespace, &ar)
    }
}

fn to_json(o: &DynamicObject) -> Result<serde_json::Value, KubeError> {
    serde_json::to_value(o).map_err(|e| KubeError::Other(format!("cannot encode an object: {e}")))
}

fn err(e: kube::Error, verb: &str, r: &ResourceRef) -> KubeError {
    let kind = if r.kind.is_empty() {
        r.resource.as_str()
    } else {
        r.kind.as_str()
    };
    api_error(e, verb, kind, &r.resource, &r.namespace, &r.name)
}

impl KubePlatform {
    async fn create_object(
        &self,
        object: &serde_json::Value,
        namespace: &str,
    ) -> Result<(ResourceRef, serde_json::Value), KubeError> {
        let field = |k: &str| object.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        if api_version.is_empty() || kind.is_empty() {
            return Err(KubeError::Other(
                "the object to create has no apiVersion or kind".to_string(),
            ));
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| match &e {
                kube::Error::Api(s) if s.code == 404 => KubeError::Other(format!(
                    "the cluster serves no kind {kind} in {api_version} (`kubectl api-resources`)"
                )),
                _ => KubeError::Api {
                    what: format!("cannot look up the API resource of {kind} ({api_version})"),
                    source: e,
                },
            })?;
        let mut obj: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| KubeError::Other(format!("the object to create is not valid: {e}")))?;
        let namespaced = caps.scope == Scope::Namespaced;
        let ns = match obj.metadata.namespace.as_deref() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => namespace.to_string(),
        };
        let r = ResourceRef {
            version: ar.version.clone(),
            group: ar.group.clone(),
            resource: ar.plural.clone(),
            kind: ar.kind.clone(),
            name: obj
                .metadata
                .name
                .clone()
                .or_else(|| obj.metadata.generate_name.clone())
                .unwrap_or_default(),
            namespace: if namespaced { ns } else { String::new() },
        };
        if namespaced {
            obj.metadata.namespace = Some(r.namespace.clone());
        } else {
            obj.metadata.namespace = None;
        }
        let pp = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let created = api_for(self, &r)
            .create(&pp, &obj)
            .await
            .map_err(|e| err(e, "create", &r))?;
        let out = ResourceRef {
            name: created.metadata.name.clone().unwrap_or_default(),
            namespace: created.metadata.namespace.clone().unwrap_or_default(),
            ..r
        };
        Ok((out, to_json(&created)?))
    }

    async fn patch_object(
        &self,
        r: &ResourceRef,
        patch: &serde_json::Value,
    ) -> Result<serde_json::Value, KubeError> {
        let api = api_for(self, r);
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let res = match api.patch(&r.name, &pp, &Patch::Strategic(patch)).await {
            // Custom resources do not support strategic merge (415): a JSON
            // merge patch is what `kubectl patch` falls back to for them.
            Err(kube::Error::Api(s)) if s.code == 415 => {
                api.patch(&r.name, &pp, &Patch::Merge(patch)).await
            }
            other => other,
        };
        to_json(&res.map_err(|e| err(e, "patch", r))?)
    }
}

impl KubeApi for KubePlatform {
    fn create<'a>(
        &'a self,
        object: &'a serde_json::Value,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<(ResourceRef, serde_json::Value), PlatformError>> {
        Box::pin(async move { Ok(self.create_object(object, namespace).await?) })
    }

    fn get<'a>(
        &'a self,
        object: &'a ResourceRef,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>> {
        Box::pin(async move {
            let o = api_for(self, object)
                .get(&object.name)
                .await
                .map_err(|e| err(e, "get", object))?;
            Ok(to_json(&o)?)
        })
    }

    fn patch<'a>(
        &'a self,
        object: &'a ResourceRef,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, PlatformError>> {
        Box::pin(async move { Ok(self.patch_object(object, patch).await?) })
    }

    fn delete<'a>(&'a self, object: &'a ResourceRef) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            api_for(self, object)
                .delete(&object.name, &DeleteParams::background())
                .await
                .map_err(|e| err(e, "delete", object))?;
            Ok(())
        })
    }
}
