//! `kapsel run --actionset FILE`: the plan for a Kanister ActionSet, one
//! action per `spec.actions[]` entry (run concurrently by `run::execute`).
//!
//! Everything an action needs is found before any action runs, so a wrong
//! name stops the command with exit 2 and nothing run:
//! - its Blueprint among the `--blueprint` files, by `metadata.name`;
//! - its object in the inventory;
//! - its Secrets (`secrets`, by namespace/name: the `--secret` files, then
//!   the inventory; `--secret NAME=FILE` sets `.Secrets.NAME` of every
//!   action) and ConfigMaps (`configMaps`, the inventory);
//! - its Profile among the `--profile` files, by `metadata.name` (and
//!   namespace, when both say one), its credential resolved as for `--action`.
//!
//! A reference without a namespace is looked up in the object's namespace.
//! `--option`, `--function-version`, `--timeout` and `--phase-timeout` apply
//! to every action, over the ActionSet's values (as `kanctl`'s flags override
//! a parent's). A `status` in the file (an ActionSet `kapsel run` wrote) is
//! ignored with a note: only the spec is run.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kapsel_api::{API_VERSION, ActionSet, ActionSpec, ObjectReference};

use super::CliError;
use super::read;
use super::run::{
    Plan, Prepared, RunArgs, World, input, kv, object_text, reference, request, yaml_error,
};
use kapsel_api::check::actionset_findings;

