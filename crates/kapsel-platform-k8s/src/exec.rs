//! KubeExec: a command in an existing container through the `pods/exec`
//! subresource (WebSocket, kube-rs). Kanister uses SPDY and reads the exit
//! code out of an error string; here stdout and stderr are streamed to the
//! sink as they come and the exit code comes from the status channel.
//! Standard input carries secrets; it is closed after them (the v5 stream
//! protocol's close signal, so the command sees EOF and output keeps
//! flowing).

use k8s_openapi::api::core::v1::Pod;
use kapsel_engine::platform::{ExecSpec, Exit, OutputSink, Stream};
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::KubePlatform;
use crate::error::{KubeError, api_error};

/// The exit code of an exec's final status: 0 on success, the
/// `ExitCode` cause's number on a non-zero exit.
pub(crate) fn exit_of(
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Result<Exit, KubeError> {
    let Some(s) = status else {
        return Err(KubeError::Other(
            "the exec stream ended without the command's exit status (connection lost?)"
                .to_string(),
        ));
    };
    if s.status.as_deref() == Some("Success") {
        return Ok(Exit { code: Some(0) });
    }
    let code = s
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<i32>().ok());
    match code {
        Some(c) => Ok(Exit { code: Some(c) }),
        None => Err(KubeError::Other(format!(
            "the command could not run: {}",
            s.message.unwrap_or_default()
        ))),
    }
}

/// The first container of a pod (what runs when none is named), or an
/// error naming the pod.
pub(crate) async fn first_container(
    p: &KubePlatform,
    namespace: &str,
    pod: &str,
) -> Result<String, KubeError> {
    let api: Api<Pod> = Api::namespaced(p.client.clone(), namespace);
    let obj = api
        .get(pod)
        .await
        .map_err(|e| api_error(e, "get", "Pod", "pods", namespace, pod))?;
    obj.spec
        .and_then(|s| s.containers.first().map(|c| c.name.clone()))
        .ok_or_else(|| KubeError::Other(format!("pod {namespace}/{pod} has no containers")))
}

/// Copies a stream into the sink until EOF.
async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    stream: Stream,
    tx: tokio::sync::mpsc::UnboundedSender<(Stream, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send((stream, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs `spec` in its container.
pub(crate) async fn exec(
    p: &KubePlatform,
    spec: &ExecSpec,
    sink: &mut dyn OutputSink,
) -> Result<Exit, KubeError> {
    let container = match &spec.container {
        Some(c) if !c.is_empty() => c.clone(),
        _ => first_container(p, &spec.namespace, &spec.pod).await?,
    };
    let api: Api<Pod> = Api::namespaced(p.client.clone(), &spec.namespace);
    let ap = AttachParams::default()
        .container(container.clone())
        .stdin(spec.stdin.is_some())
        .stdout(true)
        .stderr(true);
    let mut proc = api
        .exec(&spec.pod, spec.command.clone(), &ap)
        .await
        .map_err(|e| exec_error(e, &spec.namespace, &spec.pod, &container))?;
    let status = proc.take_status();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut pumps = Vec::new();
    if let Some(out) = proc.stdout() {
        pumps.push(tokio::spawn(pump(out, Stream::Stdout, tx.clone())));
    }
    if let Some(err) = proc.stderr() {
        pumps.push(tokio::spawn(pump(err, Stream::Stderr, tx.clone())));
    }
    drop(tx);
    if let (Some(data), Some(mut w)) = (&spec.stdin, proc.stdin()) {
        // A command that does not read its input may end first: a failed
        // write is then not an error (its exit status says how it ended).
        let _ = w.write_all(&data.0).await;
        let _ = w.shutdown().await;
        drop(w);
    }
    while let Some((stream, data)) = rx.recv().await {
        sink.chunk(stream, &data);
    }
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    for h in pumps {
        let _ = h.await;
    }
    // The connection closes after the status; a server that keeps it open
    // does not hold the phase.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), proc.join()).await;
    exit_of(status)
}

/// An exec that could not start: a missing pod or container, a missing
/// permission (`pods/exec`), or another failure.
fn exec_error(e: kube::Error, namespace: &str, pod: &str, container: &str) -> KubeError {
    match &e {
        kube::Error::Api(s) if s.code == 400 && s.message.contains("container") => {
            KubeError::NotFound {
                kind: "container".to_string(),
                namespace: namespace.to_string(),
                name: format!("{pod}/{container}"),
                hint: format!("; {}", s.message),
            }
        }
        _ => api_error(e, "create", "Pod", "pods/exec", namespace, pod),
    }
}
