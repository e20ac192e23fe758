//! What a simulated SMART device says about itself: `get_device_info` for the device and for
//! each outlet of a strip, and `get_connect_cloud_state`; and the changes `set_device_info` may make.

use std::time::Instant;

use base64::Engine;
use serde_json::{Value, json};

use super::{B64, SSID, SmartState, TPAP_FIRMWARE, code};
use crate::device::SIM_TIME_SCALE_FIELD;

impl SmartState {
    /// `get_connect_cloud_state`: python-kasa reads status 0 as connected; a device with no
    /// account reports 1, as the captures of factory-fresh devices do.
    pub(super) fn cloud_state(&self) -> Value {
        json!({"status": if self.bound { 0 } else { 1 }})
    }

    /// `get_device_info` as the device reports it now.
    pub fn device_info(&self, now: Instant) -> Value {
        let mut info = self.profile.device_info().clone();
        let obj = info
            .as_object_mut()
            .expect("profile device info is an object");
        obj.insert("device_id".into(), json!(self.identity.device_id));
        obj.insert("hw_id".into(), json!(self.identity.hw_id));
        obj.insert("mac".into(), json!(self.mac_dashed()));
        obj.insert("ip".into(), json!(self.ip.to_string()));
        obj.insert("nickname".into(), json!(B64.encode(&self.identity.alias)));
        obj.insert("ssid".into(), json!(B64.encode(SSID)));
        obj.insert(SIM_TIME_SCALE_FIELD.into(), json!(self.scale));
        if self.tpap_firmware {
            obj.insert("fw_ver".into(), json!(TPAP_FIRMWARE));
            // Every capture from 1.3.1 on has it; the older P110 capture this profile comes
            // from doesn't.
            obj.entry("charging_status").or_insert(json!("normal"));
        }
        if !self.is_strip() {
            obj.insert("device_on".into(), json!(self.relay.on));
            obj.insert("on_time".into(), json!(self.relay.on_time(now, self.scale)));
        }
        info
    }

    /// One outlet's `get_device_info`, also its entry in `get_child_device_list`.
    pub(super) fn outlet_info(&self, index: usize, now: Instant) -> Value {
        let outlet = &self.outlets[index];
        let mut info = self
            .profile
            .child
            .as_ref()
            .map(|c| c["get_device_info"].clone())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let obj = info.as_object_mut().expect("checked above");
        obj.insert("device_id".into(), json!(outlet.device_id));
        obj.insert("original_device_id".into(), json!(self.identity.device_id));
        obj.insert("nickname".into(), json!(B64.encode(&outlet.nickname)));
        obj.insert("position".into(), json!(index + 1));
        obj.insert("slot_number".into(), json!(self.outlets.len()));
        // Outlets report the strip's MAC as bare hex.
        obj.insert("mac".into(), json!(self.mac().to_string().replace(':', "")));
        obj.insert("device_on".into(), json!(outlet.relay.on));
        obj.insert(
            "on_time".into(),
            json!(outlet.relay.on_time(now, self.scale)),
        );
        if let Some(region) = self.profile.device_info().get("region") {
            obj.insert("region".into(), region.clone());
        }
        info
    }
}

/// The changes a `set_device_info` asks for, checked before any is made.
pub(super) struct InfoChange {
    pub(super) on: Option<bool>,
    pub(super) nickname: Option<String>,
}

impl InfoChange {
    pub(super) fn parse(params: &Value) -> Result<InfoChange, i64> {
        let on = match params.get("device_on") {
            None => None,
            Some(v) => Some(v.as_bool().ok_or(code::PARAMS_ERROR)?),
        };
        let nickname = match params.get("nickname") {
            None => None,
            Some(v) => {
                let bytes = v
                    .as_str()
                    .and_then(|s| B64.decode(s).ok())
                    .ok_or(code::PARAMS_ERROR)?;
                let name = String::from_utf8(bytes).map_err(|_| code::PARAMS_ERROR)?;
                Some(name.chars().take(64).collect())
            }
        };
        // Other settings (LED, default states, …) are accepted and not simulated.
        Ok(InfoChange { on, nickname })
    }
}
