//! Kanister functions that need something no Kapsel platform offers yet (AWS
//! RDS: no machine Kapsel is tested on reaches AWS; design in docs/rds.md).
//! They resolve, so a Blueprint using them validates and its other actions
//! run; running one fails with an error naming the function, the platform
//! and why.

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

const RDS: &str = "Amazon RDS (AWS APIs), which Kapsel does not call yet (docs/rds.md)";

/// Every such function.
pub const ALL: &[Unsupported] = &[
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
