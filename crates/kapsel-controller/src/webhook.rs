//! The validating admission webhook (docs/webhook.md): Blueprints,
//! ActionSets and Profiles refused at `kubectl apply` with the diagnostics
//! of `kapsel blueprint validate` / `kapsel validate`.
//!
//! Paths (HTTPS, `POST`, AdmissionReview `admission.k8s.io/v1`):
//! - `/validate/v1alpha1/blueprint` (Kanister's): the Blueprint validator
//!   with Kanister's admission rules (`kapsel blueprint validate
//!   --strict`); denied when it finds an error, its warnings returned as
//!   admission warnings otherwise.
//! - `/validate/v1alpha1/actionset`, `/validate/v1alpha1/profile`:
//!   `kapsel validate`'s rules (`kapsel_api::check`). An ActionSet UPDATE
//!   that leaves `spec` unchanged (the controller's status writes: no status
//!   subresource) is allowed without a check.
//!
//! DELETE and CONNECT are allowed. A body that is not an AdmissionReview is
//! answered `400` (as Kanister's); a review of another kind than the path's
//! is denied, naming both (a misrouted ValidatingWebhookConfiguration).
//!
//! **Where a diagnostic is.** The API server sends the object as JSON,
//! not the user's YAML (lines, comments and key order are gone). The
//! Blueprint is re-rendered as YAML ([`kapsel_yaml::emit`]: `apiVersion`,
//! `kind`, `metadata` with only its name, then the rest in the
//! order received, a phase's `func`, `name`, `objects` and `args` first)
//! and validated as a file; each diagnostic is rendered exactly as the CLI
//! renders it (miette, no colour), with the field path added to its code
//! (`KV0201 at actions.backup.phases[0].func`) and the re-rendering as its
//! source (`blueprint/<name>:LINE:COLUMN`, with the snippet).
//!
//! The server: TLS (rustls on ring) from `<cert-dir>/tls.crt` and
//! `tls.key`, started only once both exist and re-read when they change
//! (checked every `reload_every`: cert-manager and Secret-volume rotation);
//! a pair that does not load (a half-written rotation, a key that does not
//! match) keeps the previous one in use. A server failure is logged and the
//! controller keeps running, as Kanister's.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::{respond, serve_connection};
use crate::metrics::Metrics;

/// Kanister's Blueprint path.
pub const BLUEPRINT_PATH: &str = "/validate/v1alpha1/blueprint";
/// The ActionSet path.
pub const ACTIONSET_PATH: &str = "/validate/v1alpha1/actionset";
/// The Profile path.
pub const PROFILE_PATH: &str = "/validate/v1alpha1/profile";

/// Kanister's certificate directory.
pub const DEFAULT_CERT_DIR: &str = "/var/run/webhook/serving-cert";

/// At most this many diagnostics are written in a denial (the API server
/// passes the message on whole; a Blueprint with hundreds of errors would
/// make an unreadable one).
const MAX_DIAGNOSTICS: usize = 20;
/// At most this many admission warnings (kubectl prints each).
const MAX_WARNINGS: usize = 10;
/// A request body larger than this is refused (an AdmissionReview holds the
/// object and the old object; etcd keeps objects under 1.5 MiB).
const MAX_BODY: usize = 8 << 20;

/// What the webhook validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `blueprints`.
    Blueprint,
    /// `actionsets`.
    ActionSet,
    /// `profiles`.
    Profile,
}

impl Resource {
    /// The resource of a webhook path.
    pub fn of_path(path: &str) -> Option<Resource> {
        match path {
            BLUEPRINT_PATH => Some(Resource::Blueprint),
            ACTIONSET_PATH => Some(Resource::ActionSet),
            PROFILE_PATH => Some(Resource::Profile),
            _ => None,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Resource::Blueprint => "Blueprint",
            Resource::ActionSet => "ActionSet",
            Resource::Profile => "Profile",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Resource::Blueprint => "blueprints",
            Resource::ActionSet => "actionsets",
            Resource::Profile => "profiles",
        }
    }
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// 200 for every review answered, 400 for a body that is not one.
    pub status: u16,
    /// The AdmissionReview (or the error text for a 400).
    pub body: Value,
}

