//! KubeExecAll: the same command in every listed container of every listed
//! pod, in parallel; the outputs of all are merged (Kanister merges them
//! unordered; here a later pod/container in the lists wins on equal keys).

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ExecSpec};

use super::{Collector, join_all, keep_secret_out_of_argv};

/// `KubeExecAll` (namespace, pods, containers, command).
#[derive(Debug, Clone, Copy)]
pub struct KubeExecAll;

/// A space-separated list (Kanister splits with `strings.Fields`), or a list.
pub(crate) fn fields(args: &Args, name: &str) -> Result<Vec<String>, FunctionError> {
    Ok(arg::strings(args, name)?
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect())
}

impl Function for KubeExecAll {
    fn name(&self) -> &'static str {
        "KubeExecAll"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let namespace = arg::string(args, "namespace")?;
            let pods = fields(args, "pods")?;
            let containers = fields(args, "containers")?;
            let command = arg::strings(args, "command")?;
            if pods.is_empty() || containers.is_empty() {
                return Err(FunctionError::Arg {
                    arg: if pods.is_empty() {
                        "pods"
                    } else {
                        "containers"
                    }
                    .to_string(),
                    message: "names no pod or container".to_string(),
                });
            }
            let cx = &cx;
            let mut runs: Vec<BoxFuture<'_, (String, Result<Outputs, FunctionError>)>> = Vec::new();
            for pod in &pods {
                for container in &containers {
                    let spec = ExecSpec {
                        namespace: namespace.clone(),
                        pod: pod.clone(),
                        container: Some(container.clone()),
                        command: command.clone(),
                        stdin: None,
                    };
                    let spec = keep_secret_out_of_argv(cx, spec);
                    let label = format!("{pod}/{container}");
                    runs.push(Box::pin(async move {
                        let mut collector = Collector::new(cx).with_prefix(format!("{label}: "));
                        let r = match cx.platform.exec(&spec, &mut collector).await {
                            Ok(exit) => collector.finish(exit),
                            Err(e) => Err(e.into()),
                        };
                        (label, r)
                    }));
                }
            }
            let mut merged = Outputs::new();
            let mut errors = Vec::new();
            for (label, r) in join_all(runs).await {
                match r {
                    Ok(o) => merged.extend(o),
                    Err(e) => errors.push(format!("{label}: {e}")),
                }
            }
            if !errors.is_empty() {
                return Err(FunctionError::Failed(errors.join("\n")));
            }
            Ok(merged)
        })
    }
}
