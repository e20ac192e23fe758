//! The options of `run` (and of a run `resume` continues), checked into typed values before
//! anything is sent: a [`RunConfig`] and a [`Safety`]. Every bound lives here, with why.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::cli::RunArgs;
use crate::engine::config::{MIN_TIME_SCALE, RunConfig};
use crate::engine::policy::{Amount, Safety};
use crate::engine::schedule::Limits;
use crate::engine::window::Window;
use crate::model::Action;
use crate::protocol::iot::transport::Timeouts;

/// The longest timeout we accept; beyond it a dead device would hold a job for minutes.
const MAX_TIMEOUT_SECS: f64 = 120.0;

/// The shortest timeout we accept: 10 ms, a loopback round trip with room to spare. Less
/// (`1e-300` rounds to nothing) would time out every exchange before it began.
const MIN_TIMEOUT_SECS: f64 = 0.01;

/// The most jobs in flight we accept. Each holds a connection; beyond a few thousand a run
/// exceeds common open-file limits and more devices are off the network at once than any
/// building's access points rejoin gracefully.
pub const MAX_CONCURRENCY: usize = 4096;

/// Checks the arguments into a run configuration.
pub fn config(args: &RunArgs) -> Result<RunConfig, String> {
    checked_config(Unchecked {
        action: args.action,
        rate: parse_rate(&args.rate)?.get(),
        burst: args.burst,
        concurrency: args.concurrency,
        connect_timeout_s: args.connect_timeout,
        request_timeout_s: args.request_timeout,
        time_scale: args.time_scale,
        method: args.method,
    })
}

/// A run's parameters before they are checked: as typed, or as stored with a run that
/// `resume` reads back (which someone may have edited).
#[derive(Debug, Clone, Copy)]
pub struct Unchecked {
    pub action: Action,
    pub rate: u32,
    pub burst: u32,
    pub concurrency: usize,
    pub connect_timeout_s: f64,
    pub request_timeout_s: f64,
    pub time_scale: f64,
    pub method: crate::engine::method::MethodChoice,
}

/// The one check of a run's parameters, for `run` and `resume` alike. Every bound is there so
/// that no outcome comes from arithmetic that overflowed or from waits that mean nothing.
pub fn checked_config(u: Unchecked) -> Result<RunConfig, String> {
    let rate = NonZeroU32::new(u.rate).ok_or("--rate must be at least 1 job per second")?;
    let burst = NonZeroU32::new(u.burst).ok_or("--burst must be at least 1")?;
    let concurrency = NonZeroUsize::new(u.concurrency)
        .filter(|c| c.get() <= MAX_CONCURRENCY)
        .ok_or_else(|| {
            format!(
                "--concurrency must be from 1 to {MAX_CONCURRENCY}, got {}",
                u.concurrency
            )
        })?;
    let timeout = |name: &str, secs: f64| {
        if secs.is_finite() && (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&secs) {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!(
                "--{name} must be from {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS} seconds, got {secs:?}"
            ))
        }
    };
    if !(u.time_scale.is_finite() && (MIN_TIME_SCALE..=1.0).contains(&u.time_scale)) {
        let why = if u.time_scale < MIN_TIME_SCALE {
            format!(
                " (below {MIN_TIME_SCALE}, timing noise on the host would outweigh the seconds the devices count)"
            )
        } else if u.time_scale > 1.0 {
            " (a rehearsal only ever speeds devices up)".to_string()
        } else {
            String::new()
        };
        return Err(format!(
            "--time-scale must be from {MIN_TIME_SCALE} to 1, got {:?}{why}",
            u.time_scale
        ));
    }
    Ok(RunConfig {
        action: u.action,
        limits: Limits {
            rate,
            burst,
            concurrency,
        },
        timeouts: Timeouts {
            connect: timeout("connect-timeout", u.connect_timeout_s)?,
            request: timeout("request-timeout", u.request_timeout_s)?,
        },
        time_scale: u.time_scale,
        method: u.method,
    })
}

