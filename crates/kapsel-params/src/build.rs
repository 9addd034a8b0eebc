//! Turning a [`RenderParams`] into the `param.TemplateParams` value templates see.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kapsel_govalue::{GoTime, Struct, StructType, TimeLoc, Type, Value};

use crate::file::{PhaseParams, ProfileParams, RenderParams};
use crate::types::TYPES;

fn strct(ty: &Arc<StructType>, fields: Vec<Value>) -> Value {
    Value::Struct(Arc::new(Struct {
        ty: ty.clone(),
        fields,
    }))
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::map(
        Type::String,
        m.iter()
            .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
            .collect(),
    )
}

fn opt_string_map(m: Option<&BTreeMap<String, String>>) -> Value {
    m.map_or(Value::NilMap(Type::String), string_map)
}

fn unstructured(m: &serde_json::Map<String, serde_json::Value>) -> Value {
    Value::from_unstructured_json(&serde_json::Value::Object(m.clone()))
}

fn time(t: &Time) -> Value {
    let ts = t.0;
    Value::ptr(Value::Time(Arc::new(GoTime {
        unix_secs: ts.as_second(),
        nanos: u32::try_from(ts.subsec_nanosecond()).unwrap_or(0),
        offset_secs: 0,
        zone_name: "UTC".to_string(),
        // metav1.Time decodes to t.Local(): Go's `loc` is time.Local.
        loc: TimeLoc::Local,
    })))
}

fn object_meta(m: &ObjectMeta) -> Value {
    let s = |v: &Option<String>| Value::string(v.clone().unwrap_or_default());
    let json_list = |v: Vec<serde_json::Value>| {
        Value::slice(Type::Any, v.iter().map(Value::from_json).collect())
    };
    strct(
        &TYPES.object_meta,
        vec![
            s(&m.name),
            s(&m.generate_name),
            s(&m.namespace),
            s(&m.self_link),
            s(&m.uid),
            s(&m.resource_version),
            Value::Int64(m.generation.unwrap_or(0)),
            m.creation_timestamp
                .as_ref()
                .map_or(Value::NilPtr(Type::Time), time),
            m.deletion_timestamp
                .as_ref()
                .map_or(Value::NilPtr(Type::Time), time),
            m.deletion_grace_period_seconds
                .map_or(Value::NilPtr(Type::Int64), |v| Value::ptr(Value::Int64(v))),
            opt_string_map(m.labels.as_ref()),
            opt_string_map(m.annotations.as_ref()),
            m.owner_references
                .as_ref()
                .map_or(Value::NilSlice(Type::Any), |o| {
                    json_list(
                        o.iter()
                            .filter_map(|r| serde_json::to_value(r).ok())
                            .collect(),
                    )
                }),
            m.finalizers
                .as_ref()
                .map_or(Value::NilSlice(Type::String), |f| {
                    Value::slice(
                        Type::String,
                        f.iter().map(|s| Value::string(s.as_str())).collect(),
                    )
                }),
            m.managed_fields
                .as_ref()
                .map_or(Value::NilSlice(Type::Any), |o| {
                    json_list(
                        o.iter()
                            .filter_map(|r| serde_json::to_value(r).ok())
                            .collect(),
                    )
                }),
        ],
    )
}

/// Kanister's typed clients return objects with an empty TypeMeta.
fn empty_type_meta() -> Value {
    strct(&TYPES.type_meta, vec![Value::string(""), Value::string("")])
}

fn bytes_map(m: Option<&BTreeMap<String, k8s_openapi::ByteString>>) -> Value {
    m.map_or(Value::NilMap(Type::Bytes), |m| {
        Value::map(
            Type::Bytes,
            m.iter()
                .map(|(k, v)| (k.clone(), Value::bytes(v.0.clone())))
                .collect(),
        )
    })
}

/// A `v1.Secret` value.
pub fn secret(s: &Secret) -> Value {
    strct(
        &TYPES.secret,
        vec![
            empty_type_meta(),
            object_meta(&s.metadata),
            s.immutable
                .map_or(Value::NilPtr(Type::Bool), |b| Value::ptr(Value::Bool(b))),
            bytes_map(s.data.as_ref()),
            opt_string_map(s.string_data.as_ref()),
            Value::string(s.type_.clone().unwrap_or_default()),
        ],
    )
}

