//! The controller's manifests, as `kapsel install` applies them: the same
//! objects as charts/kapsel renders with the same values (the e2e test
//! `helm.rs` compares the two, object by object, after dropping what only
//! one of them says: Helm's `managed-by`/`helm.sh/chart` labels and the
//! generated certificate). Change one, change the other.

use serde_json::{Value, json};

/// The chart's values that `kapsel install` offers (the defaults are the
/// chart's defaults, charts/kapsel/values.yaml).
#[derive(Debug, Clone)]
pub struct Values {
    /// The release name (`helm install <name>`); objects are named after it.
    pub release: String,
    /// The namespace the controller runs in.
    pub namespace: String,
    /// `image.repository:image.tag`.
    pub image: String,
    /// `image.pullPolicy`.
    pub pull_policy: String,
    /// `toolsImage`: KANISTER_TOOLS, when set.
    pub tools_image: Option<String>,
    /// `replicas`.
    pub replicas: u32,
    /// `leaderElection.enabled`.
    pub leader_elect: bool,
    /// `leaderElection.leaseDuration`.
    pub lease_duration: String,
    /// `watch.allNamespaces`.
    pub all_namespaces: bool,
    /// `watch.namespaces`.
    pub namespaces: Vec<String>,
    /// `rbac.extraNamespaces`.
    pub extra_namespaces: Vec<String>,
    /// `concurrency`.
    pub concurrency: u16,
    /// `retention.ttlAfterFinished`.
    pub ttl_after_finished: Option<String>,
    /// `retention.keepLast`.
    pub keep_last: u32,
    /// `logLevel`.
    pub log_level: String,
    /// `metrics.port`.
    pub metrics_port: u16,
    /// `webhook.enabled`.
    pub webhook: bool,
    /// `webhook.port`.
    pub webhook_port: u16,
    /// `webhook.failurePolicy`.
    pub failure_policy: String,
}

impl Default for Values {
    fn default() -> Values {
        Values {
            release: "kapsel".into(),
            namespace: "kapsel-system".into(),
            image: "kapsel.local/testbed/kapsel:testbed".into(),
            pull_policy: "IfNotPresent".into(),
            tools_image: None,
            replicas: 1,
            leader_elect: true,
            lease_duration: "15s".into(),
            all_namespaces: false,
            namespaces: Vec::new(),
            extra_namespaces: Vec::new(),
            concurrency: 4,
            ttl_after_finished: None,
            keep_last: 0,
            log_level: "info".into(),
            metrics_port: 8081,
            webhook: true,
            webhook_port: 9443,
            failure_policy: "Fail".into(),
        }
    }
}

/// The webhook's serving certificate (PEM).
#[derive(Debug, Clone)]
pub struct Cert {
    /// The CA certificate (the webhook configuration's caBundle).
    pub ca: String,
    /// The serving certificate.
    pub cert: String,
    /// Its key.
    pub key: String,
}

/// The label a `kapsel install` puts where Helm puts `managed-by: Helm`.
pub const MANAGED_BY: &str = "kapsel";

impl Values {
    /// The objects' base name (the chart's `kapsel.fullname`).
    pub fn fullname(&self) -> String {
        let name = if self.release.contains("kapsel") {
            self.release.clone()
        } else {
            format!("{}-kapsel", self.release)
        };
        let mut n: String = name.chars().take(63).collect();
        while n.ends_with('-') {
            n.pop();
        }
        n
    }

    /// The namespaces with workload rights: the controller's, the watched
    /// ones, the extra ones (first occurrence kept).
    pub fn workload_namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in std::iter::once(&self.namespace)
            .chain(&self.namespaces)
            .chain(&self.extra_namespaces)
        {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }

    /// The webhook Secret's name.
    pub fn webhook_secret(&self) -> String {
        format!("{}-webhook-cert", self.fullname())
    }

    fn selector(&self) -> Value {
        json!({
            "app.kubernetes.io/name": "kapsel",
            "app.kubernetes.io/instance": self.release,
        })
    }

    fn labels(&self) -> Value {
        json!({
            "app.kubernetes.io/name": "kapsel",
            "app.kubernetes.io/instance": self.release,
            "app.kubernetes.io/version": env!("CARGO_PKG_VERSION"),
            "app.kubernetes.io/managed-by": MANAGED_BY,
        })
    }

    fn meta(&self, name: &str, namespace: Option<&str>) -> Value {
        let mut m = json!({ "name": name, "labels": self.labels() });
        if let Some(ns) = namespace {
            m["namespace"] = json!(ns);
        }
        m
    }
}

