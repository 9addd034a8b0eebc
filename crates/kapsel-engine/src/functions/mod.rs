//! The function library, each written once against [`crate::Platform`].

mod csi;
mod data;
mod jsonpath;
mod kube_exec;
mod kube_exec_all;
mod kube_ops;
mod kube_task;
mod location_delete;
mod multi_container_run;
mod prepare_data;
mod scale_workload;
mod unsupported;
mod wait;

pub use csi::{
    CreateCsiSnapshot, CreateCsiSnapshotStatic, DeleteCsiSnapshot, DeleteCsiSnapshotContent,
    RestoreCsiSnapshot,
};
pub use data::{
    BackupData, BackupDataAll, BackupDataStats, CheckRepository, CopyVolumeData, DeleteData,
    DeleteDataAll, RestoreData, RestoreDataAll,
};
pub use kube_exec::KubeExec;
pub use kube_exec_all::KubeExecAll;
pub use kube_ops::KubeOps;
pub use kube_task::KubeTask;
pub use location_delete::LocationDelete;
pub use multi_container_run::MultiContainerRun;
pub use prepare_data::PrepareData;
pub use scale_workload::ScaleWorkload;
pub use unsupported::Unsupported;
pub use wait::{Wait, WaitV2};

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use crate::function::{Registry, Render};
use crate::platform::{ExecSpec, KubeApi, PlatformError, ResourceRef, TaskSpec};

/// Registers every function: those Kapsel runs, and those no platform of
/// Kapsel can run yet (they fail with a clear error naming the platform).
pub(crate) fn register_all(r: &mut Registry) {
    r.insert(Arc::new(KubeExec));
    r.insert(Arc::new(KubeExecAll));
    r.insert(Arc::new(KubeTask));
    r.insert(Arc::new(MultiContainerRun));
    r.insert(Arc::new(ScaleWorkload));
    r.insert(Arc::new(PrepareData));
    r.insert(Arc::new(BackupData));
    r.insert(Arc::new(BackupDataAll));
    r.insert(Arc::new(RestoreData));
    r.insert(Arc::new(RestoreDataAll));
    r.insert(Arc::new(CopyVolumeData));
    r.insert(Arc::new(DeleteData));
    r.insert(Arc::new(DeleteDataAll));
    r.insert(Arc::new(BackupDataStats));
    r.insert(Arc::new(CheckRepository));
    r.insert(Arc::new(LocationDelete));
    r.insert(Arc::new(KubeOps));
    r.insert(Arc::new(Wait));
    r.insert(Arc::new(WaitV2));
    r.insert(Arc::new(CreateCsiSnapshot));
    r.insert(Arc::new(CreateCsiSnapshotStatic));
    r.insert(Arc::new(RestoreCsiSnapshot));
    r.insert(Arc::new(DeleteCsiSnapshot));
    r.insert(Arc::new(DeleteCsiSnapshotContent));
    for u in unsupported::ALL {
        r.insert(Arc::new(*u));
    }
}

/// The platform's Kubernetes API, or the error that `function` needs `needs`.
pub(crate) fn kube_api<'a>(
    cx: &Context<'a>,
    function: &str,
    needs: &str,
) -> Result<&'a dyn KubeApi, FunctionError> {
    cx.platform
        .kube()
        .ok_or_else(|| FunctionError::Unsupported {
            function: function.to_string(),
            platform: cx.platform.name().to_string(),
            needs: needs.to_string(),
        })
}

/// An `objectReference` argument (`apiVersion`, `group`, `resource`, `kind`,
/// `name`, `namespace`), each field rendered with `render` when given (Wait
/// and WaitV2 render their own, as Kanister's `param.RenderObjectRefs`).
pub(crate) fn resource_ref(
    v: &serde_json::Value,
    render: Option<&Render<'_>>,
) -> Result<ResourceRef, String> {
    let serde_json::Value::Object(m) = v else {
        return Err(format!(
            "expected a map (apiVersion, group, resource, name, namespace), got {v}"
        ));
    };
    let field = |k: &str| -> Result<String, String> {
        let raw = match m.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("{k}: expected a string, got {other}")),
        };
        match render {
            Some(r) if raw.contains("{{") => r(&raw).map_err(|e| format!("{k}: {e}")),
            _ => Ok(raw),
        }
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "apiVersion" | "group" | "resource" | "kind" | "name" | "namespace"
        ) {
            return Err(format!(
                "unknown field {k:?} (apiVersion, group, resource, kind, name, namespace)"
            ));
        }
    }
    Ok(ResourceRef {
        version: field("apiVersion")?,
        group: field("group")?,
        resource: field("resource")?,
        kind: field("kind")?,
        name: field("name")?,
        namespace: field("namespace")?,
    })
}