/// A `v1.ConfigMap` value.
pub fn config_map(c: &ConfigMap) -> Value {
    strct(
        &TYPES.config_map,
        vec![
            empty_type_meta(),
            object_meta(&c.metadata),
            c.immutable
                .map_or(Value::NilPtr(Type::Bool), |b| Value::ptr(Value::Bool(b))),
            opt_string_map(c.data.as_ref()),
            bytes_map(c.binary_data.as_ref()),
        ],
    )
}

fn secrets(m: &BTreeMap<String, Secret>) -> Value {
    Value::map(
        Type::Struct(TYPES.secret.clone()),
        m.iter().map(|(k, v)| (k.clone(), secret(v))).collect(),
    )
}

fn config_maps(m: &BTreeMap<String, ConfigMap>) -> Value {
    Value::map(
        Type::Struct(TYPES.config_map.clone()),
        m.iter().map(|(k, v)| (k.clone(), config_map(v))).collect(),
    )
}

/// A `*param.Phase` with the given Secrets and ConfigMaps and, when
/// `with_output`, the output.
pub fn phase(p: &PhaseParams, with_output: bool) -> Value {
    let output = match (&p.output, with_output) {
        (Some(o), true) => Value::from_json(&serde_json::Value::Object(o.clone())),
        _ => Value::NilMap(Type::Any),
    };
    Value::ptr(strct(
        &TYPES.phase,
        vec![secrets(&p.secrets), config_maps(&p.config_maps), output],
    ))
}

/// The empty `&Phase{}` Kanister starts `.DeferPhase` with.
pub fn empty_phase() -> Value {
    Value::ptr(strct(
        &TYPES.phase,
        vec![
            Value::NilMap(Type::Struct(TYPES.secret.clone())),
            Value::NilMap(Type::Struct(TYPES.config_map.clone())),
            Value::NilMap(Type::Any),
        ],
    ))
}

fn profile(p: &ProfileParams) -> Value {
    let l = &p.location;
    let location = strct(
        &TYPES.location,
        [&l.type_, &l.bucket, &l.endpoint, &l.prefix, &l.region]
            .into_iter()
            .map(|s| Value::string(s.as_str()))
            .collect(),
    );
    let c = &p.credential;
    let key_pair =
        c.key_pair
            .as_ref()
            .map_or(Value::NilPtr(Type::Struct(TYPES.key_pair.clone())), |k| {
                Value::ptr(strct(
                    &TYPES.key_pair,
                    vec![
                        Value::string(k.id.as_str()),
                        Value::string(k.secret.as_str()),
                    ],
                ))
            });
    let secret_v = c
        .secret
        .as_ref()
        .map_or(Value::NilPtr(Type::Struct(TYPES.secret.clone())), |s| {
            Value::ptr(secret(s))
        });
    let kopia = c.kopia_server_secret.as_ref().map_or(
        Value::NilPtr(Type::Struct(TYPES.kopia_creds.clone())),
        |k| {
            let opts = k
                .connect_options
                .as_ref()
                .map_or(Value::NilMap(Type::Int), |o| {
                    Value::map(
                        Type::Int,
                        o.iter().map(|(k, v)| (k.clone(), Value::Int(*v))).collect(),
                    )
                });
            Value::ptr(strct(
                &TYPES.kopia_creds,
                vec![
                    Value::string(k.username.as_str()),
                    Value::string(k.hostname.as_str()),
                    Value::string(k.password.as_str()),
                    Value::string(k.cert.as_str()),
                    opts,
                ],
            ))
        },
    );
    let credential = strct(
        &TYPES.credential,
        vec![Value::string(c.type_.as_str()), key_pair, secret_v, kopia],
    );
    Value::ptr(strct(
        &TYPES.profile,
        vec![location, credential, Value::Bool(p.skip_ssl_verify)],
    ))
}

/// Why parameters cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// `workload` given for an object that is not a workload.
    #[error(
        "`workload` is only allowed for StatefulSet, Deployment and DeploymentConfig objects, not for kind {kind:?}"
    )]
    WorkloadForKind {
        /// The object's kind.
        kind: String,
    },
}

/// Which `.Phases`/`.DeferPhase` a render step sees.
#[derive(Debug, Clone)]
pub struct PhaseState {
    /// `.Phases`.
    pub phases: BTreeMap<String, Value>,
    /// `.DeferPhase`.
    pub defer_phase: Value,
}

