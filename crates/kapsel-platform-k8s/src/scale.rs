//! ScaleWorkload: GET the object, set `spec.replicas`, update it (as
//! Kanister does, kanister-k8s.md §3), then wait until the workload is
//! ready at that count: for 0, until its pods are gone, so that a volume
//! the pods held is free. No deadline of its own: the phase's applies.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kapsel_engine::platform::{OutputSink, ScaleSpec, Stream};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};

use crate::KubePlatform;
use crate::error::{KubeError, api_error};

/// OpenShift's DeploymentConfig (`apps.openshift.io/v1`), read dynamically.
fn deployment_config() -> ApiResource {
    ApiResource {
        group: "apps.openshift.io".into(),
        version: "v1".into(),
        api_version: "apps.openshift.io/v1".into(),
        kind: "DeploymentConfig".into(),
        plural: "deploymentconfigs".into(),
    }
}

fn say(sink: &mut dyn OutputSink, line: String) {
    sink.chunk(Stream::Stdout, format!("{line}\n").as_bytes());
}

/// Pods owned by `uid` that have not ended.
async fn live_pods(p: &KubePlatform, namespace: &str, uid: &str) -> Result<Vec<Pod>, KubeError> {
    let api: Api<Pod> = Api::namespaced(p.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(e, "list", "Pod", "pods", namespace, ""))?;
    Ok(list
        .items
        .into_iter()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .filter(|pod| {
            !matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded") | Some("Failed")
            )
        })
        .collect())
}

/// `want` pods, all Running and none terminating; else what is missing.
fn pods_ready(pods: &[Pod], want: i32) -> Result<(), String> {
    let running = pods
        .iter()
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .count();
    if pods.len() as i64 == i64::from(want) && running == pods.len() {
        Ok(())
    } else {
        Err(format!(
            "Specified {want} replicas and {running} pods of {} are running",
            pods.len()
        ))
    }
}

