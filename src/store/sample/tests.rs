use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::model::{Action, Method};
use crate::store::{NewJob, NewRun};

fn t(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(1_795_000_000_000 + ms)
        .unwrap()
}

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
    let run = NewRun {
        id: "r".into(),
        action: Action::FactoryReset,
        inventory_path: "lab.csv".into(),
        inventory_sha256: "aa".into(),
        parameters: Default::default(),
        operator: "op".into(),
        tool_version: "0".into(),
        started_at: t(0),
    };
    let job = |id: &str, seq| NewJob {
        device_id: id.into(),
        seq,
        host: format!("127.48.0.{}", seq + 1),
        model: Some("HS110(EU)".into()),
        mac: None,
        site: None,
        unit: None,
        method: Method::Remote,
    };
    db.create_run(&run, &[job("a", 0), job("b", 1)]).unwrap();
    (dir, db)
}

fn check(device: &str, result: CheckResult) -> SampleCheck {
    SampleCheck {
        device_id: device.into(),
        at: t(20),
        detail: SampleChecked {
            verifier: "Vera".into(),
            result,
            address: Some("127.48.0.1:9999".into()),
            evidence: "answers unbound".into(),
            post: None,
        },
    }
}

fn drawn() -> SampleDrawn {
    SampleDrawn {
        verifier: "Vera".into(),
        operator: "op".into(),
        percent: 5.0,
        seed: u64::MAX.to_string(),
        population: 2,
        size: 2,
        devices: vec!["a".into(), "b".into()],
        draw: crate::audit_sample::DRAW.into(),
    }
}

#[test]
fn a_sample_is_three_kinds_of_event_in_order_with_the_fields_the_certificates_read() {
    let (_dir, mut db) = db();
    let before = db.load_run("r").unwrap().events.len();
    let checks = [
        check("a", CheckResult::Passed),
        check("b", CheckResult::Unreachable),
    ];
    let finished = SampleFinished::of("Vera", &checks);
    assert_eq!(finished.result, SampleResult::Passed);
    db.record_sample("r", t(10), &drawn(), &checks, t(30), &finished)
        .unwrap();
    let record = db.load_run("r").unwrap();
    let new: Vec<_> = record.events[before..].iter().collect();
    let kinds: Vec<(&str, Option<&str>)> = new
        .iter()
        .map(|e| (e.kind.as_str(), e.device_id.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("sample_drawn", None),
            ("sample_checked", Some("a")),
            ("sample_checked", Some("b")),
            ("sample_finished", None)
        ]
    );
    assert_eq!(new[0].detail["seed"], json!("18446744073709551615"));
    assert_eq!(new[0].detail["percent"], json!(5.0));
    assert_eq!(new[0].detail["devices"], json!(["a", "b"]));
    assert_eq!(new[1].detail["result"], json!("passed"));
    assert_eq!(new[1].detail["post"], Value::Null);
    assert_eq!(
        new[3].detail,
        json!({"verifier": "Vera", "result": "passed", "checked": 2, "passed": 1, "failed": 0, "unreachable": 1})
    );
    // Nothing else changed: the jobs are as they were.
    assert!(record.jobs.iter().all(|j| j.outcome.is_none()));
}

#[test]
fn a_check_of_a_device_not_in_the_run_records_nothing() {
    let (_dir, mut db) = db();
    let before = db.load_run("r").unwrap().events.len();
    let checks = [
        check("a", CheckResult::Passed),
        check("zz", CheckResult::Failed),
    ];
    let finished = SampleFinished::of("Vera", &checks);
    assert_eq!(finished.result, SampleResult::Failed);
    let err = db
        .record_sample("r", t(10), &drawn(), &checks, t(30), &finished)
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchJob { .. }), "{err}");
    assert_eq!(db.load_run("r").unwrap().events.len(), before);
}

#[test]
fn no_answer_at_all_is_inconclusive() {
    let checks = [check("a", CheckResult::Unreachable)];
    let f = SampleFinished::of("Vera", &checks);
    assert_eq!(
        (f.result, f.unreachable, f.checked),
        (SampleResult::Inconclusive, 1, 1)
    );
}