impl PhaseState {
    /// The state right after Kanister's `param.New`: no phases, an empty defer
    /// phase.
    pub fn initial() -> PhaseState {
        PhaseState {
            phases: BTreeMap::new(),
            defer_phase: empty_phase(),
        }
    }
}

fn object_field<'a>(
    obj: Option<&'a serde_json::Map<String, serde_json::Value>>,
    path: &[&str],
) -> &'a str {
    let mut cur = obj.and_then(|o| o.get(path[0]));
    for p in &path[1..] {
        cur = cur.and_then(|c| c.get(*p));
    }
    cur.and_then(|v| v.as_str()).unwrap_or("")
}

/// Builds `param.TemplateParams`.
pub fn template_params(p: &RenderParams, state: &PhaseState) -> Result<Value, ParamsError> {
    let t = &*TYPES;
    let obj = p.object.as_ref();
    let kind = object_field(obj, &["kind"]).to_ascii_lowercase();
    let name = Value::string(object_field(obj, &["metadata", "name"]));
    let namespace = Value::string(object_field(obj, &["metadata", "namespace"]));
    let nil = |st: &Arc<StructType>| Value::NilPtr(Type::Struct(st.clone()));
    let (mut sts, mut dc, mut dep, mut pvc, mut ns) = (
        nil(&t.stateful_set),
        nil(&t.deployment_config),
        nil(&t.deployment),
        nil(&t.pvc),
        nil(&t.namespace),
    );
    let workload = |st: &Arc<StructType>| {
        let w = p.workload.clone().unwrap_or_default();
        let strs = |v: &[String]| {
            Value::slice(
                Type::String,
                v.iter().map(|s| Value::string(s.as_str())).collect(),
            )
        };
        let pods = strs(w.pods.as_deref().unwrap_or_default());
        let containers = Value::slice(
            Type::slice(Type::String),
            w.containers
                .unwrap_or_default()
                .iter()
                .map(|c| strs(c.as_deref().unwrap_or_default()))
                .collect(),
        );
        let pvcs = Value::map(
            Type::map(Type::String),
            w.persistent_volume_claims
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (k.clone(), string_map(v)))
                .collect(),
        );
        Value::ptr(strct(
            st,
            vec![name.clone(), namespace.clone(), pods, containers, pvcs],
        ))
    };
    match kind.as_str() {
        "statefulset" => sts = workload(&t.stateful_set),
        "deploymentconfig" => dc = workload(&t.deployment_config),
        "deployment" => dep = workload(&t.deployment),
        other => {
            if p.workload.is_some() {
                return Err(ParamsError::WorkloadForKind {
                    kind: object_field(obj, &["kind"]).to_string(),
                });
            }
            match other {
                "persistentvolumeclaim" | "pvc" => {
                    pvc = Value::ptr(strct(&t.pvc, vec![name.clone(), namespace.clone()]));
                }
                "namespace" => {
                    ns = Value::ptr(strct(&t.namespace, vec![name.clone(), name.clone()]));
                }
                _ => {}
            }
        }
    }
    let artifacts =
        p.artifacts_in
            .as_ref()
            .map_or(Value::NilMap(Type::Struct(t.artifact.clone())), |a| {
                Value::map(
                    Type::Struct(t.artifact.clone()),
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                strct(
                                    &t.artifact,
                                    vec![
                                        opt_string_map(v.key_value.as_ref()),
                                        Value::string(v.kopia_snapshot.as_str()),
                                    ],
                                ),
                            )
                        })
                        .collect(),
                )
            });
    let phase_ptr = Type::ptr(Type::Struct(t.phase.clone()));
    Ok(strct(
        &t.template_params,
        vec![
            sts,
            dc,
            dep,
            pvc,
            ns,
            artifacts,
            config_maps(&p.config_maps),
            secrets(&p.secrets),
            Value::string(p.time.as_str()),
            p.profile.as_ref().map_or(nil(&t.profile), profile),
            opt_string_map(p.options.as_ref()),
            obj.map_or(Value::NilMap(Type::Any), unstructured),
            Value::NilPtr(Type::Struct(t.phase.clone())),
            Value::map(phase_ptr, state.phases.clone()),
            state.defer_phase.clone(),
            p.pod_override
                .as_ref()
                .map_or(Value::NilMap(Type::Any), unstructured),
            opt_string_map(p.pod_annotations.as_ref()),
            opt_string_map(p.pod_labels.as_ref()),
        ],
    ))
}
