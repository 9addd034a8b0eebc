//! Task pods (KubeTask, PrepareData, the data functions, MultiContainerRun):
//! built as Kanister builds them (kanister-k8s.md §1.2-1.3), run, watched
//! and always deleted.
//!
//! Differences from Kanister, on purpose:
//! - secrets reach the task on **stdin**: the container is created with
//!   `stdin: true, stdinOnce: true` and the platform attaches once, writes
//!   them and closes the stream; they are never in the pod spec, argv, env
//!   or an object of the cluster;
//! - waiting for the pod to start fails at once on an image that cannot be
//!   pulled or a container that cannot be created (the waiting reason and
//!   message), where Kanister waits out its 15 minutes;
//! - the exit code comes from the container's terminated state, and a task
//!   whose future is dropped (deadline, Ctrl-C) has its pod deleted by a
//!   tracked task ([`crate::KubePlatform::drain`]);
//! - pods of a run that was killed are found by their runner labels and
//!   deleted by the next run in that namespace, or by
//!   [`crate::KubePlatform::cleanup`].

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::io::AsyncBufReadExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kapsel_engine::platform::{Exit, MultiContainerSpec, OutputSink, Stdin, Stream, TaskSpec};
use kapsel_engine::podspec::merge_pod_spec;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams, PostParams, WatchParams};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use crate::KubePlatform;
use crate::error::{KubeError, api_error};
use crate::runner::{MANAGED_BY, RUNNER_ANNOTATION, RUNNER_HOST_LABEL, Runner};

/// The main container's name in Kanister's pods.
const MAIN: &str = "container";

/// Waiting reasons after which a container will not start by itself.
const FATAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

fn labels_and_annotations(
    p: &KubePlatform,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut l = Map::new();
    l.insert("createdBy".into(), "kanister".into());
    for (k, v) in labels {
        l.insert(k.clone(), v.clone().into());
    }
    l.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    l.insert(RUNNER_HOST_LABEL.into(), p.runner.host_label().into());
    let mut a: Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect();
    a.insert(RUNNER_ANNOTATION.into(), p.runner.annotation().into());
    (l, a)
}

/// Containers sorted so that `first` comes first (Kanister sorts the main
/// container first after the override).
fn sort_first(spec: &mut Map<String, Value>, first: &str) {
    if let Some(Value::Array(cs)) = spec.get_mut("containers") {
        cs.sort_by_key(|c| c.get("name").and_then(Value::as_str) != Some(first));
    }
}

/// The pod of a task (without its name: `generateName`).
pub(crate) async fn task_pod(
    p: &KubePlatform,
    spec: &TaskSpec,
    namespace: &str,
) -> Result<Value, KubeError> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(p.client.clone(), namespace);
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut devices = Vec::new();
    for v in &spec.volumes {
        let pvc = pvcs.get(&v.claim).await.map_err(|e| {
            api_error(
                e,
                "get",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                namespace,
                &v.claim,
            )
        })?;
        let pvc_spec = pvc.spec.unwrap_or_default();
        let read_only = pvc_spec
            .access_modes
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "ReadOnlyMany"));
        let block = pvc_spec.volume_mode.as_deref() == Some("Block");
        let kind = if block { "block" } else { "vol" };
        let name = format!("{kind}-{}", uuid::Uuid::new_v4());
        volumes.push(json!({"name": name, "persistentVolumeClaim": {"claimName": v.claim, "readOnly": read_only}}));
        if block {
            devices.push(json!({"name": name, "devicePath": v.mount_path}));
        } else {
            mounts.push(json!({"name": name, "mountPath": v.mount_path, "readOnly": read_only}));
        }
    }
    let mut container = Map::new();
    container.insert("name".into(), MAIN.into());
    container.insert("image".into(), spec.image.clone().into());
    container.insert("command".into(), json!(spec.command));
    container.insert("imagePullPolicy".into(), "IfNotPresent".into());
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts));
    }
    if !devices.is_empty() {
        container.insert("volumeDevices".into(), Value::Array(devices));
    }
    if spec.stdin.is_some() {
        container.insert("stdin".into(), true.into());
        container.insert("stdinOnce".into(), true.into());
    }
    let mut pod_spec = Map::new();
    pod_spec.insert("containers".into(), json!([container]));
    pod_spec.insert("restartPolicy".into(), "Never".into());
    if !volumes.is_empty() {
        pod_spec.insert("volumes".into(), Value::Array(volumes));
    }
    if let Some(sa) = &spec.service_account {
        pod_spec.insert("serviceAccountName".into(), sa.clone().into());
    }
    if let Some(o) = &spec.pod_override {
        merge_pod_spec(&mut pod_spec, o);
    }
    sort_first(&mut pod_spec, MAIN);
    let (labels, annotations) = labels_and_annotations(p, &spec.labels, &spec.annotations);
    let prefix = if spec.name_prefix.is_empty() {
        "kanister-job-"
    } else {
        spec.name_prefix.as_str()
    };
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": prefix, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": pod_spec,
    }))
}

