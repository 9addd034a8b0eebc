//! The Kanister function catalog: every function Kanister registers, with its
//! required and allowed argument names, plus deprecated and removed ones.
//!
//! Facts follow `kanisterio/kanister` `pkg/function/*.go` (`RequiredArgs` /
//! `Arguments`) after tag 0.119.0. All functions are registered at version
//! `v0.0.0`; [`resolve`] applies Kanister's `preferredVersion` rules.

use std::fmt;

use thiserror::Error;

/// The only function version Kanister registers in-tree.
pub const DEFAULT_VERSION: &str = "v0.0.0";

/// A registered Kanister function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Function name as written in `func:`.
    pub name: &'static str,
    /// Registered version (always `v0.0.0` in-tree).
    pub version: &'static str,
    /// Arguments that must be present.
    pub required: &'static [&'static str],
    /// Arguments that may be present besides the required ones.
    pub optional: &'static [&'static str],
    /// Set when the function still works but should not be used.
    pub deprecated: Option<Deprecation>,
    /// Whether the controller renders the args before calling the function
    /// (`Wait` and `WaitV2` render their own).
    pub prerendered_args: bool,
}

impl FunctionSpec {
    /// Whether `arg` is accepted (required or optional).
    pub fn allows(&self, arg: &str) -> bool {
        self.required.contains(&arg) || self.optional.contains(&arg)
    }

    /// Check argument names as Kanister's `Validate` does: first that every
    /// argument is supported, then that every required one is present. The
    /// messages are Kanister's.
    pub fn check_args(&self, names: &[&str]) -> Result<(), ArgError> {
        if let Some(bad) = names.iter().find(|n| !self.allows(n)) {
            return Err(ArgError::Unsupported((*bad).to_string()));
        }
        if let Some(missing) = self.required.iter().find(|r| !names.contains(r)) {
            return Err(ArgError::Missing((*missing).to_string()));
        }
        Ok(())
    }

    /// All accepted argument names, required first.
    pub fn all_args(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.required.iter().chain(self.optional.iter()).copied()
    }
}

/// Why a function is deprecated and what to use instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprecation {
    /// The function to use instead.
    pub replacement: &'static str,
    /// Explanation.
    pub note: &'static str,
}

/// A function Kanister used to register but no longer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedFunction {
    /// Function name.
    pub name: &'static str,
    /// The Kanister release that no longer has it.
    pub removed_in: &'static str,
    /// What to use instead.
    pub instead: &'static str,
}

const POD: [&str; 3] = ["podOverride", "podAnnotations", "podLabels"];

macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$($a),*] };
}

const fn f(
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
) -> FunctionSpec {
    FunctionSpec {
        name,
        version: DEFAULT_VERSION,
        required,
        optional,
        deprecated: None,
        prerendered_args: true,
    }
}

