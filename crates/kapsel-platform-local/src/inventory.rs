//! The inventory: the applications on this host, described the way Kubernetes
//! would describe them, so that Blueprints address them unchanged.
//!
//! Documented in docs/local-platform.md; `kapsel schema inventory` prints its
//! JSON Schema.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// An inventory file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Inventory {
    /// `kapsel.dev/v1alpha1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `Inventory`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Workloads (StatefulSets, Deployments, ...), each mapped to local
    /// processes.
    #[serde(default)]
    pub objects: Vec<Workload>,
    /// Secrets, by namespace and name.
    #[serde(default)]
    pub secrets: Vec<SecretEntry>,
    /// ConfigMaps, by namespace and name.
    #[serde(default)]
    pub config_maps: Vec<ConfigMapEntry>,
    /// Environment given to every command (e.g. `KAPSEL_REPO_PASSWORD_FILE`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directories put in front of `PATH` for every command (the directory of
    /// `kando` is always added).
    #[serde(default)]
    pub path: Vec<PathBuf>,
    /// Extra `/etc/hosts` lines for every command, in the shape of a
    /// Kubernetes PodSpec's `hostAliases` (e.g. a cluster DNS name a
    /// Blueprint uses, mapped to `127.0.0.1`). A command with host aliases
    /// runs in a private mount namespace whose `/etc/hosts` is the aliases
    /// followed by the host's file: needs root, or unprivileged user
    /// namespaces.
    #[serde(default)]
    pub host_aliases: Vec<HostAlias>,
    /// What an image provides: KubeTask's (and the other tasks') `image` is
    /// not pulled; the first entry whose `image` matches gives the command
    /// extra `PATH` directories and environment.
    #[serde(default)]
    pub images: Vec<ImageTools>,
}

/// One `/etc/hosts` line, as Kubernetes' `HostAlias`: an IP address and the
/// names that resolve to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostAlias {
    /// IPv4 or IPv6 address.
    pub ip: String,
    /// Host names for the address.
    #[serde(default)]
    pub hostnames: Vec<String>,
}

/// The tools an image stands for on this host.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageTools {
    /// The image reference, exactly as the Blueprint renders it, or a pattern
    /// where `*` matches any run of characters (`ghcr.io/kanisterio/mysql-sidecar:*`).
    pub image: String,
    /// Directories put in front of `PATH` (before the inventory's `path`).
    #[serde(default)]
    pub path: Vec<PathBuf>,
    /// Environment, as an image's `ENV`: the inventory's `env` overrides it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A workload on this host.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Workload {
    /// Kind, as in Kubernetes: StatefulSet, Deployment, DeploymentConfig, ...
    pub kind: String,
    /// Namespace (free-form on a host; Blueprints use it in names).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (`.Object.metadata.labels`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Pods: the contexts commands run in. Default: one pod `<name>-0`.
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// Environment of every command run in this workload's pods.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory of commands run in the pods.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// Volumes (claim name → directory), shown as the pods' PVCs.
    #[serde(default)]
    pub volumes: BTreeMap<String, PathBuf>,
    /// How to stop, start and check the workload (ScaleWorkload).
    #[serde(default)]
    pub scale: Option<Scale>,
    /// More of the object, merged into `.Object` (e.g. `spec.serviceName`).
    #[serde(default)]
    pub object: Option<serde_json::Map<String, serde_json::Value>>,
    /// Extra `/etc/hosts` lines for commands run in this workload's pods (and
    /// its scale commands), before the inventory's `hostAliases`.
    #[serde(default)]
    pub host_aliases: Vec<HostAlias>,
}

/// A pod of a workload.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pod {
    /// Pod name.
    pub name: String,
    /// Container names (KubeExec's `container`); default `[main]`.
    #[serde(default)]
    pub containers: Vec<String>,
    /// Environment added for this pod.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Commands that stop, start and probe a workload.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scale {
    /// Stops it (replicas 0).
    pub stop: Vec<String>,
    /// Starts it.
    pub start: Vec<String>,
    /// Exits 0 when it is ready.
    #[serde(default)]
    pub ready: Option<Vec<String>>,
}

/// A Secret.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretEntry {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Secret type (e.g. `secrets.kanister.io/aws`).
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// Keys and where their values come from.
    pub data: BTreeMap<String, SecretSource>,
}

/// Where a secret value comes from. Never inline in argv; a literal `value` is
/// allowed for tests and throwaway setups.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum SecretSource {
    /// A file's content (a trailing newline is kept as is).
    File(PathBuf),
    /// An environment variable of the `kapsel` process.
    Env(String),
    /// A literal value.
    Value(String),
}

/// A ConfigMap.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapEntry {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Data.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

