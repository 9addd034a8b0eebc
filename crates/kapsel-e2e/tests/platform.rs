//! The Kubernetes platform (crates/kapsel-platform-k8s) against a real
//! cluster: exec, tasks (stdin, labels, deletion on every path, image pull
//! failures, leftovers), MultiContainerRun, scaling and object parameters.
//! Skipped, saying so, without a cluster (KUBECONFIG).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kapsel_e2e::watch::PodWatch;
use kapsel_e2e::{Env, image, wait_until};
use kapsel_engine::platform::{
    ContainerCommand, ExecSpec, MultiContainerSpec, OutputSink, Platform, PlatformError, ScaleSpec,
    Stdin, Stream, TaskSpec,
};
use kapsel_platform_k8s::KubePlatform;
use kube::api::{Api, ListParams};

/// Output chunks in order.
type Chunks = Vec<(Stream, Vec<u8>)>;

/// Collects output.
#[derive(Default, Clone)]
struct Sink(Arc<Mutex<Chunks>>);

impl OutputSink for Sink {
    fn chunk(&mut self, stream: Stream, data: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.push((stream, data.to_vec()));
        }
    }
}

impl Sink {
    fn text(&self, stream: Stream) -> String {
        let v = self.0.lock().unwrap();
        let bytes: Vec<u8> = v
            .iter()
            .filter(|(s, _)| *s == stream)
            .flat_map(|(_, d)| d.clone())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn platform(env: &Env, ns: &str) -> KubePlatform {
    KubePlatform::new(env.client.clone(), ns)
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// Pods in `ns` with Kapsel's label.
async fn kapsel_pods(env: &Env, ns: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    api.list(&ListParams::default().labels("app.kubernetes.io/managed-by=kapsel"))
        .await
        .unwrap()
        .items
}

/// Waits until no Kapsel pod is left in `ns` (deletion is asynchronous).
async fn no_pods_left(env: &Env, ns: &str) {
    wait_until(Duration::from_secs(60), "task pods to be gone", || async {
        Ok(kapsel_pods(env, ns).await.is_empty())
    })
    .await
    .unwrap();
}

async fn tools_pod(env: &Env, ns: &str, name: &str) {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [
            {"name": "first", "image": image("tools"), "command": ["sleep", "3600"]},
            {"name": "second", "image": image("tools"), "command": ["sleep", "3600"]}
        ], "terminationGracePeriodSeconds": 0},
    });
    env.apply(ns, &pod.to_string()).await.unwrap();
    let pods = env.pods(ns);
    wait_until(Duration::from_secs(120), "pod running", || {
        let pods = pods.clone();
        async move {
            let p = pods.get(name).await?;
            Ok(p.status.and_then(|s| s.phase).as_deref() == Some("Running"))
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn exec_streams_output_exit_codes_and_stdin() {
    let Some(env) = Env::connect("k8s-exec").await else {
        return;
    };
    env.run(|env, ns| async move {
        tools_pod(&env, &ns, "app").await;
        let p = platform(&env, &ns);
        // no container named: the pod's first
        let mut sink = Sink::default();
        let spec = ExecSpec {
            namespace: ns.clone(),
            pod: "app".into(),
            container: None,
            command: sh("echo out; echo err >&2; hostname; exit 3"),
            stdin: None,
        };
        let exit = p.exec(&spec, &mut sink).await.unwrap();
        assert_eq!(exit.code, Some(3));
        assert_eq!(sink.text(Stream::Stdout), "out\napp\n");
        assert_eq!(sink.text(Stream::Stderr), "err\n");
        // stdin reaches the command and is closed after
        let mut sink = Sink::default();
        let spec = ExecSpec {
            container: Some("second".into()),
            command: sh("wc -c; cat"),
            stdin: Some(Stdin(b"a secret".to_vec())),
            ..spec
        };
        let exit = p.exec(&spec, &mut sink).await.unwrap();
        assert_eq!(exit.code, Some(0));
        assert_eq!(sink.text(Stream::Stdout).trim(), "8");
        // a missing pod and a missing container are named
        let missing = ExecSpec {
            pod: "nope".into(),
            ..spec.clone()
        };
        match p.exec(&missing, &mut Sink::default()).await {
            Err(PlatformError::NotFound { kind, name, .. }) => {
                assert_eq!((kind.as_str(), name.as_str()), ("Pod", "nope"))
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        let missing = ExecSpec {
            container: Some("third".into()),
            ..spec
        };
        let e = p.exec(&missing, &mut Sink::default()).await.unwrap_err();
        assert!(e.to_string().contains("third"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn task_runs_a_pod_with_kanisters_shape_and_deletes_it() {
    let Some(env) = Env::connect("k8s-task").await else {
        return;
    };
    env.run(|env, ns| async move {
        let p = platform(&env, &ns);
        let secret = "s3cr3t-value-e2e-4711";
        // A watcher records every version of every pod while the task runs:
        // the secret must be in none of them.
        let watch = PodWatch::start(&env, &ns);
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "data".to_string());
        let spec = TaskSpec {
            name_prefix: "kanister-job-".into(),
            namespace: Some(ns.clone()),
            image: image("tools"),
            command: sh(
                "read -r s; echo \"got ${#s} bytes\"; echo '###Phase-output###: {\"key\":\"k\",\"value\":\"v\"}'; sleep 2; exit 0",
            ),
            labels,
            stdin: Some(Stdin(format!("{secret}\n").into_bytes())),
            ..TaskSpec::default()
        };
        let mut sink = Sink::default();
        let exit = p.task(&spec, &mut sink).await.unwrap();
        let seen = watch.stop().await;
        assert_eq!(exit.code, Some(0));
        let out = sink.text(Stream::Stdout);
        assert!(out.contains(&format!("got {} bytes", secret.len())), "{out}");
        assert!(out.contains("###Phase-output###"), "{out}");
        assert!(!seen.is_empty(), "the watcher saw no pod");
        let first: Pod = serde_json::from_str(&seen[0]).unwrap();
        let name = first.metadata.name.clone().unwrap();
        assert!(name.starts_with("kanister-job-"), "{name}");
        let labels = first.metadata.labels.unwrap();
        assert_eq!(labels.get("createdBy").map(String::as_str), Some("kanister"));
        assert_eq!(labels.get("team").map(String::as_str), Some("data"));
        let c = &first.spec.unwrap().containers[0];
        assert_eq!(c.name, "container");
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        for s in seen.iter() {
            assert!(!s.contains(secret), "the secret is in a pod object: {s}");
        }
        no_pods_left(&env, &ns).await;

        // a failing command: its exit code, and the pod is deleted
        let spec = TaskSpec {
            command: sh("echo failing; exit 7"),
            stdin: None,
            ..spec
        };
        let exit = p.task(&spec, &mut Sink::default()).await.unwrap();
        assert_eq!(exit.code, Some(7));
        no_pods_left(&env, &ns).await;
    })
    .await;
}

#[tokio::test]
async fn a_dropped_task_deletes_its_pod_and_bad_images_fail_fast() {
    let Some(env) = Env::connect("k8s-task-cancel").await else {
        return;
    };
    env.run(|env, ns| async move {
        let p = platform(&env, &ns);
        // a deadline drops the future mid-run
        let spec = TaskSpec {
            namespace: Some(ns.clone()),
            image: image("tools"),
            command: sh("echo started; sleep 600"),
            ..TaskSpec::default()
        };
        let mut sink = Sink::default();
        let r = tokio::time::timeout(Duration::from_secs(20), p.task(&spec, &mut sink)).await;
        assert!(r.is_err(), "the task should have been cut by the deadline");
        p.drain(Duration::from_secs(30)).await;
        no_pods_left(&env, &ns).await;

        // an image that cannot be pulled: the waiting reason, not a timeout
        let p = platform(&env, &ns);
        let spec = TaskSpec {
            image: "kapsel.local/does-not-exist:1".into(),
            ..spec
        };
        let e = p.task(&spec, &mut Sink::default()).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("ErrImagePull") || text.contains("ImagePullBackOff"),
            "{text}"
        );
        assert!(text.contains("kapsel.local/does-not-exist:1"), "{text}");
        no_pods_left(&env, &ns).await;

        // a PVC that does not exist is named
        let spec = TaskSpec {
            image: image("tools"),
            volumes: vec![kapsel_engine::platform::VolumeMount {
                claim: "no-such-claim".into(),
                mount_path: "/data".into(),
            }],
            ..spec
        };
        match p.task(&spec, &mut Sink::default()).await {
            Err(PlatformError::NotFound { kind, name, .. }) => {
                assert_eq!(kind, "PersistentVolumeClaim");
                assert_eq!(name, "no-such-claim");
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn leftover_pods_of_dead_runners_are_removed() {
    let Some(env) = Env::connect("k8s-leftovers").await else {
        return;
    };
    env.run(|env, ns| async move {
        // a pod as a killed run leaves it: a runner on this host whose
        // process is gone
        let mut dead = kapsel_platform_k8s::runner::Runner::current();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        dead.pid = child.id();
        child.wait().unwrap();
        dead.start = Some(1);
        let alive = kapsel_platform_k8s::runner::Runner::current();
        for (name, r) in [("left-behind", &dead), ("still-running", &alive)] {
            let pod = serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name,
                    "labels": {"app.kubernetes.io/managed-by": "kapsel", "createdBy": "kanister"},
                    "annotations": {"kapsel.dev/runner": r.annotation()}},
                "spec": {"containers": [{"name": "container", "image": image("tools"), "command": ["sleep", "600"]}],
                         "terminationGracePeriodSeconds": 0},
            });
            env.apply(&ns, &pod.to_string()).await.unwrap();
        }
        // and a command Secret a run killed before creating its pod leaves,
        // beside one of a live run and one owned by a pod (the garbage
        // collector's to remove)
        let owner = env.pods(&ns).get("still-running").await.unwrap();
        for (name, r, owned) in [
            ("kapsel-command-dead", &dead, false),
            ("kapsel-command-live", &alive, false),
            ("kapsel-command-owned", &dead, true),
        ] {
            let mut secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name,
                    "labels": {"app.kubernetes.io/managed-by": "kapsel"},
                    "annotations": {"kapsel.dev/runner": r.annotation()}},
                "stringData": {"run": "exec true"},
            });
            if owned {
                secret["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion": "v1", "kind": "Pod",
                    "name": "still-running", "uid": owner.metadata.uid.clone().unwrap()}]);
            }
            env.apply(&ns, &secret.to_string()).await.unwrap();
        }
        let p = platform(&env, &ns);
        let report = p.cleanup(Some(&ns), false).await.unwrap();
        assert_eq!(report.deleted, vec![format!("{ns}/left-behind")]);
        assert_eq!(report.kept, vec![format!("{ns}/still-running")]);
        assert_eq!(report.deleted_secrets, vec![format!("{ns}/kapsel-command-dead")]);
        let report = p.cleanup(Some(&ns), true).await.unwrap();
        assert!(report.deleted.contains(&format!("{ns}/still-running")), "{report:?}");
        assert_eq!(report.deleted_secrets, vec![format!("{ns}/kapsel-command-live")]);
    })
    .await;
}

#[tokio::test]
async fn multi_container_run_shares_a_volume() {
    let Some(env) = Env::connect("k8s-multi").await else {
        return;
    };
    env.run(|env, ns| async move {
        let p = platform(&env, &ns);
        let spec = MultiContainerSpec {
            namespace: Some(ns.clone()),
            init: Some(ContainerCommand {
                image: image("tools"),
                command: sh("echo init > /tmp/shared/init"),
            }),
            background: ContainerCommand {
                image: image("tools"),
                command: sh("echo produced > /tmp/shared/data; echo bg-log; sleep 600"),
            },
            output: ContainerCommand {
                image: image("tools"),
                command: sh(
                    "while [ ! -f /tmp/shared/data ]; do sleep 0.2; done; cat /tmp/shared/init /tmp/shared/data",
                ),
            },
            shared_volume_dir: "/tmp/shared".into(),
            ..MultiContainerSpec::default()
        };
        let (mut bg, mut out) = (Sink::default(), Sink::default());
        let exit = p.multi_container(&spec, &mut bg, &mut out).await.unwrap();
        assert_eq!(exit.code, Some(0));
        assert_eq!(out.text(Stream::Stdout), "init\nproduced\n");
        no_pods_left(&env, &ns).await;
    })
    .await;
}

#[tokio::test]
async fn scale_and_object_params_of_a_statefulset() {
    let Some(env) = Env::connect("k8s-scale").await else {
        return;
    };
    env.run(|env, ns| async move {
        let sts = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "main", "image": image("tools"),
                        "command": ["sleep", "3600"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}]},
        });
        env.apply(&ns, &sts.to_string()).await.unwrap();
        let p = platform(&env, &ns);
        let spec = ScaleSpec {
            kind: "StatefulSet".into(),
            namespace: ns.clone(),
            name: "web".into(),
            replicas: 1,
            wait_for_ready: true,
        };
        let mut sink = Sink::default();
        let before = tokio::time::timeout(Duration::from_secs(180), p.scale(&spec, &mut sink))
            .await
            .expect("ready within 3 minutes")
            .unwrap();
        assert_eq!(before, 1);
        let params = p.object_params("statefulset", &ns, "web").await.unwrap();
        let w = params.workload.unwrap();
        assert_eq!(w.pods, Some(vec!["web-0".to_string()]));
        assert_eq!(w.containers, Some(vec![Some(vec!["main".to_string()])]));
        let pvcs = w.persistent_volume_claims.unwrap();
        assert_eq!(pvcs["web-0"]["data-web-0"], "/data");
        assert_eq!(
            params.object.unwrap()["kind"],
            serde_json::Value::String("StatefulSet".into())
        );
        let down = ScaleSpec {
            replicas: 0,
            ..spec.clone()
        };
        let before = tokio::time::timeout(Duration::from_secs(180), p.scale(&down, &mut sink))
            .await
            .expect("down within 3 minutes")
            .unwrap();
        assert_eq!(before, 1);
        assert!(env.pods(&ns).get_opt("web-0").await.unwrap().is_none(), "the pod is gone");
        let volumes = p.pod_volumes(&ns, "web-0").await;
        assert!(matches!(volumes, Err(PlatformError::NotFound { .. })), "{volumes:?}");
        // a missing object is named
        let e = p.object_params("deployment", &ns, "nope").await.unwrap_err();
        assert!(e.to_string().contains("Deployment") && e.to_string().contains("nope"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_missing_permission_names_the_verb_and_resource() {
    let Some(env) = Env::connect("k8s-rbac").await else {
        return;
    };
    env.run(|env, ns| async move {
        // a service account that may do nothing, and a client acting as it
        let sa = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "nobody"}});
        env.apply(&ns, &sa.to_string()).await.unwrap();
        let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(env.client.clone(), &ns);
        let req = k8s_openapi::api::authentication::v1::TokenRequest {
            spec: Some(k8s_openapi::api::authentication::v1::TokenRequestSpec {
                expiration_seconds: Some(600),
                ..Default::default()
            }),
            ..Default::default()
        };
        let token: k8s_openapi::api::authentication::v1::TokenRequest = sas
            .create_subresource("token", "nobody", &kube::api::PostParams::default(), &req)
            .await
            .unwrap();
        let token = token.status.unwrap().token.unwrap();
        let path = std::env::var_os("KUBECONFIG").unwrap();
        let kc = kube::config::Kubeconfig::read_from(path).unwrap();
        let mut config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        config.auth_info = kube::config::AuthInfo {
            token: Some(secrecy::SecretString::from(token.clone())),
            ..Default::default()
        };
        let client = kube::Client::try_from(config).unwrap();
        let p = KubePlatform::new(client, &ns);
        let spec = TaskSpec {
            namespace: Some(ns.clone()),
            image: image("tools"),
            command: sh("true"),
            ..TaskSpec::default()
        };
        let e = p
            .task(&spec, &mut Sink::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("permission denied"), "{e}");
        assert!(e.contains("create pods"), "{e}");
        assert!(e.contains(&ns), "{e}");
        assert!(!e.contains(&token), "the token leaked: {e}");
        let e = p.secret(&ns, "anything").await.unwrap_err().to_string();
        assert!(e.contains("get secrets"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_command_holding_a_secret_stays_out_of_the_pod_spec() {
    let Some(env) = Env::connect("k8s-secret-command").await else {
        return;
    };
    env.run(|env, ns| async move {
        let p = platform(&env, &ns);
        // quotes, `$` and a backslash: the launcher must pass it unchanged
        let secret = "pa'ss\"w$rd\\-e2e-9183";
        let watch = PodWatch::start(&env, &ns);
        let spec = TaskSpec {
            namespace: Some(ns.clone()),
            image: image("tools"),
            command: vec![
                "bash".into(),
                "-c".into(),
                "printf 'len=%s\\n' \"${#1}\"; [ \"$1\" = \"$2\" ] && echo same".into(),
                "bash".into(),
                secret.into(),
                secret.into(),
            ],
            secret_command: true,
            ..TaskSpec::default()
        };
        let mut sink = Sink::default();
        let exit = p.task(&spec, &mut sink).await.unwrap();
        let seen = watch.stop().await;
        assert_eq!(exit.code, Some(0), "{}", sink.text(Stream::Stderr));
        let out = sink.text(Stream::Stdout);
        assert!(
            out.contains(&format!("len={}", secret.len())) && out.contains("same"),
            "{out}"
        );
        assert!(!seen.is_empty(), "the watcher saw no pod");
        for pod in &seen {
            assert!(
                !pod.contains("e2e-9183"),
                "the secret is in a pod spec: {pod}"
            );
            assert!(pod.contains("/var/run/kapsel/command/run"), "{pod}");
        }
        // the command's Secret goes with the pod
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(env.client.clone(), &ns);
        wait_until(
            Duration::from_secs(60),
            "the command's Secret to be gone",
            || {
                let secrets = secrets.clone();
                async move {
                    let l = secrets.list(&ListParams::default()).await?;
                    Ok(!l.items.iter().any(|s| {
                        s.metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.starts_with("kapsel-command-"))
                    }))
                }
            },
        )
        .await
        .unwrap();
        no_pods_left(&env, &ns).await;

        // MultiContainerRun: each of init, background and output gets its
        // launcher from the same Secret
        let watch = PodWatch::start(&env, &ns);
        let arg = |c: &str| vec!["sh".to_string(), "-c".to_string(), c.to_string(), "sh".to_string(), secret.to_string()];
        let spec = MultiContainerSpec {
            namespace: Some(ns.clone()),
            init: Some(ContainerCommand {
                image: image("tools"),
                command: arg("printf '%s' \"$1\" > /tmp/shared/init"),
            }),
            background: ContainerCommand {
                image: image("tools"),
                command: arg("printf '%s' \"$1\" > /tmp/shared/bg.tmp && mv /tmp/shared/bg.tmp /tmp/shared/bg; sleep 600"),
            },
            output: ContainerCommand {
                image: image("tools"),
                command: arg("while [ ! -f /tmp/shared/bg ]; do sleep 0.2; done; \
                    [ \"$(cat /tmp/shared/init)\" = \"$1\" ] && [ \"$(cat /tmp/shared/bg)\" = \"$1\" ] && echo all-same"),
            },
            shared_volume_dir: "/tmp/shared".into(),
            secret_command: true,
            ..MultiContainerSpec::default()
        };
        let (mut bg, mut out) = (Sink::default(), Sink::default());
        let exit = p.multi_container(&spec, &mut bg, &mut out).await.unwrap();
        let seen = watch.stop().await;
        assert_eq!(exit.code, Some(0), "{}", out.text(Stream::Stderr));
        assert_eq!(out.text(Stream::Stdout), "all-same\n");
        assert!(!seen.is_empty(), "the watcher saw no pod");
        for pod in &seen {
            assert!(!pod.contains("e2e-9183"), "the secret is in a pod spec: {pod}");
            for key in ["init", "background", "output"] {
                assert!(pod.contains(&format!("/var/run/kapsel/command/{key}")), "{pod}");
            }
        }
        no_pods_left(&env, &ns).await;
    })
    .await;
}
