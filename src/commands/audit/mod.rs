//! `fleetreset audit …`: checks of the audit trail and of the devices it speaks of.
//!
//! # Layout
//! - [`verify`]: `fleetreset audit verify`: recompute runs' hash chains and name the first
//!   record changed since.
//! - `sample`: `fleetreset audit sample RUN --percent P --verifier NAME`.
//! - `merge`: `fleetreset audit merge OUT.db SITE.db…`: sites' databases in one, keyed by site.

mod merge;
mod sample;
pub mod verify;

use crate::cli::{AuditArgs, AuditCommand};
use crate::exit::Status;

pub async fn run(args: &AuditArgs) -> anyhow::Result<Status> {
    match &args.command {
        AuditCommand::Verify(a) => verify::run(a),
        AuditCommand::Sample(a) => sample::run(a).await,
        AuditCommand::Merge(a) => merge::run(a),
    }
}
