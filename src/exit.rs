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

/// How a command that ended before its work (or instead of it) ended, for `--json`: a closed
/// vocabulary, documented in the README, that scripts may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStatus {
    /// Bad options or input, or a safety check said no (an inventory with problems, the
    /// database in use, devices claimed by another run, commands left without an outcome).
    /// Nothing was sent.
    Refused,
    /// A factory reset was not confirmed. Nothing was sent.
    NotConfirmed,
    /// Outside the maintenance window. Nothing was sent.
    OutsideWindow,
    /// Nothing left to do (`resume` of a run whose every job has its outcome).
    NothingToDo,
    /// Any other error that stopped the command (a database that can't be opened, a full
    /// disk); its reason says what.
    Error,
}

impl EarlyStatus {
    pub const ALL: [EarlyStatus; 5] = [
        EarlyStatus::Refused,
        EarlyStatus::NotConfirmed,
        EarlyStatus::OutsideWindow,
        EarlyStatus::NothingToDo,
        EarlyStatus::Error,
    ];

    /// The word `--json` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            EarlyStatus::Refused => "refused",
            EarlyStatus::NotConfirmed => "not-confirmed",
            EarlyStatus::OutsideWindow => "outside-window",
            EarlyStatus::NothingToDo => "nothing-to-do",
            EarlyStatus::Error => "error",
        }
    }
}

/// A command's early end: why, and the exit status it maps to. Commands return it as their
/// error; [`finish`] prints it for people and, with `--json`, as JSON.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Early {
    pub status: EarlyStatus,
    pub exit: Status,
    pub reason: String,
    /// The command already said it on stderr (with more detail than `reason`).
    said: bool,
}

impl Early {
    fn new(status: EarlyStatus, exit: Status, reason: impl Into<String>) -> Early {
        Early {
            status,
            exit,
            reason: reason.into(),
            said: false,
        }
    }

    /// Refused with exit 2; nothing was sent.
    pub fn refused(reason: impl Into<String>) -> Early {
        Early::new(EarlyStatus::Refused, Status::BadInput, reason)
    }

    /// A factory reset not confirmed, exit 2.
    pub fn not_confirmed(reason: impl Into<String>) -> Early {
        Early::new(EarlyStatus::NotConfirmed, Status::BadInput, reason)
    }

    /// Outside the maintenance window, exit 3.
    pub fn outside_window(reason: impl Into<String>) -> Early {
        Early::new(EarlyStatus::OutsideWindow, Status::Stopped, reason)
    }

    /// Nothing to do, with the exit status of what was done before.
    pub fn nothing_to_do(reason: impl Into<String>, exit: Status) -> Early {
        Early::new(EarlyStatus::NothingToDo, exit, reason)
    }

    /// The command has printed its own lines for people already; only `--json` is left.
    pub fn said(mut self) -> Early {
        self.said = true;
        self
    }
}

/// What an error ends a command with, and the one JSON object `--json` prints for it:
/// `{"status": …, "exit": …, "reason": …}`.
pub fn early_of(err: &anyhow::Error) -> (EarlyStatus, Status) {
    if let Some(e) = err.chain().find_map(|c| c.downcast_ref::<Early>()) {
        return (e.status, e.exit);
    }
    let refused = err.chain().any(|c| {
        c.downcast_ref::<crate::store::lock::LockError>()
            .is_some_and(|l| matches!(l, crate::store::lock::LockError::DbHeld { .. }))
            || c.downcast_ref::<crate::engine::claims::ClaimError>()
                .is_some_and(|e| !matches!(e, crate::engine::claims::ClaimError::Io { .. }))
    });
    if refused {
        (EarlyStatus::Refused, Status::BadInput)
    } else {
        (EarlyStatus::Error, Status::BadInput)
    }
}

/// The JSON object of an early end.
pub fn early_json(status: EarlyStatus, exit: Status, reason: &str) -> serde_json::Value {
    serde_json::json!({"status": status.as_str(), "exit": exit.code(), "reason": reason})
}

/// Ends a command that returned an error: says it on stderr (unless the command already
/// did), and with `json` prints one JSON object on stdout. The one place every early end of
/// every command goes through, so none is missed. Returns the exit status.
pub fn finish(err: &anyhow::Error, json: bool) -> Status {
    use std::io::Write;
    let (status, exit) = early_of(err);
    let early = err.chain().find_map(|c| c.downcast_ref::<Early>());
    // Our messages may span lines on purpose; anything else that could steer a terminal is
    // shown, not obeyed.
    let text = format!("{err:#}");
    let shown: Vec<_> = text.lines().map(crate::inert::inert).collect();
    match early {
        Some(e) if e.said => {}
        Some(_) => {
            let _ = writeln!(std::io::stderr(), "fleetreset: {}", shown.join("\n"));
        }
        None => {
            let _ = writeln!(std::io::stderr(), "fleetreset: error: {}", shown.join("\n"));
        }
    }
    if json {
        let reason = early.map_or(text.clone(), |e| e.reason.clone());
        let doc = early_json(status, exit, &reason);
        if let Ok(s) = crate::report::json_inert(&doc) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
        }
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_early_end_is_one_object_with_its_status_word_exit_code_and_reason() {
        let err = anyhow::Error::new(Early::outside_window("outside the window 22:00-06:00"));
        let (status, exit) = early_of(&err);
        assert_eq!(
            serde_json::to_string(&early_json(status, exit, &err.to_string())).unwrap(),
            r#"{"exit":3,"reason":"outside the window 22:00-06:00","status":"outside-window"}"#
        );
    }

    #[test]
    fn an_early_end_keeps_its_status_through_context_and_other_errors_are_errors() {
        use anyhow::Context;
        let wrapped: anyhow::Result<()> =
            Err(anyhow::Error::new(Early::not_confirmed("no"))).context("resuming");
        assert_eq!(
            early_of(&wrapped.unwrap_err()),
            (EarlyStatus::NotConfirmed, Status::BadInput)
        );
        assert_eq!(
            early_of(&anyhow::anyhow!("disk full")),
            (EarlyStatus::Error, Status::BadInput)
        );
        let held = crate::store::lock::LockError::DbHeld {
            db: "x.db".into(),
            holder: "pid 1".into(),
            path: "x.db.lock".into(),
        };
        assert_eq!(
            early_of(&anyhow::Error::new(held)),
            (EarlyStatus::Refused, Status::BadInput)
        );
        let busy = crate::engine::claims::ClaimError::Busy {
            holder: "run r on a.db".into(),
            overlapping: vec!["mac 50:C7:BF:00:00:01".into()],
            total: 1,
        };
        let claimed: anyhow::Result<()> =
            Err(anyhow::Error::new(busy)).context("claiming the devices");
        assert_eq!(
            early_of(&claimed.unwrap_err()),
            (EarlyStatus::Refused, Status::BadInput)
        );
    }

    #[test]
    fn the_status_words_are_distinct() {
        let mut words: Vec<_> = EarlyStatus::ALL.iter().map(|s| s.as_str()).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), EarlyStatus::ALL.len());
    }
}