/// Where a command that holds a secret is mounted in its task pod.
const COMMAND_DIR: &str = "/var/run/kapsel/command";
/// The volume holding it.
const COMMAND_VOLUME: &str = "kapsel-command";

/// A command that holds a secret value, kept out of the pod spec: it goes
/// into a Secret (labelled as Kapsel's, owned by the pod once that exists,
/// deleted with it), mounted read-only into the main container, whose
/// command becomes `<shell> /var/run/kapsel/command/run`.
struct CommandSecret {
    api: Api<Secret>,
    name: String,
}

impl CommandSecret {
    /// The Secret holding one launcher per `(key, argv)`.
    async fn create(
        p: &KubePlatform,
        namespace: &str,
        scripts: &[(&str, &[String])],
    ) -> Result<CommandSecret, KubeError> {
        let api: Api<Secret> = Api::namespaced(p.client.clone(), namespace);
        let (labels, annotations) = labels_and_annotations(p, &BTreeMap::new(), &BTreeMap::new());
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"generateName": "kapsel-command-", "namespace": namespace,
                         "labels": labels, "annotations": annotations},
            "type": "Opaque",
            "stringData": scripts.iter().map(|(k, argv)| ((*k).to_string(), Value::String(kapsel_engine::launcher::script(argv)))).collect::<Map<String, Value>>(),
        }))
        .map_err(|e| KubeError::Other(format!("cannot build the command's Secret: {e}")))?;
        let created = api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| {
                api_error(
                    e,
                    "create",
                    "Secret",
                    "secrets",
                    namespace,
                    "kapsel-command-*",
                )
            })?;
        Ok(CommandSecret {
            api,
            name: created.metadata.name.unwrap_or_default(),
        })
    }

    /// Lays the Secret's volume over the pod and, in each container (or
    /// init container) named in `runs` as `(container, key, argv)`, the
    /// launcher of `key` in place of its command.
    fn apply(&self, pod: &mut Value, runs: &[(&str, &str, &[String])]) {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(v) = volumes.as_array_mut() {
            v.push(json!({"name": COMMAND_VOLUME, "secret": {"secretName": self.name, "defaultMode": 0o444}}));
        }
        for list in ["containers", "initContainers"] {
            let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
                continue;
            };
            for c in containers.iter_mut() {
                let Some((_, key, argv)) = runs.iter().find(|(name, _, _)| c["name"] == *name)
                else {
                    continue;
                };
                c["command"] = json!([
                    kapsel_engine::launcher::shell(argv),
                    format!("{COMMAND_DIR}/{key}")
                ]);
                c.as_object_mut().map(|o| o.remove("args"));
                let mounts = c
                    .as_object_mut()
                    .map(|o| o.entry("volumeMounts").or_insert_with(|| json!([])));
                if let Some(Value::Array(m)) = mounts {
                    m.push(
                        json!({"name": COMMAND_VOLUME, "mountPath": COMMAND_DIR, "readOnly": true}),
                    );
                }
            }
        }
    }

    /// Makes the pod the Secret's owner, so that the garbage collector
    /// removes it with the pod even if Kapsel is killed.
    async fn owned_by(&self, pod: &str, uid: &str) {
        let patch = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": pod, "uid": uid}
        ]}});
        if let Err(e) = self
            .api
            .patch(
                &self.name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
        {
            tracing::warn!(secret = %self.name, "cannot make the task pod own the command's Secret: {e}");
        }
    }

    async fn delete(&self) {
        if let Err(e) = self.api.delete(&self.name, &DeleteParams::default()).await
            && !matches!(&e, kube::Error::Api(s) if s.code == 404)
        {
            tracing::warn!(secret = %self.name, "cannot delete the command's Secret: {e}");
        }
    }
}

