//! Two `kapsel controller --leader-elect` replicas on the testbed (child
//! processes of the test, a 6 s Lease in the test's namespace):
//!
//! - The leader SIGKILLed while an action runs: the standby takes the Lease
//!   after it expires, deletes the dead leader's task pod, runs the
//!   deferPhase, and fails the ActionSet with the restart reason naming the
//!   dead leader; no pod is left; a new ActionSet completes under the new
//!   leader.
//! - The leader frozen (SIGSTOP) while an action runs, so that it cannot
//!   renew: the standby takes over and recovers the ActionSet; when the old
//!   leader resumes (SIGCONT) it finds its term over and stops at once
//!   without touching anything (fencing), then stands by. A clean stop
//!   (SIGTERM) of the new leader releases the Lease and the old one leads
//!   again, and completes a new ActionSet.
//!
//! "No action ran twice at the same time" is checked on what the task pods
//! themselves report: every phase posts a start marker, a tick every 0.5 s
//! and an end marker, with its pod's name, to a recorder pod that stamps
//! and appends them in arrival order; the intervals of different pods
//! never overlap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use kapsel_e2e::actionsets::{
    ControllerProcess, RESTART_REASON, actionset, get_actionset, install_crds, lease_holder,
    wait_finished, wait_state,
};
use kapsel_e2e::flow::{kapsel_pods, no_kapsel_pods, running_pod, sh_in};
use kapsel_e2e::{Env, image, kapsel_bin, wait_until};

const LEASE: &str = "kapsel-controller";

/// A pod that stamps and appends what it is POSTed, and serves it on GET.
fn recorder(ns: &str) -> String {
    let script = r#"
import http.server, threading, time
lock = threading.Lock()
lines = []
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode().strip()
        with lock:
            lines.append("%.3f %s" % (time.time(), body))
        self.send_response(200)
        self.end_headers()
    def do_GET(self):
        with lock:
            data = "".join(l + "\n" for l in lines)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(data.encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
"#;
    serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "recorder", "namespace": ns, "labels": {"app": "recorder"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "recorder", "image": image("tools"),
            "command": ["python3", "-c", script],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}})
    .to_string()
}

/// A Blueprint whose phase `work` posts a start marker, `ticks` ticks
/// every 0.5 s and an end marker, and whose deferPhase `cleanup` posts
/// start, one tick and end; each from its own task pod.
fn blueprint(ns: &str) -> String {
    let post = |what: &str| {
        format!(r#"curl -sf -m 5 -d "{what} $HOSTNAME" http://{{{{ .Options.recorder }}}}:8080/"#)
    };
    let work = format!(
        "{}; i=0; while [ $i -lt {{{{ .Options.ticks }}}} ]; do {}; sleep 0.5; i=$((i+1)); done; {}",
        post("start work"),
        post("tick work"),
        post("end work")
    );
    let cleanup = format!(
        "{}; sleep 0.5; {}; sleep 0.5; {}",
        post("start cleanup"),
        post("tick cleanup"),
        post("end cleanup")
    );
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": "ha", "namespace": ns},
        "actions": {"work": {
            "phases": [{"func": "KubeTask", "name": "work", "args": {
                "image": image("tools"), "namespace": "{{ .Namespace.Name }}",
                "command": ["sh", "-c", work]}}],
            "deferPhase": {"func": "KubeTask", "name": "cleanup", "args": {
                "image": image("tools"), "namespace": "{{ .Namespace.Name }}",
                "command": ["sh", "-c", cleanup]}}}}})
    .to_string()
}

fn work(ns: &str, recorder_ip: &str, ticks: u32) -> serde_json::Value {
    serde_json::json!({"name": "work", "blueprint": "ha",
        "object": {"kind": "Namespace", "name": ns, "namespace": ns},
        "options": {"recorder": recorder_ip, "ticks": ticks.to_string()}})
}

/// One marker: arrival time, kind, phase, pod.
#[derive(Debug, Clone)]
struct Marker {
    at: f64,
    kind: String,
    phase: String,
    pod: String,
}

async fn markers(env: &Env, ns: &str) -> Vec<Marker> {
    sh_in(env, ns, "recorder", None, "curl -sf localhost:8080/")
        .await
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(Marker {
                at: w.next()?.parse().ok()?,
                kind: w.next()?.to_string(),
                phase: w.next()?.to_string(),
                pod: w.next()?.to_string(),
            })
        })
        .collect()
}

