//! Acceptance tests of the testbed cluster itself (issue 6): node, storage,
//! exec/logs, Service DNS, pod restart with data, Jobs, Deployments.
//!
//! They SKIP without a cluster unless `KAPSEL_E2E=1`; see docs/testbed.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kapsel_e2e::{Env, image, wait_until};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

const LONG: Duration = Duration::from_secs(300);

async fn sts_ready(env: &Env, ns: &str, name: &str) {
    let api: Api<StatefulSet> = Api::namespaced(env.client.clone(), ns);
    wait_until(LONG, &format!("StatefulSet {ns}/{name} ready"), || {
        let api = api.clone();
        let name = name.to_owned();
        async move {
            let s = api.get(&name).await?;
            let want = s.spec.replicas.unwrap_or(1);
            let st = s.status.unwrap_or_default();
            Ok(st.ready_replicas.unwrap_or(0) == want
                && st.current_revision == st.update_revision
                && st.observed_generation == s.metadata.generation)
        }
    })
    .await
    .unwrap();
}

async fn pod_succeeded(env: &Env, ns: &str, name: &str) {
    let pods = env.pods(ns);
    wait_until(LONG, &format!("pod {ns}/{name} to succeed"), || {
        let pods = pods.clone();
        let name = name.to_owned();
        async move {
            let p = pods.get(&name).await?;
            let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
            Ok(phase == "Succeeded" || phase == "Failed")
        }
    })
    .await
    .unwrap();
    let p = pods.get(name).await.unwrap();
    if p.status.and_then(|s| s.phase).as_deref() == Some("Failed") {
        let logs = env.logs(ns, name, None).await.unwrap_or_default();
        panic!("pod {ns}/{name} failed; its log:\n{logs}");
    }
}

#[tokio::test]
async fn node_is_ready_and_has_default_storage_class() {
    let Some(env) = Env::connect("node-ready").await else {
        return;
    };
    let nodes: Api<Node> = Api::all(env.client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert!(!list.items.is_empty(), "cluster has no nodes");
    for n in &list.items {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.as_str());
        assert_eq!(ready, Some("True"), "node {:?} not Ready", n.metadata.name);
    }
    let scs: Api<StorageClass> = Api::all(env.client.clone());
    let default = scs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .any(|sc| {
            sc.metadata
                .annotations
                .unwrap_or_default()
                .get("storageclass.kubernetes.io/is-default-class")
                .map(String::as_str)
                == Some("true")
        });
    assert!(default, "no default StorageClass");
}

#[tokio::test]
async fn postgres_statefulset_storage_exec_logs_dns_and_restart() {
    let Some(env) = Env::connect("postgres").await else {
        return;
    };
    env.run(|env, ns| async move {
        env.apply(&ns, &kapsel_e2e::fixture("postgresql").unwrap())
            .await
            .unwrap();
        sts_ready(&env, &ns, "my-release-postgresql").await;

        // the PVC came from the default StorageClass and is bound
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.client.clone(), &ns);
        let pvc = pvcs.get("data-my-release-postgresql-0").await.unwrap();
        assert_eq!(
            pvc.status.and_then(|s| s.phase).as_deref(),
            Some("Bound"),
            "PVC not bound"
        );
        assert!(pvc.spec.and_then(|s| s.storage_class_name).is_some());

        // exec through the API
        let pod = "my-release-postgresql-0";
        let sql = "CREATE TABLE kapsel(v text); INSERT INTO kapsel VALUES ('persisted-42');";
        let out = env
            .exec(&ns, pod, None, &["psql", "-h", "/tmp", "-U", "postgres", "-c", sql])
            .await
            .unwrap();
        assert!(out.success, "psql failed: {out:?}");

        // logs through the API
        let logs = env.logs(&ns, pod, None).await.unwrap();
        assert!(!logs.is_empty(), "no logs from {pod}");

        // a pod in another namespace reaches it by its Service DNS name
        let client_ns = env.create_namespace().await.unwrap();
        let host = format!("my-release-postgresql.{ns}.svc.cluster.local");
        // the password from a Secret, as a client should (no secret value
        // in any pod spec of the suite: tests/zz_no_secrets.rs)
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "pg"}, "stringData": {"password": "kapsel-pg-secret"}});
        env.apply(&client_ns, &secret.to_string()).await.unwrap();
        let client_pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "psql-client"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "psql",
                    "image": image("tools"),
                    "env": [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "password"}}}],
                    "command": ["psql", "-h", host, "-U", "postgres", "-tAc", "SELECT v FROM kapsel"],
                }],
            },
        });
        env.apply(&client_ns, &client_pod.to_string()).await.unwrap();
        pod_succeeded(&env, &client_ns, "psql-client").await;
        let got = env.logs(&client_ns, "psql-client", None).await.unwrap();
        env.delete_namespace(&client_ns).await.unwrap();
        assert_eq!(got.trim(), "persisted-42");

        // deleting the pod brings it back with its data
        let pods = env.pods(&ns);
        let old_uid = pods.get(pod).await.unwrap().metadata.uid;
        pods.delete(pod, &DeleteParams::default()).await.unwrap();
        wait_until(LONG, "postgres pod to be recreated", || {
            let pods = pods.clone();
            let old_uid = old_uid.clone();
            async move {
                Ok(pods
                    .get_opt(pod)
                    .await?
                    .is_some_and(|p| p.metadata.uid != old_uid))
            }
        })
        .await
        .unwrap();
        sts_ready(&env, &ns, "my-release-postgresql").await;
        let out = env
            .exec(
                &ns,
                pod,
                None,
                &["psql", "-h", "/tmp", "-U", "postgres", "-tAc", "SELECT v FROM kapsel"],
            )
            .await
            .unwrap();
        assert!(out.success, "psql after restart failed: {out:?}");
        assert_eq!(out.stdout.trim(), "persisted-42");
    })
    .await;
}

