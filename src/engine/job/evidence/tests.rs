use super::*;
use crate::engine::job::command::PreState;
use crate::engine::job::verify::Settings;
use crate::model::StoredKind;

fn event(id: i64, kind: impl Into<StoredKind>, detail: Value) -> EventRow {
    EventRow {
        id,
        device_id: Some("d".into()),
        at: chrono::Utc::now(),
        state: None,
        kind: kind.into(),
        detail,
    }
}

fn mark(ms: u64) -> HostMark {
    HostMark {
        boot_id: Some("boot".into()),
        boottime_ms: ms,
    }
}

fn intent_at(ms: u64) -> Value {
    serde_json::to_value(IntentDetail {
        command: "reboot".into(),
        delay_s: 1,
        addr: Some("10.0.0.7:9999".into()),
        time_scale: 1.0,
        host: mark(ms),
        pre: PreState {
            host: mark(ms - 50),
            on_time_s: Some(1000),
            bound: Some(true),
            settings: Settings {
                alias: "a".into(),
                relay_on: Some(true),
                outlets: vec![],
            },
        },
        upstream: None,
        protocol: None,
    })
    .unwrap()
}

#[test]
fn resume_looks_over_the_protocol_the_command_went_over() {
    let mut switched = intent_at(10_000);
    switched["protocol"] = json!("smart-tpap");
    let events = [event(1, EventKind::Intent, switched)];
    let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
    assert_eq!(ev.sent_over(), Some(crate::device::ProtocolKind::SmartTpap));
    let events = [event(1, EventKind::Intent, intent_at(10_000))];
    let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
    assert_eq!(ev.sent_over(), None, "the link's protocol, as recorded");
    assert!(
        intent_at(10_000).get("protocol").is_none(),
        "absent when unswitched"
    );
}

fn config() -> RunConfig {
    RunConfig {
        action: Action::FactoryReset,
        limits: Default::default(),
        timeouts: Default::default(),
        time_scale: 1.0,
        method: Default::default(),
    }
}

#[test]
fn without_an_intent_there_is_no_evidence_and_the_job_runs_afresh() {
    let events = [
        event(1, EventKind::State, json!({})),
        event(2, EventKind::ProbeRetry, json!({})),
    ];
    assert_eq!(Evidence::from_events(Action::PowerCycle, &events), None);
}

#[test]
fn an_outlet_on_the_switch_did_not_confirm_is_not_evidence_that_the_outlet_is_on() {
    let events = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(
            2,
            EventKind::OutletOff,
            json!({"outlet": "s#2", "relay_before": true}),
        ),
        event(
            3,
            EventKind::OutletOn,
            json!({"outlet": "s#2", "relay_after": false}),
        ),
    ];
    let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
    assert!(ev.outlet_off);
    assert!(
        !ev.outlet_on,
        "the switch left it off: resume must switch it on"
    );
    let events = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(
            2,
            EventKind::OutletOff,
            json!({"outlet": "s#2", "confirmed": false}),
        ),
    ];
    assert!(
        !Evidence::from_events(Action::PowerCycle, &events)
            .unwrap()
            .outlet_off,
        "an off the switch never confirmed"
    );
    let events = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(
            2,
            EventKind::OutletOn,
            json!({"outlet": "s#2", "relay_after": null}),
        ),
    ];
    assert!(
        !Evidence::from_events(Action::PowerCycle, &events)
            .unwrap()
            .outlet_on
    );
    let events = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(
            2,
            EventKind::OutletOn,
            json!({"outlet": "s#2", "relay_after": true}),
        ),
    ];
    assert!(
        Evidence::from_events(Action::PowerCycle, &events)
            .unwrap()
            .outlet_on
    );
}

#[test]
fn an_ack_after_the_intent_is_a_sign_the_command_arrived() {
    let events = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(2, EventKind::State, json!({})),
        event(3, EventKind::Ack, json!({})),
    ];
    let ev = Evidence::from_events(Action::FactoryReset, &events).unwrap();
    assert_eq!(ev.arrival, Arrival::Acknowledged);
    assert!(ev.arrival.arrived());
    assert!(ev.intent.is_some());
    assert_eq!(ev.settled(), None);
}

