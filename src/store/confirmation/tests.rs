use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::model::{Action, Method, Reason};
use crate::store::{NewJob, NewRun, Writer};

fn t(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(1_795_000_000_000 + ms)
        .unwrap()
}

fn job(id: &str, seq: u32) -> NewJob {
    NewJob {
        device_id: id.into(),
        seq,
        host: format!("127.44.0.{}", seq + 1),
        model: Some("HS103".into()),
        mac: None,
        site: None,
        unit: None,
        method: Method::Manual,
    }
}

/// Run `r` with `manual` ending manual_required and `done` ending succeeded, through the
/// writer as the engine records outcomes.
async fn db() -> (tempfile::TempDir, Db) {
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
    db.create_run(&run, &[job("manual", 0), job("done", 1)])
        .unwrap();
    let (writer, task): (Writer, _) = Writer::spawn(db, 16);
    for (id, outcome) in [
        ("manual", Outcome::ManualRequired),
        ("done", Outcome::Succeeded),
    ] {
        writer
            .record_durable(Record::Outcome {
                run_id: "r".into(),
                device_id: id.into(),
                at: t(10),
                outcome,
                reason: (outcome == Outcome::ManualRequired).then_some(Reason::Unreachable),
                detail: "offline".into(),
                attempts: 1,
            })
            .await
            .unwrap();
    }
    drop(writer);
    let db = task.finish().await.unwrap();
    (dir, db)
}

fn confirmation(device: &str, seen: Seen, post: Option<Value>) -> Confirmation {
    Confirmation {
        device_id: device.into(),
        at: t(100),
        technician: Technician {
            by: "Ana Técnica".into(),
            said_at: Some("14:05".into()),
            note: Some("reset at the bracket".into()),
            operator: "ops".into(),
            source: "command line".into(),
        },
        seen,
        post,
    }
}

#[tokio::test]
async fn a_confirmation_moves_the_job_and_records_who_when_and_what_was_seen() {
    let (_dir, mut db) = db().await;
    let seen = Seen::Answered {
        address: "127.44.0.1:9999".into(),
        bound: Some(false),
        detail: "answers unbound".into(),
    };
    let post = json!({"summary": {"bound": false}});
    db.confirm_manual(
        "r",
        &[confirmation("manual", seen.clone(), Some(post.clone()))],
    )
    .unwrap();
    let rec = db.load_run("r").unwrap();
    let job = &rec.jobs[0];
    assert_eq!(job.outcome, Some(Outcome::ManualConfirmed));
    assert_eq!(
        job.detail.as_deref(),
        Some("confirmed by Ana Técnica at 14:05: answers unbound")
    );
    assert_eq!(job.finished_at, Some(t(100)));
    let confirmed = rec.confirmations();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].technician.by, "Ana Técnica");
    assert_eq!(confirmed[0].technician.operator, "ops");
    assert_eq!(confirmed[0].seen, seen);
    assert_eq!(confirmed[0].at, t(100));
    let snap = rec
        .snapshots
        .iter()
        .find(|s| s.device_id == "manual")
        .unwrap();
    assert_eq!((snap.phase, &snap.data), (SnapshotPhase::Post, &post));
}

#[tokio::test]
async fn a_second_confirmation_is_refused_naming_the_first() {
    let (_dir, mut db) = db().await;
    db.confirm_manual("r", &[confirmation("manual", Seen::NotChecked, None)])
        .unwrap();
    let err = db
        .confirm_manual("r", &[confirmation("manual", Seen::NotChecked, None)])
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyConfirmed { .. }), "{err}");
    let err = db.load_run("r").unwrap().confirmable("manual").unwrap_err();
    assert_eq!(
        err.to_string(),
        "device manual of run r is already confirmed, by Ana Técnica at 2026-11-18T11:06:40.100Z"
    );
    assert_eq!(db.load_run("r").unwrap().confirmations().len(), 1);
}

#[tokio::test]
async fn nothing_is_written_when_one_job_of_the_batch_cannot_be_confirmed() {
    let (_dir, mut db) = db().await;
    let before = db.load_run("r").unwrap();
    let err = db
        .confirm_manual(
            "r",
            &[
                confirmation("manual", Seen::NotChecked, None),
                confirmation("done", Seen::NotChecked, None),
            ],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "device done of run r ended succeeded, not manual_required: only a job left for a technician can be confirmed"
    );
    assert_eq!(db.load_run("r").unwrap(), before);
    let err = db
        .confirm_manual("r", &[confirmation("nope", Seen::NotChecked, None)])
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchJob { .. }), "{err}");
}

#[tokio::test]
async fn a_refused_confirmation_keeps_the_job_manual_required_with_the_evidence() {
    let (_dir, mut db) = db().await;
    let refusal = Refusal {
        device_id: "manual".into(),
        at: t(50),
        technician: confirmation("manual", Seen::NotChecked, None).technician,
        address: "127.44.0.1:9999".into(),
        why: "still bound".into(),
        post: Some(json!({"summary": {"bound": true}})),
    };
    db.refuse_confirmation("r", &refusal).unwrap();
    let rec = db.load_run("r").unwrap();
    assert_eq!(rec.jobs[0].outcome, Some(Outcome::ManualRequired));
    let last = rec.events.last().unwrap();
    assert_eq!(last.kind, EventKind::ConfirmationRefused);
    assert_eq!(last.detail["why"], "still bound");
    assert_eq!(last.detail["by"], "Ana Técnica");
    assert!(rec.confirmations().is_empty());
    assert!(rec.confirmable("manual").is_ok());
}

#[tokio::test]
async fn evidence_and_confirmations_are_recorded_together_or_not_at_all() {
    let (_dir, mut db) = db().await;
    let refusal = Refusal {
        device_id: "manual".into(),
        at: t(20),
        technician: confirmation("manual", Seen::NotChecked, None).technician,
        address: "127.44.0.1:9999".into(),
        why: "it still answers bound".into(),
        post: Some(json!({"summary": {"bound": true}})),
    };
    let before = db.load_run("r").unwrap();
    // The confirmation can't stand (the job succeeded): the refusal is not recorded either.
    assert!(
        db.record_confirmations(
            "r",
            &[confirmation("done", Seen::NotChecked, None)],
            std::slice::from_ref(&refusal),
        )
        .is_err()
    );
    assert_eq!(db.load_run("r").unwrap(), before);
    db.record_confirmations("r", &[], std::slice::from_ref(&refusal))
        .unwrap();
    let rec = db.load_run("r").unwrap();
    assert_eq!(
        rec.events
            .iter()
            .filter(|e| e.kind == EventKind::ConfirmationRefused)
            .count(),
        1
    );
}
