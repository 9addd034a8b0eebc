//! The cluster commands of the `kapsel` binary (and its `kanctl` entry
//! point) on the testbed, as a Kanister user drives kanctl: a Profile and
//! its Secret created against SeaweedFS (reached from this host and the
//! task pods; signed requests need the right key), Kanister's time-log
//! Blueprint applied, a backup ActionSet created and watched to the end
//! with `kapsel controller` (out-of-cluster, this build) running it, a
//! restore `--from` the backup through `kanctl`, `get`, `describe`,
//! `delete`.
//!
//! - `profile create` with a wrong secret key fails its read/write check
//!   (exit 1, naming the bucket and endpoint) and creates nothing;
//! - `blueprint apply` refuses a Blueprint with an error (exit 1, the
//!   validator's diagnostic) and creates it when valid;
//! - `actionset create` names each missing thing (Blueprint, action,
//!   Profile, object), exits 1 and creates nothing;
//! - `actionset watch` exits 0 on complete, 1 on failed with the error.
//!
//! No secret value in any output, pod or event (`Stage::finish`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kapsel_e2e::actionsets::{ControllerProcess, actionsets, install_crds, kanister_api};
use kapsel_e2e::flow::{KEY_ID, KEY_SECRET, Stage, prepare, rewrite_images, running_pod, sh_in};
use kapsel_e2e::wait_until;
use kube::api::{Api, ListParams};