/// The namespace of a task.
fn namespace_of(p: &KubePlatform, ns: &Option<String>) -> String {
    ns.clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| p.default_namespace.clone())
}

/// KubeTask and the other single-container tasks.
pub(crate) async fn run_task(
    p: &KubePlatform,
    spec: &TaskSpec,
    sink: &mut dyn OutputSink,
) -> Result<Exit, KubeError> {
    let ns = namespace_of(p, &spec.namespace);
    p.remove_leftovers_once(&ns).await;
    let mut pod = task_pod(p, spec, &ns).await?;
    let command = if spec.secret_command {
        let c = CommandSecret::create(p, &ns, &[("run", &spec.command)]).await?;
        c.apply(&mut pod, &[(MAIN, "run", &spec.command)]);
        Some(c)
    } else {
        None
    };
    let mut running = match RunningPod::create(p, &ns, pod).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(c) = &command {
                c.delete().await;
            }
            return Err(e);
        }
    };
    if let Some(c) = &command {
        c.owned_by(&running.name, &running.uid).await;
    }
    let result = running
        .run(MAIN, sink, None, spec.stdin.as_ref(), p.pod_ready_timeout)
        .await;
    running.delete().await;
    if let Some(c) = &command {
        c.delete().await;
    }
    result
}

/// The pod of a MultiContainerRun (Kanister builds it apart from the other
/// tasks: no `imagePullPolicy`, the annotation naming `output` the default
/// container, an emptyDir `shared`).
pub(crate) fn multi_pod(p: &KubePlatform, spec: &MultiContainerSpec, namespace: &str) -> Value {
    let dir = if spec.shared_volume_dir.is_empty() {
        "/tmp/"
    } else {
        spec.shared_volume_dir.as_str()
    };
    let mount = json!([{"name": "shared", "mountPath": dir}]);
    let c = |name: &str, image: &str, command: &[String]| json!({"name": name, "image": image, "command": command, "volumeMounts": mount});
    let mut empty_dir = Map::new();
    if let Some(m) = spec.shared_volume_medium.as_ref().filter(|m| !m.is_empty()) {
        empty_dir.insert("medium".into(), m.clone().into());
    }
    if let Some(s) = spec
        .shared_volume_size_limit
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        empty_dir.insert("sizeLimit".into(), s.clone().into());
    }
    let mut pod_spec = Map::new();
    pod_spec.insert(
        "containers".into(),
        json!([
            c("output", &spec.output.image, &spec.output.command),
            c(
                "background",
                &spec.background.image,
                &spec.background.command
            ),
        ]),
    );
    if let Some(init) = &spec.init {
        pod_spec.insert(
            "initContainers".into(),
            json!([c("init", &init.image, &init.command)]),
        );
    }
    pod_spec.insert(
        "volumes".into(),
        json!([{"name": "shared", "emptyDir": empty_dir}]),
    );
    pod_spec.insert("restartPolicy".into(), "Never".into());
    if let Some(o) = &spec.pod_override {
        merge_pod_spec(&mut pod_spec, o);
    }
    sort_first(&mut pod_spec, "output");
    let (labels, mut annotations) = labels_and_annotations(p, &spec.labels, &spec.annotations);
    annotations.insert(
        "kubectl.kubernetes.io/default-container".into(),
        "output".into(),
    );
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "kanister-job-", "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": pod_spec,
    })
}

