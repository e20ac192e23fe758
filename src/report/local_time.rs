//! The one way reports show a time: local time with its offset from UTC, to the millisecond,
//! `2026-11-21 06:47:08.123 +01:00`. The offset is the one in force at that instant, so a run
//! across a daylight-saving change shows both. The database keeps UTC (`run.json` shows it as
//! stored); `summary.md` and `devices.csv` show what the operator's clock said.

use chrono::{FixedOffset, Local};

use crate::store::Timestamp;

/// `strftime` of a time in reports.
const FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f %:z";

/// Whose clock reports read times on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The host's time zone (`TZ`, else `/etc/localtime`), as `run` and `report` use it.
    Local,
    /// A fixed offset, for tests that must not depend on the host's zone.
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(FixedOffset),
}

impl Zone {
    /// `at` in this zone, with its offset: `2026-11-21 06:47:08.123 +01:00`.
    pub fn show(self, at: &Timestamp) -> String {
        match self {
            Zone::Local => at.with_timezone(&Local).format(FORMAT).to_string(),
            Zone::Fixed(offset) => at.with_timezone(&offset).format(FORMAT).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::at;

    #[test]
    fn a_time_is_shown_in_the_zone_with_its_offset_and_milliseconds() {
        let t = at("2026-11-21T05:47:08.123Z");
        let plus_one = Zone::Fixed(FixedOffset::east_opt(3600).unwrap());
        assert_eq!(plus_one.show(&t), "2026-11-21 06:47:08.123 +01:00");
        let india = Zone::Fixed(FixedOffset::east_opt(5 * 3600 + 1800).unwrap());
        assert_eq!(india.show(&t), "2026-11-21 11:17:08.123 +05:30");
        let utc = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
        assert_eq!(utc.show(&t), "2026-11-21 05:47:08.123 +00:00");
        let new_york = Zone::Fixed(FixedOffset::west_opt(5 * 3600).unwrap());
        assert_eq!(new_york.show(&t), "2026-11-21 00:47:08.123 -05:00");
    }

    #[test]
    fn the_local_zone_shows_an_offset_too() {
        let shown = Zone::Local.show(&at("2026-11-21T05:47:08.123Z"));
        // `2026-11-21 HH:MM:SS.mmm +HH:MM`, whatever the host's zone.
        assert_eq!(
            shown.len(),
            "2026-11-21 05:47:08.123 +00:00".len(),
            "{shown}"
        );
        assert!(matches!(&shown[24..25], "+" | "-"), "{shown}");
    }
}
