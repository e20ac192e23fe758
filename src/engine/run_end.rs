//! How a run's process ended it, for the audit's run-level event: what stopped it (which
//! signal and when, which threshold or window), how many jobs were left for `resume` to judge,
//! how many never started. The status `runs.status` gets follows from it ([`RunEnd::status`]).

use crate::store::{Finished, Interrupted, RunEnd, Stopped};

use super::policy::StopReason;
use super::shutdown::Signals;

/// How the run ended, for the audit: what stopped it (which signal, when; which threshold or
/// window), how many jobs were left for `resume` to judge and how many never started.
pub(super) fn run_end(
    stop: Option<&StopReason>,
    signals: &Signals,
    left_open: u32,
    skipped: u32,
) -> RunEnd {
    let interrupted = || {
        let first = signals.first();
        RunEnd::Interrupted(Interrupted {
            signal: first.map(|(name, _)| name.to_string()),
            signal_at: first.map(|(_, at)| at),
            signals: signals.received(),
            left_open,
            skipped,
        })
    };
    match stop {
        Some(why @ (StopReason::Threshold(text) | StopReason::WindowClosed(text))) => {
            RunEnd::Stopped(Stopped {
                reason: why.skip_reason(),
                why: text.clone(),
                left_open,
                skipped,
            })
        }
        Some(StopReason::Signal) => interrupted(),
        // Only a signal stops jobs in flight; should one be left open all the same, the run is
        // not finished.
        None if left_open > 0 => interrupted(),
        None => RunEnd::Finished(Finished {}),
    }
}

/// A count of jobs for the audit; no inventory comes near `u32::MAX` rows.
pub(super) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reason;
    use crate::store::RunStatus;

    #[test]
    fn a_run_nothing_stopped_finished() {
        let end = run_end(None, &Signals::never(), 0, 0);
        assert_eq!(end, RunEnd::Finished(Finished {}));
        assert_eq!(end.status(), RunStatus::Finished);
    }

    #[test]
    fn a_signal_is_named_with_when_it_came_and_what_it_left() {
        let (tx, signals) = super::super::shutdown::channel();
        tx.signal_named("SIGTERM");
        let RunEnd::Interrupted(i) = run_end(Some(&StopReason::Signal), &signals, 2, 5) else {
            panic!("not an interruption");
        };
        assert_eq!(i.signal.as_deref(), Some("SIGTERM"));
        assert!(i.signal_at.is_some());
        assert_eq!((i.signals, i.left_open, i.skipped), (1, 2, 5));
    }

    #[test]
    fn a_threshold_or_window_is_a_stop_with_its_reason_in_words() {
        let why = "the maintenance window 22:00-06:00 closed".to_string();
        let end = run_end(
            Some(&StopReason::WindowClosed(why.clone())),
            &Signals::never(),
            0,
            3,
        );
        assert_eq!(
            end,
            RunEnd::Stopped(Stopped {
                reason: Reason::WindowClosed,
                why,
                left_open: 0,
                skipped: 3
            })
        );
        assert_eq!(end.status(), RunStatus::Stopped);
        let end = run_end(
            Some(&StopReason::Threshold("canary failed".into())),
            &Signals::never(),
            1,
            0,
        );
        assert_eq!(end.status(), RunStatus::Interrupted);
    }

    #[test]
    fn jobs_left_open_without_a_stop_are_no_finish() {
        let end = run_end(None, &Signals::never(), 1, 0);
        assert_eq!(end.status(), RunStatus::Interrupted);
    }
}
