use serde_json::Value;

use super::*;
use crate::engine::job::command::{IntentDetail, PreState};

fn mark(ms: u64) -> HostMark {
    HostMark {
        boot_id: Some("b".into()),
        boottime_ms: ms,
    }
}

fn evidence(action: Action, arrival: Arrival, pre_on_time: Option<u64>) -> Evidence {
    Evidence {
        cut_short: false,
        action,
        intent: Some(IntentDetail {
            command: "x".into(),
            delay_s: 1,
            addr: None,
            time_scale: 1.0,
            host: mark(100_000),
            pre: PreState {
                host: mark(99_900),
                on_time_s: pre_on_time,
                bound: Some(true),
                settings: Settings {
                    alias: "Lobby".into(),
                    relay_on: Some(true),
                    outlets: vec![],
                },
            },
            upstream: None,
            protocol: None,
        }),
        arrival,
        went_away: false,
        came_back: false,
        left_network: false,
        outlet_off: false,
        outlet_on: false,
    }
}

fn device(on_time: u64, bound: bool) -> DeviceInfo {
    DeviceInfo {
        model: "HS110".into(),
        alias: "Lobby".into(),
        mac: "50:C7:BF:00:00:01".into(),
        device_id: "d".into(),
        kind: "k".into(),
        relay_on: Some(true),
        on_time: Some(on_time),
        children: vec![],
        bound: Some(bound),
        raw: Value::Null,
        cloud_raw: None,
    }
}

/// 70 s after the intent, 70.1 s after the probe.
fn since_70() -> Since {
    Since {
        intent: Some(70.0),
        probe: Some(70.1),
    }
}

fn verdict(j: Judgement) -> Verdict {
    match j {
        Judgement::Done(v) => v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn not_verified(j: Judgement) -> String {
    match verdict(j) {
        Err(Fail(Reason::NotVerified, why)) => why,
        other => panic!("expected not_verified, got {other:?}"),
    }
}

#[test]
fn a_reboot_whose_on_time_restarted_after_the_intent_succeeded() {
    let ev = evidence(Action::PowerCycle, Arrival::Acknowledged, Some(1000));
    let v = verdict(judge(
        &ev,
        Observation::Present(&device(5, true)),
        since_70(),
    ));
    assert!(v.unwrap().contains("restarted about 65 s after the intent"));
}

#[test]
fn a_device_up_since_before_the_intent_did_not_reboot_whatever_it_acknowledged() {
    for arrival in [Arrival::Unknown, Arrival::Acknowledged] {
        let ev = evidence(Action::PowerCycle, arrival.clone(), Some(1000));
        let why = not_verified(judge(
            &ev,
            Observation::Present(&device(1070, true)),
            since_70(),
        ));
        assert!(why.contains("not sent again"), "{why}");
        assert!(why.contains("no restart"), "{why}");
    }
}

#[test]
fn an_on_time_larger_than_the_device_can_have_counted_is_not_evidence() {
    // 1000 s at the probe, 70 s ago: 1200 s now is impossible for one unbroken clock.
    let ev = evidence(Action::PowerCycle, Arrival::Acknowledged, Some(1000));
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(1200, true)),
        since_70(),
    ));
    assert!(why.contains("more than it can have counted"), "{why}");
}

#[test]
fn without_a_measurable_time_since_the_intent_nothing_is_claimed() {
    let ev = evidence(Action::PowerCycle, Arrival::Acknowledged, Some(1000));
    // The host rebooted between the run and the resume: no time since the intent.
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(5, true)),
        Since::default(),
    ));
    assert!(why.contains("can't measure"), "{why}");
    let mut old = ev.clone();
    old.intent = None;
    let why = not_verified(judge(
        &old,
        Observation::Present(&device(5, true)),
        since_70(),
    ));
    assert!(why.contains("without clock marks"), "{why}");
}

#[test]
fn an_on_time_near_the_time_since_the_intent_is_too_close_to_tell() {
    let ev = evidence(Action::PowerCycle, Arrival::Unknown, Some(0));
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(70, true)),
        since_70(),
    ));
    assert!(why.contains("too close"), "{why}");
}

#[test]
fn a_relay_switched_on_after_the_probe_proves_nothing() {
    let ev = evidence(Action::PowerCycle, Arrival::Unknown, None);
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(5, true)),
        since_70(),
    ));
    assert!(why.contains("no relay on before"), "{why}");
}

#[test]
fn a_reboot_that_came_back_with_other_settings_is_not_verified() {
    let ev = evidence(Action::PowerCycle, Arrival::Acknowledged, Some(1000));
    let mut renamed = device(5, true);
    renamed.alias = "TP-LINK_Smart Plug".into();
    let why = not_verified(judge(&ev, Observation::Returned(&renamed), since_70()));
    assert!(why.contains("alias changed"), "{why}");
    assert!(
        verdict(judge(
            &ev,
            Observation::Returned(&device(2, true)),
            since_70()
        ))
        .is_ok()
    );
}

