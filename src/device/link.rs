//! [`ProtocolKind`] and [`Link`]: which protocol a device speaks, and everything needed to
//! reach it.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::protocol::iot::transport::Timeouts;

/// Which protocol, over which transport, a device speaks (the rows of the protocol matrix that
/// fleetreset supports; KLAP over HTTPS and TPAP are not among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolKind {
    /// Legacy IOT JSON, XOR cipher, TCP 9999.
    Iot,
    /// IOT JSON over KLAP v1 (HTTP 80): Kasa plugs with newer hardware, e.g. HS100 hw 4.1.
    IotKlapV1,
    /// IOT JSON over KLAP v2, for the IOT devices whose discovery says login version 2.
    IotKlapV2,
    /// SMART JSON over KLAP v2 (HTTP 80): Tapo and current Kasa firmware.
    SmartKlap,
    /// SMART JSON inside the AES `securePassthrough` (HTTP 80): older Tapo firmware.
    SmartAes,
    /// SmartCam JSON over SslAes (HTTPS 443): Tapo cameras and doorbells.
    #[serde(rename = "sslaes")]
    SslAes,
    /// IOT JSON over LINKIE2 (HTTPS 10443): Kasa cameras and the KD110 doorbell.
    Linkie2,
}

impl ProtocolKind {
    pub const ALL: &'static [ProtocolKind] = &[
        ProtocolKind::Iot,
        ProtocolKind::IotKlapV1,
        ProtocolKind::IotKlapV2,
        ProtocolKind::SmartKlap,
        ProtocolKind::SmartAes,
        ProtocolKind::SslAes,
        ProtocolKind::Linkie2,
    ];

    /// The stable word for inventories, the audit and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::Iot => "iot",
            ProtocolKind::IotKlapV1 => "iot-klap-v1",
            ProtocolKind::IotKlapV2 => "iot-klap-v2",
            ProtocolKind::SmartKlap => "smart-klap",
            ProtocolKind::SmartAes => "smart-aes",
            ProtocolKind::SslAes => "sslaes",
            ProtocolKind::Linkie2 => "linkie2",
        }
    }

    /// The port the device listens on unless the inventory says otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            ProtocolKind::Iot => crate::protocol::iot::DEFAULT_PORT,
            ProtocolKind::SslAes => crate::protocol::sslaes::DEFAULT_PORT,
            ProtocolKind::Linkie2 => crate::protocol::linkie2::DEFAULT_PORT,
            ProtocolKind::IotKlapV1
            | ProtocolKind::IotKlapV2
            | ProtocolKind::SmartKlap
            | ProtocolKind::SmartAes => crate::protocol::klap::session::DEFAULT_PORT,
        }
    }

    /// Whether the protocol needs account credentials (it may still work with the blank or
    /// default ones on an unbound device).
    pub fn uses_credentials(self) -> bool {
        self != ProtocolKind::Iot
    }
}

impl std::fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProtocolKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ProtocolKind::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let words: Vec<_> = ProtocolKind::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown protocol {s:?}: expected auto, iot, klap, aes, or one of {}",
                    words.join(", ")
                )
            })
    }
}

/// Everything needed to talk to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub addr: SocketAddr,
    pub protocol: ProtocolKind,
    /// The account the device is bound to; `None` tries only the blank and default logins.
    pub credentials: Option<Credentials>,
    pub timeouts: Timeouts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn protocol_words_round_trip() {
        for p in ProtocolKind::ALL {
            assert_eq!(p.as_str().parse::<ProtocolKind>(), Ok(*p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                Value::String(p.as_str().into())
            );
        }
        assert!(
            "klap"
                .parse::<ProtocolKind>()
                .unwrap_err()
                .contains("smart-klap")
        );
        assert_eq!(ProtocolKind::Iot.default_port(), 9999);
        assert_eq!(ProtocolKind::SmartAes.default_port(), 80);
        assert_eq!(ProtocolKind::SslAes.default_port(), 443);
        assert_eq!(ProtocolKind::Linkie2.default_port(), 10443);
        assert_eq!("sslaes".parse::<ProtocolKind>(), Ok(ProtocolKind::SslAes));
    }
}
