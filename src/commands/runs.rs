//! `fleetreset runs`.

use crate::cli::RunsArgs;
use crate::exit::Status;

pub fn run(_args: &RunsArgs) -> anyhow::Result<Status> {
    todo!()
}
