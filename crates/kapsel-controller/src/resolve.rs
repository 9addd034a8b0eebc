//! What an action needs from the cluster: its Blueprint and Profile (the
//! ActionSet's namespace first, then the controller's: kanister#1522),
//! Secrets and ConfigMaps (the reference's namespace, else the object's,
//! as `kapsel run --actionset`), the object's parameters; then the engine's
//! request (`kapsel_engine::actionset::request`, shared with `kapsel run`).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Secret;
use kapsel_api::{ActionSpec, Blueprint, ObjectReference, Profile};
use kapsel_engine::ActionRequest;
use kapsel_engine::actionset::{Resolved, request as engine_request};
use kapsel_params::file::ProfileParams;
use kapsel_params::profile::{ResolveError, resolve_profile};
use kube::Api;

use crate::Shared;

/// What Kanister's `validate.ActionSet` would refuse in one action.
pub(crate) fn invalid(spec: &ActionSpec) -> Option<String> {
    let missing: Vec<&str> = [
        ("name", spec.name.is_empty()),
        ("blueprint", spec.blueprint.is_empty()),
        ("object.kind", spec.object.kind.is_empty()),
        ("object.name", spec.object.name.is_empty()),
    ]
    .into_iter()
    .filter_map(|(f, empty)| empty.then_some(f))
    .collect();
    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
}

/// The namespaces to look in: `first`, then the controller's.
fn lookup_order<'a>(shared: &'a Shared, first: &'a str) -> Vec<&'a str> {
    let home = shared.config.home_namespace.as_str();
    if home.is_empty() || home == first {
        vec![first]
    } else {
        vec![first, home]
    }
}

/// The Blueprint `name`, from `namespace` or the controller's namespace.
pub(crate) async fn blueprint(
    shared: &Shared,
    namespace: &str,
    name: &str,
) -> Result<Blueprint, String> {
    let order = lookup_order(shared, namespace);
    for ns in &order {
        let api: Api<Blueprint> = Api::namespaced(shared.client.clone(), ns);
        match api.get_opt(name).await {
            Ok(Some(b)) => return Ok(b),
            Ok(None) => {}
            Err(e) => return Err(format!("reading Blueprint {ns}/{name}: {e}")),
        }
    }
    Err(format!(
        "Blueprint {name:?} not found (looked in namespace {})",
        order.join(" and ")
    ))
}

/// The Profile the action names: in its namespace when the reference has
/// one, else the ActionSet's namespace, then the controller's.
async fn profile(shared: &Shared, set_ns: &str, r: &ObjectReference) -> Result<Profile, String> {
    let order = if r.namespace.is_empty() {
        lookup_order(shared, set_ns)
    } else {
        vec![r.namespace.as_str()]
    };
    for ns in &order {
        let api: Api<Profile> = Api::namespaced(shared.client.clone(), ns);
        match api.get_opt(&r.name).await {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {}
            Err(e) => return Err(format!("reading Profile {ns}/{}: {e}", r.name)),
        }
    }
    Err(format!(
        "Profile {:?} not found (looked in namespace {})",
        r.name,
        order.join(" and ")
    ))
}

/// The Profile's credential resolved, its Secrets read from the cluster
/// (`resolve_profile` asks for them synchronously: each one it asks for is
/// fetched and the resolution repeated).
async fn resolved_profile(shared: &Shared, p: &Profile) -> Result<ProfileParams, String> {
    let mut fetched: HashMap<(String, String), Secret> = HashMap::new();
    for _ in 0..4 {
        let mut wanted = None;
        let r = resolve_profile(p, |ns, name| {
            let k = (ns.to_string(), name.to_string());
            match fetched.get(&k) {
                Some(s) => Ok(s.clone()),
                None => {
                    wanted = Some(k);
                    Err(String::new())
                }
            }
        });
        match r {
            Ok(params) => return Ok(params),
            Err(ResolveError::Secret(_)) if wanted.is_some() => {
                let Some((ns, name)) = wanted else { break };
                let s = shared
                    .platform
                    .get_secret(&ns, &name)
                    .await
                    .map_err(|e| format!("the Profile's credential: {e}"))?;
                fetched.insert((ns, name), s);
            }
            Err(e) => return Err(format!("the Profile: {e}")),
        }
    }
    Err("the Profile's credential could not be resolved".to_string())
}

/// A reference's namespace, the object's when it has none.
fn namespace_of<'a>(r: &'a ObjectReference, object: &'a ObjectReference) -> &'a str {
    if r.namespace.is_empty() {
        &object.namespace
    } else {
        &r.namespace
    }
}

/// The engine's request for one action of the ActionSet in `set_ns`, its
/// task pods labelled with the ActionSet's name and uid (so that a
/// restarted controller finds them). Errors name what is missing.
pub(crate) async fn request(
    shared: &Shared,
    set_ns: &str,
    set_name: &str,
    set_uid: &str,
    spec: &ActionSpec,
) -> Result<ActionRequest, String> {
    let bp = blueprint(shared, set_ns, &spec.blueprint).await?;
    let action = bp
        .action(&spec.name)
        .cloned()
        .ok_or_else(|| format!("Blueprint {} has no action {:?}", spec.blueprint, spec.name))?;
    let o = &spec.object;
    let params = shared
        .platform
        .object_params(&o.kind, &o.namespace, &o.name)
        .await
        .map_err(|e| e.to_string())?;
    let mut secrets = BTreeMap::new();
    for (name, r) in &spec.secrets {
        let ns = namespace_of(r, o);
        let s = shared
            .platform
            .get_secret(ns, &r.name)
            .await
            .map_err(|e| format!("secret {name}: {e}"))?;
        secrets.insert(name.clone(), s);
    }
    let mut config_maps = BTreeMap::new();
    for (name, r) in &spec.config_maps {
        let ns = namespace_of(r, o);
        let c = shared
            .platform
            .get_config_map(ns, &r.name)
            .await
            .map_err(|e| format!("configMap {name}: {e}"))?;
        config_maps.insert(name.clone(), c);
    }
    let profile = match &spec.profile {
        None => None,
        Some(r) => Some(resolved_profile(shared, &profile(shared, set_ns, r).await?).await?),
    };
    let mut req = engine_request(
        spec,
        action,
        params,
        Resolved {
            secrets,
            config_maps,
            profile,
            phase_timeout: None,
            action_timeout: None,
        },
    );
    req.pod
        .labels
        .insert(crate::ACTIONSET_UID_LABEL.to_string(), set_uid.to_string());
    req.pod.labels.insert(
        crate::ACTIONSET_NAME_LABEL.to_string(),
        kapsel_platform_k8s::runner::label_value(set_name),
    );
    Ok(req)
}
