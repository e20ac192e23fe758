//! Bytes → a validated [`Inventory`], or every problem in the file at once: [`csv`] for CSV
//! text, [`workbook`] for a sheet; both end in the same header and row checks.

use std::path::Path;

use super::options::{Encoding, Format, ReadOptions};
use super::reader::Record;
use super::validate::{Kept, Validator};
use super::{
    Checked, Inventory, InventoryErrors, LoadError, RowError, delimiter, encoding, header, reader,
    workbook,
};

/// A file read and checked: what was kept of its valid rows, and how it was read.
pub(super) struct Parsed {
    path: std::path::PathBuf,
    sheet: Option<String>,
    kept: Kept,
    warnings: Vec<RowError>,
    read: ReadOptions,
}

impl Parsed {
    pub(super) fn inventory(self) -> Inventory {
        Inventory {
            path: self.path,
            sheet: self.sheet,
            devices: match self.kept {
                Kept::Devices(devices) => devices,
                Kept::Tally(_) => unreachable!("an inventory is read keeping its devices"),
            },
            warnings: self.warnings,
            read: self.read,
        }
    }

    pub(super) fn checked(self) -> Checked {
        let tally = match self.kept {
            Kept::Tally(tally) => tally,
            Kept::Devices(devices) => super::Tally::of(&devices),
        };
        Checked {
            path: self.path,
            sheet: self.sheet,
            tally,
            warnings: self.warnings,
        }
    }
}

