//! The plain-HTTP server of `--metrics-addr`: Prometheus metrics and the
//! probes (docs/controller.md "Metrics and probes").
//!
//! | path | answer |
//! |---|---|
//! | `GET /metrics` | [`Metrics::encode`] (OpenMetrics text) |
//! | `GET /healthz` | `200 ok` while the process serves HTTP (liveness) |
//! | `GET /readyz` | `200 ok` once ready, else `503` with the reason |
//! | `GET /v0/healthz` | Kanister's `{"alive":true,"version":"…"}` |
//! | `GET /v0/readyz` | Kanister's `{"status":"ready"}` (`503` `{"status":"not ready"}` before) |
//!
//! **Ready** ([`Health`]) latches: once the ActionSet watches have listed
//! their namespaces (the controller can serve), or once the process is a
//! standby waiting for leadership ([`Health::mark_ready`]), it stays
//! ready. A standby must be Ready, or a Deployment's rolling update would
//! wait forever for a new pod that cannot lead while the old one holds the
//! lease; and the webhook, served by every replica, needs Ready pods
//! behind its Service.
//!
//! HTTP/1.1 through hyper 1 (already in the tree through kube); headers
//! must arrive within 30 s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use kapsel_api::ActionSet;
use kube::runtime::reflector::Store;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{CONTENT_TYPE, Metrics};

/// What the probes and `/metrics` report; shared by the controller, the
/// HTTP server and the webhook.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
}

/// Readiness (see the module docs): not ready until [`Health::mark_ready`].
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    /// Watches that have not listed their namespaces yet.
    unsynced: AtomicUsize,
}

impl Health {
    /// `n` watches will report their first listing
    /// ([`Health::ready_when_synced`]); ready after the last.
    pub fn expect_syncs(&self, n: usize) {
        self.unsynced.store(n, Ordering::SeqCst);
    }

    /// Marks ready once `store` and the other expected watches have
    /// listed their namespaces.
    pub fn ready_when_synced(self: &Arc<Self>, store: Store<ActionSet>) {
        let me = self.clone();
        tokio::spawn(async move {
            // The store's readiness wakes only its last waiter (the
            // controller's runner waits too): look again every 200 ms.
            loop {
                let wait = store.wait_until_ready();
                match tokio::time::timeout(Duration::from_millis(200), wait).await {
                    Ok(Ok(())) => break,
                    Ok(Err(_)) => return,
                    Err(_) => {}
                }
            }
            if me.unsynced.fetch_sub(1, Ordering::SeqCst) <= 1 {
                me.mark_ready("the ActionSet watches have listed their namespaces");
            }
        });
    }

    /// Ready from now on; `why` is logged the first time.
    pub fn mark_ready(&self, why: &str) {
        if !self.ready.swap(true, Ordering::SeqCst) {
            tracing::info!("ready: {why}");
        }
    }

    /// Whether ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// A response with a body and its content type.
pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The answer to one request of the metrics and probe server.
pub(crate) fn route(t: &Telemetry, method: &Method, path: &str) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    const JSON: &str = "application/json";
    if method != Method::GET && method != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "only GET\n");
    }
    let ready = t.health.is_ready();
    match path {
        "/metrics" => respond(StatusCode::OK, CONTENT_TYPE, t.metrics.encode()),
        "/healthz" => respond(StatusCode::OK, TEXT, "ok\n"),
        "/readyz" if ready => respond(StatusCode::OK, TEXT, "ok\n"),
        "/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "not ready: the ActionSet watches have not listed their namespaces yet\n",
        ),
        "/v0/healthz" => respond(
            StatusCode::OK,
            JSON,
            serde_json::json!({"alive": true, "version": env!("CARGO_PKG_VERSION")}).to_string(),
        ),
        "/v0/readyz" if ready => respond(StatusCode::OK, JSON, r#"{"status":"ready"}"#),
        "/v0/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            r#"{"status":"not ready"}"#,
        ),
        _ => respond(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: /metrics, /healthz, /readyz, /v0/healthz, /v0/readyz\n",
        ),
    }
}

/// Serves one HTTP/1.1 connection with `handle` until it closes or `stop`
/// fires.
pub(crate) async fn serve_connection<S, H, F>(io: S, handle: H, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let handle = Arc::new(handle);
    let svc = hyper::service::service_fn(move |req| {
        let handle = handle.clone();
        async move { Ok::<_, Infallible>(handle(req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(io), svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("HTTP connection: {e}");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// The bound metrics and probe server.
#[derive(Debug)]
pub struct ProbeServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl ProbeServer {
    /// Listens on `addr` (port 0: any free port) and logs `metrics
    /// listening on ADDR` with the bound address.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<ProbeServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        tracing::info!("metrics listening on {addr}");
        Ok(ProbeServer { listener, addr })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `stop` fires.
    pub async fn run(self, telemetry: Telemetry, stop: CancellationToken) {
        loop {
            let (stream, _) = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("metrics server: accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.cancelled() => return,
            };
            let t = telemetry.clone();
            tokio::spawn(serve_connection(
                stream,
                move |req: Request<Incoming>| {
                    let r = route(&t, req.method(), req.uri().path());
                    async move { r }
                },
                stop.clone(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http_body_util::BodyExt;

    use super::*;

    async fn get(t: &Telemetry, path: &str) -> (StatusCode, String) {
        let r = route(t, &Method::GET, path);
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn probes_before_and_after_ready() {
        let t = Telemetry::default();
        assert_eq!(get(&t, "/healthz").await.0, StatusCode::OK);
        assert_eq!(get(&t, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            get(&t, "/v0/readyz").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"not ready"}"#.into()
            )
        );
        t.health.mark_ready("test");
        assert_eq!(get(&t, "/readyz").await, (StatusCode::OK, "ok\n".into()));
        assert_eq!(
            get(&t, "/v0/readyz").await,
            (StatusCode::OK, r#"{"status":"ready"}"#.into())
        );
        let (s, body) = get(&t, "/v0/healthz").await;
        assert_eq!(s, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["alive"], true);
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        let (s, body) = get(&t, "/metrics").await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("kanister_action_set_resolutions_total{resolution=\"success\"} 0"));
        assert_eq!(get(&t, "/nope").await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            route(&t, &Method::POST, "/metrics").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