/// Answers one AdmissionReview `body` posted to `resource`'s path.
pub fn review(resource: Resource, body: &[u8], metrics: &Metrics) -> Answer {
    let bad = |message: String| {
        metrics.review(resource.plural(), "invalid");
        Answer {
            status: 400,
            body: Value::String(message),
        }
    };
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad(format!("not an AdmissionReview: {e}")),
    };
    let req: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(_) => return bad("an AdmissionReview without a request".to_string()),
    };
    let response = decide(resource, &req);
    metrics.review(
        resource.plural(),
        if response.allowed {
            "allowed"
        } else {
            "denied"
        },
    );
    Answer {
        status: 200,
        body: serde_json::to_value(response.into_review()).unwrap_or(Value::Null),
    }
}

fn decide(resource: Resource, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let allow = AdmissionResponse::from(req);
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return allow;
    }
    if req.kind.group != kapsel_api::GROUP || req.kind.kind != resource.kind() {
        return allow.deny(format!(
            "this webhook path validates {}.{} {}s, not {} {}: check the ValidatingWebhookConfiguration's rules (docs/webhook.md)",
            resource.plural(),
            kapsel_api::GROUP,
            resource.kind(),
            if req.kind.group.is_empty() { "core" } else { req.kind.group.as_str() },
            req.kind.kind
        ));
    }
    let Some(object) = &req.object else {
        return allow.deny(format!(
            "the {} review holds no object",
            req.operation_name()
        ));
    };
    let doc = serde_json::to_value(object).unwrap_or(Value::Null);
    if resource == Resource::ActionSet
        && req.operation == Operation::Update
        && let Some(old) = &req.old_object
        && old.data.get("spec") == object.data.get("spec")
    {
        return allow;
    }
    let verdict = match resource {
        Resource::Blueprint => blueprint(&doc),
        Resource::ActionSet | Resource::Profile => other(resource, &doc),
    };
    match verdict {
        Verdict::Allowed(warnings) if warnings.is_empty() => allow,
        Verdict::Allowed(warnings) => {
            let mut r = allow;
            r.warnings = Some(warnings);
            r
        }
        Verdict::Denied(message) => allow.deny(message),
    }
}

trait OperationName {
    fn operation_name(&self) -> &'static str;
}

impl OperationName for AdmissionRequest<DynamicObject> {
    fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

enum Verdict {
    Allowed(Vec<String>),
    Denied(String),
}

/// `name`, or `generateName*`, or `(unnamed)`.
fn display_name(doc: &Value) -> String {
    let meta = &doc["metadata"];
    meta["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| meta["generateName"].as_str().map(|g| format!("{g}*")))
        .unwrap_or_else(|| "(unnamed)".to_string())
}

/// The Blueprint as a file: see the module docs for the layout.
pub fn blueprint_yaml(doc: &Value) -> String {
    let mut out = serde_json::Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = doc.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    let mut meta = serde_json::Map::new();
    // Not the namespace: files seldom hold it (`kubectl apply -n`), and
    // without it the lines of the usual layout match the file's.
    for k in ["name", "generateName"] {
        if let Some(v) = doc["metadata"]
            .get(k)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            meta.insert(k.to_string(), v.clone());
        }
    }
    out.insert("metadata".to_string(), Value::Object(meta));
    if let Some(m) = doc.as_object() {
        for (k, v) in m {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let mut doc = Value::Object(out);
    if let Some(actions) = doc.get_mut("actions").and_then(Value::as_object_mut) {
        for action in actions.values_mut() {
            if let Some(phases) = action.get_mut("phases").and_then(Value::as_array_mut) {
                phases.iter_mut().for_each(phase_order);
            }
            if let Some(d) = action.get_mut("deferPhase") {
                phase_order(d);
            }
        }
    }
    kapsel_yaml::emit::to_yaml(&doc)
}

/// A phase's keys as Kanister's examples write them: func, name, objects,
/// args, then the rest.
fn phase_order(p: &mut Value) {
    let Some(m) = p.as_object_mut() else {
        return;
    };
    let mut out = serde_json::Map::new();
    for k in ["func", "name", "objects", "args"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.to_string(), v);
        }
    }
    out.append(m);
    *m = out;
}

/// A diagnostic rendered as the CLI renders it, with the field path in
/// its code line.
struct Placed<'a> {
    diag: kapsel_validate::SourcedDiagnostic<'a>,
    code: String,
}

impl fmt::Debug for Placed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.diag, f)
    }
}

impl fmt::Display for Placed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diag, f)
    }
}

impl std::error::Error for Placed<'_> {}

impl miette::Diagnostic for Placed<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.diag.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diag.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag.source_code()
    }
}

