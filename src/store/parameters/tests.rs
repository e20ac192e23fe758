use serde_json::json;

use super::*;
use crate::inventory::Encoding;

/// What `run` stores for a factory reset with every limit given, as the database holds it.
fn full() -> RunParameters {
    RunParameters {
        action: Some(Action::FactoryReset),
        rate_per_s: Some(20),
        burst: Some(1),
        concurrency: Some(8),
        connect_timeout_s: Some(1.5),
        request_timeout_s: Some(2.0),
        time_scale: Some(0.01),
        method: Some(MethodChoice::Upstream),
        poll_interval_s: Some(1.0),
        away_budget_s: Some(30.0),
        leave_budget_s: Some(60.0),
        boot_budget_factor: Some(2),
        safety: Some(SafetyParameters {
            canary: Some(2),
            batch: Some("25%".into()),
            max_fail: Some("3".into()),
            window: Some("22:00-06:00".into()),
            allow_unverified_identity: Some(true),
            max_auth_failures: Some(3),
            other: BTreeMap::new(),
        }),
        inventory: Some(InventoryRead {
            delimiter: Some(b';'),
            encoding: Some(Encoding::Windows1252),
            sheet: Some("Fleet".into()),
            other: BTreeMap::new(),
        }),
        other: BTreeMap::new(),
    }
}

#[test]
fn the_stored_json_keeps_its_keys_and_their_order() {
    assert_eq!(
        full().to_value().to_string(),
        concat!(
            r#"{"action":"factory-reset","away_budget_s":30.0,"boot_budget_factor":2,"burst":1,"#,
            r#""concurrency":8,"connect_timeout_s":1.5,"#,
            r#""inventory":{"delimiter":59,"encoding":"windows-1252","sheet":"Fleet"},"#,
            r#""leave_budget_s":60.0,"method":"upstream","poll_interval_s":1.0,"rate_per_s":20,"#,
            r#""request_timeout_s":2.0,"#,
            r#""safety":{"allow_unverified_identity":true,"batch":"25%","canary":2,"#,
            r#""max_auth_failures":3,"max_fail":"3","window":"22:00-06:00"},"#,
            r#""time_scale":0.01}"#
        )
    );
}

#[test]
fn no_limit_is_stored_as_null_as_it_always_was() {
    let safety = SafetyParameters {
        canary: Some(0),
        allow_unverified_identity: Some(false),
        max_auth_failures: Some(3),
        ..SafetyParameters::default()
    };
    assert_eq!(
        serde_json::to_value(&safety).unwrap(),
        json!({"canary": 0, "batch": null, "max_fail": null, "window": null,
               "allow_unverified_identity": false, "max_auth_failures": 3})
    );
    let read = InventoryRead::from(&ReadOptions::default());
    assert_eq!(
        serde_json::to_value(&read).unwrap(),
        json!({"delimiter": null, "encoding": "auto", "sheet": null})
    );
}

#[test]
fn parameters_read_back_as_they_were_written() {
    let p = full();
    assert_eq!(RunParameters::from_value(&p.to_value()).unwrap(), p);
    assert_eq!(p.read_options().delimiter, Some(b';'));
    assert!(p.allows_unverified_identity());
}

#[test]
fn parameters_of_earlier_runs_still_read() {
    let empty = RunParameters::from_value(&json!({})).unwrap();
    assert_eq!(empty, RunParameters::default());
    assert_eq!(empty.read_options(), ReadOptions::default());
    assert_eq!(empty.time_scale_or_real(), 1.0);
    assert!(!empty.allows_unverified_identity());
    // Before --method, the inventory read options and max_auth_failures were stored.
    let old = RunParameters::from_value(&json!({
        "action": "power-cycle", "rate_per_s": 2, "concurrency": 4, "time_scale": 0.01,
        "safety": {"allow_unverified_identity": true}
    }))
    .unwrap();
    assert_eq!(old.method, None);
    assert_eq!(old.inventory, None);
    assert_eq!(old.concurrency, Some(4));
    assert_eq!(old.time_scale_or_real(), 0.01);
    let safety = old.safety.unwrap();
    assert_eq!(safety.max_auth_failures, None);
    assert_eq!(safety.batch, None);
    // An inventory read stored without an encoding reads as the default one.
    let p = RunParameters::from_value(&json!({"inventory": {"delimiter": 124}})).unwrap();
    assert_eq!(p.read_options().encoding, Encoding::Auto);
    assert_eq!(p.inventory.unwrap().encoding, None);
}

#[test]
fn unknown_keys_are_kept_and_a_value_of_another_type_is_an_error() {
    let p = RunParameters::from_value(&json!({"rate_per_s": 5, "new_knob": "a"})).unwrap();
    assert_eq!(p.other.get("new_knob"), Some(&json!("a")));
    assert_eq!(p.to_value(), json!({"rate_per_s": 5, "new_knob": "a"}));
    let err = RunParameters::from_value(&json!({"rate_per_s": "fast"})).unwrap_err();
    assert!(err.to_string().contains("fast"), "{err}");
}

#[test]
fn the_typed_accessor_reads_the_stored_json() {
    let row = RunRow {
        id: "r1".into(),
        action: Action::PowerCycle,
        inventory_path: "lab.csv".into(),
        inventory_sha256: "aa".into(),
        parameters: full().to_value(),
        operator: "op".into(),
        tool_version: "0.1.0".into(),
        started_at: chrono::Utc::now(),
        finished_at: None,
        status: crate::store::RunStatus::Running,
        jobs: 0,
        succeeded: 0,
        failed: 0,
        other: 0,
    };
    assert_eq!(row.parameters().unwrap(), full());
}