/// Every object of the install but the CRDs, in the order they are applied
/// (the certificate only when the webhook is on).
pub fn objects(v: &Values, cert: Option<&Cert>) -> Vec<Value> {
    let full = v.fullname();
    let ns = v.namespace.as_str();
    let mut out = vec![json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": v.meta(&full, Some(ns)),
    })];
    if v.webhook
        && let Some(c) = cert
    {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": v.meta(&v.webhook_secret(), Some(ns)),
            "data": {
                "tls.crt": b64(&c.cert),
                "tls.key": b64(&c.key),
                "ca.crt": b64(&c.ca),
            },
        }));
    }
    out.extend(rbac(v));
    if v.leader_elect {
        out.push(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": v.meta(&format!("{full}-leader"), Some(ns)),
        }));
    }
    out.push(service(v));
    out.push(deployment(v));
    if v.webhook {
        out.push(webhook(v, cert));
    }
    out
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn subject(v: &Values) -> Value {
    json!([{ "kind": "ServiceAccount", "name": v.fullname(), "namespace": v.namespace }])
}

fn rbac(v: &Values) -> Vec<Value> {
    let full = v.fullname();
    let ns = &v.namespace;
    let cluster = format!("{full}-{ns}-cluster");
    let workloads = format!("{full}-{ns}-workloads");
    let mut out = vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": v.meta(&cluster, None),
            "rules": [
                { "apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshotcontents"], "verbs": ["get", "list", "create", "delete"] },
                { "apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshotclasses"], "verbs": ["get", "list"] },
                { "apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get"] },
                { "apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"] },
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": v.meta(&cluster, None),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster },
            "subjects": subject(v),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": v.meta(&workloads, None),
            "rules": [
                { "apiGroups": ["cr.kanister.io"], "resources": ["actionsets"], "verbs": ["get", "list", "watch", "update", "patch", "delete"] },
                { "apiGroups": ["cr.kanister.io"], "resources": ["blueprints", "profiles"], "verbs": ["get", "list", "watch"] },
                { "apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"] },
                { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"] },
                { "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] },
                { "apiGroups": [""], "resources": ["pods/exec", "pods/attach"], "verbs": ["get", "create"] },
                { "apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "delete"] },
                { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"] },
                { "apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "create", "delete"] },
                { "apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["get", "list", "watch", "update", "patch"] },
                { "apiGroups": ["apps"], "resources": ["replicasets", "daemonsets"], "verbs": ["get", "list"] },
                { "apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots"], "verbs": ["get", "list", "create", "delete"] },
            ],
        }),
    ];
    let role_ref = json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": workloads });
    if v.all_namespaces {
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": v.meta(&workloads, None),
            "roleRef": role_ref,
            "subjects": subject(v),
        }));
    } else {
        for n in v.workload_namespaces() {
            out.push(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": v.meta(&format!("{full}-workloads"), Some(&n)),
                "roleRef": role_ref,
                "subjects": subject(v),
            }));
        }
    }
    let leader = format!("{full}-leader-election");
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": v.meta(&leader, Some(ns)),
        "rules": [
            { "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch"] },
        ],
    }));
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": v.meta(&leader, Some(ns)),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": leader },
        "subjects": subject(v),
    }));
    out
}

fn service(v: &Values) -> Value {
    let mut meta = v.meta(&v.fullname(), Some(&v.namespace));
    meta["annotations"] = json!({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": v.metrics_port.to_string(),
        "prometheus.io/path": "/metrics",
    });
    let mut ports = vec![json!({
        "name": "metrics", "port": v.metrics_port, "targetPort": "metrics", "protocol": "TCP",
    })];
    if v.webhook {
        ports.push(
            json!({ "name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP" }),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": { "type": "ClusterIP", "selector": v.selector(), "ports": ports },
    })
}

