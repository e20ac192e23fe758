//! Maintenance windows (`--window 22:00-06:00`): when a run may start and when it must stop.
//!
//! A window is a pair of local wall-clock times and repeats every day. It may cross midnight
//! (`22:00-06:00` is open from 22:00 until 06:00 the next morning). The start is inclusive and
//! the end exclusive, so `06:00-22:00` and `22:00-06:00` together cover the day exactly once.
//!
//! # Daylight saving time
//! Membership ([`Window::contains`]) is decided on the wall clock, which is what the operator
//! wrote. Durations are where DST matters: on the night clocks go forward, the naive difference
//! between `now` and the end overstates the real time left by the jump, and a run would go on
//! past the window. So the two kinds of functions differ:
//! - the `_at` functions are pure and work on naive local time: [`Window::remaining_at`] is the
//!   wall-clock difference, off by the jump on a DST night;
//! - [`Window::remaining_now`] resolves the closing time in the system's time zone and measures
//!   real time until it: when the end falls in the repeated hour (clocks going back) the window
//!   closes the first time the clock shows the end after now; when the end falls in the skipped
//!   hour (clocks going forward) it closes at the jump, when the clock passes the end.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike};

/// What `--window` expects, for error messages.
const EXPECTED: &str = "expected START-END in local time, like 22:00-06:00 or 22:00:00-06:00:30";

/// Longest run of wall-clock times a time zone skips at once. Spring-forward jumps are an hour
/// or less, but Samoa skipped a whole day in 2011; beyond this we stop looking for the jump.
const MAX_GAP: TimeDelta = TimeDelta::hours(25);

/// A daily maintenance window in local time: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: NaiveTime,
    end: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("{input:?} is not a window: no '-' between start and end; {EXPECTED}")]
    MissingDash { input: String },
    #[error(
        "{part:?} in window {input:?} is not a time of day: use HH:MM or HH:MM:SS, 00:00 to 23:59:59; {EXPECTED}"
    )]
    BadTime { input: String, part: String },
    #[error("{input:?} is an empty window: it starts and ends at the same time; {EXPECTED}")]
    Empty { input: String },
}

impl Window {
    /// Whether the window is open at wall-clock time `t`.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.crosses_midnight() {
            t >= self.start || t < self.end
        } else {
            self.start <= t && t < self.end
        }
    }

    /// Wall-clock time left until the window closes, or `None` when it is closed at `now`.
    /// Naive local time: off by the jump on a DST night (see the module docs).
    pub fn remaining_at(&self, now: NaiveDateTime) -> Option<Duration> {
        let close = self.close_after(now)?;
        // `close_after` only returns times after `now`.
        Some((close - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// When a run may start: `now` when the window is open, else the next time it opens.
    pub fn next_open_at(&self, now: NaiveDateTime) -> NaiveDateTime {
        if self.contains(now.time()) {
            return now;
        }
        let today = now.date().and_time(self.start);
        if now < today {
            today
        } else {
            today + TimeDelta::days(1)
        }
    }

    /// Real time left until the window closes on the system clock, DST included (see the
    /// module docs), or `None` when it is closed now.
    pub fn remaining_now(&self) -> Option<Duration> {
        self.remaining_in(&Local::now())
    }

    /// [`Window::next_open_at`] on the system clock, as local wall-clock time for messages.
    pub fn next_open_now(&self) -> NaiveDateTime {
        self.next_open_at(Local::now().naive_local())
    }

    /// [`Window::next_open_at`] on the system clock, as a moment in the local zone, so
    /// messages can show its offset.
    pub fn next_open_local(&self) -> DateTime<Local> {
        self.next_open_in(&Local::now())
    }

    /// When the window next opens, as a moment in `now`'s zone: `now` when it is open; a start
    /// the clocks show twice (going back) the first time; a start they skip (going forward)
    /// at the jump.
    pub fn next_open_in<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> DateTime<Tz> {
        let open = self.next_open_at(now.naive_local());
        let tz = now.timezone();
        match tz.from_local_datetime(&open) {
            chrono::MappedLocalTime::Single(at) | chrono::MappedLocalTime::Ambiguous(at, _) => at,
            chrono::MappedLocalTime::None => {
                let minute = open.with_second(0).unwrap_or(open);
                (1..=MAX_GAP.num_minutes())
                    .find_map(|m| {
                        tz.from_local_datetime(&(minute + TimeDelta::minutes(m)))
                            .earliest()
                    })
                    .unwrap_or_else(|| now.clone())
            }
        }
    }

    fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    /// The wall-clock time the window closes, when it is open at `now`.
    fn close_after(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let t = now.time();
        if !self.contains(t) {
            return None;
        }
        let close = now.date().and_time(self.end);
        // Open after the start of a window that crosses midnight: it closes tomorrow.
        Some(if self.crosses_midnight() && t >= self.start {
            close + TimeDelta::days(1)
        } else {
            close
        })
    }

    /// Real time until the window closes in `now`'s time zone.
    fn remaining_in<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> Option<Duration> {
        let close = self.close_after(now.naive_local())?;
        let tz = now.timezone();
        let close = match tz.from_local_datetime(&close) {
            chrono::MappedLocalTime::Single(at) => at,
            // Clocks went back and show the end twice: the next time after now.
            chrono::MappedLocalTime::Ambiguous(first, second) => {
                if first > *now {
                    first
                } else {
                    second
                }
            }
            // Clocks jump over the end: the window closes at the jump, which is the first
            // wall-clock minute after the end that exists (jumps happen on whole minutes).
            chrono::MappedLocalTime::None => {
                let minute = close.with_second(0).and_then(|c| c.with_nanosecond(0));
                let minute = minute.unwrap_or(close);
                let after_gap = (1..=MAX_GAP.num_minutes()).find_map(|m| {
                    tz.from_local_datetime(&(minute + TimeDelta::minutes(m)))
                        .earliest()
                });
                // A zone that skips more than a day: fall back to wall-clock time.
                match after_gap {
                    Some(at) => at,
                    None => return self.remaining_at(now.naive_local()),
                }
            }
        };
        // The close is after now by construction; zero rather than panic if a zone says otherwise.
        Some((close - now.clone()).to_std().unwrap_or(Duration::ZERO))
    }
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (start, end) = input
            .split_once('-')
            .ok_or_else(|| WindowError::MissingDash {
                input: input.to_owned(),
            })?;
        let start = parse_time(input, start)?;
        let end = parse_time(input, end)?;
        if start == end {
            return Err(WindowError::Empty {
                input: input.to_owned(),
            });
        }
        Ok(Window { start, end })
    }
}

/// `HH:MM` or `HH:MM:SS`; no leap seconds, no fractions.
fn parse_time(input: &str, part: &str) -> Result<NaiveTime, WindowError> {
    let bad = || WindowError::BadTime {
        input: input.to_owned(),
        part: part.to_owned(),
    };
    let trimmed = part.trim();
    let format = match trimmed.matches(':').count() {
        1 => "%H:%M",
        2 => "%H:%M:%S",
        _ => return Err(bad()),
    };
    let t = NaiveTime::parse_from_str(trimmed, format).map_err(|_| bad())?;
    // chrono reads `23:59:60` as a leap second, which no wall clock shows.
    if t.nanosecond() != 0 {
        return Err(bad());
    }
    Ok(t)
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", Clock(self.start), Clock(self.end))
    }
}

/// `HH:MM`, with `:SS` only when the seconds are not zero.
struct Clock(NaiveTime);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(f, "{:02}:{:02}", t.hour(), t.minute())?;
        if t.second() != 0 {
            write!(f, ":{:02}", t.second())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
