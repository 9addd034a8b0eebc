//! The `kapsel` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> Option<PathBuf> {
    let dir = root().join("../shared/kanister-examples");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} missing in CI",
        dir.display()
    );
    kapsel_testkit::skip::notice(&format!("SKIP: {} not found", dir.display()));
    None
}

/// Every `.yaml` file below `dir`.
fn yaml_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
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

#[test]
fn validate_exit_codes() {
    let Some(ex) = examples() else { return };
    let good = ex.join("postgres/postgres-blueprint.yaml");
    let out = kapsel(&["blueprint", "validate", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let dir = tempdir();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata: {name: x}\nactions:\n  backup:\n    phases:\n    - func: KubeTaks\n      name: a\n      args: {image: i, command: [sh]}\n",
    )
    .unwrap();
    let out = kapsel(&["blueprint", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("KubeTask"), "did-you-mean expected: {err}");
    assert!(err.contains("bad.yaml:7:"), "location expected: {err}");

    let out = kapsel(&[
        "blueprint",
        "validate",
        "--output",
        "json",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["errors"].as_u64().unwrap() >= 1);

    let out = kapsel(&["blueprint", "validate", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no/such/file.yaml"));
    let out = kapsel(&["blueprint", "validate"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "kapsel-cli-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn render_masks_secrets_unless_asked() {
    let Some(ex) = examples() else { return };
    let bp = ex.join("postgres/postgres-blueprint.yaml");
    let args = [
        "blueprint",
        "render",
        bp.to_str().unwrap(),
        "--action",
        "backup",
        "--params",
        "testdata/params/statefulset.json",
    ];
    let out = kapsel(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let masked = text(&out.stdout);
    // The fixture's PostgreSQL password and S3 secret key.
    let params: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/params/statefulset.json")).unwrap(),
    )
    .unwrap();
    let s3_secret = params["profile"]["credential"]["keyPair"]["secret"]
        .as_str()
        .unwrap();
    assert!(!masked.contains(s3_secret), "secret leaked:\n{masked}");
    assert!(masked.contains("PGPASSWORD='********'"), "{masked}");
    insta::assert_snapshot!("render_postgres_backup", masked);

    let mut shown = args.to_vec();
    shown.push("--show-secrets");
    let out = kapsel(&shown);
    assert!(text(&out.stdout).contains(s3_secret));
}

#[test]
fn render_unknown_action_names_the_file() {
    let Some(ex) = examples() else { return };
    let bp = ex.join("postgres/postgres-blueprint.yaml");
    let out = kapsel(&[
        "blueprint",
        "render",
        bp.to_str().unwrap(),
        "--action",
        "bakup",
        "--params",
        "testdata/params/statefulset.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("postgres-blueprint.yaml") && err.contains("bakup") && err.contains("backup"),
        "{err}"
    );
}

#[test]
fn render_rejects_bad_params_file() {
    let Some(ex) = examples() else { return };
    let dir = tempdir();
    let p = dir.join("params.yaml");
    std::fs::write(&p, "tiem: x\n").unwrap();
    let bp = ex.join("postgres/postgres-blueprint.yaml");
    let out = kapsel(&[
        "blueprint",
        "render",
        bp.to_str().unwrap(),
        "-a",
        "backup",
        "-p",
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("params.yaml") && err.contains("tiem"), "{err}");
}

#[test]
fn crds_and_schema() {
    let out = kapsel(&["crds"]);
    assert_eq!(out.status.code(), Some(0));
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text(&out.stdout)).unwrap();
    let names: Vec<_> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "actionsets.cr.kanister.io",
            "blueprints.cr.kanister.io",
            "profiles.cr.kanister.io"
        ]
    );

    let out = kapsel(&["schema", "blueprint"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["actions"].is_object(), "{schema}");
}

#[test]
fn editor_schema_accepts_examples_and_flags_typos() {
    let Some(ex) = examples() else { return };
    let out = kapsel(&["schema", "blueprint"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let files = yaml_files(ex);
    let mut checked = 0;
    let mut postgres = None;
    for f in files {
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for d in docs.into_iter().filter(|d| d["kind"] == "Blueprint") {
            let errors: Vec<String> = validator.iter_errors(&d).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", f.display());
            checked += 1;
            if f.ends_with("postgres/postgres-blueprint.yaml") {
                postgres = Some(d);
            }
        }
    }
    assert!(checked >= 15, "{checked}");
    let mut typo = postgres.unwrap();
    typo["actions"]["backup"]["phases"][0]["args"]["imagee"] = "x".into();
    assert!(
        !validator.is_valid(&typo),
        "an unknown KubeTask argument must be flagged"
    );
    let mut typo2 = typo.clone();
    typo2["actions"]["backup"]["phases"][0]["args"]
        .as_object_mut()
        .unwrap()
        .remove("imagee");
    assert!(validator.is_valid(&typo2));
    typo2["actions"]["backup"]["phases"][0]["func"] = "KubeTaks".into();
    assert!(
        !validator.is_valid(&typo2),
        "an unknown function must be flagged"
    );
}

/// The inventory's JSON Schema (`kapsel schema inventory`, derived from the
/// Rust types) accepts every inventory in testdata/local (with their
/// `@KEY@` placeholders, which are strings), knows hostAliases and images,
/// and flags unknown fields.
#[test]
fn inventory_schema_accepts_testdata_inventories_and_flags_typos() {
    let out = kapsel(&["schema", "inventory"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut checked = Vec::new();
    for e in std::fs::read_dir(root().join("testdata/local")).unwrap() {
        let f = e.unwrap().path();
        if !f.to_string_lossy().ends_with(".inventory.yaml") {
            continue;
        }
        let doc: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        checked.push(doc);
    }
    assert!(checked.len() >= 8, "{}", checked.len());
    assert!(
        checked
            .iter()
            .any(|d| d["hostAliases"].is_array() && d["images"].is_array()),
        "an inventory with hostAliases and images was checked"
    );
    for (path, value) in [
        ("/hostAliases/0/hostname", serde_json::json!("x")),
        ("/images/0/pathh", serde_json::json!(["/x"])),
        ("/objects/0/hostAlias", serde_json::json!([])),
    ] {
        let mut typo = serde_json::json!({
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["db"]}],
            "images": [{"image": "x:*", "path": ["/opt/x"]}],
            "objects": [{"kind": "StatefulSet", "namespace": "n", "name": "a",
                         "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["b"]}]}],
        });
        assert!(validator.is_valid(&typo), "{typo}");
        let (parent, key) = path.rsplit_once('/').unwrap();
        typo.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), value);
        assert!(!validator.is_valid(&typo), "{path} must be flagged");
    }
}

/// `kando` is a separate package: build it so `kapsel run` finds it next to
/// itself.
fn build_kando() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "kando"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
}

const RUN_BP: &str = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: demo}
actions:
  backup:
    outputArtifacts:
      snap: {keyValue: {where: "{{ .Phases.dump.Output.where }}"}}
    phases:
    - func: KubeTask
      name: dump
      objects: {pw: {kind: Secret, name: app, namespace: "{{ .StatefulSet.Namespace }}"}}
      args:
        image: none
        command: [sh, -c, 'echo "using {{ index .Phases.dump.Secrets.pw.Data "password" | toString }}"; kando output where "/tmp/x-{{ .StatefulSet.Name }}"']
  restore:
    inputArtifactNames: [snap]
    phases:
    - func: KubeTask
      name: load
      args: {image: none, command: [sh, -c, 'echo "restoring from {{ .ArtifactsIn.snap.KeyValue.where }}"; test "{{ .ArtifactsIn.snap.KeyValue.where }}" = /tmp/x-app']}
  broken:
    phases:
    - {func: KubeTask, name: bad, args: {image: none, command: [sh, -c, 'echo oops; exit 7']}}
"#;

const RUN_INV: &str = r#"
objects:
- {kind: StatefulSet, namespace: demo, name: app}
secrets:
- {namespace: demo, name: app, data: {password: {value: hunter2-long}}}
"#;

#[test]
fn run_backup_then_restore_from_its_artifacts() {
    build_kando();
    let dir = tempdir();
    let (bp, inv, out) = (
        dir.join("bp.yaml"),
        dir.join("inv.yaml"),
        dir.join("backup.yaml"),
    );
    std::fs::write(&bp, RUN_BP).unwrap();
    std::fs::write(&inv, RUN_INV).unwrap();
    let (bp, inv, outs) = (
        bp.to_str().unwrap(),
        inv.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let r = kapsel(&[
        "run",
        "-b",
        bp,
        "-a",
        "backup",
        "-o",
        "statefulset/demo/app",
        "-i",
        inv,
        "-w",
        outs,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let stderr = text(&r.stderr);
    assert!(
        stderr.contains("using ********") && !stderr.contains("hunter2-long"),
        "{stderr}"
    );
    let set: kapsel_api::ActionSet =
        serde_saphyr::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let status = set.status.unwrap();
    assert_eq!(status.state, kapsel_api::State::Complete);
    assert_eq!(
        status.actions[0].artifacts["snap"].key_value["where"],
        "/tmp/x-app"
    );

    let r = kapsel(&["run", "-b", bp, "-a", "restore", "--from", outs, "-i", inv]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("restoring from /tmp/x-app"));

    let r = kapsel(&[
        "run",
        "-b",
        bp,
        "-a",
        "broken",
        "-o",
        "statefulset/demo/app",
        "-i",
        inv,
    ]);
    assert_eq!(r.status.code(), Some(1));
    let set: kapsel_api::ActionSet = serde_saphyr::from_str(&text(&r.stdout)).unwrap();
    let msg = set.status.unwrap().error.message;
    assert!(
        msg.contains("phase bad") && msg.contains("exit code 7") && msg.contains("oops"),
        "{msg}"
    );

    let r = kapsel(&[
        "run",
        "-b",
        bp,
        "-a",
        "backup",
        "-o",
        "statefulset/demo/nope",
        "-i",
        inv,
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(
        text(&r.stderr).contains("not in the inventory"),
        "{}",
        text(&r.stderr)
    );

    let r = kapsel(&[
        "run",
        "-b",
        bp,
        "-a",
        "backup",
        "-o",
        "statefulset/demo/app",
        "--timeout",
        "5x",
    ]);
    assert_eq!(r.status.code(), Some(2), "a bad duration is a usage error");
}

#[test]
fn own_blueprints_are_valid() {
    // blueprints/ and its Kubernetes variants (blueprints/kubernetes/)
    let mut files: Vec<String> = Vec::new();
    for dir in [
        root().join("blueprints"),
        root().join("blueprints/kubernetes"),
    ] {
        files.extend(
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .map(|p| p.to_str().unwrap().to_string()),
        );
    }
    assert!(files.iter().any(|f| f.contains("/kubernetes/")));
    let mut args = vec!["blueprint", "validate", "--deny-warnings", "--strict"];
    args.extend(files.iter().map(String::as_str));
    let out = kapsel(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn validate_any_kanister_resource() {
    let Some(ex) = examples() else { return };
    let files: Vec<String> = yaml_files(ex)
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = kapsel(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The one published example with a field Kanister drops is reported.
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("restore-actionset.yaml") && warnings[0].contains("cloudObject.path")
    );

    let dir = tempdir();
    let p = dir.join("profile.yaml");
    std::fs::write(
        &p,
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata: {name: p}\nlocation: {type: s3Compliant, bucket: b}\ncredential: {type: keyPair}\n",
    )
    .unwrap();
    let out = kapsel(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("location.region") && err.contains("credential.keyPair"),
        "{err}"
    );
}

#[test]
fn validate_warns_where_yaml_1_1_and_1_2_differ() {
    let dir = tempdir();
    let p = dir.join("actionset.yaml");
    std::fs::write(
        &p,
        "apiVersion: cr.kanister.io/v1alpha1\nkind: ActionSet\nmetadata: {name: a}\nspec:\n  actions:\n  - name: backup\n    blueprint: bp\n    object: {kind: Namespace, name: demo, namespace: demo}\n    podOverride:\n      securityContext: {runAsUser: 0400}\n",
    )
    .unwrap();
    let out = kapsel(&["validate", p.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("spec.actions.0.podOverride.securityContext.runAsUser")
            && warnings[0].contains("`0400` is 256 to Kanister")
            && warnings[0].contains("line 10 column 36"),
        "{err}"
    );
}

/// The binary invoked as `kanctl` (a symlink) and as `kapsel kanctl` takes
/// kanctl's command lines; `validate blueprint -f` needs no cluster.
#[test]
fn kanctl_entry_points() {
    let dir = tempdir();
    let kanctl = dir.join("kanctl");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kapsel"), &kanctl).unwrap();
    let good = root().join("blueprints/postgresql.yaml");
    let bad = dir.join("bad.yaml");
    let text_of = std::fs::read_to_string(&good).unwrap();
    std::fs::write(
        &bad,
        text_of.replacen("func: KubeTask", "func: KubeTaskk", 1),
    )
    .unwrap();
    assert_ne!(
        std::fs::read_to_string(&bad).unwrap(),
        text_of,
        "the fixture changed"
    );
    let run = |prog: &Path, pre: &[&str], args: &[&str]| {
        Command::new(prog)
            .args(pre)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let kapsel_bin = Path::new(env!("CARGO_BIN_EXE_kapsel"));
    for (prog, pre) in [(kanctl.as_path(), &[][..]), (kapsel_bin, &["kanctl"][..])] {
        let out = run(
            prog,
            pre,
            &["validate", "blueprint", "-f", good.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = run(
            prog,
            pre,
            &[
                "validate",
                "blueprint",
                "-f",
                bad.to_str().unwrap(),
                "-v",
                "v0.0.0",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("unknown function `KubeTaskk`"),
            "{}",
            text(&out.stderr)
        );
        // kanctl's flags, -o being --options.
        let out = run(prog, pre, &["create", "actionset", "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        for flag in [
            "--namespacetargets",
            "--deploymentconfig",
            "-o, --options",
            "-A, --name",
            "--selector-namespace",
            "--dry-run",
        ] {
            assert!(help.contains(flag), "{flag}: {help}");
        }
        // Usage errors exit 2 and name the flag.
        let out = run(prog, pre, &["validate", "nothing", "-f", "x"]);
        assert_eq!(out.status.code(), Some(2));
        let out = run(prog, pre, &["validate", "profile"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("neither name nor filename specified"),
            "{}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
