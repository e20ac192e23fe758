//! The SQLite audit: runs, jobs, append-only events, and pre/post snapshots.
//!
//! One owner at a time: a command opens a [`Db`], creates the run, then hands the connection to
//! the [`Writer`] task for the run's duration and gets it back when the writer finishes. Jobs
//! never touch SQLite; they send [`Record`]s over the writer's bounded channel, so a slow disk
//! slows the scheduler instead of losing records.
//!
//! Public API (the engine and reports compile against it; keep names and fields stable).
//!
//! # Layout
//! - `schema`: the migrations (`PRAGMA user_version`); the tables are documented there.
//! - `db`: opening (refusing a file that isn't ours, permissions, pragmas, migrating), the
//!   preflight check, creating and finishing a run.
//! - `writer`: the writer thread, its batches and durable commits.
//! - `apply`: what each [`Record`] does to the tables.
//! - `parameters`: [`RunParameters`], the run's settings as `runs.parameters` holds them,
//!   written and read back by that one type.
//! - `query`: listing runs, resolving run ids, loading a whole run.
//! - `run_events`: the events of the whole run (started, interrupted, stopped, resumed,
//!   finished), typed, written with the change to `runs` they describe.
//! - [`lock`]: one active run per database, an OS lock on a file next to the database.
//! - `wal`: refusing a database whose write-ahead log lost committed records.
//! - `space`: the preflight probes (a file can be created, enough bytes are free), shared with
//!   the reports.
//! - `confirmation`: a technician's confirmation of a manual job (`manual_required` →
//!   `manual_confirmed`), or its refusal when the device contradicts it.
//! - `chain`: the hash chain over every record a report relies on, appended in the same
//!   transaction as the row; its checkpoints; `verify`, which recomputes it from the rows.
//! - `history`: every job of every run that touched one device, by id or MAC.
//! - [`merge`]: many sites' databases merged into one (`fleetreset audit merge`), keyed by site,
//!   each run's chain still verifiable; a merged audit is an archive.
//! - `sample`: a verifier's re-check of a random share of a run's sanitized devices
//!   (`fleetreset audit sample`), as `sample_drawn`, `sample_checked` and `sample_finished` events.
//! - `stream`: one run read in one transaction without holding it: counts by query, jobs,
//!   snapshots and events one at a time, for the reports.
//! - `columns`, `time`: stored words, timestamps and JSON, read and written one way.

mod apply;
mod chain;
mod columns;
mod confirmation;
mod db;
mod history;
pub mod lock;
mod logins;
pub mod merge;
mod parameters;
mod query;
mod run_events;
mod sample;
mod schema;
pub(crate) mod space;
mod stream;
mod time;
mod wal;
mod writer;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::model::{Action, JobState, Method, Outcome, Reason, StoredKind};

