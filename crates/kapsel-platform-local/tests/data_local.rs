//! The data functions on the local platform, through the engine, with the
//! real `kando` on a filesystem Profile: a directory backed up, destroyed and
//! restored by every restore function; stats, checks, deletes; and secrets
//! (Profile credential, encryptionKey, Secret data) kept out of argv, events
//! and errors, checked on the argv of the processes actually started.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{blueprint_request, kando_dir, run, setup_with};
use kapsel_engine::{ActionResult, Event, Outcome};
use kapsel_params::file::{
    ArtifactIn, CredentialParams, KeyPairParams, LocationParams, ProfileParams,
};
use tokio_util::sync::CancellationToken;

const PROFILE_SECRET: &str = "Pr0file-Secret-Value-42";
const SECRET_DATA: &str = "s3cr3t-Passw0rd-from-Secret";
const LITERAL_KEY: &str = "Literal-Encryption-Key-9876";

fn profile(bucket: &Path) -> ProfileParams {
    ProfileParams {
        location: LocationParams {
            type_: "filesystem".to_string(),
            bucket: bucket.display().to_string(),
            ..LocationParams::default()
        },
        credential: CredentialParams {
            type_: "keyPair".to_string(),
            key_pair: Some(KeyPairParams {
                id: "kapsel-test".to_string(),
                secret: PROFILE_SECRET.to_string(),
            }),
            ..CredentialParams::default()
        },
        skip_ssl_verify: false,
    }
}

fn inventory(path: &[&Path]) -> String {
    format!(
        r#"
path: [{path}]
env: {{KAPSEL_PRUNE_KEEP_DELETE_SECONDS: "0"}}
objects:
- kind: StatefulSet
  namespace: db
  name: app
  pods:
  - {{name: app-0, containers: [main]}}
  - {{name: app-1, containers: [main]}}
  volumes: {{data: data}}
secrets:
- namespace: db
  name: creds
  data:
    key: {{value: "{SECRET_DATA}"}}
"#,
        path = path
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Whether kando's help for `args` mentions `needle` (for a kando feature
/// that may land later than the function using it).
fn kando_has(args: &[&str], needle: &str) -> bool {
    std::process::Command::new(kando_dir().join("kando"))
        .args(args)
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(needle))
        .unwrap_or(false)
}

/// A `kando` wrapper in front of the real one: records its own argv (from
/// /proc/self/cmdline) and its stdin, then runs the real kando with them.
fn wrapper(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("wrap");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("argv.log");
    let script = format!(
        "#!/bin/sh\ntr '\\0' ' ' < /proc/$$/cmdline >> {log}\necho >> {log}\ncat > {stdin}.$$\nexec {real} \"$@\" < {stdin}.$$\n",
        log = log.display(),
        stdin = dir.join("stdin").display(),
        real = kando_dir().join("kando").display()
    );
    let path = bin.join("kando");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

fn all_text(res: &ActionResult, events: &[Event]) -> String {
    format!(
        "{}\n{}",
        serde_json::to_string(events).unwrap(),
        serde_json::to_string(res).unwrap()
    )
}

#[tokio::test]
async fn secrets_stay_out_of_argv_events_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/f"), "x").unwrap();
    let (wrap, log) = wrapper(dir.path());
    let platform = setup_with(dir.path(), &inventory(&[&wrap]));
    let data = dir.path().join("data");
    let bp = format!(
        r#"
actions:
  a:
    phases:
    - func: BackupData
      name: fromSecret
      objects:
        creds: {{kind: Secret, name: creds, namespace: db}}
      args:
        namespace: db
        pod: app-0
        container: main
        includePath: {data}
        backupArtifactPrefix: leak-test
        encryptionKey: '{{{{ index .Phases.fromSecret.Secrets.creds.Data "key" | toString }}}}'
  b:
    phases:
    - func: CheckRepository
      name: literal
      args: {{backupArtifactPrefix: leak-test, encryptionKey: {LITERAL_KEY}}}
  c:
    phases:
    - func: LocationDelete
      name: loc
      args: {{artifact: some/path}}
  d:
    phases:
    - func: DeleteData
      name: del
      args: {{namespace: db, backupArtifactPrefix: leak-test, backupID: deadbeefdeadbeef, encryptionKey: {LITERAL_KEY}}}
"#,
        data = data.display()
    );
    let mut everything = String::new();
    for action in ["a", "b", "c", "d"] {
        let mut req = blueprint_request(&platform, &bp, action);
        req.params.profile = Some(profile(&dir.path().join("bucket")));
        let (res, events) = run(&platform, &req, &CancellationToken::new()).await;
        everything.push_str(&all_text(&res, &events));
    }
    let argv = std::fs::read_to_string(&log).unwrap();
    assert_eq!(argv.lines().count(), 4, "kando ran once per action: {argv}");
    assert!(argv.contains("data backup --secrets-stdin --path leak-test --tag "));
    assert!(argv.contains("data check --secrets-stdin --path leak-test"));
    assert!(argv.contains("location delete --secrets-stdin --path some/path"));
    assert!(argv.contains("data delete --secrets-stdin --path leak-test --id deadbeefdeadbeef"));
    // The secrets went to kando on stdin ...
    let mut stdin = String::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("stdin.") {
            stdin.push_str(&std::fs::read_to_string(e.path()).unwrap());
        }
    }
    for s in [PROFILE_SECRET, SECRET_DATA, LITERAL_KEY] {
        assert!(stdin.contains(s), "{s} reached kando on stdin");
        // ... never in argv, events or errors.
        assert!(!argv.contains(s), "{s} in argv: {argv}");
        assert!(!everything.contains(s), "{s} leaked: {everything}");
    }
}

