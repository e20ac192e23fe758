//! The device side of SslAes and SmartCam JSON for a simulated Tapo camera or doorbell.
//!
//! `POST /` carries the two `login` steps: the first answers -40413 with a nonce and the
//! camera's proof of the password (`device_confirm`); the second checks `digest_passwd` and
//! opens a session (`stok`, `start_seq` 100). `POST /stok=<stok>/ds` carries
//! `securePassthrough`, whose `Tapo_tag` is checked against the `Seq` header. Everything
//! inside is a `multipleRequest`, answered item by item from the capture.
//!
//! What a real camera answers to python-kasa's inherited `device_reboot` and `device_reset` is
//! unverified; like the reference's simulator, this one says unsupported method (-40106).

use std::net::IpAddr;
use std::time::Instant;

use rand::RngCore;
use serde_json::{Value, json};

use super::super::account::{Account, Login};
use super::super::model::{HttpReply, LOCKOUT_SECS_LEFT, md5_hex, stok_of};
use super::super::state::Effect;
use super::{CamHttpRequest, CameraState};
use crate::device::SIM_TIME_SCALE_FIELD;
use crate::protocol::aes::cipher::PassthroughCipher;
use crate::protocol::sslaes::cipher::{self, PwdHash};
use crate::protocol::sslaes::messages::{
    BAD_USERNAME, DEVICE_BLOCKED, INVALID_NONCE, LOGIN_REFUSED,
};
use crate::protocol::sslaes::session::{CAMERA_USER, UNBOUND_PASSWORD};

/// The camera's error for a method it doesn't have.
pub const UNSUPPORTED_METHOD: i64 = -40106;
/// The camera's error for a request it can't read (bad tag, bad JSON).
pub const PROTOCOL_FORMAT_ERROR: i64 = -40210;
/// The first `Seq` of a session, as the reference's capture shows.
pub const START_SEQ: i64 = 100;

/// One logged-in session.
#[derive(Debug)]
pub struct Session {
    cipher: PassthroughCipher,
    pwd_hash: String,
    cnonce: String,
    /// The lowest `Seq` the next request may carry: sequence numbers only go up (a client
    /// may skip one whose request was lost, never reuse one).
    next_seq: i64,
}

impl CameraState {
    /// The password the camera holds: its owner's, or the unbound default.
    pub(super) fn password(&self, account: &Account) -> String {
        if self.bound
            && let Some(owner) = account.accepted(true, Login::Aes).first()
        {
            return owner.password.expose().to_owned();
        }
        UNBOUND_PASSWORD.to_owned()
    }

    /// Answers one HTTPS request of the SslAes transport.
    pub fn tapo_http(
        &mut self,
        account: &mut Account,
        req: &CamHttpRequest<'_>,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> (HttpReply, Option<Effect>) {
        if self.tpap.is_some() {
            return self.tpap_http(account, req, now, rng);
        }
        if req.path == "/" {
            return (self.login(account, req.body, rng), None);
        }
        let Some(stok) = stok_of(req.path) else {
            return (status(404), None);
        };
        // A session the camera doesn't know (it rebooted, or never was): 401, log in again.
        // Taken out while the request is answered, and put back after.
        let Some(mut session) = self.sessions.remove(stok) else {
            return (status(401), None);
        };
        let answered = self.in_session(&mut session, req, now);
        self.sessions.insert(stok.to_owned(), session);
        answered
    }

