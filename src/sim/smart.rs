//! One simulated SMART device (Tapo and current Kasa firmware): its state and how it answers a
//! SMART JSON request (`{"method":…,"params":…}` → `{"error_code":…,"result":…}`). No I/O,
//! like `state.rs` for IOT: the transport decrypts, this answers, the server carries out the
//! returned effect.

use std::net::IpAddr;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::catalog::Family;
use crate::inventory::MacAddr;

use super::JournalHandle;
use super::fault::Faults;
use super::relay::Relay;
use super::smart_profile::SmartProfile;
use super::state::{Effect, Identity};
use info::InfoChange;

/// SMART error codes the simulated devices answer with (python-kasa's `SmartErrorCode`).
pub mod code {
    /// A method the device does not know.
    pub const UNKNOWN_METHOD: i64 = -1002;
    /// A body that is not JSON.
    pub const JSON_DECODE_FAIL: i64 = -1003;
    /// Missing or malformed parameters, and an outlet id no outlet has.
    pub const PARAMS_ERROR: i64 = -1008;
    /// A login with the wrong credentials.
    pub const LOGIN_ERROR: i64 = -1501;
    /// An AES body that does not decrypt.
    pub const AES_DECODE_FAIL: i64 = -1005;
    /// An RSA key the AES handshake can't use.
    pub const INVALID_PUBLIC_KEY: i64 = -1010;
    /// Too many failed logins.
    pub const DEVICE_BLOCKED: i64 = -40404;
    /// A request on a session that is unknown, expired or not logged in: the client must
    /// handshake again.
    pub const SESSION_TIMEOUT: i64 = 9999;
}

/// Outlets per page of `get_child_device_list` and `get_child_device_component_list`. Firmware
/// pages these lists; ten covers every strip in one page, as the captures show, and paging
/// itself is answered for any `start_index`.
pub const CHILD_PAGE: usize = 10;

/// The SSID every simulated device reports being on.
pub const SSID: &str = "fleetreset-lab";

#[derive(Debug, Clone)]
struct Outlet {
    device_id: String,
    nickname: String,
    relay: Relay,
}

/// The mutable state of one SMART device.
#[derive(Debug, Clone)]
pub struct SmartState {
    profile: SmartProfile,
    identity: Identity,
    ip: IpAddr,
    faults: Faults,
    /// Real seconds per device second.
    scale: f64,
    /// The plug's own relay; a strip has none, only its outlets.
    relay: Relay,
    outlets: Vec<Outlet>,
    bound: bool,
    /// A `reset_stays` device restarts into factory defaults at its next boot.
    reset_pending: bool,
    journal: JournalHandle,
    /// Serves TPAP firmware: reports [`TPAP_FIRMWARE`] and the fields of the newest captures.
    tpap_firmware: bool,
}

/// The firmware a TPAP device reports: the 1.4 line that moved plugs and strips from KLAP to
/// TPAP (no 1.4 capture is at hand; the build is made up and says so).
pub const TPAP_FIRMWARE: &str = "1.4.0 Build 250101 Rel.000000 (simulated)";

/// What one method call gives: a result (`None` for setters, which answer only
/// `{"error_code":0}`), or a refusal.
type Answer = Result<Option<Value>, Refused>;

/// A refused call: its SMART error code, and the message that goes beside it, if any. Only the
/// `reset_refused` refusal of an `err_msg` device has one (`{"error_code":…,"msg":…}`, which
/// python-kasa reads past); every other refusal is the bare code, as the captures show.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refused {
    code: i64,
    msg: Option<String>,
}

impl From<i64> for Refused {
    fn from(code: i64) -> Refused {
        Refused { code, msg: None }
    }
}

impl SmartState {
    /// Serves TPAP firmware ([`TPAP_FIRMWARE`]).
    pub fn on_tpap_firmware(mut self, on: bool) -> Self {
        self.tpap_firmware = on;
        self
    }