/// Reads CSV bytes into an [`Inventory`].
pub(super) fn csv(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Inventory, InventoryErrors> {
    csv_kept(path, bytes, options, true).map(Parsed::inventory)
}

/// Reads CSV bytes: decoded, the delimiter given or detected, then checked row by row; the
/// valid rows are kept as devices when `keep` says so, else counted.
pub(super) fn csv_kept(
    path: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    keep: bool,
) -> Result<Parsed, InventoryErrors> {
    let decoded = encoding::decode(bytes, options.encoding);
    let mut errors = decoded.errors;
    let found = match options.delimiter {
        Some(d) => Ok(d),
        None => delimiter::detect(&decoded.body),
    };
    let mut kept = Kept::empty(keep);
    let mut used = None;
    match found {
        Ok(d) => {
            used = Some(d);
            let forced = options.delimiter.is_some();
            // A row per line at most, a guess to size the tables by.
            let lines = decoded.body.iter().filter(|&&b| b == b'\n').count() + 1;
            kept = checked(
                reader::records(&decoded.body, d),
                lines,
                &mut errors,
                "the file is empty or has only comments",
                |header| delimiter::hint(&header.fields, d, forced),
                keep,
            );
        }
        Err(error) => errors.push(error),
    }
    let read = ReadOptions {
        delimiter: used,
        ..options.clone()
    };
    finish(path, None, kept, errors, decoded.warnings, read)
}

/// Reads the sheet of a workbook.
pub(super) fn workbook(
    path: &Path,
    bytes: &[u8],
    format: Format,
    options: &ReadOptions,
    keep: bool,
) -> Result<Parsed, LoadError> {
    let sheet = workbook::read(bytes, format, options.sheet.as_deref()).map_err(|source| {
        LoadError::Workbook {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let mut errors = Vec::new();
    let rows = sheet.records.len();
    let kept = checked(
        sheet.records.into_iter(),
        rows,
        &mut errors,
        "the sheet is empty or has only comments",
        |_| None,
        keep,
    );
    let read = ReadOptions {
        delimiter: None,
        encoding: Encoding::Auto,
        sheet: Some(sheet.name.clone()),
    };
    finish(path, Some(sheet.name), kept, errors, Vec::new(), read).map_err(LoadError::Invalid)
}

/// The header, then every row checked against it; problems go to `errors`. `hint` may add a
/// word on a header without the required columns. `rows` is about how many records there are.
fn checked(
    mut records: impl Iterator<Item = Result<Record, RowError>>,
    rows: usize,
    errors: &mut Vec<RowError>,
    empty: &str,
    hint: impl Fn(&Record) -> Option<String>,
    keep: bool,
) -> Kept {
    match records.next() {
        None => {
            errors.push(RowError {
                line: 1,
                message: format!(
                    "no header row: {empty}; the first row must name the columns, at least id \
                     and host"
                ),
            });
            Kept::empty(keep)
        }
        // Without the header's columns no row can be checked.
        Some(Err(error)) => {
            errors.push(error);
            Kept::empty(keep)
        }
        Some(Ok(header)) => {
            let (columns, header_errors) = header::columns(&header);
            errors.extend(header_errors);
            let Some(columns) = columns else {
                errors.extend(hint(&header).map(|message| RowError {
                    line: header.line,
                    message,
                }));
                return Kept::empty(keep);
            };
            let mut validator = Validator::new(&columns, keep, rows);
            for record in records {
                match record {
                    Ok(record) => validator.row(&record),
                    Err(error) => validator.unreadable(error),
                }
            }
            let (kept, row_errors) = validator.finish();
            errors.extend(row_errors);
            kept
        }
    }
}

fn finish(
    path: &Path,
    sheet: Option<String>,
    kept: Kept,
    mut errors: Vec<RowError>,
    warnings: Vec<RowError>,
    read: ReadOptions,
) -> Result<Parsed, InventoryErrors> {
    if errors.is_empty() {
        return Ok(Parsed {
            path: path.to_path_buf(),
            sheet,
            kept,
            warnings,
            read,
        });
    }
    // Stable: problems on one line keep the order they were found in.
    errors.sort_by_key(|error| error.line);
    Err(InventoryErrors {
        path: path.to_path_buf(),
        sheet,
        errors,
        warnings,
    })
}

/// The problems `parse` finds in `bytes`, as (line, message); for tests across the module.
#[cfg(test)]
pub(super) fn problems(bytes: &[u8]) -> Vec<(u64, String)> {
    match csv(Path::new("inv.csv"), bytes, &ReadOptions::default()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Device, Host, MacAddr, PowerVia};

    fn parse(path: &Path, bytes: &[u8]) -> Result<Inventory, InventoryErrors> {
        csv(path, bytes, &ReadOptions::default())
    }

    #[test]
    fn a_clean_inventory_gives_typed_devices() {
        let text = "# site A\nid,Host,MAC,power_via,Site,sim_fault,notes\n\
                    strip-1,10.0.0.10,,,a,,\n\
                    # the lamp\n\
                    lamp,127.0.0.2:9999,50-c7-bf-0a-b1-fe,strip-1#2, a ,offline,\"two\nlines\"\n";
        let inventory = parse(Path::new("x.csv"), text.as_bytes()).unwrap();
        assert_eq!(inventory.path, Path::new("x.csv"));
        let [strip, lamp] = inventory.devices.as_slice() else {
            panic!("{inventory:?}")
        };
        assert_eq!(
            (strip.line, strip.id.as_str(), strip.power_via.as_ref()),
            (3, "strip-1", None)
        );
        assert_eq!(
            *lamp,
            Device {
                line: 5,
                id: "lamp".into(),
                host: Host {
                    name: "127.0.0.2".into(),
                    port: Some(9999)
                },
                model: None,
                mac: Some(MacAddr([0x50, 0xC7, 0xBF, 0x0A, 0xB1, 0xFE])),
                site: Some("a".into()),
                unit: None,
                power_via: Some(PowerVia {
                    id: "strip-1".into(),
                    outlet: Some(2)
                }),
                credentials: None,
                protocol: crate::inventory::ProtocolChoice::Auto,
                method: crate::model::MethodChoice::Auto,
                device_id: None,
                notes: Some("two\nlines".into()),
                extra: [("sim_fault".to_string(), "offline".to_string())].into(),
            }
        );
    }

    #[test]
    fn an_inventory_with_a_header_and_no_rows_has_no_devices() {
        assert_eq!(
            problems(b"# fleet\nid,host\n# nothing yet\n"),
            [(
                2,
                "no devices: the file has a header and no rows; add one row per device".to_string()
            )]
        );
    }

    #[test]
    fn an_empty_file_has_no_header_row() {
        let expected = "no header row: the file is empty or has only comments; the first row \
                        must name the columns, at least id and host";
        assert_eq!(problems(b""), [(1, expected.to_string())]);
        assert_eq!(
            problems(b"# only a comment\n\n"),
            [(1, expected.to_string())]
        );
    }

    #[test]
    fn a_missing_required_column_stops_before_the_rows() {
        assert_eq!(
            problems(b"# inventory\nid,model\nplug-1,HS103\nplug-1,HS103\n"),
            [(
                2,
                "missing required column \"host\"; the first row that is not a comment must be \
                 the header, naming at least id and host"
                    .to_string()
            )]
        );
    }

    #[test]
    fn problems_come_in_line_order_across_checks() {
        let text = b"\xEF\xBB\xBFid,host,power_via\na,10.0.0.1,ghost\nb,10.0.0.\xFF\nc\n";
        let utf8 = ReadOptions {
            encoding: Encoding::Utf8,
            ..ReadOptions::default()
        };
        let errors = csv(Path::new("inv.csv"), text, &utf8).unwrap_err();
        let found: Vec<(u64, &str)> = errors
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    2,
                    "power_via \"ghost\" names no row (no row has id \"ghost\")"
                ),
                (
                    3,
                    "invalid UTF-8 (byte 0xFF at byte offset 47); save the file as UTF-8, or \
                     leave out --encoding utf-8 to read it as Windows-1252"
                ),
                (3, "expected 3 fields, as in the header on line 1, found 2"),
                (4, "expected 3 fields, as in the header on line 1, found 1"),
            ]
        );
    }

    #[test]
    fn the_windows_1252_warning_is_shown_among_the_problems() {
        let errors = parse(
            Path::new("inv.csv"),
            b"id,host\nR\xE9sidence,10.0.0.1\n,10.0.0.2\n",
        )
        .unwrap_err();
        assert_eq!(errors.errors.len(), 1);
        let shown = errors.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(
            lines[0].starts_with("inv.csv:2: warning: not UTF-8"),
            "{shown}"
        );
        assert_eq!(lines[1], "inv.csv:3: empty id");
    }

    #[test]
    fn spreadsheet_flavours_of_one_inventory_read_the_same() {
        let plain =
            "id,host,site,unit,notes\nplug-1,10.0.0.1,Résidence Hélène,204,\"two\nlines\"\n";
        let utf8_bom_crlf = format!("\u{FEFF}{}", plain.replace('\n', "\r\n"));
        let semicolon = plain.replace(',', ";");
        let tab = plain.replace(',', "\t");
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode(plain);
        let expected = parse(Path::new("a.csv"), plain.as_bytes()).unwrap();
        for bytes in [
            utf8_bom_crlf.as_bytes(),
            semicolon.as_bytes(),
            tab.as_bytes(),
            &cp1252,
        ] {
            let inventory = parse(Path::new("a.csv"), bytes).unwrap();
            let mut devices = inventory.devices.clone();
            // CRLF inside the quoted field is the file's own text.
            devices[0].notes = devices[0].notes.as_ref().map(|n| n.replace("\r\n", "\n"));
            assert_eq!(
                devices,
                expected.devices,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let read = parse(Path::new("a.csv"), semicolon.as_bytes())
            .unwrap()
            .read;
        assert_eq!(read.delimiter, Some(b';'));
        let latin = parse(Path::new("a.csv"), &cp1252).unwrap();
        assert_eq!(latin.warnings.len(), 1);
        assert_eq!(latin.warnings[0].line, 2);
    }

    #[test]
    fn a_semicolon_header_read_with_commas_gets_a_delimiter_hint() {
        let forced = ReadOptions {
            delimiter: Some(b','),
            ..ReadOptions::default()
        };
        let errors = csv(Path::new("inv.csv"), b"id;host\na;10.0.0.1\n", &forced).unwrap_err();
        let last = errors.errors.last().unwrap();
        assert_eq!(
            (last.line, last.message.as_str()),
            (
                1,
                "the header has one column when split at ','; is the file separated by ';'? \
                 pass --delimiter ';', or leave it out to detect it"
            )
        );
    }

    #[test]
    fn line_numbers_stay_right_after_comments_multiline_fields_and_blank_lines() {
        let text = "# comment\n\nid,host,notes\n# another\na,10.0.0.1,\"line\nline\n\nline\"\n\n\n,10.0.0.2,\n";
        assert_eq!(problems(text.as_bytes()), [(11, "empty id".to_string())]);
    }

    #[test]
    fn broken_quoting_is_reported_and_later_rows_still_checked() {
        let text = "id,host,notes\na,10.0.0.1,\"x\"y\n,10.0.0.2,\n";
        assert_eq!(
            problems(text.as_bytes()),
            [
                (
                    2,
                    "text after the closing quote of a field; inside a quoted field, write a \
                     quote as \"\""
                        .to_string()
                ),
                (3, "empty id".to_string()),
            ]
        );
    }

    #[test]
    fn a_header_with_broken_quoting_stops_before_the_rows() {
        assert_eq!(
            problems(b"id,\"host\nplug-1,10.0.0.1\n"),
            [(
                1,
                "unclosed quote: the quoted field opened on this line never ends, so the rest of \
                 the file was read into it"
                    .to_string()
            )]
        );
    }

    #[test]
    fn counting_the_valid_rows_finds_the_problems_keeping_them_finds() {
        let texts: [&[u8]; 7] = [
            b"id,host,site,power_via\nstrip,10.0.0.1,a,\nlamp,10.0.0.2,b,strip#1\nfan,10.0.0.3,a,\n",
            b"id,host,model,mac,power_via\ns,10.0.0.1,KP303(UK),50:C7:BF:00:00:01,\n\
              s,10.0.0.2,,,\nl,10.0.0.1,,50-c7-bf-00-00-01,s#9\nx,10.0.0.9,,,nobody\n",
            b"id,host\n",
            b"",
            b"id,model\na,HS103\n",
            b"id,host\nR\xE9sidence,10.0.0.1\n",
            b"id;host;site\na;10.0.0.1;\"x\"y\nb;10.0.0.2;\"open\n",
        ];
        let options = ReadOptions::default();
        for bytes in texts {
            let shown = String::from_utf8_lossy(bytes);
            let kept = csv_kept(Path::new("x.csv"), bytes, &options, true);
            let counted = csv_kept(Path::new("x.csv"), bytes, &options, false);
            match (kept, counted) {
                (Ok(kept), Ok(counted)) => {
                    let (kept, counted) = (kept.inventory(), counted.checked());
                    assert_eq!(counted.tally, crate::inventory::Tally::of(&kept.devices));
                    assert_eq!(counted.warnings, kept.warnings, "{shown}");
                }
                (Err(kept), Err(counted)) => {
                    assert_eq!(counted.errors, kept.errors, "{shown}");
                    assert!(!counted.errors.is_empty());
                    assert_eq!(counted.warnings, kept.warnings, "{shown}");
                }
                _ => panic!("one way refused and the other did not: {shown}"),
            }
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let binary: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        assert!(!problems(&binary).is_empty());
        let mut huge = b"id,host\nplug-1,".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 1 << 20));
        let found = problems(&huge);
        assert_eq!(
            found,
            [(
                2,
                "field 2 is 1048576 bytes long; the limit is 65536 bytes".to_string()
            )]
        );
        assert!(!problems(b"\"").is_empty());
        assert!(!problems(b"id,host\n\"").is_empty());
    }
}
