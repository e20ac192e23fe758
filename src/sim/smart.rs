//! One simulated SMART device (Tapo and current Kasa firmware): its state and how it answers a
//! SMART JSON request (`{"method":…,"params":…}` → `{"error_code":…,"result":…}`). No I/O,
//! like `state.rs` for IOT: the transport decrypts, this answers, the server carries out the
//! returned effect.

use std::net::IpAddr;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::catalog::Family;
use crate::inventory::MacAddr;

use super::JournalHandle;
use super::fault::Faults;
use super::relay::Relay;
use super::smart_profile::SmartProfile;
use super::state::{Effect, Identity};

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
}

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

    /// `get_connect_cloud_state`: python-kasa reads status 0 as connected; a device with no
    /// account reports 1, as the captures of factory-fresh devices do.
    fn cloud_state(&self) -> Value {
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
        if !self.is_strip() {
            obj.insert("device_on".into(), json!(self.relay.on));
            obj.insert("on_time".into(), json!(self.relay.on_time(now, self.scale)));
        }
        info
    }

    /// One outlet's `get_device_info`, also its entry in `get_child_device_list`.
    fn outlet_info(&self, index: usize, now: Instant) -> Value {
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
struct InfoChange {
    on: Option<bool>,
    nickname: Option<String>,
}

impl InfoChange {
    fn parse(params: &Value) -> Result<InfoChange, i64> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::fault::Refusal;

    fn device(model: &str, faults: Faults) -> (SmartState, Instant) {
        let profile = SmartProfile::for_model(model).unwrap();
        let identity = Identity {
            model: profile.discovery_model().to_string(),
            alias: "Lobby".into(),
            mac: "AA:BB:CC:00:00:01".parse().unwrap(),
            device_id: "80061234".into(),
            hw_id: "HW".into(),
        };
        let now = Instant::now();
        let ip = "127.0.0.9".parse().unwrap();
        (
            SmartState::new(profile, identity, ip, faults, 1.0, now, true),
            now,
        )
    }

    fn call(d: &mut SmartState, request: Value, now: Instant) -> (Value, Option<Effect>) {
        d.handle(&request, now)
    }

    #[test]
    fn device_info_carries_the_generated_identity_in_smart_encodings() {
        let (mut d, now) = device("P110", Faults::default());
        let (reply, effect) = call(&mut d, json!({"method": "get_device_info"}), now);
        assert_eq!(reply["error_code"], 0);
        let info = &reply["result"];
        assert_eq!(info["nickname"], "TG9iYnk=", "base64 of Lobby");
        assert_eq!(info["ssid"], B64.encode(SSID));
        assert_eq!(info["mac"], "AA-BB-CC-00-00-01");
        assert_eq!(info["device_id"], "80061234");
        assert_eq!(info["ip"], "127.0.0.9");
        assert_eq!(info["model"], "P110");
        assert_eq!(info["region"], "Europe/London", "from the capture");
        assert_eq!(info["device_on"], false);
        assert_eq!(effect, None);
    }

    #[test]
    fn on_time_advances_in_device_time_and_restarts_at_boot_with_the_relay_kept() {
        let (mut d, now) = device("P110", Faults::default());
        call(
            &mut d,
            json!({"method": "set_device_info", "params": {"device_on": true}}),
            now,
        );
        let later = now + Duration::from_secs(40);
        let info = d.device_info(later);
        assert_eq!(
            (info["device_on"].clone(), info["on_time"].clone()),
            (json!(true), json!(40))
        );
        d.booted(later);
        let info = d.device_info(later);
        assert_eq!(
            (info["device_on"].clone(), info["on_time"].clone()),
            (json!(true), json!(0))
        );
        assert_eq!(info["nickname"], "TG9iYnk=", "settings are kept");
    }

    #[test]
    fn reboot_and_reset_return_effects_and_reset_refused_answers_a_smart_code() {
        let (mut d, now) = device("P100", Faults::default());
        let (reply, effect) = call(
            &mut d,
            json!({"method": "device_reboot", "params": {"delay": 3}}),
            now,
        );
        assert_eq!(reply, json!({"error_code": 0}));
        assert_eq!(effect, Some(Effect::Reboot { delay: 3 }));
        let (reply, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!(reply, json!({"error_code": 0}));
        assert_eq!(effect, Some(Effect::Reset { delay: 1 }));
        let (reply, effect) = call(
            &mut d,
            json!({"method": "device_reboot", "params": {"delay": "soon"}}),
            now,
        );
        assert_eq!((reply, effect), (json!({"error_code": -1008}), None));

        let refused = Faults {
            reset_refused: Some(Refusal(None)),
            ..Faults::default()
        };
        let (mut d, now) = device("P100", refused);
        let (reply, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!((reply, effect), (json!({"error_code": -1008}), None));
    }

    #[test]
    fn a_reset_stays_device_comes_back_unbound_and_nameless_with_relays_off() {
        let faults = Faults {
            reset_stays: true,
            ..Faults::default()
        };
        let (mut d, now) = device("P304M", faults);
        let (_, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!(effect, Some(Effect::Reboot { delay: 1 }));
        assert!(d.is_bound(), "settings last until the restart");
        d.booted(now);
        assert!(!d.is_bound());
        let (reply, _) = call(&mut d, json!({"method": "get_connect_cloud_state"}), now);
        assert_eq!(reply["result"], json!({"status": 1}));
        assert_eq!(d.device_info(now)["nickname"], "");
        let (reply, _) = call(&mut d, json!({"method": "get_child_device_list"}), now);
        let outlets = reply["result"]["child_device_list"].as_array().unwrap();
        assert!(outlets.iter().all(|o| o["device_on"] == false));
    }

    #[test]
    fn a_leave_after_device_acknowledges_a_reset_and_serves_on_unchanged_until_it_leaves() {
        let (mut d, now) = device("P110", Faults::parse("leave_after=40").unwrap());
        call(
            &mut d,
            json!({"method": "set_device_info", "params": {"device_on": true}}),
            now,
        );
        let (reply, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!(reply, json!({"error_code": 0}));
        assert_eq!(
            effect,
            Some(Effect::Reset { delay: 41 }),
            "the command's delay, then 40 s more"
        );
        let later = now + Duration::from_secs(30);
        let info = d.device_info(later);
        assert_eq!(info["nickname"], "TG9iYnk=", "settings kept");
        assert_eq!(
            (info["device_on"].clone(), info["on_time"].clone()),
            (json!(true), json!(30))
        );
        assert!(d.is_bound());
        let (reply, _) = call(&mut d, json!({"method": "get_connect_cloud_state"}), later);
        assert_eq!(reply["result"], json!({"status": 0}));
    }

    #[test]
    fn an_ignored_reboot_is_acknowledged_and_the_on_time_runs_on() {
        let (mut d, now) = device("P110", Faults::parse("reboot_ignored").unwrap());
        call(
            &mut d,
            json!({"method": "set_device_info", "params": {"device_on": true}}),
            now,
        );
        let (reply, effect) = call(
            &mut d,
            json!({"method": "device_reboot", "params": {"delay": 1}}),
            now,
        );
        assert_eq!((reply, effect), (json!({"error_code": 0}), None));
        assert_eq!(d.device_info(now + Duration::from_secs(90))["on_time"], 90);
        let (_, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!(
            effect,
            Some(Effect::Reset { delay: 1 }),
            "resets still happen"
        );
    }

    #[test]
    fn err_msg_goes_beside_the_reset_refusal_code_and_nowhere_else() {
        let text = "\u{1b}[2J\u{1b}[H[ 9/9] forged succeeded\nnext";
        let faults =
            Faults::parse(r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext").unwrap();
        let (mut d, now) = device("P100", faults);
        let (reply, effect) = call(&mut d, json!({"method": "device_reset"}), now);
        assert_eq!(reply, json!({"error_code": -1008, "msg": text}));
        assert_eq!(effect, None);
        let (reply, _) = call(
            &mut d,
            json!({"method": "multipleRequest", "params": {"requests": [
                {"method": "get_device_info"}, {"method": "device_reset"}]}}),
            now,
        );
        assert_eq!(
            reply["result"]["responses"][1],
            json!({"method": "device_reset", "error_code": -1008, "msg": text})
        );
        let (reply, _) = call(&mut d, json!({"method": "frobnicate"}), now);
        assert_eq!(
            reply,
            json!({"error_code": -1002}),
            "other refusals stay bare"
        );
        let (mut plain, now) = device("P100", Faults::parse("reset_refused=-40106").unwrap());
        let (reply, _) = call(&mut plain, json!({"method": "device_reset"}), now);
        assert_eq!(
            reply,
            json!({"error_code": -40106}),
            "no text without the fault"
        );
    }

    #[test]
    fn a_bound_device_reports_the_cloud_connected() {
        let (mut d, now) = device("KP125M", Faults::default());
        let (reply, _) = call(&mut d, json!({"method": "get_connect_cloud_state"}), now);
        assert_eq!(reply, json!({"error_code": 0, "result": {"status": 0}}));
    }

    #[test]
    fn unknown_methods_answer_minus_1002_and_captured_errors_are_replayed() {
        let (mut d, now) = device("P100", Faults::default());
        let (reply, _) = call(&mut d, json!({"method": "frobnicate"}), now);
        assert_eq!(reply, json!({"error_code": -1002}));
        let (reply, _) = call(&mut d, json!({"params": {}}), now);
        assert_eq!(reply, json!({"error_code": -1008}));
        let (reply, _) = call(&mut d, json!({"method": "get_child_device_list"}), now);
        assert_eq!(reply, json!({"error_code": -1002}), "a plug has no outlets");
        let mut p = SmartProfile::for_model("P100").unwrap();
        p.methods["get_device_usage"] = json!(-1001);
        let (d0, _) = device("P100", Faults::default());
        let mut d = SmartState::new(
            p,
            d0.identity.clone(),
            d0.ip,
            Faults::default(),
            1.0,
            now,
            true,
        );
        let (reply, _) = call(&mut d, json!({"method": "get_device_usage"}), now);
        assert_eq!(reply, json!({"error_code": -1001}));
    }

    #[test]
    fn multiple_request_answers_in_order_and_stops_at_the_first_error() {
        let (mut d, now) = device("P110", Faults::default());
        let request = json!({"method": "multipleRequest", "params": {"requests": [
            {"method": "component_nego"},
            {"method": "set_device_info", "params": {"device_on": true}},
            {"method": "no_such_method"},
            {"method": "device_reboot", "params": {"delay": 1}},
        ]}});
        let (reply, effect) = call(&mut d, request, now);
        assert_eq!(reply["error_code"], 0);
        let responses = reply["result"]["responses"].as_array().unwrap();
        assert_eq!(responses.len(), 3, "{reply}");
        assert_eq!(responses[0]["method"], "component_nego");
        assert_eq!(responses[0]["error_code"], 0);
        assert!(responses[0]["result"]["component_list"].is_array());
        assert_eq!(
            responses[1],
            json!({"method": "set_device_info", "error_code": 0})
        );
        assert_eq!(
            responses[2],
            json!({"method": "no_such_method", "error_code": -1002})
        );
        assert_eq!(effect, None, "the reboot after the error was never run");
        assert_eq!(d.device_info(now)["device_on"], true);
    }

    #[test]
    fn control_child_switches_one_outlet_and_unwraps_a_nested_multiple_request() {
        let (mut d, now) = device("P300", Faults::default());
        let (reply, _) = call(&mut d, json!({"method": "get_child_device_list"}), now);
        let list = &reply["result"];
        assert_eq!(
            (list["start_index"].clone(), list["sum"].clone()),
            (json!(0), json!(3))
        );
        let outlets = list["child_device_list"].as_array().unwrap();
        let ids: Vec<&str> = outlets
            .iter()
            .map(|o| o["device_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["8006123400", "8006123401", "8006123402"]);
        assert_eq!(outlets[1]["position"], 2);
        assert_eq!(outlets[1]["mac"], "AABBCC000001");
        assert!(outlets.iter().all(|o| o["device_on"] == true));

        let off = json!({"method": "control_child", "params": {"device_id": "8006123401",
            "requestData": {"method": "set_device_info", "params": {"device_on": false}}}});
        let (reply, _) = call(&mut d, off, now);
        assert_eq!(
            reply,
            json!({"error_code": 0, "result": {"responseData": {"error_code": 0}}})
        );
        let nested = json!({"method": "control_child", "params": {"device_id": "8006123401",
            "requestData": {"method": "multipleRequest", "params": {"requests": [
                {"method": "get_device_info", "params": null},
                {"method": "get_device_usage"}]}}}});
        let (reply, _) = call(&mut d, nested, now);
        let responses = &reply["result"]["responseData"]["result"]["responses"];
        assert_eq!(responses[0]["result"]["device_on"], false);
        assert_eq!(responses[0]["result"]["on_time"], 0);
        assert!(responses[1]["result"]["time_usage"].is_object());
        let (reply, _) = call(&mut d, json!({"method": "get_child_device_list"}), now);
        let states: Vec<bool> = reply["result"]["child_device_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["device_on"].as_bool().unwrap())
            .collect();
        assert_eq!(states, [true, false, true]);

        let unknown = json!({"method": "control_child", "params": {"device_id": "nope",
            "requestData": {"method": "get_device_info"}}});
        assert_eq!(call(&mut d, unknown, now).0, json!({"error_code": -1008}));
        let strip_relay = json!({"method": "set_device_info", "params": {"device_on": false}});
        assert_eq!(
            call(&mut d, strip_relay, now).0,
            json!({"error_code": -1008})
        );
    }

    #[test]
    fn child_lists_page_from_start_index() {
        let (mut d, now) = device("P304M", Faults::default());
        let (reply, _) = call(
            &mut d,
            json!({"method": "get_child_device_component_list", "params": {"start_index": 3}}),
            now,
        );
        let page = &reply["result"];
        assert_eq!(
            (page["start_index"].clone(), page["sum"].clone()),
            (json!(3), json!(4))
        );
        let list = page["child_component_list"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["device_id"], "8006123403");
        assert!(list[0]["component_list"].as_array().unwrap().len() > 3);
        let (reply, _) = call(
            &mut d,
            json!({"method": "get_child_device_list", "params": {"start_index": "x"}}),
            now,
        );
        assert_eq!(reply, json!({"error_code": -1008}));
    }

    #[test]
    fn set_device_info_renames_with_base64_and_refuses_bad_values_whole() {
        let (mut d, now) = device("EP25", Faults::default());
        let bad =
            json!({"method": "set_device_info", "params": {"device_on": true, "nickname": "%%%"}});
        assert_eq!(call(&mut d, bad, now).0, json!({"error_code": -1008}));
        assert_eq!(
            d.device_info(now)["device_on"],
            true,
            "from the capture, unchanged"
        );
        let rename =
            json!({"method": "set_device_info", "params": {"nickname": B64.encode("Hall")}});
        assert_eq!(call(&mut d, rename, now).0, json!({"error_code": 0}));
        assert_eq!(d.device_info(now)["nickname"], B64.encode("Hall"));
    }

    #[test]
    fn the_mac_fault_replaces_the_reported_mac_everywhere() {
        let faults = Faults {
            mac: Some("11:22:33:44:55:66".parse().unwrap()),
            ..Faults::default()
        };
        let (d, now) = device("P300", faults);
        assert_eq!(d.device_info(now)["mac"], "11-22-33-44-55-66");
        assert_eq!(d.outlet_info(0, now)["mac"], "112233445566");
    }
}
