//! `kapsel run --actionset`: the actions of one ActionSet run at once, each
//! with its phases in order, as real processes on the local platform.
//!
//! Concurrency is proven by a rendezvous, not by a clock: each action's
//! first phase leaves a file and waits (bounded, failing otherwise) for the
//! other action's file, so the run completes only if both phases were
//! running at the same time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kapsel_api::{ActionSet, State};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kapsel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kapsel"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "kapsel-run-actionset-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `kando` is a separate package: build it so `kapsel run` finds it next to
/// itself (`kando output` hands values to later phases).
fn build_kando() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "kando"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_string()
}

fn read_set(path: &str) -> ActionSet {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const INV: &str = r#"
objects:
- {kind: StatefulSet, namespace: demo, name: a}
- {kind: StatefulSet, namespace: demo, name: b}
secrets:
- {namespace: demo, name: app, data: {password: {value: hunter2-long}}}
configMaps:
- {namespace: demo, name: settings, data: {bucket: backups}}
"#;

/// Each action's `meet` phase waits for the other's file (at most 60 s,
/// then fails); `report` uses `meet`'s output, so it must run after it.
const MEET_BP: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: meet}
actions:
  backup:
    outputArtifacts:
      note: {keyValue: {saw: "{{ .Phases.report.Output.saw }}"}}
    phases:
    - func: KubeTask
      name: meet
      args:
        image: none
        command:
        - sh
        - -c
        - |
          touch "{{ .Options.dir }}/{{ .Object.metadata.name }}.here"
          i=0
          while [ ! -e "{{ .Options.dir }}/{{ .Options.peer }}.here" ]; do
            i=$((i + 1))
            if [ "$i" -gt 600 ]; then echo "{{ .Options.peer }} never came"; exit 1; fi
            sleep 0.1
          done
          echo "{{ .Object.metadata.name }} met {{ .Options.peer }}"
          kando output met "{{ .Options.peer }}"
    - func: KubeExec
      name: report
      args:
        namespace: "{{ .StatefulSet.Namespace }}"
        pod: "{{ index .StatefulSet.Pods 0 }}"
        command: [sh, -c, 'kando output saw "{{ .Phases.meet.Output.met }} from $HOSTNAME"']
    deferPhase:
      func: KubeTask
      name: tidy
      args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/{{ .Object.metadata.name }}.tidied"']}
"#;

fn meet_actionset(dir: &Path) -> String {
    let d = dir.to_str().unwrap();
    format!(
        r#"apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata: {{generateName: backup-, namespace: kanister}}
spec:
  actions:
  - name: backup
    blueprint: meet
    object: {{kind: StatefulSet, namespace: demo, name: a}}
    options: {{dir: "{d}", peer: b}}
  - name: backup
    blueprint: meet
    object: {{kind: StatefulSet, namespace: demo, name: b}}
    options: {{dir: "{d}", peer: a}}
"#
    )
}

