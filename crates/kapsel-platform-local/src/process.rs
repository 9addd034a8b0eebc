//! Running one command: its own process group, output streamed to a sink, the
//! whole group killed if the future is dropped before the command ends
//! (timeout, cancellation).

use std::path::Path;
use std::process::Stdio;

use kapsel_engine::{Exit, OutputSink, PlatformError, Stdin, Stream};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Kills a process group when dropped while armed.
struct GroupGuard {
    pgid: Option<i32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// Runs `argv` with exactly `env`, in `cwd`; `stdin` is written to its
/// standard input, which is then closed (closed at once when `None`).
pub(crate) async fn run(
    argv: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
    stdin: Option<&Stdin>,
    sink: &mut dyn OutputSink,
) -> Result<Exit, PlatformError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| PlatformError::Other("the command is empty".to_string()))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    // HOME and friends are inherited unless the inventory sets them.
    for k in ["HOME", "USER", "LANG", "TMPDIR"] {
        if !env.iter().any(|(n, _)| n == k)
            && let Ok(v) = std::env::var(k)
        {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| PlatformError::Other(format!("cannot start {program:?}: {e}")))?;
    let mut guard = GroupGuard {
        pgid: child.id().and_then(|id| i32::try_from(id).ok()),
    };
    // Feed stdin alongside reading the output (a command may print before it
    // reads); a command that exits without reading it all is not an error.
    let mut feed = match (child.stdin.take(), stdin) {
        (Some(mut pipe), Some(data)) => {
            let data = data.0.clone();
            Some(tokio::spawn(async move {
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            }))
        }
        _ => None,
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out_buf, mut err_buf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut status = None;
    let mut grace_until: Option<tokio::time::Instant> = None;
    // Read until both pipes close. Once the command itself has exited, a
    // background process it started (a server) may hold the pipes open: then
    // read only what is already there, for a moment, and stop.
    while stdout.is_some() || stderr.is_some() {
        let grace = async {
            match grace_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = async { match stdout.as_mut() { Some(s) => s.read(&mut out_buf).await, None => std::future::pending().await } } => {
                match r {
                    Ok(0) | Err(_) => stdout = None,
                    Ok(n) => sink.chunk(Stream::Stdout, &out_buf[..n]),
                }
            }
            r = async { match stderr.as_mut() { Some(s) => s.read(&mut err_buf).await, None => std::future::pending().await } } => {
                match r {
                    Ok(0) | Err(_) => stderr = None,
                    Ok(n) => sink.chunk(Stream::Stderr, &err_buf[..n]),
                }
            }
            r = child.wait(), if status.is_none() => {
                status = Some(r.map_err(|e| PlatformError::Other(format!("waiting for {program:?}: {e}")))?);
                grace_until = Some(tokio::time::Instant::now() + std::time::Duration::from_millis(300));
            }
            () = grace => break,
        }
    }
    let status = match status {
        Some(s) => s,
        None => child
            .wait()
            .await
            .map_err(|e| PlatformError::Other(format!("waiting for {program:?}: {e}")))?,
    };
    if let Some(f) = feed.take() {
        f.abort();
    }
    // Finished normally: background processes it started (a server) live on.
    guard.pgid = None;
    Ok(Exit {
        code: status.code(),
    })
}
