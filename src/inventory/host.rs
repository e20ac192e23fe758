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

impl Host {
    /// The key two rows naming the same machine share, written into `key` (cleared first): the
    /// [`Host::canonical_name`] as bytes (an IP's octets, tagged by family; a name in lower
    /// case, tagged as a name), then the port, `default` when none is given. Bytes, not text:
    /// a million rows are compared without formatting a million addresses.
    pub(super) fn key_into(&self, default: u16, key: &mut Vec<u8>) {
        key.clear();
        match self.ip().map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => {
                key.push(4);
                key.extend_from_slice(&v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                key.push(6);
                key.extend_from_slice(&v6.octets());
            }
            None => {
                key.push(b'n');
                key.extend(self.name.bytes().map(|b| b.to_ascii_lowercase()));
            }
        }
        key.extend_from_slice(&self.port_or(default).to_le_bytes());
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
mod tests;
