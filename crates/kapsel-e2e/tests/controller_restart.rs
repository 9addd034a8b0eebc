//! Restart safety under fire: `kapsel controller` SIGKILLed at a random
//! moment of a running backup, ten times, restarted after each.
//!
//! The backup is a Blueprint of the test's own, quick but with several
//! phases of different kinds and a deferPhase: KubeExec `prepare` (1 s) →
//! KubeTask `copy` (a task pod, an output) → KubeExec `finish` (uses the
//! output) → deferPhase KubeExec `cleanup`; every step appends a line to a
//! log in the application's pod. A first backup runs undisturbed (it
//! calibrates the kill window: its duration plus 10 %); then each round
//! creates a backup, SIGKILLs the controller after a delay drawn from a
//! seeded RNG (the seed is printed; `KAPSEL_E2E_SEED` repeats a run), and
//! starts a new one. Every round's ActionSet must end `complete`, or
//! `failed` with the restart reason; its deferPhase `complete` (in the
//! status, and its line in the application's log); no task pod left. A new
//! backup then completes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kapsel_e2e::actionsets::{
    ControllerProcess, RESTART_REASON, actionset, get_actionset, install_crds, wait_finished,
    wait_state,
};
use kapsel_e2e::flow::{no_kapsel_pods, running_pod, sh_in};
use kapsel_e2e::{Env, image, kapsel_bin};
use rand::{Rng, SeedableRng, rngs::StdRng};

const ROUNDS: u32 = 10;

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
    let exec = |name: &str, script: &str| {
        serde_json::json!({"func": "KubeExec", "name": name, "args": {
            "namespace": "{{ .Deployment.Namespace }}",
            "pod": "{{ index .Deployment.Pods 0 }}",
            "command": ["sh", "-c", script]}})
    };
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": "quick", "namespace": ns},
        "actions": {"backup": {
            "phases": [
                exec("prepare", r#"echo "prepare {{ .Options.n }}" >> /tmp/log; sleep 1"#),
                {"func": "KubeTask", "name": "copy", "args": {
                    "image": image("tools"), "namespace": "{{ .Deployment.Namespace }}",
                    "command": ["sh", "-c", "sleep 1; kando output size 42"]}},
                exec("finish", r#"echo "finish {{ .Options.n }} {{ .Phases.copy.Output.size }}" >> /tmp/log"#),
            ],
            "deferPhase": exec("cleanup", r#"echo "defer {{ .Options.n }}" >> /tmp/log"#)}}})
    .to_string()
}

fn backup(ns: &str, n: &str) -> serde_json::Value {
    serde_json::json!({"name": "backup", "blueprint": "quick",
        "object": {"kind": "Deployment", "name": "app", "namespace": ns},
        "options": {"n": n}})
}

#[tokio::test]
async fn ten_seeded_sigkills_during_a_backup() {
    let Some(env) = Env::connect("ctl-sigkill").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    let seed = std::env::var("KAPSEL_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("seed {seed} (KAPSEL_E2E_SEED={seed} repeats this run)");
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let log = dir.join("controller.log");
        env.apply(&ns, &app(&ns)).await.unwrap();
        env.apply(&ns, &blueprint(&ns)).await.unwrap();
        let pod = running_pod(&env, &ns, "app=app").await;
        let app_log = || sh_in(&env, &ns, &pod, None, "cat /tmp/log || true");
        let mut controller = ControllerProcess::start(&bin, &ns, &log);

        // undisturbed: it completes, and gives the kill window
        let t0 = Instant::now();
        env.apply(&ns, &actionset("calibrate", &ns, backup(&ns, "calibrate")))
            .await
            .unwrap();
        let v = wait_state(&env, &ns, "calibrate", "complete", Duration::from_secs(180)).await;
        let window = t0.elapsed().mul_f64(1.1);
        assert_eq!(v["status"]["actions"][0]["deferPhase"]["state"], "complete");
        assert!(app_log().await.contains("finish calibrate 42"));
        eprintln!(
            "an undisturbed backup: {:.1}s; kills within {:.1}s of the start",
            t0.elapsed().as_secs_f64(),
            window.as_secs_f64()
        );

        let mut rng = StdRng::seed_from_u64(seed);
        let mut outcomes = Vec::new();
        for round in 0..ROUNDS {
            let name = format!("kill-{round}");
            let delay = Duration::from_millis(
                rng.random_range(0..=u64::try_from(window.as_millis()).unwrap()),
            );
            env.apply(&ns, &actionset(&name, &ns, backup(&ns, &round.to_string())))
                .await
                .unwrap();
            tokio::time::sleep(delay).await;
            controller.kill();
            let at_kill = get_actionset(&env, &ns, &name).await.unwrap();
            let seen = format!(
                "{} {}",
                at_kill["status"]["state"].as_str().unwrap_or("new"),
                at_kill["status"]["progress"]["runningPhase"]
                    .as_str()
                    .unwrap_or("")
            );
            controller = ControllerProcess::start(&bin, &ns, &log);
            let v = wait_finished(&env, &ns, &name, Duration::from_secs(180)).await;
            let st = &v["status"];
            let state = st["state"].as_str().unwrap().to_string();
            if state == "failed" {
                let msg = st["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    msg.starts_with(RESTART_REASON),
                    "round {round} (seed {seed}): failed for another reason: {msg}"
                );
            }
            assert_eq!(
                st["actions"][0]["deferPhase"]["state"], "complete",
                "round {round} (seed {seed}): the deferPhase did not complete: {st:#}"
            );
            let lines = app_log().await;
            assert!(
                lines.lines().any(|l| l == format!("defer {round}")),
                "round {round} (seed {seed}): no deferPhase line in the application's log:\n{lines}"
            );
            no_kapsel_pods(&env, &ns).await;
            eprintln!(
                "round {round}: killed after {:.2}s (ActionSet: {seen}) → {state}",
                delay.as_secs_f64()
            );
            outcomes.push(state);
        }
        eprintln!(
            "{} complete, {} failed with the restart reason",
            outcomes.iter().filter(|s| *s == "complete").count(),
            outcomes.iter().filter(|s| *s == "failed").count()
        );

        // a new backup completes
        env.apply(&ns, &actionset("after", &ns, backup(&ns, "after")))
            .await
            .unwrap();
        wait_state(&env, &ns, "after", "complete", Duration::from_secs(180)).await;
        assert!(app_log().await.contains("finish after 42"));
        no_kapsel_pods(&env, &ns).await;
        drop(controller);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
