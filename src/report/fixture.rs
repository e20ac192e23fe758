//! A hand-built run for the writers' tests: four jobs covering a success with pre and post
//! snapshots, a failure with a reason and a multi-line detail, a manual job and a skip; a device
//! alias that is a spreadsheet formula and a site with a Markdown table pipe in it.

use chrono::{DateTime, FixedOffset};
use serde_json::json;

use crate::model::{Action, EventKind, JobState, Method, Outcome, Reason, RunEventKind};
use crate::store::{
    EventRow, JobRow, RunRecord, RunRow, RunStatus, SnapshotPhase, SnapshotRow, Timestamp,
};

pub const RUN_ID: &str = "20261121T054708-a1b2";

/// The zone the writers' goldens are shown in: one hour east of UTC, so a test shows the
/// conversion and not the host's zone.
pub const ZONE: crate::report::local_time::Zone =
    crate::report::local_time::Zone::Fixed(match FixedOffset::east_opt(3600) {
        Some(offset) => offset,
        None => panic!("one hour is a valid offset"),
    });

pub fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn job(device_id: &str, seq: u32, host: &str) -> JobRow {
    JobRow {
        device_id: device_id.to_string(),
        seq,
        host: host.to_string(),
        model: None,
        mac: None,
        site: None,
        unit: None,
        method: Method::Remote,
        state: JobState::Done,
        outcome: None,
        reason: None,
        detail: None,
        attempts: 1,
        started_at: None,
        identity_verified: None,
        finished_at: None,
    }
}

fn snapshot(
    device_id: &str,
    phase: SnapshotPhase,
    taken_at: &str,
    data: serde_json::Value,
) -> SnapshotRow {
    SnapshotRow {
        device_id: device_id.to_string(),
        phase,
        taken_at: at(taken_at),
        data,
    }
}

pub fn record() -> RunRecord {
    let plug = JobRow {
        model: Some("HS103(US)".to_string()),
        mac: Some("50:C7:BF:00:00:01".to_string()),
        site: Some("site-a".to_string()),
        unit: Some("rack 1".to_string()),
        outcome: Some(Outcome::Succeeded),
        detail: Some("came back after 41 s".to_string()),
        started_at: Some(at("2026-11-21T05:47:09.000Z")),
        identity_verified: Some(true),
        finished_at: Some(at("2026-11-21T05:47:51.250Z")),
        ..job("plug-1", 0, "10.0.0.1")
    };
    let lamp = JobRow {
        model: Some("KL130(EU)".to_string()),
        site: Some("north|south".to_string()),
        outcome: Some(Outcome::Failed),
        reason: Some(Reason::NotVerified),
        detail: Some("did not come back within 90 s\n| retry later".to_string()),
        attempts: 3,
        started_at: Some(at("2026-11-21T05:47:09.500Z")),
        identity_verified: Some(false),
        finished_at: Some(at("2026-11-21T05:48:40.000Z")),
        ..job("lamp-2", 1, "10.0.0.2")
    };
    let cam = JobRow {
        model: Some("C200".to_string()),
        site: Some("site-a".to_string()),
        unit: Some("porch".to_string()),
        method: Method::Manual,
        outcome: Some(Outcome::ManualRequired),
        detail: Some("hold the reset button for 5 s".to_string()),
        started_at: Some(at("2026-11-21T05:47:10.000Z")),
        identity_verified: None,
        finished_at: Some(at("2026-11-21T05:47:10.000Z")),
        ..job("cam-4", 3, "10.0.0.4")
    };
    let strip = JobRow {
        method: Method::Upstream,
        state: JobState::Pending,
        outcome: Some(Outcome::Skipped),
        reason: Some(Reason::ThresholdReached),
        detail: Some("failure threshold reached".to_string()),
        attempts: 0,
        identity_verified: None,
        finished_at: Some(at("2026-11-21T05:48:40.001Z")),
        ..job("strip-3", 2, "10.0.0.3")
    };
    RunRecord {
        run: RunRow {
            id: RUN_ID.to_string(),
            action: Action::PowerCycle,
            inventory_path: "inventories/lab.csv".to_string(),
            inventory_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .to_string(),
            parameters: json!({"rate_per_s": 2, "concurrency": 4}),
            operator: "alice".to_string(),
            tool_version: "0.1.0".to_string(),
            started_at: at("2026-11-21T05:47:08.123Z"),
            finished_at: Some(at("2026-11-21T05:49:10.500Z")),
            status: RunStatus::Stopped,
            jobs: 4,
            succeeded: 1,
            failed: 1,
            other: 2,
        },
        // Out of inventory order on purpose: the writers sort by `seq`.
        jobs: vec![plug, lamp, cam, strip],
        snapshots: vec![
            snapshot(
                "plug-1",
                SnapshotPhase::Pre,
                "2026-11-21T05:47:09.100Z",
                json!({
                    "sysinfo": {
                        "alias": "=HYPERLINK(\"x\")",
                        "sw_ver": "1.0.3 Build 210506 Rel.180637",
                        "mac": "50:C7:BF:00:00:01",
                        "on_time": 86400
                    },
                    "cloud": {"binded": 1}
                }),
            ),
            snapshot(
                "plug-1",
                SnapshotPhase::Post,
                "2026-11-21T05:47:51.200Z",
                json!({
                    "sysinfo": {"alias": "=HYPERLINK(\"x\")", "on_time": 12},
                    "cloud": null
                }),
            ),
            snapshot(
                "lamp-2",
                SnapshotPhase::Pre,
                "2026-11-21T05:47:09.600Z",
                json!({
                    "sysinfo": {"alias": "-lamp", "sw_ver": "1.8.8", "mic_mac": "50C7BF000002"},
                    "cloud": null
                }),
            ),
        ],
        events: vec![
            EventRow {
                id: 1,
                device_id: None,
                at: at("2026-11-21T05:47:08.123Z"),
                state: None,
                kind: RunEventKind::RunStarted.into(),
                detail: json!({
                    "operator": "alice",
                    "inventory_path": "inventories/lab.csv",
                    "inventory_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "tool_version": "0.1.0",
                    "parameters": {"rate_per_s": 2, "concurrency": 4}
                }),
            },
            EventRow {
                id: 2,
                device_id: Some("plug-1".to_string()),
                at: at("2026-11-21T05:47:09.000Z"),
                state: Some(JobState::Probing),
                kind: EventKind::State.into(),
                detail: json!({}),
            },
            EventRow {
                id: 3,
                device_id: None,
                at: at("2026-11-21T05:49:10.500Z"),
                state: None,
                kind: RunEventKind::RunStopped.into(),
                detail: json!({
                    "reason": "threshold_reached",
                    "why": "failure threshold reached",
                    "left_open": 0,
                    "skipped": 1
                }),
            },
        ],
    }
}
