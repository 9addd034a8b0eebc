//! The controller's validating webhook on the testbed: `kapsel controller`
//! runs out of the cluster from the built binary with `--webhook-addr
//! 127.0.0.1:0` and a certificate directory holding a CA-signed serving
//! certificate; a ValidatingWebhookConfiguration scoped to the test's
//! namespace sends its Blueprints, Profiles and ActionSets there.
//!
//! - Broken Blueprints (an unknown function, a missing required argument,
//!   duplicate phase names in one action and across actions, a template
//!   that does not parse) are refused at `kubectl apply`, and kubectl
//!   prints the codes, messages and helps `kapsel blueprint validate
//!   --strict` prints for the same file.
//! - A good Blueprint is accepted; an update that breaks it is refused.
//! - A broken ActionSet and a broken Profile are refused with `kapsel
//!   validate`'s lines; a valid ActionSet naming a missing Blueprint is
//!   admitted, and the controller's status writes pass (it ends `failed`).
//!
//! The configuration is deleted at the end, also after a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kapsel_e2e::actionsets::{actionset, install_crds, wait_state};
use kapsel_e2e::flow::tempfile_dir;
use kapsel_e2e::via::{Controlled, Via, kubectl_output};
use kapsel_e2e::webhook::{Registration, ServingCert};
use kapsel_e2e::{Env, kapsel_bin};

/// (code, message, help) of every diagnostic in a miette rendering, the
/// CLI's (`KV0201`) or the webhook's (`KV0201 at actions...`), sorted.
fn diagnostics(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    for line in text.lines() {
        let t = line.trim();
        let code = t.split_whitespace().next().unwrap_or_default();
        if code.len() == 6
            && code.starts_with("KV")
            && code[2..].bytes().all(|b| b.is_ascii_digit())
            && (t == code || t.starts_with(&format!("{code} at ")))
        {
            out.extend(current.take());
            current = Some((code.to_string(), String::new(), String::new()));
        } else if let Some(c) = current.as_mut() {
            if let Some(m) = t.strip_prefix("× ") {
                if c.1.is_empty() {
                    c.1 = m.to_string();
                }
            } else if let Some(h) = t.strip_prefix("help: ") {
                c.2 = h.to_string();
            }
        }
    }
    out.extend(current);
    out.sort();
    out
}

