use crate::inventory::parse::problems;

const HEADER: &str = "id,host,model,mac,site,unit,power_via,credentials,notes\n";

/// The problems of an inventory made of the full header and `rows`.
fn row_problems(rows: &str) -> Vec<(u64, String)> {
    problems(format!("{HEADER}{rows}").as_bytes())
}

fn one(line: u64, message: &str) -> Vec<(u64, String)> {
    vec![(line, message.to_string())]
}

#[test]
fn a_clean_row_has_no_problems() {
    assert_eq!(
        row_problems("plug-1,10.0.0.1,HS103,50:C7:BF:0A:B1:FE,a,1,,home,\n"),
        []
    );
}

#[test]
fn empty_ids_are_reported() {
    assert_eq!(row_problems(" ,10.0.0.1,,,,,,,\n"), one(2, "empty id"));
}

#[test]
fn duplicate_ids_name_both_lines() {
    assert_eq!(
        row_problems("plug-1,10.0.0.1,,,,,,,\nplug-2,10.0.0.2,,,,,,,\nplug-1,10.0.0.3,,,,,,,\n"),
        one(4, "duplicate id \"plug-1\" (first on line 2)")
    );
}

#[test]
fn empty_hosts_are_reported() {
    assert_eq!(row_problems("plug-1,,,,,,,,\n"), one(2, "empty host"));
}

#[test]
fn duplicate_hosts_ignore_case_and_an_implied_default_port() {
    assert_eq!(
        row_problems("a,Plug.LAN,,,,,,,\nb,plug.lan:9999,,,,,,,\nc,plug.lan:80,,,,,,,\n"),
        one(3, "duplicate host \"plug.lan:9999\" (first on line 2)")
    );
    assert_eq!(
        row_problems("a,[::1]:9999,,,,,,,\nb,0:0:0:0:0:0:0:1,,,,,,,\n"),
        one(3, "duplicate host \"0:0:0:0:0:0:0:1\" (first on line 2)")
    );
}

#[test]
fn bad_ports_quote_the_port_and_the_host() {
    assert_eq!(
        row_problems("plug-1,10.0.0.1:70000,,,,,,,\n"),
        one(
            2,
            "bad port \"70000\" in host \"10.0.0.1:70000\": must be 1-65535"
        )
    );
}

#[test]
fn bad_hosts_say_why() {
    assert_eq!(
        row_problems("plug-1,plug_1.lan,,,,,,,\n"),
        one(
            2,
            "bad host \"plug_1.lan\": a host name has only letters, digits, hyphens and dots"
        )
    );
}

#[test]
fn hosts_that_cannot_be_one_device_are_refused_with_the_reason() {
    use crate::inventory::host::reasons;
    for (host, reason) in [
        ("0.0.0.0", reasons::UNSPECIFIED),
        ("0.0.0.0:9999", reasons::UNSPECIFIED),
        ("::", reasons::UNSPECIFIED),
        ("[::]:80", reasons::UNSPECIFIED),
        ("0.1.2.3", reasons::THIS_NETWORK),
        ("255.255.255.255", reasons::LIMITED_BROADCAST),
        ("::ffff:255.255.255.255", reasons::LIMITED_BROADCAST),
        ("224.0.0.251", reasons::MULTICAST),
        ("239.255.255.250", reasons::MULTICAST),
        ("ff02::1", reasons::MULTICAST),
        ("240.0.0.1", reasons::RESERVED),
        ("10.0.0.0", reasons::NETWORK_OCTET),
        ("192.168.1.255:9999", reasons::BROADCAST_OCTET),
        ("::ffff:0.0.0.0", reasons::UNSPECIFIED),
        ("::ffff:224.0.0.1", reasons::MULTICAST),
        ("::ffff:10.0.0.255", reasons::BROADCAST_OCTET),
    ] {
        assert_eq!(
            row_problems(&format!("plug-1,\"{host}\",,,,,,,\n")),
            one(2, &format!("bad host \"{host}\": {reason}")),
            "{host}"
        );
    }
}

#[test]
fn loopback_and_ordinary_unicast_hosts_are_accepted() {
    assert_eq!(
        row_problems(
            "a,127.0.0.1,,,,,,,\nb,127.31.7.254:9999,,,,,,,\nc,10.1.0.1,,,,,,,\n\
             d,::1,,,,,,,\ne,fe80::1,,,,,,,\nf,::ffff:192.168.1.20,,,,,,,\ng,plug.lan,,,,,,,\n"
        ),
        []
    );
}

