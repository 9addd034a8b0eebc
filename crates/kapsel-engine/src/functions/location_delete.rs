//! LocationDelete: delete what `kando location push` stored under an artifact
//! path in the Profile's location. Runs `kando location delete` in a task with
//! the Profile on stdin (`--secrets-stdin`, as `kando data` takes it), never
//! in argv.

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, Stdin, TaskSpec};

use super::Collector;

/// `LocationDelete` (artifact).
#[derive(Debug, Clone, Copy)]
pub struct LocationDelete;

impl Function for LocationDelete {
    fn name(&self) -> &'static str {
        "LocationDelete"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let profile = cx.profile.ok_or(FunctionError::NoProfile)?;
            let profile: serde_json::Value = serde_json::from_str(profile)
                .map_err(|e| FunctionError::Failed(format!("the Profile does not parse: {e}")))?;
            let mut artifact = arg::string(args, "artifact")?;
            // Kanister trims the bucket name from the front of the artifact.
            if let Some(bucket) = profile
                .pointer("/Location/bucket")
                .and_then(|b| b.as_str())
                .filter(|b| !b.is_empty())
                && let Some(rest) = artifact.strip_prefix(bucket)
            {
                artifact = rest.trim_start_matches('/').to_string();
            }
            if artifact.is_empty() {
                return Err(FunctionError::Arg {
                    arg: "artifact".to_string(),
                    message: "is empty".to_string(),
                });
            }
            let stdin = serde_json::to_vec(&serde_json::json!({ "profile": profile }))
                .map_err(|e| FunctionError::Failed(format!("cannot encode kando's input: {e}")))?;
            let spec = TaskSpec {
                name_prefix: "location-delete-".to_string(),
                image: super::tools_image(),
                command: ["kando", "location", "delete", "--secrets-stdin", "--path"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain([artifact])
                    .collect(),
                labels: cx.pod.labels.clone(),
                annotations: cx.pod.annotations.clone(),
                pod_override: super::kube_task::merge_override(None, cx.pod.pod_override.as_ref()),
                stdin: Some(Stdin(stdin)),
                ..TaskSpec::default()
            };
            let mut collector = Collector::new(&cx);
            let exit = super::run_task(&cx, &spec, &mut collector).await?;
            collector.finish(exit)?;
            Ok(Outputs::new())
        })
    }
}