/// MultiContainerRun.
pub(crate) async fn run_multi(
    p: &KubePlatform,
    spec: &MultiContainerSpec,
    background: &mut dyn OutputSink,
    output: &mut dyn OutputSink,
) -> Result<Exit, KubeError> {
    let ns = namespace_of(p, &spec.namespace);
    p.remove_leftovers_once(&ns).await;
    let mut pod = multi_pod(p, spec, &ns);
    let command = if spec.secret_command {
        let mut runs: Vec<(&str, &str, &[String])> = vec![
            ("output", "output", &spec.output.command),
            ("background", "background", &spec.background.command),
        ];
        if let Some(init) = &spec.init {
            runs.push(("init", "init", &init.command));
        }
        let scripts: Vec<(&str, &[String])> = runs.iter().map(|(_, k, a)| (*k, *a)).collect();
        let c = CommandSecret::create(p, &ns, &scripts).await?;
        c.apply(&mut pod, &runs);
        Some(c)
    } else {
        None
    };
    let mut running = match RunningPod::create(p, &ns, pod).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(c) = &command {
                c.delete().await;
            }
            return Err(e);
        }
    };
    if let Some(c) = &command {
        c.owned_by(&running.name, &running.uid).await;
    }
    let result = running
        .run(
            "output",
            output,
            Some(("background", background)),
            None,
            p.pod_ready_timeout,
        )
        .await;
    running.delete().await;
    if let Some(c) = &command {
        c.delete().await;
    }
    result
}

/// A created pod, deleted when dropped unless [`RunningPod::delete`] ran.
struct RunningPod {
    api: Api<Pod>,
    namespace: String,
    name: String,
    uid: String,
    tracker: tokio_util::task::TaskTracker,
    deleted: bool,
}

impl Drop for RunningPod {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // The run was dropped (a deadline, Ctrl-C): the deletion outlives
        // it, tracked so that the process can wait for it before exiting.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (api, name) = (self.api.clone(), self.name.clone());
            let _guard = handle.enter();
            self.tracker.spawn(async move {
                let _ = api
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await;
            });
        }
    }
}

/// The container status of `container` in `pod` (init containers too).
fn container_status<'a>(
    pod: &'a Pod,
    container: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerStatus> {
    let st = pod.status.as_ref()?;
    st.container_statuses
        .iter()
        .flatten()
        .chain(st.init_container_statuses.iter().flatten())
        .find(|c| c.name == container)
}

/// Why a pod cannot start by itself, if it cannot.
fn fatal_reason(pod: &Pod) -> Option<String> {
    let st = pod.status.as_ref()?;
    for c in st
        .init_container_statuses
        .iter()
        .flatten()
        .chain(st.container_statuses.iter().flatten())
    {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if FATAL_WAITING.contains(&reason.as_str()) {
                return Some(format!(
                    "container {:?} (image {}): {reason}: {}",
                    c.name,
                    c.image,
                    w.message.clone().unwrap_or_default()
                ));
            }
        }
    }
    None
}

/// What keeps a Pending pod waiting (for the timeout's message).
fn pending_reason(pod: &Pod) -> String {
    let st = pod.status.as_ref();
    let cond = st
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.status == "False"))
        .map(|c| {
            format!(
                "{} is False: {} {}",
                c.type_,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            )
        });
    let waiting = st
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| {
            cs.iter().find_map(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .map(|w| format!("container {:?} waiting: {:?}", c.name, w.reason))
            })
        });
    [cond, waiting]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
}

/// A log line with its timestamp (`timestamps=true`): `(timestamp, rest)`.
fn split_timestamp(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((ts, rest)) if ts.ends_with('Z') && ts.len() >= 20 => (ts, rest),
        _ => ("", line),
    }
}

/// A log timestamp as a string that sorts in time order. The kubelet writes
/// RFC 3339 with nanoseconds and trailing zeros trimmed (`...:01.5Z` is
/// later than `...:01.123Z` but sorts before it as text): the fraction is
/// padded to nine digits.
fn ts_order_key(ts: &str) -> String {
    let Some(body) = ts.strip_suffix('Z') else {
        return ts.to_string();
    };
    match body.split_once('.') {
        Some((secs, frac)) => format!("{secs}.{frac:0<9}Z"),
        None => format!("{body}.000000000Z"),
    }
}

