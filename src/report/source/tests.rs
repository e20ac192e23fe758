//! The same run reported from the database streamed and from its record loaded whole: the
//! files must be the same bytes.

use std::fs;
use std::path::Path;

use chrono::Duration;
use serde_json::{Value, json};

use super::*;
use crate::model::{Action, JobState, Method, Reason, StoredKind};
use crate::report::{Extras, fixture, write_in};
use crate::store::{
    Db, Finished, NewJob, NewRun, Record, RunEnd, SnapshotPhase, Timestamp, Writer,
};

const RUN: &str = "r-stream";

fn t0() -> Timestamp {
    fixture::at("2026-11-21T05:47:08.123Z")
}

fn at(ms: i64) -> Timestamp {
    t0() + Duration::milliseconds(ms)
}

fn new_run(action: Action) -> NewRun {
    NewRun {
        id: RUN.into(),
        action,
        inventory_path: "lab.csv".into(),
        inventory_sha256: "aa".repeat(32),
        parameters: Default::default(),
        operator: "alice".into(),
        tool_version: "0.1.0".into(),
        started_at: t0(),
    }
}

fn new_job(device_id: &str, seq: u32, site: Option<&str>) -> NewJob {
    NewJob {
        device_id: device_id.into(),
        seq,
        host: format!("127.0.0.{}", seq + 1),
        model: Some("HS103(US)".into()),
        mac: None,
        site: site.map(str::to_string),
        unit: None,
        method: Method::Remote,
    }
}

fn event(
    device_id: &str,
    ms: i64,
    state: Option<JobState>,
    kind: StoredKind,
    detail: Value,
) -> Record {
    Record::Event {
        run_id: RUN.into(),
        device_id: Some(device_id.into()),
        at: at(ms),
        state,
        kind,
        detail,
    }
}

fn probing(device_id: &str, ms: i64) -> Record {
    event(
        device_id,
        ms,
        Some(JobState::Probing),
        EventKind::State.into(),
        json!({}),
    )
}

fn outcome(device_id: &str, ms: i64, outcome: Outcome, reason: Option<Reason>) -> Record {
    Record::Outcome {
        run_id: RUN.into(),
        device_id: device_id.into(),
        at: at(ms),
        outcome,
        reason,
        detail: format!("{outcome} at {ms}"),
        attempts: 1,
    }
}

fn snapshot(device_id: &str, ms: i64, phase: SnapshotPhase, data: Value) -> Record {
    Record::Snapshot {
        run_id: RUN.into(),
        device_id: device_id.into(),
        phase,
        at: at(ms),
        data,
    }
}

fn confirmed(device_id: &str, ms: i64, by: &str) -> Record {
    event(
        device_id,
        ms,
        None,
        EventKind::ManualConfirmed.into(),
        json!({"by": by, "said_at": null, "note": null, "operator": "ops",
               "source": "command line", "seen": {"result": "not_checked"}}),
    )
}

/// A database at `path` holding run [`RUN`] with `jobs` and then `records`, ended.
fn database(path: &Path, action: Action, jobs: &[NewJob], records: Vec<Record>) -> Db {
    let mut db = Db::open(path).unwrap();
    db.create_run(&new_run(action), jobs).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut db = rt.block_on(async move {
        let (writer, task): (Writer, _) = Writer::spawn(db, 64);
        for r in records {
            writer.record(r).await.unwrap();
        }
        drop(writer);
        task.finish().await.unwrap()
    });
    db.end_run(RUN, at(600_000), RunEnd::Finished(Finished {}))
        .unwrap();
    db
}

/// The four files, written from the record loaded whole and from the database streamed.
fn both_ways(db: &Db, tmp: &Path) -> [(String, Vec<u8>, Vec<u8>); 4] {
    let record = db.load_run(RUN).unwrap();
    let whole = write_in(
        &tmp.join("whole"),
        Source::Record(&record),
        Extras::default(),
        fixture::ZONE,
    )
    .unwrap();
    let reader = db.read_run(RUN).unwrap();
    let streamed = write_in(
        &tmp.join("streamed"),
        Source::Db(&reader),
        Extras::default(),
        fixture::ZONE,
    )
    .unwrap();
    [
        (whole.devices_csv, streamed.devices_csv),
        (whole.run_json, streamed.run_json),
        (whole.summary_md, streamed.summary_md),
        (whole.report_html, streamed.report_html),
    ]
    .map(|(a, b)| {
        (
            a.file_name().unwrap().to_string_lossy().into_owned(),
            fs::read(a).unwrap(),
            fs::read(b).unwrap(),
        )
    })
}

fn assert_same(files: &[(String, Vec<u8>, Vec<u8>); 4]) {
    for (name, whole, streamed) in files {
        assert!(
            whole == streamed,
            "{name} differs:\n--- whole\n{}\n--- streamed\n{}",
            String::from_utf8_lossy(whole),
            String::from_utf8_lossy(streamed)
        );
    }
}