/// Every function registered by Kanister, sorted by name.
pub static FUNCTIONS: &[FunctionSpec] = &[
    f(
        "BackupData",
        args![
            "namespace",
            "pod",
            "container",
            "includePath",
            "backupArtifactPrefix"
        ],
        args!["encryptionKey", "insecureTLS"],
    ),
    f(
        "BackupDataAll",
        args![
            "namespace",
            "container",
            "includePath",
            "backupArtifactPrefix"
        ],
        args!["pods", "encryptionKey", "insecureTLS"],
    ),
    f(
        "BackupDataStats",
        args!["namespace", "backupArtifactPrefix", "backupID"],
        args![
            "image",
            "statsMode",
            "encryptionKey",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "CheckRepository",
        args!["backupArtifactPrefix"],
        args![
            "image",
            "encryptionKey",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "CopyVolumeData",
        args!["namespace", "volume", "dataArtifactPrefix"],
        args![
            "image",
            "encryptionKey",
            "mountPath",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "CreateCSISnapshot",
        args!["pvc", "namespace", "snapshotClass"],
        args!["name", "labels"],
    ),
    f(
        "CreateCSISnapshotStatic",
        args![
            "name",
            "namespace",
            "driver",
            "snapshotHandle",
            "snapshotClass"
        ],
        args![],
    ),
    f(
        "CreateRDSSnapshot",
        args!["instanceID"],
        args![
            "dbEngine",
            "credentialsSource",
            "credentialsSecret",
            "region"
        ],
    ),
    f("DeleteCSISnapshot", args!["name", "namespace"], args![]),
    f("DeleteCSISnapshotContent", args!["name"], args![]),
    f(
        "DeleteData",
        args!["namespace", "backupArtifactPrefix"],
        args![
            "image",
            "backupID",
            "backupTag",
            "encryptionKey",
            "reclaimSpace",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "DeleteDataAll",
        args!["namespace", "backupArtifactPrefix", "backupInfo"],
        args![
            "image",
            "encryptionKey",
            "reclaimSpace",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "DeleteRDSSnapshot",
        args!["snapshotID"],
        args![
            "dbEngine",
            "credentialsSource",
            "credentialsSecret",
            "region"
        ],
    ),
    f(
        "ExportRDSSnapshotToLocation",
        args!["namespace", "instanceID", "snapshotID", "dbEngine"],
        args![
            "username",
            "password",
            "backupArtifactPrefix",
            "databases",
            "securityGroupID",
            "dbSubnetGroup",
            "podAnnotations",
            "podLabels",
            "credentialsSource",
            "credentialsSecret",
            "region"
        ],
    ),
    f(
        "KubeExec",
        args!["namespace", "pod", "command"],
        args!["container"],
    ),
    f(
        "KubeExecAll",
        args!["namespace", "pods", "containers", "command"],
        args![],
    ),
    f(
        "KubeOps",
        args!["operation"],
        args!["spec", "namespace", "objectReference"],
    ),
    f(
        "KubeTask",
        args!["image", "command"],
        args!["namespace", POD[0], POD[1], POD[2]],
    ),
    f("LocationDelete", args!["artifact"], args![]),
    f(
        "MultiContainerRun",
        args![
            "backgroundImage",
            "backgroundCommand",
            "outputImage",
            "outputCommand"
        ],
        args![
            "namespace",
            "initImage",
            "initCommand",
            "sharedVolumeMedium",
            "sharedVolumeSizeLimit",
            "sharedVolumeDir",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "PrepareData",
        args!["namespace", "image", "command"],
        args![
            "volumes",
            "serviceaccount",
            "failOnError",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "RestoreCSISnapshot",
        args!["name", "pvc", "namespace", "storageClass", "restoreSize"],
        args!["accessModes", "volumeMode", "labels"],
    ),
    f(
        "RestoreData",
        args!["namespace", "image", "backupArtifactPrefix"],
        args![
            "restorePath",
            "encryptionKey",
            "pod",
            "volumes",
            "backupTag",
            "backupIdentifier",
            "backupPath",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "RestoreDataAll",
        args!["namespace", "image", "backupArtifactPrefix", "backupInfo"],
        args![
            "restorePath",
            "encryptionKey",
            "pods",
            "insecureTLS",
            POD[0],
            POD[1],
            POD[2]
        ],
    ),
    f(
        "RestoreRDSSnapshot",
        args!["instanceID"],
        args![
            "snapshotID",
            "dbEngine",
            "backupArtifactPrefix",
            "backupID",
            "username",
            "password",
            "namespace",
            "securityGroupID",
            "dbSubnetGroup",
            "podAnnotations",
            "podLabels",
            "credentialsSource",
            "credentialsSecret",
            "region"
        ],
    ),
    f(
        "ScaleWorkload",
        args!["replicas"],
        args!["namespace", "name", "kind", "waitForReady"],
    ),
    FunctionSpec {
        name: "Wait",
        version: DEFAULT_VERSION,
        required: args!["timeout", "conditions"],
        optional: args![],
        deprecated: Some(Deprecation {
            replacement: "WaitV2",
            note: "Wait substitutes `{ $.jsonpath }` expressions into a template; WaitV2 evaluates the condition template directly against the fetched object `$`",
        }),
        prerendered_args: false,
    },
    FunctionSpec {
        name: "WaitV2",
        version: DEFAULT_VERSION,
        required: args!["timeout", "conditions"],
        optional: args![],
        deprecated: None,
        prerendered_args: false,
    },
];

/// Functions Kanister no longer registers.
pub static REMOVED: &[RemovedFunction] = &[
    RemovedFunction {
        name: "CreateVolumeSnapshot",
        removed_in: "0.115.0",
        instead: "CreateCSISnapshot",
    },
    RemovedFunction {
        name: "WaitForSnapshotCompletion",
        removed_in: "0.115.0",
        instead: "CreateCSISnapshot (it waits until the snapshot is ready)",
    },
    RemovedFunction {
        name: "CreateVolumeFromSnapshot",
        removed_in: "0.115.0",
        instead: "RestoreCSISnapshot",
    },
    RemovedFunction {
        name: "DeleteVolumeSnapshot",
        removed_in: "0.115.0",
        instead: "DeleteCSISnapshot",
    },
    RemovedFunction {
        name: "BackupDataUsingKopiaServer",
        removed_in: "the release after 0.119.0",
        instead: "BackupData, or KubeTask running `kando location push` with a kopia Profile",
    },
    RemovedFunction {
        name: "RestoreDataUsingKopiaServer",
        removed_in: "the release after 0.119.0",
        instead: "RestoreData, or KubeTask running `kando location pull` with a kopia Profile",
    },
    RemovedFunction {
        name: "DeleteDataUsingKopiaServer",
        removed_in: "the release after 0.119.0",
        instead: "DeleteData, or KubeTask running `kando location delete` with a kopia Profile",
    },
];

/// Look up a registered function by exact name (any version).
pub fn lookup(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Look up a removed function by exact name.
pub fn removed(name: &str) -> Option<&'static RemovedFunction> {
    REMOVED.iter().find(|f| f.name == name)
}

/// The registered function name closest to `name`, if reasonably close.
pub fn suggest(name: &str) -> Option<&'static str> {
    crate::suggest::closest(name, FUNCTIONS.iter().map(|f| f.name))
}

/// A function version as Kanister's semver library parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersion(pub semver::Version);

impl fmt::Display for FunctionVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// An argument-name problem, with Kanister's wording.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArgError {
    /// An argument the function does not accept.
    #[error("argument {0} is not supported")]
    Unsupported(String),
    /// A required argument is absent.
    #[error("Required arg missing: {0}")]
    Missing(String),
}

/// Errors from function resolution.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// `preferredVersion` / `--functionVersion` is not a semantic version.
    #[error("failed to parse function version {0:?}")]
    BadVersion(String),
    /// No function of that name is registered.
    #[error("requested function {0:?} has not been registered")]
    Unknown(String),
    /// The function existed in older Kanister releases.
    #[error("function {name:?} was removed in Kanister {removed_in}; use {instead}")]
    Removed {
        /// Function name.
        name: String,
        /// Release that removed it.
        removed_in: &'static str,
        /// Replacement.
        instead: &'static str,
    },
}

/// Parse a version the way Kanister does (Masterminds/semver `NewVersion`):
/// optional `v`, and missing minor/patch parts default to 0.
pub fn parse_version(v: &str) -> Result<FunctionVersion, ResolveError> {
    let bad = || ResolveError::BadVersion(v.to_string());
    let s = v.strip_prefix('v').unwrap_or(v);
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    if parts.iter().any(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let mut full = parts.join(".");
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    full.push_str(rest);
    semver::Version::parse(&full)
        .map(FunctionVersion)
        .map_err(|_| bad())
}

/// Resolve `name` at `preferred_version` like Kanister's `regFuncVersion`:
/// an empty/missing version means `v0.0.0`; a bad semver is an error; a valid
/// version that is not registered falls back to `v0.0.0`.
pub fn resolve(
    name: &str,
    preferred_version: Option<&str>,
) -> Result<&'static FunctionSpec, ResolveError> {
    match preferred_version {
        None | Some("") | Some(DEFAULT_VERSION) => {}
        Some(v) => {
            parse_version(v)?;
        }
    }
    if let Some(spec) = lookup(name) {
        return Ok(spec);
    }
    if let Some(r) = removed(name) {
        return Err(ResolveError::Removed {
            name: r.name.to_string(),
            removed_in: r.removed_in,
            instead: r.instead,
        });
    }
    Err(ResolveError::Unknown(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_sorted_and_unique() {
        let names: Vec<_> = FUNCTIONS.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(FUNCTIONS.len(), 28);
    }

    #[test]
    fn args_match_kanister() {
        let kt = lookup("KubeTask").map(|f| f.required);
        assert_eq!(kt, Some(&["image", "command"][..]));
        let kubeops = lookup("KubeOps");
        assert!(kubeops.is_some_and(|f| f.allows("objectReference") && !f.allows("image")));
        assert!(lookup("RestoreData").is_some_and(|f| f.allows("backupIdentifier")));
        assert!(lookup("ExportRDSSnapshotToLocation").is_some_and(|f| !f.allows("image")));
        assert!(lookup("ExportRDSSnapshotToLocation").is_some_and(|f| !f.allows("podOverride")));
    }

    #[test]
    fn check_args_like_kanister() {
        let kt = lookup("KubeTask").unwrap_or_else(|| panic!("KubeTask"));
        assert_eq!(kt.check_args(&["image", "command", "podLabels"]), Ok(()));
        assert_eq!(
            kt.check_args(&["image", "command", "pod"]),
            Err(ArgError::Unsupported("pod".into()))
        );
        let e = kt.check_args(&["image"]);
        assert_eq!(e, Err(ArgError::Missing("command".into())));
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("Required arg missing: command".to_string())
        );
    }

    #[test]
    fn version_rules() {
        assert!(resolve("KubeTask", None).is_ok());
        assert!(resolve("KubeTask", Some("v0.0.0")).is_ok());
        assert!(resolve("KubeTask", Some("1.2")).is_ok());
        assert!(resolve("KubeTask", Some("v1.2.3-rc.1")).is_ok());
        assert_eq!(
            resolve("KubeTask", Some("latest")),
            Err(ResolveError::BadVersion("latest".into()))
        );
        assert!(matches!(
            resolve("CreateVolumeSnapshot", None),
            Err(ResolveError::Removed {
                removed_in: "0.115.0",
                ..
            })
        ));
        assert!(matches!(
            resolve("KubeTsk", None),
            Err(ResolveError::Unknown(_))
        ));
        assert_eq!(suggest("KubeTsk"), Some("KubeTask"));
        assert_eq!(
            lookup("Wait")
                .and_then(|f| f.deprecated)
                .map(|d| d.replacement),
            Some("WaitV2")
        );
    }
}
