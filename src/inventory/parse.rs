//! [`parse`]: bytes → a validated [`Inventory`], or every problem in the file at once.

use std::path::Path;

use super::validate::Validator;
use super::{Inventory, InventoryErrors, RowError, encoding, header, reader};

pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Inventory, InventoryErrors> {
    let checked = encoding::check(bytes);
    let mut errors = checked.errors;
    let mut records = reader::records(checked.body);
    let mut devices = Vec::new();
    match records.next() {
        None => errors.push(RowError {
            line: 1,
            message: "no header row: the file is empty or has only comments; the first row \
                      must name the columns, at least id and host"
                .to_string(),
        }),
        // Without the header's columns no row can be checked.
        Some(Err(error)) => errors.push(error),
        Some(Ok(header)) => {
            let (columns, header_errors) = header::columns(&header);
            errors.extend(header_errors);
            if let Some(columns) = columns {
                let mut validator = Validator::new(&columns);
                for record in records {
                    match record {
                        Ok(record) => validator.row(&record),
                        Err(error) => validator.unreadable(error),
                    }
                }
                let (valid, row_errors) = validator.finish();
                devices = valid;
                errors.extend(row_errors);
            }
        }
    }
    if errors.is_empty() {
        return Ok(Inventory {
            path: path.to_path_buf(),
            devices,
        });
    }
    // Stable: problems on one line keep the order they were found in.
    errors.sort_by_key(|error| error.line);
    Err(InventoryErrors {
        path: path.to_path_buf(),
        errors,
    })
}

/// The problems `parse` finds in `bytes`, as (line, message); for tests across the module.
#[cfg(test)]
pub(super) fn problems(bytes: &[u8]) -> Vec<(u64, String)> {
    match parse(Path::new("inv.csv"), bytes) {
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
        assert_eq!(
            problems(text),
            [
                (
                    1,
                    "starts with a UTF-8 byte order mark (BOM); save the file as UTF-8 without BOM"
                        .to_string()
                ),
                (
                    2,
                    "power_via \"ghost\" names no row (no row has id \"ghost\")".to_string()
                ),
                (
                    3,
                    "invalid UTF-8 (byte 0xFF at byte offset 47); save the file as UTF-8"
                        .to_string()
                ),
                (
                    3,
                    "expected 3 fields, as in the header on line 1, found 2".to_string()
                ),
                (
                    4,
                    "expected 3 fields, as in the header on line 1, found 1".to_string()
                ),
            ]
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
