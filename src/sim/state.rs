//! One simulated IOT device's state and how it answers a request. No I/O: the server feeds it
//! decoded requests and the current time, and carries out the effects it returns.

use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::catalog::Family;
use crate::device::SIM_TIME_SCALE_FIELD;
use crate::inventory::MacAddr;

use super::JournalHandle;
use super::fault::Faults;
use super::profile::Profile;
use super::relay::Relay;

/// Something the server must do after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Go dark after `delay` seconds (device time), come back after the boot time.
    Reboot { delay: u64 },
    /// Leave the network after `delay` seconds (device time), for good. `delay` is the
    /// command's own delay plus any `leave_after` ([`Faults::reset_departure`]): until then
    /// the device serves on unchanged.
    Reset { delay: u64 },
    /// Answer nothing for `secs` seconds (device time) from now, then serve on unchanged.
    LinkDrop { secs: u64 },
}

/// Who the device is: fixed for its whole life, generated from the inventory row.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The model string reported, e.g. `KP303(UK)`.
    pub model: String,
    pub alias: String,
    pub mac: MacAddr,
    pub device_id: String,
    pub hw_id: String,
}

#[derive(Debug, Clone)]
struct Outlet {
    id: String,
    alias: String,
    relay: Relay,
}

/// The mutable state of one device.
#[derive(Debug, Clone)]
pub struct DeviceState {
    profile: Profile,
    family: Family,
    identity: Identity,
    faults: Faults,
    /// Device seconds per real second is `1 / scale`.
    scale: f64,
    relay: Relay,
    outlets: Vec<Outlet>,
    bound_to_cloud: bool,
    /// Where received reboots and resets are written.
    journal: JournalHandle,
    /// A `reset_stays` device restarts into factory defaults at its next boot.
    reset_pending: bool,
}

