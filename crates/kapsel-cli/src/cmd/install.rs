//! `kapsel install` and `kapsel uninstall`: the Helm chart's objects
//! (charts/kapsel, built the same way by `manifests.rs`) applied without
//! Helm, with server-side apply (field manager `kapsel-install`), so that a
//! second install updates in place and takes over the CRDs another tool
//! (Kanister's chart) created without touching existing objects.
//!
//! The webhook's certificate is generated at the first install (a CA and a
//! serving certificate for the Service's DNS names, 10 years, rcgen) and
//! read back from its Secret by later installs, so it does not change.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kapsel_platform_k8s::{ConnectOptions, KubePlatform};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use serde_json::Value;

use super::manifests::{Cert, Values, objects};
use super::{CliError, out};

/// The field manager of `kapsel install`'s server-side applies.
const FIELD_MANAGER: &str = "kapsel-install";

/// Output of `--dry-run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML documents.
    #[default]
    Yaml,
    /// One JSON list.
    Json,
}

/// Where the cluster is.
#[derive(Debug, Args)]
pub struct Cluster {
    /// The kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The controller's namespace (created when missing).
    #[arg(long, short = 'n', default_value = "kapsel-system")]
    pub namespace: String,
    /// The release name (objects are named after it, as `helm install NAME`).
    #[arg(long, default_value = "kapsel")]
    pub name: String,
}

/// `kapsel install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub cluster: Cluster,
    /// The controller image.
    #[arg(long, default_value = "kapsel.local/testbed/kapsel:testbed")]
    pub image: String,
    /// The image pull policy.
    #[arg(long, default_value = "IfNotPresent")]
    pub image_pull_policy: String,
    /// The data functions' default image (KANISTER_TOOLS).
    #[arg(long, value_name = "IMAGE")]
    pub tools_image: Option<String>,
    /// Replicas (beyond 1: standbys, with leader election).
    #[arg(long, default_value_t = 1)]
    pub replicas: u32,
    /// Run without leader election (one replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    /// A namespace whose ActionSets are reconciled (repeatable; default: the
    /// controller's namespace).
    #[arg(long = "watch-namespace", value_name = "NAMESPACE")]
    pub watch_namespaces: Vec<String>,
    /// Reconcile ActionSets in every namespace (workload rights cluster-wide).
    #[arg(long, short = 'A', conflicts_with = "watch_namespaces")]
    pub all_namespaces: bool,
    /// Another namespace the controller may act in (a restore target).
    #[arg(long = "extra-namespace", value_name = "NAMESPACE")]
    pub extra_namespaces: Vec<String>,
    /// At most this many actions at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
    /// Remove finished ActionSets after this long (e.g. 168h).
    #[arg(long, value_name = "DURATION")]
    pub ttl_after_finished: Option<String>,
    /// Keep at least the newest N finished ActionSets per Blueprint and action.
    #[arg(long, default_value_t = 0)]
    pub keep_last: u32,
    /// The controller's log filter (RUST_LOG syntax).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Leave the validating webhook out.
    #[arg(long)]
    pub no_webhook: bool,
    /// Print the objects instead of applying them (with a fresh certificate).
    #[arg(long)]
    pub dry_run: bool,
    /// `--dry-run`'s format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: Format,
    /// Return once applied, without waiting for the controller to be ready.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the controller to be ready.
    #[arg(long, default_value = "180", value_name = "SECONDS")]
    pub timeout: u64,
}

/// `kapsel uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub cluster: Cluster,
    /// Also delete the CRDs, and with them every ActionSet, Blueprint and
    /// Profile in the cluster.
    #[arg(long)]
    pub crds: bool,
}

