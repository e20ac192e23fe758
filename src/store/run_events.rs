//! Run-level events: the life of a run itself (started, interrupted, stopped, resumed,
//! finished), as rows of `events` with no `device_id`. They sit in the same append-only table,
//! in the same write order, as the jobs' events, so whatever covers the events covers them.
//!
//! Each is written in the same transaction as the change to `runs` it describes, so a run row
//! never says `interrupted` without the event that says by what.

use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::insert_event;
use super::db::durably;
use super::{Db, EventRow, RunStatus, StoreError, Timestamp, time};
use crate::model::{Reason, RunEventKind};

/// `run_started`: who started the run, on which inventory, with which settings. Written with
/// the run itself by [`Db::create_run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub operator: String,
    pub inventory_path: String,
    pub inventory_sha256: String,
    pub tool_version: String,
    /// The validated parameters, as `runs.parameters` holds them.
    pub parameters: Value,
}

/// `run_interrupted`: a signal (Ctrl-C, SIGTERM) stopped the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interrupted {
    /// `SIGINT` or `SIGTERM`; `None` when the caller could not tell (a library caller).
    pub signal: Option<String>,
    /// When the first signal arrived.
    pub signal_at: Option<Timestamp>,
    /// How many signals arrived: a second one stops the jobs in flight at once.
    pub signals: u32,
    /// Jobs stopped in flight, or judged by no one: their commands may have arrived, and
    /// `resume` judges them.
    pub left_open: u32,
    /// Jobs that never started and got a resumable skip.
    pub skipped: u32,
}

/// `run_stopped`: a failure threshold or the maintenance window stopped the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    /// `threshold_reached` or `window_closed`: the reason the skipped jobs carry.
    pub reason: Reason,
    /// In words: which threshold, which window.
    pub why: String,
    /// Jobs whose command may have arrived and that were left for `resume` to judge.
    pub left_open: u32,
    pub skipped: u32,
}

/// `run_finished`: every job of the run has its outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Finished {}

/// `run_resumed`: `fleetreset resume` took the run up again. Written with the reopening by
/// [`Db::reopen_run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resumed {
    pub operator: String,
    /// The run's status before the resume. `running` means the process that ran it ended
    /// without closing it: it crashed, was killed, or lost power.
    pub previous_status: RunStatus,
    /// The inventory's SHA-256 when the run began, and now.
    pub inventory_sha256_then: String,
    pub inventory_sha256_now: String,
    /// Whether `--force` was given (it is needed only when the two hashes differ).
    pub force: bool,
    /// The maintenance window the resume runs under, when `--window` replaced the run's.
    pub window: Option<String>,
    pub tool_version: String,
}

impl Resumed {
    pub fn inventory_changed(&self) -> bool {
        self.inventory_sha256_then != self.inventory_sha256_now
    }
}

/// How a run's process ended it: the event [`Db::end_run`] writes with the run's status.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    Interrupted(Interrupted),
    Stopped(Stopped),
    Finished(Finished),
}

impl RunEnd {
    /// The status `runs.status` gets. A run that leaves commands for `resume` to judge is
    /// `interrupted` whatever stopped it: it is not over until they are judged.
    pub fn status(&self) -> RunStatus {
        match self {
            RunEnd::Interrupted(_) => RunStatus::Interrupted,
            RunEnd::Stopped(s) if s.left_open > 0 => RunStatus::Interrupted,
            RunEnd::Stopped(_) => RunStatus::Stopped,
            RunEnd::Finished(_) => RunStatus::Finished,
        }
    }
}

/// A run-level event, typed; its `detail` JSON is the variant's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Started(Started),
    Interrupted(Interrupted),
    Stopped(Stopped),
    Resumed(Resumed),
    Finished(Finished),
}

impl From<RunEnd> for RunEvent {
    fn from(end: RunEnd) -> RunEvent {
        match end {
            RunEnd::Interrupted(e) => RunEvent::Interrupted(e),
            RunEnd::Stopped(e) => RunEvent::Stopped(e),
            RunEnd::Finished(e) => RunEvent::Finished(e),
        }
    }
}

