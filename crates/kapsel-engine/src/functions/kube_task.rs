//! KubeTask: run a command in a new task pod; its stdout markers are the
//! phase's outputs.

use std::collections::BTreeMap;

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, TaskSpec};

use super::Collector;

/// `KubeTask` (image, command; namespace and pod options optional).
#[derive(Debug, Clone, Copy)]
pub struct KubeTask;

impl Function for KubeTask {
    fn name(&self) -> &'static str {
        "KubeTask"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let (labels, annotations) = pod_labels_annotations(&cx, args)?;
            let spec = TaskSpec {
                name_prefix: "kanister-job-".to_string(),
                namespace: arg::opt_string(args, "namespace")?.filter(|n| !n.is_empty()),
                image: arg::string(args, "image")?,
                command: arg::strings(args, "command")?,
                labels,
                annotations,
                pod_override: merge_override(args.get("podOverride"), cx.pod.pod_override.as_ref()),
                ..TaskSpec::default()
            };
            let mut collector = Collector::new(&cx);
            let exit = super::run_task(&cx, &spec, &mut collector).await?;
            collector.finish(exit)
        })
    }
}

/// Labels or annotations.
type Labels = BTreeMap<String, String>;

/// Labels and annotations of a pod a function creates. Kanister: the
/// blueprint's win over the ActionSet's.
pub(crate) fn pod_labels_annotations(
    cx: &Context<'_>,
    args: &Args,
) -> Result<(Labels, Labels), FunctionError> {
    let mut labels = cx.pod.labels.clone();
    labels.extend(arg::string_map(args, "podLabels")?);
    let mut annotations = cx.pod.annotations.clone();
    annotations.extend(arg::string_map(args, "podAnnotations")?);
    Ok((labels, annotations))
}

/// A task for a function's pod: namespace, image, command, pod options.
pub(crate) fn task_spec(
    cx: &Context<'_>,
    args: &Args,
    namespace: Option<String>,
    image: String,
    command: Vec<String>,
) -> Result<TaskSpec, FunctionError> {
    let (labels, annotations) = pod_labels_annotations(cx, args)?;
    Ok(TaskSpec {
        namespace,
        image,
        command,
        labels,
        annotations,
        pod_override: merge_override(args.get("podOverride"), cx.pod.pod_override.as_ref()),
        ..TaskSpec::default()
    })
}

/// The ActionSet's podOverride strategic-merged on top of the blueprint's
/// (Kanister's `GetAndMergePodSpecOverride`: the ActionSet wins).
pub(crate) fn merge_override(
    blueprint: Option<&serde_json::Value>,
    actionset: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut out = blueprint.and_then(|v| v.as_object()).cloned();
    if let Some(a) = actionset {
        let base = out.get_or_insert_with(serde_json::Map::new);
        crate::podspec::merge_pod_spec(base, a);
    }
    out
}
