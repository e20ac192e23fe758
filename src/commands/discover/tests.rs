use serde_json::json;

use super::update::replace_field;
use super::*;
use crate::inventory::ReadOptions;
use crate::protocol::discovery::NewInfo;
use crate::protocol::iot::messages::SysInfo;

fn iot(ip: &str, model: &str, mac: &str, alias: &str) -> Found {
    let raw = json!({"model": model, "mac": mac, "deviceId": "80AB", "alias": alias});
    Found::Iot {
        ip: ip.parse().unwrap(),
        info: SysInfo::from_reply(&raw).unwrap(),
        raw,
    }
}

fn new(ip: &str, model: &str, mac: &str, http_port: Option<u16>) -> Found {
    Found::New {
        ip: ip.parse().unwrap(),
        info: NewInfo {
            device_type: "SMART.TAPOPLUG".into(),
            device_model: model.into(),
            device_id: "=cmd|' /C calc'!A0".into(),
            ip: ip.into(),
            mac: mac.into(),
            encrypt_type: Some("KLAP".into()),
            http_port,
            https: false,
            login_version: Some(2),
            factory_default: Some(false),
        },
    }
}

#[test]
fn device_text_becomes_one_inert_line_that_no_spreadsheet_runs() {
    for (text, cell) in [
        (
            "=HYPERLINK(\"http://x\",\"y\")",
            "'=HYPERLINK(\"http://x\",\"y\")",
        ),
        ("+31 20 555", "'+31 20 555"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-lamp", "'-lamp"),
        ("  =1+1 ", "'=1+1"),
        (
            "\u{1b}[2J\u{1b}]0;pwned\u{7}",
            "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}",
        ),
        ("forged\r\n[ 9/9] succeeded", "forged\\r\\n[ 9/9] succeeded"),
        ("\tcmd", "\\tcmd"),
        ("desk\tlamp", "desk\\tlamp"),
        ("Küche", "Küche"),
        ("", ""),
    ] {
        assert_eq!(device_cell(text), cell, "{text:?}");
    }
    let long = device_cell(&"é".repeat(100_000));
    assert_eq!(long.chars().count(), MAX_DEVICE_TEXT_CHARS);
}

#[test]
fn formula_starts_are_the_ones_the_run_reports_neutralise() {
    // The table of `report::csv`'s own test: the two rules must not drift apart.
    for (text, cell) in [
        ("=1+1", "'=1+1"),
        ("+31 20 555", "'+31 20 555"),
        ("-lamp", "'-lamp"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("lamp=on", "lamp=on"),
        ("", ""),
    ] {
        assert_eq!(formula_safe(text), cell, "{text:?}");
    }
}

#[test]
fn ids_are_letters_digits_and_hyphens_whatever_the_model_says() {
    let mac = Some(MacAddr([0x50, 0xC7, 0xBF, 0x0A, 0xB1, 0xFE]));
    for (model, id) in [
        ("HS110(EU)", "hs110-0ab1fe"),
        ("=HYPERLINK(\"x\")", "hyperlink-0ab1fe"),
        ("\u{1b}[2J,HS 100\n", "2j-hs-100-0ab1fe"),
        ("", "device-0ab1fe"),
        ("#!", "device-0ab1fe"),
    ] {
        assert_eq!(
            id_for(&iot("10.0.0.5", model, "", ""), mac),
            id,
            "{model:?}"
        );
    }
    assert_eq!(
        id_for(&iot("10.0.0.5", "HS110", "", ""), None),
        "hs110-10.0.0.5"
    );
    let long = id_for(&iot("10.0.0.5", &"K".repeat(5000), "", ""), mac);
    assert_eq!(long, format!("{}-0ab1fe", "k".repeat(MAX_ID_STEM_CHARS)));
}

#[test]
fn a_taken_id_gets_the_next_free_number() {
    let mut taken = HashSet::new();
    let ids: Vec<String> = ["a", "a", "a-2", "a"]
        .into_iter()
        .map(|id| unique_id(&mut taken, id.to_string()))
        .collect();
    assert_eq!(ids, ["a", "a-2", "a-2-2", "a-3"]);
}

#[test]
fn refused_addresses_are_left_out_and_macs_that_name_no_one_device_left_off() {
    let found = [
        iot("10.0.0.0", "HS110(EU)", "50:C7:BF:00:00:01", "net"),
        iot("10.0.0.2", "HS110(EU)", "FF:FF:FF:FF:FF:FF", "bcast"),
        iot("10.0.0.3", "HS110(EU)", "01:00:5E:00:00:FB", "group"),
        iot("10.0.0.4", "HS110(EU)", "50:C7:BF:00:00:04", "twin a"),
        iot("10.0.0.5", "HS110(EU)", "50-c7-bf-00-00-04", "twin b"),
        iot("10.0.0.6", "HS110(EU)", "50:C7:BF:00:00:06", "one"),
        iot("10.0.0.7", "HS110(EU)", "60:C7:BF:00:00:06", "same suffix"),
        new("10.0.0.8", "P110(UK)", "48-22-54-00-00-08", Some(0)),
        iot("10.0.0.255", "HS110(EU)", "50:C7:BF:00:00:FF", "bcast24"),
    ];
    let (rows, notes) = rows(&found);
    let summary: Vec<(&str, &str, Option<String>)> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.host.as_str(), r.mac.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        summary,
        [
            ("hs110-10.0.0.2", "10.0.0.2", None),
            ("hs110-10.0.0.3", "10.0.0.3", None),
            ("hs110-10.0.0.4", "10.0.0.4", None),
            ("hs110-10.0.0.5", "10.0.0.5", None),
            ("hs110-000006", "10.0.0.6", Some("50:C7:BF:00:00:06".into())),
            (
                "hs110-000006-2",
                "10.0.0.7",
                Some("60:C7:BF:00:00:06".into())
            ),
            ("p110-000008", "10.0.0.8", Some("48:22:54:00:00:08".into())),
        ]
    );
    let expected = [
        format!(
            "left out 10.0.0.0 (HS110(EU)): its address is {}",
            inventory::unicast_reasons::NETWORK_OCTET
        ),
        format!(
            "10.0.0.2 (HS110(EU)): written without its MAC FF:FF:FF:FF:FF:FF, which is {}",
            inventory::identity_reasons::BROADCAST
        ),
        format!(
            "10.0.0.3 (HS110(EU)): written without its MAC 01:00:5E:00:00:FB, which is {}",
            inventory::identity_reasons::GROUP
        ),
        "10.0.0.4 (HS110(EU)): written without its MAC 50:C7:BF:00:00:04, which 2 devices \
         reported"
            .to_string(),
        "10.0.0.5 (HS110(EU)): written without its MAC 50:C7:BF:00:00:04, which 2 devices \
         reported"
            .to_string(),
        format!(
            "10.0.0.8 (P110(UK)): written without its device id '=cmd|' /C calc'!A0, which is \
             not one: {}",
            inventory::device_id_problem("=").unwrap()
        ),
        format!(
            "left out 10.0.0.255 (HS110(EU)): its address is {}",
            inventory::unicast_reasons::BROADCAST_OCTET
        ),
    ];
    assert_eq!(notes, expected);
    // What `check` would say of the file: nothing.
    let csv = render(&rows).unwrap();
    let inv = inventory::parse(Path::new("found.csv"), &csv).unwrap();
    assert_eq!(inv.devices.len(), 7);
    assert_eq!(inv.devices[6].device_id, None);
}

#[test]
fn an_update_that_would_put_two_rows_at_one_address_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.csv");
    // `a` moved to .6, where `b`, not found this time, still is in the file.
    let text = "id,host,mac\na,10.0.0.5,50:C7:BF:00:00:01\nb,10.0.0.6,50:C7:BF:00:00:02\n";
    std::fs::write(&path, text).unwrap();
    let (rows, _) = rows(&[iot("10.0.0.6", "HS110(EU)", "50:C7:BF:00:00:01", "a")]);
    assert_eq!(
        update(&path, &ReadOptions::default(), None, &rows).unwrap(),
        Status::BadInput
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(!path.with_extension("csv.bak").exists());
}

#[test]
fn an_update_moves_a_host_and_keeps_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.csv");
    std::fs::write(&path, "id,host,mac\na,10.0.0.5:9999,50:C7:BF:00:00:01\n").unwrap();
    let (rows, _) = rows(&[iot("10.0.0.7", "HS110(EU)", "50:C7:BF:00:00:01", "a")]);
    assert_eq!(
        update(&path, &ReadOptions::default(), None, &rows).unwrap(),
        Status::Success
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "id,host,mac\na,10.0.0.7:9999,50:C7:BF:00:00:01\n"
    );
}

