//! Kanister functions that need something no Kapsel platform offers yet (the
//! Kubernetes API, CSI VolumeSnapshots, AWS RDS). They resolve, so a
//! Blueprint using them validates and its other actions run; running one
//! fails with an error naming the function and the platform.

use crate::function::{Args, Context, Function, FunctionError, Outputs};
use crate::platform::BoxFuture;

/// A function the platforms of Kapsel cannot run.
#[derive(Debug, Clone, Copy)]
pub struct Unsupported {
    /// The function's name.
    pub name: &'static str,
    /// What it needs.
    pub needs: &'static str,
}

const KUBE: &str = "the Kubernetes API";
const CSI: &str = "Kubernetes CSI VolumeSnapshots";
const RDS: &str = "Amazon RDS (AWS APIs)";

/// Every such function.
pub const ALL: &[Unsupported] = &[
    Unsupported {
        name: "KubeOps",
        needs: KUBE,
    },
    Unsupported {
        name: "Wait",
        needs: KUBE,
    },
    Unsupported {
        name: "WaitV2",
        needs: KUBE,
    },
    Unsupported {
        name: "CreateCSISnapshot",
        needs: CSI,
    },
    Unsupported {
        name: "CreateCSISnapshotStatic",
        needs: CSI,
    },
    Unsupported {
        name: "RestoreCSISnapshot",
        needs: CSI,
    },
    Unsupported {
        name: "DeleteCSISnapshot",
        needs: CSI,
    },
    Unsupported {
        name: "DeleteCSISnapshotContent",
        needs: CSI,
    },
    Unsupported {
        name: "CreateRDSSnapshot",
        needs: RDS,
    },
    Unsupported {
        name: "ExportRDSSnapshotToLocation",
        needs: RDS,
    },
    Unsupported {
        name: "RestoreRDSSnapshot",
        needs: RDS,
    },
    Unsupported {
        name: "DeleteRDSSnapshot",
        needs: RDS,
    },
];

impl Function for Unsupported {
    fn name(&self) -> &'static str {
        self.name
    }

    fn exec<'a>(
        &'a self,
        cx: Context<'a>,
        _args: &'a Args,
    ) -> BoxFuture<'a, Result<Outputs, FunctionError>> {
        Box::pin(async move {
            Err(FunctionError::Unsupported {
                function: self.name.to_string(),
                platform: cx.platform.name().to_string(),
                needs: self.needs.to_string(),
            })
        })
    }
}
