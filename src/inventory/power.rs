//! `power_via` column: [`PowerVia`] parsing and display. Whether the id names a row is checked
//! in `links`, once every row is known.

use std::fmt;
use std::str::FromStr;

use super::PowerVia;

/// Highest outlet number `power_via` accepts. The largest Kasa strip (HS300) has 6 outlets;
/// 16 leaves room for other strips while still catching a typo like `strip#22`.
pub const MAX_OUTLET: u16 = 16;

/// Why a `power_via` value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowerViaError {
    #[error("no device id before the #")]
    EmptyId,
    #[error("the outlet after # must be a number from 1 to {}", MAX_OUTLET)]
    BadOutlet,
}

/// Parses `ID` or `ID#OUTLET`. An id containing `#` can't be named: the last `#` starts the
/// outlet.
impl FromStr for PowerVia {
    type Err = PowerViaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((id, outlet)) = s.rsplit_once('#') else {
            return Ok(PowerVia {
                id: s.to_string(),
                outlet: None,
            });
        };
        let id = id.trim_end();
        if id.is_empty() {
            return Err(PowerViaError::EmptyId);
        }
        let outlet = outlet.trim_start();
        if outlet.is_empty() || !outlet.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PowerViaError::BadOutlet);
        }
        match outlet.parse::<u16>() {
            Ok(n @ 1..=MAX_OUTLET) => Ok(PowerVia {
                id: id.to_string(),
                outlet: Some(n),
            }),
            _ => Err(PowerViaError::BadOutlet),
        }
    }
}

impl fmt::Display for PowerVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outlet {
            Some(outlet) => write!(f, "{}#{outlet}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(id: &str, outlet: Option<u16>) -> PowerVia {
        PowerVia {
            id: id.to_string(),
            outlet,
        }
    }

    #[test]
    fn a_bare_id_has_no_outlet() {
        assert_eq!("plug-2".parse(), Ok(via("plug-2", None)));
    }

    #[test]
    fn an_outlet_follows_the_last_hash() {
        assert_eq!("strip-3#2".parse(), Ok(via("strip-3", Some(2))));
        assert_eq!("strip-3#1".parse(), Ok(via("strip-3", Some(1))));
        assert_eq!("strip-3#16".parse(), Ok(via("strip-3", Some(16))));
        assert_eq!("strip-3 # 4".parse(), Ok(via("strip-3", Some(4))));
        assert_eq!("a#b#3".parse(), Ok(via("a#b", Some(3))));
    }

    #[test]
    fn outlets_outside_1_to_16_are_rejected() {
        for bad in [
            "strip#0",
            "strip#17",
            "strip#",
            "strip#x",
            "strip#+2",
            "strip#99999999",
        ] {
            assert_eq!(
                bad.parse::<PowerVia>(),
                Err(PowerViaError::BadOutlet),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_hash_without_an_id_is_rejected() {
        assert_eq!("#2".parse::<PowerVia>(), Err(PowerViaError::EmptyId));
        assert_eq!(" #2".parse::<PowerVia>(), Err(PowerViaError::EmptyId));
    }

    #[test]
    fn display_writes_what_parses_back() {
        for text in ["plug-2", "strip-3#2"] {
            assert_eq!(text.parse::<PowerVia>().unwrap().to_string(), text);
        }
    }
}
