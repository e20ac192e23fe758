//! Properties of inventory parsing: it never panics, whatever the bytes; it gives back exactly
//! what well-formed rows hold; every problem it reports points at a line of the file; and the
//! addresses and MACs it refuses as not one device's are exactly the classes it names.
//!
//! Failures are reproducible: proptest prints the minimal failing input, and persists the
//! seed of every failing case in `tests/proptest_inventory.proptest-regressions`, next to this
//! file, which is replayed first on every later run. Commit that file when it appears.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use fleetreset::inventory::{self, MacAddr, identity_reasons, unicast_reasons};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// 256 cases per property keep the whole file to a few seconds in a debug build.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(256)
    }
}

/// Lines in a file as an editor numbers them: a last line without `\n` still counts.
fn line_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Parses and checks that every reported problem is on a line of the file.
fn parse_checking_lines(bytes: &[u8]) -> Result<inventory::Inventory, inventory::InventoryErrors> {
    let result = inventory::parse(Path::new("inv.csv"), bytes);
    if let Err(errors) = &result {
        let lines = line_count(bytes);
        assert!(!errors.errors.is_empty(), "an error list with no error");
        for e in &errors.errors {
            assert!(
                (1..=lines).contains(&e.line),
                "line {} of a {lines}-line file: {}",
                e.line,
                e.message
            );
        }
    }
    result
}

/// Text made of what CSV parsing cares about: separators, quotes, line ends, comments, a
/// header, non-UTF-8 and NUL bytes, and fragments of real values.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"#".to_vec()),
        Just(b" ".to_vec()),
        Just(b"id,host".to_vec()),
        Just(b"mac".to_vec()),
        Just(b"power_via".to_vec()),
        Just(b"10.0.0.1".to_vec()),
        Just(b"[::1]:9999".to_vec()),
        Just(b"50:C7:BF:00:00:01".to_vec()),
        Just(b"strip#2".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"\0".to_vec()),
        Just("é".as_bytes().to_vec()),
        "[a-z0-9]{1,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat())
}

/// One well-formed row, before duplicates are removed.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    ip: Ipv4Addr,
    port: Option<u16>,
    mac: Option<MacAddr>,
    /// 0: `AA:BB:..`, 1: `aa-bb-..`, 2: 12 hex digits.
    mac_form: u8,
    notes: String,
    /// Quote every field of the row, needed or not.
    quote_all: bool,
    /// A comment line (true) or a blank line (false) before the row, or neither.
    before: Option<bool>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        // Ids with the characters that need quoting, and a leading `#`, which must not make
        // the row a comment once quoted. No spaces at the ends: fields are trimmed.
        "[A-Za-z0-9_.#é-]([A-Za-z0-9 _.,\"#é-]{0,10}[A-Za-z0-9_.#é-])?",
        unicast_ipv4(),
        prop::option::of(1u16..=u16::MAX),
        prop::option::of(identity_mac()),
        0u8..3,
        // Notes may span two lines inside quotes, which moves every later row down a line.
        "[a-z ,\"]{0,8}(\n[a-z]{1,4})?",
        any::<bool>(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(id, ip, port, mac, mac_form, notes, quote_all, before)| Row {
                id,
                ip,
                port,
                mac,
                mac_form,
                notes,
                quote_all,
                before,
            },
        )
}

/// Every IPv4 address a device can have: 1.0.0.0 to 223.255.255.255, last octet 1 to 254.
fn unicast_ipv4() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..224, any::<u8>(), any::<u8>(), 1u8..255)
        .prop_map(|(a, b, c, d)| Ipv4Addr::new(a, b, c, d))
}

/// Every MAC that can be a device's: the group bit clear, not all zeros.
fn identity_mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>()
        .prop_map(|mut m| {
            m[0] &= !1;
            MacAddr(m)
        })
        .prop_filter("all zeros", |m| m.0 != [0; 6])
}

/// Octets near the edges of the refused classes as often as anything else, so that a few
/// hundred cases reach every class.
fn edgy_octet() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0u8),
        Just(1),
        Just(127),
        Just(223),
        Just(224),
        Just(239),
        Just(240),
        Just(254),
        Just(255),
        any::<u8>(),
    ]
}