fn blueprint(doc: &Value) -> Verdict {
    let name = display_name(doc);
    let text = blueprint_yaml(doc);
    let source_name = format!("blueprint/{name}");
    let opts = kapsel_validate::Options {
        kanister_strict: true,
        ..kapsel_validate::Options::default()
    };
    let report = kapsel_validate::validate_source(&source_name, &text, &opts);
    let src = kapsel_yaml::tree::Src::new(&text);
    let root = kapsel_yaml::tree::load(&src).root;
    let path_of = |d: &kapsel_validate::Diagnostic| match (&root, d.labels.first()) {
        (Some(root), Some(l)) => kapsel_yaml::tree::path_at(root, l.span.start),
        _ => String::new(),
    };
    let placed = |d: &kapsel_validate::Diagnostic| {
        let path = path_of(d);
        if path.is_empty() {
            d.code.to_string()
        } else {
            format!("{} at {path}", d.code)
        }
    };
    if !report.has_errors(false) {
        let warnings = report
            .diagnostics
            .iter()
            .take(MAX_WARNINGS)
            .map(|d| {
                let mut w = format!("{}: {}", placed(d), d.message);
                if let Some(h) = &d.help {
                    w.push_str(&format!(" (help: {h})"));
                }
                w
            })
            .collect();
        return Verdict::Allowed(warnings);
    }
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut message = format!(
        "Invalid blueprint {name}: {} error(s), {} warning(s) (`kapsel blueprint validate --strict`; lines are those of the Blueprint as the API server sent it, re-rendered as YAML)\n",
        report.errors, report.warnings
    );
    for d in report.diagnostics.iter().take(MAX_DIAGNOSTICS) {
        let p = Placed {
            diag: d.with_source(&source_name, &text),
            code: placed(d),
        };
        let mut text = String::new();
        if handler.render_report(&mut text, &p).is_err() {
            text = format!("{}: {}\n", p.code, d.message);
        }
        message.push('\n');
        message.push_str(&text);
    }
    if report.diagnostics.len() > MAX_DIAGNOSTICS {
        message.push_str(&format!(
            "\n... and {} more (`kapsel blueprint validate --strict` on the file lists all)\n",
            report.diagnostics.len() - MAX_DIAGNOSTICS
        ));
    }
    Verdict::Denied(message)
}

fn other(resource: Resource, doc: &Value) -> Verdict {
    let kind = resource.kind();
    let name = display_name(doc);
    let findings = kapsel_api::check::findings(kind, doc.clone()).unwrap_or_default();
    let line = |f: &kapsel_api::check::Finding| {
        if f.path.is_empty() {
            format!("{}: {kind} {name}: {}", f.severity, f.message)
        } else {
            format!("{}: {kind} {name}: {}: {}", f.severity, f.path, f.message)
        }
    };
    let errors = findings.iter().filter(|f| f.is_error()).count();
    if errors == 0 {
        return Verdict::Allowed(findings.iter().take(MAX_WARNINGS).map(line).collect());
    }
    let mut message = format!(
        "Invalid {} {name}: {errors} error(s), {} warning(s) (`kapsel validate`)\n",
        kind.to_ascii_lowercase(),
        findings.len() - errors
    );
    for f in findings.iter().take(MAX_DIAGNOSTICS) {
        message.push_str(&line(f));
        message.push('\n');
    }
    Verdict::Denied(message)
}

/// Where the webhook server listens and finds its certificate.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Listen address.
    pub addr: SocketAddr,
    /// The directory holding `tls.crt` (the chain, leaf first) and `tls.key`.
    pub cert_dir: PathBuf,
    /// How often the files are checked for a change (and, before they
    /// exist, for their appearance).
    pub reload_every: Duration,
}

/// Why a certificate pair did not load.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the PEM expected.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (a key of an unsupported type, or not the
    /// certificate's).
    #[error("{crt} and {key} do not make a serving certificate: {source}")]
    Pair {
        /// The certificate file.
        crt: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

/// The bytes of `tls.crt` and `tls.key`, and the pair made of them.
#[derive(Debug)]
struct Loaded {
    crt: Vec<u8>,
    key: Vec<u8>,
    pair: Arc<CertifiedKey>,
}

/// The serving certificate, re-read when its files change.
#[derive(Debug)]
struct CertStore {
    crt: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    /// What was last loaded.
    current: RwLock<Option<Loaded>>,
}

impl CertStore {
    fn new(dir: &Path, provider: Arc<CryptoProvider>) -> CertStore {
        CertStore {
            crt: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            provider,
            current: RwLock::new(None),
        }
    }

    fn files_exist(&self) -> bool {
        self.crt.is_file() && self.key.is_file()
    }

    /// Loads the files if they changed: `Ok(true)` when a new pair is in use.
    fn refresh(&self) -> Result<bool, CertError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| CertError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let (crt, key) = (read(&self.crt)?, read(&self.key)?);
        if let Ok(cur) = self.current.read()
            && let Some(l) = cur.as_ref()
            && l.crt == crt
            && l.key == key
        {
            return Ok(false);
        }
        let pem = |path: &Path, e: rustls::pki_types::pem::Error| CertError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&crt)
            .collect::<Result<_, _>>()
            .map_err(|e| pem(&self.crt, e))?;
        if chain.is_empty() {
            return Err(CertError::Pem {
                path: self.crt.clone(),
                message: "no CERTIFICATE in it".to_string(),
            });
        }
        let private = PrivateKeyDer::from_pem_slice(&key).map_err(|e| pem(&self.key, e))?;
        let pair = CertifiedKey::from_der(chain, private, &self.provider).map_err(|source| {
            CertError::Pair {
                crt: self.crt.clone(),
                key: self.key.clone(),
                source,
            }
        })?;
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(Loaded {
                crt,
                key,
                pair: Arc::new(pair),
            });
        }
        Ok(true)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|l| l.pair.clone()))
    }
}