    fn in_session(
        &mut self,
        session: &mut Session,
        req: &CamHttpRequest<'_>,
        now: Instant,
    ) -> (HttpReply, Option<Effect>) {
        let body = String::from_utf8_lossy(req.body);
        let seq = req
            .seq
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|s| *s >= session.next_seq);
        let tag_ok = seq.is_some_and(|seq| {
            req.tag == Some(cipher::tag(&session.pwd_hash, &session.cnonce, &body, seq).as_str())
        });
        let outer: Option<Value> = serde_json::from_slice(req.body).ok();
        let plain = outer
            .as_ref()
            .and_then(|o| o["params"]["request"].as_str())
            .and_then(|r| session.cipher.decrypt(r).ok());
        let (Some(plain), true, Some(seq)) = (plain, tag_ok, seq) else {
            return (
                json_reply(&json!({"error_code": PROTOCOL_FORMAT_ERROR})),
                None,
            );
        };
        session.next_seq = seq + 1;
        let (answer, effect) = match serde_json::from_slice::<Value>(&plain) {
            Ok(inner) => self.handle(&inner, now),
            Err(_) => (json!({"error_code": PROTOCOL_FORMAT_ERROR}), None),
        };
        let sealed = session.cipher.encrypt(&to_bytes(&answer));
        (
            json_reply(&json!({"error_code": 0, "result": {"response": sealed, "seq": seq}})),
            effect,
        )
    }

    fn login(&mut self, account: &mut Account, body: &[u8], rng: &mut impl RngCore) -> HttpReply {
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return json_reply(&json!({"error_code": PROTOCOL_FORMAT_ERROR}));
        };
        let p = &req["params"];
        let (Some(cnonce), Some(user)) = (p["cnonce"].as_str(), p["username"].as_str()) else {
            return json_reply(&json!({"error_code": PROTOCOL_FORMAT_ERROR}));
        };
        if req["method"] != "login" {
            return json_reply(&json!({"error_code": UNSUPPORTED_METHOD}));
        }
        if p["digest_passwd"].is_null() {
            // Each login begins here: journaled, so a test can count them, even those the
            // client gives up at this step (it sees the camera holds another password).
            self.journal.record("login");
        }
        if account.is_locked() {
            account.refused();
            let data = json!({"code": DEVICE_BLOCKED, "sec_left": LOCKOUT_SECS_LEFT});
            // python-kasa reads a block's `data` at the root; the inner code also in `result`.
            return json_reply(&json!({"error_code": LOGIN_REFUSED, "data": data,
                                      "result": {"data": data}}));
        }
        let owner_name = account
            .accepted(true, Login::Aes)
            .first()
            .filter(|_| self.bound)
            .map(|c| c.username.clone());
        if user != CAMERA_USER && Some(user) != owner_name.as_deref() {
            return json_reply(&json!({"error_code": LOGIN_REFUSED,
                                      "result": {"data": {"code": BAD_USERNAME}}}));
        }
        let pwd_hash = PwdHash::Sha256.of(&self.password(account));
        match p["digest_passwd"].as_str() {
            None => {
                let mut raw = [0u8; 8];
                rng.fill_bytes(&mut raw);
                let nonce: String = raw.iter().map(|b| format!("{b:02X}")).collect();
                let confirm = cipher::device_confirm(cnonce, &pwd_hash, &nonce);
                self.pending.insert(cnonce.to_owned(), nonce.clone());
                json_reply(&json!({"error_code": INVALID_NONCE, "result": {"data": {
                    "code": INVALID_NONCE, "encrypt_type": ["3"], "key": "",
                    "nonce": nonce, "device_confirm": confirm}}}))
            }
            Some(digest) => {
                let Some(nonce) = self.pending.remove(cnonce) else {
                    return json_reply(&json!({"error_code": INVALID_NONCE}));
                };
                if digest != cipher::digest_passwd(&pwd_hash, cnonce, &nonce) {
                    account.failed();
                    return json_reply(&json!({"error_code": INVALID_NONCE,
                                              "result": {"data": {"code": INVALID_NONCE}}}));
                }
                let mut raw = [0u8; 16];
                rng.fill_bytes(&mut raw);
                let stok: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                self.sessions.insert(
                    stok.clone(),
                    Session {
                        cipher: cipher::session_cipher(cnonce, &nonce, &pwd_hash),
                        pwd_hash,
                        cnonce: cnonce.to_owned(),
                        next_seq: START_SEQ,
                    },
                );
                json_reply(&json!({"error_code": 0, "result": {
                    "stok": stok, "user_group": "root", "start_seq": START_SEQ}}))
            }
        }
    }

    /// Answers decrypted SmartCam JSON.
    pub fn handle(&mut self, req: &Value, now: Instant) -> (Value, Option<Effect>) {
        let method = req["method"].as_str().unwrap_or_default();
        if method != "multipleRequest" {
            let (code, result, effect) = self.answer(method, &req["params"], now);
            let mut out = json!({"error_code": code});
            if let Some(r) = result {
                out["result"] = r;
            }
            return (out, effect);
        }
        let mut effect = None;
        let mut responses = Vec::new();
        for item in req["params"]["requests"].as_array().into_iter().flatten() {
            let m = item["method"].as_str().unwrap_or_default();
            let (code, result, e) = self.answer(m, &item["params"], now);
            effect = effect.or(e);
            let mut r = json!({"method": m, "error_code": code});
            if let Some(result) = result {
                r["result"] = result;
            }
            responses.push(r);
        }
        (
            json!({"error_code": 0, "result": {"responses": responses}}),
            effect,
        )
    }

    /// One method: its error code, its result, and any effect.
    fn answer(
        &mut self,
        method: &str,
        params: &Value,
        now: Instant,
    ) -> (i64, Option<Value>, Option<Effect>) {
        match method {
            "getDeviceInfo" => (0, Some(self.device_info()), None),
            // Firmware without the method: refused as unknown, nothing happens.
            "rebootDevice" if self.faults.button_only => (UNSUPPORTED_METHOD, None, None),
            // python-kasa sends `"reboot": "null"` (a string), the `tapo` crate `{}`; no capture
            // says which the firmware insists on, so either is taken.
            "rebootDevice"
                if params["system"]["reboot"].is_string()
                    || params["system"]["reboot"].is_object() =>
            {
                (0, Some(json!({})), self.reboot())
            }
            "getClockStatus" => {
                let epoch = chrono::Utc::now().timestamp();
                let _ = now;
                (
                    0,
                    Some(json!({"system": {"clock_status": {
                    "seconds_from_1970": epoch, "local_time": ""}}})),
                    None,
                )
            }
            m => match self.profile.capture.get(m) {
                Some(Value::Number(code)) => {
                    (code.as_i64().unwrap_or(UNSUPPORTED_METHOD), None, None)
                }
                Some(v) if m.starts_with("get") => (0, Some(v.clone()), None),
                _ => (UNSUPPORTED_METHOD, None, None),
            },
        }
    }

    /// `getDeviceInfo` from the capture, with the row's identity.
    fn device_info(&self) -> Value {
        let mut info = self.profile.capture["getDeviceInfo"].clone();
        let b = &mut info["device_info"]["basic_info"];
        b["device_model"] = json!(self.identity.model);
        b["device_alias"] = json!(self.identity.alias);
        b["mac"] = json!(self.mac().to_string().replace(':', "-"));
        b["dev_id"] = json!(self.identity.device_id);
        b["hw_id"] = json!(self.identity.hw_id);
        b[SIM_TIME_SCALE_FIELD] = json!(self.scale);
        info
    }
}