fn any_ipv4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<u32>().prop_map(Ipv4Addr::from),
        [edgy_octet(), edgy_octet(), edgy_octet(), edgy_octet()].prop_map(Ipv4Addr::from),
    ]
}

/// The class of an IPv4 address as the refusal rules define it, written as CIDR masks on the
/// 32-bit value rather than the way `unicast_problem` tests octets.
fn class_of(ip: Ipv4Addr) -> Option<&'static str> {
    let n = u32::from(ip);
    let within = |net: u32, bits: u32| n & (u32::MAX << (32 - bits)) == net;
    if n == 0 {
        Some(unicast_reasons::UNSPECIFIED)
    } else if within(0, 8) {
        Some(unicast_reasons::THIS_NETWORK)
    } else if n == u32::MAX {
        Some(unicast_reasons::LIMITED_BROADCAST)
    } else if within(0xE000_0000, 4) {
        Some(unicast_reasons::MULTICAST)
    } else if within(0xF000_0000, 4) {
        Some(unicast_reasons::RESERVED)
    } else if n & 0xFF == 0 {
        Some(unicast_reasons::NETWORK_OCTET)
    } else if n & 0xFF == 0xFF {
        Some(unicast_reasons::BROADCAST_OCTET)
    } else {
        None
    }
}

/// The problems of a one-row inventory, as text.
fn one_row_problems(host: &str, mac: &str) -> Vec<String> {
    let text = format!("id,host,mac\nplug,\"{host}\",{mac}\n");
    match inventory::parse(Path::new("inv.csv"), text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors.into_iter().map(|e| e.message).collect(),
    }
}

/// Rows whose ids, hosts and MACs are unique: later duplicates are dropped.
fn unique(rows: Vec<Row>) -> Vec<Row> {
    let (mut ids, mut hosts, mut macs) = (HashSet::new(), HashSet::new(), HashSet::new());
    rows.into_iter()
        .filter(|r| {
            let fresh = !ids.contains(&r.id)
                && !hosts.contains(&(r.ip, r.port.unwrap_or(9999)))
                && r.mac.is_none_or(|m| !macs.contains(&m));
            if fresh {
                ids.insert(r.id.clone());
                hosts.insert((r.ip, r.port.unwrap_or(9999)));
                macs.extend(r.mac);
            }
            fresh
        })
        .collect()
}

