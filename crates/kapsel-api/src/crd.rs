//! The CustomResourceDefinitions, derived from the types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{ActionSet, Blueprint, Profile};

/// The CRDs of ActionSet, Blueprint and Profile, in that order.
///
/// Like Kanister's, the ActionSet CRD has no status subresource: the status is
/// written with a plain update of the whole object.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut actionset = ActionSet::crd();
    for v in &mut actionset.spec.versions {
        v.subresources = None;
    }
    vec![actionset, Blueprint::crd(), Profile::crd()]
}