/// Reads, checks and resolves the ActionSet in `file`.
pub(crate) fn plan(a: &RunArgs, w: &World, file: &str) -> Result<Plan, CliError> {
    let text = read(file)?;
    let doc: serde_json::Value = kapsel_yaml::to_value(&text).map_err(|e| {
        input(
            file,
            format!("not valid YAML: {}", yaml_error(file, &e)),
            None,
        )
    })?;
    let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    if kind != "ActionSet" {
        return Err(input(
            file,
            if kind.is_empty() {
                "not an ActionSet: `kind` is missing".to_string()
            } else {
                format!("not an ActionSet: its kind is {kind}")
            },
            Some(
                "--actionset takes a Kanister ActionSet (kind: ActionSet); Blueprints go to --blueprint",
            ),
        ));
    }
    let api_version = doc
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or_default();
    if api_version != API_VERSION {
        return Err(input(
            file,
            format!("apiVersion is {api_version:?}, not {API_VERSION}"),
            Some(&format!("write apiVersion: {API_VERSION}")),
        ));
    }
    // Typed from the text, so that a wrong type is reported at its line and
    // column.
    let set: ActionSet = kapsel_yaml::from_str(&text).map_err(|e| {
        input(
            file,
            format!("not a valid ActionSet: {}", yaml_error(file, &e)),
            None,
        )
    })?;
    let unknown = kapsel_api::decode::<ActionSet>(doc)
        .map(|d| d.unknown_fields)
        .unwrap_or_default();
    let mut notes: Vec<String> = unknown
        .iter()
        .map(|f| {
            format!("{file}: {f}: no Kanister type has this field: Kanister drops it, so does kapsel run")
        })
        .collect();
    if set.status.is_some() {
        notes.push(format!(
            "{file}: its status is ignored (the ActionSet of an earlier run?): the actions of its spec run anew"
        ));
    }
    let errors: Vec<String> = actionset_findings(&set)
        .into_iter()
        .filter(|f| f.severity == "error")
        .map(|f| format!("{}: {}", f.path, f.message))
        .collect();
    if !errors.is_empty() {
        return Err(input(
            file,
            format!("not a valid ActionSet:\n{}", errors.join("\n")),
            Some(&if unknown.is_empty() {
                "every action needs name, blueprint and object (kind, namespace, name)".to_string()
            } else {
                format!(
                    "every action needs name, blueprint and object (kind, namespace, name); \
                     a misspelt field? these are not Kanister fields: {}",
                    unknown.join(", ")
                )
            }),
        ));
    }
    check_unique_names(w)?;

    // `--secret NAME=FILE`: `.Secrets.NAME` of every action.
    let secret_overrides: BTreeMap<&String, &Secret> =
        w.secrets.iter().map(|(n, _, s)| (n, s)).collect();
    let mut options = BTreeMap::new();
    for o in &a.options {
        let (k, v) = kv(o, "--option")?;
        options.insert(k, v);
    }

    let mut used_profiles = vec![false; w.profiles.len()];
    let mut actions = Vec::new();
    for (i, given) in set.spec.actions.iter().enumerate() {
        let at = format!(
            "spec.actions[{i}] ({} on {})",
            given.name,
            object_text(&given.object)
        );
        let mut spec = given.clone();
        spec.options.extend(options.clone());
        if let Some(v) = &a.function_version {
            spec.preferred_version = v.clone();
        }

        let Some((bp_file, bp)) = w
            .blueprints
            .iter()
            .find(|(_, b)| b.metadata.name.as_deref() == Some(spec.blueprint.as_str()))
        else {
            return Err(input(
                file,
                format!("{at}: no Blueprint named {:?} was given", spec.blueprint),
                Some(&format!(
                    "give it with --blueprint FILE (a Blueprint with metadata.name: {}); given: {}",
                    spec.blueprint,
                    given_names(w.blueprints.iter().map(|(f, b)| (f, &b.metadata)))
                )),
            ));
        };
        let Some(action) = bp.action(&spec.name).cloned() else {
            let known: Vec<_> = bp.spec.actions.keys().cloned().collect();
            return Err(input(
                file,
                format!(
                    "{at}: Blueprint {} ({bp_file}) has no action {:?}",
                    spec.blueprint, spec.name
                ),
                Some(&format!("its actions are: {}", known.join(", "))),
            ));
        };

        let mut secrets = BTreeMap::new();
        for (name, secret) in &secret_overrides {
            spec.secrets
                .insert((*name).clone(), reference("Secret", &secret.metadata));
            secrets.insert((*name).clone(), (*secret).clone());
        }
        for (name, r) in &spec.secrets {
            if secrets.contains_key(name) {
                continue;
            }
            let ns = namespace_of(r, &spec.object);
            let secret = match find_secret(w, ns, &r.name) {
                Some(s) => s,
                None => w.get_secret(ns, &r.name).map_err(|e| {
                    input(
                        file,
                        format!("{at}: secret {name}: {e}"),
                        Some(&format!(
                            "{}, or give it with --secret NAME=FILE",
                            w.lookup_hint("Secret")
                        )),
                    )
                })?,
            };
            secrets.insert(name.clone(), secret);
        }
        let mut config_maps = BTreeMap::new();
        for (name, r) in &spec.config_maps {
            let ns = namespace_of(r, &spec.object);
            let c = w.get_config_map(ns, &r.name).map_err(|e| {
                input(
                    file,
                    format!("{at}: configMap {name}: {e}"),
                    Some(&w.lookup_hint("ConfigMap")),
                )
            })?;
            config_maps.insert(name.clone(), c);
        }
        let profile = match &spec.profile {
            None => None,
            Some(r) => {
                let given = w.profiles.iter().position(|(_, p)| {
                    let ns = p.metadata.namespace.as_deref().unwrap_or_default();
                    p.metadata.name.as_deref() == Some(r.name.as_str())
                        && (r.namespace.is_empty() || ns.is_empty() || ns == r.namespace)
                });
                let ns = namespace_of(r, &spec.object);
                match (given, w.cluster_profile(ns, &r.name)) {
                    (Some(k), _) => {
                        used_profiles[k] = true;
                        let (pf, p) = &w.profiles[k];
                        Some(w.resolve_profile(pf, p)?)
                    }
                    (None, Some(found)) => {
                        let p = found.map_err(|e| {
                            input(
                                file,
                                format!("{at}: profile: {e}"),
                                Some(&w.lookup_hint("Profile")),
                            )
                        })?;
                        Some(w.resolve_profile(&format!("Profile {ns}/{}", r.name), &p)?)
                    }
                    (None, None) => {
                        return Err(input(
                            file,
                            format!("{at}: no Profile named {:?} was given", r.name),
                            Some(&format!(
                                "give it with --profile FILE (a Profile with metadata.name: {}); given: {}",
                                r.name,
                                given_names(w.profiles.iter().map(|(f, p)| (f, &p.metadata)))
                            )),
                        ));
                    }
                }
            }
        };
        let req = request(a, w, &spec, action, secrets, config_maps, profile)
            .map_err(|e| input(file, format!("{at}: {e}"), Some(&w.lookup_hint("object"))))?;
        actions.push(Prepared { spec, req });
    }
    for ((pf, p), used) in w.profiles.iter().zip(used_profiles) {
        if !used {
            notes.push(format!(
                "--profile {pf} (Profile {}) is not named by any action: it is not used",
                p.metadata.name.as_deref().unwrap_or("without a name")
            ));
        }
    }
    Ok(Plan {
        metadata: metadata(&set.metadata, &actions),
        actions,
        tagged: true,
        notes,
    })
}

