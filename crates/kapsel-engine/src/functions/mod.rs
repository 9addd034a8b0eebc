//! The function library, each written once against [`crate::Platform`].

mod kube_exec;
mod kube_task;

pub use kube_exec::KubeExec;
pub use kube_task::KubeTask;

use std::collections::VecDeque;

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
}

impl<'a> Collector<'a> {
    pub(crate) fn new(cx: &'a Context<'a>) -> Collector<'a> {
        Collector {
            cx,
            parser: OutputParser::new(),
            stderr_line: Vec::new(),
            tail: VecDeque::new(),
            error: None,
        }
    }

    fn log(cx: &Context<'_>, tail: &mut VecDeque<String>, stream: LogStream, bytes: &[u8]) {
        let line = cx.redactor.redact(&String::from_utf8_lossy(bytes));
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
    pub(crate) fn finish(mut self, exit: Exit) -> Result<Outputs, FunctionError> {
        let cx = self.cx;
        let tail = &mut self.tail;
        let mut log = |b: &[u8]| Collector::log(cx, tail, LogStream::Stdout, b);
        let outputs = self.parser.finish(&mut log);
        if !self.stderr_line.is_empty() {
            let line = std::mem::take(&mut self.stderr_line);
            Collector::log(cx, &mut self.tail, LogStream::Stderr, &line);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        if !exit.success() {
            return Err(FunctionError::Command {
                status: match exit.code {
                    Some(c) => format!("exit code {c}"),
                    None => "a signal".to_string(),
                },
                tail: self.tail.iter().cloned().collect::<Vec<_>>().join("\n"),
            });
        }
        Ok(outputs?
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect())
    }
}

impl OutputSink for Collector<'_> {
    fn chunk(&mut self, stream: Stream, data: &[u8]) {
        let cx = self.cx;
        match stream {
            Stream::Stdout => {
                let tail = &mut self.tail;
                let mut log = |b: &[u8]| Collector::log(cx, tail, LogStream::Stdout, b);
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
                    Collector::log(cx, &mut self.tail, LogStream::Stderr, &line);
                }
                self.stderr_line.extend_from_slice(rest);
                if self.stderr_line.len() > crate::output::MAX_LOG_LINE {
                    let line = std::mem::take(&mut self.stderr_line);
                    Collector::log(cx, &mut self.tail, LogStream::Stderr, &line);
                }
            }
        }
    }
}