impl RunningPod {
    async fn create(
        p: &KubePlatform,
        namespace: &str,
        pod: Value,
    ) -> Result<RunningPod, KubeError> {
        let api: Api<Pod> = Api::namespaced(p.client.clone(), namespace);
        let pod: Pod = serde_json::from_value(pod)
            .map_err(|e| KubeError::Other(format!("the task's pod is not a valid Pod: {e}")))?;
        let prefix = pod.metadata.generate_name.clone().unwrap_or_default();
        let created = api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(|e| api_error(e, "create", "Pod", "pods", namespace, &format!("{prefix}*")))?;
        let name = created.metadata.name.unwrap_or_default();
        tracing::debug!(namespace, pod = %name, "task pod created");
        Ok(RunningPod {
            api,
            namespace: namespace.to_string(),
            uid: created.metadata.uid.unwrap_or_default(),
            name,
            tracker: p.cleanups.clone(),
            deleted: false,
        })
    }

    /// Deletes the pod now (grace period 0) and waits for the request.
    async fn delete(&mut self) {
        self.deleted = true;
        if let Err(e) = self
            .api
            .delete(&self.name, &DeleteParams::default().grace_period(0))
            .await
        {
            tracing::warn!(namespace = %self.namespace, pod = %self.name, "cannot delete the task pod: {e}");
        }
    }