/// Two `--blueprint` (or `--profile`) files with one name would make the
/// match depend on the order of the flags.
fn check_unique_names(w: &World) -> Result<(), CliError> {
    let lists = [
        (
            "--blueprint",
            "Blueprint",
            w.blueprints
                .iter()
                .map(|(f, b)| (f, &b.metadata))
                .collect::<Vec<_>>(),
        ),
        (
            "--profile",
            "Profile",
            w.profiles.iter().map(|(f, p)| (f, &p.metadata)).collect(),
        ),
    ];
    for (flag, kind, items) in lists {
        for (i, (f, m)) in items.iter().enumerate() {
            if m.name.as_deref().unwrap_or_default().is_empty() {
                return Err(input(
                    f,
                    format!("the {kind} has no metadata.name"),
                    Some(&format!(
                        "with --actionset, actions name their {kind}: give it a metadata.name"
                    )),
                ));
            }
            if let Some((g, _)) = items[..i].iter().find(|(_, o)| o.name == m.name) {
                return Err(input(
                    f,
                    format!(
                        "{kind} {} is given twice ({flag} {g} and {flag} {f})",
                        m.name.as_deref().unwrap_or_default()
                    ),
                    Some(&format!("give each {kind} once")),
                ));
            }
        }
    }
    Ok(())
}

/// `name (file), ...` for help texts.
fn given_names<'a>(items: impl Iterator<Item = (&'a String, &'a ObjectMeta)>) -> String {
    let v: Vec<String> = items
        .map(|(f, m)| format!("{} ({f})", m.name.as_deref().unwrap_or("(no name)")))
        .collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

/// A reference's namespace, the object's when it has none.
fn namespace_of<'a>(r: &'a ObjectReference, object: &'a ObjectReference) -> &'a str {
    if r.namespace.is_empty() {
        &object.namespace
    } else {
        &r.namespace
    }
}

/// A `--secret` file's Secret with this namespace and name.
fn find_secret(w: &World, namespace: &str, name: &str) -> Option<Secret> {
    w.secrets
        .iter()
        .find(|(_, _, s)| {
            s.metadata.name.as_deref() == Some(name)
                && s.metadata.namespace.as_deref().unwrap_or(namespace) == namespace
        })
        .map(|(_, _, s)| s.clone())
}

/// The written ActionSet's metadata: the input's name (or `generateName`
/// with a timestamp, or the first action's name with one), namespace
/// (or the first object's), labels and annotations; nothing a server set.
fn metadata(m: &ObjectMeta, actions: &[Prepared]) -> ObjectMeta {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let first: Option<&ActionSpec> = actions.first().map(|p| &p.spec);
    let name = match (&m.name, &m.generate_name) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(g)) if !g.is_empty() => format!("{g}{stamp}"),
        _ => format!(
            "{}-{stamp}",
            first.map(|s| s.name.as_str()).unwrap_or("actionset")
        ),
    };
    ObjectMeta {
        name: Some(name),
        namespace: m
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| first.map(|s| s.object.namespace.clone())),
        labels: m.labels.clone(),
        annotations: m.annotations.clone(),
        ..ObjectMeta::default()
    }
}
