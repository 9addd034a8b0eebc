//! The Go types of Kanister's template parameters (`pkg/param`), with Kanister's
//! package-qualified type names, field names and field order: text/template
//! shows them in error messages (`nil pointer evaluating
//! *param.StatefulSetParams.Name`) and `toJson`/`%v` walk fields in that order.

use std::sync::{Arc, LazyLock};

use kapsel_govalue::{FieldDef, JsonField, StructType, Type};

fn untagged(name: &str, ty: Type) -> FieldDef {
    FieldDef::new(name, ty, JsonField::Untagged)
}

fn tagged(name: &str, key: &str, omitempty: bool, ty: Type) -> FieldDef {
    FieldDef::new(
        name,
        ty,
        JsonField::Named {
            key: key.to_string(),
            omitempty,
        },
    )
}

fn st(name: &str, fields: Vec<FieldDef>) -> Arc<StructType> {
    Arc::new(StructType {
        name: name.to_string(),
        fields,
    })
}

fn map_string() -> Type {
    Type::map(Type::String)
}

/// `param.StatefulSetParams`, `param.DeploymentParams`,
/// `param.DeploymentConfigParams`: the same fields under three names.
fn workload(name: &str) -> Arc<StructType> {
    st(
        name,
        vec![
            untagged("Name", Type::String),
            untagged("Namespace", Type::String),
            untagged("Pods", Type::slice(Type::String)),
            untagged("Containers", Type::slice(Type::slice(Type::String))),
            untagged("PersistentVolumeClaims", Type::map(map_string())),
        ],
    )
}

/// The struct types, built once.
pub struct Types {
    /// `param.TemplateParams`
    pub template_params: Arc<StructType>,
    /// `param.StatefulSetParams`
    pub stateful_set: Arc<StructType>,
    /// `param.DeploymentParams`
    pub deployment: Arc<StructType>,
    /// `param.DeploymentConfigParams`
    pub deployment_config: Arc<StructType>,
    /// `param.PVCParams`
    pub pvc: Arc<StructType>,
    /// `param.NamespaceParams`
    pub namespace: Arc<StructType>,
    /// `v1alpha1.Artifact`
    pub artifact: Arc<StructType>,
    /// `param.Profile`
    pub profile: Arc<StructType>,
    /// `v1alpha1.Location`
    pub location: Arc<StructType>,
    /// `param.Credential`
    pub credential: Arc<StructType>,
    /// `param.KeyPair`
    pub key_pair: Arc<StructType>,
    /// `param.KopiaServerCreds`
    pub kopia_creds: Arc<StructType>,
    /// `param.Phase`
    pub phase: Arc<StructType>,
    /// `v1.TypeMeta`
    pub type_meta: Arc<StructType>,
    /// `v1.ObjectMeta`
    pub object_meta: Arc<StructType>,
    /// `v1.Secret`
    pub secret: Arc<StructType>,
    /// `v1.ConfigMap`
    pub config_map: Arc<StructType>,
}

