//! Load: 50 ActionSets created at once, `kapsel controller --concurrency
//! 8`: all complete, never more than 8 `running` at a time. Printed: the
//! time to complete them all, the controller's resident memory idle and
//! its peak (VmRSS and VmHWM from /proc/<pid>/status), and the API
//! requests it made per ActionSet (counted from kube-client's request log,
//! `RUST_LOG=kube_client::client::builder=debug`), by verb and resource.
//!
//! The action is one KubeExec phase in a running pod (no task pod), so
//! that the test measures the controller rather than pod start-up, and
//! stays well within CI's budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kapsel_e2e::actionsets::{ControllerProcess, actionset, actionsets, install_crds};
use kapsel_e2e::flow::{no_kapsel_pods, running_pod, sh_in};
use kapsel_e2e::{Env, image, kapsel_bin, wait_until};
use kube::api::ListParams;

const SETS: usize = 50;
const CONCURRENCY: usize = 8;

fn app(ns: &str) -> String {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
            "template": {"metadata": {"labels": {"app": "app"}},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                    "name": "app", "image": image("tools"),
                    "command": ["sleep", "infinity"]}]}}}})
    .to_string()
}

fn blueprint(ns: &str) -> String {
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": "one", "namespace": ns},
        "actions": {"mark": {"phases": [{"func": "KubeExec", "name": "mark", "args": {
            "namespace": "{{ .Deployment.Namespace }}",
            "pod": "{{ index .Deployment.Pods 0 }}",
            "command": ["sh", "-c", r#"echo "{{ .Options.n }}" >> /tmp/done"#]}}]}}})
    .to_string()
}

/// The API requests in a controller log: (verb, resource) → count.
fn requests(log: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in log.lines().filter(|l| l.ends_with("requesting")) {
        let field = |name: &str| {
            l.split(&format!("{name}="))
                .nth(1)
                .and_then(|r| r.split([' ', '}']).next())
                .unwrap_or_default()
                .to_string()
        };
        let method = field("http.method");
        let url = field("http.url");
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let resource = match segs.iter().position(|s| *s == "namespaces") {
            Some(i) if segs.len() > i + 2 => {
                let mut r = segs[i + 2].to_string();
                if let Some(sub) = segs.get(i + 4) {
                    r = format!("{r}/{sub}");
                }
                r
            }
            _ => segs.last().copied().unwrap_or_default().to_string(),
        };
        let verb = if query.contains("watch=true") {
            "WATCH".to_string()
        } else {
            method
        };
        *out.entry(format!("{verb} {resource}")).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn fifty_actionsets_at_once_with_concurrency_8() {
    let Some(env) = Env::connect("ctl-load").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        env.apply(&ns, &app(&ns)).await.unwrap();
        env.apply(&ns, &blueprint(&ns)).await.unwrap();
        let pod = running_pod(&env, &ns, "app=app").await;
        let controller = ControllerProcess::spawn_env(
            &bin,
            &ns,
            &dir.join("controller.log"),
            "",
            &["--concurrency", &CONCURRENCY.to_string()],
            &[("RUST_LOG", "info,kube_client::client::builder=debug")],
        );
        wait_until(Duration::from_secs(60), "the controller started", || async {
            Ok(controller.log().contains("controller started"))
        })
        .await
        .unwrap();
        // idle: started, its watch listed, nothing to do
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = controller.memory_kb("VmRSS").unwrap();
        let before = requests(&controller.log()).values().sum::<usize>();

        let t0 = Instant::now();
        let creates: Vec<_> = (0..SETS)
            .map(|i| {
                let (env, ns) = (env.clone(), ns.clone());
                tokio::spawn(async move {
                    let a = serde_json::json!({"name": "mark", "blueprint": "one",
                        "object": {"kind": "Deployment", "name": "app", "namespace": ns},
                        "options": {"n": i.to_string()}});
                    env.apply(&ns, &actionset(&format!("load-{i:02}"), &ns, a))
                        .await
                        .unwrap();
                })
            })
            .collect();
        for c in creates {
            c.await.unwrap();
        }
        let api = actionsets(&env, &ns);
        let mut most_running = 0;
        loop {
            let list = api.list(&ListParams::default()).await.unwrap().items;
            let state = |s: &str| {
                list.iter()
                    .filter(|o| o.data["status"]["state"].as_str() == Some(s))
                    .count()
            };
            let (running, complete, failed) = (state("running"), state("complete"), state("failed"));
            most_running = most_running.max(running);
            assert!(running <= CONCURRENCY, "{running} running at once with --concurrency {CONCURRENCY}");
            assert_eq!(failed, 0, "an ActionSet failed: {}", controller.log());
            if complete == SETS {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(170),
                "{complete} of {SETS} complete after {:?}",
                t0.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let took = t0.elapsed();
        let peak = controller.memory_kb("VmHWM").unwrap();
        let after = controller.memory_kb("VmRSS").unwrap();
        let done = sh_in(&env, &ns, &pod, None, "sort -n /tmp/done | uniq | wc -l").await;
        assert_eq!(done.trim(), SETS.to_string(), "each action ran once");
        let lines = sh_in(&env, &ns, &pod, None, "wc -l < /tmp/done").await;
        assert_eq!(lines.trim(), SETS.to_string(), "no action ran twice");
        no_kapsel_pods(&env, &ns).await;
        // the last status writes and events of the last sets
        tokio::time::sleep(Duration::from_secs(2)).await;
        let by_kind = requests(&controller.log());
        let total: usize = by_kind.values().sum::<usize>() - before;
        let per_set = total as f64 / SETS as f64;
        eprintln!(
            "{SETS} ActionSets, --concurrency {CONCURRENCY}: all complete in {:.1}s (at most {most_running} running at once)",
            took.as_secs_f64()
        );
        eprintln!(
            "controller memory (debug build): idle VmRSS {:.1} MiB; peak VmHWM {:.1} MiB; VmRSS after {:.1} MiB",
            idle as f64 / 1024.0,
            peak as f64 / 1024.0,
            after as f64 / 1024.0
        );
        eprintln!(
            "API requests: {total} for {SETS} ActionSets = {per_set:.1} per ActionSet (after start-up); the whole run by kind (start-up's {before} included):"
        );
        for (k, n) in &by_kind {
            eprintln!("  {n:5}  {k}");
        }
        assert!(total > 0, "the request log is read");
        drop(controller);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
