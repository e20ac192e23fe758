//! [`ProtocolKind`] and [`Link`]: which protocol a device speaks, and everything needed to
//! reach it.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::protocol::discovery::Found;
use crate::protocol::iot::transport::Timeouts;

/// Which protocol, over which transport, a device speaks (the rows of the protocol matrix that
/// fleetreset supports; KLAP over HTTPS is not among them).
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
    /// SMART JSON over TPAP (SPAKE2+ login, AES-128-CCM; HTTP 80): Tapo plugs, strips and
    /// switches on 1.4.x firmware and later, and the Kasa models that moved with them.
    SmartTpap,
    /// SmartCam JSON over SslAes (HTTPS 443): Tapo cameras and doorbells.
    #[serde(rename = "sslaes")]
    SslAes,
    /// SmartCam JSON over TPAP with TLS (`tls` 1, HTTPS 443): Tapo cameras and doorbells on
    /// TPAP firmware (the C220 announces it).
    CameraTpap,
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
        ProtocolKind::SmartTpap,
        ProtocolKind::SslAes,
        ProtocolKind::CameraTpap,
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
            ProtocolKind::SmartTpap => "smart-tpap",
            ProtocolKind::SslAes => "sslaes",
            ProtocolKind::CameraTpap => "camera-tpap",
            ProtocolKind::Linkie2 => "linkie2",
        }
    }

    /// The port the device listens on unless the inventory says otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            ProtocolKind::Iot => crate::protocol::iot::DEFAULT_PORT,
            ProtocolKind::SslAes | ProtocolKind::CameraTpap => {
                crate::protocol::sslaes::DEFAULT_PORT
            }
            ProtocolKind::Linkie2 => crate::protocol::linkie2::DEFAULT_PORT,
            ProtocolKind::IotKlapV1
            | ProtocolKind::IotKlapV2
            | ProtocolKind::SmartKlap
            | ProtocolKind::SmartAes
            | ProtocolKind::SmartTpap => crate::protocol::klap::session::DEFAULT_PORT,
        }
    }

    /// Whether the protocol needs account credentials (it may still work with the blank or
    /// default ones on an unbound device).
    pub fn uses_credentials(self) -> bool {
        self != ProtocolKind::Iot
    }

    /// Whether the device counts failed logins towards a lockout: AES firmware, TPAP
    /// (`-2101` after about 15), and Tapo cameras (`-40404` with the seconds left). A login to
    /// one is recorded durably before it is tried, so `resume` never tries a second one
    /// blindly.
    pub fn counts_failed_logins(self) -> bool {
        matches!(
            self,
            ProtocolKind::SmartAes
                | ProtocolKind::SmartTpap
                | ProtocolKind::SslAes
                | ProtocolKind::CameraTpap
        )
    }

    /// Whether the login is TPAP's (SPAKE2+), whose refusals carry the lockout counters.
    pub fn is_tpap(self) -> bool {
        matches!(self, ProtocolKind::SmartTpap | ProtocolKind::CameraTpap)
    }
}