impl DeviceState {
    pub fn new(
        profile: Profile,
        family: Family,
        identity: Identity,
        faults: Faults,
        scale: f64,
        now: Instant,
    ) -> Self {
        let sys = profile.sysinfo().clone();
        let captured_on = sys["relay_state"].as_u64() == Some(1)
            || sys["light_state"]["on_off"].as_u64() == Some(1);
        let relay = Relay::new(captured_on, sys["on_time"].as_u64().unwrap_or(0), now);
        let outlets = sys["children"]
            .as_array()
            .map(|children| {
                children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let on = c["state"].as_u64() == Some(1);
                        Outlet {
                            // Real strips number outlets as the parent's deviceId plus 00, 01, …
                            id: format!("{}{:02}", identity.device_id, i),
                            alias: format!("{} outlet {}", identity.alias, i + 1),
                            relay: Relay::new(on, c["on_time"].as_u64().unwrap_or(0), now),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        DeviceState {
            profile,
            family,
            identity,
            faults,
            scale,
            relay,
            outlets,
            bound_to_cloud: true,
            journal: JournalHandle::default(),
            reset_pending: false,
        }
    }

    /// Writes every reboot and reset this device accepts to `journal`.
    pub fn with_journal(mut self, journal: JournalHandle) -> Self {
        self.journal = journal;
        self
    }

    /// Whether the device starts bound to a cloud account. An XOR device always is (it has
    /// no login to tell); an IOT device behind KLAP is bound when its row names an account.
    pub fn with_binding(mut self, bound: bool) -> Self {
        self.bound_to_cloud = bound;
        self
    }

    pub fn is_bound(&self) -> bool {
        self.bound_to_cloud
    }

    fn journal(&self, command: &str) {
        self.journal.record(command);
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The device came back from a reboot: relays keep their state, on-times restart.
    pub fn booted(&mut self, now: Instant) {
        if std::mem::take(&mut self.reset_pending) {
            // Factory defaults: the setup alias, no account, relays off.
            self.identity.alias = format!("TP-LINK_Smart Plug_{}", &self.identity.device_id[..4]);
            self.bound_to_cloud = false;
            for relay in std::iter::once(&mut self.relay)
                .chain(self.outlets.iter_mut().map(|o| &mut o.relay))
            {
                relay.on = false;
            }
        }
        for relay in
            std::iter::once(&mut self.relay).chain(self.outlets.iter_mut().map(|o| &mut o.relay))
        {
            relay.restart(now);
        }
    }

    /// Switches output `index` (from 0: its own relay, or that outlet's) on, as the building
    /// keeps the plug that feeds another device. Not journaled: it is how the device starts.
    pub fn start_powering(&mut self, index: usize, now: Instant) {
        if self.outlets.is_empty() {
            if index == 0 && !self.relay.on {
                self.relay.set(true, now);
            }
        } else if let Some(outlet) = self.outlets.get_mut(index).filter(|o| !o.relay.on) {
            outlet.relay.set(true, now);
        }
    }

    /// What the device powers: its own relay, or each outlet's, in order.
    pub fn outputs(&self) -> Vec<bool> {
        if self.outlets.is_empty() {
            vec![self.relay.on]
        } else {
            self.outlets.iter().map(|o| o.relay.on).collect()
        }
    }

    fn is_bulb(&self) -> bool {
        matches!(self.family, Family::Bulb | Family::LightStrip)
    }

    fn system_modules(&self) -> &'static [&'static str] {
        if self.is_bulb() {
            &["system", "smartlife.iot.common.system"]
        } else {
            &["system"]
        }
    }

    fn cloud_module(&self) -> &'static str {
        if self.is_bulb() {
            "smartlife.iot.common.cloud"
        } else {
            "cnCloud"
        }
    }

    fn time_module(&self) -> &'static str {
        if self.is_bulb() {
            "smartlife.iot.common.timesetting"
        } else {
            "time"
        }
    }

    /// The sysinfo as the device reports it now.
    pub fn sysinfo(&self, now: Instant) -> Value {
        let mut sys = self.profile.sysinfo().clone();
        let obj = sys.as_object_mut().expect("profile sysinfo is an object");
        let mac = self.faults.mac.unwrap_or(self.identity.mac);
        if obj.contains_key("mic_mac") {
            obj.insert("mic_mac".into(), json!(mac.to_string().replace(':', "")));
        } else {
            obj.insert("mac".into(), json!(mac.to_string()));
        }
        obj.insert("model".into(), json!(self.identity.model));
        obj.insert("alias".into(), json!(self.identity.alias));
        obj.insert("deviceId".into(), json!(self.identity.device_id));
        obj.insert("hwId".into(), json!(self.identity.hw_id));
        obj.insert("err_code".into(), json!(0));
        obj.insert(SIM_TIME_SCALE_FIELD.into(), json!(self.scale));
        if self.is_bulb() {
            if let Some(ls) = obj.get_mut("light_state").and_then(Value::as_object_mut) {
                ls.insert("on_off".into(), json!(u8::from(self.relay.on)));
            }
        } else if self.outlets.is_empty() {
            obj.insert("relay_state".into(), json!(u8::from(self.relay.on)));
            obj.insert("on_time".into(), json!(self.relay.on_time(now, self.scale)));
        } else {
            let children: Vec<Value> = self
                .outlets
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id,
                        "alias": o.alias,
                        "state": u8::from(o.relay.on),
                        "on_time": o.relay.on_time(now, self.scale),
                        "next_action": {"type": -1},
                    })
                })
                .collect();
            obj.insert("child_num".into(), json!(children.len()));
            obj.insert("children".into(), Value::Array(children));
        }
        sys
    }

    /// Answers one decoded request. Every module and method in it gets an answer, mirroring
    /// the request's structure, the way real firmware does; every refusal in it carries the
    /// `err_msg` fault's text when the row gives one.
    pub fn handle(&mut self, request: &Value, now: Instant) -> (Value, Option<Effect>) {
        let (mut reply, effect) = self.answer_all(request, now);
        self.faults.reword_iot_refusals(&mut reply);
        (reply, effect)
    }

    fn answer_all(&mut self, request: &Value, now: Instant) -> (Value, Option<Effect>) {
        let Some(req) = request.as_object() else {
            return (
                json!({"err_code": -1, "err_msg": "module not support"}),
                None,
            );
        };
        let child_ids = match req.get("context") {
            None => None,
            Some(ctx) => match ctx.get("child_ids").and_then(Value::as_array) {
                Some(ids) => Some(
                    ids.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>(),
                ),
                None => Some(None),
            },
        };
        let mut reply = Map::new();
        let mut effect = None;
        for (module, methods) in req {
            if module == "context" {
                continue;
            }
            let Some(methods) = methods.as_object() else {
                reply.insert(module.clone(), error(-1, "module not support"));
                continue;
            };
            let known_module = self.system_modules().contains(&module.as_str())
                || module == self.cloud_module()
                || module == self.time_module()
                || self.profile.has_module(module);
            if !known_module {
                reply.insert(module.clone(), error(-1, "module not support"));
                continue;
            }
            let mut answers = Map::new();
            for (method, params) in methods {
                let (answer, eff) = self.answer(module, method, params, child_ids.as_ref(), now);
                effect = effect.or(eff);
                answers.insert(method.clone(), answer);
            }
            reply.insert(module.clone(), Value::Object(answers));
        }
        (Value::Object(reply), effect)
    }

    fn answer(
        &mut self,
        module: &str,
        method: &str,
        params: &Value,
        child_ids: Option<&Option<Vec<String>>>,
        now: Instant,
    ) -> (Value, Option<Effect>) {
        if self.system_modules().contains(&module) {
            match method {
                "get_sysinfo" => return (self.sysinfo(now), None),
                "reboot" | "reset" if self.faults.button_only => {
                    return (error(-2, "member not support"), None);
                }
                "set_relay_state" => {
                    let reply = self.set_relay(params, child_ids, now);
                    let off = params["state"].as_u64() == Some(0) && reply["err_code"] == 0;
                    let drop = self.faults.link_drop.filter(|_| off);
                    return (reply, drop.map(|secs| Effect::LinkDrop { secs }));
                }
                "reboot" => {
                    return match delay_param(params) {
                        // Acknowledged and journaled, like any reboot, then dropped.
                        Ok(_) if self.faults.reboot_ignored => {
                            self.journal("reboot");
                            (ok(), None)
                        }
                        Ok(delay) => {
                            self.journal("reboot");
                            (ok(), Some(Effect::Reboot { delay }))
                        }
                        Err(e) => (e, None),
                    };
                }
                "reset" => {
                    if let Some(refusal) = self.faults.reset_refused {
                        return (error(refusal.iot_code(), "reset refused"), None);
                    }
                    return match delay_param(params) {
                        Ok(delay) if self.faults.reset_stays => {
                            self.journal("reset");
                            self.reset_pending = true;
                            (ok(), Some(Effect::Reboot { delay }))
                        }
                        Ok(delay) => {
                            self.journal("reset");
                            let delay = self.faults.reset_departure(delay);
                            (ok(), Some(Effect::Reset { delay }))
                        }
                        Err(e) => (e, None),
                    };
                }
                "set_dev_alias" => {
                    return match params["alias"].as_str() {
                        Some(alias) => {
                            self.identity.alias = alias.chars().take(64).collect();
                            (ok(), None)
                        }
                        None => (error(-3, "invalid argument"), None),
                    };
                }
                _ => {}
            }
        }
        if module == self.cloud_module() && method == "get_info" {
            let mut info = self
                .profile
                .reply(module, method)
                .filter(|v| v.get("binded").is_some())
                .cloned()
                .unwrap_or_else(|| {
                    json!({"cld_connection": 1, "fwDlPage": "", "fwNotifyType": -1, "illegalType": 0,
                           "server": "n-devs.tplinkcloud.com", "stopConnect": 0, "tcspInfo": "",
                           "tcspStatus": 1, "username": "owner@example.com"})
                });
            info["binded"] = json!(u8::from(self.bound_to_cloud));
            info["err_code"] = json!(0);
            return (info, None);
        }
        if module == self.time_module() {
            match method {
                "get_time" => return (device_time(), None),
                "get_timezone" => return (json!({"index": 39, "err_code": 0}), None),
                _ => {}
            }
        }
        if module.ends_with("emeter") && self.profile.has_module(module) {
            // Captures hold only the realtime reading; history starts empty in the simulator.
            match method {
                "get_daystat" => return (json!({"day_list": [], "err_code": 0}), None),
                "get_monthstat" => return (json!({"month_list": [], "err_code": 0}), None),
                _ => {}
            }
        }
        match self.profile.reply(module, method) {
            Some(captured) => (captured.clone(), None),
            None => (error(-2, "member not support"), None),
        }
    }

    fn set_relay(
        &mut self,
        params: &Value,
        child_ids: Option<&Option<Vec<String>>>,
        now: Instant,
    ) -> Value {
        if self.is_bulb() {
            return error(-2, "member not support");
        }
        let on = match params["state"].as_u64() {
            Some(0) => false,
            Some(1) => true,
            _ => return error(-3, "invalid argument"),
        };
        if on && self.faults.on_refused {
            return error(-1, "module not support");
        }
        match child_ids {
            None if self.outlets.is_empty() => self.relay.set(on, now),
            // A strip without a context switches every outlet.
            None => self.outlets.iter_mut().for_each(|o| o.relay.set(on, now)),
            Some(None) => return error(-3, "invalid argument"),
            Some(Some(ids)) => {
                if ids.is_empty()
                    || ids
                        .iter()
                        .any(|id| !self.outlets.iter().any(|o| &o.id == id))
                {
                    return error(-14, "entry not exist");
                }
                for o in self.outlets.iter_mut().filter(|o| ids.contains(&o.id)) {
                    o.relay.set(on, now);
                }
            }
        }
        ok()
    }
}

/// The `delay` of a reboot or reset: absent means 1 (python-kasa sends `reset` without one);
/// present, it must be a non-negative integer.
fn delay_param(params: &Value) -> Result<u64, Value> {
    match params.get("delay") {
        None => Ok(1),
        Some(d) => d.as_u64().ok_or_else(|| error(-3, "invalid argument")),
    }
}

fn ok() -> Value {
    json!({"err_code": 0})
}

fn error(code: i64, msg: &str) -> Value {
    json!({"err_code": code, "err_msg": msg})
}

/// The device's local clock, as `time.get_time` reports it.
fn device_time() -> Value {
    use chrono::{Datelike, Timelike};
    let now = chrono::Local::now();
    json!({"year": now.year(), "month": now.month(), "mday": now.day(), "hour": now.hour(),
           "min": now.minute(), "sec": now.second(), "err_code": 0})
}
#[cfg(test)]
mod tests;