/// Whether `argv` holds a secret value the action's redactor knows.
pub(crate) fn holds_secret(cx: &Context<'_>, argv: &[String]) -> bool {
    let joined = argv.join("\n");
    cx.redactor.redact(&joined) != joined
}

/// An exec whose command holds a secret value the redactor knows, and
/// that takes no input, runs it through `<shell> -s` with the command as a
/// script on stdin, so that the secret is not in the exec request's argv.
pub(crate) fn keep_secret_out_of_argv(cx: &Context<'_>, mut spec: ExecSpec) -> ExecSpec {
    if spec.stdin.is_none() && holds_secret(cx, &spec.command) {
        let (command, stdin) = crate::launcher::via_stdin(&spec.command);
        spec.command = command;
        spec.stdin = Some(stdin);
    }
    spec
}

/// Runs a task; a command holding a secret value the redactor knows is
/// marked [`TaskSpec::secret_command`], so that the platform keeps it out
/// of the pod spec.
pub(crate) async fn run_task(
    cx: &Context<'_>,
    spec: &TaskSpec,
    sink: &mut dyn OutputSink,
) -> Result<Exit, PlatformError> {
    if !holds_secret(cx, &spec.command) {
        cx.platform.task(spec, sink).await
    } else {
        let mut marked = spec.clone();
        marked.secret_command = true;
        cx.platform.task(&marked, sink).await
    }
}

/// Polling pauses as Kanister's `poll.Wait` (100 ms, doubling), capped at
/// 2 s instead of Kanister's 10 s so that a wait ends soon after its
/// condition holds.
pub(crate) struct Backoff(std::time::Duration);

impl Backoff {
    const MAX: std::time::Duration = std::time::Duration::from_secs(2);

    pub(crate) fn new() -> Backoff {
        Backoff(std::time::Duration::from_millis(100))
    }

    /// The next pause.
    pub(crate) fn next(&mut self) -> std::time::Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        d
    }
}

