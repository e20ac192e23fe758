//! The words of a run, shared by the engine, the audit store and the reports: actions, methods,
//! job states, outcomes and reasons. Their `as_str` forms are what the database and reports
//! hold, so they never change once shipped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod stored_kind;

pub use self::stored_kind::StoredKind;

/// What the user asks for the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Soft reset: the device restarts and keeps its settings.
    PowerCycle,
    /// Hard reset: settings, Wi-Fi and account binding erased; the device leaves the network.
    FactoryReset,
}

/// How one device gets the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A command over the device's own local protocol.
    Remote,
    /// Switch off the plug or strip outlet that powers it, wait, switch on.
    Upstream,
    /// A work order for a technician.
    Manual,
}

/// Which method a run (`--method`) or an inventory row (its `method` column) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum MethodChoice {
    /// Remote where the catalog knows a command, else upstream where `power_via` names an
    /// outlet, else a work order.
    #[default]
    Auto,
    /// Only a command over the device's own protocol; a work order where there is none.
    Remote,
    /// Only a power cycle at the outlet `power_via` names; a work order where there is none.
    Upstream,
    /// A work order for every device; nothing is sent.
    Manual,
}

impl MethodChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodChoice::Auto => "auto",
            MethodChoice::Remote => "remote",
            MethodChoice::Upstream => "upstream",
            MethodChoice::Manual => "manual",
        }
    }
}

impl std::str::FromStr for MethodChoice {
    type Err = String;

    /// An inventory cell: case and surrounding spaces don't matter; empty is `auto`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(MethodChoice::Auto),
            "remote" => Ok(MethodChoice::Remote),
            "upstream" => Ok(MethodChoice::Upstream),
            "manual" => Ok(MethodChoice::Manual),
            _ => Err("expected auto, remote, upstream or manual".into()),
        }
    }
}

/// Where a job is in its life. Each change is an event in the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Probing,
    IdentityChecked,
    IntentRecorded,
    Acting,
    Verifying,
    Done,
}

/// How a job ended. Every job ends with exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    ManualRequired,
    ManualConfirmed,
    Skipped,
}

/// Why a job failed or was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // Failures.
    Unreachable,
    Timeout,
    AuthFailed,
    DeviceError,
    IdentityMismatch,
    Unsupported,
    NotVerified,
    // Skips.
    ThresholdReached,
    WindowClosed,
    Interrupted,
    DependencyFailed,
}

/// What an event in the audit records. `resume` reads some of them back as evidence (an `ack`
/// means the command arrived), so their stored words never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// How the job reaches its device: protocol, port, who chose them.
    Link,
    /// The job moved to another state.
    State,
    /// A login with a credentials profile is about to be tried on a device that counts failed
    /// logins (AES); written durably first, so that a crash mid-login is known to `resume`.
    LoginAttempt,
    ProbeRetry,
    ProbeFailed,
    /// The device at the address is not the one the inventory means; nothing was sent.
    IdentityMismatch,
    /// A factory reset refused for want of a MAC to check.
    IdentityUnverified,
    /// The device reports another model than the inventory's, of the same family.
    ModelMismatch,
    /// The durable intent to send a disruptive command, with the marks `resume` judges by.
    Intent,
    /// The device acknowledged the command.
    Ack,
    /// The command was written in full, then the connection dropped.
    SentNoAck,
    /// The device answered the command unreadably.
    UnreadableAck,
    /// The command was refused by the device, or could not be written.
    CommandFailed,
    /// The command was held back: the checked connection had ended (see `DeviceError::NotSent`).
    NotSent,
    WentAway,
    CameBack,
    LeftNetwork,
    /// `resume` began to judge a job whose command may have arrived.
    Resolving,
    /// `resume` found the device not answering.
    ObservedAway,
    /// The job's outcome (written by the store with the outcome itself).
    Outcome,
    /// `resume` reopened a job skipped by an early stop.
    Reopened,
    /// The job ended as a work order: why, and the catalog's procedure for a person, in words
    /// and as data (what to press, how long).
    WorkOrder,
    /// Upstream method: the switch acknowledged switching the outlet off (the disruptive
    /// command), with the outlet's relay state before.
    OutletOff,
    /// Upstream method: the outlet was switched on again, by the run or by `resume`, with its
    /// relay state after.
    OutletOn,
    /// A technician confirmed a `manual_required` job (`fleetreset confirm`): who, when, what
    /// was seen of the device afterwards. The job's outcome became `manual_confirmed`.
    ManualConfirmed,
    /// A technician's confirmation was not accepted: the device still answered as it was
    /// before (a factory reset still bound to its account). The job stays `manual_required`.
    ConfirmationRefused,
    /// `fleetreset audit sample`: one sampled device was looked at again by the verifier, with
    /// what it answered and whether that passes (unbound, not the old alias, or gone).
    SampleChecked,
}