impl RunEvent {
    pub fn kind(&self) -> RunEventKind {
        match self {
            RunEvent::Started(_) => RunEventKind::RunStarted,
            RunEvent::Interrupted(_) => RunEventKind::RunInterrupted,
            RunEvent::Stopped(_) => RunEventKind::RunStopped,
            RunEvent::Resumed(_) => RunEventKind::RunResumed,
            RunEvent::Finished(_) => RunEventKind::RunFinished,
        }
    }

    /// What `events.detail` holds.
    pub fn detail(&self) -> Value {
        let value = match self {
            RunEvent::Started(e) => serde_json::to_value(e),
            RunEvent::Interrupted(e) => serde_json::to_value(e),
            RunEvent::Stopped(e) => serde_json::to_value(e),
            RunEvent::Resumed(e) => serde_json::to_value(e),
            RunEvent::Finished(e) => serde_json::to_value(e),
        };
        // Plain structs of strings, numbers and words: serde_json can't fail on them.
        value.expect("run events serialize to JSON")
    }

    /// The run-level event a stored row holds: `None` for a job's event (a job's kind, or a
    /// device), or a detail that doesn't read as its kind's (a row
    /// edited by hand) — reports show what they can read and leave the rest to `run.json`.
    pub fn of_row(row: &EventRow) -> Option<RunEvent> {
        if row.device_id.is_some() {
            return None;
        }
        let kind = row.kind.run()?;
        let detail = row.detail.clone();
        let event = match kind {
            RunEventKind::RunStarted => RunEvent::Started(serde_json::from_value(detail).ok()?),
            RunEventKind::RunInterrupted => {
                RunEvent::Interrupted(serde_json::from_value(detail).ok()?)
            }
            RunEventKind::RunStopped => RunEvent::Stopped(serde_json::from_value(detail).ok()?),
            RunEventKind::RunResumed => RunEvent::Resumed(serde_json::from_value(detail).ok()?),
            RunEventKind::RunFinished => RunEvent::Finished(serde_json::from_value(detail).ok()?),
            // A verification sample's events are read by `store::sample`, not the timeline.
            RunEventKind::SampleDrawn | RunEventKind::SampleFinished => return None,
        };
        Some(event)
    }
}

/// Appends a run-level event inside the caller's transaction.
pub(super) fn insert(
    conn: &Connection,
    run_id: &str,
    at: &Timestamp,
    event: &RunEvent,
) -> Result<(), StoreError> {
    insert_event(
        conn,
        run_id,
        None,
        at,
        None,
        event.kind().into(),
        &event.detail(),
    )
}

impl Db {
    /// Closes the run: its end time, the status `end` gives ([`RunEnd::status`]) and the event
    /// that says how it ended, in one durable transaction.
    pub fn end_run(&mut self, run_id: &str, at: Timestamp, end: RunEnd) -> Result<(), StoreError> {
        let status = end.status();
        let event = RunEvent::from(end);
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3 WHERE id = ?1",
                params![run_id, time::format(&at), status.as_str()],
            )?;
            if changed == 0 {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            super::chain::record::chain_status(&tx, run_id)?;
            insert(&tx, run_id, &at, &event)?;
            tx.commit()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::model::{Action, EventKind, Method, StoredKind};
    use crate::store::{NewJob, NewRun};

    fn at(text: &str) -> Timestamp {
        time::parse(text).unwrap()
    }

    fn db_with_run() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
        let run = NewRun {
            id: "r1".into(),
            action: Action::PowerCycle,
            inventory_path: "lab.csv".into(),
            inventory_sha256: "aa".into(),
            parameters: crate::store::RunParameters {
                rate_per_s: Some(5),
                ..Default::default()
            },
            operator: "alice".into(),
            tool_version: "0.1.0".into(),
            started_at: at("2026-11-21T05:47:08.123Z"),
        };
        let job = NewJob {
            device_id: "plug-1".into(),
            seq: 0,
            host: "10.0.0.1".into(),
            model: None,
            mac: None,
            site: None,
            unit: None,
            method: Method::Remote,
        };
        db.create_run(&run, &[job]).unwrap();
        (dir, db)
    }

