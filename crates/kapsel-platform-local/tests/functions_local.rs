//! Every function of the library through the engine on the local platform,
//! with real processes and a real inventory: KubeExecAll, MultiContainerRun,
//! ScaleWorkload (a real HTTP server started and stopped by the inventory's
//! commands), PrepareData, the functions no local platform can run, the
//! timeouts given as ActionSet options, and secrets kept out of argv.
//! The data functions (which run `kando data`) are in data_local.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{blueprint_request, run, setup_with};
use kapsel_engine::{Event, Outcome};
use tokio_util::sync::CancellationToken;

const WORKLOAD: &str = r#"
objects:
- kind: StatefulSet
  namespace: db
  name: app
  pods:
  - {name: app-0, containers: [main, sidecar], env: {ORDINAL: "0"}}
  - {name: app-1, containers: [main, sidecar], env: {ORDINAL: "1"}}
  volumes: {data: data}
"#;

#[tokio::test]
async fn kube_exec_all_runs_in_every_pod_and_container_and_merges_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let bp = r#"
actions:
  backup:
    outputArtifacts:
      all: {keyValue: {a: "{{ .Phases.all.Output.app_0_main }}", b: "{{ .Phases.all.Output.app_1_sidecar }}"}}
    phases:
    - func: KubeExecAll
      name: all
      args:
        namespace: db
        pods: "{{ range .StatefulSet.Pods }}{{ . }} {{ end }}"
        containers: main sidecar
        command:
        - sh
        - -c
        - 'k=$(echo "${HOSTNAME}_${KAPSEL_CONTAINER}" | tr - _); kando output "$k" "ordinal $ORDINAL in $KAPSEL_CONTAINER"; kando output shared same'
"#;
    let req = blueprint_request(&platform, bp, "backup");
    let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    let out = &res.phases[0].output;
    assert_eq!(out.len(), 5, "{out:?}");
    assert_eq!(out["app_0_main"], "ordinal 0 in main");
    assert_eq!(out["app_0_sidecar"], "ordinal 0 in sidecar");
    assert_eq!(out["app_1_main"], "ordinal 1 in main");
    assert_eq!(out["app_1_sidecar"], "ordinal 1 in sidecar");
    assert_eq!(res.artifacts["all"].key_value["b"], "ordinal 1 in sidecar");
    assert!(!events.is_empty());

    // One failing container fails the phase, naming the pod and container.
    let bp = r#"
actions:
  backup:
    phases:
    - func: KubeExecAll
      name: all
      args:
        namespace: db
        pods: app-0 app-1
        containers: main
        command: [sh, -c, 'echo "about to fail in $HOSTNAME"; [ "$ORDINAL" = 0 ] || exit 7']
"#;
    let req = blueprint_request(&platform, bp, "backup");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("KubeExecAll")
            && err.contains("app-1/main")
            && err.contains("exit code 7")
            && err.contains("about to fail in app-1"),
        "{err}"
    );
    assert!(!err.contains("app-0/main:"), "{err}");
}

#[tokio::test]
async fn multi_container_run_shares_a_directory_and_reports_only_the_output_command() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let pidfile = dir.path().join("bg.pid");
    let bp = format!(
        r#"
actions:
  backup:
    phases:
    - func: MultiContainerRun
      name: mcr
      args:
        initImage: busybox
        initCommand: [sh, -c, 'mkfifo pipe']
        backgroundImage: postgres
        backgroundCommand:
        - sh
        - -c
        - 'echo $$ > {pid}; kando output ignored yes; echo "data from background" > pipe; exec sleep 60'
        outputImage: kanister-tools
        outputCommand:
        - sh
        - -c
        - 'v=$(cat "$KAPSEL_SHARED_DIR/pipe"); kando output got "$v"'
"#,
        pid = pidfile.display()
    );
    let req = blueprint_request(&platform, &bp, "backup");
    let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    let out = &res.phases[0].output;
    assert_eq!(out["got"], "data from background");
    assert!(
        !out.contains_key("ignored"),
        "background outputs do not count"
    );
    // The background command was stopped when the output command ended.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(common::gone(pid.trim()), "background still running");
    assert!(events.iter().any(|e| matches!(e, Event::PhaseEnded { .. })));
}

