//! `hostAliases`: a command that has host aliases (the inventory's, and for
//! a workload's commands also the workload's) runs in a private mount
//! namespace where `/etc/hosts` is a generated file: the alias lines, then the
//! host's own `/etc/hosts`. That is what Kubernetes does for a pod with
//! `hostAliases`, and it lets a Blueprint reach a server by the name it has in
//! the cluster (`mysql -h <statefulset>`) without changing the Blueprint or
//! the host.
//!
//! The workspace forbids `unsafe`, so there is no `pre_exec`: the command is
//! started through util-linux's `unshare`, which execs `/bin/sh` with a fixed
//! script that bind-mounts the file over `/etc/hosts` and execs the command
//! (no fork in between: the command keeps the pid and the process group of the
//! spawned process, so timeouts and cancellation kill it as before).
//!
//! - As root: `unshare --mount --propagation private`.
//! - Otherwise, or when that fails: in a new user namespace mapping the
//!   current user to itself (`--map-current-user --keep-caps`); the
//!   capabilities that namespace gives are dropped again (`setpriv`) before
//!   the command starts.
//! - When neither works, the command fails before it starts, with an error
//!   that names `hostAliases` and says what to do.
//!
//! The wrapper's arguments are fixed text, tool paths and the generated file's
//! path, followed by the command's own argv; nothing of the environment or of
//! the standard input payload is put on a command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use kapsel_engine::PlatformError;
use tokio::sync::OnceCell;

use crate::inventory::HostAlias;

/// How the private mount namespace is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `unshare --mount` (needs CAP_SYS_ADMIN: root).
    Mount,
    /// `unshare --user --map-current-user --keep-caps --mount`.
    UserNamespace,
}

/// The tools and the mode that work on this host (probed once per process).
#[derive(Debug, Clone)]
struct Wrapper {
    mode: Mode,
    unshare: PathBuf,
    mount: PathBuf,
    setpriv: Option<PathBuf>,
}

/// A generated `/etc/hosts` and the way to put it in place for a command.
#[derive(Debug)]
pub(crate) struct Isolation {
    file: tempfile::NamedTempFile,
    wrapper: Wrapper,
}

const WHAT_TO_DO: &str = "run kapsel as root, or allow unprivileged user namespaces \
(sysctl user.max_user_namespaces > 0; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0), \
or remove hostAliases from the inventory and let the tools reach the server another way \
(e.g. libpq's PGHOSTADDR, or the address in the workload's env)";

fn error(detail: &str) -> PlatformError {
    PlatformError::Other(format!(
        "hostAliases: the command must run in a private mount namespace with its own /etc/hosts, \
         which is not possible here: {detail}; {WHAT_TO_DO}"
    ))
}

