//! Typed IOT requests and replies, in one place.
//!
//! A request is `{"<module>":{"<method>":{params}}}`, optionally with a
//! `"context":{"child_ids":[…]}` member that addresses strip outlets. A reply mirrors it, with
//! an `err_code` (and `err_msg`) either at module level (unknown module) or inside the method.

use serde::Deserialize;
use serde_json::{Value, json};

/// The namespace of the `system` module; bulbs use their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemModule {
    /// `system`: plugs, switches, strips.
    System,
    /// `smartlife.iot.common.system`: bulbs and light strips. python-kasa sends `system` to
    /// bulbs too, but other clients and the bulb firmware's own module list use this one.
    BulbSystem,
}

impl SystemModule {
    pub fn name(self) -> &'static str {
        match self {
            SystemModule::System => "system",
            SystemModule::BulbSystem => "smartlife.iot.common.system",
        }
    }
}

/// A request we send to an IOT device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `system.get_sysinfo` and nothing else: some firmware crashes on unexpected modules, so
    /// the first request to a device is always this one alone.
    GetSysinfo,
    /// Reboot after `delay` seconds. A delay of 0 makes the device reboot before it answers.
    Reboot { module: SystemModule, delay: u32 },
    /// Factory reset after `delay` seconds. python-kasa sends no delay; some firmware rejects
    /// that with -3 "invalid argument", so we always send one.
    Reset { module: SystemModule, delay: u32 },
    /// Switch the relay of a plug, or of the given strip outlets (full child ids).
    SetRelay { on: bool, child_ids: Vec<String> },
    /// `get_info` of the cloud module (`cnCloud`, or bulbs' own): the account binding.
    CloudInfo { module: SystemModule },
}

impl Request {
    /// The module and method whose reply answers this request.
    pub fn target(&self) -> (&'static str, &'static str) {
        match self {
            Request::GetSysinfo => ("system", "get_sysinfo"),
            Request::Reboot { module, .. } => (module.name(), "reboot"),
            Request::Reset { module, .. } => (module.name(), "reset"),
            Request::SetRelay { .. } => ("system", "set_relay_state"),
            Request::CloudInfo {
                module: SystemModule::System,
            } => ("cnCloud", "get_info"),
            Request::CloudInfo {
                module: SystemModule::BulbSystem,
            } => ("smartlife.iot.common.cloud", "get_info"),
        }
    }

    pub fn to_json(&self) -> Value {
        let (module, method) = self.target();
        let params = match self {
            Request::GetSysinfo | Request::CloudInfo { .. } => json!({}),
            Request::Reboot { delay, .. } | Request::Reset { delay, .. } => {
                json!({ "delay": delay })
            }
            Request::SetRelay { on, .. } => json!({ "state": u8::from(*on) }),
        };
        let mut req = json!({ module: { method: params } });
        if let Request::SetRelay { child_ids, .. } = self
            && !child_ids.is_empty()
        {
            req["context"] = json!({ "child_ids": child_ids });
        }
        req
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a Value built from json! cannot fail.
        serde_json::to_vec(&self.to_json()).expect("a json! value serialises")
    }
}

/// What is wrong with a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply is not JSON: {0}")]
    NotJson(String),
    #[error("reply has no {0}")]
    Missing(String),
    #[error("device answered error {code}: {msg}")]
    Device { code: i64, msg: String },
    #[error("reply has the wrong shape: {0}")]
    Shape(String),
}

/// Extracts the method object answering `request` from a raw reply, checking error codes at
/// module and method level.
pub fn method_reply(request: &Request, raw: &[u8]) -> Result<Value, ReplyError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| ReplyError::NotJson(e.to_string()))?;
    let (module, method) = request.target();
    let module_obj = value
        .get(module)
        .ok_or_else(|| ReplyError::Missing(format!("module {module:?}")))?;
    check_err(module_obj)?;
    let method_obj = module_obj
        .get(method)
        .ok_or_else(|| ReplyError::Missing(format!("method {module}.{method}")))?;
    if !method_obj.is_object() {
        return Err(ReplyError::Shape(format!(
            "{module}.{method} is not an object"
        )));
    }
    check_err(method_obj)?;
    Ok(method_obj.clone())
}

