//! Watching what the cluster records while a test runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::Env;

/// Records every version of every pod in a namespace, polling, on a thread
/// of its own (so that a test blocked on a child process does not stop it).
pub struct PodWatch {
    seen: Arc<Mutex<Vec<String>>>,
    stop: tokio_util::sync::CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

impl PodWatch {
    /// Starts recording `ns`.
    pub fn start(_env: &Env, ns: &str) -> PodWatch {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let (ns, seen2, stop2) = (ns.to_string(), seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                // A client of its own: a kube client serves requests on the
                // runtime that made it, which a blocked test would stall.
                let Ok(client) = crate::client_from_kubeconfig().await else {
                    return;
                };
                let api = Api::<Pod>::namespaced(client, &ns);
                while !stop2.is_cancelled() {
                    if let Ok(l) = api.list(&ListParams::default()).await {
                        for pod in l.items {
                            if let (Ok(mut v), Ok(text)) =
                                (seen2.lock(), serde_json::to_string(&pod))
                            {
                                v.push(text);
                            }
                        }
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        () = stop2.cancelled() => {}
                    }
                }
            });
        });
        PodWatch { seen, stop, thread }
    }

    /// Stops and returns every pod version seen (JSON), in order.
    pub async fn stop(self) -> Vec<String> {
        self.stop.cancel();
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}
