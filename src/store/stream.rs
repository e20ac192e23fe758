//! Reading one run back without holding it: the run row and its own events (a handful), counts
//! by query, and every job, snapshot and event handed to a callback one at a time, so a report
//! of 100,000 devices takes no more memory than one of ten.
//!
//! A [`RunReader`] is one read transaction: every query it makes sees the same database, so the
//! files written from it agree with each other even while another process appends to the run
//! (`confirm`, `audit sample`). It reads only.
//!
//! The per-device streams come in inventory order (`seq`). Jobs and their snapshots are read
//! through indexes; a job's events are sorted by SQLite, whose sorter spills to a temporary
//! file past its cache (`temp_store = FILE`), not to memory.

use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior};

use super::columns::{json, opt_word, timestamp, word};
use super::query::{EVENT_ID, RUN_SELECT, job_row, run_row};
use super::{Confirmed, Db, EventRow, JobRow, RunRow, SnapshotRow, StoreError};
use crate::model::{EventKind, Outcome, Reason, StoredKind};

/// Jobs in inventory order, with every column [`JobRow`] holds.
pub(super) const JOB_SELECT: &str = "
    SELECT device_id, seq, host, model, mac, site, unit, method, state, outcome,
           reason, detail, attempts, started_at, finished_at, identity_verified
    FROM jobs WHERE run_id = ?1";

/// Which jobs [`RunReader::jobs`] hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFilter {
    All,
    /// Every outcome but `succeeded`, unfinished jobs included.
    NotSucceeded,
    /// Acted on without an identity check (`identity_verified = 0`).
    Unverified,
}

impl JobFilter {
    fn sql(self) -> &'static str {
        match self {
            JobFilter::All => "",
            JobFilter::NotSucceeded => " AND outcome IS NOT 'succeeded'",
            JobFilter::Unverified => " AND identity_verified = 0",
        }
    }
}

/// A run's jobs counted by site, outcome and reason: one row per combination that occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub site: Option<String>,
    pub outcome: Option<Outcome>,
    pub reason: Option<Reason>,
    pub jobs: u32,
}

/// What the end of a run tells people: the run (with its job counts), its jobs counted by
/// outcome, and the jobs that did not succeed, in inventory order. Not the jobs that did: a
/// fleet that succeeded costs nothing to tell.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutline {
    pub run: RunRow,
    /// `(outcome, jobs)` for each outcome some job has, `None` for jobs without one.
    pub by_outcome: Vec<(Option<Outcome>, u32)>,
    pub not_succeeded: Vec<JobRow>,
}

impl RunOutline {
    /// How many jobs ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.by_outcome
            .iter()
            .filter(|(o, _)| *o == Some(outcome))
            .map(|(_, n)| *n as usize)
            .sum()
    }

    /// How many jobs the run has.
    pub fn jobs(&self) -> usize {
        self.run.jobs as usize
    }
}

/// One run, read in one transaction. See the module documentation.
pub struct RunReader<'db> {
    tx: Transaction<'db>,
    pub run: RunRow,
    /// The events of the run itself (`device_id` NULL), in write order.
    pub run_events: Vec<EventRow>,
}

impl Db {
    /// Opens a read transaction on run `run_id` and reads its row and its own events.
    pub fn read_run(&self, run_id: &str) -> Result<RunReader<'_>, StoreError> {
        // Sorts and the chart's per-job aggregate go to a temporary file past SQLite's page
        // cache, not to memory: this build's SQLite keeps temporary tables in memory unless told.
        self.conn.pragma_update(None, "temp_store", "FILE")?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let sql = format!("{RUN_SELECT} WHERE r.id = ?1 GROUP BY r.id");
        let run = tx
            .query_row(&sql, [run_id], run_row)
            .optional()?
            .ok_or_else(|| StoreError::NoSuchRun(run_id.to_string()))?;
        let mut reader = RunReader {
            tx,
            run,
            run_events: Vec::new(),
        };
        let mut run_events = Vec::new();
        reader.events_where(" AND device_id IS NULL", |e| {
            run_events.push(e);
            Ok::<_, StoreError>(())
        })?;
        reader.run_events = run_events;
        Ok(reader)
    }
}