fn check_err(obj: &Value) -> Result<(), ReplyError> {
    match obj.get("err_code").map(Value::as_i64) {
        None | Some(Some(0)) => Ok(()),
        Some(Some(code)) => Err(ReplyError::Device {
            code,
            msg: obj
                .get("err_msg")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .chars()
                .take(200)
                .collect(),
        }),
        Some(None) => Err(ReplyError::Shape("err_code is not an integer".into())),
    }
}

/// The fields of `get_sysinfo` we rely on. Everything else stays in the raw JSON snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SysInfo {
    pub model: String,
    #[serde(default)]
    pub alias: String,
    /// `mac` on plugs and strips, `mic_mac` (bare hex) on bulbs.
    #[serde(alias = "mic_mac")]
    pub mac: String,
    #[serde(rename = "deviceId")]
    pub device_id: String,
    #[serde(default)]
    pub hw_ver: String,
    #[serde(default)]
    pub sw_ver: String,
    /// `type` on older firmware, `mic_type` on newer.
    #[serde(rename = "type", alias = "mic_type", default)]
    pub kind: String,
    #[serde(default)]
    pub dev_name: Option<String>,
    pub relay_state: Option<u8>,
    /// Seconds the relay has been on; 0 when off. Not uptime, but it restarts at boot.
    pub on_time: Option<u64>,
    pub rssi: Option<i64>,
    #[serde(default)]
    pub children: Vec<ChildInfo>,
    pub light_state: Option<LightState>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChildInfo {
    pub id: String,
    #[serde(default)]
    pub alias: String,
    pub state: u8,
    pub on_time: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LightState {
    pub on_off: u8,
}

impl SysInfo {
    pub fn from_reply(method_obj: &Value) -> Result<SysInfo, ReplyError> {
        SysInfo::deserialize(method_obj).map_err(|e| ReplyError::Shape(format!("sysinfo: {e}")))
    }

    pub fn is_bulb(&self) -> bool {
        self.kind.eq_ignore_ascii_case("IOT.SMARTBULB")
    }

    /// Which `system` namespace reboot and reset go to.
    pub fn system_module(&self) -> SystemModule {
        if self.is_bulb() {
            SystemModule::BulbSystem
        } else {
            SystemModule::System
        }
    }
}

/// `cnCloud.get_info`: whether the device is bound to a cloud account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CloudInfo {
    /// 1 when bound to an account.
    pub binded: u8,
    #[serde(default)]
    pub cld_connection: u8,
    #[serde(default)]
    pub server: String,
}

