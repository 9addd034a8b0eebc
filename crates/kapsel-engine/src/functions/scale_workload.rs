//! ScaleWorkload: scale a Deployment, StatefulSet or DeploymentConfig
//! (default: the ActionSet's object), optionally waiting until it is ready.

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ScaleSpec};

use super::Collector;

/// `ScaleWorkload` (replicas; namespace, name, kind, waitForReady optional).
#[derive(Debug, Clone, Copy)]
pub struct ScaleWorkload;

impl Function for ScaleWorkload {
    fn name(&self) -> &'static str {
        "ScaleWorkload"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let replicas = arg::opt_int(args, "replicas")?.ok_or_else(|| FunctionError::Arg {
                arg: "replicas".to_string(),
                message: "missing".to_string(),
            })?;
            let replicas = i32::try_from(replicas)
                .ok()
                .filter(|r| *r >= 0)
                .ok_or_else(|| FunctionError::Arg {
                    arg: "replicas".to_string(),
                    message: format!("{replicas} is not a replica count"),
                })?;
            // Kanister: namespace, kind and name default to the ActionSet's
            // object when it is a workload.
            let default = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_string());
            let o = cx.object;
            let (dk, dn, dname) = if o.is_workload() {
                (o.kind.as_str(), o.namespace.as_str(), o.name.as_str())
            } else {
                ("", "", "")
            };
            let spec = ScaleSpec {
                kind: default(arg::opt_nonempty(args, "kind")?, dk),
                namespace: default(arg::opt_nonempty(args, "namespace")?, dn),
                name: default(arg::opt_nonempty(args, "name")?, dname),
                replicas,
                wait_for_ready: arg::opt_bool(args, "waitForReady")?.unwrap_or(true),
            };
            if spec.kind.is_empty() || spec.name.is_empty() {
                return Err(FunctionError::Failed(format!(
                    "no workload to scale: the ActionSet's object is a {}, give kind, namespace and name",
                    if o.kind.is_empty() {
                        "non-workload"
                    } else {
                        &o.kind
                    }
                )));
            }
            if !matches!(
                spec.kind.to_ascii_lowercase().as_str(),
                "deployment" | "statefulset" | "deploymentconfig"
            ) {
                return Err(FunctionError::Arg {
                    arg: "kind".to_string(),
                    message: format!(
                        "{:?} is not supported (Deployment, StatefulSet, DeploymentConfig)",
                        spec.kind
                    ),
                });
            }
            let mut collector = Collector::new(&cx);
            let original = cx.platform.scale(&spec, &mut collector).await;
            let _ = collector.finish_lenient(crate::platform::Exit { code: Some(0) });
            let original = original?;
            let mut out = Outputs::new();
            out.insert("originalReplicaCount".to_string(), original.into());
            Ok(out)
        })
    }
}
