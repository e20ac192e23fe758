//! Fault injection, per device, from the inventory's `sim_fault` column.
//!
//! The column holds `;`-separated faults, e.g. `slow=1500;reset_refused=-3`:
//!
//! | fault | effect |
//! |---|---|
//! | `offline` | nothing listens at the address (connections refused, discovery silent) |
//! | `slow=MS` | every reply is held back MS milliseconds (real time, not scaled) |
//! | `drop_mid_reply` | half of every reply is written, then the connection is closed |
//! | `garbage` | every reply is a well-framed blob that is not JSON |
//! | `oversized` | every reply starts with a 2 GiB length prefix, then goes silent |
//! | `reboot_never_returns` | a reboot is acknowledged and the device never comes back |
//! | `reset_refused[=CODE]` | a factory reset is refused with CODE (default -3, invalid argument) |
//! | `mac=AA:BB:CC:DD:EE:FF` | the device reports this MAC instead of the inventory's |

use std::time::Duration;

use crate::inventory::MacAddr;

/// The column the simulator reads faults from.
pub const COLUMN: &str = "sim_fault";

/// Default error code of `reset_refused`: IOT's "invalid argument".
pub const DEFAULT_RESET_REFUSAL: i64 = -3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub offline: bool,
    pub slow: Option<Duration>,
    pub drop_mid_reply: bool,
    pub garbage: bool,
    pub oversized: bool,
    pub reboot_never_returns: bool,
    pub reset_refused: Option<i64>,
    pub mac: Option<MacAddr>,
}

impl Faults {
    /// Parses the column; an error names the bad fault.
    pub fn parse(spec: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            match (name, value) {
                ("offline", None) => f.offline = true,
                ("slow", Some(ms)) => {
                    let ms: u64 = ms
                        .parse()
                        .map_err(|_| format!("slow={ms:?}: expected milliseconds"))?;
                    f.slow = Some(Duration::from_millis(ms));
                }
                ("drop_mid_reply", None) => f.drop_mid_reply = true,
                ("garbage", None) => f.garbage = true,
                ("oversized", None) => f.oversized = true,
                ("reboot_never_returns", None) => f.reboot_never_returns = true,
                ("reset_refused", None) => f.reset_refused = Some(DEFAULT_RESET_REFUSAL),
                ("reset_refused", Some(code)) => {
                    let code: i64 = code
                        .parse()
                        .map_err(|_| format!("reset_refused={code:?}: expected an error code"))?;
                    f.reset_refused = Some(code);
                }
                ("mac", Some(mac)) => {
                    f.mac = Some(mac.parse().map_err(|e| format!("mac={mac:?}: {e}"))?)
                }
                _ => return Err(format!("unknown fault {item:?}")),
            }
        }
        Ok(f)
    }

    /// A short description for the simulator's listing.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.offline {
            parts.push("offline".to_string());
        }
        if let Some(d) = self.slow {
            parts.push(format!("slow={}", d.as_millis()));
        }
        for (on, name) in [
            (self.drop_mid_reply, "drop_mid_reply"),
            (self.garbage, "garbage"),
            (self.oversized, "oversized"),
            (self.reboot_never_returns, "reboot_never_returns"),
        ] {
            if on {
                parts.push(name.to_string());
            }
        }
        if let Some(code) = self.reset_refused {
            parts.push(format!("reset_refused={code}"));
        }
        if let Some(mac) = self.mac {
            parts.push(format!("mac={mac}"));
        }
        parts.join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_parses_and_describes_itself_back() {
        let spec = "offline;slow=1500;drop_mid_reply;garbage;oversized;reboot_never_returns;reset_refused=-7;mac=AA:BB:CC:DD:EE:FF";
        let f = Faults::parse(spec).unwrap();
        assert!(
            f.offline && f.drop_mid_reply && f.garbage && f.oversized && f.reboot_never_returns
        );
        assert_eq!(f.slow, Some(Duration::from_millis(1500)));
        assert_eq!(f.reset_refused, Some(-7));
        assert_eq!(f.mac.unwrap().to_string(), "AA:BB:CC:DD:EE:FF");
        assert_eq!(f.describe(), spec);
    }

    #[test]
    fn blank_column_means_no_faults() {
        assert_eq!(Faults::parse(" ; ").unwrap(), Faults::default());
    }

    #[test]
    fn reset_refused_defaults_to_invalid_argument() {
        assert_eq!(
            Faults::parse("reset_refused").unwrap().reset_refused,
            Some(-3)
        );
    }

    #[test]
    fn unknown_or_malformed_faults_are_named_in_the_error() {
        assert!(Faults::parse("explode").unwrap_err().contains("explode"));
        assert!(Faults::parse("slow=fast").unwrap_err().contains("slow"));
        assert!(Faults::parse("mac=zz").unwrap_err().contains("mac"));
        assert!(
            Faults::parse("offline=1")
                .unwrap_err()
                .contains("offline=1")
        );
    }
}
