//! A Profile's `.Profile` parameter: its location, and its credential
//! resolved to plaintext from the Secret it references (Kanister's
//! `param.New`). Each platform supplies the Secret lookup.

use k8s_openapi::api::core::v1::Secret;
use kapsel_api::{CredentialType, Profile};

use crate::file::{CredentialParams, KeyPairParams, LocationParams, ProfileParams};

/// Why a Profile cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError<E> {
    /// The Secret it references cannot be read.
    #[error(transparent)]
    Secret(E),
    /// The Profile itself is incomplete or unsupported.
    #[error("{0}")]
    Profile(String),
}

/// Resolves `profile`, reading its credential's Secret with `secret(namespace,
/// name)`.
pub fn resolve_profile<E>(
    profile: &Profile,
    mut secret: impl FnMut(&str, &str) -> Result<Secret, E>,
) -> Result<ProfileParams, ResolveError<E>> {
    let l = &profile.spec.location;
    let type_ = serde_json::to_value(&l.type_)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let location = LocationParams {
        type_,
        bucket: l.bucket.clone(),
        endpoint: l.endpoint.clone(),
        prefix: l.prefix.clone(),
        region: l.region.clone(),
    };
    let c = &profile.spec.credential;
    let credential = match c.type_ {
        CredentialType::KeyPair => {
            let kp = c.key_pair.as_ref().ok_or_else(|| {
                ResolveError::Profile("credential type keyPair needs credential.keyPair".into())
            })?;
            let s = secret(&kp.secret.namespace, &kp.secret.name).map_err(ResolveError::Secret)?;
            let field = |f: &str| -> Result<String, ResolveError<E>> {
                s.data
                    .as_ref()
                    .and_then(|d| d.get(f))
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                    .or_else(|| s.string_data.as_ref().and_then(|d| d.get(f)).cloned())
                    .ok_or_else(|| {
                        ResolveError::Profile(format!(
                            "key {f:?} not found in secret {}/{}",
                            kp.secret.namespace, kp.secret.name
                        ))
                    })
            };
            CredentialParams {
                type_: "keyPair".to_string(),
                key_pair: Some(KeyPairParams {
                    id: field(&kp.id_field)?,
                    secret: field(&kp.secret_field)?,
                }),
                ..CredentialParams::default()
            }
        }
        CredentialType::Secret => {
            let r = c.secret.as_ref().ok_or_else(|| {
                ResolveError::Profile("credential type secret needs credential.secret".into())
            })?;
            CredentialParams {
                type_: "secret".to_string(),
                secret: Some(secret(&r.namespace, &r.name).map_err(ResolveError::Secret)?),
                ..CredentialParams::default()
            }
        }
        CredentialType::Kopia => {
            return Err(ResolveError::Profile(
                "kopia credentials need a Kopia repository server, which Kapsel does not support"
                    .to_string(),
            ));
        }
        CredentialType::Unset => CredentialParams::default(),
    };
    Ok(ProfileParams {
        location,
        credential,
        skip_ssl_verify: profile.spec.skip_ssl_verify,
    })
}
