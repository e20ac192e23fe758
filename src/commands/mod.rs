//! One file per subcommand. Each has a `run` that takes its arguments and what it needs, and
//! returns the exit status; nothing here reads globals.

pub mod check;
pub mod report;
pub mod runs;
pub mod simulate;