impl RunReader<'_> {
    fn id(&self) -> &str {
        &self.run.id
    }

    /// Jobs in inventory order.
    pub fn jobs<E: From<StoreError>>(
        &self,
        filter: JobFilter,
        mut f: impl FnMut(JobRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!("{JOB_SELECT}{} ORDER BY seq", filter.sql());
        let mut stmt = self.tx.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt.query([self.id()]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            f(job_row(row).map_err(StoreError::from)?)?;
        }
        Ok(())
    }

    /// The run's outline ([`RunOutline`]).
    pub fn outline(&self) -> Result<RunOutline, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT outcome, COUNT(*) FROM jobs WHERE run_id = ?1 GROUP BY outcome")?;
        let by_outcome = stmt
            .query_map([self.id()], |r| Ok((opt_word(r, 0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut not_succeeded = Vec::new();
        self.jobs(JobFilter::NotSucceeded, |j| {
            not_succeeded.push(j);
            Ok::<_, StoreError>(())
        })?;
        Ok(RunOutline {
            run: self.run.clone(),
            by_outcome,
            not_succeeded,
        })
    }

    /// How many jobs `filter` lets through.
    pub fn count_jobs(&self, filter: JobFilter) -> Result<u32, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM jobs WHERE run_id = ?1{}",
            filter.sql()
        );
        Ok(self.tx.query_row(&sql, [self.id()], |r| r.get(0))?)
    }

    /// The jobs counted by site, outcome and reason.
    pub fn job_counts(&self) -> Result<Vec<JobCount>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT site, outcome, reason, COUNT(*) FROM jobs WHERE run_id = ?1
             GROUP BY site, outcome, reason",
        )?;
        let rows = stmt.query_map([self.id()], |r| {
            Ok(JobCount {
                site: r.get(0)?,
                outcome: opt_word(r, 1)?,
                reason: opt_word(r, 2)?,
                jobs: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Snapshots in job order, pre before post.
    pub fn snapshots<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(SnapshotRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT s.device_id, s.phase, s.taken_at, s.data
                 FROM snapshots s JOIN jobs j ON j.run_id = s.run_id AND j.device_id = s.device_id
                 WHERE s.run_id = ?1 ORDER BY j.seq, s.phase = 'post'",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([self.id()]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let snapshot = (|| {
                Ok::<_, rusqlite::Error>(SnapshotRow {
                    device_id: r.get(0)?,
                    phase: word(r, 1)?,
                    taken_at: timestamp(r, 2)?,
                    data: json(r, 3)?,
                })
            })()
            .map_err(StoreError::from)?;
            f(snapshot)?;
        }
        Ok(())
    }

    /// Every event of the run, in write order.
    pub fn events<E: From<StoreError>>(
        &self,
        f: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.events_where("", f)
    }

    /// The events of `kind`, in write order.
    pub fn events_of_kind<E: From<StoreError>>(
        &self,
        kind: EventKind,
        f: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        // A stored word, never user text.
        self.events_where(&format!(" AND kind = '{}'", kind.as_str()), f)
    }

    fn events_where<E: From<StoreError>>(
        &self,
        filter: &str,
        mut f: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!(
            "SELECT {EVENT_ID}, e.device_id, e.at, e.state, e.kind, e.detail
             FROM events e WHERE e.run_id = ?1{filter} ORDER BY e.id"
        );
        let mut stmt = self.tx.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt.query([self.id()]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            f(event_row(self.id(), r)?)?;
        }
        Ok(())
    }

    /// The confirmations recorded for the run (`manual_confirmed` events that read as one), in
    /// write order, each with whether its job is `manual_confirmed` now.
    pub fn confirmations<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Confirmed, bool) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .tx
            .prepare(&format!(
                "SELECT {EVENT_ID}, e.device_id, e.at, e.state, e.kind, e.detail, j.outcome
                 FROM events e LEFT JOIN jobs j ON j.run_id = e.run_id AND j.device_id = e.device_id
                 WHERE e.run_id = ?1 AND e.kind = '{}' ORDER BY e.id",
                EventKind::ManualConfirmed.as_str()
            ))
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([self.id()]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let event = event_row(self.id(), r)?;
            let outcome: Option<Outcome> = opt_word(r, 6).map_err(StoreError::from)?;
            if let Some(c) = Confirmed::of_event(&event) {
                f(c, outcome == Some(Outcome::ManualConfirmed))?;
            }
        }
        Ok(())
    }
}

/// An event row; a kind this build doesn't know is the store's own error, naming the row.
pub(super) fn event_row(run_id: &str, r: &Row<'_>) -> Result<EventRow, StoreError> {
    let id = r.get(0)?;
    let word: String = r.get(4)?;
    let Ok(kind) = word.parse::<StoredKind>() else {
        return Err(StoreError::UnknownEventKind {
            run_id: run_id.to_string(),
            event_id: id,
            word,
        });
    };
    Ok(EventRow {
        id,
        device_id: r.get(1)?,
        at: timestamp(r, 2)?,
        state: opt_word(r, 3)?,
        kind,
        detail: json(r, 5)?,
    })
}

mod bundle;
mod spans;

pub use self::bundle::JobBundle;
pub use self::spans::SpanRow;

#[cfg(test)]
mod tests;
