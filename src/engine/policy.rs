//! Run policy as pure types: how much a run may break before it stops (canary, `--max-fail`,
//! `--max-auth-failures`), the rolling batches, and why a run stopped. No I/O, no clocks: the
//! engine feeds outcomes in and acts on what comes out.

use std::str::FromStr;

use crate::model::Reason;

use super::window::Window;

/// A count or a percentage: `--batch 10`, `--batch 25%`, `--max-fail 3`, `--max-fail 10%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(usize),
    Percent(u8),
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Amount, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Amount::Percent(p)),
                _ => Err(format!(
                    "{s:?}: a percentage must be a whole number from 0% to 100%"
                )),
            }
        } else {
            s.parse::<usize>().map(Amount::Count).map_err(|_| {
                format!("{s:?}: expected a whole number like 10, or a percentage like 25%")
            })
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The limits on how much a run may break before it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Safety {
    /// This many devices run first, alone; any failure among them stops the run.
    pub canary: usize,
    /// Rolling batches: the next starts when the previous is done.
    pub batch: Option<Amount>,
    /// A count: stop starting jobs once failures over the run exceed it. A percentage: once
    /// failures in the current batch exceed that share of the batch.
    pub max_fail: Option<Amount>,
    /// Jobs start only inside this window of local time.
    pub window: Option<Window>,
    /// Let a factory reset act on devices whose identity can't be checked (no MAC).
    pub allow_unverified_identity: bool,
    /// Stop starting jobs once this many devices refused the credentials: one wrong password
    /// would otherwise lock out device after device.
    pub max_auth_failures: usize,
}

/// Authentication failures that stop a run by default. Devices lock logins after a few failed
/// attempts (Tapo answers -40404 for about half an hour); each device sees at most one of ours,
/// and after three the credentials are almost certainly wrong for the fleet.
pub const DEFAULT_MAX_AUTH_FAILURES: usize = 3;

impl Default for Safety {
    fn default() -> Self {
        Safety {
            canary: 0,
            batch: None,
            max_fail: None,
            window: None,
            allow_unverified_identity: false,
            max_auth_failures: DEFAULT_MAX_AUTH_FAILURES,
        }
    }
}

impl Safety {
    /// The limits as stored with the run (`parameters.safety`).
    pub fn parameters(&self) -> crate::store::SafetyParameters {
        crate::store::SafetyParameters {
            canary: Some(self.canary),
            batch: self.batch.map(|a| a.to_string()),
            max_fail: self.max_fail.map(|a| a.to_string()),
            window: self.window.as_ref().map(|w| w.to_string()),
            allow_unverified_identity: Some(self.allow_unverified_identity),
            max_auth_failures: Some(self.max_auth_failures),
            other: Default::default(),
        }
    }
}

/// Why a run stopped before every job ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    Threshold(String),
    WindowClosed(String),
}

impl StopReason {
    /// The reason recorded for jobs that never started because of this stop.
    pub fn skip_reason(&self) -> Reason {
        match self {
            StopReason::Signal => Reason::Interrupted,
            StopReason::Threshold(_) => Reason::ThresholdReached,
            StopReason::WindowClosed(_) => Reason::WindowClosed,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            StopReason::Signal => "interrupted by a signal".into(),
            StopReason::Threshold(why) | StopReason::WindowClosed(why) => why.clone(),
        }
    }
}

/// One rolling batch of `T`s; a canary batch stops the run on any failure.
#[derive(Debug)]
pub struct Batch<T> {
    pub canary: bool,
    pub jobs: Vec<(usize, T)>,
}

/// Splits `work` (in inventory order) into the canary batch, then batches of `--batch`.
pub fn batches<T>(work: Vec<T>, safety: &Safety) -> Vec<Batch<T>> {
    let total = work.len();
    let mut rest = work.into_iter().enumerate().peekable();
    let mut out = Vec::new();
    if safety.canary > 0 {
        let jobs: Vec<_> = rest.by_ref().take(safety.canary).collect();
        if !jobs.is_empty() {
            out.push(Batch { canary: true, jobs });
        }
    }
    let size = match safety.batch {
        None => usize::MAX,
        Some(Amount::Count(n)) => n.max(1),
        // A percentage of the whole fleet, at least one device.
        Some(Amount::Percent(p)) => (total * usize::from(p)).div_ceil(100).max(1),
    };
    while rest.peek().is_some() {
        out.push(Batch {
            canary: false,
            jobs: rest.by_ref().take(size).collect(),
        });
    }
    out
}

/// Counts failures against the limits of [`Safety`] and says when a run must stop starting
/// jobs.
#[derive(Debug, Default)]
pub struct Failures {
    total: usize,
    auth: usize,
    in_batch: usize,
    batch_len: usize,
    canary: bool,
}

impl Failures {
    /// A count that starts from `auth` devices that already refused the credentials (in the
    /// part of a run before its resume).
    pub fn with_auth_failures(auth: usize) -> Failures {
        Failures {
            auth,
            ..Failures::default()
        }
    }

    /// A new batch begins: its share of failures starts from zero.
    pub fn start_batch(&mut self, len: usize, canary: bool) {
        self.in_batch = 0;
        self.batch_len = len;
        self.canary = canary;
    }