/// `kapsel ARGS` with NO_COLOR: its stderr.
fn kapsel_stderr(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl apply -n NS -f FILE`: whether it succeeded, and its stderr.
fn apply(ns: &str, file: &Path) -> (bool, String) {
    let out = kubectl_output(
        &["apply", "-n", ns, "-f", &file.display().to_string()],
        None,
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kapsel-validate/tests/broken")
        .join(name)
}

const GOOD: &str = r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: good
actions:
  backup:
    phases:
    - func: KubeTask
      name: hello
      args:
        image: busybox
        namespace: "{{ .Namespace.Name }}"
        command: [sh, -c, "echo {{ .Object.metadata.name }}"]
"#;

const TWO_ACTIONS_ONE_PHASE_NAME: &str = r#"apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata:
  name: twice
actions:
  backup:
    phases:
    - func: KubeTask
      name: run
      args: {image: busybox, command: [sh, -c, "true"]}
  restore:
    phases:
    - func: KubeTask
      name: run
      args: {image: busybox, command: [sh, -c, "true"]}
"#;

#[tokio::test]
async fn the_webhook_refuses_what_the_cli_refuses() {
    let Some(env) = Env::connect("webhook").await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.clone()
        .run(move |env, ns| async move {
            let dir = tempfile_dir();
            let certs = dir.join("certs");
            std::fs::create_dir_all(&certs).unwrap();
            let cert = ServingCert::write(&certs);
            let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").unwrap());
            let certs_arg = certs.display().to_string();
            let ctl = Controlled::start_with(
                &bin,
                &kubeconfig,
                &ns,
                &dir,
                Via::KubectlApply,
                &[
                    "--webhook-addr",
                    "127.0.0.1:0",
                    "--webhook-cert-dir",
                    &certs_arg,
                ],
            );
            let addr = ctl.listening("webhook");
            let _registration = Registration::create(&ns, &ns, addr, &cert);

            // The API server uses a new configuration a moment after it
            // is created: wait until a broken Blueprint is refused.
            let first = corpus("18-unknown-function.yaml");
            let t0 = Instant::now();
            loop {
                let (ok, err) = apply(&ns, &first);
                if !ok && err.contains("denied the request") {
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "the webhook is not called: {err}\ncontroller log:\n{}",
                    ctl.log()
                );
                let _ = kubectl_output(
                    &[
                        "delete",
                        "blueprint",
                        "-n",
                        &ns,
                        "demo-bp",
                        "--ignore-not-found",
                    ],
                    None,
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }

            // Broken Blueprints: refused with the CLI's diagnostics.
            let twice = dir.join("twice.yaml");
            std::fs::write(&twice, TWO_ACTIONS_ONE_PHASE_NAME).unwrap();
            for (file, code) in [
                (corpus("18-unknown-function.yaml"), "KV0201"),
                (corpus("22-missing-required-arg.yaml"), "KV0202"),
                (corpus("45-duplicate-phase-in-action.yaml"), "KV0108"),
                (twice.clone(), "KV0109"),
                (
                    corpus("25-template-unclosed-action-literal-block.yaml"),
                    "KV0301",
                ),
            ] {
                let path = file.display().to_string();
                let cli = kapsel_stderr(&bin, &["blueprint", "validate", "--strict", &path]);
                let want = diagnostics(&cli);
                assert!(
                    want.iter().any(|d| d.0 == code),
                    "{path}: the CLI does not report {code}:\n{cli}"
                );
                let (ok, err) = apply(&ns, &file);
                assert!(!ok, "{path} was accepted");
                assert!(
                    err.contains("denied the request: Invalid blueprint"),
                    "{err}"
                );
                assert_eq!(
                    diagnostics(&err),
                    want,
                    "{path}: kubectl printed\n{err}\nthe CLI printed\n{cli}"
                );
                assert!(err.contains(&format!("{code} at actions.")), "{err}");
                eprintln!("{path}: refused with\n{err}");
            }

            // A good Blueprint is accepted; breaking it is refused.
            let good = dir.join("good.yaml");
            std::fs::write(&good, GOOD).unwrap();
            let (ok, err) = apply(&ns, &good);
            assert!(ok, "the good Blueprint was refused: {err}");
            std::fs::write(&good, GOOD.replace("func: KubeTask", "func: KubeTsk")).unwrap();
            let (ok, err) = apply(&ns, &good);
            assert!(
                !ok && err.contains("KV0201 at actions.backup.phases[0].func"),
                "{err}"
            );

            // ActionSets and Profiles: `kapsel validate`'s lines.
            let set = dir.join("set.yaml");
            std::fs::write(
                &set,
                actionset(
                    "broken-set",
                    &ns,
                    serde_json::json!({"name": "backup",
                    "object": {"kind": "Namespace", "name": ns}}),
                ),
            )
            .unwrap();
            let profile = dir.join("profile.yaml");
            std::fs::write(
                &profile,
                serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Profile",
                    "metadata": {"name": "broken-profile", "namespace": ns},
                    "location": {"type": "s3Compliant", "region": "us-east-1"},
                    "credential": {"type": "keyPair"}})
                .to_string(),
            )
            .unwrap();
            for file in [&set, &profile] {
                let path = file.display().to_string();
                let cli = kapsel_stderr(&bin, &["validate", &path]);
                let want: Vec<String> = cli
                    .lines()
                    .filter(|l| l.starts_with("error: "))
                    .map(|l| l.replacen(&format!("{path}: "), "", 1))
                    .collect();
                assert!(!want.is_empty(), "{path}: the CLI finds nothing:\n{cli}");
                let (ok, err) = apply(&ns, file);
                assert!(!ok, "{path} was accepted");
                for w in &want {
                    assert!(
                        err.contains(w.as_str()),
                        "kubectl does not print {w:?}:\n{err}"
                    );
                }
                eprintln!("{path}: refused with\n{err}");
            }

            // A valid ActionSet naming a missing Blueprint is admitted; the
            // controller's status writes (UPDATEs) pass the webhook.
            let set = actionset(
                "missing-bp",
                &ns,
                serde_json::json!({"name": "backup",
                "blueprint": "nowhere", "object": {"kind": "Namespace", "name": ns}}),
            );
            let out = kubectl_output(&["apply", "-f", "-"], Some(&set));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let done = wait_state(&env, &ns, "missing-bp", "failed", Duration::from_secs(60)).await;
            assert!(
                done["status"]["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nowhere"),
                "{:#}",
                done["status"]
            );
            let log = ctl.log();
            assert!(!log.contains("webhook server failed"), "{log}");
        })
        .await;
}
