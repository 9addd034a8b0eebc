//! The repository password for a location, shared by `kando` and `kapsel repo`
//! so that both open the same repositories with the same rules.
//!
//! First match wins; a password is never taken from a command line:
//! 1. [`ENV_PASSWORD`];
//! 2. the file named by [`ENV_PASSWORD_FILE`] (trailing newlines dropped);
//! 3. for a Profile with credentials, a password derived from the credential's
//!    secret parts with keyed BLAKE3 ([`derived_password`]), so that unchanged
//!    Blueprints work: it protects the data against anyone who can read the
//!    bucket without holding that credential.
//!
//! Callers decide what comes after (kando refuses; `kapsel repo` prompts on a
//! terminal).

use crate::Profile;

/// Environment variable holding the repository password.
pub const ENV_PASSWORD: &str = "KAPSEL_REPO_PASSWORD";
/// Environment variable naming a file that holds the repository password.
pub const ENV_PASSWORD_FILE: &str = "KAPSEL_REPO_PASSWORD_FILE";

/// BLAKE3 key-derivation context of the default password (format-relevant:
/// changing it locks out every repository created with a derived password).
const DERIVE_CONTEXT: &str = "kapsel 2026-11 kando repository password from profile credential v1";

/// The password file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the password file {path} (named by {var}): {source}")]
pub struct PasswordFileError {
    /// The variable that named the file.
    pub var: &'static str,
    /// The file.
    pub path: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// A password from `var` or the file named by `file_var`, if either is set
/// and not empty (rules 1 and 2 of the module docs, for any pair of names).
pub fn password_from_env_vars(
    var: &'static str,
    file_var: &'static str,
) -> Result<Option<Vec<u8>>, PasswordFileError> {
    if let Ok(p) = std::env::var(var)
        && !p.is_empty()
    {
        return Ok(Some(p.into_bytes()));
    }
    if let Ok(path) = std::env::var(file_var)
        && !path.is_empty()
    {
        let s = std::fs::read_to_string(&path).map_err(|source| PasswordFileError {
            var: file_var,
            path,
            source,
        })?;
        return Ok(Some(s.trim_end_matches(['\n', '\r']).as_bytes().to_vec()));
    }
    Ok(None)
}

/// Rules 1 and 2: [`ENV_PASSWORD`], then [`ENV_PASSWORD_FILE`].
pub fn password_from_env() -> Result<Option<Vec<u8>>, PasswordFileError> {
    password_from_env_vars(ENV_PASSWORD, ENV_PASSWORD_FILE)
}

/// Rule 3: the default password derived from the Profile's credential, or
/// `None` when the Profile carries no secret material.
pub fn derived_password(profile: &Profile) -> Option<Vec<u8>> {
    let material = profile.credential_secret_material();
    if material.is_empty() {
        return None;
    }
    let mut h = blake3::Hasher::new_derive_key(DERIVE_CONTEXT);
    h.update(&material);
    Some(format!("kapsel-derived-{}", h.finalize().to_hex()).into_bytes())
}

/// Rules 1 to 3 in order; `None` when none applies.
pub fn profile_password(profile: &Profile) -> Result<Option<Vec<u8>>, PasswordFileError> {
    Ok(password_from_env()?.or_else(|| derived_password(profile)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn derived_password_is_stable_and_needs_a_secret() {
        let p = Profile::from_json(
            r#"{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"id","Secret":"s3cr3t"}}}"#,
        )
        .unwrap();
        let d = derived_password(&p).unwrap();
        // The value kando has derived since format v1: repositories created
        // with it must keep opening.
        let mut h = blake3::Hasher::new_derive_key(DERIVE_CONTEXT);
        h.update(b"keyPair\0s3cr3t");
        assert_eq!(
            d,
            format!("kapsel-derived-{}", h.finalize().to_hex()).into_bytes()
        );
        assert!(!String::from_utf8(d).unwrap().contains("s3cr3t"));
        let none =
            Profile::from_json(r#"{"Location":{"type":"filesystem","bucket":"/x"}}"#).unwrap();
        assert_eq!(derived_password(&none), None);
    }
}
