//! What a certificate says of each device of the fixture run ([`super::fixture`]): every
//! field of a remote and of a confirmed button reset, the devices without one, the sample.

use serde_json::Value;

use super::fixture::{bundle_of, factory_record, job};
use super::model::Bundle;
use crate::model::{Action, Method};
use crate::report::fixture;

#[test]
fn a_certificate_id_is_the_run_and_the_inventory_position_from_one() {
    assert_eq!(
        super::id("20261121T054708Z-3f2a", 6),
        "20261121T054708Z-3f2a-0007"
    );
}

/// Every `null` in `value`, by its path.
fn nulls(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(path.to_string()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| nulls(v, &format!("{path}.{k}"), out)),
        Value::Array(a) => a.iter().for_each(|v| nulls(v, &format!("{path}[]"), out)),
        Value::String(s) => assert!(!s.trim().is_empty(), "{path} is empty"),
        _ => {}
    }
}

fn cert_json(bundle: &Bundle, asset: &str) -> Value {
    let cert = bundle
        .certificates
        .iter()
        .find(|c| c.device.asset_id == asset)
        .unwrap();
    serde_json::from_str(&super::json::certificate(cert).unwrap()).unwrap()
}

#[test]
fn a_remote_reset_has_every_field_filled() {
    let b = bundle_of(&factory_record());
    let c = cert_json(&b, "plug-1");
    let mut missing = Vec::new();
    nulls(&c, "", &mut missing);
    // Only what a remote reset has none of: no model disagreement, no technician.
    assert_eq!(missing, [".device.model_note", ".technician"]);
    assert_eq!(c["format"], "fleetreset-certificate/1");
    assert_eq!(c["id"], format!("{}-0001", fixture::RUN_ID));
    let d = &c["device"];
    assert_eq!(d["manufacturer"], "TP-Link");
    assert_eq!(d["brand"], "Kasa");
    assert_eq!(d["family"], "plug");
    assert_eq!(d["asset_id"], "plug-1");
    assert_eq!(
        (d["site"].as_str(), d["unit"].as_str()),
        (Some("site-a"), Some("rack 1"))
    );
    let ids: Vec<&str> = d["hardware_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["8006AB", "HW01", "OEM01", "5.0"]);
    assert!(c["media_type"].as_str().unwrap().contains("smart plug"));
    let s = &c["sanitization"];
    assert_eq!(s["category"], "Clear");
    assert_eq!(s["method"], "remote");
    assert_eq!(s["protocol"], "iot");
    assert!(s["method_used"].as_str().unwrap().contains("over iot"));
    assert_eq!(s["summary"], "Clear, vendor-implemented, post-checked");
    assert_eq!(
        (
            c["tool"]["version"].as_str(),
            c["issued_by"]["version"].as_str()
        ),
        (Some("0.1.0"), Some("9.9.9"))
    );
    assert_eq!(c["times"]["started"]["utc"], "2026-11-21T05:47:09.000Z");
    assert_eq!(
        c["times"]["started"]["local"],
        "2026-11-21 06:47:09.000 +01:00"
    );
    assert_eq!(c["operator"], "alice");
    let kinds: Vec<&str> = c["verification"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["intent", "ack", "left_network"]);
    assert_eq!(c["verification"]["result"], "passed");
    assert_eq!(c["verifier"]["name"], "victor");
    assert_eq!(c["verifier"]["result"], "passed");
    assert_eq!(c["chain"]["head"], format!("42:{}", "ab".repeat(32)));
    assert_eq!(c["chain"]["run_id"], fixture::RUN_ID);
    assert_eq!(c["signature"]["key_id"], "KEY1234");
    assert_eq!(
        c["signature"]["statement"],
        format!("signature: {}-0001.json.minisig", fixture::RUN_ID)
    );
}

#[test]
fn a_confirmed_button_reset_carries_the_technicians_confirmation() {
    let b = bundle_of(&factory_record());
    let c = cert_json(&b, "cam-4");
    let mut missing = Vec::new();
    nulls(&c, "", &mut missing);
    // A button reset has no protocol; the camera was not drawn; the inventory gives no MAC.
    assert_eq!(
        missing,
        [
            ".device.mac",
            ".sanitization.protocol",
            ".verifier.at",
            ".verifier.evidence",
            ".verifier.name",
            ".verifier.result"
        ]
    );
    assert_eq!(c["device"]["brand"], "Tapo");
    assert_eq!(c["device"]["reported_model"], "C210");
    assert_eq!(
        c["device"]["model_note"],
        "the inventory says C200, the device reported C210"
    );
    assert!(c["media_type"].as_str().unwrap().contains("microSD"));
    assert_eq!(c["sanitization"]["method"], "manual");
    assert!(
        c["sanitization"]["method_used"]
            .as_str()
            .unwrap()
            .starts_with("technician's button reset")
    );
    let t = &c["technician"];
    assert_eq!(
        (t["by"].as_str(), t["said_at"].as_str(), t["note"].as_str()),
        (Some("tom"), Some("09:00 Tuesday"), Some("held 10 s"))
    );
    assert_eq!(t["seen"], "answered unbound, alias \"Tapo Camera\"");
    let kinds: Vec<&str> = c["verification"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["post_snapshot", "manual_confirmed"]);
    assert!(
        c["verification"]["evidence"][0]["what"]
            .as_str()
            .unwrap()
            .contains("unbound")
    );
    assert!(
        c["verifier"]["statement"]
            .as_str()
            .unwrap()
            .starts_with("not independently verified")
    );
}

#[test]
fn devices_not_sanitized_have_no_certificate_and_a_reason() {
    let b = bundle_of(&factory_record());
    let certified: Vec<&str> = b
        .certificates
        .iter()
        .map(|c| c.device.asset_id.as_str())
        .collect();
    assert_eq!(certified, ["plug-1", "cam-4"]);
    let listed: Vec<(&str, &str, Option<&str>)> = b
        .not_sanitized
        .iter()
        .map(|n| (n.asset_id.as_str(), n.outcome, n.reason))
        .collect();
    assert_eq!(
        listed,
        [
            ("lamp-2", "failed", Some("not_verified")),
            ("strip-3", "skipped", Some("threshold_reached")),
            ("bulb-5", "manual_required", Some("unsupported")),
        ]
    );
    assert!(b.not_sanitized[0].why.contains("failed"));
    assert!(b.not_sanitized[2].why.contains("fleetreset confirm"));
    let (json, md, html) = super::render_bundle(&b).unwrap();
    for text in [&json, &md, &html] {
        assert!(
            text.contains("lamp-2") && text.contains("threshold_reached"),
            "{text}"
        );
    }
    assert!(
        b.statement.starts_with("2 of 5 device(s) sanitized"),
        "{}",
        b.statement
    );
}

#[test]
fn a_power_cycle_run_has_no_certificates() {
    let mut record = factory_record();
    record.run.action = Action::PowerCycle;
    job(&mut record, "plug-1").method = Method::Upstream;
    let b = bundle_of(&record);
    assert!(!b.sanitizes);
    assert!(b.certificates.is_empty());
    assert_eq!(b.not_sanitized.len(), 5);
    assert!(b.sample.is_none());
    assert!(b.statement.contains("sanitized nothing"), "{}", b.statement);
    assert!(
        b.not_sanitized
            .iter()
            .all(|n| n.why.contains("erases nothing"))
    );
}

#[test]
fn an_upstream_success_in_a_factory_reset_run_is_no_sanitization() {
    let mut record = factory_record();
    job(&mut record, "plug-1").method = Method::Upstream;
    let b = bundle_of(&record);
    assert!(b.certificates.iter().all(|c| c.device.asset_id != "plug-1"));
    let n = b
        .not_sanitized
        .iter()
        .find(|n| n.asset_id == "plug-1")
        .unwrap();
    assert!(n.why.contains("never sanitizes"), "{}", n.why);
}

#[test]
fn the_bundle_shows_the_sample_and_its_result() {
    let b = bundle_of(&factory_record());
    let s = b.sample.as_ref().unwrap();
    assert_eq!(
        (s.verifier.as_str(), s.seed.as_str()),
        ("victor", "18446744073709551615")
    );
    assert_eq!(s.devices, ["plug-1"]);
    assert_eq!(s.result.as_deref(), Some("passed"));
    assert!(s.independent);
    assert_eq!(s.checks.len(), 1);
    let (json, md, html) = super::render_bundle(&b).unwrap();
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["sample"]["result"], "passed");
    assert_eq!(doc["sample"]["checks"][0]["asset_id"], "plug-1");
    assert_eq!(doc["certificates"][0]["verifier"], "victor");
    for text in [&md, &html] {
        assert!(
            text.contains("victor")
                && text.contains("18446744073709551615")
                && text.contains("passed")
        );
    }
}

