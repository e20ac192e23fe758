use serde_json::json;

use super::*;
use crate::model::{JobState, Method, Outcome};
use crate::store::EventRow;

fn job(model: &str, host: &str, mac: Option<&str>) -> JobRow {
    JobRow {
        device_id: "d".into(),
        seq: 0,
        host: host.into(),
        model: Some(model.into()),
        mac: mac.map(Into::into),
        site: None,
        unit: None,
        method: Method::Manual,
        state: JobState::Done,
        outcome: Some(Outcome::ManualRequired),
        reason: None,
        detail: None,
        attempts: 1,
        started_at: None,
        finished_at: None,
        identity_verified: None,
    }
}

fn info(bound: Option<bool>, mac: &str) -> DeviceInfo {
    DeviceInfo {
        model: "HS103(US)".into(),
        alias: "Hall".into(),
        mac: mac.into(),
        device_id: "80".into(),
        kind: "IOT.SMARTPLUGSWITCH".into(),
        relay_on: Some(true),
        on_time: Some(12),
        children: vec![],
        bound,
        raw: json!({}),
        cloud_raw: None,
    }
}

const MAC: &str = "50:C7:BF:44:00:01";

fn addr() -> SocketAddr {
    "127.44.0.1:9999".parse().unwrap()
}

#[test]
fn a_factory_reset_device_still_bound_is_refused_with_its_answer_as_evidence() {
    let v = judge(
        Action::FactoryReset,
        &job("HS103", "127.44.0.1", Some(MAC)),
        addr(),
        &info(Some(true), MAC),
        false,
    );
    match v {
        Verdict::Refuse { address, why, post } => {
            assert_eq!(address, "127.44.0.1:9999");
            assert!(
                why.contains("still answers at 127.44.0.1:9999 bound"),
                "{why}"
            );
            assert_eq!(post.unwrap()["summary"]["bound"], true);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unbound_or_power_cycled_device_is_confirmed_with_its_answer() {
    for (action, bound) in [
        (Action::FactoryReset, Some(false)),
        (Action::FactoryReset, None),
        (Action::PowerCycle, Some(true)),
    ] {
        let v = judge(
            action,
            &job("HS103", "127.44.0.1", Some(MAC)),
            addr(),
            &info(bound, MAC),
            false,
        );
        assert!(
            matches!(
                &v,
                Verdict::Confirm {
                    seen: Seen::Answered { .. },
                    post: Some(_)
                }
            ),
            "{action} {bound:?}: {v:?}"
        );
    }
}

#[test]
fn another_device_at_the_address_is_not_taken_for_this_one() {
    let v = judge(
        Action::FactoryReset,
        &job("HS103", "127.44.0.1", Some(MAC)),
        addr(),
        &info(Some(true), "50:C7:BF:44:00:99"),
        false,
    );
    match v {
        Verdict::Confirm {
            seen: Seen::Answered { detail, .. },
            post: None,
        } => {
            assert!(detail.contains("another device answers"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_protocol_comes_from_the_run_s_link_then_the_inventory_then_the_catalog() {
    let mut record = RunRecord {
        run: crate::store::RunRow {
            id: "r".into(),
            action: Action::FactoryReset,
            inventory_path: "i.csv".into(),
            inventory_sha256: "00".into(),
            parameters: json!({}),
            operator: "op".into(),
            tool_version: "0".into(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            status: crate::store::RunStatus::Finished,
            jobs: 1,
            succeeded: 0,
            failed: 0,
            other: 1,
        },
        jobs: vec![],
        snapshots: vec![],
        events: vec![],
    };
    let plug = job("HS103", "127.44.0.1:9998", None);
    assert_eq!(
        chosen(&record, &plug, None),
        Some((ProtocolKind::Iot, 9998))
    );
    let tapo = job("P110", "127.44.0.2", None);
    assert_eq!(chosen(&record, &tapo, None), None);
    assert_eq!(
        candidates(&record, &tapo, None),
        [(ProtocolKind::Iot, 9999), (ProtocolKind::SmartKlap, 80)]
    );
    let dev = Device {
        protocol: crate::inventory::ProtocolChoice::Klap,
        ..Device::bare("d", "127.44.0.2")
    };
    assert_eq!(
        chosen(&record, &tapo, Some(&dev)),
        Some((ProtocolKind::SmartKlap, 80))
    );
    record.events.push(EventRow {
        id: 1,
        device_id: Some("d".into()),
        at: chrono::Utc::now(),
        state: None,
        kind: EventKind::Link.into(),
        detail: json!({"protocol": "smart-aes", "port": 8080, "chosen_by": "discovery"}),
    });
    assert_eq!(
        chosen(&record, &tapo, Some(&dev)),
        Some((ProtocolKind::SmartAes, 8080))
    );
}

#[test]
fn a_device_whose_mac_does_not_read_is_no_evidence_about_this_one() {
    for mac in ["", "garbage\u{1b}[2J", "00:00"] {
        let v = judge(
            Action::FactoryReset,
            &job("HS103", "127.44.0.1", Some(MAC)),
            addr(),
            &info(Some(false), mac),
            false,
        );
        match v {
            Verdict::Confirm {
                seen: Seen::Answered { detail, .. },
                post: None,
            } => {
                assert!(detail.contains("another device answers"), "{detail}");
                assert!(!detail.contains('\u{1b}'), "{detail}");
            }
            other => panic!("{mac:?}: {other:?}"),
        }
    }
}