#[test]
fn a_host_field_is_replaced_and_the_rest_of_the_line_kept() {
    let replaced = |line: &[u8], d: u8, old: &str, new: &str| {
        replace_field(line, d, old.as_bytes(), new.as_bytes())
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    };
    assert_eq!(
        replaced(
            b"a,10.0.0.5,HS100,50:C7:BF:00:00:01\n",
            b',',
            "10.0.0.5",
            "10.0.0.9"
        )
        .unwrap(),
        "a,10.0.0.9,HS100,50:C7:BF:00:00:01\n"
    );
    assert_eq!(
        replaced(b"a, 10.0.0.5 ,x\r\n", b',', "10.0.0.5", "10.0.0.9").unwrap(),
        "a,10.0.0.9,x\r\n"
    );
    assert_eq!(
        replaced(b"R\xE9sidence;10.0.0.5;x\r\n", b';', "10.0.0.5", "10.0.0.9").unwrap(),
        "R\u{FFFD}sidence;10.0.0.9;x\r\n"
    );
    assert_eq!(
        replace_field(b"R\xE9s\t10.0.0.5\n", b'\t', b"10.0.0.5", b"10.0.0.9").unwrap(),
        b"R\xE9s\t10.0.0.9\n"
    );
    // Ambiguous or absent: leave it to the user.
    assert!(replaced(b"10.0.0.5,10.0.0.5\n", b',', "10.0.0.5", "x").is_none());
    assert!(replaced(b"a,b\n", b',', "10.0.0.5", "x").is_none());
}

