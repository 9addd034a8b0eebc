//! The controller installed in the cluster, as users install it: the Helm
//! chart (charts/kapsel) with Helm built from source by the testbed, and
//! `kapsel install`, which applies the same objects without Helm. The
//! controller runs from the testbed's `kapsel` image (the kapsel binary of
//! this checkout).
//!
//! - The chart and `kapsel install --dry-run` give the same objects for
//!   several sets of values (Helm's own labels and the generated
//!   certificate aside).
//! - `helm install` → the controller becomes ready (probes), runs
//!   Kanister's time-log example (backup → restore → delete) from
//!   Kanister-format ActionSets, its webhook refuses a broken Blueprint and
//!   its /metrics counts the actions → `helm uninstall` leaves nothing but
//!   the CRDs (and the ActionSets, Blueprints and Profiles in them).
//! - `kapsel install` → an ActionSet completes; a second install changes
//!   nothing it need not (the webhook certificate stays) → `kapsel
//!   uninstall` leaves nothing but the CRDs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kapsel_e2e::actionsets::{
    actionset, actionsets, in_namespace, install_crds, task_blueprint, time_log_round_trip,
    wait_state,
};
use kapsel_e2e::flow::{Stage, prepare, rewrite_images};
use kapsel_e2e::{Env, image, kapsel_bin, skip};
use kube::api::{Api, ListParams};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart() -> PathBuf {
    repo().join("charts/kapsel")
}