fn deployment(v: &Values) -> Value {
    let mut args = vec!["controller".to_string()];
    if v.all_namespaces {
        args.push("--all-namespaces".into());
    }
    for n in &v.namespaces {
        args.push(format!("--namespace={n}"));
    }
    args.push(format!("--concurrency={}", v.concurrency));
    if v.leader_elect {
        args.push("--leader-elect".into());
        args.push(format!("--lease-name={}-leader", v.fullname()));
        args.push(format!("--lease-duration={}", v.lease_duration));
    }
    args.push(format!("--metrics-addr=0.0.0.0:{}", v.metrics_port));
    if v.webhook {
        args.push(format!("--webhook-addr=0.0.0.0:{}", v.webhook_port));
        args.push("--webhook-cert-dir=/var/run/webhook/serving-cert".into());
    }
    if let Some(t) = &v.ttl_after_finished {
        args.push(format!("--ttl-after-finished={t}"));
    }
    if v.keep_last > 0 {
        args.push(format!("--keep-last={}", v.keep_last));
    }
    let mut env = vec![
        json!({ "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } }),
        json!({ "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } }),
        json!({ "name": "RUST_LOG", "value": v.log_level }),
    ];
    if let Some(t) = &v.tools_image {
        env.push(json!({ "name": "KANISTER_TOOLS", "value": t }));
    }
    let mut ports =
        vec![json!({ "name": "metrics", "containerPort": v.metrics_port, "protocol": "TCP" })];
    if v.webhook {
        ports
            .push(json!({ "name": "webhook", "containerPort": v.webhook_port, "protocol": "TCP" }));
    }
    let mut container = json!({
        "name": "controller",
        "image": v.image,
        "imagePullPolicy": v.pull_policy,
        "args": args,
        "env": env,
        "ports": ports,
        "livenessProbe": {
            "httpGet": { "path": "/healthz", "port": "metrics" },
            "initialDelaySeconds": 5, "periodSeconds": 20, "timeoutSeconds": 2, "failureThreshold": 5,
        },
        "readinessProbe": {
            "httpGet": { "path": "/readyz", "port": "metrics" },
            "initialDelaySeconds": 2, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3,
        },
        "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "512Mi" } },
        "securityContext": {
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "capabilities": { "drop": ["ALL"] },
        },
    });
    let mut pod = json!({
        "serviceAccountName": v.fullname(),
        "terminationGracePeriodSeconds": 60,
        "securityContext": {
            "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
            "seccompProfile": { "type": "RuntimeDefault" },
        },
    });
    if v.webhook {
        container["volumeMounts"] = json!([{
            "name": "webhook-cert", "mountPath": "/var/run/webhook/serving-cert", "readOnly": true,
        }]);
        pod["volumes"] =
            json!([{ "name": "webhook-cert", "secret": { "secretName": v.webhook_secret() } }]);
    }
    pod["containers"] = json!([container]);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": v.meta(&v.fullname(), Some(&v.namespace)),
        "spec": {
            "replicas": v.replicas,
            "selector": { "matchLabels": v.selector() },
            "template": { "metadata": { "labels": v.selector() }, "spec": pod },
        },
    })
}

fn webhook(v: &Values, cert: Option<&Cert>) -> Value {
    let full = v.fullname();
    let hooks: Vec<Value> = [
        ("blueprints", "blueprint", vec!["CREATE", "UPDATE"]),
        ("profiles", "profile", vec!["CREATE", "UPDATE"]),
        ("actionsets", "actionset", vec!["CREATE"]),
    ]
    .into_iter()
    .map(|(plural, path, ops)| {
        let mut client = json!({
            "service": {
                "name": full, "namespace": v.namespace,
                "path": format!("/validate/v1alpha1/{path}"), "port": 443,
            },
        });
        if let Some(c) = cert {
            client["caBundle"] = json!(b64(&c.ca));
        }
        let mut w = json!({
            "name": format!("{plural}.validate.kapsel.dev"),
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": v.failure_policy,
            "timeoutSeconds": 5,
            "clientConfig": client,
            "rules": [{
                "apiGroups": ["cr.kanister.io"], "apiVersions": ["v1alpha1"],
                "resources": [plural], "operations": ops, "scope": "Namespaced",
            }],
        });
        if !v.all_namespaces {
            w["namespaceSelector"] = json!({ "matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In", "values": v.workload_namespaces(),
            }] });
        }
        w
    })
    .collect();
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": v.meta(&format!("{full}-{}", v.namespace), None),
        "webhooks": hooks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_chart() {
        let mut v = Values::default();
        assert_eq!(v.fullname(), "kapsel");
        v.release = "backup".into();
        assert_eq!(v.fullname(), "backup-kapsel");
        v.namespaces = vec!["a".into(), "kapsel-system".into()];
        v.extra_namespaces = vec!["b".into(), "a".into()];
        assert_eq!(v.workload_namespaces(), ["kapsel-system", "a", "b"]);
    }

    #[test]
    fn no_webhook_no_webhook_objects() {
        let v = Values {
            webhook: false,
            ..Values::default()
        };
        let kinds: Vec<&str> = objects(&v, None)
            .iter()
            .filter_map(|o| o["kind"].as_str())
            .map(|k| match k {
                "ValidatingWebhookConfiguration" | "Secret" => "webhook",
                _ => "other",
            })
            .collect();
        assert!(!kinds.contains(&"webhook"), "{kinds:?}");
        let d = deployment(&v);
        assert!(d["spec"]["template"]["spec"]["volumes"].is_null());
    }
}