    #[test]
    fn a_new_run_starts_with_its_run_started_event() {
        let (_dir, db) = db_with_run();
        let rec = db.load_run("r1").unwrap();
        assert_eq!(rec.events.len(), 1);
        let row = &rec.events[0];
        assert_eq!(row.kind, RunEventKind::RunStarted);
        assert_eq!(row.device_id, None);
        assert_eq!(row.at, at("2026-11-21T05:47:08.123Z"));
        assert_eq!(
            row.detail,
            json!({
                "operator": "alice",
                "inventory_path": "lab.csv",
                "inventory_sha256": "aa",
                "tool_version": "0.1.0",
                "parameters": {"rate_per_s": 5}
            })
        );
        assert!(
            matches!(RunEvent::of_row(row), Some(RunEvent::Started(s)) if s.operator == "alice")
        );
    }

    #[test]
    fn ending_a_run_writes_its_status_and_the_event_that_says_why() {
        let (_dir, mut db) = db_with_run();
        let end = RunEnd::Interrupted(Interrupted {
            signal: Some("SIGTERM".into()),
            signal_at: Some(at("2026-11-21T05:48:00.000Z")),
            signals: 1,
            left_open: 0,
            skipped: 1,
        });
        db.end_run("r1", at("2026-11-21T05:48:01.000Z"), end.clone())
            .unwrap();
        let rec = db.load_run("r1").unwrap();
        assert_eq!(rec.run.status, RunStatus::Interrupted);
        assert_eq!(rec.run.finished_at, Some(at("2026-11-21T05:48:01.000Z")));
        let last = rec.events.last().unwrap();
        assert_eq!(last.kind, RunEventKind::RunInterrupted);
        assert_eq!(last.detail["signal"], "SIGTERM");
        assert_eq!(last.detail["signal_at"], "2026-11-21T05:48:00Z");
        assert_eq!(RunEvent::of_row(last), Some(RunEvent::from(end)));
    }

    #[test]
    fn ending_a_run_that_does_not_exist_writes_nothing() {
        let (_dir, mut db) = db_with_run();
        let err = db
            .end_run("nope", Utc::now(), RunEnd::Finished(Finished {}))
            .unwrap_err();
        assert!(matches!(err, StoreError::NoSuchRun(_)), "{err:?}");
        assert_eq!(db.load_run("r1").unwrap().events.len(), 1);
    }

    #[test]
    fn a_stop_that_leaves_commands_to_judge_is_an_interruption() {
        let stopped = |left_open| {
            RunEnd::Stopped(Stopped {
                reason: Reason::WindowClosed,
                why: "the maintenance window 22:00-06:00 closed".into(),
                left_open,
                skipped: 3,
            })
        };
        assert_eq!(stopped(0).status(), RunStatus::Stopped);
        assert_eq!(stopped(1).status(), RunStatus::Interrupted);
        assert_eq!(RunEnd::Finished(Finished {}).status(), RunStatus::Finished);
    }

    #[test]
    fn a_row_of_a_job_or_of_a_job_kind_is_no_run_event() {
        let row = |device_id: Option<&str>, kind: StoredKind, detail: Value| EventRow {
            id: 1,
            device_id: device_id.map(str::to_string),
            at: Utc::now(),
            state: None,
            kind,
            detail,
        };
        let finished = RunEventKind::RunFinished.into();
        assert_eq!(RunEvent::of_row(&row(Some("d"), finished, json!({}))), None);
        assert_eq!(
            RunEvent::of_row(&row(None, EventKind::Ack.into(), json!({}))),
            None
        );
        assert_eq!(
            RunEvent::of_row(&row(
                None,
                RunEventKind::RunStopped.into(),
                json!({"why": 3})
            )),
            None
        );
        assert_eq!(
            RunEvent::of_row(&row(None, finished, json!({}))),
            Some(RunEvent::Finished(Finished {}))
        );
    }
}