/// Fills a camera's discovery `encrypt_info` for the client that probed: `decrypted_data`
/// (the capture's, with the row's identity and port) in AES-128-CBC under a fresh key and IV,
/// which go RSA-OAEP-SHA1-wrapped to the probe's `rsa_key`, as python-kasa reads them. A probe
/// without a usable key leaves the fields empty (python-kasa then only logs an error).
pub fn seal_encrypt_info(
    result: &mut Value,
    cam: &CameraState,
    probe: &[u8],
    rng: &mut impl RngCore,
) {
    let Some(public) = probe_key(probe) else {
        return;
    };
    let mut data = cam.profile.capture["discovery_result"]["result"]["decrypted_data"].clone();
    data["device_id"] = json!(cam.identity.device_id);
    data["http_port"] = result["mgt_encrypt_schm"]["http_port"].clone();
    if !cam.bound {
        data["owner"] = json!("");
    }
    let mut key_and_iv = [0u8; 32];
    rng.fill_bytes(&mut key_and_iv);
    let mut wrapped = vec![0u8; public.size() as usize];
    let Ok(n) = public.public_encrypt(&key_and_iv, &mut wrapped, openssl::rsa::Padding::PKCS1_OAEP)
    else {
        return;
    };
    wrapped.truncate(n);
    let sealed = PassthroughCipher::from_key_and_iv(&key_and_iv)
        .expect("32 bytes are a key and an IV")
        .encrypt(&to_bytes(&data));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    result["encrypt_info"] = json!({"sym_schm": "AES", "key": b64.encode(wrapped), "data": sealed});
}

/// The RSA key a 20002 probe carries (`params.rsa_key`, PEM whose base64 may be on one line).
fn probe_key(probe: &[u8]) -> Option<openssl::rsa::Rsa<openssl::pkey::Public>> {
    use base64::Engine;
    let body: Value =
        serde_json::from_slice(probe.get(super::super::discovery::HEADER_LEN..)?).ok()?;
    let pem = body["params"]["rsa_key"].as_str()?;
    let b64: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    openssl::rsa::Rsa::public_key_from_der(&der)
        .or_else(|_| openssl::rsa::Rsa::public_key_from_der_pkcs1(&der))
        .ok()
}

/// The UDP 20002 discovery result, from the capture's, with the row's identity.
pub fn discovery(cam: &CameraState, ip: IpAddr, port: u16) -> Value {
    let mut r = cam.profile.capture["discovery_result"]["result"].clone();
    r["device_model"] = json!(cam.identity.model);
    r["device_id"] = json!(md5_hex(&cam.identity.device_id));
    r["ip"] = json!(ip.to_string());
    r["mac"] = json!(cam.mac().to_string().replace(':', "-"));
    r["mgt_encrypt_schm"]["http_port"] = json!(port);
    r["factory_default"] = json!(!cam.bound);
    r[SIM_TIME_SCALE_FIELD] = json!(cam.scale);
    if cam.tpap.is_some() {
        r["mgt_encrypt_schm"]["encrypt_type"] = json!("TPAP");
        r["tpap"] = super::tpap::announce(port);
        r["protocol_version"] = json!(1);
    }
    if let Some(o) = r.as_object_mut() {
        // The capture's decrypted copy was the test harness's; the wire carries only the
        // encrypted one (left empty, which python-kasa tolerates).
        o.remove("decrypted_data");
    }
    r
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

fn json_reply(v: &Value) -> HttpReply {
    HttpReply {
        status: 200,
        cookies: Vec::new(),
        json: true,
        body: to_bytes(v),
    }
}

pub(super) fn status(code: u16) -> HttpReply {
    HttpReply {
        status: code,
        cookies: Vec::new(),
        json: false,
        body: Vec::new(),
    }
}
