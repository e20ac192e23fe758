//! [`DeviceInfo`] and [`ChildInfo`]: what a device says about itself, whatever its protocol.

use serde::Serialize;
use serde_json::Value;

use super::DeviceError;
use crate::inventory::MacAddr;
use crate::protocol::iot::messages::{CloudInfo, SysInfo};

/// The field `fleetreset simulate` adds to IOT sysinfo, SMART device info and discovery
/// replies: the simulator's `--time-scale`. Real firmware never sends it, so a device that
/// does is a simulator, and a run at another time scale would misjudge every wait.
pub const SIM_TIME_SCALE_FIELD: &str = "fleetreset_sim_time_scale";

/// What a device says about itself, whatever its protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    pub model: String,
    /// The name the owner gave it, decoded (SMART sends it as base64).
    pub alias: String,
    /// Upper case with colons whatever the device wrote (`AA-BB-…` on SMART firmware, bare hex
    /// on bulbs); as written only when it is no MAC at all ([`MacAddr::normalise`]).
    pub mac: String,
    pub device_id: String,
    /// The family word the device reports: `IOT.SMARTPLUGSWITCH`, `SMART.TAPOPLUG`, …
    pub kind: String,
    /// The relay (or light) state; `None` for devices without one.
    pub relay_on: Option<bool>,
    /// Seconds the relay has been on; restarts at boot.
    pub on_time: Option<u64>,
    /// Strip outlets (or hub children), in the device's order.
    pub children: Vec<ChildInfo>,
    /// Whether the device is bound to (IOT) or connected to (SMART) a cloud account; `None` if
    /// the device did not say.
    pub bound: Option<bool>,
    /// `get_sysinfo` (IOT) or `get_device_info` (SMART) as the device sent it.
    pub raw: Value,
    /// The cloud module's answer (`cnCloud.get_info` or `get_connect_cloud_state`).
    pub cloud_raw: Option<Value>,
}

/// One strip outlet or hub child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildInfo {
    /// The full child id, as `set_relay` takes it.
    pub id: String,
    pub alias: String,
    pub on: Option<bool>,
    pub on_time: Option<u64>,
}

impl DeviceInfo {
    /// Lets go of the device's answers as it sent them (`raw`, `cloud_raw`), keeping the
    /// fields read from them. For a reading already stored as a snapshot, that a job keeps
    /// while it waits out a reboot: thousands of them in a large run.
    pub fn shed_raw(&mut self) {
        self.raw = Value::Null;
        self.cloud_raw = None;
    }

    pub(super) fn from_iot(info: &SysInfo, raw: Value, cloud_raw: Option<Value>) -> DeviceInfo {
        let bound = cloud_raw
            .as_ref()
            .and_then(|c| CloudInfo::from_reply(c).ok())
            .map(|c| c.binded == 1);
        DeviceInfo {
            model: info.model.clone(),
            alias: info.alias.clone(),
            mac: MacAddr::normalise(&info.mac),
            device_id: info.device_id.clone(),
            kind: info.kind.clone(),
            relay_on: info
                .relay_state
                .map(|s| s == 1)
                .or(info.light_state.as_ref().map(|l| l.on_off == 1)),
            on_time: info.on_time,
            children: info
                .children
                .iter()
                .map(|c| ChildInfo {
                    id: c.id.clone(),
                    alias: c.alias.clone(),
                    on: Some(c.state == 1),
                    on_time: c.on_time,
                })
                .collect(),
            bound,
            raw,
            cloud_raw,
        }
    }
}

impl DeviceInfo {
    /// The simulator's time scale, when the device is `fleetreset simulate` (see
    /// [`SIM_TIME_SCALE_FIELD`]); `None` for real firmware.
    pub fn sim_time_scale(&self) -> Option<f64> {
        sim_time_scale(&self.raw)
    }
}

/// [`SIM_TIME_SCALE_FIELD`] of a sysinfo, device info or discovery result object.
pub fn sim_time_scale(raw: &Value) -> Option<f64> {
    raw.get(SIM_TIME_SCALE_FIELD)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x > 0.0)
}

/// The cloud binding is extra information: without it (no such module, or no answer) `bound`
/// is unknown, which verification treats as "maybe bound", never as "unbound".
pub(super) fn cloud_read(r: Result<Value, DeviceError>) -> Option<Value> {
    r.inspect_err(|e| tracing::debug!(error = %e, "no cloud state"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iot_sysinfo_maps_to_the_neutral_info() {
        let raw = serde_json::json!({
            "model": "HS300(US)", "alias": "rack", "mac": "50:C7:BF:00:00:01",
            "deviceId": "8006AB", "type": "IOT.SMARTPLUGSWITCH",
            "children": [{"id": "8006AB00", "alias": "one", "state": 1, "on_time": 5},
                         {"id": "8006AB01", "alias": "two", "state": 0, "on_time": 0}]
        });
        let info = SysInfo::from_reply(&raw).unwrap();
        let cloud = serde_json::json!({"binded": 1, "cld_connection": 1, "server": "x"});
        let d = DeviceInfo::from_iot(&info, raw.clone(), Some(cloud));
        assert_eq!(d.kind, "IOT.SMARTPLUGSWITCH");
        assert_eq!(d.bound, Some(true));
        assert_eq!(d.relay_on, None);
        assert_eq!(d.children.len(), 2);
        assert_eq!(d.children[0].on, Some(true));
        assert_eq!(d.children[1].id, "8006AB01");
        assert_eq!(d.raw, raw);
        assert_eq!(d.sim_time_scale(), None);
        assert_eq!(DeviceInfo::from_iot(&info, raw, None).bound, None);
    }

    #[test]
    fn a_bulb_s_bare_hex_mic_mac_is_shown_upper_case_with_colons() {
        let raw = serde_json::json!({"model": "KL130(US)", "mic_mac": "1c3bf3000001",
                                     "deviceId": "CD"});
        let info = SysInfo::from_reply(&raw).unwrap();
        assert_eq!(
            DeviceInfo::from_iot(&info, raw, None).mac,
            "1C:3B:F3:00:00:01"
        );
    }

    #[test]
    fn the_simulator_s_time_scale_is_read_and_nonsense_is_not() {
        let with =
            |v: serde_json::Value| sim_time_scale(&serde_json::json!({SIM_TIME_SCALE_FIELD: v}));
        assert_eq!(with(serde_json::json!(0.01)), Some(0.01));
        assert_eq!(with(serde_json::json!(1)), Some(1.0));
        assert_eq!(with(serde_json::json!("0.01")), None);
        assert_eq!(with(serde_json::json!(0)), None);
        assert_eq!(sim_time_scale(&serde_json::json!({})), None);
    }
}