impl Inventory {
    /// Checks what deserialisation cannot: host aliases are IP addresses and
    /// host names, image patterns are not empty. The first problem, said
    /// plainly.
    pub fn check(&self) -> Result<(), String> {
        check_aliases("hostAliases", &self.host_aliases)?;
        for w in &self.objects {
            check_aliases(
                &format!("{} {}/{}: hostAliases", w.kind, w.namespace, w.name),
                &w.host_aliases,
            )?;
        }
        for (i, t) in self.images.iter().enumerate() {
            if t.image.trim().is_empty() {
                return Err(format!("images[{i}]: `image` is empty"));
            }
        }
        Ok(())
    }

    /// The tools of the first `images` entry matching `image`.
    pub fn image_tools(&self, image: &str) -> Option<&ImageTools> {
        self.images.iter().find(|t| image_matches(&t.image, image))
    }
}

/// Whether `image` matches `pattern`, where `*` in the pattern matches any
/// run of characters (`/` and `:` included) and everything else itself.
pub fn image_matches(pattern: &str, image: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = image.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: exact.
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn check_aliases(what: &str, aliases: &[HostAlias]) -> Result<(), String> {
    aliases
        .iter()
        .try_for_each(check_alias)
        .map_err(|e| format!("{what}: {e}"))
}

/// One host alias: an IP address and at least one host name.
pub(crate) fn check_alias(a: &HostAlias) -> Result<(), String> {
    if a.ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("{:?} is not an IP address", a.ip));
    }
    if a.hostnames.is_empty() {
        return Err(format!("{} has no hostnames", a.ip));
    }
    for h in &a.hostnames {
        let bad = h.is_empty()
            || h.starts_with('-')
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if bad {
            return Err(format!(
                "{h:?} is not a host name (letters, digits, '-', '.', '_')"
            ));
        }
    }
    Ok(())
}

impl Workload {
    /// The pods, with the default when none are listed.
    pub fn pods(&self) -> Vec<Pod> {
        if self.pods.is_empty() {
            vec![Pod {
                name: format!("{}-0", self.name),
                containers: vec!["main".to_string()],
                env: BTreeMap::new(),
            }]
        } else {
            self.pods
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    if p.containers.is_empty() {
                        p.containers.push("main".to_string());
                    }
                    p
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn image_patterns() {
        let m = image_matches;
        assert!(m("busybox", "busybox"));
        assert!(!m("busybox", "busybox:1.36"));
        assert!(!m("busybox:1.36", "busybox"));
        assert!(m(
            "ghcr.io/kanisterio/mysql-sidecar:*",
            "ghcr.io/kanisterio/mysql-sidecar:0.116.0"
        ));
        assert!(m(
            "ghcr.io/kanisterio/mysql-sidecar:*",
            "ghcr.io/kanisterio/mysql-sidecar:"
        ));
        assert!(!m(
            "ghcr.io/kanisterio/mysql-sidecar:*",
            "ghcr.io/kanisterio/mysql-sidecar"
        ));
        assert!(m("*", "anything/at:all"));
        assert!(m(
            "*/redis-tools:*",
            "<registry>/<account_name>/redis-tools:<tag_name>"
        ));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(!m("a*b*c", "a-c"));
        assert!(!m("a*a", "a"), "prefix and suffix do not overlap");
        assert!(m("*:latest", "x:latest"));
        assert!(!m("*:latest", "x:latest2"));
    }

    #[test]
    fn the_first_matching_image_wins() {
        let inv: Inventory = serde_saphyr::from_str(
            "images:\n- {image: 'x:1', env: {A: exact}}\n- {image: 'x:*', env: {A: any}}\n",
        )
        .unwrap();
        assert_eq!(inv.image_tools("x:1").unwrap().env["A"], "exact");
        assert_eq!(inv.image_tools("x:2").unwrap().env["A"], "any");
        assert!(inv.image_tools("y:1").is_none());
    }

    #[test]
    fn check_names_the_bad_alias() {
        let inv: Inventory = serde_saphyr::from_str(
            "objects:\n- kind: StatefulSet\n  namespace: db\n  name: app\n  hostAliases: [{ip: 10.0.0.300, hostnames: [x]}]\n",
        )
        .unwrap();
        assert_eq!(
            inv.check().unwrap_err(),
            "StatefulSet db/app: hostAliases: \"10.0.0.300\" is not an IP address"
        );
        let inv: Inventory =
            serde_saphyr::from_str("hostAliases: [{ip: '::1', hostnames: []}]\n").unwrap();
        assert_eq!(
            inv.check().unwrap_err(),
            "hostAliases: ::1 has no hostnames"
        );
        let inv: Inventory = serde_saphyr::from_str(
            "hostAliases: [{ip: 127.0.0.1, hostnames: [a.b-c_d]}]\nimages: [{image: x}]\n",
        )
        .unwrap();
        assert!(inv.check().is_ok());
        let inv: Inventory = serde_saphyr::from_str("images: [{image: ' '}]\n").unwrap();
        assert_eq!(inv.check().unwrap_err(), "images[0]: `image` is empty");
    }
}
