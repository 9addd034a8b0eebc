//! The controller's metrics and probes on the testbed: `kapsel controller
//! --metrics-addr 127.0.0.1:0` run out of the cluster, scraped over HTTP
//! as ActionSets complete and fail.
//!
//! - `/healthz`, `/readyz` (once the watch has listed the namespace) and
//!   Kanister's `/v0/healthz`, `/v0/readyz`.
//! - `kanister_action_set_resolutions_total` counts as Kanister's: both
//!   series at 0 first, then once per action (an ActionSet of two actions
//!   adds 2), `failure` for a failed phase, nothing for an ActionSet whose
//!   Blueprint is missing (it never reaches an action's run).
//! - Kapsel's: ActionSets finished by state, phase durations by function
//!   and outcome, nothing left running or queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kapsel_e2e::actionsets::{actionset, install_crds, wait_state};
use kapsel_e2e::flow::tempfile_dir;
use kapsel_e2e::via::{Controlled, Via};
use kapsel_e2e::webhook::{http_get, sample};
use kapsel_e2e::{Env, image, kapsel_bin};

fn scrape(addr: SocketAddr) -> String {
    let (code, body) = http_get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    body
}

fn value(scrape: &str, name: &str, labels: &str) -> f64 {
    sample(scrape, name, labels)
        .unwrap_or_else(|| panic!("no {name}{{{labels}}} in the scrape:\n{scrape}"))
}

/// Scrapes until `kapsel_actionsets_finished_total{state}` is `want` (the
/// counter moves just after the final status write the test waits for);
/// returns that scrape.
async fn finished(addr: SocketAddr, state: &str, want: f64) -> String {
    let labels = format!("state=\"{state}\"");
    let t0 = Instant::now();
    loop {
        let s = scrape(addr);
        if value(&s, "kapsel_actionsets_finished_total", &labels) == want {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "kapsel_actionsets_finished_total{{{labels}}} is not {want}:\n{s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const RESOLUTIONS: &str = "kanister_action_set_resolutions_total";

#[tokio::test]
async fn metrics_and_probes_follow_actionsets() {
    let Some(env) = Env::connect("metrics").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.clone()
        .run(move |env, ns| async move {
            let dir = tempfile_dir();
            let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").unwrap());
            let ctl = Controlled::start_with(
                &bin,
                &kubeconfig,
                &ns,
                &dir,
                Via::KubectlApply,
                &["--metrics-addr", "127.0.0.1:0"],
            );
            let addr = ctl.listening("metrics");

            // Probes.
            assert_eq!(http_get(addr, "/healthz"), (200, "ok\n".to_string()));
            let t0 = Instant::now();
            while http_get(addr, "/readyz").0 != 200 {
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "not ready after 60 s: {:?}\n{}",
                    http_get(addr, "/readyz"),
                    ctl.log()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert_eq!(
                http_get(addr, "/v0/readyz"),
                (200, r#"{"status":"ready"}"#.to_string())
            );
            let (code, body) = http_get(addr, "/v0/healthz");
            assert_eq!(code, 200);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["alive"], true, "{body}");
            assert!(
                v["version"].as_str().is_some_and(|s| !s.is_empty()),
                "{body}"
            );

            // Kanister's two series, at 0.
            let s = scrape(addr);
            assert_eq!(value(&s, RESOLUTIONS, r#"resolution="success""#), 0.0);
            assert_eq!(value(&s, RESOLUTIONS, r#"resolution="failure""#), 0.0);
            assert!(s.contains("kapsel_build_info{version="), "{s}");

            let tools = image("tools");
            let blueprint = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1",
                "kind": "Blueprint", "metadata": {"name": "metrics", "namespace": ns},
                "actions": {
                    "ok": {"phases": [{"func": "KubeTask", "name": "hello", "args": {
                        "image": tools, "namespace": "{{ .Namespace.Name }}",
                        "command": ["sh", "-c", "echo hello"]}}]},
                    "fail": {"phases": [{"func": "KubeTask", "name": "boom", "args": {
                        "image": tools, "namespace": "{{ .Namespace.Name }}",
                        "command": ["sh", "-c", "echo failing; exit 3"]}}]}}});
            env.apply(&ns, &blueprint.to_string()).await.unwrap();
            let action = |name: &str| {
                serde_json::json!({"name": name, "blueprint": "metrics",
                    "object": {"kind": "Namespace", "name": ns, "namespace": ns}})
            };

            // Two actions that complete: +2 success (once per action).
            let mut two: serde_json::Value =
                serde_json::from_str(&actionset("two-ok", &ns, action("ok"))).unwrap();
            two["spec"]["actions"] = serde_json::json!([action("ok"), action("ok")]);
            env.apply(&ns, &two.to_string()).await.unwrap();
            wait_state(&env, &ns, "two-ok", "complete", Duration::from_secs(300)).await;
            let s = finished(addr, "complete", 1.0).await;
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="success""#),
                2.0,
                "{s}"
            );
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="failure""#),
                0.0,
                "{s}"
            );
            assert_eq!(
                value(
                    &s,
                    "kapsel_phase_duration_seconds_count",
                    r#"function="KubeTask",outcome="complete""#
                ),
                2.0
            );

            // A failing phase: +1 failure.
            env.apply(&ns, &actionset("one-fails", &ns, action("fail")))
                .await
                .unwrap();
            wait_state(&env, &ns, "one-fails", "failed", Duration::from_secs(300)).await;
            let s = finished(addr, "failed", 1.0).await;
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="success""#),
                2.0,
                "{s}"
            );
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="failure""#),
                1.0,
                "{s}"
            );
            assert_eq!(
                value(
                    &s,
                    "kapsel_phase_duration_seconds_count",
                    r#"function="KubeTask",outcome="failed""#
                ),
                1.0
            );

            // A missing Blueprint: failed at initialisation, which
            // Kanister does not count as a resolution.
            let missing = serde_json::json!({"name": "ok", "blueprint": "nowhere",
                "object": {"kind": "Namespace", "name": ns, "namespace": ns}});
            env.apply(&ns, &actionset("no-blueprint", &ns, missing))
                .await
                .unwrap();
            wait_state(&env, &ns, "no-blueprint", "failed", Duration::from_secs(60)).await;
            let s = finished(addr, "failed", 2.0).await;
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="success""#),
                2.0,
                "{s}"
            );
            assert_eq!(
                value(&s, RESOLUTIONS, r#"resolution="failure""#),
                1.0,
                "{s}"
            );
            assert_eq!(value(&s, "kapsel_actions_running", ""), 0.0);
            assert_eq!(value(&s, "kapsel_actions_queued", ""), 0.0);
            eprintln!("the scrape after three ActionSets:\n{s}");
        })
        .await;
}
