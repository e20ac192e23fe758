//! TPAP's JSON, both ways, without I/O: the `login` requests (`discover`, `pake_register`,
//! `pake_share`), what their replies must hold, and the error codes with the lockout counters
//! a refused login carries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// md5hex("admin"): TPAP's user name, always, whatever the account's e-mail.
pub const USERNAME: &str = "21232f297a57a5a743894a0e4a801fc3";
/// The only cipher suite fleetreset speaks: SPAKE2+ P-256 / SHA-256 / HMAC.
pub const CIPHER_SUITE: i64 = 1;
/// The session cipher's name in `encryption`.
pub const ENCRYPTION: &str = "aes_128_ccm";
/// `pake` type of the account password, the only one fleetreset logs in with.
pub const PAKE_USER_PASSWORD: i64 = 2;
/// The iteration counts a `pake_register` reply may name.
pub const ITERATIONS: std::ops::RangeInclusive<u32> = 1..=100_000;

/// Device error codes of the TPAP login.
pub mod code {
    /// Too many failed logins: the device refuses every login, a right one too, for a while.
    pub const LOCKED: i64 = -2101;
    pub const CIPHER_SUITES_UNSUPPORTED: i64 = -2201;
    pub const PASSCODE_TYPE_UNSUPPORTED: i64 = -2202;
    /// Wrong credentials (with `error_info`: the counters).
    pub const CREDENTIALS: i64 = -2203;
    pub const SESSION_INVALID: i64 = -2402;
    /// Pre-TPAP firmware's answer to `sub_method:"discover"`.
    pub const NOT_TPAP: i64 = 1003;
    /// A camera's wrong-password answer at `pake_share`.
    pub const CAMERA_CREDENTIALS: i64 = -40401;
}

/// What a device announces about its TPAP: in discovery (`result.tpap`) or to the probe.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Announce {
    /// 0 plain HTTP, 1 TLS without verification, 2 TLS with cloud-issued certificates.
    #[serde(default)]
    pub tls: i64,
    #[serde(default)]
    pub dac: i64,
    #[serde(default)]
    pub noc: i64,
    #[serde(default)]
    pub pake: Vec<i64>,
    /// Where TPAP is served; absent means the scheme's default.
    #[serde(default)]
    pub port: Option<u16>,
}

impl Announce {
    /// Why fleetreset can't log in as announced, in words that say what the device needs; or
    /// `None` when it can.
    pub fn refusal(&self) -> Option<String> {
        if self.tls == 2 {
            return Some(
                "the device takes TPAP only over TLS with verified, cloud-issued certificates (tls 2), which a local tool can't present; fleetreset speaks tls 0 and 1".into(),
            );
        }
        if !(0..=1).contains(&self.tls) {
            return Some(format!(
                "the device announces an unknown TPAP tls mode {}",
                self.tls
            ));
        }
        if !self.pake.contains(&PAKE_USER_PASSWORD) {
            return Some(format!(
                "the device takes TPAP logins only with passcode types {:?} (0 the default passcode, 3 a shared token); fleetreset logs in with the account password (2) only",
                self.pake
            ));
        }
        None
    }

    /// The port to send TPAP to.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.tls == 0 { 80 } else { 443 })
    }
}

/// `login` with `sub_method:"discover"`: asks a device whether it speaks TPAP.
pub fn discover() -> Vec<u8> {
    to_vec(&json!({"method": "login", "params": {"sub_method": "discover"}}))
}

/// The answer to the discover probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    Tpap(Announce),
    /// Pre-TPAP firmware (`1003`, or a reply without a `tpap` object).
    NotTpap,
    /// The device refuses everything for now (`-2101`).
    Locked(Counters),
}

pub fn parse_discover(reply: &Value) -> Result<Discovered, String> {
    match reply["error_code"].as_i64() {
        Some(0) => match reply["result"].get("tpap") {
            Some(t) if t.is_object() => serde_json::from_value(t.clone())
                .map(Discovered::Tpap)
                .map_err(|e| format!("the device's tpap object is unreadable: {e}")),
            _ => Ok(Discovered::NotTpap),
        },
        Some(code::LOCKED) => Ok(Discovered::Locked(Counters::of(reply))),
        Some(_) => Ok(Discovered::NotTpap),
        None => Err("no error_code in the reply".into()),
    }
}

/// `pake_register`, with the client's 32 random bytes.
pub fn register(user_random: &[u8; 32]) -> Vec<u8> {
    to_vec(&json!({"method": "login", "params": {
        "sub_method": "pake_register",
        "username": USERNAME,
        "user_random": B64.encode(user_random),
        "cipher_suites": [CIPHER_SUITE],
        "encryption": [ENCRYPTION],
        "passcode_type": "userpw",
    }}))
}