/// A real HTTP server as a workload: started, stopped and probed by the
/// inventory's `scale` commands.
fn server_inventory(dir: &std::path::Path, port: u16) -> String {
    let pid = dir.join("server.pid");
    format!(
        r#"
objects:
- kind: Deployment
  namespace: web
  name: site
  workdir: {dir}
  scale:
    start: [sh, -c, 'python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > {pid}']
    stop: [sh, -c, 'kill $(cat {pid}) && while kill -0 $(cat {pid}) 2>/dev/null; do sleep 0.05; done']
    ready: [curl, -sf, -o, /dev/null, 'http://127.0.0.1:{port}/']
"#,
        dir = dir.display(),
        pid = pid.display()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serving(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[tokio::test]
async fn scale_workload_stops_and_starts_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let platform = setup_with(dir.path(), &server_inventory(dir.path(), port));
    let bp = format!(
        r#"
actions:
  backup:
    outputArtifacts:
      counts:
        keyValue:
          beforeStart: "{{{{ .Phases.up.Output.originalReplicaCount }}}}"
          beforeStop: "{{{{ .Phases.down.Output.originalReplicaCount }}}}"
    phases:
    - {{func: ScaleWorkload, name: up, args: {{replicas: 1}}}}
    - func: KubeTask
      name: upCheck
      args: {{image: curl, command: [curl, -sf, -o, /dev/null, 'http://127.0.0.1:{port}/']}}
    - {{func: ScaleWorkload, name: down, args: {{replicas: "0", waitForReady: true}}}}
    - func: KubeTask
      name: downCheck
      args: {{image: curl, command: [sh, -c, '! curl -sf -o /dev/null http://127.0.0.1:{port}/']}}
    - func: ScaleWorkload
      name: back
      args:
        namespace: web
        kind: deployment
        name: site
        replicas: "{{{{ .Phases.down.Output.originalReplicaCount }}}}"
"#
    );
    let req = {
        let bp: kapsel_api::Blueprint = common::blueprint(&bp);
        let mut params = platform.object_params("Deployment", "web", "site").unwrap();
        params.time = "2025-01-02T03:04:05Z".to_string();
        common::request_for(bp, "backup", params)
    };
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    let up = serving(port);
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "kill $(cat {}) 2>/dev/null",
            dir.path().join("server.pid").display()
        ))
        .status();
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    assert_eq!(res.phases[0].output["originalReplicaCount"], 0);
    assert_eq!(res.phases[2].output["originalReplicaCount"], 1);
    assert_eq!(res.phases[4].output["originalReplicaCount"], 0);
    assert_eq!(res.artifacts["counts"].key_value["beforeStart"], "0");
    assert_eq!(res.artifacts["counts"].key_value["beforeStop"], "1");
    assert!(up, "the last phase started the server again");
}

#[tokio::test]
async fn scale_workload_without_scale_commands_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let bp = r#"
actions:
  a:
    phases:
    - {func: ScaleWorkload, name: down, args: {replicas: 0}}
"#;
    let req = blueprint_request(&platform, bp, "a");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    let err = res.error.unwrap();
    assert!(
        err.contains("phase down: ScaleWorkload")
            && err.contains("StatefulSet db/app has no `scale` commands"),
        "{err}"
    );
}