#[test]
fn a_verifier_who_is_the_operator_is_not_independent() {
    let mut record = factory_record();
    record.run.operator = "Victor".into();
    let b = bundle_of(&record);
    assert!(!b.sample.as_ref().unwrap().independent);
    assert!(
        b.certificates[0]
            .verifier
            .statement
            .contains("NOT independent")
    );
}

#[test]
fn a_device_the_verifier_found_still_set_up_gets_no_certificate() {
    let mut record = factory_record();
    let check = record
        .events
        .iter_mut()
        .find(|e| e.kind.as_str() == "sample_checked")
        .unwrap();
    check.detail["result"] = "failed".into();
    check.detail["evidence"] = "answered bound to its account, alias Kitchen".into();
    let b = bundle_of(&record);
    assert!(
        b.certificates.iter().all(|c| c.device.asset_id != "plug-1"),
        "{:?}",
        b.certificates
    );
    let withheld = b
        .not_sanitized
        .iter()
        .find(|n| n.asset_id == "plug-1")
        .expect("plug-1 is listed as not sanitized");
    assert_eq!(
        withheld.why,
        "the independent check by victor found it not sanitized: answered bound to its account, alias Kitchen"
    );
    assert!(
        b.statement.contains("Not passed: plug-1."),
        "{}",
        b.statement
    );
    let good = bundle_of(&factory_record());
    assert!(
        good.statement.ends_with(
            "Sample of 1 device(s) (50%) checked by victor (independent): result passed."
        ),
        "{}",
        good.statement
    );
}
