//! A hand-built factory-reset run for the certificates' tests: a remote reset (acknowledged,
//! left the network, sampled and passed), a technician's confirmed button reset, a failure, a
//! skip and a device still waiting for a technician; the alias a hostile `<img onerror>`.

use serde_json::{Value, json};

use super::bundle::build_in;
use super::model::{Bundle, SignerInfo};
use crate::model::{Action, Method, Outcome, Reason};
use crate::report::fixture::{self, ZONE, at};
use crate::store::{ChainHead, EventRow, JobRow, RunRecord, SnapshotPhase, SnapshotRow};

pub(super) const HOSTILE: &str = "<img src=x onerror=alert(1)>";

pub(super) fn head() -> ChainHead {
    ChainHead {
        run_id: fixture::RUN_ID.to_string(),
        records: 42,
        hash: "ab".repeat(32),
    }
}

fn event(id: i64, device: Option<&str>, when: &str, kind: &str, detail: Value) -> EventRow {
    EventRow {
        id,
        device_id: device.map(str::to_string),
        at: at(when),
        state: None,
        kind: kind.parse().expect("a stored event word"),
        detail,
    }
}

fn snap(device: &str, phase: SnapshotPhase, when: &str, data: Value) -> SnapshotRow {
    SnapshotRow {
        device_id: device.to_string(),
        phase,
        taken_at: at(when),
        data,
    }
}

pub(super) fn job<'a>(record: &'a mut RunRecord, id: &str) -> &'a mut JobRow {
    record.jobs.iter_mut().find(|j| j.device_id == id).unwrap()
}

/// The fixture run as a factory reset, with its evidence and a sample of plug-1.
pub(super) fn factory_record() -> RunRecord {
    let mut r = fixture::record();
    r.run.action = Action::FactoryReset;
    job(&mut r, "plug-1").detail = Some("left the network within 12 s".into());
    job(&mut r, "strip-3").method = Method::Remote;
    let cam = job(&mut r, "cam-4");
    cam.outcome = Some(Outcome::ManualConfirmed);
    cam.detail = Some("confirmed by tom".into());
    let mut bulb = job(&mut r, "lamp-2").clone();
    bulb.device_id = "bulb-5".into();
    bulb.seq = 4;
    bulb.method = Method::Manual;
    bulb.outcome = Some(Outcome::ManualRequired);
    bulb.reason = Some(Reason::Unsupported);
    bulb.detail = Some(format!("hold the button {HOSTILE}"));
    r.jobs.push(bulb);
    r.snapshots = vec![
        snap(
            "plug-1",
            SnapshotPhase::Pre,
            "2026-11-21T05:47:09.100Z",
            json!({
                "sysinfo": {"alias": HOSTILE, "model": "HS103(US)", "mac": "50:C7:BF:00:00:01",
                    "deviceId": "8006AB", "hwId": "HW01", "oemId": "OEM01", "hw_ver": "5.0"},
                "cloud": {"binded": 1},
                "summary": {"model": "HS103(US)", "alias": HOSTILE, "mac": "50:C7:BF:00:00:01",
                    "device_id": "8006AB", "bound": true}
            }),
        ),
        snap(
            "cam-4",
            SnapshotPhase::Pre,
            "2026-11-21T05:47:10.000Z",
            json!({"summary": {"model": "C210", "alias": "porch", "mac": "74:FE:CE:00:00:04",
                "device_id": "CAFE01", "bound": true}, "sysinfo": {"hw_id": "HWCAM", "oem_id": "OEMCAM"}}),
        ),
        snap(
            "cam-4",
            SnapshotPhase::Post,
            "2026-11-21T06:10:00.000Z",
            json!({"summary": {"model": "C210", "alias": "Tapo Camera", "bound": false}}),
        ),
    ];
    let plug = Some("plug-1");
    r.events.extend([
        event(
            10,
            plug,
            "2026-11-21T05:47:09.200Z",
            "link",
            json!({"protocol": "iot", "port": 9999}),
        ),
        event(
            11,
            plug,
            "2026-11-21T05:47:09.300Z",
            "intent",
            json!({"pre": {"bound": true}}),
        ),
        event(12, plug, "2026-11-21T05:47:09.400Z", "ack", json!({})),
        event(
            13,
            plug,
            "2026-11-21T05:47:21.000Z",
            "left_network",
            json!({"after_s": 11.6}),
        ),
        event(
            20,
            Some("cam-4"),
            "2026-11-21T06:10:00.100Z",
            "manual_confirmed",
            json!({
                "by": "tom", "said_at": "09:00 Tuesday", "note": "held 10 s",
                "operator": "alice", "source": "command line",
                "seen": {"result": "answered", "address": "10.0.0.4", "bound": false,
                    "detail": "answered unbound, alias \"Tapo Camera\""}
            }),
        ),
        event(
            30,
            None,
            "2026-11-22T08:00:00.000Z",
            "sample_drawn",
            json!({
                "verifier": "victor", "operator": "victor", "percent": 50,
                "seed": "18446744073709551615", "population": 2, "size": 1,
                "devices": ["plug-1"], "draw": "sha256(seed, sorted ids)"
            }),
        ),
        event(
            31,
            plug,
            "2026-11-22T08:01:00.000Z",
            "sample_checked",
            json!({
                "verifier": "victor", "result": "passed", "address": "10.0.0.1",
                "evidence": "no answer at 10.0.0.1", "post": null
            }),
        ),
        event(
            32,
            None,
            "2026-11-22T08:02:00.000Z",
            "sample_finished",
            json!({
                "verifier": "victor", "result": "passed", "checked": 1, "passed": 1,
                "failed": 0, "unreachable": 0
            }),
        ),
    ]);
    r
}

fn signer() -> SignerInfo {
    SignerInfo {
        key_id: "KEY1234".into(),
        public_key_file: "fleetreset.pub".into(),
    }
}

pub(super) fn bundle_of(record: &RunRecord) -> Bundle {
    build_in(record, &head(), "9.9.9", Some(signer()), ZONE)
}

/// [`bundle_of`], to be written unsigned.
pub(super) fn unsigned_bundle_of(record: &RunRecord) -> Bundle {
    build_in(record, &head(), "9.9.9", None, ZONE)
}
