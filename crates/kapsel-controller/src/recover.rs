//! Restart safety: an ActionSet found `running` that no run of this
//! process owns was being run by a controller that stopped (killed,
//! OOM-killed, node lost). Kanister leaves it `running` forever (#3725).
//!
//! Kapsel does not resume it: a phase interrupted half-way (a backup half
//! uploaded, a workload scaled down) cannot in general be repeated or
//! continued safely without knowing what it did. The running phase (and
//! the deferPhase, if it was the one running) is marked `failed`, the set
//! `failed` with [`RESTART_REASON`] in `error.message`, and the task pods
//! that run left (labelled with the ActionSet's uid) are deleted. Its
//! deferPhase is not run (not yet: docs/controller.md).
//!
//! The check is made on the API's current object, so a stale cache (a run
//! that just ended, its final write not yet seen) is never failed.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kapsel_api::{ActionSet, State};
use kube::Api;
use kube::api::{DeleteParams, ListParams};

use crate::status::{Key, now, update};
use crate::{ACTIONSET_UID_LABEL, ReconcileError, Scope, Shared};

/// The start of `error.message` of an ActionSet failed on restart.
pub const RESTART_REASON: &str = "the controller stopped while this ActionSet was running";

/// Fails an orphaned `running` ActionSet and deletes its pods.
pub(crate) async fn orphaned(shared: &Shared, set: &ActionSet) -> Result<(), ReconcileError> {
    let key = Key::of(set);
    let message = format!(
        "{RESTART_REASON} (found running at the start of another controller process, {}): its running phase was interrupted; Kapsel does not resume an interrupted phase, create the ActionSet again",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut failed = false;
    let done = update(&shared.client, &key, |s| {
        failed = false;
        if shared.owns(&key.uid) {
            return false;
        }
        let Some(st) = s.status.as_mut() else {
            return false;
        };
        if st.state != State::Running {
            return false;
        }
        for a in &mut st.actions {
            for p in a.phases.iter_mut().chain(a.defer_phase.as_mut()) {
                if p.state == State::Running {
                    p.state = State::Failed;
                }
            }
        }
        st.state = State::Failed;
        st.error.message = message.clone();
        st.progress.running_phase.clear();
        st.progress.last_transition_time = Some(now());
        failed = true;
        true
    })
    .await
    .map_err(|source| ReconcileError::Kube {
        what: format!(
            "failing the orphaned ActionSet {}/{}",
            key.namespace, key.name
        ),
        source,
    })?;
    let Some(done) = done.filter(|_| failed) else {
        return Ok(());
    };
    tracing::warn!(actionset = %key.name, namespace = %key.namespace, "{message}");
    shared.config.telemetry.metrics.finished(false);
    delete_pods(shared, &done, &key).await;
    for a in &done.spec.actions {
        shared.recorder.failed(&done, &a.name, &message).await;
    }
    Ok(())
}

/// Deletes the task pods labelled with the ActionSet's uid: in every
/// namespace when the controller watches all, else in the ActionSet's
/// namespace and its objects'.
async fn delete_pods(shared: &Shared, set: &ActionSet, key: &Key) {
    let lp = ListParams::default().labels(&format!("{ACTIONSET_UID_LABEL}={}", key.uid));
    let apis: Vec<Api<Pod>> = match &shared.config.scope {
        Scope::All => vec![Api::all(shared.client.clone())],
        Scope::Namespaces(_) => {
            let mut namespaces: BTreeSet<String> = set
                .spec
                .actions
                .iter()
                .map(|a| a.object.namespace.clone())
                .filter(|n| !n.is_empty())
                .collect();
            namespaces.insert(key.namespace.clone());
            namespaces
                .iter()
                .map(|ns| Api::namespaced(shared.client.clone(), ns))
                .collect()
        }
    };
    for api in apis {
        let pods = match api.list(&lp).await {
            Ok(l) => l.items,
            Err(e) => {
                tracing::warn!(actionset = %key.name, "listing its task pods: {e}");
                continue;
            }
        };
        for p in pods {
            let (Some(ns), Some(name)) = (p.metadata.namespace, p.metadata.name) else {
                continue;
            };
            let api: Api<Pod> = Api::namespaced(shared.client.clone(), &ns);
            match api
                .delete(&name, &DeleteParams::default().grace_period(0))
                .await
            {
                Ok(_) => tracing::info!(actionset = %key.name, "deleted its task pod {ns}/{name}"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    tracing::warn!(actionset = %key.name, "deleting its task pod {ns}/{name}: {e}")
                }
            }
        }
    }
}
