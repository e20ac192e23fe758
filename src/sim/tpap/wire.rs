//! The JSON of TPAP's login steps as a simulated device reads and answers them: the same for
//! plugs ([`crate::sim::model`]) and cameras ([`crate::sim::camera`]), which differ in the
//! credential they hold, their `extra_crypt`, and how they refuse a wrong password.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{ITERATIONS, Registration};
use crate::protocol::tpap::messages::{CIPHER_SUITE, ENCRYPTION, USERNAME, code};
use crate::sim::smart::code as smart_code;

/// A `login` step on `/`.
#[derive(Debug)]
pub enum Step {
    Discover,
    /// `pake_register`, with the client's 32 random bytes.
    Register(Vec<u8>),
    /// `pake_share`: the client's share and confirmation.
    Share(Vec<u8>, Vec<u8>),
}

/// The step `body` asks for, or the error code to answer it with.
pub fn step(body: &[u8]) -> Result<Step, i64> {
    let request: Value = serde_json::from_slice(body).map_err(|_| smart_code::JSON_DECODE_FAIL)?;
    if request["method"] != "login" {
        return Err(smart_code::UNKNOWN_METHOD);
    }
    let params = &request["params"];
    match params["sub_method"].as_str() {
        Some("discover") => Ok(Step::Discover),
        Some("pake_register") => register(params).map(Step::Register),
        Some("pake_share") => {
            let field = |name: &str| params[name].as_str().and_then(|v| B64.decode(v).ok());
            match (field("user_share"), field("user_confirm")) {
                (Some(share), Some(confirm)) => Ok(Step::Share(share, confirm)),
                _ => Err(smart_code::PARAMS_ERROR),
            }
        }
        _ => Err(smart_code::PARAMS_ERROR),
    }
}

fn register(params: &Value) -> Result<Vec<u8>, i64> {
    let listed = |field: &str, want: &Value| {
        params[field]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == want))
    };
    if !listed("cipher_suites", &json!(CIPHER_SUITE)) || !listed("encryption", &json!(ENCRYPTION)) {
        return Err(code::CIPHER_SUITES_UNSUPPORTED);
    }
    if params["passcode_type"] != "userpw" {
        return Err(code::PASSCODE_TYPE_UNSUPPORTED);
    }
    let user_random = params["user_random"]
        .as_str()
        .and_then(|r| B64.decode(r).ok())
        .filter(|r| r.len() == 32);
    match (user_random, params["username"] == USERNAME) {
        (Some(r), true) => Ok(r),
        _ => Err(smart_code::PARAMS_ERROR),
    }
}

/// The answer to `pake_register`, naming `extra_crypt` when the device has one.
pub fn registered(r: &Registration, extra_crypt: Option<Value>) -> Value {
    let mut result = json!({
        "dev_random": B64.encode(r.dev_random),
        "dev_salt": B64.encode(&r.dev_salt),
        "dev_share": B64.encode(&r.dev_share),
        "cipher_suites": CIPHER_SUITE,
        "iterations": ITERATIONS,
        "encryption": ENCRYPTION,
    });
    if let Some(extra) = extra_crypt {
        result["extra_crypt"] = extra;
    }
    json!({"error_code": 0, "result": result})
}

/// The answer to a `pake_share` that proved the password.
pub fn accepted(dev_confirm: &[u8; 32], stok: &str, start_seq: u32) -> Value {
    json!({"error_code": 0, "result": {
        "dev_confirm": B64.encode(dev_confirm),
        "stok": stok,
        "start_seq": start_seq,
    }})
}
