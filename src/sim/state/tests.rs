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
    let bad = json!({"context":{"child_ids":["nope"]},"system":{"set_relay_state":{"state":0}}});
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

#[test]
fn a_button_only_device_answers_reads_and_refuses_reboot_and_reset_as_unknown_methods() {
    let faults = Faults::parse("button_only").unwrap();
    let (mut d, now) = device("HS110", faults);
    let (reply, _) = d.handle(&json!({"system":{"get_sysinfo":{}}}), now);
    assert_eq!(reply["system"]["get_sysinfo"]["err_code"], 0);
    for method in ["reboot", "reset"] {
        let (reply, effect) = d.handle(&json!({"system":{method:{"delay":1}}}), now);
        assert_eq!(
            reply["system"][method],
            json!({"err_code":-2,"err_msg":"member not support"}),
            "{method}"
        );
        assert_eq!(effect, None, "{method}");
    }
}

#[test]
fn outputs_are_the_plug_s_relay_or_each_outlet_s_as_switched() {
    let (mut plug, now) = device("HS110", Faults::default());
    assert_eq!(plug.outputs(), [true]);
    plug.handle(&json!({"system":{"set_relay_state":{"state":0}}}), now);
    assert_eq!(plug.outputs(), [false]);
    let (mut strip, now) = device("HS300", Faults::default());
    assert_eq!(strip.outputs(), [true; 6]);
    let second = format!("{}01", strip.identity().device_id);
    strip.handle(
        &json!({"context":{"child_ids":[second]},"system":{"set_relay_state":{"state":0}}}),
        now,
    );
    assert_eq!(strip.outputs(), [true, false, true, true, true, true]);
}
