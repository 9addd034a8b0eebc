//! Objects read from the cluster: Secrets, ConfigMaps, a pod's volumes, and
//! the template parameters of an ActionSet's object (Kanister's
//! `param.New`: `.Object`, and for workloads their running pods, containers
//! and PVC mounts).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kapsel_params::RenderParams;
use kapsel_params::file::Workload;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::discovery::{Discovery, Scope};
use serde::de::DeserializeOwned;

use crate::KubePlatform;
use crate::error::{KubeError, api_error};

/// A namespaced object of a well-known kind.
pub(crate) async fn get<K>(p: &KubePlatform, namespace: &str, name: &str) -> Result<K, KubeError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(p.client.clone(), namespace);
    let dt = K::DynamicType::default();
    api.get(name)
        .await
        .map_err(|e| api_error(e, "get", &K::kind(&dt), &K::plural(&dt), namespace, name))
}

/// PVC name → mount path of a pod (the first container mounting each).
pub(crate) async fn pod_volumes(
    p: &KubePlatform,
    namespace: &str,
    pod: &str,
) -> Result<BTreeMap<String, String>, KubeError> {
    let pod: Pod = get(p, namespace, pod).await?;
    Ok(volumes_of(&pod))
}

fn volumes_of(pod: &Pod) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(spec) = &pod.spec else {
        return out;
    };
    for v in spec.volumes.iter().flatten() {
        let Some(claim) = v.persistent_volume_claim.as_ref() else {
            continue;
        };
        let path = spec.containers.iter().find_map(|c| {
            c.volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == v.name)
                .map(|m| m.mount_path.clone())
        });
        if let Some(path) = path {
            out.insert(claim.claim_name.clone(), path);
        }
    }
    out
}

fn is_running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && p.metadata.deletion_timestamp.is_none()
}

/// Pods owned by `uid`, running, sorted by name.
async fn owned_pods(p: &KubePlatform, namespace: &str, uid: &str) -> Result<Vec<Pod>, KubeError> {
    let api: Api<Pod> = Api::namespaced(p.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(e, "list", "Pod", "pods", namespace, ""))?;
    let mut pods: Vec<Pod> = list
        .items
        .into_iter()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .filter(is_running)
        .collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(pods)
}

fn workload_of(pods: &[Pod]) -> Workload {
    let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
    Workload {
        pods: Some(pods.iter().map(name).collect()),
        containers: Some(
            pods.iter()
                .map(|p| {
                    Some(
                        p.spec
                            .iter()
                            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
                            .collect(),
                    )
                })
                .collect(),
        ),
        persistent_volume_claims: Some(
            pods.iter()
                .map(|p| (name(p), volumes_of(p)))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        ),
    }
}

fn to_map(
    v: impl serde::Serialize,
) -> Result<serde_json::Map<String, serde_json::Value>, KubeError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(KubeError::Other("an object is not a JSON object".into())),
        Err(e) => Err(KubeError::Other(format!("cannot encode an object: {e}"))),
    }
}

/// The API resource of `kind` (a kind, its plural or `group/version/resource`).
async fn resolve_kind(p: &KubePlatform, kind: &str) -> Result<(ApiResource, bool), KubeError> {
    let discovery = Discovery::new(p.client.clone())
        .run()
        .await
        .map_err(|e| KubeError::Api {
            what: "cannot list the cluster's API resources".to_string(),
            source: e,
        })?;
    let mut want = kind.to_ascii_lowercase();
    // kanctl's `--pvc` objects say `pvc` (Kanister's `param.PVCKind`).
    if want == "pvc" {
        want = "persistentvolumeclaim".to_string();
    }
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if ar.kind.to_ascii_lowercase() == want
                || ar.plural == want
                || format!("{}/{}/{}", ar.group, ar.version, ar.plural) == want
            {
                return Ok((ar, caps.scope == Scope::Namespaced));
            }
        }
    }
    Err(KubeError::NotFound {
        kind: "resource kind".to_string(),
        namespace: String::new(),
        name: kind.to_string(),
        hint: "; the cluster serves no such kind (`kubectl api-resources`)".to_string(),
    })
}