#[test]
fn a_factory_reset_streamed_from_the_database_is_the_report_of_its_whole_record() {
    let tmp = tempfile::tempdir().unwrap();
    let jobs = [
        new_job("plug-1", 0, Some("north")),
        new_job("plug-2", 1, None),
        new_job("cam-3", 2, Some("north")),
        new_job("plug-4", 3, Some("south")),
        new_job("strip-5", 4, None),
    ];
    let intent = |id: &str, ms, bound: Value| {
        event(
            id,
            ms,
            Some(JobState::IntentRecorded),
            EventKind::Intent.into(),
            json!({"pre": {"bound": bound}}),
        )
    };
    let records = vec![
        probing("plug-1", 10),
        probing("plug-2", 12),
        snapshot(
            "plug-1",
            20,
            SnapshotPhase::Pre,
            json!({"sysinfo": {"alias": "=SUM(1)", "mac": "50-C7-BF-00-00-01"}, "cloud": {"binded": 1}}),
        ),
        intent("plug-1", 30, json!(true)),
        // Of two intents the first tells how the device was bound.
        intent("plug-2", 31, json!(false)),
        intent("plug-2", 32, json!(true)),
        Record::Identity {
            run_id: RUN.into(),
            device_id: "plug-2".into(),
            verified: false,
        },
        probing("plug-4", 40),
        // A power cycle's `observed_away` is no sign of leaving; a factory reset's is.
        event(
            "plug-4",
            50,
            None,
            EventKind::ObservedAway.into(),
            json!({}),
        ),
        event("plug-1", 60, None, EventKind::LeftNetwork.into(), json!({})),
        snapshot(
            "plug-1",
            70,
            SnapshotPhase::Post,
            json!({"summary": {"alias": "plug \u{1b}[2J one", "bound": false}}),
        ),
        outcome("plug-1", 80, Outcome::Succeeded, None),
        outcome("plug-2", 90, Outcome::Failed, Some(Reason::Unreachable)),
        outcome("cam-3", 95, Outcome::ManualConfirmed, None),
        outcome(
            "strip-5",
            99,
            Outcome::Skipped,
            Some(Reason::ThresholdReached),
        ),
        confirmed("cam-3", 100_000, "Ana"),
        // The last confirmation that reads as one names the technician.
        confirmed("cam-3", 200_000, "Bo | <b>"),
        event(
            "cam-3",
            300_000,
            None,
            EventKind::ManualConfirmed.into(),
            json!({"edited": true}),
        ),
        event(
            "plug-2",
            400_000,
            None,
            EventKind::ConfirmationRefused.into(),
            json!({"by": "Cy", "why": "it still answers"}),
        ),
    ];
    let db = database(
        &tmp.path().join("a.db"),
        Action::FactoryReset,
        &jobs,
        records,
    );
    let files = both_ways(&db, tmp.path());
    assert_same(&files);
    let csv = String::from_utf8(files[0].1.clone()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 6, "{csv}");
    assert!(rows[1].starts_with("plug-1,north,"), "{csv}");
    assert!(rows[1].ends_with(",true,false,true,,"), "{}", rows[1]);
    assert!(rows[2].contains(",false,unknown,unknown,"), "{}", rows[2]);
    assert!(
        rows[3].ends_with(",Bo | <b>,2026-11-21 06:50:28.123 +01:00"),
        "{}",
        rows[3]
    );
    assert!(rows[4].ends_with(",true,,"), "{}", rows[4]);
    let summary = String::from_utf8(files[2].1.clone()).unwrap();
    assert!(summary.contains("## Not succeeded (4)"), "{summary}");
    assert!(
        summary.contains("## Without an identity check (1)"),
        "{summary}"
    );
    assert!(
        summary.contains("## Confirmed by technicians (2)"),
        "{summary}"
    );
    assert!(
        summary.contains("## Confirmations the devices contradicted (1)"),
        "{summary}"
    );
}

#[test]
fn a_power_cycle_of_hundreds_draws_the_same_grouped_chart_from_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 457u32;
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| new_job(&format!("p{i:03}"), i, [Some("a"), None][i as usize % 2]))
        .collect();
    let mut records = Vec::new();
    for i in 0..n {
        let id = format!("p{i:03}");
        // Starts out of inventory order, some at the same moment, a few before the run's
        // recorded start; some jobs never start, some never end.
        let start = i64::from((i * 7919) % 300) * 100 - 500;
        match i % 11 {
            0 => records.push(outcome(
                &id,
                30_000,
                Outcome::Skipped,
                Some(Reason::WindowClosed),
            )),
            1 => records.push(probing(&id, start)),
            _ => {
                records.push(probing(&id, start));
                records.push(probing(&id, start + 50));
                let o = if i % 5 == 0 {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                };
                records.push(outcome(
                    &id,
                    start + 1_000 + i64::from(i % 13) * 200,
                    o,
                    None,
                ));
            }
        }
    }
    let db = database(&tmp.path().join("p.db"), Action::PowerCycle, &jobs, records);
    let files = both_ways(&db, tmp.path());
    assert_same(&files);
    let page = String::from_utf8(files[3].1.clone()).unwrap();
    assert!(page.contains("5 jobs a row"), "no grouped chart");
    assert_eq!(page.matches(" by start: ").count(), 92);
}
