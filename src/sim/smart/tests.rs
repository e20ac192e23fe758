use std::time::Duration;

use base64::Engine;

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
    let rename = json!({"method": "set_device_info", "params": {"nickname": B64.encode("Hall")}});
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

#[test]
fn a_button_only_smart_device_refuses_reboot_and_reset_as_unknown_methods() {
    let (mut d, now) = device("P110", Faults::parse("button_only").unwrap());
    let (reply, _) = call(&mut d, json!({"method": "get_device_info"}), now);
    assert_eq!(reply["error_code"], 0);
    for method in ["device_reboot", "device_reset"] {
        let (reply, effect) = call(&mut d, json!({"method": method}), now);
        assert_eq!(reply["error_code"], code::UNKNOWN_METHOD, "{method}");
        assert_eq!(effect, None, "{method}");
    }
}

#[test]
fn a_smart_strip_s_outputs_are_its_outlets() {
    let (d, _) = device("P300", Faults::default());
    assert_eq!(d.outputs().len(), 3);
    let (plug, _) = device("P110", Faults::default());
    assert_eq!(plug.outputs(), [false], "the capture's relay is off");
}
