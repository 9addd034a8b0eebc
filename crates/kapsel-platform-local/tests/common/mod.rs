//! Shared by the local platform's tests: kando built once, platforms from
//! inventory text, requests from Blueprint text, running an action.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kapsel_api::Blueprint;
use kapsel_engine::{
    ActionRequest, ActionResult, Event, EventSink, PodOptions, Registry, run_action,
};
use kapsel_platform_local::LocalPlatform;
use kapsel_platform_local::inventory::Inventory;
use tokio_util::sync::CancellationToken;

/// Builds `kando` (a separate package) once and returns its directory.
pub fn kando_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "kando"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success());
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        target.join("debug")
    })
    .clone()
}

/// A platform for an inventory given as YAML, relative paths relative to
/// `dir`, with kando on PATH.
pub fn setup_with(dir: &Path, inventory: &str) -> LocalPlatform {
    let inv: Inventory = serde_saphyr::from_str(inventory).unwrap();
    LocalPlatform::new(inv, dir, vec![kando_dir()])
}

/// A Blueprint from its `actions:` text.
pub fn blueprint(actions: &str) -> Blueprint {
    let text = format!(
        "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata: {{name: t}}\n{}",
        actions.trim_start_matches('\n')
    );
    serde_saphyr::from_str(&text).unwrap()
}

/// A request for `action` with the given parameters.
pub fn request_for(
    bp: Blueprint,
    action: &str,
    params: kapsel_params::RenderParams,
) -> ActionRequest {
    ActionRequest {
        name: action.to_string(),
        action: bp.spec.actions[action].clone(),
        params,
        pod: PodOptions::default(),
        preferred_version: None,
        phase_timeout: None,
        action_timeout: None,
    }
}

/// A request for `action` on StatefulSet db/app.
pub fn blueprint_request(platform: &LocalPlatform, actions: &str, action: &str) -> ActionRequest {
    let mut params = platform.object_params("StatefulSet", "db", "app").unwrap();
    params.time = "2025-01-02T03:04:05.123456789Z".to_string();
    request_for(blueprint(actions), action, params)
}

/// Runs the action; returns its result and every event.
pub async fn run(
    platform: &LocalPlatform,
    req: &ActionRequest,
    cancel: &CancellationToken,
) -> (ActionResult, Vec<Event>) {
    let (sink, mut rx) = EventSink::channel();
    let result = run_action(req, platform, &Registry::builtin(), &sink, cancel).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (result, events)
}

/// Whether a process is gone (or a zombie about to be reaped).
pub fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z")
}