#[test]
fn a_refusal_settles_the_job_with_the_recorded_reason_and_a_left_network_with_success() {
    let refused = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(
            2,
            EventKind::CommandFailed,
            json!({"reason": "unreachable", "detail": "the reboot could not be sent"}),
        ),
    ];
    let ev = Evidence::from_events(Action::PowerCycle, &refused).unwrap();
    let Some(Err(Fail(reason, detail))) = ev.settled() else {
        panic!("{ev:?}");
    };
    assert_eq!(reason, Reason::Unreachable);
    assert!(
        detail.starts_with("the reboot could not be sent"),
        "{detail}"
    );

    let left = [
        event(1, EventKind::Intent, intent_at(10_000)),
        event(2, EventKind::Ack, json!({})),
        event(3, EventKind::LeftNetwork, json!({"after_s": 4})),
    ];
    let ev = Evidence::from_events(Action::FactoryReset, &left).unwrap();
    assert!(matches!(ev.settled(), Some(Ok(_))));
    assert_eq!(
        ev.wait_before_judging(&mark(10_001), &config()),
        Duration::ZERO
    );
}

#[test]
fn a_recorded_login_refusal_settles_a_job_without_another_try() {
    let refused = [
        event(1, EventKind::State, json!({})),
        event(
            2,
            EventKind::ProbeFailed,
            json!({"reason": "auth_failed", "detail": "probe failed: authentication failed: x"}),
        ),
    ];
    let Some(Fail(reason, detail)) = refused_login(&refused) else {
        panic!("a recorded refusal must settle the job");
    };
    assert_eq!(reason, Reason::AuthFailed);
    assert!(detail.contains("not tried again"), "{detail}");
    let timeout = [event(
        1,
        EventKind::ProbeFailed,
        json!({"reason": "timeout", "detail": "probe failed: timed out"}),
    )];
    assert_eq!(refused_login(&timeout), None);
}

#[test]
fn a_login_under_way_at_the_interruption_is_not_tried_again_unless_it_went_through() {
    let events = [
        event(1, EventKind::LoginAttempt, json!({})),
        event(2, EventKind::State, json!({})),
    ];
    let Some(Fail(reason, detail)) = login_unsettled(&events, false) else {
        panic!("a login of unknown result must not be repeated");
    };
    assert_eq!(reason, Reason::NotVerified);
    assert!(detail.contains("not tried again"), "{detail}");
    assert_eq!(
        login_unsettled(&events, true),
        None,
        "the probe's snapshot shows it went through"
    );
    assert_eq!(
        login_unsettled(&[event(1, EventKind::State, json!({}))], false),
        None
    );
}

#[test]
fn an_intent_of_an_older_fleetreset_is_evidence_without_clock_marks() {
    let events = [event(
        1,
        EventKind::Intent,
        json!({"command": "reboot", "delay_s": 1}),
    )];
    let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
    assert_eq!(ev.intent, None);
    assert_eq!(ev.arrival, Arrival::Unknown);
    assert_eq!(ev.since(&mark(99_000), &config()), Since::default());
}

#[test]
fn resume_waits_out_what_is_left_of_the_run_s_own_budget_on_the_boot_clock() {
    let events = [event(1, EventKind::Intent, intent_at(10_000))];
    let ev = Evidence::from_events(Action::FactoryReset, &events).unwrap();
    // Delay 1 s plus the 60 s leave budget: 61 s after the intent.
    assert_eq!(ev.budget(), Duration::from_secs(61));
    assert_eq!(
        ev.wait_before_judging(&mark(13_000), &config()),
        Duration::from_secs(58)
    );
    assert_eq!(
        ev.wait_before_judging(&mark(80_000), &config()),
        Duration::ZERO
    );
    let since = ev.since(&mark(13_000), &config());
    assert_eq!(since.intent, Some(3.0));
    assert_eq!(since.probe, Some(3.05));
}

#[test]
fn after_a_host_reboot_or_with_an_impossible_clock_resume_waits_the_whole_budget() {
    let events = [event(1, EventKind::Intent, intent_at(10_000))];
    let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
    let other_boot = HostMark {
        boot_id: Some("another".into()),
        boottime_ms: 500_000,
    };
    assert_eq!(
        ev.wait_before_judging(&other_boot, &config()),
        Duration::from_secs(31)
    );
    // A reading before the intent's can't happen on one boot: unknown, not negative.
    assert_eq!(
        ev.wait_before_judging(&mark(9_000), &config()),
        Duration::from_secs(31)
    );
    assert_eq!(ev.since(&mark(9_000), &config()).intent, None);
}
