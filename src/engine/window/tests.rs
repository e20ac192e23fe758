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

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<FixedOffset> {
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