#[test]
fn a_refused_host_is_not_also_reported_as_a_duplicate() {
    assert_eq!(
        row_problems("a,0.0.0.0,,,,,,,\nb,0.0.0.0,,,,,,,\n"),
        vec![
            (
                2,
                format!(
                    "bad host \"0.0.0.0\": {}",
                    crate::inventory::host::reasons::UNSPECIFIED
                )
            ),
            (
                3,
                format!(
                    "bad host \"0.0.0.0\": {}",
                    crate::inventory::host::reasons::UNSPECIFIED
                )
            ),
        ]
    );
}

#[test]
fn macs_that_identify_no_device_are_refused_with_the_reason() {
    use crate::inventory::mac::reasons;
    for (mac, reason) in [
        ("00:00:00:00:00:00", reasons::ALL_ZEROS),
        ("ffffffffffff", reasons::BROADCAST),
        ("01-00-5e-00-00-fb", reasons::GROUP),
    ] {
        assert_eq!(
            row_problems(&format!("plug-1,10.0.0.1,,{mac},,,,,\n")),
            one(2, &format!("MAC \"{mac}\" identifies no device: {reason}")),
            "{mac}"
        );
    }
}

#[test]
fn malformed_macs_quote_the_value() {
    assert_eq!(
        row_problems("plug-1,10.0.0.1,,50:C7:BF:0A:B1,,,,,\n"),
        one(
            2,
            "malformed MAC \"50:C7:BF:0A:B1\": expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff \
             or 12 hex digits"
        )
    );
}

#[test]
fn duplicate_macs_name_both_lines_whatever_their_spelling() {
    assert_eq!(
        row_problems("a,10.0.0.1,,50:C7:BF:0A:B1:FE,,,,,\nb,10.0.0.2,,50c7bf0ab1fe,,,,,\n"),
        one(3, "duplicate MAC 50:C7:BF:0A:B1:FE (first on line 2)")
    );
}

#[test]
fn bad_power_via_outlets_are_reported() {
    assert_eq!(
        row_problems("strip,10.0.0.1,,,,,,,\nlamp,10.0.0.2,,,,,strip#0,,\n"),
        one(
            3,
            "bad power_via \"strip#0\": the outlet after # must be a number from 1 to 16"
        )
    );
}

#[test]
fn wrong_field_counts_say_expected_and_found() {
    assert_eq!(
        row_problems("plug-1,10.0.0.1\nplug-2,10.0.0.2,,,,,,,,\n"),
        vec![
            (
                2,
                "expected 9 fields, as in the header on line 1, found 2".to_string()
            ),
            (
                3,
                "expected 9 fields, as in the header on line 1, found 10".to_string()
            ),
        ]
    );
}

#[test]
fn long_values_are_quoted_short() {
    let long = "z".repeat(5000);
    let expected = format!("malformed MAC \"{}\"...: ", "z".repeat(60));
    let found = row_problems(&format!("plug-1,10.0.0.1,,{long},,,,,\n"));
    assert_eq!(found.len(), 1);
    assert!(found[0].1.starts_with(&expected), "{}", found[0].1);
    assert!(found[0].1.len() < 200);
}

#[test]
fn every_problem_of_a_row_is_reported() {
    assert_eq!(
        row_problems(",bad_host,,xx,,,#3,,\n"),
        vec![
            (2, "empty id".to_string()),
            (
                2,
                "bad host \"bad_host\": a host name has only letters, digits, hyphens and dots"
                    .to_string()
            ),
            (
                2,
                "malformed MAC \"xx\": expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or 12 \
                 hex digits"
                    .to_string()
            ),
            (
                2,
                "bad power_via \"#3\": no device id before the #".to_string()
            ),
        ]
    );
}

#[test]
fn a_method_column_takes_the_four_words_in_any_case_and_names_a_wrong_one() {
    let text = "id,host,method\n\
                a,10.0.0.1,Upstream\n\
                b,10.0.0.2, manual \n\
                c,10.0.0.3,\n\
                d,10.0.0.4,reboot\n";
    assert_eq!(
        problems(text.as_bytes()),
        one(
            5,
            "unknown method \"reboot\": expected auto, remote, upstream or manual"
        )
    );
    let inv =
        crate::inventory::parse(std::path::Path::new("f.csv"), &text.as_bytes()[..67]).unwrap();
    let methods: Vec<_> = inv.devices.iter().map(|d| d.method).collect();
    use crate::model::MethodChoice::*;
    assert_eq!(methods, [Upstream, Manual, Auto]);
}
