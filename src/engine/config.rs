//! The validated parameters of a run, and the defaults behind them. The CLI's arguments are
//! checked into this before anything is sent.

use std::time::Duration;

use crate::inventory::ReadOptions;
use crate::model::Action;
use crate::protocol::iot::transport::Timeouts;
use crate::store::RunParameters;

use super::method::MethodChoice;
use super::policy::Safety;
use super::schedule::Limits;

/// How often a job looks at a device while waiting for it to go away or come back. Each look is
/// one connection; once a second is gentle and still times a reboot to the second.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long after a reboot command a device may keep answering before we call the reboot
/// unverified. Devices go down about a second after the requested delay; 30 s covers slow
/// firmware that first finishes flash writes.
pub const AWAY_BUDGET: Duration = Duration::from_secs(30);

/// How long after a factory reset a device may keep answering before we look for factory
/// defaults instead. Erasing settings takes longer than a reboot.
pub const LEAVE_BUDGET: Duration = Duration::from_secs(60);

/// A device must be back within this many times its catalog boot time (the typical time) before
/// the reboot counts as failed: Wi-Fi rejoin and DHCP vary a lot between sites.
pub const BOOT_BUDGET_FACTOR: u32 = 2;

/// Attempts at the first probe when it times out; the disruptive command is never retried.
pub const PROBE_ATTEMPTS: u32 = 2;

/// Device seconds of doubt when `resume` compares a device's on-time with the time since an
/// intent on the host's boot clock: on-time is reported in whole seconds, and the two readings
/// are a network round trip apart. A reboot after the intent leaves the on-time at least the
/// command's delay plus the boot time below the time since, far more than this.
pub const CLOCK_SLACK_SECS: f64 = 2.0;

/// Smallest `--time-scale`: at 0.005 a 60 s boot takes 0.3 s. Below it, a few milliseconds of
/// scheduling jitter on a busy host become more device seconds than [`CLOCK_SLACK_SECS`], and
/// resume's on-time evidence (whole seconds) could no longer be told from noise.
pub const MIN_TIME_SCALE: f64 = 0.005;

/// Shortest wait a time scale may produce, so a tiny scale can't turn polling into a busy loop.
const MIN_SCALED_WAIT: Duration = Duration::from_millis(5);

/// Everything a run needs to know, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub action: Action,
    pub limits: Limits,
    pub timeouts: Timeouts,
    /// Real seconds per device second: 1 for real devices. Rehearsals against
    /// `fleetreset simulate --time-scale X` pass the same X so waits shrink with the devices'.
    pub time_scale: f64,
    /// What `--method` asked for every device; stored so that `resume` plans the same.
    pub method: MethodChoice,
}

impl RunConfig {
    /// Device time (boot times, budgets, polling) to real time.
    pub fn scaled(&self, device_time: Duration) -> Duration {
        device_time.mul_f64(self.time_scale).max(MIN_SCALED_WAIT)
    }

    /// Real time to device seconds.
    pub fn device_secs(&self, real: Duration) -> f64 {
        real.as_secs_f64() / self.time_scale
    }

    /// The parameters as stored with the run: these settings, the run's `safety` limits, and
    /// how its inventory was `read` (so that `resume` reads it the same way).
    pub fn parameters(&self, safety: &Safety, read: &ReadOptions) -> RunParameters {
        RunParameters {
            action: Some(self.action),
            rate_per_s: Some(self.limits.rate.get()),
            burst: Some(self.limits.burst.get()),
            concurrency: Some(self.limits.concurrency.get()),
            connect_timeout_s: Some(self.timeouts.connect.as_secs_f64()),
            request_timeout_s: Some(self.timeouts.request.as_secs_f64()),
            time_scale: Some(self.time_scale),
            method: Some(self.method),
            poll_interval_s: Some(POLL_INTERVAL.as_secs_f64()),
            away_budget_s: Some(AWAY_BUDGET.as_secs_f64()),
            leave_budget_s: Some(LEAVE_BUDGET.as_secs_f64()),
            boot_budget_factor: Some(BOOT_BUDGET_FACTOR),
            safety: Some(safety.parameters()),
            inventory: Some(read.into()),
            other: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};

    use serde_json::json;

    use super::*;
    use crate::engine::policy::Amount;

    /// What `run` writes to `runs.parameters`, exactly: the keys resume and the reports read.
    #[test]
    fn the_stored_parameters_are_the_ones_runs_always_stored() {
        let config = RunConfig {
            action: Action::PowerCycle,
            limits: Limits {
                rate: NonZeroU32::new(5).unwrap(),
                burst: NonZeroU32::new(1).unwrap(),
                concurrency: NonZeroUsize::new(32).unwrap(),
            },
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_millis(2500),
            },
            time_scale: 1.0,
            method: MethodChoice::Auto,
        };
        let safety = Safety {
            max_fail: Some(Amount::Percent(10)),
            ..Safety::default()
        };
        let stored = config
            .parameters(&safety, &ReadOptions::default())
            .to_value();
        assert_eq!(
            stored.to_string(),
            concat!(
                r#"{"action":"power-cycle","away_budget_s":30.0,"boot_budget_factor":2,"#,
                r#""burst":1,"concurrency":32,"connect_timeout_s":2.0,"#,
                r#""inventory":{"delimiter":null,"encoding":"auto","sheet":null},"#,
                r#""leave_budget_s":60.0,"method":"auto","poll_interval_s":1.0,"rate_per_s":5,"#,
                r#""request_timeout_s":2.5,"#,
                r#""safety":{"allow_unverified_identity":false,"batch":null,"canary":0,"#,
                r#""max_auth_failures":3,"max_fail":"10%","window":null},"#,
                r#""time_scale":1.0}"#
            )
        );
        assert_eq!(
            stored["safety"],
            json!({"canary": 0, "batch": null, "max_fail": "10%", "window": null,
                   "allow_unverified_identity": false, "max_auth_failures": 3})
        );
    }
}
