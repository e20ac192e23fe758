//! `fleetreset audit …`: audits of a recorded run.
//!
//! # Layout
//! - `sample`: `fleetreset audit sample RUN --percent P --verifier NAME`.

mod sample;

use crate::cli::{AuditArgs, AuditCommand};
use crate::exit::Status;

pub async fn run(args: &AuditArgs) -> anyhow::Result<Status> {
    match &args.command {
        AuditCommand::Sample(a) => sample::run(a).await,
    }
}
