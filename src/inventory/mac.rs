//! `mac` column: [`MacAddr`] parsing and display.

use std::fmt;
use std::str::FromStr;

use super::MacAddr;

/// What a MAC must look like; the text after "malformed MAC ...:" in a row error.
pub(crate) const EXPECTED_FORMS: &str =
    "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or 12 hex digits";

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
        let hex = match s.as_bytes() {
            bytes if bytes.len() == 12 => bytes.to_vec(),
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
fn without_separators(bytes: &[u8]) -> Option<Vec<u8>> {
    let separator = bytes[2];
    if separator != b':' && separator != b'-' {
        return None;
    }
    let mut hex = Vec::with_capacity(12);
    for (i, &b) in bytes.iter().enumerate() {
        if i % 3 == 2 {
            if b != separator {
                return None;
            }
        } else {
            hex.push(b);
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