#[test]
fn actions_run_at_the_same_time_each_with_phases_in_order() {
    build_kando();
    let dir = tempdir();
    let bp = write(&dir, "bp.yaml", MEET_BP);
    let inv = write(&dir, "inv.yaml", INV);
    let set = write(&dir, "set.yaml", &meet_actionset(&dir));
    let out = dir.join("out.yaml").to_str().unwrap().to_string();
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "--actionset",
        &set,
        "-i",
        &inv,
        "-w",
        &out,
        "--output",
        "json",
    ]);
    let stderr = text(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{stderr}");

    // Every event names its action; each action's events are in order.
    let mut per_action: [Vec<String>; 2] = Default::default();
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON event per line: {line:?}: {e}"));
        let i = v["actionIndex"].as_u64().expect("actionIndex") as usize;
        assert_eq!(v["action"], "backup", "{line}");
        let object = ["StatefulSet/demo/a", "StatefulSet/demo/b"][i];
        assert_eq!(v["object"], object, "{line}");
        let what = match v["event"].as_str().unwrap() {
            "phaseStarted" | "phaseEnded" => {
                format!(
                    "{} {}",
                    v["event"].as_str().unwrap(),
                    v["phase"].as_str().unwrap()
                )
            }
            "log" => continue,
            other => other.to_string(),
        };
        per_action[i].push(what);
    }
    let expected = [
        "actionStarted",
        "phaseStarted meet",
        "phaseEnded meet",
        "phaseStarted report",
        "phaseEnded report",
        "phaseStarted tidy",
        "phaseEnded tidy",
        "actionEnded",
    ];
    for events in &per_action {
        assert_eq!(events, &expected);
    }

    let written = read_set(&out);
    assert!(
        written
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("backup-")
    );
    assert_eq!(written.metadata.namespace.as_deref(), Some("kanister"));
    assert_eq!(written.spec.actions.len(), 2);
    let status = written.status.unwrap();
    assert_eq!(status.state, State::Complete);
    assert!(status.error.message.is_empty(), "{}", status.error.message);
    assert_eq!(status.actions.len(), 2);
    for (s, (me, peer)) in status.actions.iter().zip([("a", "b"), ("b", "a")]) {
        assert_eq!(s.name, "backup");
        assert_eq!(s.blueprint, "meet");
        assert_eq!(s.object.name, me);
        let phases: Vec<(&str, State)> = s
            .phases
            .iter()
            .map(|p| (p.name.as_str(), p.state))
            .collect();
        assert_eq!(
            phases,
            [("meet", State::Complete), ("report", State::Complete)]
        );
        let output = |i: usize, k: &str| s.phases[i].output.as_ref().unwrap()[k].clone();
        assert_eq!(output(0, "met"), peer);
        assert_eq!(output(1, "saw"), format!("{peer} from {me}-0"));
        assert_eq!(
            s.artifacts["note"].key_value["saw"],
            format!("{peer} from {me}-0")
        );
        let defer = s.defer_phase.as_ref().unwrap();
        assert_eq!(
            (defer.name.as_str(), defer.state),
            ("tidy", State::Complete)
        );
        assert!(dir.join(format!("{me}.tidied")).exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

const WAITER_BP: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: waiter}
actions:
  outlast:
    phases:
    - func: KubeTask
      name: watch
      args:
        image: none
        command:
        - sh
        - -c
        - |
          i=0
          while [ ! -e "{{ .Options.dir }}/b.tidied" ]; do
            i=$((i + 1))
            if [ "$i" -gt 600 ]; then echo "the failing action never cleaned up"; exit 1; fi
            sleep 0.1
          done
          echo "saw the failing action's clean-up"
          kando output seen yes
"#;

const BREAKER_BP: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: breaker}
actions:
  fail:
    phases:
    - {func: KubeTask, name: bad, args: {image: none, command: [sh, -c, 'echo oops; exit 7']}}
    - {func: KubeTask, name: never, args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/never"']}}
    deferPhase:
      func: KubeTask
      name: tidy
      args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/b.tidied"; kando output tidied yes']}
"#;

#[test]
fn a_failing_action_does_not_stop_the_others() {
    build_kando();
    let dir = tempdir();
    let d = dir.to_str().unwrap();
    let waiter = write(&dir, "waiter.yaml", WAITER_BP);
    let breaker = write(&dir, "breaker.yaml", BREAKER_BP);
    let inv = write(&dir, "inv.yaml", INV);
    let set = write(
        &dir,
        "set.yaml",
        &format!(
            r#"apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata: {{name: mixed}}
spec:
  actions:
  - {{name: outlast, blueprint: waiter, object: {{kind: StatefulSet, namespace: demo, name: a}}, options: {{dir: "{d}"}}}}
  - {{name: fail, blueprint: breaker, object: {{kind: StatefulSet, namespace: demo, name: b}}, options: {{dir: "{d}"}}}}
"#
        ),
    );
    let out = dir.join("out.yaml").to_str().unwrap().to_string();
    let r = kapsel(&[
        "run",
        "-b",
        &waiter,
        "-b",
        &breaker,
        "--actionset",
        &set,
        "-i",
        &inv,
        "-w",
        &out,
    ]);
    let stderr = text(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    // Plain lines say which action they belong to.
    assert!(
        stderr.contains("[fail StatefulSet/demo/b] phase bad: failed")
            && stderr.contains(
                "[outlast StatefulSet/demo/a]   watch | saw the failing action's clean-up"
            )
            && stderr.contains("[outlast StatefulSet/demo/a] action outlast: complete"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: action fail on StatefulSet/demo/b: phase bad: KubeTask: command failed with exit code 7"),
        "{stderr}"
    );

    let written = read_set(&out);
    assert_eq!(written.metadata.name.as_deref(), Some("mixed"));
    let status = written.status.unwrap();
    assert_eq!(status.state, State::Failed);
    let msg = &status.error.message;
    assert!(
        msg.starts_with("action fail on StatefulSet/demo/b: phase bad: KubeTask: command failed with exit code 7")
            && msg.contains("oops")
            && !msg.contains("outlast"),
        "{msg}"
    );
    let [ok, failed] = status.actions.as_slice() else {
        panic!("two status entries expected: {:?}", status.actions)
    };
    assert_eq!(
        (ok.name.as_str(), ok.blueprint.as_str()),
        ("outlast", "waiter")
    );
    assert_eq!(ok.phases.len(), 1);
    assert_eq!(ok.phases[0].state, State::Complete);
    assert_eq!(ok.phases[0].output.as_ref().unwrap()["seen"], "yes");
    assert!(ok.defer_phase.is_none());

    assert_eq!(
        (failed.name.as_str(), failed.blueprint.as_str()),
        ("fail", "breaker")
    );
    let phases: Vec<(&str, State)> = failed
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.state))
        .collect();
    assert_eq!(phases, [("bad", State::Failed), ("never", State::Pending)]);
    let defer = failed.defer_phase.as_ref().unwrap();
    assert_eq!(
        (defer.name.as_str(), defer.state),
        ("tidy", State::Complete)
    );
    assert_eq!(defer.output.as_ref().unwrap()["tidied"], "yes");
    assert!(!dir.join("never").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Secrets, ConfigMaps, the Profile (matched by name among several),
/// input artifacts, options, pod labels and the function version reach the
/// templates; the Profile's and Secrets' values are masked in the output.
#[test]
fn an_action_sees_everything_its_actionset_names() {
    build_kando();
    let dir = tempdir();
    let bp = write(
        &dir,
        "bp.yaml",
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: world}
actions:
  restore:
    phases:
    - func: KubeTask
      name: look
      args:
        image: none
        command:
        - sh
        - -c
        - |
          echo "bucket={{ .Profile.Location.Bucket }} key={{ .Profile.Credential.KeyPair.Secret }}"
          echo "pw={{ index .Secrets.pw.Data "password" | toString }} cfg={{ .ConfigMaps.cfg.Data.bucket }}"
          echo "from={{ .ArtifactsIn.snap.KeyValue.where }} opt={{ .Options.mode }} team={{ .PodLabels.team }}"
          kando output seen "{{ .Profile.Location.Bucket }},{{ .ConfigMaps.cfg.Data.bucket }},{{ .ArtifactsIn.snap.KeyValue.where }},{{ .Options.mode }},{{ .Options.extra }},{{ .PodLabels.team }}"
"#,
    );
    let inv = write(&dir, "inv.yaml", INV);
    let profile = |name: &str, bucket: &str| {
        format!(
            "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata: {{name: {name}, namespace: kanister}}\nlocation: {{type: filesystem, bucket: {bucket}}}\ncredential: {{type: keyPair, keyPair: {{idField: id, secretField: key, secret: {{namespace: demo, name: creds}}}}}}\n"
        )
    };
    let p1 = write(&dir, "p1.yaml", &profile("first", "/srv/one"));
    let p2 = write(&dir, "p2.yaml", &profile("second", "/srv/two"));
    let creds = write(
        &dir,
        "creds.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: demo}\nstringData: {id: me, key: sup3r-s3cret-key}\n",
    );
    let set = write(
        &dir,
        "set.yaml",
        r#"apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata: {name: world}
spec:
  actions:
  - name: restore
    blueprint: world
    object: {kind: StatefulSet, namespace: demo, name: a}
    profile: {name: second, namespace: kanister}
    secrets: {pw: {name: app, namespace: demo}}
    configMaps: {cfg: {name: settings}}
    artifacts: {snap: {keyValue: {where: /backups/1}}}
    options: {mode: full}
    podLabels: {team: db}
    preferredVersion: v0.0.0
"#,
    );
    let out = dir.join("out.yaml").to_str().unwrap().to_string();
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "--actionset",
        &set,
        "-i",
        &inv,
        "-p",
        &p1,
        "-p",
        &p2,
        "--secret",
        &format!("creds={creds}"),
        "--option",
        "extra=yes",
        "-w",
        &out,
    ]);
    let stderr = text(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("hunter2-long") && !stderr.contains("sup3r-s3cret-key"),
        "a secret leaked: {stderr}"
    );
    assert!(stderr.contains("pw=********"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "note: --profile {p1} (Profile first) is not named by any action"
        )),
        "{stderr}"
    );
    let written = read_set(&out);
    let spec = &written.spec.actions[0];
    assert_eq!(
        spec.options["extra"], "yes",
        "flags are recorded in the spec"
    );
    assert_eq!(spec.secrets["creds"].name, "creds");
    assert_eq!(spec.preferred_version, "v0.0.0");
    let status = written.status.unwrap();
    assert_eq!(status.state, State::Complete, "{stderr}");
    assert_eq!(
        status.actions[0].phases[0].output.as_ref().unwrap()["seen"],
        "/srv/two,backups,/backups/1,full,yes,db"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_names_and_bad_files_are_input_errors_and_nothing_runs() {
    let dir = tempdir();
    let d = dir.to_str().unwrap();
    let bp = write(
        &dir,
        "bp.yaml",
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: touch}
actions:
  backup:
    phases:
    - {func: KubeTask, name: mark, args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/ran"']}}
"#,
    );
    let inv = write(&dir, "inv.yaml", INV);
    let set = |name: &str, second: &str| {
        write(
            &dir,
            name,
            &format!(
                r#"apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata: {{name: x}}
spec:
  actions:
  - {{name: backup, blueprint: touch, object: {{kind: StatefulSet, namespace: demo, name: a}}, options: {{dir: "{d}"}}}}
  - {second}
"#
            ),
        )
    };
    let out = dir.join("out.yaml");
    let run = |file: &str| {
        kapsel(&[
            "run",
            "-b",
            &bp,
            "--actionset",
            file,
            "-i",
            &inv,
            "-w",
            out.to_str().unwrap(),
        ])
    };
    let expect = |r: Output, wanted: &[&str]| {
        let err = text(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{err}");
        // miette wraps long messages (at slashes, too): compare without the
        // wrapping.
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '│')
                .collect()
        };
        for w in wanted {
            assert!(
                squash(&err).contains(&squash(w)),
                "{w:?} expected in: {err}"
            );
        }
        assert!(!dir.join("ran").exists(), "an action ran despite: {err}");
        assert!(!out.exists(), "an ActionSet was written despite: {err}");
    };

    let f = set(
        "unknown-bp.yaml",
        "{name: backup, blueprint: nope, object: {kind: StatefulSet, namespace: demo, name: b}}",
    );
    expect(
        run(&f),
        &[
            "unknown-bp.yaml",
            "spec.actions[1] (backup on StatefulSet/demo/b)",
            r#"no Blueprint named "nope""#,
            "touch (",
        ],
    );

    let f = set(
        "unknown-action.yaml",
        "{name: restore, blueprint: touch, object: {kind: StatefulSet, namespace: demo, name: b}}",
    );
    expect(
        run(&f),
        &[
            "spec.actions[1] (restore on StatefulSet/demo/b)",
            r#"has no action "restore""#,
            "backup",
        ],
    );

    let f = set(
        "no-object.yaml",
        "{name: backup, blueprint: touch, object: {kind: StatefulSet, namespace: demo, name: zz}}",
    );
    expect(
        run(&f),
        &[
            "no-object.yaml",
            "spec.actions[1] (backup on StatefulSet/demo/zz)",
            "not in the inventory",
            "inv.yaml",
        ],
    );

    let f = set(
        "no-profile.yaml",
        "{name: backup, blueprint: touch, object: {kind: StatefulSet, namespace: demo, name: b}, profile: {name: s3, namespace: kanister}}",
    );
    expect(
        run(&f),
        &["spec.actions[1]", r#"no Profile named "s3""#, "--profile"],
    );

    let f = set(
        "no-secret.yaml",
        "{name: backup, blueprint: touch, object: {kind: StatefulSet, namespace: demo, name: b}, secrets: {pw: {name: gone, namespace: demo}}}",
    );
    expect(
        run(&f),
        &["spec.actions[1]", "secret pw", "demo/gone", "--secret"],
    );

    // The second action's object mapping is never closed: line 7, column 55.
    let f = set(
        "bad-yaml.yaml",
        "{name: backup, blueprint: touch, object: {kind: StatefulSet, name: b}",
    );
    expect(
        run(&f),
        &[
            "bad-yaml.yaml",
            "not valid YAML",
            "line 7 column",
            "bad-yaml.yaml:7:",
        ],
    );

    let f = set(
        "bad-type.yaml",
        "{name: backup, blueprint: touch, object: [b]}",
    );
    expect(run(&f), &["not a valid ActionSet", "bad-type.yaml:7:"]);

    let f = set(
        "missing.yaml",
        "{name: backup, blueprnt: touch, object: {kind: StatefulSet, namespace: demo, name: b}}",
    );
    expect(
        run(&f),
        &[
            "spec.actions.1.blueprint: blueprint is required",
            "spec.actions.1.blueprnt",
        ],
    );

    expect(run(&bp), &["not an ActionSet: its kind is Blueprint"]);

    let ok = set(
        "ok.yaml",
        "{name: backup, blueprint: touch, object: {kind: StatefulSet, namespace: demo, name: b}}",
    );
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "--actionset",
        &ok,
        "-a",
        "backup",
        "-i",
        &inv,
    ]);
    expect(r, &["cannot be used with"]);
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "--actionset",
        &ok,
        "--from",
        &ok,
        "-i",
        &inv,
    ]);
    expect(r, &["cannot be used with"]);
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "-b",
        &bp,
        "-a",
        "backup",
        "-o",
        "statefulset/demo/a",
        "-i",
        &inv,
    ]);
    expect(r, &["give --blueprint once"]);
    let r = kapsel(&["run", "-b", &bp, "-b", &bp, "--actionset", &ok, "-i", &inv]);
    expect(r, &["Blueprint touch is given twice"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The written ActionSet is a valid Kanister ActionSet, and runs again as
/// `--actionset` input (its status ignored, with a note).
#[test]
fn the_written_actionset_validates_and_runs_again() {
    build_kando();
    let dir = tempdir();
    let bp = write(&dir, "bp.yaml", MEET_BP);
    let inv = write(&dir, "inv.yaml", INV);
    let set = write(&dir, "set.yaml", &meet_actionset(&dir));
    let first = dir.join("first.yaml").to_str().unwrap().to_string();
    let r = kapsel(&[
        "run",
        "-b",
        &bp,
        "--actionset",
        &set,
        "-i",
        &inv,
        "-w",
        &first,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));

    let v = kapsel(&["validate", &first]);
    let err = text(&v.stderr);
    assert_eq!(v.status.code(), Some(0), "{err}");
    assert!(err.contains("valid") && !err.contains("warning"), "{err}");

    let r = kapsel(&["run", "-b", &bp, "--actionset", &first, "-i", &inv]);
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{err}");
    assert!(err.contains("its status is ignored"), "{err}");
    let again: ActionSet = serde_saphyr::from_str(&text(&r.stdout)).unwrap();
    let before = read_set(&first);
    assert_eq!(again.spec, before.spec);
    assert_eq!(again.metadata.name, before.metadata.name);
    assert_eq!(again.status.unwrap().state, State::Complete);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One Ctrl-C (SIGINT) stops every running action; each still runs its
/// defer phase.
#[test]
fn one_interrupt_cancels_every_action() {
    let dir = tempdir();
    let bp = write(
        &dir,
        "bp.yaml",
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: hold}
actions:
  backup:
    phases:
    - func: KubeTask
      name: hold
      args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/{{ .Object.metadata.name }}.up"; sleep 600']}
    deferPhase:
      func: KubeTask
      name: tidy
      args: {image: none, command: [sh, -c, 'touch "{{ .Options.dir }}/{{ .Object.metadata.name }}.tidied"']}
"#,
    );
    let inv = write(&dir, "inv.yaml", INV);
    let d = dir.to_str().unwrap();
    let set = write(
        &dir,
        "set.yaml",
        &format!(
            r#"apiVersion: cr.kanister.io/v1alpha1
kind: ActionSet
metadata: {{name: held}}
spec:
  actions:
  - {{name: backup, blueprint: hold, object: {{kind: StatefulSet, namespace: demo, name: a}}, options: {{dir: "{d}"}}}}
  - {{name: backup, blueprint: hold, object: {{kind: StatefulSet, namespace: demo, name: b}}, options: {{dir: "{d}"}}}}
"#
        ),
    );
    let out = dir.join("out.yaml").to_str().unwrap().to_string();
    // The phase deadline only bounds the test should the interrupt be lost;
    // the error message tells the two apart.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kapsel"))
        .args([
            "run",
            "-b",
            &bp,
            "--actionset",
            &set,
            "-i",
            &inv,
            "-w",
            &out,
        ])
        .args(["--phase-timeout", "120s"])
        .current_dir(root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let both_up = (0..600).any(|_| {
        if dir.join("a.up").exists() && dir.join("b.up").exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        false
    });
    if !both_up {
        let _ = child.kill();
    }
    assert!(both_up, "the two actions never ran at the same time");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let r = child.wait_with_output().unwrap();
    let stderr = text(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let written = read_set(&out).status.unwrap();
    assert_eq!(written.state, State::Failed);
    for (s, name) in written.actions.iter().zip(["a", "b"]) {
        assert_eq!(s.phases[0].state, State::Failed);
        assert_eq!(s.defer_phase.as_ref().unwrap().state, State::Complete);
        assert!(dir.join(format!("{name}.tidied")).exists());
        assert!(
            written.error.message.contains(&format!(
                "action backup on StatefulSet/demo/{name}: phase hold: cancelled"
            )),
            "{}",
            written.error.message
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