    /// Waits until the pod leaves Pending; fails at once when a container
    /// cannot start, and after `timeout` with what keeps it waiting.
    async fn wait_started(&self, timeout: Duration) -> Result<Pod, KubeError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pod = self
                .api
                .get(&self.name)
                .await
                .map_err(|e| api_error(e, "get", "Pod", "pods", &self.namespace, &self.name))?;
            if let Some(reason) = fatal_reason(&pod) {
                return Err(KubeError::PodStart {
                    namespace: self.namespace.clone(),
                    pod: self.name.clone(),
                    reason,
                });
            }
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if !phase.is_empty() && phase != "Pending" {
                return Ok(pod);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(KubeError::PodStart {
                    namespace: self.namespace.clone(),
                    pod: self.name.clone(),
                    reason: format!(
                        "still Pending after {}s ({}); set TIMEOUT_WORKER_POD_READY (minutes) to wait longer",
                        timeout.as_secs(),
                        pending_reason(&pod)
                    ),
                });
            }
            self.wait_change(
                &pod,
                deadline.saturating_duration_since(tokio::time::Instant::now()),
            )
            .await;
        }
    }

    /// Waits until the pod changes after `seen` (a watch from its resource
    /// version), at most `max` and at most 5 s; errors end the wait early
    /// (the caller reads the pod again either way).
    async fn wait_change(&self, seen: &Pod, max: Duration) {
        let rv = seen.metadata.resource_version.clone().unwrap_or_default();
        let wp = WatchParams::default()
            .fields(&format!("metadata.name={}", self.name))
            .timeout(5);
        let limit = max
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(50));
        let _ = tokio::time::timeout(limit, async {
            match self.api.watch(&wp, &rv).await {
                Ok(stream) => {
                    let mut stream = std::pin::pin!(stream);
                    let _ = stream.next().await;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        })
        .await;
    }

    /// Writes `stdin` to the main container once, then closes it.
    async fn feed_stdin(
        &self,
        container: &str,
        stdin: &Stdin,
    ) -> Result<Option<kube::api::AttachedProcess>, KubeError> {
        let ap = AttachParams::default()
            .container(container)
            .stdin(true)
            .stdout(false)
            .stderr(false);
        let mut attached = match self.api.attach(&self.name, &ap).await {
            Ok(a) => a,
            Err(e) => {
                // A command that ended before reading its input.
                if self.terminated(container).await.is_some() {
                    return Ok(None);
                }
                return Err(api_error(
                    e,
                    "create",
                    "Pod",
                    "pods/attach",
                    &self.namespace,
                    &self.name,
                ));
            }
        };
        if let Some(mut w) = attached.stdin() {
            let _ = w.write_all(&stdin.0).await;
            let _ = w.shutdown().await;
        }
        Ok(Some(attached))
    }

    /// The terminated state of `container`, if it ended.
    async fn terminated(
        &self,
        container: &str,
    ) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
        let pod = self.api.get(&self.name).await.ok()?;
        container_status(&pod, container)
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.clone())
    }

    /// Follows `container`'s log into `sink` until the container ends. The
    /// stream is reopened where it stopped when it ends early (kubelet caps
    /// a stream's life), lines already seen skipped by timestamp.
    async fn follow(&self, container: &str, sink: &mut dyn OutputSink) -> Result<(), KubeError> {
        let mut last_ts = String::new();
        let mut reopen = 0u32;
        loop {
            let lp = LogParams {
                container: Some(container.to_string()),
                follow: true,
                timestamps: true,
                since_seconds: (reopen > 0).then_some(600),
                ..LogParams::default()
            };
            let stream =
                self.api.log_stream(&self.name, &lp).await.map_err(|e| {
                    api_error(e, "get", "Pod", "pods/log", &self.namespace, &self.name)
                })?;
            let mut lines = stream.lines();
            while let Some(line) = lines.next().await {
                let Ok(line) = line else { break };
                let (ts, rest) = split_timestamp(&line);
                let key = ts_order_key(ts);
                if reopen > 0 && !ts.is_empty() && key <= last_ts {
                    continue;
                }
                if !ts.is_empty() {
                    last_ts = key;
                }
                let mut data = rest.as_bytes().to_vec();
                data.push(b'\n');
                sink.chunk(Stream::Stdout, &data);
            }
            if self.terminated(container).await.is_some() {
                return Ok(());
            }
            let phase = self
                .api
                .get(&self.name)
                .await
                .ok()
                .and_then(|p| p.status.and_then(|s| s.phase))
                .unwrap_or_default();
            if phase == "Succeeded" || phase == "Failed" {
                return Ok(());
            }
            reopen += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs the pod to the end of `main`: waits for it to start, feeds
    /// stdin, follows the logs (and those of a side container, cut when
    /// `main` ends), and returns `main`'s exit.
    async fn run(
        &mut self,
        main: &str,
        sink: &mut dyn OutputSink,
        side: Option<(&str, &mut dyn OutputSink)>,
        stdin: Option<&Stdin>,
        ready_timeout: Duration,
    ) -> Result<Exit, KubeError> {
        self.wait_started(ready_timeout).await?;
        let _attached = match stdin {
            Some(s) => self.feed_stdin(main, s).await?,
            None => None,
        };
        match side {
            None => self.follow(main, sink).await?,
            Some((name, side_sink)) => {
                let main_logs = self.follow(main, sink);
                let side_logs = async {
                    let _ = self.follow(name, side_sink).await;
                    std::future::pending::<()>().await;
                };
                tokio::pin!(main_logs);
                tokio::pin!(side_logs);
                tokio::select! {
                    r = &mut main_logs => r?,
                    () = &mut side_logs => {}
                }
            }
        }
        // The log ends with the container; its state may lag a moment.
        for _ in 0..24 {
            let pod = self
                .api
                .get(&self.name)
                .await
                .map_err(|e| api_error(e, "get", "Pod", "pods", &self.namespace, &self.name))?;
            if let Some(t) = container_status(&pod, main)
                .and_then(|c| c.state.as_ref())
                .and_then(|s| s.terminated.as_ref())
            {
                return Ok(Exit {
                    code: Some(t.exit_code),
                });
            }
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if phase == "Failed" {
                let reason = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.reason.clone().or(s.message.clone()))
                    .unwrap_or_default();
                return Err(KubeError::Other(format!(
                    "pod {}/{} failed before container {main:?} ended: {reason}",
                    self.namespace, self.name
                )));
            }
            self.wait_change(&pod, Duration::from_secs(5)).await;
        }
        Err(KubeError::Other(format!(
            "container {main:?} of pod {}/{} did not report its end after its log ended",
            self.namespace, self.name
        )))
    }
}

/// What [`KubePlatform::cleanup`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    /// Pods deleted, as `namespace/name`.
    pub deleted: Vec<String>,
    /// Kapsel pods kept because their runner may still be running (another
    /// host, or alive), as `namespace/name`.
    pub kept: Vec<String>,
    /// Command Secrets (`kapsel-command-*`) deleted, as `namespace/name`:
    /// a run killed between creating one and its pod leaves one that no pod
    /// owns (an owned one goes with its pod).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_secrets: Vec<String>,
}