impl KubePlatform {
    /// The template parameters of the object `kind` `namespace/name`, as
    /// Kanister's `param.New` builds them: `.Object` always, and for a
    /// StatefulSet, Deployment or DeploymentConfig its running pods,
    /// containers and PVC mounts.
    pub async fn object_params(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<RenderParams, KubeError> {
        let mut p = RenderParams::default();
        match kind.to_ascii_lowercase().as_str() {
            "statefulset" | "statefulsets" | "sts" => {
                let mut s: StatefulSet = get(self, namespace, name).await?;
                let uid = s.metadata.uid.clone().unwrap_or_default();
                p.workload = Some(workload_of(&owned_pods(self, namespace, &uid).await?));
                s.metadata.managed_fields = None;
                let mut m = to_map(&s)?;
                m.insert("apiVersion".into(), "apps/v1".into());
                m.insert("kind".into(), "StatefulSet".into());
                p.object = Some(m);
            }
            "deployment" | "deployments" | "deploy" => {
                let mut d: Deployment = get(self, namespace, name).await?;
                let pods = self.deployment_pods(&d, namespace).await?;
                p.workload = Some(workload_of(&pods));
                d.metadata.managed_fields = None;
                let mut m = to_map(&d)?;
                m.insert("apiVersion".into(), "apps/v1".into());
                m.insert("kind".into(), "Deployment".into());
                p.object = Some(m);
            }
            "namespace" | "namespaces" | "ns" => {
                let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
                let mut n = api
                    .get(name)
                    .await
                    .map_err(|e| api_error(e, "get", "Namespace", "namespaces", "", name))?;
                n.metadata.managed_fields = None;
                let mut m = to_map(&n)?;
                m.insert("apiVersion".into(), "v1".into());
                m.insert("kind".into(), "Namespace".into());
                p.object = Some(m);
            }
            _ => {
                let (ar, namespaced) = resolve_kind(self, kind).await?;
                let api: Api<DynamicObject> = if namespaced {
                    Api::namespaced_with(self.client.clone(), namespace, &ar)
                } else {
                    Api::all_with(self.client.clone(), &ar)
                };
                let mut o = api
                    .get(name)
                    .await
                    .map_err(|e| api_error(e, "get", &ar.kind, &ar.plural, namespace, name))?;
                o.metadata.managed_fields = None;
                let mut m = to_map(&o)?;
                m.insert("apiVersion".into(), ar.api_version.clone().into());
                m.insert("kind".into(), ar.kind.clone().into());
                if ar.kind == "DeploymentConfig" {
                    let uid = o.metadata.uid.clone().unwrap_or_default();
                    p.workload = Some(workload_of(&self.rc_pods(namespace, &uid).await?));
                }
                p.object = Some(m);
            }
        }
        Ok(p)
    }

    /// Running pods of a Deployment's current ReplicaSet (the one with the
    /// Deployment's revision).
    pub(crate) async fn deployment_pods(
        &self,
        d: &Deployment,
        namespace: &str,
    ) -> Result<Vec<Pod>, KubeError> {
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let rev_key = "deployment.kubernetes.io/revision";
        let rev = d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(rev_key))
            .cloned();
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
        let sets = api
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error(e, "list", "ReplicaSet", "replicasets", namespace, ""))?;
        let current = sets.items.into_iter().find(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
                && rs
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(rev_key))
                    == rev.as_ref()
        });
        match current.and_then(|rs| rs.metadata.uid) {
            Some(rs_uid) => owned_pods(self, namespace, &rs_uid).await,
            None => Ok(Vec::new()),
        }
    }

    /// Running pods of a DeploymentConfig's ReplicationControllers.
    async fn rc_pods(&self, namespace: &str, uid: &str) -> Result<Vec<Pod>, KubeError> {
        let api: Api<k8s_openapi::api::core::v1::ReplicationController> =
            Api::namespaced(self.client.clone(), namespace);
        let rcs = api.list(&ListParams::default()).await.map_err(|e| {
            api_error(
                e,
                "list",
                "ReplicationController",
                "replicationcontrollers",
                namespace,
                "",
            )
        })?;
        let mut pods = Vec::new();
        for rc in rcs.items.iter().filter(|rc| {
            rc.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        }) {
            if let Some(u) = &rc.metadata.uid {
                pods.extend(owned_pods(self, namespace, u).await?);
            }
        }
        Ok(pods)
    }

    /// A Secret (for a Profile's credential, the ActionSet's secrets).
    pub async fn get_secret(&self, namespace: &str, name: &str) -> Result<Secret, KubeError> {
        get(self, namespace, name).await
    }

    /// A ConfigMap (the ActionSet's configMaps).
    pub async fn get_config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<k8s_openapi::api::core::v1::ConfigMap, KubeError> {
        get(self, namespace, name).await
    }

    /// A Profile object (`cr.kanister.io/v1alpha1`, kind Profile).
    pub async fn get_profile(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kapsel_api::Profile, KubeError> {
        get(self, namespace, name).await
    }
}