impl InstallArgs {
    fn values(&self) -> Values {
        Values {
            release: self.cluster.name.clone(),
            namespace: self.cluster.namespace.clone(),
            image: self.image.clone(),
            pull_policy: self.image_pull_policy.clone(),
            tools_image: self.tools_image.clone(),
            replicas: self.replicas,
            leader_elect: !self.no_leader_election,
            all_namespaces: self.all_namespaces,
            namespaces: self.watch_namespaces.clone(),
            extra_namespaces: self.extra_namespaces.clone(),
            concurrency: self.concurrency,
            ttl_after_finished: self.ttl_after_finished.clone(),
            keep_last: self.keep_last,
            log_level: self.log_level.clone(),
            webhook: !self.no_webhook,
            ..Values::default()
        }
    }
}

fn fail(what: &str, message: String, help: &str) -> CliError {
    CliError::Input {
        path: what.to_string(),
        message,
        help: Some(help.to_string()),
    }
}

fn crd_objects() -> Result<Vec<Value>, CliError> {
    kapsel_api::crds()
        .into_iter()
        .map(|c| {
            serde_json::to_value(c).map_err(|e| fail("<crds>", e.to_string(), "a bug: report it"))
        })
        .collect()
}

/// Runs `kapsel install`.
pub fn install(a: InstallArgs) -> Result<ExitCode, CliError> {
    if a.replicas > 1 && a.no_leader_election {
        return Err(fail(
            "--replicas",
            "more than one replica needs leader election".into(),
            "drop --no-leader-election, or use --replicas 1",
        ));
    }
    let v = a.values();
    if a.dry_run {
        let mut all = crd_objects()?;
        all.push(namespace_object(&v.namespace));
        // a fresh certificate, as `helm template` shows (an install reuses
        // the one in the cluster)
        let cert = if v.webhook {
            Some(generate_cert(&v)?)
        } else {
            None
        };
        all.extend(objects(&v, cert.as_ref()));
        return print(&all, a.output);
    }
    runtime()?.block_on(async {
        let k = connect(&a.cluster).await?;
        let client = k.client().clone();
        eprintln!("applying CustomResourceDefinitions (cr.kanister.io)");
        for crd in crd_objects()? {
            apply(&client, &crd).await?;
        }
        wait_established(&client).await?;
        apply(&client, &namespace_object(&v.namespace)).await?;
        let cert = if v.webhook {
            Some(webhook_cert(&client, &v).await?)
        } else {
            None
        };
        for o in objects(&v, cert.as_ref()) {
            apply(&client, &o).await?;
            eprintln!("{} {} applied", kind_of(&o), name_of(&o));
        }
        if !a.no_wait {
            wait_ready(&client, &v, Duration::from_secs(a.timeout)).await?;
        }
        out(&format!(
            "kapsel controller {} installed in namespace {}\n",
            v.fullname(),
            v.namespace
        ))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `kapsel uninstall`: deletes what `install` applied (not the
/// namespace; the CRDs only with `--crds`).
pub fn uninstall(a: UninstallArgs) -> Result<ExitCode, CliError> {
    let v = Values {
        release: a.cluster.name.clone(),
        namespace: a.cluster.namespace.clone(),
        ..Values::default()
    };
    runtime()?.block_on(async {
        let k = connect(&a.cluster).await?;
        let client = k.client().clone();
        // Every object any install could have made: the webhook, the Lease
        // and the RoleBindings of the namespaces found by label.
        let dummy = Cert {
            ca: String::new(),
            cert: String::new(),
            key: String::new(),
        };
        let mut list = objects(&v, Some(&dummy));
        list.reverse();
        let mut deleted = 0usize;
        for o in &list {
            if delete(&client, o).await? {
                eprintln!("{} {} deleted", kind_of(o), name_of(o));
                deleted += 1;
            }
        }
        deleted += delete_role_bindings(&client, &v).await?;
        if a.crds {
            for crd in crd_objects()? {
                if delete(&client, &crd).await? {
                    eprintln!("{} {} deleted", kind_of(&crd), name_of(&crd));
                    deleted += 1;
                }
            }
        }
        out(&format!(
            "kapsel controller {} uninstalled from namespace {} ({deleted} objects deleted{})\n",
            v.fullname(),
            v.namespace,
            if a.crds { "" } else { "; CRDs kept" }
        ))?;
        Ok(ExitCode::SUCCESS)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)
}

async fn connect(c: &Cluster) -> Result<KubePlatform, CliError> {
    let o = ConnectOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
    };
    KubePlatform::connect(&o).await.map_err(|e| {
        fail(
            "--kubeconfig",
            e.to_string(),
            "check the kubeconfig and that the API server is up (`kubectl version`)",
        )
    })
}

fn print(objects: &[Value], f: Format) -> Result<ExitCode, CliError> {
    let text = match f {
        Format::Json => serde_json::to_string_pretty(objects)
            .map(|s| s + "\n")
            .map_err(|e| CliError::Write(std::io::Error::other(e)))?,
        Format::Yaml => {
            let mut s = String::new();
            for o in objects {
                s.push_str("---\n");
                s.push_str(
                    &serde_saphyr::to_string(o)
                        .map_err(|e| CliError::Write(std::io::Error::other(e)))?,
                );
            }
            s
        }
    };
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn namespace_object(ns: &str) -> Value {
    serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } })
}

fn kind_of(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or("object")
}

fn name_of(o: &Value) -> String {
    match (
        o["metadata"]["namespace"].as_str(),
        o["metadata"]["name"].as_str(),
    ) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_string(),
        _ => "?".to_string(),
    }
}

fn gvk(o: &Value) -> Result<GroupVersionKind, CliError> {
    let api_version = o["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Ok(GroupVersionKind::gvk(group, version, kind_of(o)))
}

/// The Api of the object's kind (namespaced or not, from discovery).
async fn api_for(client: &kube::Client, o: &Value) -> Result<Api<DynamicObject>, CliError> {
    let gvk = gvk(o)?;
    let (ar, caps) = pinned_kind(client, &gvk).await.map_err(|e| {
        fail(
            &name_of(o),
            format!("the cluster does not serve {}: {e}", gvk.api_version()),
            "check the Kubernetes version (1.27 or newer) and the API server",
        )
    })?;
    Ok(match (caps.scope, o["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    })
}

async fn apply(client: &kube::Client, o: &Value) -> Result<(), CliError> {
    let api = api_for(client, o).await?;
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let obj: DynamicObject = serde_json::from_value(o.clone())
        .map_err(|e| fail(&name_of(o), e.to_string(), "a bug: report it"))?;
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .map_err(|e| {
        fail(
            &format!("{} {}", kind_of(o), name_of(o)),
            format!("cannot apply: {e}"),
            "installing needs cluster-admin rights (CRDs, ClusterRoles, webhooks)",
        )
    })?;
    Ok(())
}

/// Deletes the object; false when it was not there.
async fn delete(client: &kube::Client, o: &Value) -> Result<bool, CliError> {
    let api = api_for(client, o).await?;
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(fail(
            &format!("{} {}", kind_of(o), name_of(o)),
            format!("cannot delete: {e}"),
            "uninstalling needs the rights installing needed",
        )),
    }
}

/// RoleBindings an install made in other namespaces (found by label).
async fn delete_role_bindings(client: &kube::Client, v: &Values) -> Result<usize, CliError> {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let api: Api<RoleBinding> = Api::all(client.clone());
    let sel = format!(
        "app.kubernetes.io/instance={},app.kubernetes.io/managed-by={}",
        v.release,
        super::manifests::MANAGED_BY
    );
    let list = api
        .list(&kube::api::ListParams::default().labels(&sel))
        .await
        .map_err(|e| {
            fail(
                "RoleBindings",
                e.to_string(),
                "uninstalling needs the rights installing needed",
            )
        })?;
    let mut n = 0;
    for rb in list {
        let (Some(ns), Some(name)) = (rb.metadata.namespace, rb.metadata.name) else {
            continue;
        };
        let api: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {
                eprintln!("RoleBinding {ns}/{name} deleted");
                n += 1;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(fail(
                    &format!("RoleBinding {ns}/{name}"),
                    format!("cannot delete: {e}"),
                    "uninstalling needs the rights installing needed",
                ));
            }
        }
    }
    Ok(n)
}

async fn wait_established(client: &kube::Client) -> Result<(), CliError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in kapsel_api::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let mut tries = 0;
        loop {
            let c = api.get(&name).await.map_err(|e| {
                fail(
                    &format!("CustomResourceDefinition {name}"),
                    e.to_string(),
                    "check the API server",
                )
            })?;
            let established = c
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            tries += 1;
            if tries > 120 {
                return Err(fail(
                    &format!("CustomResourceDefinition {name}"),
                    "not Established after 60 s".into(),
                    "look at its status conditions (`kubectl get crd -o yaml`)",
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

/// The webhook's certificate: read back from its Secret, or made anew.
async fn webhook_cert(client: &kube::Client, v: &Values) -> Result<Cert, CliError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &v.namespace);
    let name = v.webhook_secret();
    if let Some(s) = api.get_opt(&name).await.map_err(|e| {
        fail(
            &format!("Secret {}/{name}", v.namespace),
            e.to_string(),
            "installing needs cluster-admin rights",
        )
    })? {
        let data = s.data.unwrap_or_default();
        let get = |k: &str| {
            data.get(k)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
                .filter(|s| !s.is_empty())
        };
        if let (Some(ca), Some(cert), Some(key)) = (get("ca.crt"), get("tls.crt"), get("tls.key")) {
            return Ok(Cert { ca, cert, key });
        }
    }
    generate_cert(v)
}

/// A CA and a serving certificate for the webhook Service's DNS names.
pub fn generate_cert(v: &Values) -> Result<Cert, CliError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let err = |e: rcgen::Error| fail("webhook certificate", e.to_string(), "a bug: report it");
    let full = v.fullname();
    let now = time::OffsetDateTime::now_utc();
    let later = now + time::Duration::days(3650);

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, format!("{full}-webhook-ca"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now;
    ca.not_after = later;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(vec![
        format!("{full}.{}.svc", v.namespace),
        format!("{full}.{}.svc.cluster.local", v.namespace),
    ])
    .map_err(err)?;
    leaf.distinguished_name.push(DnType::CommonName, full);
    leaf.not_before = now;
    leaf.not_after = later;
    let cert = leaf.signed_by(&key, &issuer).map_err(err)?;
    Ok(Cert {
        ca: ca_cert.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

async fn wait_ready(client: &kube::Client, v: &Values, timeout: Duration) -> Result<(), CliError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &v.namespace);
    let name = v.fullname();
    let deadline = tokio::time::Instant::now() + timeout;
    eprintln!("waiting for deployment {}/{name} to be ready", v.namespace);
    loop {
        let d = api.get(&name).await.map_err(|e| {
            fail(
                &format!("Deployment {}/{name}", v.namespace),
                e.to_string(),
                "check the API server",
            )
        })?;
        let gen_seen = d.status.as_ref().and_then(|s| s.observed_generation);
        let s = d.status.unwrap_or_default();
        let want = d.spec.replicas.unwrap_or(1);
        if gen_seen >= d.metadata.generation
            && s.updated_replicas.unwrap_or(0) >= want
            && s.available_replicas.unwrap_or(0) >= want
            && s.replicas.unwrap_or(0) == want
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(
                &format!("Deployment {}/{name}", v.namespace),
                format!(
                    "not ready after {} s ({} of {want} replicas available)",
                    timeout.as_secs(),
                    s.available_replicas.unwrap_or(0)
                ),
                "look at its pods: `kubectl -n <namespace> describe pods -l app.kubernetes.io/name=kapsel` and their logs",
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