/// Helm (`KAPSEL_HELM`, else the testbed's build); `None` after saying why.
fn helm(test: &str) -> Option<PathBuf> {
    if let Some(h) = kapsel_e2e::via::helm_path() {
        return Some(h);
    }
    assert!(
        !kapsel_e2e::required(),
        "Helm is not built (testbed/testbed up builds it)"
    );
    skip(test, "Helm is not built (testbed/testbed up builds it)");
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The objects of a rendering, by kind/namespace/name, without what only
/// one of Helm and `kapsel install` says.
fn normalized(docs: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    let mut out = std::collections::BTreeMap::new();
    for mut d in docs {
        if d.is_null() || d["kind"] == "Namespace" {
            continue;
        }
        if let Some(l) = d["metadata"]["labels"].as_object_mut() {
            l.remove("app.kubernetes.io/managed-by");
            l.remove("helm.sh/chart");
        }
        if d["kind"] == "Secret" {
            d["data"] = Value::Null;
        }
        if let Some(ws) = d["webhooks"].as_array_mut() {
            for w in ws {
                if let Some(c) = w["clientConfig"].as_object_mut() {
                    c.remove("caBundle");
                }
            }
        }
        let key = format!(
            "{}/{}/{}",
            d["kind"].as_str().unwrap_or_default(),
            d["metadata"]["namespace"].as_str().unwrap_or_default(),
            d["metadata"]["name"].as_str().unwrap_or_default()
        );
        out.insert(key, d);
    }
    out
}

#[test]
fn the_chart_and_kapsel_install_render_the_same_objects() {
    let Some(helm) = helm("helm-parity") else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    let cases: [(&[&str], &[&str]); 3] = [
        (&["kapsel", "-n", "kapsel-system"], &[]),
        (
            &[
                "prod",
                "-n",
                "ops",
                "--set",
                "watch.namespaces={a,b}",
                "--set",
                "rbac.extraNamespaces={c}",
                "--set",
                "replicas=2",
                "--set",
                "concurrency=8",
                "--set",
                "retention.ttlAfterFinished=24h",
                "--set",
                "retention.keepLast=3",
                "--set",
                "toolsImage=registry.example/tools:1",
                "--set",
                "image.repository=registry.example/kapsel",
                "--set",
                "image.tag=v1",
            ],
            &[
                "-n",
                "ops",
                "--name",
                "prod",
                "--watch-namespace",
                "a",
                "--watch-namespace",
                "b",
                "--extra-namespace",
                "c",
                "--replicas",
                "2",
                "--concurrency",
                "8",
                "--ttl-after-finished",
                "24h",
                "--keep-last",
                "3",
                "--tools-image",
                "registry.example/tools:1",
                "--image",
                "registry.example/kapsel:v1",
            ],
        ),
        (
            &[
                "kapsel",
                "-n",
                "kapsel-system",
                "--set",
                "webhook.enabled=false",
                "--set",
                "leaderElection.enabled=false",
                "--set",
                "watch.allNamespaces=true",
            ],
            &["--no-webhook", "--no-leader-election", "-A"],
        ),
    ];
    for (helm_args, install_args) in cases {
        let h = run(Command::new(&helm)
            .arg("template")
            .args(&helm_args[..1])
            .arg(chart())
            .args(&helm_args[1..])
            .args([
                "--include-crds",
                "--set",
                "webhook.certManager.enabled=false",
            ]));
        let k = run(Command::new(&bin)
            .args(["install", "--dry-run"])
            .args(install_args));
        let h = normalized(serde_saphyr::from_multiple(&h).unwrap());
        let k = normalized(serde_saphyr::from_multiple(&k).unwrap());
        assert_eq!(
            h.keys().collect::<Vec<_>>(),
            k.keys().collect::<Vec<_>>(),
            "different objects for {helm_args:?}"
        );
        for (key, hv) in &h {
            assert_eq!(
                hv, &k[key],
                "{key} differs between the chart and `kapsel install` ({helm_args:?})"
            );
        }
    }
}

#[test]
fn the_charts_crds_are_kapsels() {
    let bin = kapsel_bin().unwrap();
    let crds = run(Command::new(&bin).arg("crds"));
    let file = std::fs::read_to_string(chart().join("crds/kanister-crds.yaml")).unwrap();
    assert!(
        crds == file,
        "charts/kapsel/crds/kanister-crds.yaml is not `kapsel crds`: regenerate it with \
         `kapsel crds > charts/kapsel/crds/kanister-crds.yaml`"
    );
}

/// Objects of release `release` left anywhere, as "Kind ns/name".
async fn leftovers(env: &Env, release: &str, ns: &str) -> Vec<String> {
    let sel = ListParams::default().labels(&format!("app.kubernetes.io/instance={release}"));
    let mut left = Vec::new();
    macro_rules! named {
        ($api:expr, $kind:literal, $lp:expr) => {
            for o in $api.list(&$lp).await.unwrap().items {
                left.push(format!(
                    "{} {}/{}",
                    $kind,
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default()
                ));
            }
        };
    }
    named!(
        Api::<ClusterRole>::all(env.client.clone()),
        "ClusterRole",
        sel
    );
    named!(
        Api::<ClusterRoleBinding>::all(env.client.clone()),
        "ClusterRoleBinding",
        sel
    );
    named!(
        Api::<ValidatingWebhookConfiguration>::all(env.client.clone()),
        "ValidatingWebhookConfiguration",
        sel
    );
    named!(
        Api::<RoleBinding>::all(env.client.clone()),
        "RoleBinding",
        sel
    );
    // everything in the controller's namespace, labelled or not, but what
    // Kubernetes puts in every namespace
    let all = ListParams::default();
    let c = env.client.clone();
    named!(
        Api::<Deployment>::namespaced(c.clone(), ns),
        "Deployment",
        all
    );
    named!(Api::<Pod>::namespaced(c.clone(), ns), "Pod", all);
    named!(Api::<Service>::namespaced(c.clone(), ns), "Service", all);
    named!(Api::<Secret>::namespaced(c.clone(), ns), "Secret", all);
    named!(Api::<Role>::namespaced(c.clone(), ns), "Role", all);
    named!(
        Api::<RoleBinding>::namespaced(c.clone(), ns),
        "RoleBinding",
        all
    );
    named!(Api::<Lease>::namespaced(c.clone(), ns), "Lease", all);
    for o in Api::<ServiceAccount>::namespaced(c.clone(), ns)
        .list(&all)
        .await
        .unwrap()
        .items
    {
        if o.metadata.name.as_deref() != Some("default") {
            left.push(format!(
                "ServiceAccount {ns}/{}",
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    for o in Api::<ConfigMap>::namespaced(c, ns)
        .list(&all)
        .await
        .unwrap()
        .items
    {
        if o.metadata.name.as_deref() != Some("kube-root-ca.crt") {
            left.push(format!(
                "ConfigMap {ns}/{}",
                o.metadata.name.unwrap_or_default()
            ));
        }
    }
    left.sort();
    left.dedup();
    left
}

/// Waits until nothing of the release is left (pods take a moment).
async fn nothing_left(env: &Env, release: &str, ns: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let left = leftovers(env, release, ns).await;
        if left.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left:#?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The controller's logs (every pod of the Deployment).
async fn controller_logs(env: &Env, ns: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let mut text = String::new();
    for p in pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=kapsel"))
        .await
        .unwrap()
        .items
    {
        let name = p.metadata.name.unwrap_or_default();
        text.push_str(
            &env.logs(ns, &name, Some("controller"))
                .await
                .unwrap_or_default(),
        );
    }
    text
}

/// `GET path` on the controller's metrics port (the pod's IP: this host is
/// the node).
async fn metrics(env: &Env, ns: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    let p = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=kapsel"))
        .await
        .unwrap()
        .items
        .into_iter()
        .next()
        .expect("a controller pod");
    let ip: std::net::IpAddr = p.status.unwrap().pod_ip.unwrap().parse().unwrap();
    tokio::task::spawn_blocking(move || {
        kapsel_e2e::s3::http(ip, 8081, "GET /metrics HTTP/1.0\r\n\r\n").unwrap_or_default()
    })
    .await
    .unwrap()
}

/// A Blueprint the webhook must refuse: an unknown function.
fn broken_blueprint(ns: &str) -> String {
    serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Blueprint",
        "metadata": {"name": "broken", "namespace": ns},
        "actions": {"backup": {"phases": [{"func": "KubeExecc", "name": "one", "args": {}}]}}})
    .to_string()
}

fn kubectl_apply(text: &str) -> std::process::Output {
    use std::io::Write;
    let kubectl = repo().join("testbed/testbed");
    let mut child = Command::new(kubectl)
        .args(["kubectl", "apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The webhook refuses a broken Blueprint with the diagnostic `kapsel
/// blueprint validate` prints for it, and accepts nothing of it.
async fn webhook_refuses(env: &Env, ns: &str, bin: &Path) {
    let text = broken_blueprint(ns);
    let file = kapsel_e2e::flow::tempfile_dir().join("broken.yaml");
    std::fs::write(&file, &text).unwrap();
    let cli = Command::new(bin)
        .args(["blueprint", "validate"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !cli.status.success(),
        "the CLI accepts the broken Blueprint"
    );
    // the Service reaches the new pod a moment after it is Ready (kube-proxy
    // programs its rules then): until then the API server cannot call the
    // webhook at all, which is not the webhook's answer
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = kubectl_apply(&text);
        let unreachable = String::from_utf8_lossy(&out.stderr).contains("failed calling webhook");
        if !unreachable || std::time::Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "kubectl apply of a broken Blueprint succeeded"
    );
    assert!(
        err.contains("denied the request") && err.contains("KubeExecc"),
        "not refused by the webhook with a diagnostic naming the function: {err}"
    );
    let bps = kube::Api::<kube::api::DynamicObject>::namespaced_with(
        env.client.clone(),
        ns,
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("cr.kanister.io", "v1alpha1", "Blueprint"),
            "blueprints",
        ),
    );
    assert!(bps.get_opt("broken").await.unwrap().is_none());
}

#[tokio::test]
async fn helm_install_runs_actionsets_and_uninstall_leaves_only_the_crds() {
    let test = "helm-install";
    let Some(helm) = helm(test) else {
        return;
    };
    let Some(p) = prepare(test).await else {
        return;
    };
    install_crds(&p.env, &p.bin).await;
    p.env
        .clone()
        .run(move |env, ns| async move {
            let st = Stage::new(&p, env.clone(), ns.clone()).await;
            let ctl_ns = env.create_namespace().await.unwrap();
            let release = format!("e2e-{}", &ctl_ns[ctl_ns.len() - 5..]);
            let helm_cmd = |args: &[&str]| {
                let mut c = Command::new(&helm);
                c.args(args)
                    .env("KUBECONFIG", std::env::var_os("KUBECONFIG").unwrap());
                c
            };
            let tools = image("tools");
            let (repo_name, tag) = image("kapsel")
                .rsplit_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap();
            run(&mut helm_cmd(&[
                "install",
                &release,
                chart().to_str().unwrap(),
                "-n",
                &ctl_ns,
                "--set",
                &format!("watch.namespaces={{{ns}}}"),
                "--set",
                &format!("toolsImage={tools}"),
                "--set",
                &format!("image.repository={repo_name}"),
                "--set",
                &format!("image.tag={tag}"),
                "--set",
                "logLevel=info",
                "--wait",
                "--timeout",
                "180s",
            ]));

            // a second release's pieces are not reused: objects are named
            // after the release, in the controller's namespace
            let full = format!("{release}-kapsel");
            let d: Api<Deployment> = Api::namespaced(env.client.clone(), &ctl_ns);
            let dep = d.get(&full).await.unwrap();
            assert_eq!(dep.status.unwrap().ready_replicas, Some(1));

            webhook_refuses(&env, &ns, &p.bin).await;

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
            time_log_round_trip(&env, &ns, &st).await;

            let m = metrics(&env, &ctl_ns).await;
            assert!(
                m.contains("kanister_action_set_resolutions_total{resolution=\"success\"} 3"),
                "three actions resolved: {m}"
            );

            let mut st = st;
            let logs = controller_logs(&env, &ctl_ns).await;
            kapsel_e2e::evidence::text("helm-controller-log", &logs);
            st.run.outputs.push(logs);
            for o in actionsets(&env, &ns)
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
            {
                st.run.outputs.push(serde_json::to_string(&o).unwrap());
            }
            run(&mut helm_cmd(&[
                "uninstall",
                &release,
                "-n",
                &ctl_ns,
                "--wait",
                "--timeout",
                "120s",
            ]));
            nothing_left(&env, &release, &ctl_ns).await;
            // the CRDs and the objects in them stay
            assert!(
                actionsets(&env, &ns)
                    .get_opt("backup")
                    .await
                    .unwrap()
                    .is_some()
            );
            env.delete_namespace(&ctl_ns).await.unwrap();
            st.finish(&[]).await;
        })
        .await;
}

#[tokio::test]
async fn kapsel_install_then_uninstall() {
    let test = "kapsel-install";
    let Some(env) = Env::connect(test).await else {
        return;
    };
    let bin = kapsel_bin().unwrap();
    install_crds(&env, &bin).await;
    env.run(move |env, ns| async move {
        let ctl_ns = env.create_namespace().await.unwrap();
        let release = format!("e2e-{}", &ctl_ns[ctl_ns.len() - 5..]);
        let install = || {
            run(Command::new(&bin)
                .args(["install", "-n", &ctl_ns, "--name", &release])
                .args(["--watch-namespace", &ns, "--image", &image("kapsel")])
                .args(["--tools-image", &image("tools")])
                .env("KUBECONFIG", std::env::var_os("KUBECONFIG").unwrap()))
        };
        // an ActionSet from before (another controller's, finished): an
        // install over CRDs another field manager applied leaves it as it is
        let old = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
            "metadata": {"name": "before", "namespace": ns},
            "spec": {"actions": [{"name": "echo", "blueprint": "gone",
                "object": {"kind": "Namespace", "name": ns, "namespace": ns}}]},
            "status": {"state": "complete", "actions": []}});
        env.apply(&ns, &old.to_string()).await.unwrap();
        let version = |o: Option<kube::api::DynamicObject>| o.unwrap().metadata.resource_version;
        let before = version(actionsets(&env, &ns).get_opt("before").await.unwrap());

        let said = install();
        assert!(said.contains("installed"), "{said}");
        let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ctl_ns);
        let cert_name = format!("{release}-kapsel-webhook-cert");
        let cert = secrets.get(&cert_name).await.unwrap().data;

        webhook_refuses(&env, &ns, &bin).await;
        let said =
            serde_json::json!({"said": {"keyValue": {"word": "{{ .Phases.say.Output.word }}"}}});
        let bp = task_blueprint(&ns, "echo", "say", "kando output word hello", Some(said));
        env.apply(&ns, &bp).await.unwrap();
        let action = serde_json::json!({"name": "echo", "blueprint": "echo",
            "object": {"kind": "Namespace", "name": ns, "namespace": ns}});
        env.apply(&ns, &actionset("echo-1", &ns, action))
            .await
            .unwrap();
        let done = wait_state(&env, &ns, "echo-1", "complete", Duration::from_secs(180)).await;
        assert_eq!(
            done["status"]["actions"][0]["artifacts"]["said"]["keyValue"]["word"],
            "hello"
        );

        // again: applied in place, the certificate kept
        install();
        assert_eq!(secrets.get(&cert_name).await.unwrap().data, cert);

        let said = run(Command::new(&bin)
            .args(["uninstall", "-n", &ctl_ns, "--name", &release])
            .env("KUBECONFIG", std::env::var_os("KUBECONFIG").unwrap()));
        assert!(said.contains("uninstalled"), "{said}");
        nothing_left(&env, &release, &ctl_ns).await;
        assert!(
            actionsets(&env, &ns)
                .get_opt("echo-1")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            version(actionsets(&env, &ns).get_opt("before").await.unwrap()),
            before,
            "an ActionSet from before the install was changed"
        );
        env.delete_namespace(&ctl_ns).await.unwrap();
    })
    .await;
}
