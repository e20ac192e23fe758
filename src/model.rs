//! The words of a run, shared by the engine, the audit store and the reports: actions, methods,
//! job states, outcomes and reasons. Their `as_str` forms are what the database and reports
//! hold, so they never change once shipped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
    fn unknown_words_are_refused() {
        assert!("reboot".parse::<Action>().is_err());
    }
}
