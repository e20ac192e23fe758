//! `mac` column: [`MacAddr`] parsing and display, and whether the address can be a device's
//! identity.

use std::fmt;
use std::str::FromStr;

use super::MacAddr;

/// What a MAC must look like; the text after "malformed MAC ...:" in a row error.
pub(crate) const EXPECTED_FORMS: &str =
    "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or 12 hex digits";

/// Why a MAC can't be a device's identity: the texts [`MacAddr::identity_problem`] gives.
pub mod reasons {
    pub const ALL_ZEROS: &str =
        "all zeros is what firmware reports when it has no MAC, so it names no device";
    pub const BROADCAST: &str =
        "the broadcast MAC, which every device receives, so it names no one device";
    pub const GROUP: &str = "a group (multicast) MAC, the low bit of its first octet set, which \
                             names a group of receivers, never one device";
}

/// The individual/group bit: set in the first octet of a multicast (and the broadcast) MAC.
const GROUP_BIT: u8 = 0x01;

impl MacAddr {
    /// The broadcast MAC, `FF:FF:FF:FF:FF:FF`.
    pub const BROADCAST: MacAddr = MacAddr([0xFF; 6]);
    /// The all-zero MAC, `00:00:00:00:00:00`.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// True when the MAC can name one device: not all zeros, and not a group address (the low
    /// bit of the first octet clear, which also rules out the broadcast MAC). Identity checks
    /// before a reset compare MACs, so one that many devices share, or that firmware reports
    /// when it has none, would let the wrong device pass.
    pub fn is_device_identity(&self) -> bool {
        self.identity_problem().is_none()
    }

    /// Why the MAC can't be a device's identity, or `None` when it can be; see
    /// [`MacAddr::is_device_identity`].
    pub fn identity_problem(&self) -> Option<&'static str> {
        if *self == MacAddr::ZERO {
            Some(reasons::ALL_ZEROS)
        } else if *self == MacAddr::BROADCAST {
            Some(reasons::BROADCAST)
        } else if self.0[0] & GROUP_BIT != 0 {
            Some(reasons::GROUP)
        } else {
            None
        }
    }
}

impl MacAddr {
    /// A MAC as a device wrote it (`50-c7-bf-…` on SMART firmware, bare hex in a bulb's
    /// `mic_mac`, colons elsewhere) in the one form every output uses, upper case with colons.
    /// Text that is no MAC stays as written, so a message can still show what the device sent
    /// (inert, like everything a device says).
    pub fn normalise(text: &str) -> String {
        text.parse::<MacAddr>()
            .map(|mac| mac.to_string())
            .unwrap_or_else(|_| text.to_string())
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl FromStr for MacAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Bytes, not chars: slicing a str at fixed offsets would panic inside a multi-byte
        // character, and every valid form is ASCII anyway.
        let hex: [u8; 12] = match s.as_bytes() {
            bytes if bytes.len() == 12 => bytes.try_into().map_err(|_| EXPECTED_FORMS)?,
            bytes if bytes.len() == 17 => without_separators(bytes).ok_or(EXPECTED_FORMS)?,
            _ => return Err(EXPECTED_FORMS.to_string()),
        };
        let mut octets = [0u8; 6];
        for (octet, pair) in octets.iter_mut().zip(hex.chunks_exact(2)) {
            *octet = (hex_digit(pair[0]).ok_or(EXPECTED_FORMS)? << 4)
                | hex_digit(pair[1]).ok_or(EXPECTED_FORMS)?;
        }
        Ok(MacAddr(octets))
    }
}

/// The 12 hex characters of `AA:BB:..` or `AA-BB-..`, when the five separators are all `:` or
/// all `-`.
fn without_separators(bytes: &[u8]) -> Option<[u8; 12]> {
    let separator = bytes[2];
    if separator != b':' && separator != b'-' {
        return None;
    }
    let mut hex = [0; 12];
    let mut digits = hex.iter_mut();
    for (i, &b) in bytes.iter().enumerate() {
        if i % 3 == 2 {
            if b != separator {
                return None;
            }
        } else {
            *digits.next()? = b;
        }
    }
    Some(hex)
}

fn hex_digit(b: u8) -> Option<u8> {
    // Not `u8::from_str_radix`: it accepts a leading `+`.
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x50, 0xC7, 0xBF, 0x0A, 0xB1, 0xFE]);

    #[test]
    fn colon_dash_and_bare_forms_parse_to_the_same_address() {
        assert_eq!("50:C7:BF:0A:B1:FE".parse(), Ok(MAC));
        assert_eq!("50-c7-bf-0a-b1-fe".parse(), Ok(MAC));
        assert_eq!("50c7bf0AB1FE".parse(), Ok(MAC));
    }

    #[test]
    fn display_is_upper_case_with_colons() {
        assert_eq!(MAC.to_string(), "50:C7:BF:0A:B1:FE");
        assert_eq!(MacAddr([0; 6]).to_string(), "00:00:00:00:00:00");
    }

    #[test]
    fn vendor_and_locally_administered_macs_are_device_identities() {
        for mac in [MAC, MacAddr([0x02, 0, 0, 0, 0, 1]), MacAddr([0xFE; 6])] {
            assert!(mac.is_device_identity(), "{mac}");
            assert_eq!(mac.identity_problem(), None, "{mac}");
        }
    }

    #[test]
    fn zero_broadcast_and_group_macs_identify_no_device_and_say_why() {
        for (text, reason) in [
            ("00:00:00:00:00:00", reasons::ALL_ZEROS),
            ("FF:FF:FF:FF:FF:FF", reasons::BROADCAST),
            ("01:00:5E:00:00:FB", reasons::GROUP),
            ("33:33:00:00:00:01", reasons::GROUP),
            ("51:C7:BF:0A:B1:FE", reasons::GROUP),
        ] {
            let mac: MacAddr = text.parse().unwrap();
            assert!(!mac.is_device_identity(), "{text}");
            assert_eq!(mac.identity_problem(), Some(reason), "{text}");
        }
    }

    #[test]
    fn device_written_macs_normalise_to_upper_case_with_colons_and_other_text_stays() {
        for text in ["50-c7-bf-0a-b1-fe", "50c7bf0ab1fe", "50:c7:BF:0a:b1:FE"] {
            assert_eq!(MacAddr::normalise(text), "50:C7:BF:0A:B1:FE", "{text}");
        }
        assert_eq!(MacAddr::normalise("not a mac"), "not a mac");
        assert_eq!(MacAddr::normalise(""), "");
    }

    #[test]
    fn malformed_macs_are_rejected() {
        for bad in [
            "",
            "50:C7:BF:0A:B1",
            "50:C7:BF:0A:B1:FE:00",
            "50:C7-BF:0A:B1:FE",
            "50.C7.BF.0A.B1.FE",
            "50:C7:BF:0A:B1:FG",
            "+0c7bf0ab1fe",
            "50c7bf0ab1f",
            "5:0C7:BF:0A:B1:FE",
            // Multi-byte characters at the lengths of valid forms (17 and 12 bytes).
            "ééééééééx",
            "éééééé",
        ] {
            assert_eq!(
                bad.parse::<MacAddr>(),
                Err(EXPECTED_FORMS.to_string()),
                "{bad:?}"
            );
        }
    }
}
