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
    let plain = "id,host,site,unit,notes\nplug-1,10.0.0.1,Résidence Hélène,204,\"two\nlines\"\n";
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
