//! `host` column: [`Host`] parsing and display, and what the address is: one device's, or one
//! that can't be ([`unicast_problem`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::Host;
use super::errors::quoted;

/// Longest host name DNS allows in text form (RFC 1035 §2.3.4, less the trailing dot).
const MAX_NAME_LEN: usize = 253;
/// Longest single label DNS allows.
const MAX_LABEL_LEN: usize = 63;

/// Why an address can't be one device's: the texts [`unicast_problem`] gives, one per class.
pub mod reasons {
    pub const UNSPECIFIED: &str = "the unspecified address; a connection to it reaches this \
                                   machine, not a device";
    pub const THIS_NETWORK: &str =
        "in 0.0.0.0/8 (\"this network\"), which is never a device's address";
    pub const LIMITED_BROADCAST: &str =
        "the limited broadcast address; a probe to it reaches every device on the network";
    pub const MULTICAST: &str = "a multicast address; it names a group of listeners, not one \
                                 device";
    pub const RESERVED: &str = "in 240.0.0.0/4, reserved, which is never a device's address";
    pub const NETWORK_OCTET: &str = "the last octet is 0; in a /24 that is the network address, \
                                     and a probe to it reaches no device, so fleetreset refuses \
                                     it; a device really at such an address in a larger subnet \
                                     needs another lease";
    pub const BROADCAST_OCTET: &str = "the last octet is 255; in a /24 that is the broadcast \
                                       address, and a probe to it reaches every device, so \
                                       fleetreset refuses it; a device really at such an \
                                       address in a larger subnet needs another lease";
}

/// The first octet of IPv4 multicast, 224.0.0.0/4.
const V4_MULTICAST_FIRST: u8 = 224;
/// The first octet of the reserved 240.0.0.0/4, which runs to the limited broadcast address.
const V4_RESERVED_FIRST: u8 = 240;
/// The last octet of the network address of a /24.
const NETWORK_LAST_OCTET: u8 = 0;
/// The last octet of the broadcast address of a /24.
const BROADCAST_LAST_OCTET: u8 = 255;

/// Why a `host` value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("empty host")]
    Empty,
    #[error("bad port {}: must be 1-65535", quoted(.port))]
    BadPort { port: String },
    #[error("{reason}")]
    BadName { reason: &'static str },
}

fn bad(reason: &'static str) -> HostError {
    HostError::BadName { reason }
}

impl Host {
    /// The address as an IP, if the name is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.name.parse().ok()
    }

    /// True when the name is an IP in 127.0.0.0/8 (or ::1).
    pub fn is_loopback(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_loopback())
    }

    /// Why this host can't be one device, when its name is an IP literal that
    /// [`unicast_problem`] refuses. A host name gives `None`: what it resolves to is only
    /// known at connect time, and is checked then with [`unicast_problem`].
    pub fn unicast_problem(&self) -> Option<&'static str> {
        self.ip().and_then(unicast_problem)
    }

    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// The name as two rows naming the same machine would share: an IP in its canonical form
    /// (`0:0::1` and `::1` are one address), a host name in lower case (DNS ignores case).
    pub fn canonical_name(&self) -> String {
        match self.ip() {
            // `::ffff:10.0.0.1` is 10.0.0.1.
            Some(ip) => ip.to_canonical().to_string(),
            None => self.name.to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) if self.name.contains(':') => write!(f, "[{}]:{port}", self.name),
            Some(port) => write!(f, "{}:{port}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Why `ip` can't be the address of one device, or `None` when it can be.
///
/// A reset aimed at such an address reaches the wrong machine, no machine, or all of them: a
/// connect to `0.0.0.0` or `::` reaches this machine (it once reached, and reset, a device
/// served on 127.0.0.1), a broadcast or multicast probe reaches every listener, and
/// 0.0.0.0/8 and 240.0.0.0/4 are never assigned. An IPv4 address ending in `.0` or `.255` is
/// the network or broadcast address of a /24, the usual LAN; a device can hold one in a larger
/// subnet, but fleetreset can't tell, so it refuses them too. IPv4-mapped IPv6 addresses
/// (`::ffff:255.255.255.255`) are judged as the IPv4 address they carry. Loopback is allowed:
/// the simulator serves devices on 127.x.y.z.
///
/// Inventory rows are checked with it; it is public so that the addresses a host name resolves
/// to can be held to the same rules.
pub fn unicast_problem(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_problem(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_problem(v4),
            None if v6.is_unspecified() => Some(reasons::UNSPECIFIED),
            None if v6.is_multicast() => Some(reasons::MULTICAST),
            None => None,
        },
    }
}

fn v4_problem(ip: Ipv4Addr) -> Option<&'static str> {
    let [first, .., last] = ip.octets();
    // Most specific first: 0.0.0.0 is in 0.0.0.0/8 and 255.255.255.255 in 240.0.0.0/4, and
    // both end in an octet the /24 rule refuses.
    let reason = if ip.is_unspecified() {
        reasons::UNSPECIFIED
    } else if first == 0 {
        reasons::THIS_NETWORK
    } else if ip.is_broadcast() {
        reasons::LIMITED_BROADCAST
    } else if first >= V4_RESERVED_FIRST {
        reasons::RESERVED
    } else if first >= V4_MULTICAST_FIRST {
        reasons::MULTICAST
    } else if last == NETWORK_LAST_OCTET {
        reasons::NETWORK_OCTET
    } else if last == BROADCAST_LAST_OCTET {
        reasons::BROADCAST_OCTET
    } else {
        return None;
    };
    Some(reason)
}

