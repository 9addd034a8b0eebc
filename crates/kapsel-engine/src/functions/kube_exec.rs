//! KubeExec: run a command in an existing container; its stdout markers are the
//! phase's outputs.

use crate::function::{Args, Context, Function, FunctionError, Outputs, arg};
use crate::platform::{BoxFuture, ExecSpec};

use super::{Collector, keep_secret_out_of_argv};

/// `KubeExec` (namespace, pod, command; container optional).
#[derive(Debug, Clone, Copy)]
pub struct KubeExec;

impl Function for KubeExec {
    fn name(&self) -> &'static str {
        "KubeExec"
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            let spec = ExecSpec {
                namespace: arg::string(args, "namespace")?,
                pod: arg::string(args, "pod")?,
                container: arg::opt_string(args, "container")?.filter(|c| !c.is_empty()),
                command: arg::strings(args, "command")?,
                stdin: None,
            };
            let spec = keep_secret_out_of_argv(&cx, spec);
            let mut collector = Collector::new(&cx);
            let exit = cx.platform.exec(&spec, &mut collector).await?;
            collector.finish(exit)
        })
    }
}
