//! The engine on the local platform, with real processes: outputs flow between
//! phases and into artifacts; the defer phase runs after a failure, a timeout
//! and a cancellation; no secret value reaches an event or an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kapsel_api::Blueprint;
use kapsel_engine::{
    ActionRequest, ActionResult, Event, EventSink, Outcome, PodOptions, Registry, run_action,
};
use kapsel_platform_local::LocalPlatform;
use kapsel_platform_local::inventory::Inventory;
use tokio_util::sync::CancellationToken;

/// Builds `kando` (a separate package) once and returns its directory.
fn kando_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(build_kando).clone()
}

fn build_kando() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "kando"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target.join("debug")
}

const INVENTORY: &str = r#"
apiVersion: kapsel.dev/v1alpha1
kind: Inventory
objects:
- kind: StatefulSet
  namespace: db
  name: app
  labels: {app.kubernetes.io/instance: rel}
  env: {GREETING: from-workload}
secrets:
- namespace: db
  name: app-creds
  data:
    password: {value: "s3cr3t-Passw0rd"}
configMaps:
- {namespace: db, name: settings, data: {bucket: backups}}
"#;

fn setup(dir: &Path) -> LocalPlatform {
    let inv: Inventory = serde_saphyr::from_str(INVENTORY).unwrap();
    LocalPlatform::new(inv, dir, vec![kando_dir()])
}

fn request(platform: &LocalPlatform, bp: &str, action: &str) -> ActionRequest {
    let bp: Blueprint = serde_saphyr::from_str(bp).unwrap();
    let mut params = platform.object_params("StatefulSet", "db", "app").unwrap();
    params.time = "2025-01-02T03:04:05.123456789Z".to_string();
    ActionRequest {
        name: action.to_string(),
        action: bp.spec.actions[action].clone(),
        params,
        pod: PodOptions::default(),
        preferred_version: None,
        phase_timeout: None,
        action_timeout: None,
    }
}

async fn run(
    platform: &LocalPlatform,
    req: &ActionRequest,
    cancel: &CancellationToken,
) -> (ActionResult, Vec<Event>) {
    let (sink, mut rx) = EventSink::channel();
    let result = run_action(req, platform, &Registry::builtin(), &sink, cancel).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (result, events)
}

#[tokio::test]
async fn outputs_flow_to_later_phases_and_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let bp = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: t}
actions:
  backup:
    outputArtifacts:
      result:
        keyValue:
          echoed: "{{ .Phases.second.Output.echoed }}"
    phases:
    - func: KubeTask
      name: first
      args:
        image: ignored
        command: [sh, -c, 'kando output greeting "hello world"']
    - func: KubeExec
      name: second
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pod: "{{ index .StatefulSet.Pods 0 }}"
        command:
        - sh
        - -c
        - 'echo log line; kando output echoed "{{ .Phases.first.Output.greeting }} / $GREETING"'
"#;
    let req = request(&platform, bp, "backup");
    let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    assert_eq!(res.phases[0].output["greeting"], "hello world");
    assert_eq!(
        res.artifacts["result"].key_value["echoed"],
        "hello world / from-workload"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log { line, .. } if line == "log line"))
    );
}

#[tokio::test]
async fn phase_objects_bring_configmaps_from_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let bp = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: t}
actions:
  backup:
    phases:
    - func: KubeTask
      name: read
      objects: {cfg: {kind: ConfigMap, name: settings}}
      args:
        image: x
        command: [sh, -c, 'kando output bucket "{{ .Phases.read.ConfigMaps.cfg.Data.bucket }}"']
  missing:
    phases:
    - func: KubeTask
      name: read
      objects: {cfg: {kind: ConfigMap, name: nope}}
      args: {image: x, command: [sh, -c, 'echo never']}
"#;
    let req = request(&platform, bp, "backup");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Complete, "{res:?}");
    assert_eq!(res.phases[0].output["bucket"], "backups");

    let req = request(&platform, bp, "missing");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("object cfg") && err.contains("ConfigMap") && err.contains("db/nope"),
        "{err}"
    );
}

#[tokio::test]
async fn failing_phase_reports_and_defer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("deferred");
    let platform = setup(dir.path());
    let bp = format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {{name: t}}
actions:
  backup:
    phases:
    - func: KubeTask
      name: breaks
      args:
        image: x
        command: [sh, -c, 'echo first; echo "boom" >&2; exit 3']
    - func: KubeTask
      name: never
      args: {{image: x, command: [sh, -c, 'touch {never}']}}
    deferPhase:
      func: KubeTask
      name: cleanup
      args: {{image: x, command: [sh, -c, 'touch {marker}']}}
