//! Kanister's rules for ActionSets and Profiles beyond their types: what
//! `kapsel validate` reports for such a file, `kapsel run --actionset`
//! refuses, and the controller's validating webhook
//! (`/validate/v1alpha1/actionset`, `/validate/v1alpha1/profile`) denies.
//! One place, so that the three say the same thing.

use crate::{ActionSet, CredentialType, LocationType, Profile};

/// One finding about an ActionSet or Profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// Where, e.g. `spec.actions.0.blueprint` (empty: the whole document).
    pub path: String,
    /// What.
    pub message: String,
}

impl Finding {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: "error",
            path: path.into(),
            message: message.into(),
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: "warning",
            path: path.into(),
            message: message.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

/// The warning for a field no Kanister type has (`Decoded::unknown_fields`).
pub fn unknown_field(path: &str) -> Finding {
    Finding::warning(
        path,
        "no Kanister type has this field: Kanister drops it silently",
    )
}

/// Kanister's rules for a Profile: a location type, the location's bucket
/// (and an s3Compliant region), the credential its type needs.
pub fn profile_findings(p: &Profile) -> Vec<Finding> {
    let mut f = Vec::new();
    let l = &p.spec.location;
    let mut err = |path: &str, message: &str| f.push(Finding::error(path, message));
    match l.type_ {
        LocationType::Unset => err(
            "location.type",
            "missing: one of s3Compliant, gcs, azure, filesystem",
        ),
        LocationType::S3Compliant => {
            if l.bucket.is_empty() {
                err("location.bucket", "an s3Compliant location needs a bucket");
            }
            if l.region.is_empty() {
                err(
                    "location.region",
                    "an s3Compliant location needs a region (Kanister's schema requires it)",
                );
            }
        }
        LocationType::Gcs | LocationType::Azure | LocationType::Filesystem => {
            if l.bucket.is_empty() {
                err(
                    "location.bucket",
                    "the location needs a bucket (a container for Azure, a directory for filesystem)",
                );
            }
        }
        LocationType::Kopia => {}
    }
    let c = &p.spec.credential;
    match c.type_ {
        CredentialType::KeyPair if c.key_pair.is_none() => err(
            "credential.keyPair",
            "credential type keyPair needs credential.keyPair",
        ),
        CredentialType::Secret if c.secret.is_none() => err(
            "credential.secret",
            "credential type secret needs credential.secret",
        ),
        CredentialType::Kopia if c.kopia_server_secret.is_none() => err(
            "credential.kopiaServerSecret",
            "credential type kopia needs credential.kopiaServerSecret",
        ),
        _ => {}
    }
    f
}

/// Kanister's rules for an ActionSet: at least one action, each with a
/// name, a Blueprint and an object (a kind, or apiVersion and resource).
pub fn actionset_findings(a: &ActionSet) -> Vec<Finding> {
    let mut f = Vec::new();
    if a.spec.actions.is_empty() {
        f.push(Finding::error(
            "spec.actions",
            "an ActionSet needs at least one action",
        ));
    }
    for (i, act) in a.spec.actions.iter().enumerate() {
        let mut need = |field: &str, value: &str| {
            if value.is_empty() {
                f.push(Finding::error(
                    format!("spec.actions.{i}.{field}"),
                    format!("{field} is required"),
                ));
            }
        };
        need("name", &act.name);
        need("blueprint", &act.blueprint);
        need("object.name", &act.object.name);
        // A known kind, or any resource given by apiVersion and resource.
        if act.object.kind.is_empty()
            && (act.object.api_version.is_empty() || act.object.resource.is_empty())
        {
            f.push(Finding::error(
                format!("spec.actions.{i}.object"),
                "the object needs a kind, or apiVersion and resource",
            ));
        }
    }
    f
}

/// The findings about one decoded document of `kind` (`ActionSet` or
/// `Profile`): a decoding error, or Kanister's rules and the fields no
/// Kanister type has. `None` for other kinds.
pub fn findings(kind: &str, doc: serde_json::Value) -> Option<Vec<Finding>> {
    let (mut f, unknown) = match kind {
        "ActionSet" => match crate::decode::<ActionSet>(doc) {
            Ok(d) => (actionset_findings(&d.value), d.unknown_fields),
            Err(e) => (vec![Finding::error("", e.to_string())], Vec::new()),
        },
        "Profile" => match crate::decode::<Profile>(doc) {
            Ok(d) => (profile_findings(&d.value), d.unknown_fields),
            Err(e) => (vec![Finding::error("", e.to_string())], Vec::new()),
        },
        _ => return None,
    };
    f.extend(unknown.iter().map(|u| unknown_field(u)));
    Some(f)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_actionset_without_blueprint_and_object() {
        let doc = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "ActionSet",
            "metadata": {"name": "x"}, "spec": {"actions": [{"name": "backup", "object": {"name": "db"}, "colour": 1}]}});
        let f = findings("ActionSet", doc).unwrap();
        let paths: Vec<&str> = f.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.actions.0.blueprint",
                "spec.actions.0.object",
                "spec.actions.0.colour"
            ]
        );
        assert_eq!(f.iter().filter(|f| f.is_error()).count(), 2);
    }

    #[test]
    fn a_profile_without_bucket() {
        let doc = serde_json::json!({"apiVersion": "cr.kanister.io/v1alpha1", "kind": "Profile",
            "metadata": {"name": "p"}, "location": {"type": "s3Compliant", "region": "us-east-1"},
            "credential": {"type": "keyPair", "keyPair": {"idField": "a", "secretField": "b",
                "secret": {"name": "s"}}}});
        let f = findings("Profile", doc).unwrap();
        assert_eq!(
            f,
            [Finding::error(
                "location.bucket",
                "an s3Compliant location needs a bucket"
            ),]
        );
        assert!(findings("Blueprint", serde_json::json!({})).is_none());
    }
}
