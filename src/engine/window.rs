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
mod tests {
    use chrono::{FixedOffset, MappedLocalTime, NaiveDate};

    #[test]
    fn the_next_opening_is_a_moment_with_its_offset() {
        let w: super::Window = "22:00-06:00".parse().unwrap();
        let cet = FixedOffset::east_opt(3600).unwrap();
        let now = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(14, 3, 7)
            .unwrap()
            .and_local_timezone(cet)
            .unwrap();
        assert_eq!(
            crate::output::local_time(&w.next_open_in(&now)),
            "2026-12-01 22:00:00 +01:00"
        );
        let open = now.with_timezone(&cet) + chrono::TimeDelta::hours(9);
        assert_eq!(w.next_open_in(&open), open, "open now: now");
    }

    use super::*;

    fn w(text: &str) -> Window {
        text.parse().unwrap()
    }

    fn t(text: &str) -> NaiveTime {
        parse_time(text, text).unwrap()
    }

    fn at(day: u32, time: &str) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_time(t(time))
    }

    #[test]
    fn a_same_day_window_is_open_between_its_times_only() {
        let w = w("09:00-17:00");
        assert!(!w.contains(t("08:59:59")));
        assert!(w.contains(t("12:00")));
        assert!(!w.contains(t("17:30")));
        assert!(!w.contains(t("00:00")));
    }

    #[test]
    fn a_window_crossing_midnight_is_open_late_and_early() {
        let w = w("22:00-06:00");
        assert!(w.contains(t("23:00")));
        assert!(w.contains(t("00:00")));
        assert!(w.contains(t("05:59:59")));
        assert!(!w.contains(t("06:00")));
        assert!(!w.contains(t("12:00")));
        assert!(!w.contains(t("21:59:59")));
    }

    #[test]
    fn the_start_is_inclusive_and_the_end_exclusive() {
        for w in [w("09:00-17:00"), w("22:00-06:00")] {
            assert!(w.contains(w.start), "{w}");
            assert!(!w.contains(w.end), "{w}");
        }
    }

    #[test]
    fn a_window_ending_at_midnight_closes_at_midnight() {
        let w = w("22:00-00:00");
        assert!(w.contains(t("23:59:59")));
        assert!(!w.contains(t("00:00")));
        assert_eq!(
            w.remaining_at(at(21, "23:00")),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn remaining_is_none_outside_the_window() {
        assert_eq!(w("22:00-06:00").remaining_at(at(21, "12:00")), None);
        assert_eq!(w("22:00-06:00").remaining_at(at(21, "06:00")), None);
        assert_eq!(w("09:00-17:00").remaining_at(at(21, "17:00")), None);
    }

    #[test]
    fn remaining_counts_to_the_end_on_the_same_day() {
        let left = w("09:00-17:00").remaining_at(at(21, "16:30"));
        assert_eq!(left, Some(Duration::from_secs(30 * 60)));
    }

    #[test]
    fn remaining_counts_across_midnight_before_and_after_it() {
        let w = w("22:00-06:00");
        assert_eq!(
            w.remaining_at(at(21, "22:00")),
            Some(Duration::from_secs(8 * 3600))
        );
        assert_eq!(
            w.remaining_at(at(21, "23:30")),
            Some(Duration::from_secs(6 * 3600 + 1800))
        );
        assert_eq!(
            w.remaining_at(at(22, "05:59:59")),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn remaining_goes_to_the_second() {
        let w = w("22:00:00-06:00:30");
        assert_eq!(
            w.remaining_at(at(22, "06:00")),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn next_open_is_now_inside_the_window() {
        assert_eq!(
            w("22:00-06:00").next_open_at(at(22, "01:00")),
            at(22, "01:00")
        );
    }

    #[test]
    fn next_open_is_today_before_the_start_and_tomorrow_after_the_end() {
        let day = w("09:00-17:00");
        assert_eq!(day.next_open_at(at(21, "08:00")), at(21, "09:00"));
        assert_eq!(day.next_open_at(at(21, "17:00")), at(22, "09:00"));
        let night = w("22:00-06:00");
        assert_eq!(night.next_open_at(at(21, "06:00")), at(21, "22:00"));
        assert_eq!(night.next_open_at(at(21, "21:59:59")), at(21, "22:00"));
    }

    #[test]
    fn seconds_are_accepted_and_shown_only_when_not_zero() {
        assert_eq!(w("22:00:00-06:00:30").to_string(), "22:00-06:00:30");
        assert_eq!(w("22:00:15-06:00").to_string(), "22:00:15-06:00");
        assert_eq!(w("22:00-06:00").to_string(), "22:00-06:00");
        assert_eq!(w(" 7:05 - 9:00 ").to_string(), "07:05-09:00");
    }

    #[test]
    fn display_reads_back_to_the_same_window() {
        for text in [
            "22:00-06:00",
            "09:00-17:00",
            "22:00-06:00:30",
            "00:00:01-23:59:59",
        ] {
            let window = w(text);
            assert_eq!(window.to_string(), text);
            assert_eq!(w(&window.to_string()), window);
        }
    }

    #[test]
    fn a_window_without_a_dash_is_refused_with_the_expected_format() {
        let err = "22:00".parse::<Window>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"22:00\" is not a window: no '-' between start and end; expected START-END in \
             local time, like 22:00-06:00 or 22:00:00-06:00:30"
        );
    }

    #[test]
    fn a_bad_time_is_named_in_the_error() {
        for (text, part) in [
            ("25:00-06:00", "25:00"),
            ("22:00-06:60", "06:60"),
            ("22-06", "22"),
            ("22:00-", ""),
            ("22:00-06:00:00:00", "06:00:00:00"),
            ("23:59:60-06:00", "23:59:60"),
            ("22:00-06:00:00.5", "06:00:00.5"),
            ("22:00-06:00-07:00", "06:00-07:00"),
        ] {
            let err = text.parse::<Window>().unwrap_err();
            assert_eq!(
                err,
                WindowError::BadTime {
                    input: text.into(),
                    part: part.into()
                },
                "{text}"
            );
            assert!(err.to_string().contains("use HH:MM or HH:MM:SS"), "{err}");
        }
    }

    #[test]
    fn a_window_that_starts_when_it_ends_is_empty() {
        let err = "06:00-06:00:00".parse::<Window>().unwrap_err();
        assert!(matches!(err, WindowError::Empty { .. }));
        assert!(err.to_string().contains("is an empty window"), "{err}");
    }

    /// Central European time in 2026: clocks go forward 02:00 → 03:00 on 29 March and back
    /// 03:00 → 02:00 on 25 October, both at 01:00 UTC.
    #[derive(Debug, Clone, Copy)]
    struct Cet2026;

    impl Cet2026 {
        fn utc(month: u32, day: u32) -> NaiveDateTime {
            NaiveDate::from_ymd_opt(2026, month, day)
                .unwrap()
                .and_time(t("01:00"))
        }

        fn local(month: u32, day: u32, time: &str) -> DateTime<Cet2026> {
            let naive = NaiveDate::from_ymd_opt(2026, month, day)
                .unwrap()
                .and_time(t(time));
            Cet2026.from_local_datetime(&naive).earliest().unwrap()
        }
    }

    impl TimeZone for Cet2026 {
        type Offset = FixedOffset;

        fn from_offset(_: &FixedOffset) -> Self {
            Cet2026
        }

        fn offset_from_local_date(&self, _: &NaiveDate) -> MappedLocalTime<FixedOffset> {
            unimplemented!("not used by Window")
        }

        fn offset_from_local_datetime(
            &self,
            local: &NaiveDateTime,
        ) -> MappedLocalTime<FixedOffset> {
            // Summer first: the earlier instant of a repeated time is the summer one.
            let fits: Vec<_> = [2, 1]
                .map(|h| FixedOffset::east_opt(h * 3600).unwrap())
                .into_iter()
                .filter(|off| self.offset_from_utc_datetime(&(*local - *off)) == *off)
                .collect();
            match fits[..] {
                [] => MappedLocalTime::None,
                [one] => MappedLocalTime::Single(one),
                [summer, winter] => MappedLocalTime::Ambiguous(summer, winter),
                _ => unreachable!(),
            }
        }

        fn offset_from_utc_date(&self, _: &NaiveDate) -> FixedOffset {
            unimplemented!("not used by Window")
        }

        fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> FixedOffset {
            let summer = Self::utc(3, 29) <= *utc && *utc < Self::utc(10, 25);
            FixedOffset::east_opt(if summer { 7200 } else { 3600 }).unwrap()
        }
    }

    #[test]
    fn on_an_ordinary_night_real_and_wall_clock_time_agree() {
        let w = w("22:00-06:00");
        let now = Cet2026::local(11, 21, "23:00");
        assert_eq!(w.remaining_in(&now), Some(Duration::from_secs(7 * 3600)));
        assert_eq!(
            w.remaining_in(&now.fixed_offset()),
            Some(Duration::from_secs(7 * 3600))
        );
    }

    #[test]
    fn the_night_clocks_go_forward_is_an_hour_shorter() {
        let w = w("22:00-06:00");
        let now = Cet2026::local(3, 28, "23:00");
        assert_eq!(
            w.remaining_at(now.naive_local()),
            Some(Duration::from_secs(7 * 3600))
        );
        assert_eq!(w.remaining_in(&now), Some(Duration::from_secs(6 * 3600)));
    }

    #[test]
    fn the_night_clocks_go_back_is_an_hour_longer() {
        let w = w("22:00-06:00");
        let now = Cet2026::local(10, 24, "23:00");
        assert_eq!(w.remaining_in(&now), Some(Duration::from_secs(8 * 3600)));
    }

    #[test]
    fn an_end_in_the_skipped_hour_closes_the_window_at_the_jump() {
        let w = w("22:00-02:30");
        let now = Cet2026::local(3, 28, "23:00");
        // 23:00 → 02:00, when the clock jumps to 03:00 and so passes 02:30.
        assert_eq!(w.remaining_in(&now), Some(Duration::from_secs(3 * 3600)));
    }

    #[test]
    fn an_end_in_the_repeated_hour_closes_the_window_the_next_time_the_clock_shows_it() {
        let w = w("22:00-02:30");
        let first_pass = Cet2026::local(10, 24, "23:00");
        assert_eq!(
            w.remaining_in(&first_pass),
            Some(Duration::from_secs(3 * 3600 + 1800))
        );
        // 02:10 the second time round (winter time): the wall clock is inside the window again.
        let second_pass = Cet2026::local(10, 25, "02:10") + TimeDelta::hours(1);
        assert_eq!(second_pass.naive_local().time(), t("02:10"));
        assert_eq!(
            w.remaining_in(&second_pass),
            Some(Duration::from_secs(20 * 60))
        );
    }
}