/// Polls (with [`Backoff`]) until the object `r` is gone, as Kanister waits
/// after deleting one.
pub(crate) async fn wait_gone(
    kube: &dyn crate::platform::KubeApi,
    r: &crate::platform::ResourceRef,
) -> Result<(), crate::platform::PlatformError> {
    let mut backoff = Backoff::new();
    loop {
        match kube.get(r).await {
            Err(crate::platform::PlatformError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
            Ok(_) => tokio::time::sleep(backoff.next()).await,
        }
    }
}

/// Runs futures concurrently on the current task and returns their results in
/// order (all of them, even when some fail).
pub(crate) async fn join_all<T>(futs: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut futs: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + '_>>>> =
        futs.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, res) in futs.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *res = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The image the data functions and LocationDelete run in when the
/// Blueprint names none: Kanister's `KANISTER_TOOLS` environment variable,
/// else its default, `ghcr.io/kanisterio/kanister-tools:0.119.0`.
pub(crate) fn tools_image() -> String {
    std::env::var("KANISTER_TOOLS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "ghcr.io/kanisterio/kanister-tools:0.119.0".to_string())
}

/// A random tag of 10 lowercase letters and digits, as Kanister tags backups.
pub(crate) fn random_tag() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

use crate::event::{Event, LogStream};
use crate::function::{Context, FunctionError, Outputs};
use crate::output::OutputParser;
use crate::platform::{Exit, OutputSink, Stream};

/// How many lines of output a failure report keeps.
const TAIL_LINES: usize = 20;

/// Collects a command's output: phase-output markers from stdout, log lines
/// (redacted) as events, and the last lines for error reports.
pub(crate) struct Collector<'a> {
    cx: &'a Context<'a>,
    parser: OutputParser,
    stderr_line: Vec<u8>,
    tail: VecDeque<String>,
    error: Option<FunctionError>,
    /// Prefix of log lines (`pod/container: `) for commands run side by side.
    prefix: String,
    /// Whether stdout markers count (false: a background command's output).
    markers: bool,
    /// Raw stdout lines kept for the caller (kando's JSON result).
    captured: Option<Vec<Vec<u8>>>,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(cx: &'a Context<'a>) -> Collector<'a> {
        Collector {
            cx,
            parser: OutputParser::new(),
            stderr_line: Vec::new(),
            tail: VecDeque::new(),
            error: None,
            prefix: String::new(),
            markers: true,
            captured: None,
        }
    }

    /// Log lines start with `prefix` (e.g. `pod/container: `).
    pub(crate) fn with_prefix(mut self, prefix: String) -> Self {
        self.prefix = prefix;
        self
    }

    /// Stdout markers are logged, not collected (a background command).
    pub(crate) fn without_markers(mut self) -> Self {
        self.markers = false;
        self
    }

    /// Keeps the raw stdout lines (see [`Collector::finish_captured`]).
    pub(crate) fn capturing(mut self) -> Self {
        self.captured = Some(Vec::new());
        self
    }

    fn log(
        cx: &Context<'_>,
        tail: &mut VecDeque<String>,
        prefix: &str,
        stream: LogStream,
        bytes: &[u8],
    ) {
        let line = cx
            .redactor
            .redact(&format!("{prefix}{}", String::from_utf8_lossy(bytes)));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.clone());
        cx.events.send(Event::Log {
            phase: cx.phase.to_string(),
            stream,
            line,
        });
    }

    /// Ends collection: the outputs, or the error the exit status or a
    /// malformed marker gives.
    pub(crate) fn finish(self, exit: Exit) -> Result<Outputs, FunctionError> {
        self.finish_with(exit, true).map(|(o, _)| o)
    }

    /// Ends collection without failing on the exit status: the outputs and
    /// the error the status would give (PrepareData's `failOnError: false`).
    pub(crate) fn finish_lenient(
        self,
        exit: Exit,
    ) -> Result<(Outputs, Option<FunctionError>), FunctionError> {
        self.finish_with(exit, false)
    }

    /// Ends collection of a command that prints one JSON object on stdout
    /// (kando data): that object, or the command's error.
    pub(crate) fn finish_json(
        mut self,
        exit: Exit,
    ) -> Result<serde_json::Map<String, serde_json::Value>, FunctionError> {
        let captured = self.captured.take().unwrap_or_default();
        self.finish(exit)?;
        // The last line that is a JSON object: a task pod's log interleaves
        // stderr with stdout (the log API keeps one stream), so a message
        // the command wrote to stderr may come after its result.
        let mut lines = captured
            .iter()
            .rev()
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()));
        let last = lines
            .clone()
            .next()
            .ok_or_else(|| FunctionError::Failed("the command printed no result".to_string()))?;
        lines
            .find_map(|l| match serde_json::from_slice::<serde_json::Value>(l) {
                Ok(serde_json::Value::Object(m)) => Some(m),
                _ => None,
            })
            .ok_or_else(|| {
                FunctionError::Failed(format!(
                    "the command's result is not a JSON object: {}",
                    String::from_utf8_lossy(&last[..last.len().min(200)])
                ))
            })
    }

    fn status_error(tail: &VecDeque<String>, exit: Exit) -> Option<FunctionError> {
        (!exit.success()).then(|| FunctionError::Command {
            status: match exit.code {
                Some(c) => format!("exit code {c}"),
                None => "a signal".to_string(),
            },
            tail: tail.iter().cloned().collect::<Vec<_>>().join("\n"),
        })
    }

    fn finish_with(
        mut self,
        exit: Exit,
        strict: bool,
    ) -> Result<(Outputs, Option<FunctionError>), FunctionError> {
        let cx = self.cx;
        let tail = &mut self.tail;
        let prefix = &self.prefix;
        let captured = &mut self.captured;
        let mut log = |b: &[u8]| {
            if let Some(c) = captured.as_mut() {
                c.push(b.to_vec());
            }
            Collector::log(cx, tail, prefix, LogStream::Stdout, b)
        };
        let outputs = self.parser.finish(&mut log);
        if !self.stderr_line.is_empty() {
            let line = std::mem::take(&mut self.stderr_line);
            Collector::log(cx, &mut self.tail, &self.prefix, LogStream::Stderr, &line);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let status = Collector::status_error(&self.tail, exit);
        if strict && let Some(e) = status {
            return Err(e);
        }
        let outputs = if self.markers {
            outputs?
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect()
        } else {
            Outputs::new()
        };
        Ok((outputs, status))
    }
}

impl OutputSink for Collector<'_> {
    fn chunk(&mut self, stream: Stream, data: &[u8]) {
        let cx = self.cx;
        match stream {
            Stream::Stdout => {
                let tail = &mut self.tail;
                let prefix = &self.prefix;
                let captured = &mut self.captured;
                let mut log = |b: &[u8]| {
                    if let Some(c) = captured.as_mut() {
                        c.push(b.to_vec());
                    }
                    Collector::log(cx, tail, prefix, LogStream::Stdout, b)
                };
                if let Err(e) = self.parser.feed(data, &mut log)
                    && self.error.is_none()
                {
                    self.error = Some(e.into());
                }
            }
            Stream::Stderr => {
                let mut rest = data;
                while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                    self.stderr_line.extend_from_slice(&rest[..nl]);
                    rest = &rest[nl + 1..];
                    let line = std::mem::take(&mut self.stderr_line);
                    Collector::log(cx, &mut self.tail, &self.prefix, LogStream::Stderr, &line);
                }
                self.stderr_line.extend_from_slice(rest);
                if self.stderr_line.len() > crate::output::MAX_LOG_LINE {
                    let line = std::mem::take(&mut self.stderr_line);
                    Collector::log(cx, &mut self.tail, &self.prefix, LogStream::Stderr, &line);
                }
            }
        }
    }
}
