//! One simulated IOT device's state and how it answers a request. No I/O: the server feeds it
//! decoded requests and the current time, and carries out the effects it returns.

use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::catalog::Family;
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
                "set_relay_state" => return (self.set_relay(params, child_ids, now), None),
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
mod tests {
    use super::*;
    use crate::catalog;

    fn device(model: &str, faults: Faults) -> (DeviceState, Instant) {
        let profile = Profile::for_model(model).unwrap();
        let family = catalog::lookup(model).family;
        let identity = Identity {
            model: profile.sysinfo()["model"].as_str().unwrap().to_string(),
            alias: "Lobby".into(),
            mac: "AA:BB:CC:00:00:01".parse().unwrap(),
            device_id: "80061234".into(),
            hw_id: "HW".into(),
        };
        let now = Instant::now();
        (
            DeviceState::new(profile, family, identity, faults, 1.0, now),
            now,
        )
    }

    #[test]
    fn sysinfo_carries_the_generated_identity_not_the_capture() {
        let (d, now) = device("HS110", Faults::default());
        let (reply, effect) = d.clone().handle(&json!({"system":{"get_sysinfo":{}}}), now);
        let sys = &reply["system"]["get_sysinfo"];
        assert_eq!(sys["alias"], "Lobby");
        assert_eq!(sys["mac"], "AA:BB:CC:00:00:01");
        assert_eq!(sys["deviceId"], "80061234");
        assert_eq!(sys["model"], "HS110(EU)");
        assert_eq!(sys["err_code"], 0);
        assert_eq!(effect, None);
    }

    #[test]
    fn bulbs_report_a_bare_hex_mic_mac() {
        let (d, now) = device("KL130", Faults::default());
        assert_eq!(d.sysinfo(now)["mic_mac"], "AABBCC000001");
        assert!(d.sysinfo(now).get("mac").is_none());
    }

    #[test]
    fn unknown_modules_and_methods_answer_like_real_firmware() {
        let (mut d, now) = device("HS100", Faults::default());
        let (reply, _) = d.handle(&json!({"nosuch":{"x":{}}, "system":{"frobnicate":{}}}), now);
        assert_eq!(
            reply["nosuch"],
            json!({"err_code":-1,"err_msg":"module not support"})
        );
        assert_eq!(
            reply["system"]["frobnicate"],
            json!({"err_code":-2,"err_msg":"member not support"})
        );
    }

    #[test]
    fn captured_modules_are_replayed() {
        let (mut d, now) = device("HS110", Faults::default());
        let (reply, _) = d.handle(&json!({"emeter":{"get_realtime":{}}}), now);
        assert_eq!(reply["emeter"]["get_realtime"]["err_code"], 0);
        assert!(reply["emeter"]["get_realtime"].get("voltage").is_some());
    }

    #[test]
    fn reboot_and_reset_return_effects_with_their_delay() {
        let (mut d, now) = device("HS103", Faults::default());
        let (reply, effect) = d.handle(&json!({"system":{"reboot":{"delay":3}}}), now);
        assert_eq!(reply["system"]["reboot"]["err_code"], 0);
        assert_eq!(effect, Some(Effect::Reboot { delay: 3 }));
        // python-kasa sends reset without a delay.
        let (_, effect) = d.handle(&json!({"system":{"reset":{}}}), now);
        assert_eq!(effect, Some(Effect::Reset { delay: 1 }));
        let (reply, effect) = d.handle(&json!({"system":{"reset":{"delay":"soon"}}}), now);
        assert_eq!(reply["system"]["reset"]["err_code"], -3);
        assert_eq!(effect, None);
    }

    #[test]
    fn refused_reset_answers_the_configured_code_and_does_nothing() {
        let faults = Faults {
            reset_refused: Some(crate::sim::fault::Refusal(Some(-7))),
            ..Faults::default()
        };
        let (mut d, now) = device("HS103", faults);
        let (reply, effect) = d.handle(&json!({"system":{"reset":{"delay":1}}}), now);
        assert_eq!(reply["system"]["reset"]["err_code"], -7);
        assert_eq!(effect, None);
    }

