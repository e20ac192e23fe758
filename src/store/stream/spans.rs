//! When each job ran, for the report's chart, sorted by SQLite in order of start, and the
//! run's last recorded moment.

use rusqlite::params;

use super::RunReader;
use crate::model::{EventKind, Outcome, RunEventKind};
use crate::store::columns::{opt_timestamp, opt_word};
use crate::store::{StoreError, Timestamp};

/// When a job ran, for the report's chart: its first `probing` state event (else its
/// `started_at`) and, for a job with an outcome, its last `outcome` event (else its
/// `finished_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    pub seq: u32,
    pub device_id: String,
    pub outcome: Option<Outcome>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl RunReader<'_> {
    /// The chart's jobs in order of start (a never-started job where it was settled, then the
    /// jobs with neither at the end), and the last moment of the run (its end, or the latest
    /// event, start or end recorded before anything a later command added).
    pub fn spans<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(SpanRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let t0 = crate::store::time::format(&self.run.started_at);
        let sql = format!(
            "{SPANS} SELECT seq, device_id, outcome, start, end_at FROM s
             ORDER BY MAX(COALESCE(start, end_at), ?2) IS NULL, MAX(COALESCE(start, end_at), ?2), seq"
        );
        let mut stmt = self.tx.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt
            .query(params![self.id(), t0])
            .map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let span = (|| {
                Ok::<_, rusqlite::Error>(SpanRow {
                    seq: r.get(0)?,
                    device_id: r.get(1)?,
                    outcome: opt_word(r, 2)?,
                    start: opt_timestamp(r, 3)?,
                    end: opt_timestamp(r, 4)?,
                })
            })()
            .map_err(StoreError::from)?;
            f(span)?;
        }
        Ok(())
    }

    /// The latest of the run's recorded moments the chart spans: events (but those a later
    /// command added), job starts and ends. `None`: nothing recorded.
    pub fn last_moment(&self) -> Result<Option<Timestamp>, StoreError> {
        let after: Vec<String> = [
            EventKind::ManualConfirmed.as_str(),
            EventKind::ConfirmationRefused.as_str(),
            EventKind::SampleChecked.as_str(),
            RunEventKind::SampleDrawn.as_str(),
            RunEventKind::SampleFinished.as_str(),
        ]
        .iter()
        .map(|k| format!("'{k}'"))
        .collect();
        let events: Option<Timestamp> = self.tx.query_row(
            &format!(
                "SELECT MAX(at) FROM events WHERE run_id = ?1 AND kind NOT IN ({})",
                after.join(", ")
            ),
            [self.id()],
            |r| opt_timestamp(r, 0),
        )?;
        let (start, end): (Option<Timestamp>, Option<Timestamp>) = self.tx.query_row(
            &format!("{SPANS} SELECT MAX(start), MAX(end_at) FROM s"),
            [self.id()],
            |r| Ok((opt_timestamp(r, 0)?, opt_timestamp(r, 1)?)),
        )?;
        Ok([events, start, end].into_iter().flatten().max())
    }
}

/// `s`: each job's start and end as [`SpanRow`] has them. Stored times are fixed-width UTC
/// text ([`super::time`]), so their text order is their time order.
const SPANS: &str = "
    WITH f AS (
        SELECT device_id,
               MIN(CASE WHEN kind = 'state' AND state = 'probing' THEN at END) AS probe,
               MAX(CASE WHEN kind = 'outcome' THEN at END) AS outcome_at
        FROM events
        WHERE run_id = ?1 AND device_id IS NOT NULL AND kind IN ('state', 'outcome')
        GROUP BY device_id
    ), s AS (
        SELECT j.seq, j.device_id, j.outcome,
               COALESCE(f.probe, j.started_at) AS start,
               CASE WHEN j.outcome IS NOT NULL THEN COALESCE(f.outcome_at, j.finished_at) END
                   AS end_at
        FROM jobs j LEFT JOIN f ON f.device_id = j.device_id
        WHERE j.run_id = ?1
    )";