"#,
        marker = marker.display(),
        never = dir.path().join("never").display()
    );
    let req = request(&platform, &bp, "backup");
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("phase breaks") && err.contains("KubeTask"),
        "{err}"
    );
    assert!(err.contains("exit code 3") && err.contains("boom"), "{err}");
    assert_eq!(res.phases[1].outcome, None, "later phases stay pending");
    assert!(!dir.path().join("never").exists());
    assert!(marker.exists(), "the defer phase ran");
    assert_eq!(res.defer_phase.unwrap().outcome, Some(Outcome::Complete));
    assert!(res.artifacts.is_empty());
}

fn sleeper_blueprint(dir: &Path) -> (String, PathBuf, PathBuf) {
    let pidfile = dir.join("pid");
    let marker = dir.join("deferred");
    let bp = format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {{name: t}}
actions:
  backup:
    phases:
    - func: KubeTask
      name: slow
      args:
        image: x
        command: [sh, -c, 'sleep 60 & echo $! > {pid}; wait']
    deferPhase:
      func: KubeTask
      name: cleanup
      args: {{image: x, command: [sh, -c, 'touch {marker}']}}
"#,
        pid = pidfile.display(),
        marker = marker.display()
    );
    (bp, pidfile, marker)
}

/// Whether a process is gone (or a zombie about to be reaped).
fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z")
}

#[tokio::test]
async fn timeout_kills_the_command_and_runs_defer() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let (bp, pidfile, marker) = sleeper_blueprint(dir.path());
    let mut req = request(&platform, &bp, "backup");
    req.phase_timeout = Some(Duration::from_millis(800));
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::TimedOut);
    assert!(res.error.unwrap().contains("did not finish within 800ms"));
    assert!(marker.exists(), "the defer phase ran");
    let pid = std::fs::read_to_string(pidfile).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(gone(pid.trim()), "the phase's processes were killed");
}

#[tokio::test]
async fn action_deadline_also_ends_the_phase() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let (bp, _, marker) = sleeper_blueprint(dir.path());
    let mut req = request(&platform, &bp, "backup");
    req.action_timeout = Some(Duration::from_millis(600));
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::TimedOut);
    assert!(marker.exists());
}

#[tokio::test]
async fn cancellation_stops_the_phase_and_runs_defer() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let (bp, pidfile, marker) = sleeper_blueprint(dir.path());
    let req = request(&platform, &bp, "backup");
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c2.cancel();
    });
    let (res, events) = run(&platform, &req, &cancel).await;
    assert_eq!(res.outcome, Outcome::Cancelled);
    assert!(marker.exists(), "the defer phase ran");
    let pid = std::fs::read_to_string(pidfile).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(gone(pid.trim()));
    assert!(matches!(
        events.last(),
        Some(Event::ActionEnded {
            outcome: Outcome::Cancelled,
            ..
        })
    ));
}

#[tokio::test]
async fn secrets_never_reach_events_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let bp = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: t}
actions:
  backup:
    phases:
    - func: KubeTask
      name: leaky
      objects:
        creds: {kind: Secret, name: app-creds, namespace: "{{ .StatefulSet.Namespace }}"}
      args:
        image: x
        command:
        - sh
        - -c
        - |
          P='{{ index .Phases.leaky.Secrets.creds.Data "password" | toString }}'
          echo "password is $P"
          echo "to stderr: $P" >&2
          kando output pw "$P"
          exit 1
"#;
    let req = request(&platform, bp, "backup");
    let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let all = format!(
        "{}\n{}",
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&res).unwrap()
    );
    assert!(
        all.contains("password is ********"),
        "the line is there, masked: {all}"
    );
    assert!(!all.contains("s3cr3t-Passw0rd"), "secret leaked: {all}");
}

#[tokio::test]
async fn unknown_and_unimplemented_functions_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let bp = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: t}
actions:
  a:
    phases:
    - {func: KubeTaks, name: p, args: {image: x, command: [true]}}
  b:
    phases:
    - {func: CreateRDSSnapshot, name: p, args: {instanceID: x}}
  c:
    phases:
    - {func: KubeTask, name: p, args: {image: x, command: [true], imagee: y}}
"#;
    let (res, _) = run(
        &platform,
        &request(&platform, bp, "a"),
        &CancellationToken::new(),
    )
    .await;
    assert!(res.error.unwrap().contains("did you mean KubeTask"));
    let (res, _) = run(
        &platform,
        &request(&platform, bp, "b"),
        &CancellationToken::new(),
    )
    .await;
    assert!(res.error.unwrap().contains(
        "function CreateRDSSnapshot cannot run on the local platform: it needs Amazon RDS"
    ));
    let (res, _) = run(
        &platform,
        &request(&platform, bp, "c"),
        &CancellationToken::new(),
    )
    .await;
    assert!(
        res.error
            .unwrap()
            .contains("argument imagee is not supported")
    );
}

/// Every function resolves before any phase runs (Kanister's GetPhases): a
/// misspelt function in the last phase leaves the first one (a quiesce, say)
/// and the defer phase unrun.
#[tokio::test]
async fn an_unknown_function_in_a_later_phase_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let marker = dir.path().join("ran");
    let bp = format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {{name: t}}