fn write_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    for (i, name) in ["a.txt", "sub/b.bin", "sub/deeper/c.txt"]
        .iter()
        .enumerate()
    {
        let content: Vec<u8> = (0..(1000 * (i + 1)))
            .map(|j| ((j * 31 + i * 7) % 251) as u8)
            .collect();
        std::fs::write(root.join(name), &content).unwrap();
        files.insert(name.to_string(), content);
    }
    files
}

fn assert_tree(root: &Path, files: &BTreeMap<String, Vec<u8>>, what: &str) {
    for (name, content) in files {
        let got = std::fs::read(root.join(name))
            .unwrap_or_else(|e| panic!("{what}: {name} not restored: {e}"));
        assert_eq!(&got, content, "{what}: {name} differs");
    }
}

fn artifacts_in(res: &ActionResult) -> BTreeMap<String, ArtifactIn> {
    res.artifacts
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                ArtifactIn {
                    key_value: Some(v.key_value.clone()),
                    kopia_snapshot: v.kopia_snapshot.clone(),
                },
            )
        })
        .collect()
}

const DATA_BLUEPRINT: &str = r#"
actions:
  backup:
    outputArtifacts:
      snap:
        keyValue:
          backupID: "{{ .Phases.backup.Output.backupID }}"
          backupTag: "{{ .Phases.backup.Output.backupTag }}"
          all: "{{ .Phases.backupAll.Output.BackupAllInfo }}"
          volID: "{{ .Phases.copyVolume.Output.backupID }}"
          volRoot: "{{ .Phases.copyVolume.Output.backupRoot }}"
    phases:
    - func: BackupData
      name: backup
      args:
        namespace: db
        pod: "{{ index .StatefulSet.Pods 0 }}"
        container: main
        includePath: "{{ .Options.dataDir }}"
        backupArtifactPrefix: "{{ .Profile.Location.Bucket }}/apps/app"
        encryptionKey: "{{ .Options.key }}"
    - func: BackupDataStats
      name: stats
      args:
        namespace: db
        backupArtifactPrefix: apps/app
        backupID: "{{ .Phases.backup.Output.backupID }}"
        encryptionKey: "{{ .Options.key }}"
    - func: CheckRepository
      name: check
      args: {backupArtifactPrefix: apps/app, encryptionKey: "{{ .Options.key }}"}
    - func: BackupDataAll
      name: backupAll
      args:
        namespace: db
        container: main
        includePath: "{{ .Options.dataDir }}"
        backupArtifactPrefix: apps/all
        encryptionKey: "{{ .Options.key }}"
    - func: CopyVolumeData
      name: copyVolume
      args: {namespace: db, volume: data, dataArtifactPrefix: apps/vol, encryptionKey: "{{ .Options.key }}"}
  restoreByID:
    phases:
    - func: RestoreData
      name: restore
      args:
        namespace: db
        image: kanister-tools
        pod: app-0
        backupArtifactPrefix: apps/app
        backupIdentifier: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        encryptionKey: "{{ .Options.key }}"
  restoreByTag:
    phases:
    - func: RestoreData
      name: restore
      args:
        namespace: db
        image: kanister-tools
        volumes: {data: /mnt/data}
        backupArtifactPrefix: apps/app
        backupTag: "{{ .ArtifactsIn.snap.KeyValue.backupTag }}"
        restorePath: "{{ .Options.elsewhere }}"
        encryptionKey: "{{ .Options.key }}"
  restoreAll:
    phases:
    - func: RestoreDataAll
      name: restore
      args:
        namespace: db
        image: kanister-tools
        pods: app-1
        backupArtifactPrefix: apps/all
        backupInfo: "{{ .ArtifactsIn.snap.KeyValue.all }}"
        encryptionKey: "{{ .Options.key }}"
  restoreVolume:
    phases:
    - func: RestoreData
      name: restore
      args:
        namespace: db
        image: kanister-tools
        pod: app-0
        backupArtifactPrefix: apps/vol
        backupIdentifier: "{{ .ArtifactsIn.snap.KeyValue.volID }}"
        encryptionKey: "{{ .Options.key }}"
  checks:
    phases:
    - func: CheckRepository
      name: wrongKey
      args: {backupArtifactPrefix: apps/app, encryptionKey: not-the-key}
    - func: CheckRepository
      name: missing
      args: {backupArtifactPrefix: apps/nothing-here, encryptionKey: "{{ .Options.key }}"}
  delete:
    phases:
    - func: DeleteData
      name: delete
      args:
        namespace: db
        backupArtifactPrefix: apps/app
        backupID: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        reclaimSpace: true
        encryptionKey: "{{ .Options.key }}"
    - func: DeleteDataAll
      name: deleteAll
      args:
        namespace: db
        backupArtifactPrefix: apps/all
        backupInfo: "{{ .ArtifactsIn.snap.KeyValue.all }}"
        reclaimSpace: "true"
        encryptionKey: "{{ .Options.key }}"
    - func: BackupDataStats
      name: gone
      args:
        namespace: db
        backupArtifactPrefix: apps/app
        backupID: "{{ .ArtifactsIn.snap.KeyValue.backupID }}"
        encryptionKey: "{{ .Options.key }}"