#[test]
fn a_power_cycle_found_away_waits_for_the_device_to_return() {
    let ev = evidence(Action::PowerCycle, Arrival::Unknown, Some(1000));
    assert_eq!(
        judge(&ev, Observation::Away, since_70()),
        Judgement::AwaitReturn
    );
}

#[test]
fn the_run_s_own_sightings_settle_a_power_cycle_that_is_back() {
    let mut ev = evidence(Action::PowerCycle, Arrival::Acknowledged, Some(1000));
    ev.went_away = true;
    // Back long ago: its on-time alone would no longer show the restart.
    let v = verdict(judge(
        &ev,
        Observation::Present(&device(68, true)),
        since_70(),
    ));
    assert!(v.unwrap().contains("the run saw it go away"));
}

#[test]
fn a_reset_that_was_acknowledged_and_is_gone_succeeded_but_without_an_ack_it_is_not_verified() {
    for arrival in [
        Arrival::Acknowledged,
        Arrival::SentNoAck,
        Arrival::Unreadable,
    ] {
        let ev = evidence(Action::FactoryReset, arrival, Some(1000));
        assert!(verdict(judge(&ev, Observation::Away, since_70())).is_ok());
    }
    let ev = evidence(Action::FactoryReset, Arrival::Unknown, Some(1000));
    let why = not_verified(judge(&ev, Observation::Away, since_70()));
    assert!(why.contains("no acknowledgement was recorded"), "{why}");
    assert!(why.contains("Check it on site"), "{why}");
}

#[test]
fn a_reset_device_still_bound_is_not_verified_and_an_unbound_one_succeeded() {
    let ev = evidence(Action::FactoryReset, Arrival::Acknowledged, Some(1000));
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(1070, true)),
        since_70(),
    ));
    assert!(why.contains("acknowledged the reset but is still"), "{why}");
    assert!(why.contains("not sent again"), "{why}");
    let ok = verdict(judge(
        &ev,
        Observation::Present(&device(3, false)),
        since_70(),
    ));
    assert!(ok.unwrap().contains("factory defaults"));

    let unsent = evidence(Action::FactoryReset, Arrival::Unknown, Some(1000));
    let why = not_verified(judge(
        &unsent,
        Observation::Present(&device(1070, true)),
        since_70(),
    ));
    assert!(why.contains("no sign the reset reached it"), "{why}");
}

#[test]
fn a_device_never_bound_proves_nothing_by_being_unbound() {
    let mut ev = evidence(Action::FactoryReset, Arrival::Acknowledged, Some(1000));
    if let Some(i) = ev.intent.as_mut() {
        i.pre.bound = Some(false);
    }
    let why = not_verified(judge(
        &ev,
        Observation::Present(&device(1070, false)),
        since_70(),
    ));
    assert!(why.contains("not sent again"), "{why}");
}

#[test]
fn a_recorded_refusal_stands_whatever_the_device_shows() {
    let refused = Fail(Reason::DeviceError, "the device refused the reset".into());
    let ev = evidence(
        Action::FactoryReset,
        Arrival::Refused(refused.clone()),
        Some(1),
    );
    assert_eq!(
        judge(&ev, Observation::Away, since_70()),
        Judgement::Done(Err(refused))
    );
}

#[test]
fn without_a_recorded_acknowledgement_what_the_device_shows_is_not_claimed_as_success() {
    // The relay's on-time restarts when someone switches it, not only at a reboot; a device
    // that was away and came back may have lost power. Neither proves the command arrived.
    let ev = evidence(Action::PowerCycle, Arrival::Unknown, Some(1000));
    for obs in [
        Observation::Present(&device(5, true)),
        Observation::Returned(&device(2, true)),
    ] {
        let why = not_verified(judge(&ev, obs, since_70()));
        assert!(
            why.contains("no acknowledgement of the command was recorded"),
            "{why}"
        );
        assert!(why.ends_with("not sent again"), "{why}");
    }
    let reset = evidence(Action::FactoryReset, Arrival::Unknown, Some(1000));
    let why = not_verified(judge(
        &reset,
        Observation::Present(&device(3, false)),
        since_70(),
    ));
    assert!(why.contains("factory defaults"), "{why}");
    assert!(
        why.contains("no acknowledgement of the command was recorded"),
        "{why}"
    );
    // With the acknowledgement recorded, the same sightings are successes.
    let acked = evidence(Action::PowerCycle, Arrival::SentNoAck, Some(1000));
    assert!(
        verdict(judge(
            &acked,
            Observation::Returned(&device(2, true)),
            since_70()
        ))
        .is_ok()
    );
}
