//! Who started a task pod, so that pods a killed run left behind can be
//! found and removed (Kanister leaves them: kanister-k8s.md §1.6).
//!
//! Every task pod carries the label `app.kubernetes.io/managed-by: kapsel`,
//! `kapsel.dev/runner-host: <host>` and the annotation `kapsel.dev/runner`
//! with the host, pid namespace, pid and the process's start time. A pod
//! whose runner is on this host, in this pid namespace, and whose process
//! is gone (or is another process with the same pid) is a leftover.

use serde::{Deserialize, Serialize};

/// The label every Kapsel task pod has.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kapsel");
/// The label naming the runner's host.
pub const RUNNER_HOST_LABEL: &str = "kapsel.dev/runner-host";
/// The annotation describing the runner.
pub const RUNNER_ANNOTATION: &str = "kapsel.dev/runner";

/// A process that runs tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runner {
    /// Host name.
    pub host: String,
    /// The pid namespace (`/proc/self/ns/pid`'s link), if readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidns: Option<String>,
    /// Process id.
    pub pid: u32,
    /// Start time of the process in clock ticks since boot (field 22 of
    /// `/proc/<pid>/stat`), so that a reused pid is not mistaken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Field 22 of `/proc/<pid>/stat` (after the command name in parentheses).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Runner {
    /// This process.
    pub fn current() -> Runner {
        let pid = std::process::id();
        Runner {
            host: host_name(),
            pidns: pid_namespace(),
            pid,
            start: start_time(pid),
        }
    }

    /// The host as a label value (at most 63 characters of
    /// `[A-Za-z0-9._-]`, starting and ending alphanumeric).
    pub fn host_label(&self) -> String {
        label_value(&self.host)
    }

    /// The annotation's value.
    pub fn annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the runner described by `annotation` is known to be gone:
    /// same host and pid namespace as this process, and its pid is free or
    /// belongs to a process started at another time. A runner elsewhere is
    /// never judged dead.
    pub fn is_gone(annotation: &str) -> bool {
        let Ok(r) = serde_json::from_str::<Runner>(annotation) else {
            return false;
        };
        let me = Runner::current();
        if r.host != me.host || r.pidns.is_none() || r.pidns != me.pidns {
            return false;
        }
        if r.pid == me.pid && r.start == me.start {
            return false;
        }
        match (start_time(r.pid), r.start) {
            (None, _) => true,
            (Some(now), Some(then)) => now != then,
            (Some(_), None) => false,
        }
    }
}

/// A string made a valid label value.
pub fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone_and_a_dead_pid_is() {
        let me = Runner::current();
        assert!(!Runner::is_gone(&me.annotation()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = Runner {
            pid,
            start: Some(1),
            ..me.clone()
        };
        assert!(Runner::is_gone(&dead.annotation()));
        let elsewhere = Runner {
            host: "another-host".into(),
            ..dead
        };
        assert!(!Runner::is_gone(&elsewhere.annotation()));
        assert!(!Runner::is_gone("not json"));
    }

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("my.host_name"), "my.host_name");
        assert_eq!(label_value("-a b-"), "a-b");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
    }
}