    /// Counts one failed job; returns why the run must stop now, if a limit was passed.
    pub fn failed(
        &mut self,
        safety: &Safety,
        device: &str,
        reason: Option<Reason>,
    ) -> Option<String> {
        self.total += 1;
        self.in_batch += 1;
        let auth = reason == Some(Reason::AuthFailed);
        if auth {
            self.auth += 1;
        }
        if auth && self.auth >= safety.max_auth_failures {
            return Some(format!(
                "{} devices refused the credentials (--max-auth-failures {}); check the credentials profiles before more devices lock logins",
                self.auth, safety.max_auth_failures
            ));
        }
        if self.canary {
            return Some(format!("a canary device failed ({device})"));
        }
        match safety.max_fail {
            Some(Amount::Count(n)) if self.total > n => {
                Some(format!("{} failures exceeded --max-fail {n}", self.total))
            }
            Some(Amount::Percent(p)) if self.in_batch > self.batch_len * usize::from(p) / 100 => {
                Some(format!(
                    "{} of {} devices in a batch failed, over --max-fail {p}%",
                    self.in_batch, self.batch_len
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_counts_or_percentages() {
        assert_eq!("10".parse::<Amount>().unwrap(), Amount::Count(10));
        assert_eq!(" 25% ".parse::<Amount>().unwrap(), Amount::Percent(25));
        assert_eq!("0".parse::<Amount>().unwrap(), Amount::Count(0));
        for bad in ["", "x", "101%", "-1", "2.5", "%"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }

    fn sizes<T>(b: &[Batch<T>]) -> Vec<(bool, usize)> {
        b.iter().map(|b| (b.canary, b.jobs.len())).collect()
    }

    fn work(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn batches_put_the_canaries_first_then_roll_by_count_or_share() {
        let none = Safety::default();
        assert_eq!(sizes(&batches(work(5), &none)), [(false, 5)]);
        let s = Safety {
            canary: 2,
            batch: Some(Amount::Count(2)),
            ..Safety::default()
        };
        assert_eq!(
            sizes(&batches(work(7), &s)),
            [(true, 2), (false, 2), (false, 2), (false, 1)]
        );
        let s = Safety {
            batch: Some(Amount::Percent(25)),
            ..Safety::default()
        };
        assert_eq!(
            sizes(&batches(work(10), &s)),
            [(false, 3), (false, 3), (false, 3), (false, 1)]
        );
        let s = Safety {
            canary: 9,
            ..Safety::default()
        };
        assert_eq!(sizes(&batches(work(3), &s)), [(true, 3)]);
        assert!(batches(work(0), &s).is_empty());
    }

    #[test]
    fn batches_keep_every_job_once_in_inventory_order() {
        let s = Safety {
            canary: 1,
            batch: Some(Amount::Percent(30)),
            ..Safety::default()
        };
        let order: Vec<usize> = batches(work(11), &s)
            .into_iter()
            .flat_map(|b| b.jobs)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(order, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_canary_stops_the_run_at_once() {
        let mut f = Failures::default();
        f.start_batch(2, true);
        let why = f.failed(&Safety::default(), "c1", Some(Reason::Timeout));
        assert_eq!(why.as_deref(), Some("a canary device failed (c1)"));
    }

    #[test]
    fn a_count_limit_is_over_the_run_and_a_percentage_over_the_batch() {
        let count = Safety {
            max_fail: Some(Amount::Count(2)),
            ..Safety::default()
        };
        let mut f = Failures::default();
        f.start_batch(10, false);
        assert_eq!(f.failed(&count, "a", Some(Reason::Timeout)), None);
        f.start_batch(10, false);
        assert_eq!(f.failed(&count, "b", Some(Reason::Timeout)), None);
        let why = f.failed(&count, "c", Some(Reason::Timeout)).unwrap();
        assert_eq!(why, "3 failures exceeded --max-fail 2");

        let share = Safety {
            max_fail: Some(Amount::Percent(20)),
            ..Safety::default()
        };
        let mut f = Failures::default();
        f.start_batch(10, false);
        assert_eq!(f.failed(&share, "a", None), None);
        assert_eq!(f.failed(&share, "b", None), None);
        // Two of ten is 20%: not over. The third is.
        let why = f.failed(&share, "c", None).unwrap();
        assert_eq!(
            why,
            "3 of 10 devices in a batch failed, over --max-fail 20%"
        );
        f.start_batch(10, false);
        assert_eq!(f.failed(&share, "d", None), None);
    }

    #[test]
    fn refused_credentials_stop_the_run_at_the_auth_limit_whatever_else_is_set() {
        let s = Safety {
            max_auth_failures: 2,
            ..Safety::default()
        };
        let mut f = Failures::default();
        f.start_batch(100, false);
        assert_eq!(f.failed(&s, "a", Some(Reason::AuthFailed)), None);
        assert_eq!(f.failed(&s, "b", Some(Reason::Timeout)), None);
        let why = f.failed(&s, "c", Some(Reason::AuthFailed)).unwrap();
        assert!(
            why.starts_with("2 devices refused the credentials"),
            "{why}"
        );
    }

    #[test]
    fn refusals_before_a_resume_count_towards_the_auth_limit() {
        let s = Safety {
            max_auth_failures: 3,
            ..Safety::default()
        };
        let mut f = Failures::with_auth_failures(2);
        f.start_batch(10, false);
        let why = f.failed(&s, "a", Some(Reason::AuthFailed)).unwrap();
        assert!(
            why.starts_with("3 devices refused the credentials"),
            "{why}"
        );
    }

    #[test]
    fn each_stop_has_its_skip_reason() {
        assert_eq!(StopReason::Signal.skip_reason(), Reason::Interrupted);
        assert_eq!(
            StopReason::Threshold("x".into()).skip_reason(),
            Reason::ThresholdReached
        );
        assert_eq!(
            StopReason::WindowClosed("x".into()).skip_reason(),
            Reason::WindowClosed
        );
    }
}
