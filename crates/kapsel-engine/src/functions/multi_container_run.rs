//! MultiContainerRun: a background and an output command at the same time,
//! sharing a volume; the outputs come only from the output command.

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ContainerCommand, MultiContainerSpec};

use super::kube_task::{merge_override, pod_labels_annotations};
use super::{Collector, holds_secret};

/// `MultiContainerRun` (backgroundImage, backgroundCommand, outputImage,
/// outputCommand; namespace, init*, sharedVolume*, pod options optional).
#[derive(Debug, Clone, Copy)]
pub struct MultiContainerRun;

impl Function for MultiContainerRun {
    fn name(&self) -> &'static str {
        "MultiContainerRun"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let (labels, annotations) = pod_labels_annotations(&cx, args)?;
            let init_command = match args.get("initCommand") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(_) => arg::strings(args, "initCommand")?,
            };
            let init = (!init_command.is_empty()).then(|| ContainerCommand {
                image: arg::opt_string(args, "initImage")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                command: init_command,
            });
            let mut spec = MultiContainerSpec {
                namespace: arg::opt_nonempty(args, "namespace")?,
                init,
                background: ContainerCommand {
                    image: arg::string(args, "backgroundImage")?,
                    command: arg::strings(args, "backgroundCommand")?,
                },
                output: ContainerCommand {
                    image: arg::string(args, "outputImage")?,
                    command: arg::strings(args, "outputCommand")?,
                },
                shared_volume_dir: arg::opt_nonempty(args, "sharedVolumeDir")?
                    .unwrap_or_else(|| "/tmp/".to_string()),
                shared_volume_medium: arg::opt_nonempty(args, "sharedVolumeMedium")?,
                shared_volume_size_limit: arg::opt_nonempty(args, "sharedVolumeSizeLimit")?,
                labels,
                annotations,
                pod_override: merge_override(args.get("podOverride"), cx.pod.pod_override.as_ref()),
                secret_command: false,
            };
            // a command holding a secret value the redactor knows stays out
            // of the pod spec (the platform's to arrange)
            spec.secret_command = spec
                .init
                .iter()
                .chain([&spec.background, &spec.output])
                .any(|c| holds_secret(&cx, &c.command));
            let mut background = Collector::new(&cx)
                .with_prefix("background: ".to_string())
                .without_markers();
            let mut output = Collector::new(&cx);
            let exit = cx
                .platform
                .multi_container(&spec, &mut background, &mut output)
                .await?;
            // The background command's own status does not decide the result
            // (Kanister waits for the output container only); its lines are
            // in the log.
            let _ = background.finish_lenient(crate::platform::Exit { code: Some(0) });
            output.finish(exit)
        })
    }
}
