//! Each job with its snapshots and what its events show, in inventory order: three cursors in
//! `seq` order, merged.

use rusqlite::Row;
use serde_json::Value;

use super::{JOB_SELECT, RunReader};
use crate::model::{EventKind, Outcome};
use crate::store::columns::{json, timestamp, word};
use crate::store::query::job_row;
use crate::store::{Confirmed, EventRow, JobRow, SnapshotPhase, StoreError, Timestamp};

/// A job with what its snapshots and events show of it, for the one-row-per-device reports.
#[derive(Debug, Clone, PartialEq)]
pub struct JobBundle {
    pub job: JobRow,
    /// The `data` of its pre snapshot (the device before anything was sent), if taken.
    pub pre: Option<Value>,
    /// The `data` of its post snapshot (the device as it was left), if taken.
    pub post: Option<Value>,
    /// Whether the device was bound, from its first intent's pre-state (`pre.bound`).
    pub bound_at_intent: Option<bool>,
    /// Seen leaving the network: a `left_network` event, or for a factory reset `resume`
    /// finding the device gone (`observed_away`).
    pub left_network: bool,
    /// Who confirmed the job and when it was recorded, from its last confirmation, for a job
    /// that is `manual_confirmed` now.
    pub confirmed: Option<(String, Timestamp)>,
}

impl RunReader<'_> {
    /// Every job in inventory order with its snapshots and what its events show
    /// ([`JobBundle`]): three cursors in `seq` order, merged.
    pub fn bundles<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(JobBundle) -> Result<(), E>,
    ) -> Result<(), E> {
        let reset = self.run.action == crate::model::Action::FactoryReset;
        let sql = |e: rusqlite::Error| StoreError::from(e);
        let mut jobs = self
            .tx
            .prepare(&format!("{JOB_SELECT} ORDER BY seq"))
            .map_err(sql)?;
        let mut jobs = jobs.query([self.id()]).map_err(sql)?;
        let mut snaps = self
            .tx
            .prepare(
                "SELECT j.seq, s.phase, s.data
                 FROM snapshots s JOIN jobs j ON j.run_id = s.run_id AND j.device_id = s.device_id
                 WHERE s.run_id = ?1 ORDER BY j.seq, s.phase = 'post'",
            )
            .map_err(sql)?;
        let mut snaps = Peeked::new(snaps.query([self.id()]).map_err(sql)?, |r| {
            Ok((r.get::<_, u32>(0)?, word(r, 1)?, json(r, 2)?))
        })?;
        let mut events = self
            .tx
            .prepare(&format!(
                "SELECT j.seq, e.kind, e.id, e.device_id, e.at,
                        CASE WHEN e.kind = '{intent}' THEN json_type(e.detail, '$.pre.bound') END,
                        CASE WHEN e.kind = '{confirmed}' THEN e.detail END
                 FROM events e JOIN jobs j ON j.run_id = e.run_id AND j.device_id = e.device_id
                 WHERE e.run_id = ?1 AND e.kind IN ('{intent}', '{left}', '{away}', '{confirmed}')
                 ORDER BY j.seq, e.id",
                intent = EventKind::Intent.as_str(),
                confirmed = EventKind::ManualConfirmed.as_str(),
                left = EventKind::LeftNetwork.as_str(),
                away = EventKind::ObservedAway.as_str(),
            ))
            .map_err(sql)?;
        let mut events = Peeked::new(events.query([self.id()]).map_err(sql)?, |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                timestamp(r, 4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        while let Some(row) = jobs.next().map_err(sql)? {
            let job = job_row(row).map_err(sql)?;
            let mut bundle = JobBundle {
                pre: None,
                post: None,
                bound_at_intent: None,
                left_network: false,
                confirmed: None,
                job,
            };
            let seq = bundle.job.seq;
            while let Some((_, phase, data)) = snaps.next_if(|s| s.0 == seq)? {
                match phase {
                    SnapshotPhase::Pre => bundle.pre = Some(data),
                    SnapshotPhase::Post => bundle.post = Some(data),
                }
            }
            let mut intent_seen = false;
            while let Some((_, kind, id, device_id, at, bound, detail)) =
                events.next_if(|e| e.0 == seq)?
            {
                if kind == EventKind::Intent.as_str() {
                    if !intent_seen {
                        intent_seen = true;
                        bundle.bound_at_intent = match bound.as_deref() {
                            Some("true") => Some(true),
                            Some("false") => Some(false),
                            _ => None,
                        };
                    }
                } else if kind == EventKind::LeftNetwork.as_str()
                    || (reset && kind == EventKind::ObservedAway.as_str())
                {
                    bundle.left_network = true;
                } else if kind == EventKind::ManualConfirmed.as_str() {
                    let detail = detail
                        .as_deref()
                        .and_then(|d| serde_json::from_str(d).ok())
                        .unwrap_or(Value::Null);
                    let event = EventRow {
                        id,
                        device_id,
                        at,
                        state: None,
                        kind: EventKind::ManualConfirmed.into(),
                        detail,
                    };
                    if let Some(c) = Confirmed::of_event(&event) {
                        bundle.confirmed = Some((c.technician.by, c.at));
                    }
                }
            }
            if bundle.job.outcome != Some(Outcome::ManualConfirmed) {
                bundle.confirmed = None;
            }
            f(bundle)?;
        }
        Ok(())
    }
}

/// A cursor with its next row read ahead, for merging by `seq`.
struct Peeked<'s, T> {
    rows: rusqlite::Rows<'s>,
    read: fn(&Row<'_>) -> rusqlite::Result<T>,
    next: Option<T>,
}

impl<'s, T> Peeked<'s, T> {
    fn new(
        rows: rusqlite::Rows<'s>,
        read: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Self, StoreError> {
        let mut p = Peeked {
            rows,
            read,
            next: None,
        };
        p.advance()?;
        Ok(p)
    }

    fn advance(&mut self) -> Result<(), StoreError> {
        self.next = match self.rows.next()? {
            Some(r) => Some((self.read)(r)?),
            None => None,
        };
        Ok(())
    }

    /// The next row, if `belongs` says it is the current job's.
    fn next_if(&mut self, belongs: impl Fn(&T) -> bool) -> Result<Option<T>, StoreError> {
        if !self.next.as_ref().is_some_and(belongs) {
            return Ok(None);
        }
        let row = self.next.take();
        self.advance()?;
        Ok(row)
    }
}
