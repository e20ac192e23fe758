//! The device side of LINKIE2 for a simulated Kasa camera or KD110: `POST
//! /data/LINKIE2.json` with a `content=` form body and Basic auth; IOT JSON inside.
//!
//! Which Basic-auth encoding a real camera takes is not settled (the sources differ); this one
//! takes, when bound, its account as `email:md5hex(password)` only, and when unbound the Kasa
//! camera default `admin:md5hex("admin")` only. Anything else is HTTP 401 and a failed login.

use serde_json::{Map, Value, json};

use super::super::account::{Account, Login};
use super::super::model::HttpReply;
use super::super::state::Effect;
use super::tapo::status;
use super::{CamHttpRequest, CameraState};
use crate::device::SIM_TIME_SCALE_FIELD;
use crate::protocol::linkie2::auth::Encoding;
use crate::protocol::linkie2::{codec, transport::PATH};

/// The IOT error of a camera for an API it lacks.
const UNSUPPORTED: i64 = -10008;

impl CameraState {
    /// Answers one HTTPS request of the LINKIE2 transport.
    pub fn kasa_http(
        &mut self,
        account: &mut Account,
        req: &CamHttpRequest<'_>,
    ) -> (HttpReply, Option<Effect>) {
        if req.path != PATH {
            return (status(404), None);
        }
        if account.is_locked() {
            account.refused();
            return (status(401), None);
        }
        let owner = account.accepted(true, Login::Aes).into_iter().next();
        let expected = match (&owner, self.bound) {
            (Some(o), true) => Encoding::EmailMd5.header(Some(o)),
            _ => Encoding::KasaDefault.header(None),
        };
        if req.authorization.is_none() || req.authorization != expected.as_deref() {
            account.failed();
            return (status(401), None);
        }
        let Ok(plain) = codec::decode_request(req.body) else {
            return (status(400), None);
        };
        let Ok(request) = serde_json::from_slice::<Value>(&plain) else {
            return (status(400), None);
        };
        let (answer, effect) = self.iot(&request);
        let body = codec::encode_reply(&serde_json::to_vec(&answer).expect("JSON serialises"));
        (
            HttpReply {
                status: 200,
                cookies: Vec::new(),
                json: false,
                body,
            },
            effect,
        )
    }

    /// Answers every module and method of an IOT request.
    fn iot(&mut self, request: &Value) -> (Value, Option<Effect>) {
        let mut out = Map::new();
        let mut effect = None;
        for (module, methods) in request.as_object().into_iter().flatten() {
            if self.faults.button_only && module == "smartlife.cam.ipcamera.system" {
                // Firmware without the module answers for the module, as IOT firmware does,
                // with no word for the method; nothing happens.
                out.insert(
                    module.clone(),
                    json!({"err_code": -1, "err_msg": "module not support"}),
                );
                continue;
            }
            let mut answers = Map::new();
            for (method, _params) in methods.as_object().into_iter().flatten() {
                let answer = match (module.as_str(), method.as_str()) {
                    ("system", "get_sysinfo") => self.sysinfo(),
                    ("smartlife.cam.ipcamera.system", "set_reboot") => {
                        effect = effect.or(self.reboot());
                        json!({"err_code": 0})
                    }
                    _ => json!({"err_code": UNSUPPORTED, "err_msg": "Unsupported API call."}),
                };
                answers.insert(method.clone(), answer);
            }
            out.insert(module.clone(), Value::Object(answers));
        }
        (Value::Object(out), effect)
    }

    /// The answer to an unframed IOT request on UDP 9999: `get_sysinfo` (the discovery probe)
    /// only, from a Kasa camera; anything else, or a Tapo camera, gets a module error.
    pub fn legacy_discovery(&self, request: &Value) -> Value {
        let asks_sysinfo = request
            .as_object()
            .is_some_and(|o| o.len() == 1 && request["system"]["get_sysinfo"].is_object());
        if asks_sysinfo && self.profile.kind == super::CameraKind::Kasa {
            json!({"system": {"get_sysinfo": self.sysinfo()}})
        } else {
            json!({"system": {"err_code": -1, "err_msg": "module not support"}})
        }
    }

    /// The nested camera sysinfo, from the capture with the row's identity.
    fn sysinfo(&self) -> Value {
        let mut sys = self.profile.sysinfo().clone();
        let mac = self.mac();
        sys["model"] = json!(self.identity.model);
        sys["alias"] = json!(self.identity.alias);
        sys["mac"] = json!(mac.to_string());
        sys["mic_mac"] = json!(mac.to_string().replace(':', ""));
        sys["deviceId"] = json!(self.identity.device_id);
        sys["hwId"] = json!(self.identity.hw_id);
        sys["bind_status"] = json!(self.bound);
        sys["status"] = json!(if self.bound { "configured" } else { "new" });
        sys["system_time"] = json!(chrono::Utc::now().timestamp());
        sys[SIM_TIME_SCALE_FIELD] = json!(self.scale);
        json!({"err_code": 0, "system": sys})
    }
}
