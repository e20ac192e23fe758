//! Site databases built through the store's own API, as the engine and the commands write
//! them: a run, its events and outcomes through the writer, its end; later a resume and a
//! technician's confirmation at the site.

use std::path::{Path, PathBuf};

use chrono::TimeZone;
use serde_json::json;

use crate::model::{Action, JobState, Method, Outcome, Reason, StoredKind};
use crate::store::{
    Confirmation, Db, Finished, Interrupted, NewJob, NewRun, Record, Resumed, RunEnd, RunStatus,
    Seal, Seen, Technician, Timestamp, Writer,
};

pub(super) fn t(s: i64) -> Timestamp {
    chrono::Utc.timestamp_opt(1_795_000_000 + s, 0).unwrap()
}

pub(super) fn job(id: &str, seq: u32, method: Method) -> NewJob {
    NewJob {
        device_id: id.into(),
        seq,
        host: format!("127.70.9.{}", seq + 1),
        model: Some("HS110(EU)".into()),
        mac: None,
        site: None,
        unit: None,
        method,
    }
}

/// `dir/<site>/fleetreset.db` with run `run_id`: `manual` left for a technician, `plug` skipped
/// by an interruption after a few events; the run's end sealed as a checkpoint.
pub(super) async fn site(dir: &Path, site: &str, run_id: &str) -> PathBuf {
    let path = dir.join(site).join("fleetreset.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut db = Db::open(&path).unwrap();
    let run = NewRun {
        id: run_id.into(),
        action: Action::PowerCycle,
        inventory_path: "fleet.csv".into(),
        inventory_sha256: "aa".into(),
        parameters: Default::default(),
        operator: "op".into(),
        tool_version: "0".into(),
        started_at: t(0),
    };
    let jobs = [
        job("manual", 0, Method::Manual),
        job("plug", 1, Method::Remote),
    ];
    db.create_run(&run, &jobs).unwrap();
    let (writer, task) = Writer::spawn(db, 16);
    let state = |device: &str, state| Record::Event {
        run_id: run_id.into(),
        device_id: Some(device.into()),
        at: t(1),
        state: Some(state),
        kind: StoredKind::from(crate::model::EventKind::State),
        detail: json!({}),
    };
    writer
        .record(state("plug", JobState::Probing))
        .await
        .unwrap();
    for (device, outcome, reason) in [
        ("manual", Outcome::ManualRequired, Reason::Unsupported),
        ("plug", Outcome::Skipped, Reason::Interrupted),
    ] {
        writer
            .record_durable(Record::Outcome {
                run_id: run_id.into(),
                device_id: device.into(),
                at: t(2),
                outcome,
                reason: Some(reason),
                detail: "first".into(),
                attempts: 1,
            })
            .await
            .unwrap();
    }
    drop(writer);
    let mut db = task.finish().await.unwrap();
    let end = RunEnd::Interrupted(Interrupted {
        signal: Some("SIGINT".into()),
        signal_at: Some(t(3)),
        signals: 1,
        left_open: 0,
        skipped: 1,
    });
    db.end_run(run_id, t(3), end).unwrap();
    seal(&mut db, run_id, Seal::RunEnded);
    path
}

pub(super) fn seal(db: &mut Db, run_id: &str, why: Seal) {
    let head = db.chain_head(run_id).unwrap().unwrap();
    db.record_checkpoint(&head, why, t(9), None).unwrap();
}

/// What `resume` and then `confirm` record at the site: the skipped plug runs and succeeds,
/// the technician confirms the manual job.
pub(super) async fn resume_and_confirm(path: &Path, run_id: &str, by: &str) {
    let mut db = Db::open(path).unwrap();
    let resumed = Resumed {
        operator: "op".into(),
        previous_status: RunStatus::Interrupted,
        inventory_sha256_then: "aa".into(),
        inventory_sha256_now: "aa".into(),
        force: false,
        window: None,
        tool_version: "0".into(),
    };
    db.reopen_run(run_id, t(10), &resumed).unwrap();
    let (writer, task) = Writer::spawn(db, 16);
    writer
        .record_durable(Record::Outcome {
            run_id: run_id.into(),
            device_id: "plug".into(),
            at: t(11),
            outcome: Outcome::Succeeded,
            reason: None,
            detail: "rebooted".into(),
            attempts: 2,
        })
        .await
        .unwrap();
    drop(writer);
    let mut db = task.finish().await.unwrap();
    db.end_run(run_id, t(12), RunEnd::Finished(Finished {}))
        .unwrap();
    seal(&mut db, run_id, Seal::RunEnded);
    let technician = Technician {
        by: by.into(),
        said_at: None,
        note: None,
        operator: "ops".into(),
        source: "command line".into(),
    };
    let confirmation = Confirmation {
        device_id: "manual".into(),
        at: t(20),
        technician,
        seen: Seen::NotChecked,
        post: None,
    };
    db.confirm_manual(run_id, &[confirmation]).unwrap();
    seal(&mut db, run_id, Seal::Confirmed);
}