    #[test]
    fn strip_outlets_switch_one_by_one_by_full_child_id() {
        let (mut d, now) = device("HS300", Faults::default());
        let before = d.sysinfo(now);
        let first = before["children"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(first, "8006123400");
        let req = json!({"context":{"child_ids":[first]},"system":{"set_relay_state":{"state":0}}});
        let (reply, _) = d.handle(&req, now);
        assert_eq!(reply["system"]["set_relay_state"]["err_code"], 0);
        assert!(reply.get("context").is_none());
        let after = d.sysinfo(now);
        assert_eq!(after["children"][0]["state"], 0);
        assert_eq!(after["children"][0]["on_time"], 0);
        assert_eq!(
            after["children"][1]["state"],
            before["children"][1]["state"]
        );
        let bad =
            json!({"context":{"child_ids":["nope"]},"system":{"set_relay_state":{"state":0}}});
        assert_eq!(
            d.handle(&bad, now).0["system"]["set_relay_state"]["err_code"],
            -14
        );
    }

    #[test]
    fn booting_keeps_relays_and_restarts_on_time() {
        let (mut d, now) = device("HS110", Faults::default());
        d.handle(&json!({"system":{"set_relay_state":{"state":1}}}), now);
        let later = now + std::time::Duration::from_secs(50);
        let on_time = d.sysinfo(later)["on_time"].as_u64().unwrap();
        assert!(on_time >= 50, "{on_time}");
        d.booted(later);
        let sys = d.sysinfo(later);
        assert_eq!(sys["relay_state"], 1);
        assert_eq!(sys["on_time"], 0);
        assert_eq!(sys["alias"], "Lobby");
    }

    #[test]
    fn a_reset_stays_device_restarts_into_factory_defaults() {
        let faults = Faults {
            reset_stays: true,
            ..Faults::default()
        };
        let (mut d, now) = device("HS103", faults);
        let (reply, effect) = d.handle(&json!({"system":{"reset":{"delay":1}}}), now);
        assert_eq!(reply["system"]["reset"]["err_code"], 0);
        assert_eq!(effect, Some(Effect::Reboot { delay: 1 }));
        assert_eq!(
            d.sysinfo(now)["alias"],
            "Lobby",
            "settings last until the restart"
        );
        d.booted(now);
        let sys = d.sysinfo(now);
        assert!(sys["alias"].as_str().unwrap().starts_with("TP-LINK_"));
        assert_eq!(sys["relay_state"], 0);
        let (reply, _) = d.handle(&json!({"cnCloud":{"get_info":{}}}), now);
        assert_eq!(reply["cnCloud"]["get_info"]["binded"], 0);
    }

    #[test]
    fn a_leave_after_device_acknowledges_a_reset_and_serves_on_unchanged_until_it_leaves() {
        let (mut d, now) = device("HS103", Faults::parse("leave_after=40").unwrap());
        d.handle(&json!({"system":{"set_relay_state":{"state":1}}}), now);
        let (reply, effect) = d.handle(&json!({"system":{"reset":{"delay":1}}}), now);
        assert_eq!(reply["system"]["reset"], json!({"err_code": 0}));
        assert_eq!(
            effect,
            Some(Effect::Reset { delay: 41 }),
            "the command's delay, then 40 s more"
        );
        let later = now + std::time::Duration::from_secs(30);
        let sys = d.sysinfo(later);
        assert_eq!(
            (sys["alias"].clone(), sys["relay_state"].clone()),
            (json!("Lobby"), json!(1))
        );
        assert!(sys["on_time"].as_u64().unwrap() >= 30, "{}", sys["on_time"]);
        let (reply, _) = d.handle(&json!({"cnCloud":{"get_info":{}}}), later);
        assert_eq!(reply["cnCloud"]["get_info"]["binded"], 1, "still bound");
    }

    #[test]
    fn an_ignored_reboot_is_acknowledged_and_changes_nothing() {
        let (mut d, now) = device("HS110", Faults::parse("reboot_ignored").unwrap());
        d.handle(&json!({"system":{"set_relay_state":{"state":1}}}), now);
        let (reply, effect) = d.handle(&json!({"system":{"reboot":{"delay":1}}}), now);
        assert_eq!(reply["system"]["reboot"], json!({"err_code": 0}));
        assert_eq!(effect, None, "nothing to carry out");
        let later = now + std::time::Duration::from_secs(90);
        assert!(d.sysinfo(later)["on_time"].as_u64().unwrap() >= 90);
        let (reply, effect) = d.handle(&json!({"system":{"reboot":{"delay":"soon"}}}), now);
        assert_eq!(
            (reply["system"]["reboot"]["err_code"].clone(), effect),
            (json!(-3), None),
            "a bad delay is still refused"
        );
        let (_, effect) = d.handle(&json!({"system":{"reset":{}}}), now);
        assert_eq!(
            effect,
            Some(Effect::Reset { delay: 1 }),
            "resets still happen"
        );
    }

    #[test]
    fn err_msg_is_the_text_of_every_iot_refusal_and_of_nothing_else() {
        let text = "\u{1b}[2J\u{1b}[H[ 9/9] forged succeeded\nnext";
        let faults =
            Faults::parse(r"reset_refused;err_msg=\e[2J\e[H[ 9/9] forged succeeded\nnext").unwrap();
        let (mut d, now) = device("HS103", faults);
        let (reply, effect) = d.handle(&json!({"system":{"reset":{"delay":1}}}), now);
        assert_eq!(
            reply["system"]["reset"],
            json!({"err_code": -3, "err_msg": text})
        );
        assert_eq!(effect, None);
        let (reply, _) = d.handle(&json!({"nosuch":{"x":{}}, "system":{"frobnicate":{}}}), now);
        assert_eq!(reply["nosuch"], json!({"err_code": -1, "err_msg": text}));
        assert_eq!(
            reply["system"]["frobnicate"],
            json!({"err_code": -2, "err_msg": text})
        );
        assert_eq!(
            d.handle(&json!([1]), now).0,
            json!({"err_code": -1, "err_msg": text})
        );
        let (reply, _) = d.handle(&json!({"system":{"get_sysinfo":{}}}), now);
        assert_eq!(reply["system"]["get_sysinfo"], d.sysinfo(now));
        assert!(reply["system"]["get_sysinfo"].get("err_msg").is_none());
    }

    #[test]
    fn the_mac_fault_replaces_the_reported_mac() {
        let faults = Faults {
            mac: Some("11:22:33:44:55:66".parse().unwrap()),
            ..Faults::default()
        };
        let (d, now) = device("HS100", faults);
        assert_eq!(d.sysinfo(now)["mac"], "11:22:33:44:55:66");
    }

    #[test]
    fn cloud_binding_is_reported_in_the_family_namespace() {
        let (mut plug, now) = device("HS103", Faults::default());
        let (reply, _) = plug.handle(&json!({"cnCloud":{"get_info":{}}}), now);
        assert_eq!(reply["cnCloud"]["get_info"]["binded"], 1);
        let (mut bulb, now) = device("KL130", Faults::default());
        let (reply, _) = bulb.handle(&json!({"smartlife.iot.common.cloud":{"get_info":{}}}), now);
        assert_eq!(reply["smartlife.iot.common.cloud"]["get_info"]["binded"], 1);
        let (reply, effect) = bulb.handle(
            &json!({"smartlife.iot.common.system":{"reboot":{"delay":1}}}),
            now,
        );
        assert_eq!(
            reply["smartlife.iot.common.system"]["reboot"]["err_code"],
            0
        );
        assert_eq!(effect, Some(Effect::Reboot { delay: 1 }));
    }
}
