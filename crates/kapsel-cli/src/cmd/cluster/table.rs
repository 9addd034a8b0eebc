//! kubectl's table layout (left-aligned columns, three spaces between
//! them, upper-case headers) and its `AGE` column, and the rows of
//! `kapsel actionset get`.

use chrono::{DateTime, Utc};
use kapsel_api::{ActionSet, Phase, State};

/// Renders rows under `headers` as kubectl does (tabwriter, padding 3).
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len().saturating_sub(1);
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            l.push_str(c);
            if i < last {
                let pad = widths[i] - c.chars().count() + 3;
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// kubectl's `AGE`: apimachinery's `duration.HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A Kubernetes time (jiff) as chrono's.
pub fn chrono_time(t: &k8s_openapi::jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(
        t.as_second(),
        u32::try_from(t.subsec_nanosecond()).unwrap_or(0),
    )
}

/// The age of an object created at `created`, at `now`.
pub fn age(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match created {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_string(),
    }
}

/// The lower-case name of a state, as in the status.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Pending => "pending",
        State::Running => "running",
        State::Failed => "failed",
        State::Complete => "complete",
    }
}

/// Every phase of every action, with its action's name, in order (each
/// action's phases, then its deferPhase).
pub fn phases(set: &ActionSet) -> Vec<(&str, &Phase)> {
    set.status
        .iter()
        .flat_map(|s| s.actions.iter())
        .flat_map(|a| {
            a.phases
                .iter()
                .chain(a.defer_phase.iter())
                .map(move |p| (a.name.as_str(), p))
        })
        .collect()
}

/// The `PHASE` column: the running phase, else the last phase that ran.
pub fn current_phase(set: &ActionSet) -> String {
    let Some(status) = &set.status else {
        return String::new();
    };
    if !status.progress.running_phase.is_empty() {
        return status.progress.running_phase.clone();
    }
    let all = phases(set);
    if let Some((_, p)) = all.iter().find(|(_, p)| p.state == State::Running) {
        return p.name.clone();
    }
    all.iter()
        .rev()
        .find(|(_, p)| p.state != State::Pending)
        .map(|(_, p)| p.name.clone())
        .unwrap_or_default()
}

/// The `PROGRESS` column: `status.progress.percentCompleted` with `%`.
pub fn progress(set: &ActionSet) -> String {
    set.status
        .as_ref()
        .map(|s| s.progress.percent_completed.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.ends_with('%') {
                p.to_string()
            } else {
                format!("{p}%")
            }
        })
        .unwrap_or_default()
}

/// What `kapsel actionset get` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// The NAMESPACE column (`-A`).
    pub namespace: bool,
    /// `--output wide`: BLUEPRINT and OBJECTS too.
    pub wide: bool,
}

/// The table of `kapsel actionset get`.
pub fn actionsets(sets: &[ActionSet], cols: Columns, now: DateTime<Utc>) -> String {
    let mut headers = Vec::new();
    if cols.namespace {
        headers.push("NAMESPACE");
    }
    headers.extend(["NAME", "STATE", "ACTIONS", "PHASE", "PROGRESS", "AGE"]);
    if cols.wide {
        headers.extend(["BLUEPRINT", "OBJECTS"]);
    }
    let dash = |s: String| if s.is_empty() { "-".to_string() } else { s };
    let rows: Vec<Vec<String>> = sets
        .iter()
        .map(|set| {
            let mut r = Vec::new();
            if cols.namespace {
                r.push(set.metadata.namespace.clone().unwrap_or_default());
            }
            r.push(set.metadata.name.clone().unwrap_or_default());
            r.push(
                set.status
                    .as_ref()
                    .map(|s| state_name(s.state).to_string())
                    .unwrap_or_else(|| "-".to_string()),
            );
            let actions = set.spec.actions.iter().map(|a| a.name.as_str());
            r.push(dash(dedup(actions).join(",")));
            r.push(dash(current_phase(set)));
            r.push(dash(progress(set)));
            r.push(age(
                set.metadata
                    .creation_timestamp
                    .as_ref()
                    .and_then(|t| chrono_time(&t.0)),
                now,
            ));
            if cols.wide {
                let bps = set.spec.actions.iter().map(|a| a.blueprint.as_str());
                r.push(dash(dedup(bps).join(",")));
                let objects = set
                    .spec
                    .actions
                    .iter()
                    .map(|a| object_path(&a.object))
                    .collect::<Vec<_>>();
                r.push(dash(objects.join(",")));
            }
            r
        })
        .collect();
    render(&headers, &rows)
}

/// `kind/namespace/name`, or `group/version/resource/namespace/name` for
/// an object given by resource.
pub fn object_path(o: &kapsel_api::ObjectReference) -> String {
    let mut parts: Vec<&str> = if o.kind.is_empty() {
        vec![
            o.group.as_str(),
            o.api_version.as_str(),
            o.resource.as_str(),
        ]
    } else {
        vec![o.kind.as_str()]
    };
    parts.push(o.namespace.as_str());
    parts.push(o.name.as_str());
    parts.retain(|p| !p.is_empty());
    parts.join("/")
}

/// The distinct values, in first-seen order.
fn dedup<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
    v
}

/// A byte count as kubectl-ish binary units (`12.3 MiB`).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_are_kubectls() {
        let d = chrono::Duration::seconds;
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 24 * 3600, "8d"),
            (2 * 365 * 24 * 3600, "2y"),
            (2 * 365 * 24 * 3600 + 24 * 3600, "2y1d"),
            (9 * 365 * 24 * 3600, "9y"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(d(s)), want, "{s}s");
        }
    }

    #[test]
    fn bytes_are_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
