use super::*;

fn host(name: &str, port: Option<u16>) -> Host {
    Host {
        name: name.to_string(),
        port,
    }
}

#[test]
fn ipv4_literals_parse_with_and_without_a_port() {
    assert_eq!("10.0.0.1".parse(), Ok(host("10.0.0.1", None)));
    assert_eq!("10.0.0.1:9999".parse(), Ok(host("10.0.0.1", Some(9999))));
    assert_eq!("10.0.0.1:65535".parse(), Ok(host("10.0.0.1", Some(65535))));
    assert_eq!("10.0.0.1:1".parse(), Ok(host("10.0.0.1", Some(1))));
}

#[test]
fn ipv6_literals_take_a_port_only_in_brackets() {
    assert_eq!("::1".parse(), Ok(host("::1", None)));
    assert_eq!(
        "fe80::1ff:fe23:4567:890a".parse(),
        Ok(host("fe80::1ff:fe23:4567:890a", None))
    );
    assert_eq!("[::1]:9999".parse(), Ok(host("::1", Some(9999))));
    assert_eq!("[::1]".parse(), Ok(host("::1", None)));
    // Without brackets the last group is part of the address, not a port.
    assert_eq!("::1:9999".parse(), Ok(host("::1:9999", None)));
}

#[test]
fn host_names_follow_rfc_1123() {
    assert_eq!("plug-1.lan".parse(), Ok(host("plug-1.lan", None)));
    assert_eq!("Plug-1.LAN:80".parse(), Ok(host("Plug-1.LAN", Some(80))));
    assert_eq!("3com".parse(), Ok(host("3com", None)));
    let longest_label = "a".repeat(63);
    assert_eq!(longest_label.parse(), Ok(host(&longest_label, None)));
}

#[test]
fn ports_outside_1_to_65535_or_not_numbers_are_bad_ports() {
    for (input, port) in [
        ("10.0.0.1:0", "0"),
        ("10.0.0.1:65536", "65536"),
        ("10.0.0.1:99999999999", "99999999999"),
        ("10.0.0.1:", ""),
        ("10.0.0.1:+80", "+80"),
        ("plug.lan:http", "http"),
        ("[::1]:0", "0"),
        ("[::1]:", ""),
    ] {
        let expected = HostError::BadPort {
            port: port.to_string(),
        };
        assert_eq!(input.parse::<Host>(), Err(expected), "{input:?}");
    }
    assert_eq!(
        "10.0.0.1:0".parse::<Host>().unwrap_err().to_string(),
        r#"bad port "0": must be 1-65535"#
    );
}

#[test]
fn malformed_names_are_bad_hosts() {
    for (input, reason) in [
        ("10.0.0.256", "not a valid IPv4 address"),
        ("10.0.0", "not a valid IPv4 address"),
        (
            "plug_1",
            "a host name has only letters, digits, hyphens and dots",
        ),
        (
            "plug 1",
            "a host name has only letters, digits, hyphens and dots",
        ),
        (
            "plüg",
            "a host name has only letters, digits, hyphens and dots",
        ),
        (
            "a..lan",
            "empty label in host name (leading, trailing or doubled dot)",
        ),
        (
            "plug.lan.",
            "empty label in host name (leading, trailing or doubled dot)",
        ),
        (
            "-plug",
            "a label of a host name cannot start or end with a hyphen",
        ),
        (
            "plug-.lan",
            "a label of a host name cannot start or end with a hyphen",
        ),
        (":9999", "no name or address before the port"),
        (
            "[10.0.0.1]:9999",
            "brackets hold an IPv6 address, as in [::1]:9999",
        ),
        ("[::1", "no closing ] after the IPv6 address"),
        ("[::1]9999", "expected :PORT after ]"),
        (
            "fe80::zz",
            "not a valid IPv6 address (with a port, write [::1]:9999)",
        ),
    ] {
        assert_eq!(input.parse::<Host>(), Err(bad(reason)), "{input:?}");
    }
    let long_label = "a".repeat(64);
    assert_eq!(
        long_label.parse::<Host>(),
        Err(bad("a label of a host name is at most 63 characters"))
    );
    let long_name = ["a".repeat(63).as_str(); 5].join(".");
    assert_eq!(
        long_name.parse::<Host>(),
        Err(bad("a host name is at most 253 characters"))
    );
    assert_eq!("".parse::<Host>(), Err(HostError::Empty));
}

#[test]
fn loopback_is_127_slash_8_and_ipv6_one() {
    assert!(host("127.0.0.1", None).is_loopback());
    assert!(host("127.255.3.4", Some(9999)).is_loopback());
    assert!(host("::1", None).is_loopback());
    assert!(!host("10.0.0.1", None).is_loopback());
    assert!(!host("128.0.0.1", None).is_loopback());
    assert!(!host("::2", None).is_loopback());
    assert!(!host("localhost", None).is_loopback());
}