actions:
  a:
    phases:
    - {{func: KubeTask, name: first, args: {{image: x, command: [touch, "{m}"]}}}}
    - {{func: KubeExce, name: second, args: {{namespace: db, pod: app-0, container: main, command: [true]}}}}
    deferPhase: {{func: KubeTask, name: cleanup, args: {{image: x, command: [touch, "{m}"]}}}}
"#,
        m = marker.display()
    );
    let (res, events) = run(
        &platform,
        &request(&platform, &bp, "a"),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(
        err.contains("phase second") && err.contains("did you mean KubeExec"),
        "{err}"
    );
    assert!(
        !marker.exists(),
        "a phase ran before the action was refused"
    );
    assert!(res.phases.iter().all(|p| p.outcome.is_none()));
    assert!(res.defer_phase.unwrap().outcome.is_none());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::PhaseStarted { .. }))
    );
}

/// `preferredVersion` as Kanister resolves it: a valid version that is not
/// registered runs the default `v0.0.0` with a log line; an invalid one
/// fails the action before any phase runs.
#[tokio::test]
async fn preferred_version_falls_back_to_the_default_like_kanister() {
    let dir = tempfile::tempdir().unwrap();
    let platform = setup(dir.path());
    let bp = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: t}
actions:
  a:
    phases:
    - {func: KubeTask, name: p, args: {image: x, command: [sh, -c, "kando output v ok"]}}
"#;
    for (version, fallback) in [
        ("v0.0.0", false),
        ("", false),
        ("v1.2.0", true),
        ("2", true),
    ] {
        let mut req = request(&platform, bp, "a");
        req.preferred_version = Some(version.to_string());
        let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
        assert_eq!(res.outcome, Outcome::Complete, "{version}: {:?}", res.error);
        assert_eq!(res.phases[0].output["v"], "ok");
        let logged = events.iter().any(|e| {
            matches!(e, Event::Log { line, .. }
                if line.contains("falling back to its default version v0.0.0"))
        });
        assert_eq!(logged, fallback, "{version}");
    }
    let mut req = request(&platform, bp, "a");
    req.preferred_version = Some("not-a-version".to_string());
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.outcome, Outcome::Failed);
    let err = res.error.unwrap();
    assert!(err.contains("not-a-version"), "{err}");
    assert!(res.phases[0].outcome.is_none());
}

/// A controller taking over an interrupted action runs only its defer
/// phase, with the completed phases' outputs (and their objects) visible.
#[tokio::test]
async fn defer_phase_alone_sees_the_completed_phases() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("deferred");
    let never = dir.path().join("never");
    let platform = setup(dir.path());
    let bp = format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {{name: t}}
actions:
  backup:
    phases:
    - func: KubeTask
      name: scaleDown
      objects:
        settings: {{kind: ConfigMap, name: settings, namespace: db}}
      args: {{image: x, command: [sh, -c, 'touch {never}']}}
    - func: KubeTask
      name: interrupted
      args: {{image: x, command: [sh, -c, 'touch {never}']}}
    deferPhase:
      func: KubeTask
      name: scaleUp
      args:
        image: x
        command:
        - sh
        - -c
        - 'echo "{{{{ .Phases.scaleDown.Output.replicas }}}} {{{{ .Phases.scaleDown.ConfigMaps.settings.Data.bucket }}}}" > {marker}; kando output done yes'
"#,
        marker = marker.display(),
        never = never.display()
    );
    let req = request(&platform, &bp, "backup");
    let completed = [(
        "scaleDown".to_string(),
        [("replicas".to_string(), serde_json::json!("3"))].into(),
    )]
    .into();
    let (sink, mut rx) = EventSink::channel();
    let pr =
        kapsel_engine::run_defer_phase(&req, &completed, &platform, &Registry::builtin(), &sink)
            .await
            .unwrap();
    drop(sink);
    assert_eq!(pr.outcome, Some(Outcome::Complete), "{:?}", pr.error);
    assert_eq!(pr.output.get("done"), Some(&serde_json::json!("yes")));
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "3 backups"
    );
    assert!(!never.exists(), "no phase ran again");
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    assert!(matches!(
        &events[0],
        Event::PhaseStarted { phase, defer: true, .. } if phase == "scaleUp"
    ));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::PhaseEnded { phase, outcome: Outcome::Complete, .. } if phase == "scaleUp"
    )));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ActionStarted { .. } | Event::ActionEnded { .. }))
    );

    // no defer phase: nothing to run
    let bp = "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata: {name: t}\nactions:\n  backup:\n    phases:\n    - {func: KubeTask, name: a, args: {image: x, command: [true]}}\n";
    let req = request(&platform, bp, "backup");
    let (sink, _rx) = EventSink::channel();
    assert!(
        kapsel_engine::run_defer_phase(&req, &completed, &platform, &Registry::builtin(), &sink)
            .await
            .is_none()
    );
}