/// Parses `NAME`, `NAME:PORT`, an IPv6 literal, or `[IPv6]:PORT`. NAME is an IPv4 literal or
/// an RFC 1123 host name. An unbracketed IPv6 literal has no port: `::1:9999` is an address.
impl FromStr for Host {
    type Err = HostError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(HostError::Empty);
        }
        if let Some(bracketed) = s.strip_prefix('[') {
            return parse_bracketed(bracketed);
        }
        let (name, port) = match s.split_once(':') {
            None => (s, None),
            Some((name, port)) if !port.contains(':') => (name, Some(port)),
            Some(_) => {
                return match s.parse::<Ipv6Addr>() {
                    Ok(_) => Ok(Host {
                        name: s.to_string(),
                        port: None,
                    }),
                    Err(_) => Err(bad(
                        "not a valid IPv6 address (with a port, write [::1]:9999)",
                    )),
                };
            }
        };
        if name.is_empty() {
            return Err(bad("no name or address before the port"));
        }
        check_name(name)?;
        Ok(Host {
            name: name.to_string(),
            port: port.map(parse_port).transpose()?,
        })
    }
}

/// `s` is what follows the `[`: `ADDR]` or `ADDR]:PORT`.
fn parse_bracketed(s: &str) -> Result<Host, HostError> {
    let (address, after) = s
        .split_once(']')
        .ok_or(bad("no closing ] after the IPv6 address"))?;
    if address.parse::<Ipv6Addr>().is_err() {
        return Err(bad("brackets hold an IPv6 address, as in [::1]:9999"));
    }
    let port = match after {
        "" => None,
        _ => Some(
            after
                .strip_prefix(':')
                .ok_or(bad("expected :PORT after ]"))?,
        ),
    };
    Ok(Host {
        name: address.to_string(),
        port: port.map(parse_port).transpose()?,
    })
}

fn parse_port(port: &str) -> Result<u16, HostError> {
    let bad_port = || HostError::BadPort {
        port: port.to_string(),
    };
    // Digits only: `u16::from_str` would also take a leading `+`.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_port());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad_port()),
        Ok(n) => Ok(n),
    }
}

/// An IPv4 literal or an RFC 1123 host name.
fn check_name(name: &str) -> Result<(), HostError> {
    // All digits and dots can only be meant as an IPv4 address; `10.0.0.256` is a typo, not a
    // host name.
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match name.parse::<Ipv4Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(bad("not a valid IPv4 address")),
        };
    }
    // `0x7f000001` or `0x7f.1`: the C resolver reads these as IPv4 addresses, so one device
    // could be named by spellings no duplicate check would match.
    let numeric = |label: &str| {
        let hex = label
            .strip_prefix("0x")
            .or_else(|| label.strip_prefix("0X"));
        match hex {
            Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
        }
    };
    if name.split('.').all(numeric) {
        return Err(bad(
            "an IPv4 address in hexadecimal or shortened form; write it as four decimal numbers, a.b.c.d",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(bad(
            "a host name has only letters, digits, hyphens and dots",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad("a host name is at most 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(bad(
                "empty label in host name (leading, trailing or doubled dot)",
            ));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(bad("a label of a host name is at most 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(
                "a label of a host name cannot start or end with a hyphen",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
