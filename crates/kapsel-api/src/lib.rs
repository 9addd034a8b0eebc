//! Kanister-compatible custom resource types, group `cr.kanister.io`, version
//! `v1alpha1`: [`Blueprint`], [`ActionSet`] and [`Profile`].
//!
//! Field names and optionality follow Kanister's Go types
//! (`pkg/apis/cr/v1alpha1/types.go`), so every Kanister YAML deserializes into
//! these types and serializes back without losing a field. One deliberate
//! difference: Go writes empty strings and empty maps for fields without
//! `omitempty` (`apiVersion: ""`); Kapsel omits empty values, so a document
//! round-trips unchanged. Kanister's controller reads both forms alike.
//!
//! The CustomResourceDefinitions are derived from the same types ([`crds`]):
//! kube-rs `CustomResource` plus schemars. Blueprint and Profile keep their fields
//! at the top level (no `spec`), as Kanister does; the ActionSet CRD has Kanister's
//! printer columns and, like Kanister's, no status subresource.
//!
//! This crate depends on serde, schemars and kube-core only: no client, no I/O.

pub mod actionset;
pub mod blueprint;
pub mod check;
pub mod common;
pub mod crd;
pub mod profile;

pub use actionset::{
    ActionProgress, ActionSet, ActionSetSpec, ActionSetStatus, ActionSpec, ActionStatus,
    ErrorStatus, Phase, PhaseProgress, State,
};
pub use blueprint::{Blueprint, BlueprintAction, BlueprintPhase, BlueprintSpec};
pub use common::{Artifact, ObjectReference};
pub use crd::crds;
pub use profile::{
    Credential, CredentialType, KeyPair, KopiaServerSecret, KopiaServerSecretRef, Location,
    LocationType, Profile, ProfileSpec,
};

/// The API group of every Kanister resource.
pub const GROUP: &str = "cr.kanister.io";
/// The API version of every Kanister resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "cr.kanister.io/v1alpha1";

/// A document decoded into a typed resource, with the paths of the fields the
/// type does not have (Kanister's Go decoder drops them silently; Kapsel reports
/// them).
#[derive(Debug, Clone)]
pub struct Decoded<T> {
    /// The typed value.
    pub value: T,
    /// Dotted paths of ignored fields, e.g. `spec.actions.0.artifacts.x.path`.
    pub unknown_fields: Vec<String>,
}

/// Why a document is not a valid resource of the expected type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(#[from] serde_json::Error);

/// Decodes a JSON value (e.g. a parsed YAML document) into `T`, collecting the
/// fields `T` does not know instead of failing on them.
pub fn decode<T: serde::de::DeserializeOwned>(
    doc: serde_json::Value,
) -> Result<Decoded<T>, DecodeError> {
    let mut unknown_fields = Vec::new();
    let value = serde_ignored::deserialize(doc, |path| {
        let path = path.to_string();
        // The derived resource types check apiVersion and kind themselves.
        if path != "apiVersion" && path != "kind" {
            unknown_fields.push(path);
        }
    })?;
    Ok(Decoded {
        value,
        unknown_fields,
    })
}