#[tokio::test]
async fn job_runs_to_completion() {
    let Some(env) = Env::connect("job").await else {
        return;
    };
    env.run(|env, ns| async move {
        let job = serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "hello"},
            "spec": {
                "backoffLimit": 0,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "hello",
                        "image": image("tools"),
                        "command": ["sh", "-c", "echo hello from $(hostname); kando --help >/dev/null 2>&1 || true"],
                    }],
                }},
            },
        });
        env.apply(&ns, &job.to_string()).await.unwrap();
        let jobs: Api<Job> = Api::namespaced(env.client.clone(), &ns);
        wait_until(LONG, "job hello to complete", || {
            let jobs = jobs.clone();
            async move {
                let st = jobs.get("hello").await?.status.unwrap_or_default();
                assert_eq!(st.failed.unwrap_or(0), 0, "job failed");
                Ok(st.succeeded.unwrap_or(0) == 1)
            }
        })
        .await
        .unwrap();
        let pods: Vec<Pod> = env
            .pods(&ns)
            .list(&ListParams::default().labels("job-name=hello"))
            .await
            .unwrap()
            .items;
        let name = pods[0].metadata.name.clone().unwrap();
        let logs = env.logs(&ns, &name, None).await.unwrap();
        assert!(logs.contains("hello from"), "logs: {logs}");
    })
    .await;
}

#[tokio::test]
async fn deployment_scales_one_zero_one() {
    let Some(env) = Env::connect("deployment").await else {
        return;
    };
    env.run(|env, ns| async move {
        let dep = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "sleeper"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "sleeper"}},
                "template": {
                    "metadata": {"labels": {"app": "sleeper"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{
                            "name": "sleeper",
                            "image": image("tools"),
                            "command": ["sleep", "infinity"],
                        }],
                    },
                },
            },
        });
        env.apply(&ns, &dep.to_string()).await.unwrap();
        let deps: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
        for replicas in [1, 0, 1] {
            let patch = serde_json::json!({"spec": {"replicas": replicas}});
            deps.patch("sleeper", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            let pods = env.pods(&ns);
            wait_until(LONG, &format!("sleeper at {replicas} replicas"), || {
                let deps = deps.clone();
                let pods = pods.clone();
                async move {
                    let st = deps.get("sleeper").await?.status.unwrap_or_default();
                    let running = pods
                        .list(&ListParams::default().labels("app=sleeper"))
                        .await?
                        .items
                        .len() as i32;
                    Ok(st.ready_replicas.unwrap_or(0) == replicas
                        && st.replicas.unwrap_or(0) == replicas
                        && running == replicas)
                }
            })
            .await
            .unwrap();
        }
    })
    .await;
}

/// Run a one-shot pod from the tools image and return its logs.
async fn run_tools_pod(
    env: &Env,
    ns: &str,
    name: &str,
    script: &str,
    vars: serde_json::Value,
) -> String {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": image("tools"), "command": ["sh", "-c", script], "env": vars}],
        },
    });
    env.apply(ns, &pod.to_string()).await.unwrap();
    pod_succeeded(env, ns, name).await;
    env.logs(ns, name, None).await.unwrap()
}

