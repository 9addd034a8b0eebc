//! Strategic merge of a PodSpec patch onto a PodSpec, as Kubernetes'
//! `strategicpatch.StrategicMergePatch(original, patch, corev1.PodSpec{})`
//! does it, which is how Kanister merges a Blueprint's and an ActionSet's
//! `podOverride` and then lays the result over the pod it builds
//! (kanister-k8s.md §1.3).
//!
//! Rules (Kubernetes' `patchStrategy`/`patchMergeKey` tags of the PodSpec
//! types): a `null` value deletes the key; objects merge key by key; lists of
//! containers, volumes, env, ... merge by their merge key (`name`,
//! `mountPath`, `containerPort`, `ip`, `devicePath`, `topologyKey`), an item
//! of the patch replacing fields of the item with the same key and new
//! items being appended; every other list is replaced. The directives
//! `$patch: replace` (an object or keyed list replaced whole), `$patch:
//! delete` (an object or a keyed item removed) and
//! `$deleteFromPrimitiveList/`, `$setElementOrder/`, `$retainKeys` keys are
//! honoured or dropped as Kubernetes does (order directives only reorder, so
//! they are dropped).

use serde_json::{Map, Value};

/// The merge key of a list field of the PodSpec types, by field name (the
/// names are unambiguous across PodSpec, Container, Volume, ...).
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" => "containerPort",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Merges `patch` onto `base` (both PodSpec objects, as JSON).
pub fn merge_pod_spec(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    merge_object(base, patch);
}

fn is_directive(k: &str) -> bool {
    k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/")
}

fn merge_object(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *base = strip(patch);
        return;
    }
    for (k, v) in patch {
        if is_directive(k) {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(del)) = (base.get_mut(field), v) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        match v {
            Value::Null => {
                base.remove(k);
            }
            Value::Object(p) => {
                if p.get("$patch").and_then(Value::as_str) == Some("delete") {
                    base.remove(k);
                    continue;
                }
                match base.get_mut(k) {
                    Some(Value::Object(b)) => merge_object(b, p),
                    _ => {
                        base.insert(k.clone(), Value::Object(strip(p)));
                    }
                }
            }
            Value::Array(items) => match (merge_key(k), base.get_mut(k)) {
                (Some(key), Some(Value::Array(b))) => merge_list(b, items, key),
                (Some(_), _) => {
                    let mut fresh = Vec::new();
                    merge_list(&mut fresh, items, "\u{0}");
                    base.insert(k.clone(), Value::Array(fresh));
                }
                (None, _) => {
                    base.insert(
                        k.clone(),
                        Value::Array(items.iter().map(strip_value).collect()),
                    );
                }
            },
            other => {
                base.insert(k.clone(), other.clone());
            }
        }
    }
}

/// Merges a keyed list: items with the same key merge, new ones are appended,
/// `$patch: delete` items remove theirs, a `{$patch: replace}` item replaces
/// the list with the patch's other items.
fn merge_list(base: &mut Vec<Value>, patch: &[Value], key: &str) {
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *base = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(strip_value)
            .collect();
        return;
    }
    for item in patch {
        let Value::Object(p) = item else {
            base.push(item.clone());
            continue;
        };
        let id = p.get(key);
        let pos = id.and_then(|id| base.iter().position(|b| b.get(key) == Some(id)));
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                base.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                if let Some(Value::Object(b)) = base.get_mut(i) {
                    merge_object(b, p);
                }
            }
            (None, false) => base.push(Value::Object(strip(p))),
        }
    }
}

/// A patch value without directives or `null`s (what it becomes when there
/// is nothing under it to merge with).
fn strip(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| {
            !is_directive(k) && !k.starts_with("$deleteFromPrimitiveList/") && !v.is_null()
        })
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip(m)),
        Value::Array(a) => Value::Array(a.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(base: Value, patch: Value) -> Value {
        let mut b = base.as_object().cloned().unwrap_or_default();
        merge_pod_spec(&mut b, patch.as_object().unwrap());
        Value::Object(b)
    }

    #[test]
    fn containers_merge_by_name_and_new_ones_are_appended() {
        let base = json!({"containers": [{"name": "container", "image": "a", "command": ["x"]}], "restartPolicy": "Never"});
        let patch = json!({"containers": [
            {"name": "container", "image": "b", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "s"}
        ]});
        assert_eq!(
            merged(base, patch),
            json!({"containers": [
                {"name": "container", "image": "b", "command": ["x"], "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "s"}
            ], "restartPolicy": "Never"})
        );
    }

    #[test]
    fn lists_without_merge_key_are_replaced_and_null_deletes() {
        let base = json!({"tolerations": [{"key": "a"}], "nodeSelector": {"x": "1", "y": "2"}});
        let patch = json!({"tolerations": [{"key": "b"}], "nodeSelector": {"x": null, "z": "3"}});
        assert_eq!(
            merged(base, patch),
            json!({"tolerations": [{"key": "b"}], "nodeSelector": {"y": "2", "z": "3"}})
        );
    }

    #[test]
    fn directives_delete_and_replace() {
        let base = json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],
                          "securityContext": {"runAsUser": 1, "fsGroup": 2}});
        let patch = json!({"volumes": [{"name": "a", "$patch": "delete"}],
                           "securityContext": {"$patch": "replace", "runAsUser": 5}});
        assert_eq!(
            merged(base, patch),
            json!({"volumes": [{"name": "b", "emptyDir": {}}], "securityContext": {"runAsUser": 5}})
        );
        let base = json!({"volumes": [{"name": "a"}]});
        let patch = json!({"volumes": [{"$patch": "replace"}, {"name": "c"}]});
        assert_eq!(merged(base, patch), json!({"volumes": [{"name": "c"}]}));
    }

    #[test]
    fn volume_mounts_merge_by_mount_path() {
        let base = json!({"containers": [{"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/d"}]}]});
        let patch = json!({"containers": [{"name": "c", "volumeMounts": [{"mountPath": "/d", "readOnly": true}, {"name": "w", "mountPath": "/e"}]}]});
        assert_eq!(
            merged(base, patch),
            json!({"containers": [{"name": "c", "volumeMounts": [
                {"name": "v", "mountPath": "/d", "readOnly": true},
                {"name": "w", "mountPath": "/e"}
            ]}]})
        );
    }
}