impl KubePlatform {
    /// Deletes Kapsel task pods in `namespace` (every namespace: `None`)
    /// whose runner is known to be gone, or every Kapsel task pod with
    /// `all`.
    pub async fn cleanup(
        &self,
        namespace: Option<&str>,
        all: bool,
    ) -> Result<CleanupReport, KubeError> {
        let api: Api<Pod> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let lp = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
        let pods = api
            .list(&lp)
            .await
            .map_err(|e| api_error(e, "list", "Pod", "pods", namespace.unwrap_or("(all)"), ""))?;
        let mut report = CleanupReport::default();
        let mut deletions = Vec::new();
        for pod in pods.items {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let gone = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(RUNNER_ANNOTATION))
                .is_some_and(|r| Runner::is_gone(r));
            if !(all || gone) {
                report.kept.push(format!("{ns}/{name}"));
                continue;
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            deletions.push(async move {
                let r = api
                    .delete(&name, &DeleteParams::default().grace_period(0))
                    .await;
                (format!("{ns}/{name}"), r)
            });
        }
        let results: Vec<_> = futures::stream::iter(deletions)
            .buffer_unordered(8)
            .collect()
            .await;
        for (n, r) in results {
            match r {
                Ok(_) => report.deleted.push(n),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(KubeError::Api {
                        what: format!("cannot delete the leftover pod {n}"),
                        source: e,
                    });
                }
            }
        }
        report.deleted.sort();
        report.deleted_secrets = self.sweep_command_secrets(namespace, all).await;
        Ok(report)
    }

    /// Deletes the command Secrets of gone runners (all with `all`) that no
    /// pod owns. Best effort: a run may lack the right to list Secrets, and
    /// they hold only what their own run rendered.
    async fn sweep_command_secrets(&self, namespace: Option<&str>, all: bool) -> Vec<String> {
        let api: Api<Secret> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let lp = ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
        let secrets = match api.list_metadata(&lp).await {
            Ok(l) => l.items,
            Err(e) => {
                tracing::debug!("cannot list Kapsel's command Secrets: {e}");
                return Vec::new();
            }
        };
        let mut deleted = Vec::new();
        for meta in secrets.into_iter().map(|s| s.metadata) {
            let (Some(ns), Some(name)) = (meta.namespace, meta.name) else {
                continue;
            };
            let owned = meta.owner_references.is_some_and(|o| !o.is_empty());
            let gone = meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(RUNNER_ANNOTATION))
                .is_some_and(|r| Runner::is_gone(r));
            if owned || !(all || gone) || !name.starts_with("kapsel-command-") {
                continue;
            }
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => deleted.push(format!("{ns}/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => tracing::warn!("cannot delete the leftover Secret {ns}/{name}: {e}"),
            }
        }
        deleted.sort();
        deleted
    }

    /// Once per namespace and process: deletes pods of runs on this host
    /// that were killed (best effort: a failure is logged).
    pub(crate) async fn remove_leftovers_once(&self, namespace: &str) {
        {
            let mut seen = match self.swept.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            if !seen.insert(namespace.to_string()) {
                return;
            }
        }
        match self.cleanup(Some(namespace), false).await {
            Ok(r) => {
                for p in &r.deleted {
                    tracing::info!("deleted the pod {p}, left by a killed run");
                }
            }
            Err(e) => tracing::debug!("cannot look for leftover pods in {namespace}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_order_as_times_not_text() {
        // The kubelet trims trailing zeros: as text, .12 (earlier) sorts
        // after .123 (later), since 'Z' > '3'.
        let (a, b) = ("2026-12-07T17:40:01.12Z", "2026-12-07T17:40:01.123Z");
        assert!(a > b);
        assert!(ts_order_key(a) < ts_order_key(b));
        assert!(ts_order_key("2026-12-07T17:40:01Z") < ts_order_key(a));
        assert!("2026-12-07T17:40:01Z" > a);
        assert!(
            ts_order_key("2026-12-07T17:40:01.999999999Z") < ts_order_key("2026-12-07T17:40:02Z")
        );
        assert_eq!(
            ts_order_key("2026-12-07T17:40:01.123456789Z"),
            "2026-12-07T17:40:01.123456789Z"
        );
        let (ts, rest) = split_timestamp("2026-12-07T17:40:01.5Z kando: sent 5 bytes");
        assert_eq!(
            (ts_order_key(ts).as_str(), rest),
            ("2026-12-07T17:40:01.500000000Z", "kando: sent 5 bytes")
        );
    }
}
