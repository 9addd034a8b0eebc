//! PrepareData: a task with the workload's volumes mounted; its stdout markers
//! are the phase's outputs.

use std::collections::BTreeMap;

use crate::event::{Event, LogStream};
use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, VolumeMount};

use super::Collector;
use super::kube_task::task_spec;

/// `PrepareData` (namespace, image, command; volumes, serviceaccount,
/// failOnError, pod options optional).
#[derive(Debug, Clone, Copy)]
pub struct PrepareData;

/// Kanister's default mount point of a claim in PrepareData.
fn default_mount(claim: &str) -> String {
    format!("/mnt/prepare_data/{claim}")
}

impl Function for PrepareData {
    fn name(&self) -> &'static str {
        "PrepareData"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let namespace = arg::string(args, "namespace")?;
            let mut vols = arg::string_map(args, "volumes")?;
            if vols.is_empty() {
                // Kanister: every claim of the workload's pods.
                if !cx.object.is_workload() {
                    return Err(FunctionError::Failed(
                        "Failed to get volumes: give `volumes` (the ActionSet's object is not a workload)"
                            .to_string(),
                    ));
                }
                vols = cx
                    .object
                    .volumes
                    .values()
                    .flat_map(|m| m.keys())
                    .map(|c| (c.clone(), default_mount(c)))
                    .collect::<BTreeMap<_, _>>();
                if vols.is_empty() {
                    return Err(FunctionError::Failed("No volumes found".to_string()));
                }
            }
            let mut spec = task_spec(
                &cx,
                args,
                Some(namespace),
                arg::string(args, "image")?,
                arg::strings(args, "command")?,
            )?;
            spec.volumes = vols
                .into_iter()
                .map(|(claim, mount_path)| VolumeMount { claim, mount_path })
                .collect();
            spec.service_account = arg::opt_nonempty(args, "serviceaccount")?;
            spec.name_prefix = "prepare-data-job-".to_string();
            let fail_on_error = arg::opt_bool(args, "failOnError")?.unwrap_or(false);
            let mut collector = Collector::new(&cx);
            let exit = super::run_task(&cx, &spec, &mut collector).await?;
            let (outputs, status) = collector.finish_lenient(exit)?;
            match status {
                Some(e) if fail_on_error => Err(e),
                Some(e) => {
                    let first = e.to_string();
                    let first = first.lines().next().unwrap_or_default();
                    cx.events.send(Event::Log {
                        phase: cx.phase.to_string(),
                        stream: LogStream::Stderr,
                        line: format!("PrepareData: {first} (ignored: failOnError is false)"),
                    });
                    Ok(outputs)
                }
                None => Ok(outputs),
            }
        })
    }
}