/// The types.
pub static TYPES: LazyLock<Types> = LazyLock::new(|| {
    let type_meta = st(
        "v1.TypeMeta",
        vec![
            tagged("Kind", "kind", true, Type::String),
            tagged("APIVersion", "apiVersion", true, Type::String),
        ],
    );
    let object_meta = st(
        "v1.ObjectMeta",
        vec![
            tagged("Name", "name", true, Type::String),
            tagged("GenerateName", "generateName", true, Type::String),
            tagged("Namespace", "namespace", true, Type::String),
            tagged("SelfLink", "selfLink", true, Type::String),
            tagged("UID", "uid", true, Type::String),
            tagged("ResourceVersion", "resourceVersion", true, Type::String),
            tagged("Generation", "generation", true, Type::Int64),
            // metav1.Time: a zero time marshals as null. Modelled as *time.Time
            // (nil when unset), which marshals alike.
            tagged(
                "CreationTimestamp",
                "creationTimestamp",
                false,
                Type::ptr(Type::Time),
            ),
            tagged(
                "DeletionTimestamp",
                "deletionTimestamp",
                true,
                Type::ptr(Type::Time),
            ),
            tagged(
                "DeletionGracePeriodSeconds",
                "deletionGracePeriodSeconds",
                true,
                Type::ptr(Type::Int64),
            ),
            tagged("Labels", "labels", true, map_string()),
            tagged("Annotations", "annotations", true, map_string()),
            // Owner references and managed fields are kept as generic JSON.
            tagged(
                "OwnerReferences",
                "ownerReferences",
                true,
                Type::slice(Type::Any),
            ),
            tagged("Finalizers", "finalizers", true, Type::slice(Type::String)),
            tagged(
                "ManagedFields",
                "managedFields",
                true,
                Type::slice(Type::Any),
            ),
        ],
    );
    // Kubernetes objects embed TypeMeta (inlined in JSON) and ObjectMeta
    // (`metadata`), whose fields are promoted (`.Name`).
    let k8s_object = |name: &str, fields: Vec<FieldDef>| {
        let mut all = vec![
            FieldDef::embedded(
                "TypeMeta",
                Type::Struct(type_meta.clone()),
                JsonField::Inline,
            ),
            FieldDef::embedded(
                "ObjectMeta",
                Type::Struct(object_meta.clone()),
                JsonField::Named {
                    key: "metadata".to_string(),
                    omitempty: true,
                },
            ),
        ];
        all.extend(fields);
        st(name, all)
    };
    let secret = k8s_object(
        "v1.Secret",
        vec![
            tagged("Immutable", "immutable", true, Type::ptr(Type::Bool)),
            tagged("Data", "data", true, Type::map(Type::Bytes)),
            tagged("StringData", "stringData", true, map_string()),
            tagged("Type", "type", true, Type::String),
        ],
    );
    let config_map = k8s_object(
        "v1.ConfigMap",
        vec![
            tagged("Immutable", "immutable", true, Type::ptr(Type::Bool)),
            tagged("Data", "data", true, map_string()),
            tagged("BinaryData", "binaryData", true, Type::map(Type::Bytes)),
        ],
    );
    let artifact = st(
        "v1alpha1.Artifact",
        vec![
            tagged("KeyValue", "keyValue", true, map_string()),
            tagged("KopiaSnapshot", "kopiaSnapshot", true, Type::String),
        ],
    );
    let location = st(
        "v1alpha1.Location",
        vec![
            tagged("Type", "type", false, Type::String),
            tagged("Bucket", "bucket", false, Type::String),
            tagged("Endpoint", "endpoint", false, Type::String),
            tagged("Prefix", "prefix", false, Type::String),
            tagged("Region", "region", false, Type::String),
        ],
    );
    let key_pair = st(
        "param.KeyPair",
        vec![
            untagged("ID", Type::String),
            untagged("Secret", Type::String),
        ],
    );
    let kopia_creds = st(
        "param.KopiaServerCreds",
        vec![
            untagged("Username", Type::String),
            untagged("Hostname", Type::String),
            untagged("Password", Type::String),
            untagged("Cert", Type::String),
            untagged("ConnectOptions", Type::map(Type::Int)),
        ],
    );
    let credential = st(
        "param.Credential",
        vec![
            untagged("Type", Type::String),
            untagged("KeyPair", Type::ptr(Type::Struct(key_pair.clone()))),
            untagged("Secret", Type::ptr(Type::Struct(secret.clone()))),
            untagged(
                "KopiaServerSecret",
                Type::ptr(Type::Struct(kopia_creds.clone())),
            ),
        ],
    );
    let profile = st(
        "param.Profile",
        vec![
            untagged("Location", Type::Struct(location.clone())),
            untagged("Credential", Type::Struct(credential.clone())),
            untagged("SkipSSLVerify", Type::Bool),
        ],
    );
    let phase = st(
        "param.Phase",
        vec![
            untagged("Secrets", Type::map(Type::Struct(secret.clone()))),
            untagged("ConfigMaps", Type::map(Type::Struct(config_map.clone()))),
            untagged("Output", Type::map(Type::Any)),
        ],
    );
    let stateful_set = workload("param.StatefulSetParams");
    let deployment = workload("param.DeploymentParams");
    let deployment_config = workload("param.DeploymentConfigParams");
    let pvc = st(
        "param.PVCParams",
        vec![
            untagged("Name", Type::String),
            untagged("Namespace", Type::String),
        ],
    );
    let namespace = st(
        "param.NamespaceParams",
        vec![
            untagged("Name", Type::String),
            untagged("Namespace", Type::String),
        ],
    );
    let phase_ptr = Type::ptr(Type::Struct(phase.clone()));
    let template_params = st(
        "param.TemplateParams",
        vec![
            untagged("StatefulSet", Type::ptr(Type::Struct(stateful_set.clone()))),
            untagged(
                "DeploymentConfig",
                Type::ptr(Type::Struct(deployment_config.clone())),
            ),
            untagged("Deployment", Type::ptr(Type::Struct(deployment.clone()))),
            untagged("PVC", Type::ptr(Type::Struct(pvc.clone()))),
            untagged("Namespace", Type::ptr(Type::Struct(namespace.clone()))),
            untagged("ArtifactsIn", Type::map(Type::Struct(artifact.clone()))),
            untagged("ConfigMaps", Type::map(Type::Struct(config_map.clone()))),
            untagged("Secrets", Type::map(Type::Struct(secret.clone()))),
            untagged("Time", Type::String),
            untagged("Profile", Type::ptr(Type::Struct(profile.clone()))),
            untagged("Options", map_string()),
            untagged("Object", Type::map(Type::Any)),
            untagged("CurrentPhase", phase_ptr.clone()),
            untagged("Phases", Type::map(phase_ptr.clone())),
            untagged("DeferPhase", phase_ptr),
            // v1alpha1.JSONMap is a map[string]interface{}.
            untagged("PodOverride", Type::map(Type::Any)),
            untagged("PodAnnotations", map_string()),
            untagged("PodLabels", map_string()),
        ],
    );
    Types {
        template_params,
        stateful_set,
        deployment,
        deployment_config,
        pvc,
        namespace,
        artifact,
        profile,
        location,
        credential,
        key_pair,
        kopia_creds,
        phase,
        type_meta,
        object_meta,
        secret,
        config_map,
    }
});
