//! Every Kanister resource in `../shared/kanister-examples` deserializes into the
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! typed API and serializes back to the same document.

use std::path::{Path, PathBuf};

use kapsel_api::{ActionSet, Blueprint, Profile};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn examples_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kanister-examples");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: CI must run beside shared/",
        dir.display()
    );
    kapsel_testkit::skip::notice(&format!("SKIP: {} not found", dir.display()));
    None
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// Drops the keys whose value is null, an empty string/map/list: those are the
/// values the typed form omits, and Kanister reads absent and empty alike.
fn normalize(v: serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(m) => {
            let m: serde_json::Map<_, _> = m
                .into_iter()
                .filter_map(|(k, v)| normalize(v).map(|v| (k, v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(Value::Array(
            a.into_iter()
                .map(|v| normalize(v).unwrap_or(Value::Null))
                .collect(),
        )),
        other => Some(other),
    }
}

/// Removes the field at a dotted path (as serde_ignored reports it).
fn remove_path(doc: &mut serde_json::Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = doc;
    for p in &parts[..parts.len() - 1] {
        cur = match cur {
            serde_json::Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            other => &mut other[*p],
        };
    }
    cur.as_object_mut().unwrap().remove(*parts.last().unwrap());
}

fn roundtrip<T: DeserializeOwned + Serialize>(path: &Path, doc: &serde_json::Value) -> Vec<String> {
    let decoded = kapsel_api::decode::<T>(doc.clone())
        .unwrap_or_else(|e| panic!("{}: does not deserialize: {e}", path.display()));
    let typed = decoded.value;
    // Fields no Kanister type has (Kanister drops them too) are reported, and are
    // the only difference allowed.
    let mut expected = doc.clone();
    for p in &decoded.unknown_fields {
        remove_path(&mut expected, p);
    }
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        normalize(back.clone()),
        normalize(expected),
        "{}: round trip changed the document",
        path.display()
    );
    // And through YAML text again.
    let text = serde_saphyr::to_string(&typed).unwrap();
    let again: T = serde_saphyr::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: re-serialized YAML does not parse: {e}\n{text}",
            path.display()
        )
    });
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        back,
        "{}",
        path.display()
    );
    decoded
        .unknown_fields
        .iter()
        .map(|f| format!("{}: {f}", path.display()))
        .collect()
}

#[test]
fn every_example_round_trips() {
    let Some(dir) = examples_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    files.sort();
    let mut counts = [0usize; 3];
    let mut unknown = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for doc in docs.iter().filter(|d| !d.is_null()) {
            if doc["apiVersion"] != "cr.kanister.io/v1alpha1" {
                continue;
            }
            match doc["kind"].as_str() {
                Some("Blueprint") => {
                    unknown.extend(roundtrip::<Blueprint>(path, doc));
                    counts[0] += 1;
                }
                Some("ActionSet") => {
                    unknown.extend(roundtrip::<ActionSet>(path, doc));
                    counts[1] += 1;
                }
                Some("Profile") => {
                    unknown.extend(roundtrip::<Profile>(path, doc));
                    counts[2] += 1;
                }
                other => panic!("{}: unexpected kind {other:?}", path.display()),
            }
        }
    }
    assert!(
        counts[0] >= 15,
        "expected the example Blueprints, found {counts:?}"
    );
    assert!(counts[1] >= 1 && counts[2] >= 1, "found {counts:?}");
    // One published example carries a field no Kanister type has
    // (`artifacts.cloudObject.path` instead of `keyValue.path`): it is reported.
    let unknown: Vec<_> = unknown
        .iter()
        .map(|u| u.rsplit_once(": ").unwrap().1.to_string())
        .collect();
    assert!(
        unknown.iter().all(|u| u.contains("artifacts")),
        "{unknown:?}"
    );
}

#[test]
fn unknown_location_type_is_rejected() {
    let err = serde_saphyr::from_str::<Profile>(
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Profile\nmetadata: {name: p}\nlocation: {type: ftp}\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("ftp"), "{err}");
}

#[test]
fn crds_have_kanister_shape() {
    let crds = kapsel_api::crds();
    let names: Vec<_> = crds
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "actionsets.cr.kanister.io",
            "blueprints.cr.kanister.io",
            "profiles.cr.kanister.io"
        ]
    );
    let v = &crds[0].spec.versions[0];
    assert!(
        v.subresources.is_none(),
        "Kanister's ActionSet has no status subresource"
    );
    let cols: Vec<_> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        cols,
        [
            "Progress",
            "SizeDownloadedB",
            "SizeUploadedB",
            "EstimatedDownloadSizeB",
            "EstimatedUploadSizeB",
            "Running Phase",
            "Last Transition Time",
            "State"
        ]
    );
    // Blueprint fields live at the top level, not under spec.
    let bp = serde_json::to_value(&crds[1].spec.versions[0].schema).unwrap();
    let props = &bp["openAPIV3Schema"]["properties"];
    assert!(props.get("actions").is_some(), "{props}");
    assert!(props.get("spec").is_none());
    let args = &props["actions"]["additionalProperties"]["properties"]["phases"]["items"]["properties"]
        ["args"];
    assert_eq!(args["x-kubernetes-preserve-unknown-fields"], true, "{args}");
}
