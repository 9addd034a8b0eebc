//! Errors of the Kubernetes platform, each saying what to do.

use kapsel_engine::platform::PlatformError;

/// A failure of the Kubernetes platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// No cluster could be reached.
    #[error("cannot reach a Kubernetes cluster through {tried}: {message}")]
    Connect {
        /// What was tried (kubeconfig path, in-cluster, ...).
        tried: String,
        /// Why it failed.
        message: String,
    },
    /// An object does not exist.
    #[error("{kind} {namespace}/{name} not found{hint}")]
    NotFound {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// A hint, starting with "; " when not empty.
        hint: String,
    },
    /// The credentials lack a permission (the API server's 403).
    #[error(
        "permission denied: cannot {verb} {resource} in namespace {namespace:?} ({message}); grant the verb on the resource to the user or service account (RBAC)"
    )]
    Forbidden {
        /// The verb (get, create, ...).
        verb: String,
        /// The resource (pods, pods/exec, ...).
        resource: String,
        /// The namespace.
        namespace: String,
        /// The API server's message.
        message: String,
    },
    /// A request failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A pod could not start (image pull, configuration, scheduling).
    #[error("pod {namespace}/{pod} cannot start: {reason}")]
    PodStart {
        /// Namespace.
        namespace: String,
        /// The pod.
        pod: String,
        /// Why (the container's waiting reason and message, or the pod's
        /// condition).
        reason: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl From<KubeError> for PlatformError {
    fn from(e: KubeError) -> PlatformError {
        match e {
            KubeError::NotFound {
                kind,
                namespace,
                name,
                hint,
            } => PlatformError::NotFound {
                kind,
                namespace,
                name,
                hint,
            },
            other => PlatformError::Other(other.to_string()),
        }
    }
}

/// Turns a client error on `verb` of `resource` `namespace/name` into a
/// [`KubeError`] that names the object (404) or the missing permission (403).
pub(crate) fn api_error(
    e: kube::Error,
    verb: &str,
    kind: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> KubeError {
    match &e {
        kube::Error::Api(s) if s.code == 404 => KubeError::NotFound {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            hint: format!(
                "; check the name and namespace (`kubectl get {resource} -n {namespace}`)"
            ),
        },
        kube::Error::Api(s) if s.code == 403 => KubeError::Forbidden {
            verb: verb.to_string(),
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            message: s.message.clone(),
        },
        _ => KubeError::Api {
            what: format!("cannot {verb} {kind} {namespace}/{name}"),
            source: e,
        },
    }
}