#[tokio::test]
async fn mariadb_mysql_and_redis_fixtures_serve_clients() {
    let Some(env) = Env::connect("fixtures").await else {
        return;
    };
    env.run(|env, ns| async move {
        for f in ["mariadb", "mysql", "redis"] {
            env.apply(&ns, &kapsel_e2e::fixture(f).unwrap())
                .await
                .unwrap();
        }
        sts_ready(&env, &ns, "my-release-mariadb").await;
        sts_ready(&env, &ns, "mysql-release").await;
        sts_ready(&env, &ns, "my-release-master").await;
        // clients reach them by the chart's Service names with the chart's
        // Secret keys, the way Kanister's Blueprints do
        // A Ready pod is reachable through its Service only once the
        // endpoint reached kube-proxy and DNS, which lags under load: each
        // client retries for up to a minute (the errors of attempts that
        // are retried stay out of the log), then fails with its last error.
        let script = "set -e
            retry() { n=0; until \"$@\" 2>/tmp/retry.err; do n=$((n+1)); [ $n -lt 60 ] || { cat /tmp/retry.err >&2; return 1; }; sleep 1; done; }
            retry env MYSQL_PWD=\"$MARIA\" mysql -h my-release-mariadb -uroot -NBe 'SELECT 40+2'
            retry env MYSQL_PWD=\"$MYSQL\" mysql -h mysql-release -uroot -NBe 'SELECT 40+3'
            retry redis-cli --no-auth-warning -h my-release-master SET k 44 >/dev/null
            retry redis-cli --no-auth-warning -h my-release-master GET k";
        // the passwords from the charts' Secrets (no secret value in any pod
        // spec of the suite: tests/zz_no_secrets.rs)
        let key = |var: &str, secret: &str, key: &str| {
            serde_json::json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
        };
        let vars = serde_json::json!([
            key("MARIA", "my-release-mariadb", "mariadb-root-password"),
            key("MYSQL", "mysql-release", "mysql-root-password"),
            key("REDISCLI_AUTH", "my-release", "redis-password"),
        ]);
        let out = run_tools_pod(&env, &ns, "clients", script, vars).await;
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(lines, ["42", "43", "44"], "client output: {out}");
    })
    .await;
}

#[tokio::test]
async fn pods_have_no_route_off_the_machine() {
    let Some(env) = Env::connect("network-boundary").await else {
        return;
    };
    if std::env::var_os("KAPSEL_E2E_IMAGE_PREFIX").is_some() {
        eprintln!("SKIP network-boundary: only meaningful on the testbed");
        return;
    }
    env.run(|env, ns| async move {
        // inspect the routing table only: no packet is sent anywhere
        let out = run_tools_pod(
            &env,
            &ns,
            "routes",
            "cat /proc/net/route",
            serde_json::json!([]),
        )
        .await;
        let default_routes = out
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(1) == Some("00000000"))
            .count();
        assert_eq!(default_routes, 0, "pod has a default route:\n{out}");
    })
    .await;
}

/// The etcd fixture (shaped like the bitnami/etcd chart) becomes ready, serves
/// etcdctl through its Service, and a member killed from inside its
/// container (as a restore in place does) is restarted by the kubelet with
/// its data.
#[tokio::test]
async fn etcd_fixture_serves_clients_and_survives_a_kill() {
    let Some(env) = Env::connect("etcd-fixture").await else {
        return;
    };
    env.run(|env, ns| async move {
        env.apply(&ns, &kapsel_e2e::fixture("etcd").unwrap())
            .await
            .unwrap();
        sts_ready(&env, &ns, "my-release-etcd").await;
        let pod = "my-release-etcd-0";
        let etcdctl = |script: String| {
            let (env, ns) = (env.clone(), ns.clone());
            async move {
                let out = env
                    .exec(&ns, pod, Some("etcd"), &["sh", "-c", &script])
                    .await
                    .unwrap();
                assert!(out.success, "{script}: {}{}", out.stdout, out.stderr);
                out.stdout
            }
        };
        // through the Service (kube-proxy and DNS may lag behind Ready)
        let via_service = format!(
            "n=0; until etcdctl --endpoints=http://my-release-etcd.{ns}.svc.cluster.local:2379 put k 42 >/dev/null 2>/tmp/err; \
             do n=$((n+1)); [ $n -lt 60 ] || {{ cat /tmp/err >&2; exit 1; }}; sleep 1; done"
        );
        etcdctl(via_service).await;
        let got = etcdctl("etcdctl get k --print-value-only".into()).await;
        assert_eq!(got.trim(), "42");
        let status = etcdctl("etcdctl endpoint status -w json".into()).await;
        assert!(status.contains("\"leader\""), "{status}");

        // kill etcd from inside the container: the container ends, the
        // kubelet restarts it, the data is still there
        // (the exec may end with an error: the container can die before
        // the exec session reports the kill's exit status)
        let _ = env
            .exec(&ns, pod, Some("etcd"), &["sh", "-c", "kill -KILL $(pgrep -x etcd)"])
            .await;
        wait_until(LONG, "the etcd container to restart", || {
            let pods = env.pods(&ns);
            async move {
                let p = pods.get(pod).await?;
                let st = p.status.unwrap_or_default();
                Ok(st.container_statuses.unwrap_or_default().iter().any(|c| c.restart_count >= 1 && c.ready))
            }
        })
        .await
        .unwrap();
        let got = etcdctl("etcdctl get k --print-value-only".into()).await;
        assert_eq!(got.trim(), "42");
    })
    .await;
}