/// Runs the webhook server until `stop` fires: waits for the certificate
/// files, listens, serves, re-reads the certificate when it changes. Every
/// failure is logged; this never stops the controller.
pub async fn serve(opts: WebhookOptions, metrics: Arc<Metrics>, stop: CancellationToken) {
    serve_inner(opts, metrics, stop, None).await;
}

/// [`serve`], telling `bound` the address it listens on.
async fn serve_inner(
    opts: WebhookOptions,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let store = Arc::new(CertStore::new(&opts.cert_dir, provider.clone()));
    let every = opts.reload_every.max(Duration::from_millis(10));
    // 1. The certificate.
    let mut said = false;
    loop {
        if store.files_exist() {
            match store.refresh() {
                Ok(_) => break,
                Err(e) => tracing::error!("webhook: {e}; retrying in {every:?}"),
            }
        } else if !said {
            tracing::info!(
                "webhook server not started: no {} and {} (it starts when both exist)",
                store.crt.display(),
                store.key.display()
            );
            said = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
    }
    // 2. TLS and the socket.
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_no_client_auth().with_cert_resolver(store.clone()));
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "webhook server failed: TLS setup: {e}; the controller keeps running without it"
            );
            return;
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = match TcpListener::bind(opts.addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "webhook server failed: cannot listen on {}: {e}; the controller keeps running without it",
                opts.addr
            );
            return;
        }
    };
    let addr = listener.local_addr().unwrap_or(opts.addr);
    tracing::info!(
        "webhook listening on {addr} (certificate {})",
        store.crt.display()
    );
    if let Some(b) = bound {
        let _ = b.send(addr);
    }
    // 3. Rotation.
    let watcher = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.cancelled() => return,
                }
                match store.refresh() {
                    Ok(true) => {
                        tracing::info!("webhook certificate reloaded from {}", store.crt.display())
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(
                        "webhook certificate not reloaded (the previous one stays in use): {e}"
                    ),
                }
            }
        })
    };
    // 4. Connections.
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("webhook: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let (acceptor, metrics, stop) = (acceptor.clone(), metrics.clone(), stop.clone());
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!("webhook: TLS handshake with {peer}: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("webhook: TLS handshake with {peer} timed out");
                        return;
                    }
                };
            serve_connection(tls, move |req| handle(req, metrics.clone()), stop).await;
        });
    }
    watcher.abort();
}

async fn handle(req: Request<Incoming>, metrics: Arc<Metrics>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let Some(resource) = Resource::of_path(req.uri().path()) else {
        return respond(
            StatusCode::NOT_FOUND,
            TEXT,
            format!("not found: {BLUEPRINT_PATH}, {ACTIONSET_PATH}, {PROFILE_PATH}\n"),
        );
    };
    if req.method() != Method::POST {
        return respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "only POST\n");
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return respond(
                StatusCode::BAD_REQUEST,
                TEXT,
                format!("reading the request: {e}\n"),
            );
        }
    };
    let answer = tokio::task::spawn_blocking(move || review(resource, &body, &metrics)).await;
    match answer {
        Ok(a) if a.status == 200 => respond(StatusCode::OK, "application/json", a.body.to_string()),
        Ok(a) => respond(
            StatusCode::BAD_REQUEST,
            TEXT,
            format!("{}\n", a.body.as_str().unwrap_or_default()),
        ),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            TEXT,
            format!("validating: {e}\n"),
        ),
    }
}

#[cfg(test)]
mod tests;