/// What a run-level event records: the life of the run itself rather than of one job. They
/// are rows of `events` with no `device_id`, in the same append-only table and write order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEventKind {
    /// The run was recorded: who started it, with which settings, on which inventory.
    RunStarted,
    /// A signal stopped it; which one, and what was left in flight.
    RunInterrupted,
    /// A failure threshold or the maintenance window stopped it.
    RunStopped,
    /// `fleetreset resume` took it up again: who, and whether the inventory had changed.
    RunResumed,
    /// Every job it started has its outcome.
    RunFinished,
    /// `fleetreset audit sample`: a verifier drew a random sample of the sanitized devices
    /// (who, the seed, the percentage, the devices drawn).
    SampleDrawn,
    /// `fleetreset audit sample`: every sampled device was checked; the sample's result.
    SampleFinished,
}

macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable word stored in the database and reports.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
    };
}

words!(Action { PowerCycle => "power-cycle", FactoryReset => "factory-reset" });
words!(Method { Remote => "remote", Upstream => "upstream", Manual => "manual" });
words!(JobState {
    Pending => "pending",
    Probing => "probing",
    IdentityChecked => "identity_checked",
    IntentRecorded => "intent_recorded",
    Acting => "acting",
    Verifying => "verifying",
    Done => "done",
});
words!(EventKind {
    Link => "link",
    State => "state",
    LoginAttempt => "login_attempt",
    ProbeRetry => "probe_retry",
    ProbeFailed => "probe_failed",
    IdentityMismatch => "identity_mismatch",
    IdentityUnverified => "identity_unverified",
    ModelMismatch => "model_mismatch",
    Intent => "intent",
    Ack => "ack",
    SentNoAck => "sent_no_ack",
    UnreadableAck => "unreadable_ack",
    CommandFailed => "command_failed",
    NotSent => "not_sent",
    WentAway => "went_away",
    CameBack => "came_back",
    LeftNetwork => "left_network",
    Resolving => "resolving",
    ObservedAway => "observed_away",
    Outcome => "outcome",
    Reopened => "reopened",
    WorkOrder => "work_order",
    OutletOff => "outlet_off",
    OutletOn => "outlet_on",
    ManualConfirmed => "manual_confirmed",
    ConfirmationRefused => "confirmation_refused",
    SampleChecked => "sample_checked",
});
words!(RunEventKind {
    RunStarted => "run_started",
    RunInterrupted => "run_interrupted",
    RunStopped => "run_stopped",
    RunResumed => "run_resumed",
    RunFinished => "run_finished",
    SampleDrawn => "sample_drawn",
    SampleFinished => "sample_finished",
});
words!(Outcome {
    Succeeded => "succeeded",
    Failed => "failed",
    ManualRequired => "manual_required",
    ManualConfirmed => "manual_confirmed",
    Skipped => "skipped",
});
words!(Reason {
    Unreachable => "unreachable",
    Timeout => "timeout",
    AuthFailed => "auth_failed",
    DeviceError => "device_error",
    IdentityMismatch => "identity_mismatch",
    Unsupported => "unsupported",
    NotVerified => "not_verified",
    ThresholdReached => "threshold_reached",
    WindowClosed => "window_closed",
    Interrupted => "interrupted",
    DependencyFailed => "dependency_failed",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_their_stored_form() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), *a);
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), *o);
        }
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
        }
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
        }
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        for k in RunEventKind::ALL {
            assert_eq!(k.as_str().parse::<RunEventKind>().unwrap(), *k);
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }

    #[test]
    fn serde_uses_the_stored_form() {
        assert_eq!(
            serde_json::to_string(&Action::FactoryReset).unwrap(),
            "\"factory-reset\""
        );
        assert_eq!(
            serde_json::to_string(&Reason::IdentityMismatch).unwrap(),
            "\"identity_mismatch\""
        );
        assert_eq!(
            serde_json::to_string(&JobState::IntentRecorded).unwrap(),
            "\"intent_recorded\""
        );
    }

    #[test]
    fn run_event_words_never_collide_with_job_event_words() {
        for k in RunEventKind::ALL {
            assert!(k.as_str().parse::<EventKind>().is_err(), "{k}");
        }
    }

    #[test]
    fn unknown_words_are_refused() {
        assert!("reboot".parse::<Action>().is_err());
    }
}
