//! Running one command: its own process group, output streamed to a sink, the
//! whole group killed if the future is dropped before the command ends
//! (timeout, cancellation). A command with host aliases is started through
//! the wrapper of [`crate::hosts`], which execs it in the same process (same
//! pid, same group).

use std::path::Path;
use std::process::Stdio;

use kapsel_engine::{Exit, OutputSink, PlatformError, Stdin, Stream};

use crate::hosts::Isolation;
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
/// standard input, which is then closed (closed at once when `None`). With
/// `hosts`, in a private mount namespace with that `/etc/hosts`.
pub(crate) async fn run(
    argv: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
    stdin: Option<&Stdin>,
    hosts: Option<&Isolation>,
    sink: &mut dyn OutputSink,
) -> Result<Exit, PlatformError> {
    let program = argv
        .first()
        .ok_or_else(|| PlatformError::Other("the command is empty".to_string()))?;
    let wrapped;
    let argv = match hosts {
        None => argv,
        Some(iso) => {
            let path = env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_str());
            if !crate::hosts::findable(program, path, cwd) {
                return Err(PlatformError::Other(format!(
                    "cannot start {program:?}: not found on the command's PATH"
                )));
            }
            wrapped = iso.wrap(argv, env.iter().any(|(k, _)| k == "PWD"));
            &wrapped[..]
        }
    };
    let (spawned, args) = argv
        .split_first()
        .ok_or_else(|| PlatformError::Other("the command is empty".to_string()))?;
    let mut cmd = Command::new(spawned);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::inventory::HostAlias;

    #[derive(Default)]
    struct Collect(Vec<u8>, Vec<u8>);

    impl OutputSink for Collect {
        fn chunk(&mut self, stream: Stream, data: &[u8]) {
            match stream {
                Stream::Stdout => self.0.extend_from_slice(data),
                Stream::Stderr => self.1.extend_from_slice(data),
            }
        }
    }

    /// Through the hostAliases wrapper a command still gets its stdin
    /// payload, exactly its environment and argv, its working directory, and
    /// its exit code; a missing program is the same error as without it.
    #[tokio::test]
    async fn an_aliased_command_keeps_stdin_env_argv_cwd_and_exit_code() {
        let alias = HostAlias {
            ip: "127.0.0.9".to_string(),
            hostnames: vec!["kapsel-process-test".to_string()],
        };
        let iso = match crate::hosts::prepare(&[&alias]).await {
            Ok(i) => i.unwrap(),
            Err(e) => {
                // Only where neither root nor user namespaces are available.
                let e = e.to_string();
                assert!(
                    e.contains("hostAliases") && e.contains("user namespaces"),
                    "{e}"
                );
                kapsel_testkit::skip::notice(&format!(
                    "SKIP (this host cannot make mount namespaces): {e}"
                ));
                return;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("SECRET_ENV".to_string(), "env-value-123".to_string()),
        ];
        let argv: Vec<String> = [
            "sh",
            "-c",
            "cat; echo; echo \"args:$1|$2\"; pwd; env | sort; getent hosts kapsel-process-test; exit 7",
            "zero",
            "one two",
            "",
        ]
        .map(String::from)
        .to_vec();
        let mut out = Collect::default();
        let exit = run(
            &argv,
            &env,
            Some(dir.path()),
            Some(&Stdin(b"payload-bytes".to_vec())),
            Some(&iso),
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.0).into_owned();
        assert_eq!(
            exit.code,
            Some(7),
            "{text}\n{}",
            String::from_utf8_lossy(&out.1)
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "payload-bytes");
        assert_eq!(lines[1], "args:one two|");
        assert_eq!(
            std::path::Path::new(lines[2]).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
        let env_lines: Vec<&str> = lines[3..]
            .iter()
            .copied()
            .take_while(|l| !l.starts_with("127.0.0.9"))
            .collect();
        assert!(env_lines.contains(&"SECRET_ENV=env-value-123"));
        assert!(
            text.contains("127.0.0.9       kapsel-process-test"),
            "{text}"
        );
        // The same command without the wrapper sees the same environment
        // (the shell of the command adds PWD in both cases), and not the alias.
        let mut plain = Collect::default();
        let exit = run(
            &argv,
            &env,
            Some(dir.path()),
            Some(&Stdin(b"payload-bytes".to_vec())),
            None,
            &mut plain,
        )
        .await
        .unwrap();
        assert_eq!(exit.code, Some(7));
        let plain = String::from_utf8_lossy(&plain.0).into_owned();
        let plain_env: Vec<&str> = plain.lines().skip(3).collect();
        assert_eq!(
            env_lines, plain_env,
            "the wrapper adds nothing to the environment"
        );

        let missing = ["no-such-program-kapsel".to_string()];
        let err = run(
            &missing,
            &env,
            None,
            None,
            Some(&iso),
            &mut Collect::default(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot start \"no-such-program-kapsel\""),
            "{err}"
        );
    }
}