/// The `/etc/hosts` text: the aliases (so that they win over the host's
/// entries for the same name), then the host's file.
pub(crate) fn hosts_text(aliases: &[&HostAlias], host: &str) -> String {
    let mut s = String::from("# Entries added by Kapsel from the inventory's hostAliases.\n");
    for a in aliases {
        s.push_str(&a.ip);
        for h in &a.hostnames {
            s.push('\t');
            s.push_str(h);
        }
        s.push('\n');
    }
    s.push_str("# The host's /etc/hosts.\n");
    s.push_str(host);
    if !host.is_empty() && !host.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The isolation for a command with `aliases` (workload's first), or `None`
/// when there are none.
pub(crate) async fn prepare(aliases: &[&HostAlias]) -> Result<Option<Isolation>, PlatformError> {
    if aliases.is_empty() {
        return Ok(None);
    }
    for a in aliases {
        crate::inventory::check_alias(a)
            .map_err(|e| PlatformError::Other(format!("hostAliases: {e}")))?;
    }
    let wrapper = wrapper().await?;
    let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let file = hosts_file(&hosts_text(aliases, &host))?;
    Ok(Some(Isolation { file, wrapper }))
}

fn hosts_file(text: &str) -> Result<tempfile::NamedTempFile, PlatformError> {
    use std::os::unix::fs::PermissionsExt;
    let mut f = tempfile::Builder::new()
        .prefix("kapsel-hosts-")
        .tempfile()
        .map_err(|e| {
            PlatformError::Other(format!("hostAliases: cannot create a hosts file: {e}"))
        })?;
    let path = f.path().display().to_string();
    let fail =
        |e: std::io::Error| PlatformError::Other(format!("hostAliases: cannot write {path}: {e}"));
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.flush().map_err(fail)?;
    // Readable by whatever user the command switches to (host names are not
    // secret).
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).map_err(fail)?;
    Ok(f)
}

impl Isolation {
    /// The argv that runs `argv` with this `/etc/hosts`. `keep_pwd`: the
    /// command's environment sets `PWD` (otherwise the shell's own `PWD` is
    /// removed again, so the command's environment is exactly the one given).
    pub(crate) fn wrap(&self, argv: &[String], keep_pwd: bool) -> Vec<String> {
        self.wrapper.wrap(self.file.path(), argv, keep_pwd)
    }
}

impl Wrapper {
    fn wrap(&self, hosts: &Path, argv: &[String], keep_pwd: bool) -> Vec<String> {
        let mut v = vec![self.unshare.display().to_string()];
        if self.mode == Mode::UserNamespace {
            v.extend(["--user", "--map-current-user", "--keep-caps"].map(String::from));
        }
        v.extend(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"].map(String::from));
        let unset = if keep_pwd { "" } else { "unset PWD; " };
        // $1 mount, $2 the hosts file, $3 setpriv (user namespace only).
        let run = match self.mode {
            Mode::Mount => "shift 3; exec \"$@\"",
            Mode::UserNamespace => {
                "s=$3; shift 3; exec \"$s\" --inh-caps=-all --ambient-caps=-all -- \"$@\""
            }
        };
        v.push(format!(
            "{unset}\"$1\" --bind \"$2\" /etc/hosts </dev/null || \
             {{ echo \"kapsel: hostAliases: cannot bind-mount $2 over /etc/hosts\" >&2; exit 125; }}; {run}"
        ));
        v.push("kapsel-hosts".to_string());
        v.push(self.mount.display().to_string());
        v.push(hosts.display().to_string());
        v.push(
            self.setpriv
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        v.extend(argv.iter().cloned());
        v
    }
}

/// A system tool: on kapsel's `PATH`, else in the usual directories.
fn system_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The wrapper that works here, found on first use and kept for the process.
async fn wrapper() -> Result<Wrapper, PlatformError> {
    static WRAPPER: OnceCell<Result<Wrapper, String>> = OnceCell::const_new();
    WRAPPER
        .get_or_init(probe)
        .await
        .clone()
        .map_err(|e| error(&e))
}

/// Tries each mode with a real bind mount over `/etc/hosts` and a command that
/// checks it is in place.
async fn probe() -> Result<Wrapper, String> {
    let (Some(unshare), Some(mount)) = (system_tool("unshare"), system_tool("mount")) else {
        return Err(
            "util-linux's `unshare` and `mount` are needed (Debian: util-linux, mount)".to_string(),
        );
    };
    let setpriv = system_tool("setpriv");
    let mut modes = Vec::new();
    if nix::unistd::geteuid().is_root() {
        modes.push(Mode::Mount);
    }
    modes.push(Mode::UserNamespace);
    let marker = "kapsel-hostaliases-probe";
    let text = hosts_text(
        &[&HostAlias {
            ip: "127.0.0.1".to_string(),
            hostnames: vec![marker.to_string()],
        }],
        "",
    );
    let file = hosts_file(&text).map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for mode in modes {
        if mode == Mode::UserNamespace && setpriv.is_none() {
            failures.push("a user namespace needs util-linux's `setpriv`".to_string());
            continue;
        }
        let w = Wrapper {
            mode,
            unshare: unshare.clone(),
            mount: mount.clone(),
            setpriv: setpriv.clone(),
        };
        let argv = w.wrap(
            file.path(),
            &[
                "/bin/sh".to_string(),
                "-c".to_string(),
                format!("grep -q {marker} /etc/hosts"),
            ],
            false,
        );
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => return Ok(w),
            Ok(o) => failures.push(format!(
                "{} ({}): {}",
                argv[..argv.iter().position(|a| a == "--").unwrap_or(1)].join(" "),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => failures.push(format!("cannot start {}: {e}", unshare.display())),
        }
    }
    Err(failures.join("; "))
}

/// Whether `program` can be started with `path` (the command's `PATH`) from
/// `cwd`: the wrapped command is started by a shell, which would report a
/// missing program as exit 127; this keeps the unwrapped error.
pub(crate) fn findable(program: &str, path: Option<&str>, cwd: Option<&Path>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        return match (p.is_absolute(), cwd) {
            (false, Some(d)) => executable(&d.join(p)),
            _ => executable(p),
        };
    }
    std::env::split_paths(path.unwrap_or_default()).any(|d| executable(&d.join(program)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn alias(ip: &str, names: &[&str]) -> HostAlias {
        HostAlias {
            ip: ip.to_string(),
            hostnames: names.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn aliases_come_before_the_hosts_file() {
        let a = alias("127.0.0.5", &["db", "db.ns.svc.cluster.local"]);
        let b = alias("::1", &["six"]);
        let t = hosts_text(&[&a, &b], "127.0.0.1\tlocalhost");
        assert_eq!(
            t,
            "# Entries added by Kapsel from the inventory's hostAliases.\n\
             127.0.0.5\tdb\tdb.ns.svc.cluster.local\n::1\tsix\n\
             # The host's /etc/hosts.\n127.0.0.1\tlocalhost\n"
        );
    }

    #[test]
    fn the_wrapper_argv_is_fixed_text_paths_and_the_command() {
        for mode in [Mode::Mount, Mode::UserNamespace] {
            let w = Wrapper {
                mode,
                unshare: "/usr/bin/unshare".into(),
                mount: "/usr/bin/mount".into(),
                setpriv: Some("/usr/bin/setpriv".into()),
            };
            let cmd = vec!["psql".to_string(), "-c".to_string(), "select 1".to_string()];
            let v = w.wrap(Path::new("/tmp/kapsel-hosts-x"), &cmd, false);
            assert_eq!(v[v.len() - 3..], cmd[..], "the command's own argv, last");
            assert_eq!(v[0], "/usr/bin/unshare");
            let sep = v.iter().position(|a| a == "--").unwrap();
            assert_eq!(
                v[sep + 1..sep + 3],
                ["/bin/sh".to_string(), "-c".to_string()]
            );
            assert_eq!(
                v[sep + 4..sep + 8],
                [
                    "kapsel-hosts".to_string(),
                    "/usr/bin/mount".to_string(),
                    "/tmp/kapsel-hosts-x".to_string(),
                    "/usr/bin/setpriv".to_string()
                ]
            );
            assert_eq!(v.len(), sep + 8 + cmd.len());
            assert!(v[sep + 3].starts_with("unset PWD; "));
            assert!(!w.wrap(Path::new("/h"), &cmd, true)[sep + 3].contains("PWD"));
        }
    }

    #[test]
    fn findable_follows_path_and_cwd() {
        assert!(findable("sh", Some("/nonexistent:/bin:/usr/bin"), None));
        assert!(!findable("sh", Some("/nonexistent"), None));
        assert!(findable("/bin/sh", None, None));
        assert!(findable("bin/sh", None, Some(Path::new("/"))));
        assert!(!findable(
            "no-such-program-kapsel",
            Some("/bin:/usr/bin"),
            None
        ));
    }
}