#[test]
fn an_update_of_a_semicolon_crlf_bom_file_keeps_its_flavour_and_lists_rows_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.csv");
    let text =
        "\u{FEFF}id;host;mac\r\na;10.0.0.5;50:C7:BF:00:00:01\r\nb;10.0.0.6;50:C7:BF:00:00:02\r\n";
    std::fs::write(&path, text).unwrap();
    let (rows, _) = rows(&[iot("10.0.0.7", "HS110(EU)", "50:C7:BF:00:00:01", "a")]);
    assert_eq!(
        update(&path, &ReadOptions::default(), None, &rows).unwrap(),
        Status::Success
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text.replace("10.0.0.5", "10.0.0.7")
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("fleet.csv.bak")).unwrap(),
        text
    );
}

#[test]
fn an_update_with_out_leaves_the_inventory_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.csv");
    let out = dir.path().join("new.csv");
    let text = "id,host,mac\na,10.0.0.5,50:C7:BF:00:00:01\n";
    std::fs::write(&path, text).unwrap();
    let (rows, _) = rows(&[iot("10.0.0.7", "HS110(EU)", "50:C7:BF:00:00:01", "a")]);
    let status = update(&path, &ReadOptions::default(), Some(&out), &rows).unwrap();
    assert_eq!(status, Status::Success);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "id,host,mac\na,10.0.0.7,50:C7:BF:00:00:01\n"
    );
}

#[test]
fn an_update_moves_the_host_field_not_a_quoted_note_that_holds_the_old_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.csv");
    // The note spans two lines and its first holds the old address between delimiters; the
    // host field is on the record's second line.
    let text = "id;notes;mac;host\r\n\
                a;\"moved from;10.0.0.5\r\nlast week\";50:C7:BF:00:00:01;10.0.0.5\r\n\
                b;\"x;10.0.0.6\";50:C7:BF:00:00:02;10.0.0.8\r\n";
    std::fs::write(&path, text).unwrap();
    let (rows, _) = rows(&[
        iot("10.0.0.7", "HS110(EU)", "50:C7:BF:00:00:01", "a"),
        iot("10.0.0.9", "HS110(EU)", "50:C7:BF:00:00:02", "b"),
    ]);
    assert_eq!(
        update(&path, &ReadOptions::default(), None, &rows).unwrap(),
        Status::Success
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "id;notes;mac;host\r\n\
         a;\"moved from;10.0.0.5\r\nlast week\";50:C7:BF:00:00:01;10.0.0.7\r\n\
         b;\"x;10.0.0.6\";50:C7:BF:00:00:02;10.0.0.9\r\n"
    );
}

#[test]
fn a_host_is_found_only_outside_quotes() {
    let replaced = |record: &[u8], old: &str| {
        replace_field(record, b',', old.as_bytes(), b"10.0.0.9")
            .map(|l| String::from_utf8_lossy(&l).into_owned())
    };
    // Inside quotes, the address is text of another field: not the host.
    assert_eq!(
        replaced(b"a,\"x,10.0.0.5,y\",10.0.0.5\n", "10.0.0.5").unwrap(),
        "a,\"x,10.0.0.5,y\",10.0.0.9\n"
    );
    assert!(replaced(b"a,\"x,10.0.0.5,y\",10.0.0.6\n", "10.0.0.5").is_none());
    assert_eq!(
        replaced(b"a,\"two\nlines, 10.0.0.5\",10.0.0.5\n", "10.0.0.5").unwrap(),
        "a,\"two\nlines, 10.0.0.5\",10.0.0.9\n"
    );
}

#[test]
fn cameras_found_by_discovery_get_their_own_protocol_words() {
    let raw = json!({"model": "EC60(US)", "mac": "74:FE:CE:00:00:01", "deviceId": "80AB",
        "alias": "porch", "type": "IOT.IPCAMERA"});
    let kasa_cam = Found::Iot {
        ip: "127.0.0.1".parse().unwrap(),
        info: SysInfo::from_reply(&raw).unwrap(),
        raw,
    };
    assert_eq!(row(&kasa_cam).protocol, "linkie2");
    let mut tapo_cam = new("127.0.0.2", "C210", "40-AE-30-00-00-02", None);
    if let Found::New { info, .. } = &mut tapo_cam {
        info.device_type = "SMART.IPCAMERA".into();
        info.encrypt_type = Some("AES".into());
        info.https = true;
    }
    assert_eq!(row(&tapo_cam).protocol, "sslaes");
    // Plugs keep the short words a person types.
    assert_eq!(
        row(&iot("127.0.0.3", "HS110", "50:C7:BF:00:00:03", "")).protocol,
        "iot"
    );
    assert_eq!(
        row(&new("127.0.0.4", "P110", "AC-15-A2-00-00-04", None)).protocol,
        "klap"
    );
}
