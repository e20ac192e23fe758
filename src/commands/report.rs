//! `fleetreset report RUN`.

use crate::cli::ReportArgs;
use crate::exit::Status;

pub fn run(_args: &ReportArgs) -> anyhow::Result<Status> {
    todo!()
}
