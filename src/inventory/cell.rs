//! A workbook cell → the text a person sees in it, so that a workbook row becomes the same
//! fields a CSV row would: `204`, not `204.0`; `TRUE`; dates in ISO 8601.

use calamine::{CellErrorType, Data, ExcelDateTime};

/// Largest integer an f64 holds exactly (2^53); integral numbers up to it print as integers.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// The cell's text, or the error value it holds (`#REF!`, `#N/A`, …). A formula's cell holds
/// its cached value, the one the spreadsheet last computed and showed.
pub(super) fn text(cell: &Data) -> Result<String, &CellErrorType> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f),
        Data::Bool(true) => "TRUE".to_string(),
        Data::Bool(false) => "FALSE".to_string(),
        Data::DateTime(dt) => date_time(dt),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(e),
    })
}

/// A number as typed: integral values without a fraction (a unit `204`, a MAC typed as the
/// twelve digits `501234567890`); others in the shortest text that reads back as the same
/// number; huge or tiny ones in exponent form rather than hundreds of digits.
pub(super) fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < EXACT_INTEGER {
        // Exact: integral and within i64 range, so the cast loses nothing (-0.0 becomes 0).
        format!("{}", f as i64)
    } else if f.is_finite() && (f.abs() >= 1e16 || f.abs() < 1e-6) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

/// A date as `2026-03-01`, a date with a time as `2026-03-01T08:30:00`, a time of day or a
/// duration as `08:30:00`.
fn date_time(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        let secs = (dt.as_f64() * 86_400.0).round() as i64;
        return format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    }
    let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
    let time = format!("{h:02}:{mi:02}:{s:02}");
    if dt.as_f64() < 1.0 {
        time
    } else if (h, mi, s) == (0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{time}")
    }
}

/// The spreadsheet's name of the 0-based column `index`: A … Z, AA, AB, …
pub(super) fn column_name(index: usize) -> String {
    let mut n = index + 1;
    let mut name = Vec::new();
    while n > 0 {
        n -= 1;
        name.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use calamine::ExcelDateTimeType;

    use super::*;

    #[test]
    fn integral_numbers_read_as_typed() {
        assert_eq!(text(&Data::Float(204.0)), Ok("204".to_string()));
        assert_eq!(
            text(&Data::Float(501234567890.0)),
            Ok("501234567890".into())
        );
        assert_eq!(text(&Data::Float(-3.0)), Ok("-3".into()));
        assert_eq!(text(&Data::Float(-0.0)), Ok("0".into()));
        assert_eq!(text(&Data::Int(9999)), Ok("9999".into()));
    }

    #[test]
    fn other_numbers_take_the_shortest_text_that_reads_back() {
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1e20), "1e20");
        assert_eq!(number(1.5e-9), "1.5e-9");
        assert_eq!(number(f64::NAN), "NaN");
        for f in [0.1 + 0.2, 1.0 / 3.0, 123456.789] {
            assert_eq!(number(f).parse::<f64>().unwrap(), f);
        }
    }

    #[test]
    fn strings_booleans_and_empty_cells() {
        assert_eq!(
            text(&Data::String(" plug-1 ".into())),
            Ok(" plug-1 ".into())
        );
        assert_eq!(text(&Data::Bool(true)), Ok("TRUE".into()));
        assert_eq!(text(&Data::Bool(false)), Ok("FALSE".into()));
        assert_eq!(text(&Data::Empty), Ok(String::new()));
    }

    #[test]
    fn dates_and_times_are_iso() {
        let dt = |v: f64, t: ExcelDateTimeType| Data::DateTime(ExcelDateTime::new(v, t, false));
        // 45943 is 2025-10-13 in the 1900 date system.
        assert_eq!(
            text(&dt(45943.0, ExcelDateTimeType::DateTime)),
            Ok("2025-10-13".into())
        );
        assert_eq!(
            text(&dt(45943.5, ExcelDateTimeType::DateTime)),
            Ok("2025-10-13T12:00:00".into())
        );
        assert_eq!(
            text(&dt(0.25, ExcelDateTimeType::DateTime)),
            Ok("06:00:00".into())
        );
        assert_eq!(
            text(&dt(1.5, ExcelDateTimeType::TimeDelta)),
            Ok("36:00:00".into())
        );
        assert_eq!(
            text(&Data::DateTimeIso("2026-03-01".into())),
            Ok("2026-03-01".into())
        );
    }

    #[test]
    fn error_cells_are_errors() {
        assert_eq!(
            text(&Data::Error(CellErrorType::Ref)),
            Err(&CellErrorType::Ref)
        );
    }

    #[test]
    fn column_names_are_the_spreadsheets() {
        let names: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702]
            .into_iter()
            .map(column_name)
            .collect();
        assert_eq!(names, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }
}