/// `5` or `5/s` → 5 jobs per second.
fn parse_rate(s: &str) -> Result<NonZeroU32, String> {
    let n = s.trim().strip_suffix("/s").unwrap_or(s.trim());
    n.trim()
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            format!("--rate must be a whole number of jobs per second, like 5 or 5/s; got {s:?}")
        })
}

/// Checks the blast-radius arguments.
pub fn safety(args: &RunArgs) -> Result<Safety, String> {
    let amount = |flag: &str, v: &Option<String>| -> Result<Option<Amount>, String> {
        v.as_deref()
            .map(|s| s.parse::<Amount>().map_err(|e| format!("--{flag} {e}")))
            .transpose()
    };
    let batch = amount("batch", &args.batch)?;
    if matches!(batch, Some(Amount::Count(0)) | Some(Amount::Percent(0))) {
        return Err("--batch must be at least 1 device or 1%".into());
    }
    Ok(Safety {
        canary: args.canary,
        batch,
        max_fail: amount("max-fail", &args.max_fail)?,
        window: parse_window(args.window.as_deref())?,
        allow_unverified_identity: args.allow_unverified_identity,
        max_auth_failures: args.max_auth_failures.max(1),
    })
}

pub fn parse_window(w: Option<&str>) -> Result<Option<Window>, String> {
    w.map(|w| {
        w.parse::<Window>()
            .map_err(|e| format!("--window {w:?}: {e}"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_whole_jobs_per_second_with_an_optional_unit() {
        assert_eq!(parse_rate("5").unwrap().get(), 5);
        assert_eq!(parse_rate(" 12/s ").unwrap().get(), 12);
        for bad in ["0", "0/s", "-1", "2.5", "fast", "", "5/m"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    fn unchecked() -> Unchecked {
        Unchecked {
            action: Action::PowerCycle,
            rate: 5,
            burst: 1,
            concurrency: 32,
            connect_timeout_s: 5.0,
            request_timeout_s: 5.0,
            time_scale: 1.0,
            method: Default::default(),
        }
    }

    #[test]
    fn the_bounds_are_inclusive_and_what_lies_outside_them_is_refused_by_name() {
        for ok in [
            Unchecked {
                time_scale: MIN_TIME_SCALE,
                ..unchecked()
            },
            Unchecked {
                time_scale: 1.0,
                ..unchecked()
            },
            Unchecked {
                concurrency: MAX_CONCURRENCY,
                ..unchecked()
            },
            Unchecked {
                connect_timeout_s: MAX_TIMEOUT_SECS,
                ..unchecked()
            },
        ] {
            assert!(checked_config(ok).is_ok(), "{ok:?}");
        }
        for (bad, named) in [
            (
                Unchecked {
                    time_scale: 1e-300,
                    ..unchecked()
                },
                "--time-scale",
            ),
            (
                Unchecked {
                    time_scale: f64::NAN,
                    ..unchecked()
                },
                "--time-scale",
            ),
            (
                Unchecked {
                    time_scale: 1.5,
                    ..unchecked()
                },
                "--time-scale",
            ),
            (
                Unchecked {
                    concurrency: 0,
                    ..unchecked()
                },
                "--concurrency",
            ),
            (
                Unchecked {
                    concurrency: MAX_CONCURRENCY + 1,
                    ..unchecked()
                },
                "--concurrency",
            ),
            (
                Unchecked {
                    rate: 0,
                    ..unchecked()
                },
                "--rate",
            ),
            (
                Unchecked {
                    burst: 0,
                    ..unchecked()
                },
                "--burst",
            ),
            (
                Unchecked {
                    connect_timeout_s: f64::INFINITY,
                    ..unchecked()
                },
                "--connect-timeout",
            ),
            (
                Unchecked {
                    request_timeout_s: 0.0,
                    ..unchecked()
                },
                "--request-timeout",
            ),
            (
                Unchecked {
                    connect_timeout_s: 1e-300,
                    ..unchecked()
                },
                "--connect-timeout",
            ),
        ] {
            let err = checked_config(bad).unwrap_err();
            assert!(err.starts_with(named), "{bad:?}: {err}");
        }
    }
}