/// Each task pod's interval (first to last marker): they must not overlap.
fn assert_no_overlap(markers: &[Marker]) {
    let mut spans: BTreeMap<String, (f64, f64, String)> = BTreeMap::new();
    for m in markers {
        let e = spans
            .entry(m.pod.clone())
            .or_insert((m.at, m.at, m.phase.clone()));
        e.0 = e.0.min(m.at);
        e.1 = e.1.max(m.at);
    }
    let mut v: Vec<_> = spans.into_iter().collect();
    v.sort_by(|a, b| a.1.0.total_cmp(&b.1.0));
    for (pod, (a, b, phase)) in &v {
        eprintln!("  {phase:>8} {pod}: {a:.3} .. {b:.3}");
    }
    for w in v.windows(2) {
        assert!(
            w[0].1.1 < w[1].1.0,
            "two phases ran at the same time: {} ({}) until {:.3}, {} ({}) from {:.3}",
            w[0].0,
            w[0].1.2,
            w[0].1.1,
            w[1].0,
            w[1].1.2,
            w[1].1.0
        );
    }
}

/// The pod IP of the recorder, once it serves.
async fn recorder_ip(env: &Env, ns: &str) -> String {
    env.apply(ns, &recorder(ns)).await.unwrap();
    let pod = running_pod(env, ns, "app=recorder").await;
    env.pods(ns)
        .get(&pod)
        .await
        .unwrap()
        .status
        .and_then(|s| s.pod_ip)
        .unwrap()
}

fn replica(bin: &std::path::Path, ns: &str, log: &std::path::Path, id: &str) -> ControllerProcess {
    ControllerProcess::spawn(
        bin,
        ns,
        log,
        id,
        &[
            "--leader-elect",
            "--lease-namespace",
            ns,
            "--lease-duration",
            "6s",
        ],
    )
}

/// Waits until `id` holds the Lease.
async fn wait_leader(env: &Env, ns: &str, id: &str) {
    wait_until(
        Duration::from_secs(120),
        &format!("{id} leading"),
        || async { Ok(lease_holder(env, ns, LEASE).await.as_deref() == Some(id)) },
    )
    .await
    .unwrap();
}

/// Waits until the `work` phase of some pod has ticked twice.
async fn wait_ticks(env: &Env, ns: &str) {
    wait_until(
        Duration::from_secs(120),
        "the work phase ticking",
        || async {
            Ok(markers(env, ns)
                .await
                .iter()
                .filter(|m| m.kind == "tick" && m.phase == "work")
                .count()
                >= 2)
        },
    )
    .await
    .unwrap();
}

