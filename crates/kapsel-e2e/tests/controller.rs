//! `kapsel controller` on the testbed, driven as Kanister users drive
//! Kanister's controller: Kanister-format ActionSets applied to the
//! cluster (as `kubectl apply` would), Blueprints and Profiles as objects.
//! The CRDs are installed by server-side apply of `kapsel crds`; the
//! controller runs as a child process watching the test's namespace.
//!
//! - Kanister's time-log Blueprint (unchanged but for `image:`): backup →
//!   complete, with artifacts and complete phases in the status and
//!   Kanister's events → data destroyed → restore with the backup's
//!   artifacts (as `kanctl --from`) → data back → delete → nothing in S3.
//!   The status shows the phases' bytes (kando's progress lines), the
//!   conditions serve `kubectl wait`, the events are also on the Deployment.
//! - A phase's bytes while it still runs: a KubeTask that pushes 20 MB then
//!   waits for a marker the test creates once the status shows them.
//! - An ActionSet naming a missing Blueprint fails within seconds, naming it.
//! - Deleting a running ActionSet cancels it: its deferPhase runs (it
//!   creates a ConfigMap), no pod is left.
//! - A controller SIGKILLed while an ActionSet runs, then restarted: the
//!   ActionSet ends `failed` with the restart reason after its deferPhase
//!   ran, no pod is left.
//!
//! - With `--concurrency 1`, a second ActionSet stays `pending` (a
//!   `Queued` event, condition `Running=False` reason `Queued`) until the
//!   first ends.
//! - With `--ttl-after-finished 5s --keep-last 2`, finished ActionSets past
//!   their TTL are deleted but the last two of their Blueprint+action; one
//!   annotated `kapsel.dev/ttl-after-finished: never` and a running one
//!   stay.
//!
//! No secret value in any ActionSet status, event, pod or controller log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kapsel_e2e::actionsets::{
    ControllerProcess, RESTART_REASON, actionset, actionsets, in_namespace, install_crds, reasons,
    task_blueprint, time_log_round_trip, wait_state,
};
use kapsel_e2e::flow::{Stage, kapsel_pods, no_kapsel_pods, prepare, rewrite_images};
use kapsel_e2e::{Env, image, kapsel_bin, wait_until};
use kube::api::{Api, DeleteParams, ListParams};

#[tokio::test]
async fn time_log_through_the_controller() {
    let Some(p) = prepare("ctl-time-log").await else {
        return;
    };
    install_crds(&p.env, &p.bin).await;
    p.env
        .clone()
        .run(move |env, ns| async move {
            let mut st = Stage::new(&p, env.clone(), ns.clone()).await;
            let ex = st.examples.join("time-log");
            let read = |f: &str| std::fs::read_to_string(ex.join(f)).unwrap();
            env.apply(&ns, &rewrite_images(&read("time-logger-deployment.yaml")))
                .await
                .unwrap();
            let blueprint = rewrite_images(&read("time-log-blueprint.yaml"));
            env.apply(&ns, &in_namespace(&blueprint, &ns))
                .await
                .unwrap();
            let profile = std::fs::read_to_string(st.run.file("profile.yaml")).unwrap();
            env.apply(&ns, &profile).await.unwrap();
            let log_file = st.run.file("controller.log");
            let controller = ControllerProcess::start(&p.bin, &ns, &log_file);

            time_log_round_trip(&env, &ns, &st).await;
            progress_while_a_phase_runs(&env, &ns).await;

            // no secret in any ActionSet, nor in the controller's log
            for o in actionsets(&env, &ns)
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
            {
                st.run.outputs.push(serde_json::to_string(&o).unwrap());
            }
            st.run.outputs.push(controller.log());
            drop(controller);
            st.finish(&[]).await;
        })
        .await;
}

