//! Process exit codes. They are part of the interface: cron jobs and systemd units rely on them.

use std::process::ExitCode;

/// What a command ended with, as the user's scripts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything asked for was done (for `check`: the inventory is clean).
    Success,
    /// The command finished, but some devices failed.
    DeviceFailures,
    /// Bad usage or bad input (an invalid inventory, a missing file), or a fatal error.
    BadInput,
    /// Stopped early by a threshold or a maintenance window.
    Stopped,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::DeviceFailures => 1,
            Status::BadInput => 2,
            Status::Stopped => 3,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s.code())
    }
}