/// What a `pake_register` reply must hold.
#[derive(Debug, Clone)]
pub struct Registered {
    pub dev_random: [u8; 32],
    pub dev_salt: Vec<u8>,
    pub dev_share: Vec<u8>,
    pub iterations: u32,
    pub extra_crypt: Option<Value>,
}

pub fn parse_register(result: &Value) -> Result<Registered, String> {
    let bytes = |field: &str| -> Result<Vec<u8>, String> {
        let text = result[field]
            .as_str()
            .ok_or_else(|| format!("no {field} in the reply"))?;
        B64.decode(text)
            .map_err(|_| format!("{field} is not base64"))
    };
    let dev_random: [u8; 32] = bytes("dev_random")?
        .try_into()
        .map_err(|v: Vec<u8>| format!("dev_random is {} bytes, not 32", v.len()))?;
    let suite = match &result["cipher_suites"] {
        Value::Array(a) => a.first().and_then(Value::as_i64),
        v => v.as_i64(),
    };
    if suite != Some(CIPHER_SUITE) {
        return Err(format!(
            "the device chose cipher suite {}, not {CIPHER_SUITE}",
            crate::inert::Inert(&result["cipher_suites"].to_string())
        ));
    }
    let encryption = match &result["encryption"] {
        Value::Array(a) => a.first().and_then(Value::as_str),
        v => v.as_str(),
    };
    if encryption != Some(ENCRYPTION) {
        return Err(format!(
            "the device chose encryption {}, not {ENCRYPTION}",
            crate::inert::Inert(&result["encryption"].to_string())
        ));
    }
    let iterations = result["iterations"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| ITERATIONS.contains(n))
        .ok_or_else(|| {
            format!(
                "iterations {} is not within {}..={}",
                crate::inert::Inert(&result["iterations"].to_string()),
                ITERATIONS.start(),
                ITERATIONS.end()
            )
        })?;
    Ok(Registered {
        dev_random,
        dev_salt: bytes("dev_salt")?,
        dev_share: bytes("dev_share")?,
        iterations,
        extra_crypt: result.get("extra_crypt").cloned(),
    })
}

/// `pake_share`: the client's share and confirmation.
pub fn share(user_share: &[u8], user_confirm: &[u8]) -> Vec<u8> {
    to_vec(&json!({"method": "login", "params": {
        "sub_method": "pake_share",
        "user_share": B64.encode(user_share),
        "user_confirm": B64.encode(user_confirm),
    }}))
}

/// What a `pake_share` reply must hold.
#[derive(Debug, Clone)]
pub struct Shared {
    pub dev_confirm: Vec<u8>,
    pub stok: String,
    pub start_seq: u32,
}

pub fn parse_share(result: &Value) -> Result<Shared, String> {
    let dev_confirm = result["dev_confirm"]
        .as_str()
        .and_then(|t| B64.decode(t).ok())
        .ok_or("no base64 dev_confirm in the reply")?;
    let stok = result["stok"]
        .as_str()
        .or(result["sessionId"].as_str())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or("no stok of letters and digits in the reply")?
        .to_string();
    let start_seq = result["start_seq"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("no start_seq in the reply")?;
    Ok(Shared {
        dev_confirm,
        stok,
        start_seq,
    })
}

/// The lockout counters a refused login carries in `error_info` (or `result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub remain_attempts: Option<u64>,
    pub failed_attempts: Option<u64>,
    pub locked_minute: Option<u64>,
}

impl Counters {
    pub fn of(reply: &Value) -> Counters {
        let info = [
            &reply["error_info"],
            &reply["result"]["error_info"],
            &reply["result"],
        ]
        .into_iter()
        .find(|v| v.is_object())
        .cloned()
        .unwrap_or(Value::Null);
        Counters {
            remain_attempts: info["remainAttempts"].as_u64(),
            failed_attempts: info["failedAttempts"].as_u64(),
            locked_minute: info["lockedMinute"].as_u64(),
        }
    }

    /// `remainAttempts 14, failedAttempts 1, lockedMinute 0`, for the audit; what the device
    /// did not say is left out.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("remainAttempts", self.remain_attempts),
            ("failedAttempts", self.failed_attempts),
            ("lockedMinute", self.locked_minute),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
        if parts.is_empty() {
            "the device sent no lockout counters".into()
        } else {
            parts.join(", ")
        }
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON serialises")
}

#[cfg(test)]
mod tests;