/// One run of the binary: its exit code, stdout, stderr.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `program args` (stdin `input`), keeping everything it printed in
/// the stage's outputs for the secret scan.
fn cli(
    st: &mut Stage,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Option<&str>,
) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .current_dir(&st.run.dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(i) = input {
        child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let r = Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    st.run.outputs.push(r.stdout.clone());
    st.run.outputs.push(r.stderr.clone());
    let shown = args.join(" ").replace(KEY_SECRET, "<secret>");
    eprintln!(
        "$ {} {shown}\n{}{}",
        program.file_name().unwrap().to_string_lossy(),
        r.stdout,
        r.stderr
    );
    r
}

fn ok(r: &Ran, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// Asserts exit 1 and that stderr says `needle`.
fn refused(r: &Ran, what: &str, needle: &str) {
    assert_eq!(
        r.code, 1,
        "{what}: exit {} (want 1):\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
    let flat = r
        .stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(needle),
        "{what}: stderr does not say {needle:?}:\n{}",
        r.stderr
    );
}

/// Names of the Kanister resources of `plural` in `ns`.
async fn names(st: &Stage, kind: &str, plural: &str) -> Vec<String> {
    kanister_api(&st.env, &st.ns, kind, plural)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect()
}

async fn secret_names(st: &Stage) -> Vec<String> {
    let api: Api<Secret> = Api::namespaced(st.env.client.clone(), &st.ns);
    let mut v: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn cli_profile_blueprint_actionset_and_kanctl() {
    let Some(p) = prepare("cli-kanctl").await else {
        return;
    };
    install_crds(&p.env, &p.bin).await;
    p.env
        .clone()
        .run(move |env, ns| async move {
            let mut st = Stage::new_authenticated(&p, env.clone(), ns.clone()).await;
            let bin = p.bin.clone();
            let kanctl: PathBuf = st.run.file("kanctl");
            std::os::unix::fs::symlink(&bin, &kanctl).unwrap();
            let ex = st.examples.join("time-log");
            let read = |f: &str| std::fs::read_to_string(ex.join(f)).unwrap();
            env.apply(&ns, &rewrite_images(&read("time-logger-deployment.yaml")))
                .await
                .unwrap();
            let controller = ControllerProcess::start(&bin, &ns, &st.run.file("controller.log"));
            let endpoint = st.s3.endpoint();
            let bucket = st.s3.bucket.clone();
            let n = ns.as_str();
            let secrets_before = secret_names(&st).await;

            // --- Profiles -------------------------------------------------
            // A wrong secret key (from stdin): the check fails, nothing created.
            let r = cli(
                &mut st,
                &bin,
                &[
                    "profile",
                    "create",
                    "s3compliant",
                    "-n",
                    n,
                    "-b",
                    &bucket,
                    "-e",
                    &endpoint,
                    "-r",
                    "us-east-1",
                    "-a",
                    KEY_ID,
                    "--secret-key-file",
                    "-",
                    "--name",
                    "s3-profile",
                ],
                &[],
                Some("not-the-key\n"),
            );
            refused(
                &r,
                "profile with a wrong key",
                &format!("s3Compliant bucket {bucket:?} at {endpoint}"),
            );
            assert!(
                r.stderr.contains("403")
                    || r.stderr.to_lowercase().contains("forbidden")
                    || r.stderr.contains("SignatureDoesNotMatch"),
                "the cause is said: {}",
                r.stderr
            );
            assert!(
                !r.stderr.contains("not-the-key"),
                "a secret value is printed: {}",
                r.stderr
            );
            assert_eq!(
                names(&st, "Profile", "profiles").await,
                Vec::<String>::new(),
                "a failed check creates no Profile"
            );
            assert_eq!(
                secret_names(&st).await,
                secrets_before,
                "a failed check creates no Secret"
            );
            // The right key, from the environment.
            let r = cli(
                &mut st,
                &bin,
                &[
                    "profile",
                    "create",
                    "s3compliant",
                    "-n",
                    n,
                    "-b",
                    &bucket,
                    "-e",
                    &endpoint,
                    "-r",
                    "us-east-1",
                    "-a",
                    KEY_ID,
                    "--name",
                    "s3-profile",
                ],
                &[("AWS_SECRET_ACCESS_KEY", KEY_SECRET)],
                None,
            );
            ok(&r, "profile create");
            assert!(
                r.stdout.contains("profile 's3-profile' created"),
                "{}",
                r.stdout
            );
            assert!(r.stdout.starts_with("secret 's3-secret-"), "{}", r.stdout);
            assert!(
                st.s3
                    .keys("")
                    .iter()
                    .all(|k| !k.contains("kapsel-profile-check")),
                "the probe object is deleted"
            );
            // kanctl's own command line, through the kanctl symlink.
            let r = cli(
                &mut st,
                &kanctl,
                &[
                    "create",
                    "profile",
                    "s3compliant",
                    "--access-key",
                    KEY_ID,
                    "--secret-key",
                    KEY_SECRET,
                    "--bucket",
                    &bucket,
                    "--endpoint",
                    &endpoint,
                    "--region",
                    "us-east-1",
                    "--namespace",
                    n,
                ],
                &[],
                None,
            );
            ok(&r, "kanctl create profile");
            assert!(r.stdout.contains("profile 's3-profile-"), "{}", r.stdout);
            let r = cli(
                &mut st,
                &kanctl,
                &[
                    "validate",
                    "profile",
                    "--name",
                    "s3-profile",
                    "--resource-namespace",
                    n,
                ],
                &[],
                None,
            );
            ok(&r, "kanctl validate profile");
            assert!(r.stdout.contains("All checks passed"), "{}", r.stdout);

            // --- Blueprints -----------------------------------------------
            let mut bp: serde_json::Value =
                serde_saphyr::from_str(&rewrite_images(&read("time-log-blueprint.yaml"))).unwrap();
            bp["metadata"]["namespace"] = ns.clone().into();
            let mut broken = bp.clone();
            broken["actions"]["backup"]["phases"][0]["func"] = "BackupDatta".into();
            std::fs::write(
                st.run.file("broken.yaml"),
                serde_saphyr::to_string(&broken).unwrap(),
            )
            .unwrap();
            std::fs::write(
                st.run.file("time-log.yaml"),
                serde_saphyr::to_string(&bp).unwrap(),
            )
            .unwrap();
            let r = cli(
                &mut st,
                &bin,
                &["blueprint", "apply", "-f", "broken.yaml", "-n", n],
                &[],
                None,
            );
            refused(
                &r,
                "a Blueprint with an error",
                "unknown function `BackupDatta`",
            );
            assert_eq!(
                names(&st, "Blueprint", "blueprints").await,
                Vec::<String>::new(),
                "nothing applied"
            );
            let r = cli(
                &mut st,
                &bin,
                &["blueprint", "apply", "-f", "time-log.yaml", "-n", n],
                &[],
                None,
            );
            ok(&r, "blueprint apply");
            assert_eq!(r.stdout, "blueprint.cr.kanister.io/time-log-bp created\n");
            let r = cli(
                &mut st,
                &bin,
                &["blueprint", "apply", "-f", "time-log.yaml"],
                &[],
                None,
            );
            ok(&r, "blueprint apply again");
            assert_eq!(r.stdout, "blueprint.cr.kanister.io/time-log-bp unchanged\n");
            let r = cli(
                &mut st,
                &kanctl,
                &["validate", "blueprint", "-f", "time-log.yaml"],
                &[],
                None,
            );
            ok(&r, "kanctl validate blueprint");

            // --- What create checks -----------------------------------------
            let dep = format!("{n}/time-logger");
            for (program, args, needle) in [
                (
                    &bin,
                    vec![
                        "actionset",
                        "create",
                        "-a",
                        "backup",
                        "-b",
                        "no-such-bp",
                        "-d",
                        &dep,
                        "-p",
                        "s3-profile",
                    ],
                    "Blueprint \"no-such-bp\" not found".to_string(),
                ),
                (
                    &bin,
                    vec![
                        "actionset",
                        "create",
                        "-a",
                        "backupp",
                        "-b",
                        "time-log-bp",
                        "-d",
                        &dep,
                        "-p",
                        "s3-profile",
                    ],
                    "Blueprint \"time-log-bp\" has no action \"backupp\"".to_string(),
                ),
                (
                    &bin,
                    vec![
                        "actionset",
                        "create",
                        "-a",
                        "backup",
                        "-b",
                        "time-log-bp",
                        "-d",
                        &dep,
                        "-p",
                        "no-such-profile",
                    ],
                    format!("Profile {n}/no-such-profile not found"),
                ),
                (
                    &kanctl,
                    vec![
                        "create",
                        "actionset",
                        "-a",
                        "backup",
                        "-b",
                        "time-log-bp",
                        "-d",
                        &format!("{n}/no-such-app"),
                        "-p",
                        "s3-profile",
                    ],
                    format!("deployment {n}/no-such-app not found"),
                ),
            ] {
                let mut all = args.clone();
                all.extend(["-n", n]);
                let r = cli(&mut st, program, &all, &[], None);
                refused(&r, &args.join(" "), &needle);
            }
            assert_eq!(
                names(&st, "ActionSet", "actionsets").await,
                Vec::<String>::new(),
                "a refused create creates nothing"
            );

            // --- Backup, watched ------------------------------------------------
            let log = |pod: String| {
                let (env, ns) = (env.clone(), ns.clone());
                async move {
                    sh_in(
                        &env,
                        &ns,
                        &pod,
                        Some("test-container"),
                        "cat /var/log/time.log",
                    )
                    .await
                }
            };
            let pod = running_pod(&env, &ns, "app=time-logger").await;
            wait_until(Duration::from_secs(60), "a few log lines", || {
                let (log, pod) = (&log, pod.clone());
                async move { Ok(log(pod).await.lines().count() >= 3) }
            })
            .await
            .unwrap();
            let before = log(pod.clone()).await;
            let r = cli(
                &mut st,
                &bin,
                &[
                    "actionset",
                    "create",
                    "-n",
                    n,
                    "-a",
                    "backup",
                    "-b",
                    "time-log-bp",
                    "-d",
                    &dep,
                    "-p",
                    "s3-profile",
                    "--output",
                    "name",
                ],
                &[],
                None,
            );
            ok(&r, "actionset create");
            let backup = r
                .stdout
                .trim()
                .strip_prefix("actionset.cr.kanister.io/")
                .expect("-o name")
                .to_string();
            assert!(
                backup.starts_with("backup-") && backup.len() == "backup-".len() + 5,
                "kanctl's name: {backup}"
            );
            let r = cli(
                &mut st,
                &bin,
                &["actionset", "watch", &backup, "-n", n, "--timeout", "5m"],
                &[],
                None,
            );
            ok(&r, "watch the backup");
            assert!(
                r.stdout.contains("backup backupToS3: complete"),
                "{}",
                r.stdout
            );
            assert!(
                r.stdout.contains(&format!("actionset {backup}: complete")),
                "{}",
                r.stdout
            );

            // --- Restore --from the backup, through kanctl ------------------------
            sh_in(
                &env,
                &ns,
                &pod,
                Some("test-container"),
                "rm /var/log/time.log",
            )
            .await;
            let r = cli(
                &mut st,
                &kanctl,
                &[
                    "create",
                    "actionset",
                    "--action",
                    "restore",
                    "--from",
                    &backup,
                    "--namespace",
                    n,
                ],
                &[],
                None,
            );
            ok(&r, "kanctl create actionset --from");
            let restore = r
                .stdout
                .trim()
                .strip_prefix("actionset ")
                .and_then(|s| s.strip_suffix(" created"))
                .expect("kanctl's line")
                .to_string();
            assert!(
                restore.starts_with(&format!("restore-{backup}-")),
                "{restore}"
            );
            let r = cli(
                &mut st,
                &bin,
                &[
                    "actionset",
                    "watch",
                    &format!("actionset/{restore}"),
                    "-n",
                    n,
                    "--timeout",
                    "5m",
                ],
                &[],
                None,
            );
            ok(&r, "watch the restore");
            for phase in ["shutdownPod", "restoreFromS3", "bringupPod"] {
                assert!(
                    r.stdout.contains(&format!("restore {phase}: complete")),
                    "{phase}: {}",
                    r.stdout
                );
            }
            let pod = running_pod(&env, &ns, "app=time-logger").await;
            let after = log(pod).await;
            assert!(
                after.starts_with(&before),
                "restored.\nbefore:\n{before}\nafter:\n{after}"
            );

            // --- A failing one: watch exits 1 with the error --------------------
            let r = cli(
                &mut st,
                &bin,
                &[
                    "actionset",
                    "create",
                    "-n",
                    n,
                    "-a",
                    "backup",
                    "-b",
                    "gone-bp",
                    "-d",
                    &dep,
                    "-A",
                    "doomed",
                    "--skip-validation",
                ],
                &[],
                None,
            );
            ok(&r, "create --skip-validation");
            assert!(
                r.stderr.contains("--profile flag is not provided"),
                "kanctl's warning: {}",
                r.stderr
            );
            let r = cli(
                &mut st,
                &bin,
                &["actionset", "watch", "doomed", "-n", n, "--timeout", "2m"],
                &[],
                None,
            );
            refused(&r, "watch a failing set", "gone-bp");
            let r = cli(
                &mut st,
                &kanctl,
                &[
                    "create",
                    "actionset",
                    "--action",
                    "restore",
                    "--from",
                    "doomed",
                    "--namespace",
                    n,
                ],
                &[],
                None,
            );
            refused(
                &r,
                "--from a set that is not complete",
                &format!("ActionSet {n}/doomed is failed, not complete"),
            );

            // --- get, describe, delete -----------------------------------------
            let r = cli(&mut st, &bin, &["actionset", "get", "-n", n], &[], None);
            ok(&r, "get");
            let lines: Vec<&str> = r.stdout.lines().collect();
            assert!(
                lines[0].starts_with("NAME")
                    && lines[0].contains("STATE")
                    && lines[0].contains("AGE"),
                "{}",
                r.stdout
            );
            for (name, state) in [
                (&backup, "complete"),
                (&restore, "complete"),
                (&"doomed".to_string(), "failed"),
            ] {
                assert!(
                    lines
                        .iter()
                        .any(|l| l.starts_with(name.as_str()) && l.contains(state)),
                    "{name} {state}: {}",
                    r.stdout
                );
            }
            let r = cli(
                &mut st,
                &bin,
                &["actionset", "get", &restore, "-n", n, "-o", "json"],
                &[],
                None,
            );
            ok(&r, "get -o json");
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(
                v["spec"]["actions"][0]["artifacts"]["timeLog"]["keyValue"]["path"],
                format!("{bucket}/time-log")
            );
            let r = cli(
                &mut st,
                &bin,
                &["actionset", "describe", &restore, "-n", n],
                &[],
                None,
            );
            ok(&r, "describe");
            for want in [
                "State:        complete",
                "Input artifacts:",
                "timeLog: path=",
                "restoreFromS3",
                "Events:",
                "Started Action",
            ] {
                assert!(
                    r.stdout.contains(want),
                    "describe says {want:?}:\n{}",
                    r.stdout
                );
            }
            let r = cli(
                &mut st,
                &bin,
                &["actionset", "delete", &backup, &restore, "doomed", "-n", n],
                &[],
                None,
            );
            ok(&r, "delete");
            assert!(
                r.stdout
                    .contains(&format!("actionset.cr.kanister.io \"{restore}\" deleted")),
                "{}",
                r.stdout
            );
            let r = cli(&mut st, &bin, &["actionset", "get", "-n", n], &[], None);
            ok(&r, "get after delete");
            assert!(r.stderr.contains("No resources found"), "{}", r.stderr);
            assert!(
                actionsets(&env, &ns)
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .items
                    .is_empty()
            );

            // For the suite's secret search too.
            let log = controller.log();
            kapsel_e2e::evidence::text("cli-controller-log", &log);
            kapsel_e2e::evidence::text("cli-outputs", &st.run.outputs.join("\n"));
            st.run.outputs.push(log);
            drop(controller);
            st.finish(&[]).await;
        })
        .await;
}
