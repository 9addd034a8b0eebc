//! Finding and masking secret values.
//!
//! Every value that came from a Secret (Secret `data` and `stringData`, the
//! Profile's resolved credentials) is a secret; rendered commands, logs, events
//! and error messages pass through [`Redactor::redact`] before anyone sees them.

use std::collections::BTreeSet;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;

use crate::file::RenderParams;

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// Values shorter than this are not masked: replacing every `ab` in a text
/// would mask unrelated words and tell which two letters the secret is.
pub const MIN_SECRET_LEN: usize = 4;

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form to replace, longest first.
    forms: Vec<String>,
}

impl Redactor {
    /// A redactor for the given secret values: each is masked raw, JSON-escaped
    /// (once and twice, as `toJson` output inside a JSON or YAML document) and
    /// base64-encoded. Longer values first, so a secret containing another is
    /// masked whole.
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Redactor {
        let mut forms = Vec::new();
        for s in secrets {
            if s.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            if let Ok(j) = serde_json::to_string(&s) {
                let inner = j[1..j.len() - 1].to_string();
                if let Ok(jj) = serde_json::to_string(&inner) {
                    forms.push(jj[1..jj.len() - 1].to_string());
                }
                forms.push(inner);
            }
            forms.push(base64::engine::general_purpose::STANDARD.encode(&s));
            forms.push(s);
        }
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Redactor { forms }
    }

    /// The secrets held by render parameters: Secret data of the action, its
    /// phases and defer phase, and the profile's resolved credentials.
    pub fn for_params(p: &RenderParams) -> Redactor {
        let mut out = BTreeSet::new();
        for s in p.secrets.values() {
            secret_values(s, &mut out);
        }
        for ph in p.phases.values().chain(p.defer_phase.as_ref()) {
            for s in ph.secrets.values() {
                secret_values(s, &mut out);
            }
        }
        if let Some(prof) = &p.profile {
            if let Some(kp) = &prof.credential.key_pair {
                out.insert(kp.secret.clone());
            }
            if let Some(s) = &prof.credential.secret {
                secret_values(s, &mut out);
            }
            if let Some(k) = &prof.credential.kopia_server_secret {
                out.insert(k.password.clone());
            }
        }
        Redactor::new(out)
    }

    /// Adds the values of a Secret fetched later (e.g. by a phase's `objects`).
    pub fn add_secret(&mut self, s: &Secret) {
        let mut values = BTreeSet::new();
        secret_values(s, &mut values);
        let mut all: Vec<String> = std::mem::take(&mut self.forms);
        all.extend(Redactor::new(values).forms);
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        self.forms = all;
    }

    /// `text` with every secret form replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for f in &self.forms {
            if text.contains(f.as_str()) {
                text = text.replace(f.as_str(), MASK);
            }
        }
        text
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }
}

/// The values of a Secret's `data` (as text) and `stringData`.
pub fn secret_values(s: &Secret, out: &mut BTreeSet<String>) {
    for v in s.data.iter().flat_map(|d| d.values()) {
        out.insert(String::from_utf8_lossy(&v.0).into_owned());
    }
    for v in s.string_data.iter().flat_map(|d| d.values()) {
        out.insert(v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_raw_escaped_and_base64_forms() {
        let r = Redactor::new(["pa\"ss/word".to_string(), "ab".to_string()]);
        let text = format!(
            "a pa\"ss/word b {} c {} d ab",
            r#"pa\"ss/word"#,
            base64::engine::general_purpose::STANDARD.encode("pa\"ss/word")
        );
        assert_eq!(r.redact(&text), "a ******** b ******** c ******** d ab");
    }

    #[test]
    fn longer_secrets_first() {
        let r = Redactor::new(["secret".to_string(), "secret-longer".to_string()]);
        assert_eq!(
            r.redact("x secret-longer y secret"),
            "x ******** y ********"
        );
    }
}
