//! The SQLite audit: runs, jobs, append-only events, and pre/post snapshots.
//!
//! One owner at a time: a command opens a [`Db`], creates the run, then hands the connection to
//! the [`Writer`] task for the run's duration and gets it back when the writer finishes. Jobs
//! never touch SQLite; they send [`Record`]s over the writer's bounded channel, so a slow disk
//! slows the scheduler instead of losing records.
//!
//! Public API (the engine and reports compile against it; keep names and fields stable).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::model::{Action, JobState, Method, Outcome, Reason};

/// Times are UTC, stored as RFC 3339 text with milliseconds (`2026-11-21T05:47:08.123Z`).
pub type Timestamp = DateTime<Utc>;

/// Default database file, relative to the working directory.
pub const DEFAULT_DB: &str = "fleetreset.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} was written by a newer fleetreset (schema version {found}, this build knows {known}); upgrade fleetreset"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("no run {0:?} in the database")]
    NoSuchRun(String),
    #[error("{0:?} matches several runs; give more of the id")]
    AmbiguousRun(String),
    #[error("job {device_id} of run {run_id} already has an outcome")]
    DuplicateOutcome { run_id: String, device_id: String },
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A run's status in `runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Every job ran to an outcome.
    Finished,
    /// Stopped early by a threshold or window; some jobs skipped.
    Stopped,
    /// Stopped by a signal.
    Interrupted,
}

/// A run as created, before any job starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub id: String,
    pub action: Action,
    pub inventory_path: String,
    pub inventory_sha256: String,
    /// The validated parameters (rate, concurrency, timeouts, …) as JSON.
    pub parameters: Value,
    pub operator: String,
    pub tool_version: String,
    pub started_at: Timestamp,
}

/// One job as created: the device as the inventory describes it and the chosen method.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub device_id: String,
    /// Position in the inventory, from 0; reports list jobs in this order.
    pub seq: u32,
    pub host: String,
    pub model: Option<String>,
    pub mac: Option<String>,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub method: Method,
}

/// Whether a snapshot was taken before or after the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotPhase {
    Pre,
    Post,
}

/// What a job tells the writer.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Something happened. With `state`, the job moved to that state (jobs.state is updated);
    /// `kind` names the event (`state`, `probe_failed`, `ack`, `went_away`, `came_back`, …).
    Event {
        run_id: String,
        device_id: Option<String>,
        at: Timestamp,
        state: Option<JobState>,
        kind: String,
        detail: Value,
    },
    Snapshot {
        run_id: String,
        device_id: String,
        phase: SnapshotPhase,
        at: Timestamp,
        data: Value,
    },
    /// The job started (jobs.started_at).
    Started {
        run_id: String,
        device_id: String,
        at: Timestamp,
    },
    /// The job's one outcome. A second outcome for the same job is refused
    /// ([`StoreError::DuplicateOutcome`]). Also appends an `outcome` event.
    Outcome {
        run_id: String,
        device_id: String,
        at: Timestamp,
        outcome: Outcome,
        reason: Option<Reason>,
        detail: String,
        attempts: u32,
    },
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub action: Action,
    pub inventory_path: String,
    pub inventory_sha256: String,
    pub parameters: Value,
    pub operator: String,
    pub tool_version: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: RunStatus,
    pub jobs: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// Jobs with any other outcome (manual, skipped).
    pub other: u32,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub device_id: String,
    pub seq: u32,
    pub host: String,
    pub model: Option<String>,
    pub mac: Option<String>,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub method: Method,
    pub state: JobState,
    pub outcome: Option<Outcome>,
    pub reason: Option<Reason>,
    pub detail: Option<String>,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRow {
    pub device_id: String,
    pub phase: SnapshotPhase,
    pub taken_at: Timestamp,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub device_id: Option<String>,
    pub at: Timestamp,
    pub state: Option<JobState>,
    pub kind: String,
    pub detail: Value,
}

/// Everything stored about one run, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub run: RunRow,
    /// In inventory order.
    pub jobs: Vec<JobRow>,
    pub snapshots: Vec<SnapshotRow>,
    /// In the order they were written.
    pub events: Vec<EventRow>,
}

/// An open database. Exactly one owner: the command, or the writer task during a run.
pub struct Db {
    _todo: (),
}

impl Db {
    /// Opens (creating with owner-only permissions if new) and migrates the database.
    pub fn open(_path: &Path) -> Result<Db, StoreError> {
        todo!()
    }
    /// Creates the run and all its jobs (state pending) in one durable transaction.
    pub fn create_run(&mut self, _run: &NewRun, _jobs: &[NewJob]) -> Result<(), StoreError> {
        todo!()
    }
    /// Marks the run finished with `status`, durably.
    pub fn finish_run(
        &mut self,
        _run_id: &str,
        _status: RunStatus,
        _at: Timestamp,
    ) -> Result<(), StoreError> {
        todo!()
    }
    /// All runs, newest first.
    pub fn list_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        todo!()
    }
    /// `latest`, a full run id, or a unique prefix of one → the run id.
    pub fn resolve_run_id(&self, _query: &str) -> Result<String, StoreError> {
        todo!()
    }
    pub fn load_run(&self, _run_id: &str) -> Result<RunRecord, StoreError> {
        todo!()
    }
}

/// Sends records to the writer task. Cheap to clone; one per job task.
#[derive(Clone)]
pub struct Writer {
    _todo: (),
}

/// The writer task; [`WriterTask::finish`] waits for it once every [`Writer`] is dropped.
pub struct WriterTask {
    _todo: (),
}

/// Records queued between the jobs and the disk. Enough for every job of a large concurrent
/// batch to report a few state changes without waiting, small enough to bound memory.
pub const WRITER_CAPACITY: usize = 1024;

impl Writer {
    /// Starts the writer task on its own thread, owning `db`.
    pub fn spawn(_db: Db, _capacity: usize) -> (Writer, WriterTask) {
        todo!()
    }
    /// Queues a record; committed with the next batch (synchronous=NORMAL).
    pub async fn record(&self, _rec: Record) -> Result<(), StoreError> {
        todo!()
    }
    /// Writes a record and returns only once it is committed with synchronous=FULL. Used for
    /// the intent to send a disruptive command, and for outcomes.
    pub async fn record_durable(&self, _rec: Record) -> Result<(), StoreError> {
        todo!()
    }
}

impl WriterTask {
    /// Waits until every `Writer` is dropped and everything queued is committed, then hands
    /// the database back.
    pub async fn finish(self) -> Result<Db, StoreError> {
        todo!()
    }
}
