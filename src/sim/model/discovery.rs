//! What a simulated HTTP device answers to UDP 20002/20004 discovery: its identity, its
//! encryption scheme and, on TPAP firmware, the `tpap` object.

use std::time::Instant;

use serde_json::{Value, json};

use super::{Announced, Model, SimState, Transport, md5_hex};
use crate::device::SIM_TIME_SCALE_FIELD;

impl SimState {
    /// The device's answer to a UDP 20002/20004 probe (the `result` object), or `None` for an
    /// XOR device, which doesn't answer there.
    pub fn discovery_result(&self, now: Instant) -> Option<Value> {
        let (encrypt, lv) = match self.transport {
            Transport::Xor => return None,
            Transport::SslAes | Transport::Linkie2 => {
                return match &self.model {
                    Model::Camera(c) => c.discovery_result(self.addr.ip(), self.addr.port()),
                    _ => None,
                };
            }
            // IOT devices behind KLAP advertise no `lv`, which makes clients use KLAP v1.
            Transport::KlapV1 => ("KLAP", None),
            Transport::KlapV2 => ("KLAP", Some(2)),
            Transport::Aes => ("AES", Some(2)),
            Transport::Tpap => ("TPAP", Some(2)),
        };
        let announce = self.faults().announce;
        let (encrypt, tpap) = match announce {
            Some(Announced::Klap) => ("KLAP", false),
            Some(Announced::Tpap) => ("TPAP", false),
            None => (encrypt, self.transport == Transport::Tpap),
        };
        let mut scheme = json!({"is_support_https": false, "encrypt_type": encrypt,
                                "http_port": self.addr.port()});
        if let Some(lv) = lv {
            scheme["lv"] = json!(lv);
        }
        let (device_type, model, device_id, mac, extra) = match &self.model {
            Model::Iot(d) => {
                let sys = d.sysinfo(now);
                let device_type = sys["type"]
                    .as_str()
                    .or(sys["mic_type"].as_str())
                    .unwrap_or("IOT.SMARTPLUGSWITCH")
                    .to_string();
                let mac = sys["mac"]
                    .as_str()
                    .or(sys["mic_mac"].as_str())
                    .unwrap_or_default()
                    .replace(':', "-");
                let extra = json!({"hw_ver": sys["hw_ver"]});
                (
                    device_type,
                    d.identity().model.clone(),
                    d.identity().device_id.clone(),
                    mac,
                    extra,
                )
            }
            Model::Smart(d) => {
                let p = d.profile();
                let device_type = p.discovery["device_type"]
                    .as_str()
                    .unwrap_or("SMART.TAPOPLUG")
                    .to_string();
                let extra = json!({"obd_src": p.discovery.get("obd_src").unwrap_or(&json!("tplink")),
                                   "is_support_iot_cloud": true});
                (
                    device_type,
                    d.identity().model.clone(),
                    d.device_id().to_string(),
                    d.mac_dashed(),
                    extra,
                )
            }
            // Answered above, by transport.
            Model::Camera(_) => return None,
        };
        let bound = self.is_bound();
        let mut result = json!({
            "device_type": device_type,
            "device_model": model,
            // Discovery names the device by a 32-digit hash of its id, as the captures show.
            "device_id": md5_hex(&device_id),
            "ip": self.addr.ip().to_string(),
            "mac": mac,
            "mgt_encrypt_schm": scheme,
            "factory_default": !bound,
            "owner": if bound { self.account.owner_hash() } else { String::new() },
            SIM_TIME_SCALE_FIELD: self.scale,
        });
        if let (Some(r), Some(extra)) = (result.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        if tpap {
            result["tpap"] = self.tpap_announce();
            result["protocol_version"] = json!(1);
        }
        Some(result)
    }
}