impl CloudInfo {
    pub fn from_reply(method_obj: &Value) -> Result<CloudInfo, ReplyError> {
        CloudInfo::deserialize(method_obj)
            .map_err(|e| ReplyError::Shape(format!("cloud info: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(r: &Request) -> String {
        String::from_utf8(r.to_bytes()).unwrap()
    }

    #[test]
    fn requests_serialise_exactly() {
        assert_eq!(
            wire(&Request::GetSysinfo),
            r#"{"system":{"get_sysinfo":{}}}"#
        );
        assert_eq!(
            wire(&Request::Reboot {
                module: SystemModule::System,
                delay: 1
            }),
            r#"{"system":{"reboot":{"delay":1}}}"#
        );
        assert_eq!(
            wire(&Request::Reset {
                module: SystemModule::System,
                delay: 1
            }),
            r#"{"system":{"reset":{"delay":1}}}"#
        );
        assert_eq!(
            wire(&Request::Reboot {
                module: SystemModule::BulbSystem,
                delay: 2
            }),
            r#"{"smartlife.iot.common.system":{"reboot":{"delay":2}}}"#
        );
        assert_eq!(
            wire(&Request::SetRelay {
                on: false,
                child_ids: vec![]
            }),
            r#"{"system":{"set_relay_state":{"state":0}}}"#
        );
        assert_eq!(
            wire(&Request::CloudInfo {
                module: SystemModule::System
            }),
            r#"{"cnCloud":{"get_info":{}}}"#
        );
        assert_eq!(
            wire(&Request::CloudInfo {
                module: SystemModule::BulbSystem
            }),
            r#"{"smartlife.iot.common.cloud":{"get_info":{}}}"#
        );
    }

    #[test]
    fn outlet_requests_carry_the_full_child_id_in_a_context() {
        let r = Request::SetRelay {
            on: true,
            child_ids: vec!["8006ABCD00".into()],
        };
        assert_eq!(
            r.to_json(),
            json!({"context":{"child_ids":["8006ABCD00"]},"system":{"set_relay_state":{"state":1}}})
        );
    }

    #[test]
    fn module_not_supported_is_a_device_error() {
        let raw = br#"{"cnCloud":{"err_code":-1,"err_msg":"module not support"}}"#;
        assert_eq!(
            method_reply(
                &Request::CloudInfo {
                    module: SystemModule::System
                },
                raw
            ),
            Err(ReplyError::Device {
                code: -1,
                msg: "module not support".into()
            })
        );
    }

    #[test]
    fn method_error_codes_are_device_errors() {
        let raw = br#"{"system":{"reset":{"err_code":-3,"err_msg":"invalid argument"}}}"#;
        let req = Request::Reset {
            module: SystemModule::System,
            delay: 1,
        };
        assert_eq!(
            method_reply(&req, raw),
            Err(ReplyError::Device {
                code: -3,
                msg: "invalid argument".into()
            })
        );
    }

    #[test]
    fn replies_of_the_wrong_shape_are_rejected() {
        let req = Request::GetSysinfo;
        assert!(matches!(
            method_reply(&req, b"not json"),
            Err(ReplyError::NotJson(_))
        ));
        assert!(matches!(
            method_reply(&req, b"[1,2]"),
            Err(ReplyError::Missing(_))
        ));
        assert!(matches!(
            method_reply(&req, br#"{"system":{}}"#),
            Err(ReplyError::Missing(_))
        ));
        assert!(matches!(
            method_reply(&req, br#"{"system":{"get_sysinfo":7}}"#),
            Err(ReplyError::Shape(_))
        ));
        assert!(matches!(
            method_reply(&req, br#"{"system":{"get_sysinfo":{"err_code":"x"}}}"#),
            Err(ReplyError::Shape(_))
        ));
        let obj = method_reply(&req, br#"{"system":{"get_sysinfo":{"err_code":0}}}"#).unwrap();
        assert!(matches!(
            SysInfo::from_reply(&obj),
            Err(ReplyError::Shape(_))
        ));
    }

    #[test]
    fn sysinfo_of_a_plug_a_strip_and_a_bulb_parse() {
        let plug = json!({"model":"HS110(EU)","alias":"Desk","mac":"50:C7:BF:01:02:03",
            "deviceId":"80","type":"IOT.SMARTPLUGSWITCH","relay_state":1,"on_time":42,"rssi":-60,"err_code":0});
        let info = SysInfo::from_reply(&plug).unwrap();
        assert_eq!(
            (info.relay_state, info.on_time, info.rssi),
            (Some(1), Some(42), Some(-60))
        );
        assert_eq!(info.system_module(), SystemModule::System);

        let strip = json!({"model":"HS300(US)","mac":"C0:06:C3:00:00:01","deviceId":"AB",
            "mic_type":"IOT.SMARTPLUGSWITCH","children":[{"id":"AB00","state":1,"alias":"a","on_time":5}]});
        let info = SysInfo::from_reply(&strip).unwrap();
        assert_eq!(info.children[0].id, "AB00");
        assert_eq!(info.kind, "IOT.SMARTPLUGSWITCH");

        let bulb = json!({"model":"KL130(US)","mic_mac":"1C3BF3000001","deviceId":"CD",
            "mic_type":"IOT.SMARTBULB","light_state":{"on_off":1}});
        let info = SysInfo::from_reply(&bulb).unwrap();
        assert_eq!(info.mac, "1C3BF3000001");
        assert_eq!(info.system_module(), SystemModule::BulbSystem);
        assert_eq!(info.on_time, None);
    }
}