pub use self::chain::{ChainHead, Checkpoint, Seal, Signed, verify};
pub use self::confirmation::{Confirmation, Confirmed, Refusal, Seen, Technician};
pub use self::history::{HistoryRow, mac_digits};
pub use self::logins::LoginRefusal;
pub use self::parameters::{InventoryRead, RunParameters, SafetyParameters};
pub use self::run_events::{Finished, Interrupted, Resumed, RunEnd, RunEvent, Started, Stopped};
pub use self::sample::{
    CheckResult, SampleCheck, SampleChecked, SampleDrawn, SampleFinished, SampleResult,
};
pub use self::stream::{JobBundle, JobCount, JobFilter, RunOutline, RunReader, SpanRow};

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
    /// `--db` names a SQLite file that is not a fleetreset audit database. Refused before
    /// anything was written to it.
    #[error(
        "{path} is not a fleetreset audit database ({detail}); nothing was changed in it: give --db a fleetreset database or a new file"
    )]
    NotOurs { path: String, detail: String },
    /// The `-shm` says committed frames wait in a `-wal` that is missing or truncated: opening
    /// would silently drop the newest records. Refused before SQLite touched any file.
    #[error(
        "database {path}: its write-ahead log {path}-wal holds {frames} committed frames not yet in the database file but is missing or truncated, so recent records (possibly an intent to reset a device) would be lost; restore {path}-wal from where the database was copied. Nothing was changed"
    )]
    WalLost { path: String, frames: u32 },
    /// [`Db::preflight`] found the database unable to take a run's records. `why` names the
    /// directory and the reason (`no space in DIR: 12 KiB free, about 3 MiB needed`).
    #[error("the audit database {path} cannot take a run's records: {why}")]
    NotReady { path: String, why: std::io::Error },
    #[error("no run {0:?} in the database")]
    NoSuchRun(String),
    #[error("{0:?} matches several runs; give more of the id")]
    AmbiguousRun(String),
    /// The database file could not be created (missing or read-only directory, …).
    #[error("cannot create database {path}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("run {run_id} has no job {device_id:?}")]
    NoSuchJob { run_id: String, device_id: String },
    #[error("job {device_id} of run {run_id} already has an outcome")]
    DuplicateOutcome { run_id: String, device_id: String },
    /// Only a job left for a technician (`manual_required`) can be confirmed.
    #[error(
        "device {device_id} of run {run_id} ended {outcome}, not manual_required: only a job left for a technician can be confirmed"
    )]
    NotManual {
        run_id: String,
        device_id: String,
        outcome: String,
    },
    #[error("device {device_id} of run {run_id} is already confirmed, by {by} at {at}")]
    AlreadyConfirmed {
        run_id: String,
        device_id: String,
        by: String,
        at: String,
    },
    /// A stored chain hash is not a hash: the chain table was edited. Nothing more is
    /// appended to a chain that can't be continued; `fleetreset audit verify` says more.
    #[error(
        "the audit chain of run {run_id} is damaged at record {n}; nothing was written. `fleetreset audit verify --run {run_id}` shows what changed"
    )]
    ChainDamaged { run_id: String, n: i64 },
    /// An event row whose kind is no word this build knows: a newer fleetreset wrote it, or
    /// the row was edited. Refused rather than skipped, so no report leaves an event out
    /// unsaid.
    #[error(
        "event {event_id} of run {run_id} has kind {word:?}, which this fleetreset does not know (written by a newer fleetreset, or edited); upgrade fleetreset to read this run"
    )]
    UnknownEventKind {
        run_id: String,
        event_id: i64,
        word: String,
    },
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A run's status in `runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The validated parameters (rate, concurrency, timeouts, …).
    pub parameters: RunParameters,
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
        kind: StoredKind,
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
    /// Whether the device proved its identity (jobs.identity_verified).
    Identity {
        run_id: String,
        device_id: String,
        verified: bool,
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
    /// As stored, for `run.json`; [`RunRow::parameters`] reads it typed.
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

/// A job whose command may have arrived and that has no outcome ([`Db::open_commands`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCommand {
    pub run_id: String,
    pub device_id: String,
    /// The address as the run recorded it.
    pub host: String,
    pub mac: Option<String>,
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
    /// Some(true) verified by MAC, Some(false) acted on without a MAC to check, None not reached.
    pub identity_verified: Option<bool>,
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
    pub kind: StoredKind,
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
    conn: rusqlite::Connection,
    /// As given to [`Db::open`], for messages.
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Sends records to the writer task. Cheap to clone; one per job task.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<writer::Msg>,
}

/// The writer task; [`WriterTask::finish`] waits for it once every [`Writer`] is dropped.
pub struct WriterTask {
    /// The thread sends the database back when its queue is closed and drained.
    done: oneshot::Receiver<Db>,
}

/// Records queued between the jobs and the disk. Enough for every job of a large concurrent
/// batch to report a few state changes without waiting, small enough to bound memory.
pub const WRITER_CAPACITY: usize = 1024;