"#;

#[tokio::test]
async fn data_functions_round_trip_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let files = write_tree(&data);
    let platform = setup_with(dir.path(), &inventory(&[]));
    let elsewhere = dir.path().join("elsewhere");
    let options: BTreeMap<String, String> = [
        ("dataDir", data.display().to_string()),
        ("key", LITERAL_KEY.to_string()),
        ("elsewhere", elsewhere.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let req = |action: &str, from: Option<&ActionResult>| {
        let mut r = blueprint_request(&platform, DATA_BLUEPRINT, action);
        r.params.profile = Some(profile(&dir.path().join("bucket")));
        r.params.options = Some(options.clone());
        r.params.artifacts_in = from.map(artifacts_in);
        r
    };
    let ok = |res: &ActionResult, what: &str| {
        assert_eq!(res.outcome, Outcome::Complete, "{what}: {:?}", res.error);
    };

    let (backup, _) = run(&platform, &req("backup", None), &CancellationToken::new()).await;
    ok(&backup, "backup");
    let out = &backup.phases[0].output;
    assert_eq!(out["fileCount"], "3", "{out:?}");
    assert_eq!(out["size"], "6000");
    assert_eq!(out["backupTag"].as_str().unwrap().len(), 10);
    assert_eq!(out["version"], "v0.0.0");
    assert!(out["phySize"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    let stats = &backup.phases[1].output;
    assert_eq!(stats["mode"], "restore-size");
    assert_eq!(stats["fileCount"], "3");
    assert_eq!(stats["size"], "6000");
    let check = &backup.phases[2].output;
    assert_eq!(check["passwordIncorrect"], "false");
    assert_eq!(check["repoUnavailable"], "false");
    let info: serde_json::Value =
        serde_json::from_str(backup.phases[3].output["BackupAllInfo"].as_str().unwrap()).unwrap();
    assert_eq!(
        info.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["app-0", "app-1"]
    );
    assert_eq!(info["app-1"]["PodName"], "app-1");
    assert_eq!(info["app-1"]["BackupTag"].as_str().unwrap().len(), 10);
    let vol = &backup.phases[4].output;
    assert_eq!(vol["backupRoot"], data.display().to_string());
    assert_eq!(vol["backupArtifactLocation"], "apps/vol");
    assert_eq!(vol["fileCount"], "3");

    // Each restore brings the destroyed directory back.
    for action in ["restoreByID", "restoreAll", "restoreVolume"] {
        std::fs::remove_dir_all(&data).unwrap();
        let (res, _) = run(
            &platform,
            &req(action, Some(&backup)),
            &CancellationToken::new(),
        )
        .await;
        ok(&res, action);
        assert_tree(&data, &files, action);
    }
    // By tag, into another directory: the snapshot's absolute path under it.
    let (res, _) = run(
        &platform,
        &req("restoreByTag", Some(&backup)),
        &CancellationToken::new(),
    )
    .await;
    ok(&res, "restoreByTag");
    assert_tree(
        &elsewhere.join(data.strip_prefix("/").unwrap()),
        &files,
        "restoreByTag",
    );

    let (res, _) = run(
        &platform,
        &req("checks", Some(&backup)),
        &CancellationToken::new(),
    )
    .await;
    ok(&res, "checks");
    assert_eq!(res.phases[0].output["passwordIncorrect"], "true");
    assert_eq!(res.phases[1].output["repoUnavailable"], "true");

    let (res, _) = run(
        &platform,
        &req("delete", Some(&backup)),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(res.phases[0].outcome, Some(Outcome::Complete), "{res:?}");
    assert!(
        res.phases[0].output["spaceFreed"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(res.phases[1].outcome, Some(Outcome::Complete), "{res:?}");
    assert_eq!(res.phases[1].output["version"], "v0.0.0");
    // The deleted snapshot is gone.
    assert_eq!(res.phases[2].outcome, Some(Outcome::Failed), "{res:?}");
    let err = res.error.unwrap();
    assert!(err.contains("phase gone: BackupDataStats"), "{err}");
}

#[tokio::test]
async fn location_delete_removes_what_kando_pushed() {
    assert!(
        kando_has(&["location", "delete", "--help"], "--secrets-stdin"),
        "kando location delete must accept --secrets-stdin"
    );
    let dir = tempfile::tempdir().unwrap();
    let platform = setup_with(dir.path(), &inventory(&[]));
    let bp = r#"
actions:
  a:
    phases:
    - func: KubeTask
      name: push
      args:
        image: kanister-tools
        command: [sh, -c, 'echo pushed-data | kando location push --profile "$0" --path dumps/one -', '{{ toJson .Profile }}']
    - func: LocationDelete
      name: delete
      args: {artifact: "{{ .Profile.Location.Bucket }}/dumps/one"}
    - func: KubeTask
      name: pull
      args:
        image: kanister-tools
        command: [sh, -c, 'kando location pull --profile "$0" --path dumps/one -', '{{ toJson .Profile }}']
"#;
    let mut req = blueprint_request(&platform, bp, "a");
    req.params.profile = Some(profile(&dir.path().join("bucket")));
    let (res, _) = run(&platform, &req, &CancellationToken::new()).await;
    assert_eq!(res.phases[0].outcome, Some(Outcome::Complete), "{res:?}");
    assert_eq!(res.phases[1].outcome, Some(Outcome::Complete), "{res:?}");
    assert_eq!(
        res.phases[2].outcome,
        Some(Outcome::Failed),
        "nothing left to pull"
    );
}