/// Scales and (optionally) waits.
pub(crate) async fn scale(
    p: &KubePlatform,
    spec: &ScaleSpec,
    sink: &mut dyn OutputSink,
) -> Result<i32, KubeError> {
    let ns = spec.namespace.as_str();
    let name = spec.name.as_str();
    let kind = spec.kind.to_ascii_lowercase();
    let original = match kind.as_str() {
        "statefulset" => {
            let api: Api<StatefulSet> = Api::namespaced(p.client.clone(), ns);
            let mut s = api
                .get(name)
                .await
                .map_err(|e| api_error(e, "get", "StatefulSet", "statefulsets", ns, name))?;
            let before = s.spec.replicas.unwrap_or(1);
            s.spec.replicas = Some(spec.replicas);
            api.replace(name, &PostParams::default(), &s)
                .await
                .map_err(|e| api_error(e, "update", "StatefulSet", "statefulsets", ns, name))?;
            before
        }
        "deployment" => {
            let api: Api<Deployment> = Api::namespaced(p.client.clone(), ns);
            let mut d = api
                .get(name)
                .await
                .map_err(|e| api_error(e, "get", "Deployment", "deployments", ns, name))?;
            let before = d.spec.replicas.unwrap_or(1);
            d.spec.replicas = Some(spec.replicas);
            api.replace(name, &PostParams::default(), &d)
                .await
                .map_err(|e| api_error(e, "update", "Deployment", "deployments", ns, name))?;
            before
        }
        "deploymentconfig" => {
            let ar = deployment_config();
            let api: Api<DynamicObject> = Api::namespaced_with(p.client.clone(), ns, &ar);
            let mut o = api.get(name).await.map_err(|e| match &e {
                kube::Error::Api(s) if s.code == 404 && s.details.is_none() => KubeError::Other(
                    "DeploymentConfig needs OpenShift's apps.openshift.io/v1 API, which this cluster does not serve".to_string(),
                ),
                _ => api_error(e, "get", "DeploymentConfig", "deploymentconfigs", ns, name),
            })?;
            let before = o
                .data
                .pointer("/spec/replicas")
                .and_then(|v| v.as_i64())
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(1);
            if let Some(s) = o.data.get_mut("spec").and_then(|s| s.as_object_mut()) {
                s.insert("replicas".into(), spec.replicas.into());
            }
            api.replace(name, &PostParams::default(), &o)
                .await
                .map_err(|e| {
                    api_error(
                        e,
                        "update",
                        "DeploymentConfig",
                        "deploymentconfigs",
                        ns,
                        name,
                    )
                })?;
            before
        }
        other => {
            return Err(KubeError::Other(format!(
                "ScaleWorkload cannot scale kind {other:?}: StatefulSet, Deployment or DeploymentConfig"
            )));
        }
    };
    say(
        sink,
        format!(
            "scaled {} {ns}/{name} from {original} to {} replicas",
            spec.kind, spec.replicas
        ),
    );
    if !spec.wait_for_ready {
        return Ok(original);
    }
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    loop {
        match ready(p, &kind, ns, name, spec.replicas).await {
            Ok(Ok(())) => break,
            Ok(Err(why)) => {
                if why != last {
                    say(sink, format!("waiting: {why}"));
                    last = why;
                }
            }
            // NotFound while polling is retried, as Kanister does.
            Err(KubeError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    say(
        sink,
        format!(
            "{} {ns}/{name} has {} ready replicas",
            spec.kind, spec.replicas
        ),
    );
    Ok(original)
}

/// Whether the workload is ready at `want` replicas (`Ok(Err(why))`: not
/// yet).
async fn ready(
    p: &KubePlatform,
    kind: &str,
    ns: &str,
    name: &str,
    want: i32,
) -> Result<Result<(), String>, KubeError> {
    match kind {
        "statefulset" => {
            let api: Api<StatefulSet> = Api::namespaced(p.client.clone(), ns);
            let s = api
                .get(name)
                .await
                .map_err(|e| api_error(e, "get", "StatefulSet", "statefulsets", ns, name))?;
            let ready = s
                .status
                .as_ref()
                .and_then(|st| st.ready_replicas)
                .unwrap_or(0);
            if ready != want {
                return Ok(Err(format!(
                    "Specified {want} replicas and only {ready} are ready"
                )));
            }
            let uid = s.metadata.uid.clone().unwrap_or_default();
            Ok(pods_ready(&live_pods(p, ns, &uid).await?, want))
        }
        "deployment" => {
            let api: Api<Deployment> = Api::namespaced(p.client.clone(), ns);
            let d = api
                .get(name)
                .await
                .map_err(|e| api_error(e, "get", "Deployment", "deployments", ns, name))?;
            let st = d.status.clone().unwrap_or_default();
            let (r, u, a) = (
                st.replicas.unwrap_or(0),
                st.updated_replicas.unwrap_or(0),
                st.available_replicas.unwrap_or(0),
            );
            if r != want || u != want || a != want {
                return Ok(Err(format!(
                    "Specified {want} replicas: {r} exist, {u} updated, {a} available"
                )));
            }
            if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
                return Ok(Err(
                    "the Deployment's new generation is not observed yet".into()
                ));
            }
            // Pods of every ReplicaSet of the Deployment, so that old ones
            // still terminating keep it waiting.
            let uid = d.metadata.uid.clone().unwrap_or_default();
            let sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
                Api::namespaced(p.client.clone(), ns);
            let list = sets
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error(e, "list", "ReplicaSet", "replicasets", ns, ""))?;
            let mut pods = Vec::new();
            for rs in list.items.iter().filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == uid)
            }) {
                if let Some(u) = &rs.metadata.uid {
                    pods.extend(live_pods(p, ns, u).await?);
                }
            }
            Ok(pods_ready(&pods, want))
        }
        _ => {
            let ar = deployment_config();
            let api: Api<DynamicObject> = Api::namespaced_with(p.client.clone(), ns, &ar);
            let o = api.get(name).await.map_err(|e| {
                api_error(e, "get", "DeploymentConfig", "deploymentconfigs", ns, name)
            })?;
            let n = |ptr: &str| o.data.pointer(ptr).and_then(|v| v.as_i64()).unwrap_or(0);
            let w = i64::from(want);
            if n("/status/replicas") != w
                || n("/status/updatedReplicas") != w
                || n("/status/availableReplicas") != w
            {
                return Ok(Err(format!(
                    "Specified {want} replicas and they are not all available"
                )));
            }
            Ok(Ok(()))
        }
    }
}