/// The interrupted ActionSet, recovered by the new leader: failed with
/// the reason naming the old leader, its deferPhase complete, its phase
/// failed, no pod left.
async fn assert_recovered(env: &Env, ns: &str, name: &str, old: &str, new: &str) {
    let v = wait_finished(env, ns, name, Duration::from_secs(180)).await;
    let st = &v["status"];
    assert_eq!(st["state"], "failed", "{st:#}");
    let msg = st["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with(RESTART_REASON), "{msg}");
    assert!(
        msg.contains(old) && msg.contains(new),
        "names both controllers: {msg}"
    );
    assert!(msg.contains("deferPhase cleanup ran: complete"), "{msg}");
    assert_eq!(st["actions"][0]["phases"][0]["state"], "failed", "{st:#}");
    assert_eq!(
        st["actions"][0]["deferPhase"]["state"], "complete",
        "{st:#}"
    );
    no_kapsel_pods(env, ns).await;
    let m = markers(env, ns).await;
    assert!(
        m.iter().any(|m| m.phase == "cleanup" && m.kind == "end"),
        "the deferPhase ran to its end: {m:?}"
    );
    assert_no_overlap(&m);
}

#[tokio::test]
async fn standby_takes_over_from_a_killed_leader() {
    let Some(env) = Env::connect("ctl-ha-kill").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let ip = recorder_ip(&env, &ns).await;
        env.apply(&ns, &blueprint(&ns)).await.unwrap();
        let suffix = &ns[ns.len() - 6..];
        let (ida, idb) = (format!("ha-a-{suffix}"), format!("ha-b-{suffix}"));
        let mut a = replica(&bin, &ns, &dir.join("a.log"), &ida);
        wait_leader(&env, &ns, &ida).await;
        let b = replica(&bin, &ns, &dir.join("b.log"), &idb);
        wait_until(Duration::from_secs(60), "b standing by", || async {
            Ok(b.log().contains("standing by"))
        })
        .await
        .unwrap();

        env.apply(&ns, &actionset("long", &ns, work(&ns, &ip, 600)))
            .await
            .unwrap();
        wait_state(&env, &ns, "long", "running", Duration::from_secs(60)).await;
        wait_ticks(&env, &ns).await;
        a.kill();
        eprintln!("killed the leader {ida}");
        assert!(
            !kapsel_pods(&env, &ns).await.is_empty(),
            "the dead leader's pod is left"
        );

        wait_leader(&env, &ns, &idb).await;
        assert_recovered(&env, &ns, "long", &ida, &idb).await;
        let starts = markers(&env, &ns)
            .await
            .into_iter()
            .filter(|m| m.kind == "start" && m.phase == "work")
            .count();
        assert_eq!(starts, 1, "the interrupted phase did not run again");

        // the new leader works
        env.apply(&ns, &actionset("after", &ns, work(&ns, &ip, 3)))
            .await
            .unwrap();
        let v = wait_state(&env, &ns, "after", "complete", Duration::from_secs(180)).await;
        assert_eq!(v["status"]["actions"][0]["deferPhase"]["state"], "complete");
        assert_eq!(
            v["metadata"]["annotations"]["kapsel.dev/controller"],
            idb.as_str(),
            "started by the new leader"
        );
        no_kapsel_pods(&env, &ns).await;
        assert_no_overlap(&markers(&env, &ns).await);
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test]
async fn a_frozen_leader_is_fenced_and_stands_by() {
    let Some(env) = Env::connect("ctl-ha-fence").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let ip = recorder_ip(&env, &ns).await;
        env.apply(&ns, &blueprint(&ns)).await.unwrap();
        let suffix = &ns[ns.len() - 6..];
        let (ida, idb) = (format!("ha-a-{suffix}"), format!("ha-b-{suffix}"));
        let a = replica(&bin, &ns, &dir.join("a.log"), &ida);
        wait_leader(&env, &ns, &ida).await;
        let mut b = replica(&bin, &ns, &dir.join("b.log"), &idb);

        env.apply(&ns, &actionset("long", &ns, work(&ns, &ip, 600)))
            .await
            .unwrap();
        wait_state(&env, &ns, "long", "running", Duration::from_secs(60)).await;
        wait_ticks(&env, &ns).await;
        a.signal("STOP");
        eprintln!("froze the leader {ida}");
        wait_leader(&env, &ns, &idb).await;
        assert_recovered(&env, &ns, "long", &ida, &idb).await;
        let before = get_actionset(&env, &ns, "long").await.unwrap();

        // the old leader wakes up: its term is over, it touches nothing
        a.signal("CONT");
        wait_until(Duration::from_secs(60), "the old leader fenced", || async {
            Ok(a.log().contains("lost the lease"))
        })
        .await
        .unwrap();
        wait_until(
            Duration::from_secs(60),
            "the old leader standing by",
            || async { Ok(a.log().contains("standing by again")) },
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = get_actionset(&env, &ns, "long").await.unwrap();
        assert_eq!(
            before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"],
            "the fenced leader wrote nothing"
        );
        assert!(
            kapsel_pods(&env, &ns).await.is_empty(),
            "the fenced leader started nothing"
        );
        assert_eq!(
            lease_holder(&env, &ns, LEASE).await.as_deref(),
            Some(idb.as_str())
        );
        let alog = a.log();
        assert!(!alog.contains("running the deferPhase"), "{alog}");

        // a clean stop releases the Lease: the old leader leads again
        b.signal("TERM");
        let status = b
            .wait_exit(Duration::from_secs(60))
            .expect("b exits on SIGTERM");
        assert!(status.success(), "{status}");
        assert!(b.log().contains("released the lease"), "{}", b.log());
        wait_leader(&env, &ns, &ida).await;
        env.apply(&ns, &actionset("again", &ns, work(&ns, &ip, 3)))
            .await
            .unwrap();
        let v = wait_state(&env, &ns, "again", "complete", Duration::from_secs(180)).await;
        assert_eq!(
            v["metadata"]["annotations"]["kapsel.dev/controller"],
            ida.as_str()
        );
        no_kapsel_pods(&env, &ns).await;
        assert_no_overlap(&markers(&env, &ns).await);
        drop(a);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