/// A phase's bytes in the status while it still runs: a KubeTask pushes
/// 20 MB with kando (Profile `s3-profile`), then waits for a marker file
/// that the test creates only once the status shows every byte sent
/// (`progressPercent` 99 while running, as kando knew the total), so the
/// test observes the running phase without relying on timing; then 100.
async fn progress_while_a_phase_runs(env: &Env, ns: &str) {
    const SIZE: i64 = 20_000_000;
    let script = format!(
        "head -c {SIZE} /dev/urandom > /tmp/d && \
         kando location push --profile '{{{{ toJson .Profile }}}}' --path progress-test /tmp/d && \
         while [ ! -e /tmp/go ]; do sleep 0.2; done"
    );
    let bp = task_blueprint(ns, "push", "push", &script, None);
    env.apply(ns, &bp).await.unwrap();
    let action = serde_json::json!({"name": "push", "blueprint": "push",
        "object": {"kind": "Namespace", "name": ns, "namespace": ns},
        "profile": {"kind": "Profile", "name": "s3-profile", "namespace": ns}});
    env.apply(ns, &actionset("push", ns, action)).await.unwrap();
    let last = std::sync::Mutex::new(serde_json::Value::Null);
    wait_until(
        Duration::from_secs(180),
        "the running phase's progress to show every byte sent",
        || {
            let last = &last;
            async move {
                let v = serde_json::to_value(actionsets(env, ns).get("push").await?).unwrap();
                let st = &v["status"];
                assert_ne!(st["state"], "failed", "{st:#}");
                let phase = &st["actions"][0]["phases"][0];
                let hit = phase["state"] == "running"
                    && phase["progress"]["sizeUploadedB"].as_i64() == Some(SIZE);
                *last.lock().unwrap() = st.clone();
                Ok(hit)
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: last status {:#}", last.lock().unwrap()));
    let seen = last.into_inner().unwrap();
    let phase = &seen["actions"][0]["phases"][0]["progress"];
    assert_eq!(
        phase["estimatedUploadSizeB"].as_i64(),
        Some(SIZE),
        "{phase:#}"
    );
    assert_eq!(phase["progressPercent"], "99", "{phase:#}");
    assert_eq!(seen["progress"]["sizeUploadedB"].as_i64(), Some(SIZE));
    assert_eq!(seen["progress"]["runningPhase"], "push");
    let running = seen["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Running"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (running["status"].as_str(), running["message"].as_str()),
        (Some("True"), Some("running phase push")),
        "{running:#}"
    );
    let pods = kapsel_pods(env, ns).await;
    assert_eq!(pods.len(), 1, "one task pod: {pods:?}");
    kapsel_e2e::flow::sh_in(env, ns, &pods[0], None, "touch /tmp/go").await;
    let done = wait_state(env, ns, "push", "complete", Duration::from_secs(120)).await;
    let phase = &done["status"]["actions"][0]["phases"][0]["progress"];
    assert_eq!(phase["progressPercent"], "100", "{phase:#}");
    assert_eq!(phase["sizeUploadedB"].as_i64(), Some(SIZE));
    assert_eq!(done["status"]["progress"]["percentCompleted"], "100");
}

/// A Blueprint of our own: a long KubeTask, and a deferPhase that creates
/// the ConfigMap `deferred` (so that it is seen to run after the
/// ActionSet is gone).
fn slow_blueprint(ns: &str) -> String {
    let tools = image("tools");
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": "slow", "namespace": ns},
        "actions": {"slow": {
            "phases": [{"func": "KubeTask", "name": "sleep", "args": {
                "image": tools, "namespace": "{{ .Namespace.Name }}",
                "command": ["sh", "-c", "echo started; sleep 600"]}}],
            "deferPhase": {"func": "KubeOps", "name": "mark", "args": {
                "operation": "create", "namespace": "{{ .Namespace.Name }}",
                "spec": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deferred-{{ .Options.n }}\ndata:\n  ran: \"yes\"\n"}}}}})
    .to_string()
}

fn slow_action(ns: &str, n: &str) -> serde_json::Value {
    serde_json::json!({"name": "slow", "blueprint": "slow",
        "object": {"kind": "Namespace", "name": ns, "namespace": ns},
        "options": {"n": n}})
}

#[tokio::test]
async fn controller_failures_cancellation_and_restart() {
    let test = "ctl-lifecycle";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let log_file = dir.join("controller.log");
        let mut controller = ControllerProcess::start(&bin, &ns, &log_file);
        env.apply(&ns, &slow_blueprint(&ns)).await.unwrap();

        // a missing Blueprint: failed within seconds, naming it
        let t0 = Instant::now();
        env.apply(
            &ns,
            &actionset(
                "missing",
                &ns,
                serde_json::json!({"name": "backup", "blueprint": "no-such-blueprint",
                    "object": {"kind": "Namespace", "name": ns, "namespace": ns}}),
            ),
        )
        .await
        .unwrap();
        let v = wait_state(&env, &ns, "missing", "failed", Duration::from_secs(30)).await;
        eprintln!(
            "missing Blueprint: failed in {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        let msg = v["status"]["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("no-such-blueprint"), "{msg}");
        wait_until(
            Duration::from_secs(20),
            "the ActionSetFailed event",
            || async {
                Ok(reasons(&env, &ns, "missing")
                    .await
                    .iter()
                    .any(|r| r == "ActionSetFailed Action: backup"))
            },
        )
        .await
        .unwrap();

        // deleting a running ActionSet cancels it; its deferPhase runs
        env.apply(&ns, &actionset("deleted", &ns, slow_action(&ns, "1")))
            .await
            .unwrap();
        wait_state(&env, &ns, "deleted", "running", Duration::from_secs(60)).await;
        wait_until(Duration::from_secs(120), "the task pod", || async {
            Ok(!kapsel_pods(&env, &ns).await.is_empty())
        })
        .await
        .unwrap();
        let v = wait_state(&env, &ns, "deleted", "running", Duration::from_secs(5)).await;
        assert_eq!(v["status"]["progress"]["runningPhase"], "sleep");
        assert_eq!(v["status"]["actions"][0]["phases"][0]["state"], "running");
        let t0 = Instant::now();
        actionsets(&env, &ns)
            .delete("deleted", &DeleteParams::default())
            .await
            .unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &ns);
        wait_until(
            Duration::from_secs(120),
            "the deferPhase's ConfigMap",
            || async { Ok(cms.get_opt("deferred-1").await?.is_some()) },
        )
        .await
        .unwrap();
        no_kapsel_pods(&env, &ns).await;
        eprintln!(
            "deleted ActionSet: cancelled, deferPhase ran, pods gone in {:.1}s",
            t0.elapsed().as_secs_f64()
        );

        // SIGKILL while running, restart: failed with the reason, no pod
        env.apply(&ns, &actionset("killed", &ns, slow_action(&ns, "2")))
            .await
            .unwrap();
        wait_state(&env, &ns, "killed", "running", Duration::from_secs(60)).await;
        wait_until(Duration::from_secs(120), "the task pod", || async {
            Ok(!kapsel_pods(&env, &ns).await.is_empty())
        })
        .await
        .unwrap();
        controller.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            !kapsel_pods(&env, &ns).await.is_empty(),
            "a SIGKILLed controller leaves its pod"
        );
        let t0 = Instant::now();
        let controller = ControllerProcess::start(&bin, &ns, &log_file);
        let v = wait_state(&env, &ns, "killed", "failed", Duration::from_secs(60)).await;
        let msg = v["status"]["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(RESTART_REASON), "{msg}");
        // its deferPhase ran after the restart
        assert_eq!(
            v["status"]["actions"][0]["deferPhase"]["state"], "complete",
            "{v:#}"
        );
        assert!(cms.get_opt("deferred-2").await.unwrap().is_some());
        assert_eq!(v["status"]["actions"][0]["phases"][0]["state"], "failed");
        no_kapsel_pods(&env, &ns).await;
        eprintln!(
            "restart: orphan failed and its pod deleted in {:.1}s",
            t0.elapsed().as_secs_f64()
        );

        // no secret-looking value: nothing of ours is secret here, but the
        // log must show the work
        let log = controller.log();
        assert!(log.contains("deleted while running"), "{log}");
        drop(controller);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test]
async fn concurrency_queues_actionsets_as_pending() {
    let test = "ctl-concurrency";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let controller = ControllerProcess::with_concurrency(&bin, &ns, &dir.join("c.log"), 1);
        env.apply(&ns, &slow_blueprint(&ns)).await.unwrap();
        env.apply(&ns, &actionset("first", &ns, slow_action(&ns, "1")))
            .await
            .unwrap();
        wait_state(&env, &ns, "first", "running", Duration::from_secs(60)).await;
        env.apply(&ns, &actionset("second", &ns, slow_action(&ns, "2")))
            .await
            .unwrap();
        wait_until(Duration::from_secs(30), "the Queued event", || async {
            Ok(reasons(&env, &ns, "second")
                .await
                .iter()
                .any(|r| r == "Queued"))
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let v = wait_state(&env, &ns, "second", "pending", Duration::from_secs(5)).await;
        assert_eq!(
            v["status"]["progress"]["runningPhase"],
            serde_json::Value::Null
        );
        // shown as queued in the status (written before the event)
        let running = |v: &serde_json::Value| {
            v["status"]["conditions"]
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == "Running"))
                .map(|c| (c["status"].clone(), c["reason"].clone()))
        };
        assert_eq!(
            running(&v),
            Some(("False".into(), "Queued".into())),
            "{:#}",
            v["status"]
        );
        // the first ends (deleted): the second starts
        actionsets(&env, &ns)
            .delete("first", &DeleteParams::default())
            .await
            .unwrap();
        let v = wait_state(&env, &ns, "second", "running", Duration::from_secs(60)).await;
        assert_eq!(
            running(&v),
            Some(("True".into(), "Running".into())),
            "{:#}",
            v["status"]
        );
        actionsets(&env, &ns)
            .delete("second", &DeleteParams::default())
            .await
            .unwrap();
        no_kapsel_pods(&env, &ns).await;
        drop(controller);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test]
async fn retention_deletes_finished_actionsets_past_their_ttl() {
    let test = "ctl-retention";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let dir = kapsel_e2e::flow::tempfile_dir();
        let controller = ControllerProcess::spawn(
            &bin,
            &ns,
            &dir.join("c.log"),
            "",
            &["--ttl-after-finished", "5s", "--keep-last", "2"],
        );
        env.apply(
            &ns,
            &task_blueprint(&ns, "quick", "echo", "echo done", None),
        )
        .await
        .unwrap();
        env.apply(&ns, &slow_blueprint(&ns)).await.unwrap();
        let quick = serde_json::json!({"name": "quick", "blueprint": "quick",
            "object": {"kind": "Namespace", "name": ns, "namespace": ns}});

        // running the whole time: never deleted
        env.apply(&ns, &actionset("running", &ns, slow_action(&ns, "1")))
            .await
            .unwrap();
        // kept forever by its annotation
        let mut kept: serde_json::Value =
            serde_json::from_str(&actionset("annotated", &ns, quick.clone())).unwrap();
        kept["metadata"]["annotations"] =
            serde_json::json!({"kapsel.dev/ttl-after-finished": "never"});
        env.apply(&ns, &kept.to_string()).await.unwrap();
        wait_state(&env, &ns, "annotated", "complete", Duration::from_secs(120)).await;
        // four of one Blueprint+action, one after the other
        for n in 1..=4 {
            let name = format!("r{n}");
            env.apply(&ns, &actionset(&name, &ns, quick.clone()))
                .await
                .unwrap();
            wait_state(&env, &ns, &name, "complete", Duration::from_secs(120)).await;
        }
        let api = actionsets(&env, &ns);
        wait_until(
            Duration::from_secs(90),
            "r1 and r2 deleted past their TTL",
            || async {
                Ok(api.get_opt("r1").await?.is_none() && api.get_opt("r2").await?.is_none())
            },
        )
        .await
        .unwrap();
        // past the TTL and another sweep: the last two, the annotated and
        // the running ones are still there
        tokio::time::sleep(Duration::from_secs(15)).await;
        for name in ["r3", "r4", "annotated", "running"] {
            assert!(
                api.get_opt(name).await.unwrap().is_some(),
                "{name} was deleted:\n{}",
                controller.log()
            );
        }
        wait_state(&env, &ns, "running", "running", Duration::from_secs(5)).await;
        assert!(controller.log().contains("deleted (retention)"));
        api.delete("running", &DeleteParams::default())
            .await
            .unwrap();
        no_kapsel_pods(&env, &ns).await;
        drop(controller);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