fn field(value: &str, quote: bool) -> String {
    let needs = value.contains([',', '"', '\n']) || value.starts_with('#');
    if quote || needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn mac_text(mac: MacAddr, form: u8) -> String {
    let colons = mac.to_string();
    match form {
        0 => colons,
        1 => colons.replace(':', "-").to_lowercase(),
        _ => colons.replace(':', ""),
    }
}

#[derive(Debug, Clone, Copy)]
enum Col {
    Id,
    Host,
    Mac,
    Notes,
}

/// The CSV for `rows` with the columns in `order` (header names in random case), and the
/// line each row starts on.
fn render(rows: &[Row], order: &[Col], upper: &[bool]) -> (String, Vec<u64>) {
    let mut text = String::from("# inventory written by a property test\n");
    let mut line = 2;
    let header: Vec<String> = order
        .iter()
        .zip(upper)
        .map(|(c, &up)| {
            let name = match c {
                Col::Id => "id",
                Col::Host => "host",
                Col::Mac => "mac",
                Col::Notes => "notes",
            };
            if up {
                name.to_uppercase()
            } else {
                name.to_string()
            }
        })
        .collect();
    text.push_str(&header.join(","));
    text.push('\n');
    line += 1;
    let mut starts = Vec::new();
    for r in rows {
        match r.before {
            Some(true) => text.push_str("# a comment, with a \"quote\n"),
            Some(false) => text.push('\n'),
            None => {}
        }
        if r.before.is_some() {
            line += 1;
        }
        starts.push(line);
        let host = match r.port {
            Some(p) => format!("{}:{p}", r.ip),
            None => r.ip.to_string(),
        };
        let mac = r.mac.map(|m| mac_text(m, r.mac_form)).unwrap_or_default();
        let fields: Vec<String> = order
            .iter()
            .map(|c| match c {
                Col::Id => field(&r.id, r.quote_all),
                Col::Host => field(&host, r.quote_all),
                Col::Mac => field(&mac, r.quote_all),
                Col::Notes => field(&r.notes, r.quote_all),
            })
            .collect();
        text.push_str(&fields.join(","));
        text.push('\n');
        line += 1 + r.notes.matches('\n').count() as u64;
    }
    (text, starts)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsing_arbitrary_bytes_never_panics_and_reports_lines_within_the_file(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = parse_checking_lines(&bytes);
    }

    #[test]
    fn parsing_csv_like_text_never_panics_and_reports_lines_within_the_file(bytes in csvish()) {
        let _ = parse_checking_lines(&bytes);
    }

    #[test]
    fn problems_after_a_header_are_reported_on_lines_within_the_file(body in csvish()) {
        let mut bytes = b"id,host,mac,power_via,notes\n".to_vec();
        bytes.extend(body);
        let _ = parse_checking_lines(&bytes);
    }

    #[test]
    fn well_formed_rows_come_back_with_their_values_and_lines(
        rows in prop::collection::vec(row(), 1..40).prop_map(unique),
        order in Just(vec![Col::Id, Col::Host, Col::Mac, Col::Notes]).prop_shuffle(),
        upper in prop::collection::vec(any::<bool>(), 4),
    ) {
        let (text, starts) = render(&rows, &order, &upper);
        let inventory = match parse_checking_lines(text.as_bytes()) {
            Ok(inv) => inv,
            Err(errors) => return Err(TestCaseError::fail(format!("{errors}\n---\n{text}"))),
        };
        prop_assert_eq!(inventory.devices.len(), rows.len(), "{}", text);
        for ((d, r), line) in inventory.devices.iter().zip(&rows).zip(&starts) {
            prop_assert_eq!(&d.id, &r.id, "{}", text);
            prop_assert_eq!(&d.host.name, &r.ip.to_string());
            prop_assert_eq!(d.host.port, r.port);
            prop_assert_eq!(d.host.ip(), Some(std::net::IpAddr::V4(r.ip)));
            prop_assert_eq!(d.mac, r.mac);
            let notes = Some(r.notes.trim()).filter(|n| !n.is_empty()).map(str::to_string);
            prop_assert_eq!(&d.notes, &notes);
            prop_assert_eq!(d.line, *line, "{}", text);
            prop_assert!(d.extra.is_empty());
        }
    }

    #[test]
    fn every_ipv4_address_is_accepted_or_refused_with_the_reason_of_its_class(ip in any_ipv4()) {
        let problem = inventory::unicast_problem(IpAddr::V4(ip));
        prop_assert_eq!(problem, class_of(ip), "{}", ip);
        // The IPv4-mapped IPv6 form is the same address, with the same answer.
        prop_assert_eq!(inventory::unicast_problem(IpAddr::V6(ip.to_ipv6_mapped())), problem);
        // And `check` says the same of it in a row, with the reason, or nothing at all.
        let expected: Vec<String> = problem
            .map(|reason| format!("bad host \"{ip}\": {reason}"))
            .into_iter()
            .collect();
        prop_assert_eq!(one_row_problems(&ip.to_string(), ""), expected.clone());
        let mapped: Vec<String> = problem
            .map(|reason| format!("bad host \"::ffff:{ip}\": {reason}"))
            .into_iter()
            .collect();
        prop_assert_eq!(one_row_problems(&format!("::ffff:{ip}"), ""), mapped);
    }

    #[test]
    fn every_mac_is_an_identity_unless_all_zeros_or_a_group_address(
        octets in prop_oneof![Just([0u8; 6]), Just([0xFF; 6]), any::<[u8; 6]>()],
    ) {
        let mac = MacAddr(octets);
        let expected = if octets == [0; 6] {
            Some(identity_reasons::ALL_ZEROS)
        } else if octets == [0xFF; 6] {
            Some(identity_reasons::BROADCAST)
        } else if octets[0] % 2 == 1 {
            Some(identity_reasons::GROUP)
        } else {
            None
        };
        prop_assert_eq!(mac.identity_problem(), expected, "{}", mac);
        prop_assert_eq!(mac.is_device_identity(), expected.is_none());
        let problems: Vec<String> = expected
            .map(|reason| format!("MAC \"{mac}\" identifies no device: {reason}"))
            .into_iter()
            .collect();
        prop_assert_eq!(one_row_problems("10.0.0.1", &mac.to_string()), problems);
    }
}
