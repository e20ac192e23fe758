//! SmartCam JSON (Tapo cameras, doorbells, the H200): the login requests, the camera's own
//! `multipleRequest` calls, and the replies' shapes.
//!
//! Cameras answer only inside `multipleRequest`, with camelCase methods whose params nest
//! `{module: {section: …}}`. Methods are python-kasa's and pytapo's, named where used.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::protocol::smart::{self, ResponseError};

/// The camera's answer to a first login that is ready for the secure login: "invalid nonce",
/// carrying the nonce to use.
pub const INVALID_NONCE: i64 = -40413;
/// The outer code of a refused login; the reason is `data.code` inside.
pub const LOGIN_REFUSED: i64 = -40401;
/// `data.code` of a camera that locked logins after failures, with `sec_left`.
pub const DEVICE_BLOCKED: i64 = -40404;
/// `data.code` for a user the camera does not have.
pub const BAD_USERNAME: i64 = -60502;

/// Handshake 1: `login` with our nonce, asking for the secure (encrypt type 3) login.
pub fn handshake1(username: &str, cnonce: &str) -> Vec<u8> {
    to_bytes(&json!({"method": "login", "params": {
        "cnonce": cnonce, "encrypt_type": "3", "username": username}}))
}

/// Handshake 2: `login` with the password digest.
pub fn handshake2(username: &str, cnonce: &str, digest_passwd: &str) -> Vec<u8> {
    to_bytes(&json!({"method": "login", "params": {
        "cnonce": cnonce, "encrypt_type": "3", "digest_passwd": digest_passwd,
        "username": username}}))
}

/// One camera request: a method and its params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamRequest {
    /// `getDeviceInfo {"device_info":{"name":["basic_info"]}}`: model, MAC, alias, firmware.
    GetDeviceInfo,
    /// The camera's own reboot (pytapo `reboot()`): `rebootDevice {"system":{"reboot":"null"}}`.
    /// python-kasa's inherited `device_reboot` is not a camera method.
    RebootDevice,
}

impl CamRequest {
    pub fn method(self) -> &'static str {
        match self {
            CamRequest::GetDeviceInfo => "getDeviceInfo",
            CamRequest::RebootDevice => "rebootDevice",
        }
    }

    fn params(self) -> Value {
        match self {
            CamRequest::GetDeviceInfo => json!({"device_info": {"name": ["basic_info"]}}),
            CamRequest::RebootDevice => json!({"system": {"reboot": "null"}}),
        }
    }

    /// The request wrapped in `multipleRequest`, as cameras require.
    pub fn to_bytes(self) -> Vec<u8> {
        to_bytes(
            &json!({"method": "multipleRequest", "params": {"requests": [
            {"method": self.method(), "params": self.params()}]}}),
        )
    }
}

/// The one answer inside a `multipleRequest` reply to [`CamRequest::to_bytes`].
pub fn single_result(raw: &[u8], method: &str) -> Result<Value, ResponseError> {
    let result = smart::parse_response(raw)?;
    let responses = result
        .get("responses")
        .and_then(Value::as_array)
        .ok_or_else(|| ResponseError::Shape("multipleRequest result has no responses".into()))?;
    let entry = responses
        .iter()
        .find(|r| r.get("method").and_then(Value::as_str) == Some(method))
        .ok_or_else(|| ResponseError::Shape(format!("no answer for {method}")))?;
    let code = entry.get("error_code").and_then(Value::as_i64).unwrap_or(0);
    if code != 0 {
        return Err(ResponseError::Device(smart::classify(code)));
    }
    Ok(entry.get("result").cloned().unwrap_or(Value::Null))
}

/// `getDeviceInfo.device_info.basic_info`, the fields we read. `device_alias` is plain text
/// (not base64 as on plugs); `mac` has dashes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BasicInfo {
    pub device_model: String,
    #[serde(default)]
    pub device_alias: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub dev_id: String,
    #[serde(default)]
    pub device_type: String,
    #[serde(default)]
    pub sw_version: String,
    #[serde(default)]
    pub hw_version: String,
}

impl BasicInfo {
    pub fn from_result(result: &Value) -> Result<BasicInfo, String> {
        BasicInfo::deserialize(&result["device_info"]["basic_info"]).map_err(|e| e.to_string())
    }
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_reboot_is_pytapo_s_reboot_device_inside_multiple_request() {
        assert_eq!(
            String::from_utf8(CamRequest::RebootDevice.to_bytes()).unwrap(),
            r#"{"method":"multipleRequest","params":{"requests":[{"method":"rebootDevice","params":{"system":{"reboot":"null"}}}]}}"#
        );
    }

    #[test]
    fn a_multiple_request_answer_gives_its_result_or_its_error() {
        let ok = br#"{"error_code":0,"result":{"responses":[{"method":"getDeviceInfo","error_code":0,"result":{"device_info":{"basic_info":{"device_model":"C210","mac":"40-AE-30-00-00-01","device_alias":"hall"}}}}]}}"#;
        let r = single_result(ok, "getDeviceInfo").unwrap();
        let info = BasicInfo::from_result(&r).unwrap();
        assert_eq!(info.device_model, "C210");
        assert_eq!(info.device_alias, "hall");
        let refused = br#"{"error_code":0,"result":{"responses":[{"method":"rebootDevice","error_code":-40106}]}}"#;
        assert!(matches!(
            single_result(refused, "rebootDevice"),
            Err(ResponseError::Device(e)) if e.code == -40106
        ));
    }
}