#[test]
fn the_edges_of_each_refused_class_are_where_they_should_be() {
    let problem = |text: &str| unicast_problem(text.parse().unwrap());
    for (ip, expected) in [
        ("0.255.255.254", Some(reasons::THIS_NETWORK)),
        ("1.0.0.1", None),
        ("223.255.255.254", None),
        ("224.0.0.1", Some(reasons::MULTICAST)),
        ("239.255.255.254", Some(reasons::MULTICAST)),
        ("240.0.0.1", Some(reasons::RESERVED)),
        ("255.255.255.254", Some(reasons::RESERVED)),
        ("255.255.255.255", Some(reasons::LIMITED_BROADCAST)),
        ("127.0.0.0", Some(reasons::NETWORK_OCTET)),
        ("127.0.0.1", None),
        ("127.31.7.254", None),
        ("10.0.1.255", Some(reasons::BROADCAST_OCTET)),
        ("10.0.1.1", None),
        ("::1", None),
        ("fe80::1", None),
        ("feff::1", None),
        ("ff00::", Some(reasons::MULTICAST)),
        ("::ffff:127.0.0.1", None),
        ("::ffff:0.1.2.3", Some(reasons::THIS_NETWORK)),
        ("::ffff:240.0.0.1", Some(reasons::RESERVED)),
    ] {
        assert_eq!(problem(ip), expected, "{ip}");
    }
}

#[test]
fn a_host_name_has_no_unicast_problem_until_it_resolves() {
    assert_eq!(host("plug.lan", Some(9999)).unicast_problem(), None);
    assert_eq!(
        host("0.0.0.0", Some(9999)).unicast_problem(),
        Some(reasons::UNSPECIFIED)
    );
    assert_eq!(
        host("::ffff:255.255.255.255", None).unicast_problem(),
        Some(reasons::LIMITED_BROADCAST)
    );
}

#[test]
fn ip_is_some_only_for_literals() {
    assert_eq!(
        host("10.0.0.1", None).ip(),
        Some(IpAddr::from([10, 0, 0, 1]))
    );
    assert_eq!(
        host("::1", None).ip(),
        Some(IpAddr::from(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(host("plug.lan", None).ip(), None);
}

#[test]
fn display_writes_what_parses_back() {
    for text in [
        "10.0.0.1",
        "10.0.0.1:9999",
        "::1",
        "[::1]:9999",
        "plug.lan:80",
    ] {
        assert_eq!(text.parse::<Host>().unwrap().to_string(), text);
    }
}

#[test]
fn canonical_names_ignore_case_and_ipv6_spelling() {
    assert_eq!(host("Plug.LAN", None).canonical_name(), "plug.lan");
    assert_eq!(host("0:0:0:0:0:0:0:1", None).canonical_name(), "::1");
    assert_eq!(host("10.0.0.1", None).canonical_name(), "10.0.0.1");
    assert_eq!(host("::ffff:10.0.0.1", None).canonical_name(), "10.0.0.1");
}

#[test]
fn numbers_the_c_resolver_reads_as_an_ipv4_address_are_refused_as_names() {
    for spelled in [
        "0x7f2c0201",
        "0X7F.1",
        "0x7f.0x2c.0x02.0x01",
        "2130706433",
        "127.1",
    ] {
        let err = spelled.parse::<Host>().unwrap_err();
        assert!(
            err.to_string().contains("a.b.c.d") || err.to_string().contains("IPv4"),
            "{spelled}: {err}"
        );
    }
    for name in ["plug-0x7f.lan", "0xdead-beef", "1password.example", "x0x7f"] {
        assert!(name.parse::<Host>().is_ok(), "{name}");
    }
}

#[test]
fn two_hosts_share_a_key_exactly_when_they_share_a_canonical_name_and_port() {
    let texts = [
        "10.0.0.1",
        "10.0.0.1:9999",
        "10.0.0.1:80",
        "10.0.0.2",
        "::ffff:10.0.0.1",
        "[::ffff:10.0.0.1]:9999",
        "::1",
        "0:0:0:0:0:0:0:1",
        "[::1]:80",
        "plug.lan",
        "PLUG.Lan:9999",
        "plug.lan:80",
        "plug.lan2",
        "a",
        "b",
    ];
    let hosts: Vec<Host> = texts.iter().map(|t| t.parse().unwrap()).collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for x in &hosts {
        for y in &hosts {
            x.key_into(9999, &mut a);
            y.key_into(9999, &mut b);
            let same =
                (x.canonical_name(), x.port_or(9999)) == (y.canonical_name(), y.port_or(9999));
            assert_eq!(a == b, same, "{x} and {y}");
        }
    }
}
