//! The one text form of a [`Timestamp`] in the database: RFC 3339, UTC, milliseconds, `Z`
//! (`2026-11-21T05:47:08.123Z`). Fixed width, so text order is time order in SQL.

use chrono::{DateTime, SecondsFormat, Utc};

use super::Timestamp;

/// The stored form. Sub-millisecond digits are dropped: a value read back equals the value
/// written only when it had millisecond precision.
pub(crate) fn format(at: &Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads the stored form back. Any RFC 3339 offset is accepted, so rows edited by hand with
/// `+00:00` still load.
pub(crate) fn parse(text: &str) -> Result<Timestamp, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_stored_as_utc_with_milliseconds_and_z() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 5, 47, 8).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(format(&at), "2026-11-21T05:47:08.123Z");
    }

    #[test]
    fn whole_seconds_still_get_three_digits() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format(&at), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn a_stored_timestamp_reads_back_to_the_same_instant() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 5, 47, 8).unwrap()
            + chrono::Duration::milliseconds(123);
        assert_eq!(parse(&format(&at)).unwrap(), at);
    }

    #[test]
    fn an_offset_is_converted_to_utc() {
        let at = parse("2026-11-21T07:47:08.123+02:00").unwrap();
        assert_eq!(format(&at), "2026-11-21T05:47:08.123Z");
    }

    #[test]
    fn text_that_is_not_rfc_3339_is_refused() {
        assert!(parse("21/11/2026 05:47").is_err());
    }
}