impl ProtocolKind {
    /// What a discovery answer says a device speaks, and on which port (`None`: the
    /// protocol's default); `None` for what fleetreset does not speak (unknown
    /// encryption), rather than a guess. Kasa cameras answer the legacy probe as
    /// `IOT.IPCAMERA` but speak LINKIE2; Tapo cameras, doorbells and the H200 answer 20002 as
    /// `SMART.IPCAMERA`, `SMART.TAPODOORBELL`, `SMART.TAPOHUB` with HTTPS, and speak SslAes
    /// whatever `encrypt_type` (AES or absent) they add.
    pub fn of_found(found: &Found) -> Option<(ProtocolKind, Option<u16>)> {
        let info = match found {
            Found::Iot { info, .. } if info.kind == "IOT.IPCAMERA" => {
                return Some((ProtocolKind::Linkie2, None));
            }
            Found::Iot { .. } => return Some((ProtocolKind::Iot, None)),
            Found::New { info, .. } => info,
        };
        let camera = matches!(
            info.device_type.as_str(),
            "SMART.IPCAMERA" | "SMART.TAPODOORBELL"
        ) || (info.device_type == "SMART.TAPOHUB" && info.https);
        let iot = info.device_type.starts_with("IOT.");
        let kind = match (info.encrypt_type.as_deref(), camera, iot) {
            // TPAP firmware on a plug, strip or switch; on a camera, over TLS.
            (Some("TPAP"), false, _) => ProtocolKind::SmartTpap,
            (Some("TPAP"), true, _) => ProtocolKind::CameraTpap,
            (Some("AES") | None, true, _) => ProtocolKind::SslAes,
            (_, true, _) => return None,
            (Some("AES"), false, false) => ProtocolKind::SmartAes,
            (Some("KLAP"), false, true) if info.login_version.unwrap_or(1) >= 2 => {
                ProtocolKind::IotKlapV2
            }
            (Some("KLAP"), false, true) => ProtocolKind::IotKlapV1,
            (Some("KLAP"), false, false) => ProtocolKind::SmartKlap,
            _ => return None,
        };
        Some((kind, info.http_port))
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
                    "unknown protocol {s:?}: expected auto, iot, klap, aes, tpap, or one of {}",
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
    use crate::protocol::discovery::{HEADER_LEN, parse_iot_reply, parse_new_reply};
    use crate::protocol::iot::codec;
    use serde_json::Value;

    fn new(device_type: &str, schm: &str) -> Found {
        let mut d = vec![0u8; HEADER_LEN];
        d.extend_from_slice(format!(
            r#"{{"error_code":0,"result":{{"device_type":"{device_type}","device_model":"M","device_id":"ab","ip":"127.0.0.9","mac":"48-22-54-00-00-09","mgt_encrypt_schm":{schm}}}}}"#
        ).as_bytes());
        Found::New {
            ip: "127.0.0.9".parse().unwrap(),
            info: parse_new_reply(&d).unwrap(),
        }
    }

    #[test]
    fn discovery_answers_map_to_the_protocol_each_family_speaks() {
        let camera = |t| ProtocolKind::of_found(&new(t, r#"{"is_support_https":true}"#));
        assert_eq!(camera("SMART.IPCAMERA"), Some((ProtocolKind::SslAes, None)));
        assert_eq!(
            camera("SMART.TAPODOORBELL"),
            Some((ProtocolKind::SslAes, None))
        );
        assert_eq!(camera("SMART.TAPOHUB"), Some((ProtocolKind::SslAes, None)));
        assert_eq!(
            ProtocolKind::of_found(&new(
                "SMART.IPCAMERA",
                r#"{"is_support_https":true,"encrypt_type":"AES","http_port":8443}"#
            )),
            Some((ProtocolKind::SslAes, Some(8443)))
        );
        // Newer camera firmware announcing TPAP: TPAP over TLS.
        assert_eq!(
            ProtocolKind::of_found(&new(
                "SMART.IPCAMERA",
                r#"{"is_support_https":true,"encrypt_type":"TPAP"}"#
            )),
            Some((ProtocolKind::CameraTpap, None))
        );
        // An encryption nobody knows: no guess.
        assert_eq!(
            ProtocolKind::of_found(&new(
                "SMART.IPCAMERA",
                r#"{"is_support_https":true,"encrypt_type":"QUANTUM"}"#
            )),
            None
        );
        let plug = |schm| ProtocolKind::of_found(&new("SMART.TAPOPLUG", schm));
        assert_eq!(
            plug(r#"{"encrypt_type":"KLAP","http_port":80,"lv":2}"#),
            Some((ProtocolKind::SmartKlap, Some(80)))
        );
        assert_eq!(
            plug(r#"{"encrypt_type":"AES","http_port":80}"#),
            Some((ProtocolKind::SmartAes, Some(80)))
        );
        assert_eq!(plug(r#"{"is_support_https":false}"#), None);
        assert_eq!(
            ProtocolKind::of_found(&new("IOT.SMARTPLUGSWITCH", r#"{"encrypt_type":"KLAP"}"#)),
            Some((ProtocolKind::IotKlapV1, None))
        );
        // A hub without HTTPS is the SMART (KLAP) H100 kind, not a camera hub.
        assert_eq!(
            ProtocolKind::of_found(&new("SMART.TAPOHUB", r#"{"encrypt_type":"KLAP","lv":2}"#)),
            Some((ProtocolKind::SmartKlap, None))
        );
    }

    #[test]
    fn a_kasa_camera_answering_the_legacy_probe_speaks_linkie2_not_xor() {
        let iot = |json: &str| {
            let (info, raw) = parse_iot_reply(&codec::encrypt(json.as_bytes())).unwrap();
            ProtocolKind::of_found(&Found::Iot {
                ip: "127.0.0.9".parse().unwrap(),
                info,
                raw,
            })
        };
        assert_eq!(
            iot(
                r#"{"system":{"get_sysinfo":{"err_code":0,"system":{"model":"EC60(US)","type":"IOT.IPCAMERA","mac":"74:FE:CE:00:00:01","deviceId":"80"}}}}"#
            ),
            Some((ProtocolKind::Linkie2, None))
        );
        assert_eq!(
            iot(
                r#"{"system":{"get_sysinfo":{"model":"HS110(EU)","type":"IOT.SMARTPLUGSWITCH","mac":"50:C7:BF:00:00:01","deviceId":"81"}}}"#
            ),
            Some((ProtocolKind::Iot, None))
        );
    }

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