#[tokio::test]
async fn prepare_data_sees_the_workload_volumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/hello.txt"), "hello volume").unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let bp = r#"
actions:
  a:
    phases:
    - func: PrepareData
      name: prep
      args:
        namespace: db
        image: busybox
        command:
        - sh
        - -c
        - |
          kando output viaLink "$(cat mnt/prepare_data/data/hello.txt)"
          kando output viaEnv "$(cat "$KAPSEL_VOLUME_DATA/hello.txt")"
          echo written > "$KAPSEL_VOLUME_DATA/new.txt"
    - func: PrepareData
      name: tolerated
      args:
        namespace: db
        image: busybox
        volumes: {data: /srv/data}
        command: [sh, -c, 'kando output seen "$(cat srv/data/hello.txt)"; exit 4']
  strict:
    phases:
    - func: PrepareData
      name: strict
      args:
        namespace: db
        image: busybox
        failOnError: true
        command: [sh, -c, 'echo failing; exit 4']
"#;
    let req = blueprint_request(&platform, bp, "a");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    assert_eq!(res.phases[0].output["viaLink"], "hello volume");
    assert_eq!(res.phases[0].output["viaEnv"], "hello volume");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/new.txt")).unwrap(),
        "written\n"
    );
    // failOnError false (the default): the exit status is logged, outputs kept.
    assert_eq!(res.phases[1].output["seen"], "hello volume");

    let req = blueprint_request(&platform, bp, "strict");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("phase strict: PrepareData") && err.contains("exit code 4"),
        "{err}"
    );
}

#[tokio::test]
async fn functions_the_local_platform_cannot_run_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let bp = r#"
actions:
  ops:
    phases:
    - {func: KubeOps, name: p, args: {operation: create}}
  csi:
    phases:
    - {func: CreateCSISnapshot, name: p, args: {pvc: data, namespace: db, snapshotClass: c}}
  wait:
    phases:
    - {func: WaitV2, name: p, args: {timeout: 1m, conditions: {anyOf: []}}}
"#;
    for (action, needs) in [
        (
            "ops",
            "KubeOps cannot run on the local platform: it needs the Kubernetes API",
        ),
        (
            "csi",
            "CreateCSISnapshot cannot run on the local platform: it needs Kubernetes CSI VolumeSnapshots",
        ),
        (
            "wait",
            "WaitV2 cannot run on the local platform: it needs the Kubernetes API",
        ),
    ] {
        let req = blueprint_request(&platform, bp, action);
        let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
        let err = res.error.unwrap();
        assert!(err.contains(needs), "{action}: {err}");
    }
}

#[tokio::test]
async fn timeouts_come_from_actionset_options() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), WORKLOAD);
    let marker = dir.path().join("deferred");
    let bp = format!(
        r#"
actions:
  a:
    phases:
    - {{func: KubeTask, name: slow, args: {{image: x, command: [sleep, "30"]}}}}
    deferPhase:
      {{func: KubeTask, name: cleanup, args: {{image: x, command: [touch, "{}"]}}}}
"#,
        marker.display()
    );
    let mut req = blueprint_request(&platform, &bp, "a");
    req.params.options = Some(
        [(
            kapsel_engine::PHASE_TIMEOUT_OPTION.to_string(),
            "300ms".to_string(),
        )]
        .into(),
    );
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::TimedOut);
    assert!(
        res.error.unwrap().contains("did not finish within 300ms"),
        "phase deadline from the option"
    );
    assert!(marker.exists(), "the defer phase ran");

    std::fs::remove_file(&marker).unwrap();
    req.params.options = Some(
        [(
            kapsel_engine::ACTION_TIMEOUT_OPTION.to_string(),
            "0.4s".to_string(),
        )]
        .into(),
    );
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::TimedOut);
    assert!(marker.exists(), "the defer phase ran");

    std::fs::remove_file(&marker).unwrap();
    req.params.options = Some(
        [(
            kapsel_engine::PHASE_TIMEOUT_OPTION.to_string(),
            "ten minutes".to_string(),
        )]
        .into(),
    );
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("option kapsel.dev/phase-timeout") && err.contains("\"ten minutes\""),
        "{err}"
    );
    assert!(!marker.exists(), "nothing ran with an invalid option");
}