    pub fn new(
        profile: SmartProfile,
        identity: Identity,
        ip: IpAddr,
        faults: Faults,
        scale: f64,
        now: Instant,
        bound: bool,
    ) -> SmartState {
        let info = profile.device_info();
        let relay = Relay::new(
            info["device_on"].as_bool().unwrap_or(false),
            info["on_time"].as_u64().unwrap_or(0),
            now,
        );
        let outlets = profile
            .outlets
            .iter()
            .enumerate()
            .map(|(i, &(on, on_time))| Outlet {
                // Outlets are numbered like an IOT strip's: the parent's id plus 00, 01, …
                device_id: format!("{}{i:02}", identity.device_id),
                nickname: format!("{} outlet {}", identity.alias, i + 1),
                relay: Relay::new(on, on_time, now),
            })
            .collect();
        SmartState {
            profile,
            identity,
            ip,
            faults,
            scale,
            relay,
            outlets,
            bound,
            reset_pending: false,
            journal: JournalHandle::default(),
            tpap_firmware: false,
        }
    }

    /// Writes every reboot and reset this device accepts to `journal`.
    pub fn with_journal(mut self, journal: JournalHandle) -> Self {
        self.journal = journal;
        self
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn is_bound(&self) -> bool {
        self.bound
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn profile(&self) -> &SmartProfile {
        &self.profile
    }

    /// What the device powers: its own relay, or each outlet's, in order.
    /// Switches output `index` (from 0) on at start, as the building keeps the plug that feeds
    /// another device ([`DeviceState::start_powering`](super::state::DeviceState)).
    pub fn start_powering(&mut self, index: usize, now: Instant) {
        if !self.is_strip() {
            if index == 0 && !self.relay.on {
                self.relay.set(true, now);
            }
        } else if let Some(outlet) = self.outlets.get_mut(index).filter(|o| !o.relay.on) {
            outlet.relay.set(true, now);
        }
    }

    pub fn outputs(&self) -> Vec<bool> {
        if self.is_strip() {
            self.outlets.iter().map(|o| o.relay.on).collect()
        } else {
            vec![self.relay.on]
        }
    }

    fn is_strip(&self) -> bool {
        self.profile.family == Family::Strip
    }

    fn mac(&self) -> MacAddr {
        self.faults.mac.unwrap_or(self.identity.mac)
    }

    /// The MAC as SMART firmware writes it: `48-22-54-00-00-01`.
    pub fn mac_dashed(&self) -> String {
        self.mac().to_string().replace(':', "-")
    }

    pub fn device_id(&self) -> &str {
        &self.identity.device_id
    }

    /// The device came back from a reboot: relays keep their state, on-times restart. After a
    /// `reset_stays` factory reset it comes back with factory defaults instead: no nickname
    /// (the app gives one at setup), no account, every relay off.
    pub fn booted(&mut self, now: Instant) {
        if std::mem::take(&mut self.reset_pending) {
            self.identity.alias.clear();
            self.bound = false;
            self.relay.on = false;
            for o in &mut self.outlets {
                o.nickname.clear();
                o.relay.on = false;
            }
        }
        self.relay.restart(now);
        for o in &mut self.outlets {
            o.relay.restart(now);
        }
    }

    /// Answers one request. Whatever it holds, the answer is an envelope with an
    /// `error_code`; an effect comes back for a reboot or reset the device accepted.
    pub fn handle(&mut self, request: &Value, now: Instant) -> (Value, Option<Effect>) {
        let mut effect = None;
        let reply = match request.get("method").and_then(Value::as_str) {
            Some(method) => envelope(self.call(method, params_of(request), now, &mut effect, None)),
            None => json!({"error_code": code::PARAMS_ERROR}),
        };
        (reply, effect)
    }

    /// One method, for the device itself (`child` None) or one of its outlets.
    fn call(
        &mut self,
        method: &str,
        params: &Value,
        now: Instant,
        effect: &mut Option<Effect>,
        child: Option<usize>,
    ) -> Answer {
        match (method, child) {
            ("multipleRequest", _) => self.multiple(params, now, effect, child).map(Some),
            ("control_child", None) if self.is_strip() => self.control_child(params, now, effect),
            (_, None) => self.parent_call(method, params, now, effect),
            (_, Some(i)) => self.outlet_call(i, method, params, now),
        }
    }

    /// Answers each request in turn and stops after the first that fails, which is answered
    /// with its error: real firmware does not go on, and python-kasa asks again one by one for
    /// whatever is missing.
    fn multiple(
        &mut self,
        params: &Value,
        now: Instant,
        effect: &mut Option<Effect>,
        child: Option<usize>,
    ) -> Result<Value, Refused> {
        let requests = params
            .get("requests")
            .and_then(Value::as_array)
            .ok_or(code::PARAMS_ERROR)?;
        let mut responses = Vec::new();
        for request in requests {
            let Some(method) = request.get("method").and_then(Value::as_str) else {
                responses.push(json!({"error_code": code::PARAMS_ERROR}));
                break;
            };
            let answer = self.call(method, params_of(request), now, effect, child);
            let failed = answer.is_err();
            let mut response = Map::new();
            response.insert("method".into(), json!(method));
            if let Value::Object(rest) = envelope(answer) {
                response.extend(rest);
            }
            responses.push(Value::Object(response));
            if failed {
                break;
            }
        }
        Ok(json!({ "responses": responses }))
    }

    /// `control_child`: `requestData` (itself possibly a multipleRequest) for one outlet,
    /// answered inside `responseData`.
    fn control_child(
        &mut self,
        params: &Value,
        now: Instant,
        effect: &mut Option<Effect>,
    ) -> Answer {
        let id = params["device_id"].as_str().ok_or(code::PARAMS_ERROR)?;
        let index = self
            .outlets
            .iter()
            .position(|o| o.device_id == id)
            .ok_or(code::PARAMS_ERROR)?;
        let data = &params["requestData"];
        let method = data["method"].as_str().ok_or(code::PARAMS_ERROR)?;
        let inner = self.call(method, params_of(data), now, effect, Some(index));
        Ok(Some(json!({ "responseData": envelope(inner) })))
    }

    fn parent_call(
        &mut self,
        method: &str,
        params: &Value,
        now: Instant,
        effect: &mut Option<Effect>,
    ) -> Answer {
        match method {
            "get_device_info" => Ok(Some(self.device_info(now))),
            "get_connect_cloud_state" => Ok(Some(self.cloud_state())),
            "get_device_time" => self.captured(&self.profile.methods, method).map(|t| {
                t.map(|mut t| {
                    t["timestamp"] = json!(chrono::Utc::now().timestamp());
                    t
                })
            }),
            "device_reboot" | "device_reset" if self.faults.button_only => Err(Refused {
                code: code::UNKNOWN_METHOD,
                msg: None,
            }),
            "device_reboot" => {
                let delay = delay_param(params)?;
                self.journal.record("reboot");
                // `reboot_ignored`: acknowledged and journaled, then dropped.
                if !self.faults.reboot_ignored {
                    *effect = effect.or(Some(Effect::Reboot { delay }));
                }
                Ok(None)
            }
            "device_reset" => {
                if let Some(refusal) = self.faults.reset_refused {
                    return Err(Refused {
                        code: refusal.smart_code(),
                        msg: self.faults.err_msg.clone(),
                    });
                }
                let delay = delay_param(params)?;
                self.journal.record("reset");
                let next = if self.faults.reset_stays {
                    self.reset_pending = true;
                    Effect::Reboot { delay }
                } else {
                    Effect::Reset {
                        delay: self.faults.reset_departure(delay),
                    }
                };
                *effect = effect.or(Some(next));
                Ok(None)
            }
            "set_device_info" => {
                let change = InfoChange::parse(params)?;
                if change.on.is_some() && self.is_strip() {
                    // A strip has no relay of its own; its outlets are switched one by one.
                    return Err(code::PARAMS_ERROR.into());
                }
                if change.on == Some(true) && self.faults.on_refused {
                    return Err(code::UNKNOWN_METHOD.into());
                }
                if let Some(on) = change.on {
                    self.relay.set(on, now);
                }
                if let Some(nickname) = change.nickname {
                    self.identity.alias = nickname;
                }
                Ok(None)
            }
            "get_child_device_list" if self.is_strip() => {
                let list = (0..self.outlets.len())
                    .map(|i| self.outlet_info(i, now))
                    .collect();
                page(list, "child_device_list", params).map(Some)
            }
            "get_child_device_component_list" if self.is_strip() => {
                let components = self
                    .profile
                    .child
                    .as_ref()
                    .map(|c| c["component_nego"]["component_list"].clone())
                    .unwrap_or_else(|| json!([]));
                let list = self
                    .outlets
                    .iter()
                    .map(|o| json!({"component_list": components, "device_id": o.device_id}))
                    .collect();
                page(list, "child_component_list", params).map(Some)
            }
            _ => self.captured(&self.profile.methods, method),
        }
    }

    fn outlet_call(&mut self, index: usize, method: &str, params: &Value, now: Instant) -> Answer {
        match method {
            "get_device_info" => Ok(Some(self.outlet_info(index, now))),
            "get_connect_cloud_state" => Ok(Some(self.cloud_state())),
            "set_device_info" => {
                let change = InfoChange::parse(params)?;
                if change.on == Some(true) && self.faults.on_refused {
                    return Err(code::UNKNOWN_METHOD.into());
                }
                let outlet = &mut self.outlets[index];
                if let Some(on) = change.on {
                    outlet.relay.set(on, now);
                }
                if let Some(nickname) = change.nickname {
                    outlet.nickname = nickname;
                }
                Ok(None)
            }
            _ => match &self.profile.child {
                Some(child) => self.captured(child, method),
                None => Err(code::UNKNOWN_METHOD.into()),
            },
        }
    }

    /// The captured answer: a result, or the error code the device gave.
    fn captured(&self, methods: &Value, method: &str) -> Answer {
        match methods.get(method) {
            Some(Value::Number(n)) => Err(n.as_i64().unwrap_or(code::UNKNOWN_METHOD).into()),
            Some(result) => Ok(Some(result.clone())),
            None => Err(code::UNKNOWN_METHOD.into()),
        }
    }
}

/// A request's `params`: absent or `null` (python-kasa sends `null` inside `requestData`)
/// mean none.
fn params_of(request: &Value) -> &Value {
    static EMPTY: Value = Value::Null;
    match request.get("params") {
        Some(p) if p.is_object() => p,
        _ => &EMPTY,
    }
}

/// The `delay` of a reboot or reset: absent means 1 (python-kasa sends `device_reset`
/// without params); present, it must be a non-negative integer.
fn delay_param(params: &Value) -> Result<u64, i64> {
    match params.get("delay") {
        None => Ok(1),
        Some(d) => d.as_u64().ok_or(code::PARAMS_ERROR),
    }
}

/// One page of a list, from `start_index`, with the list's total in `sum`.
fn page(list: Vec<Value>, key: &str, params: &Value) -> Result<Value, Refused> {
    let start = match params.get("start_index") {
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(code::PARAMS_ERROR)?,
    };
    let sum = list.len();
    let items: Vec<Value> = list.into_iter().skip(start).take(CHILD_PAGE).collect();
    Ok(json!({ key: items, "start_index": start, "sum": sum }))
}

fn envelope(answer: Answer) -> Value {
    match answer {
        Ok(Some(result)) => json!({"error_code": 0, "result": result}),
        Ok(None) => json!({"error_code": 0}),
        Err(Refused { code, msg: None }) => json!({ "error_code": code }),
        Err(Refused {
            code,
            msg: Some(msg),
        }) => json!({ "error_code": code, "msg": msg }),
    }
}

mod info;
#[cfg(test)]
mod tests;
