//! Reading runs back: the list, resolving what the user typed to a run id, one whole run.

use rusqlite::{OptionalExtension, Row, params};

use super::columns::{json, opt_timestamp, opt_word, timestamp, word};

use super::{Db, JobRow, OpenCommand, RunRecord, RunRow, SnapshotRow, StoreError};

/// A run with its job counts; callers add `WHERE`, then `GROUP BY r.id`.
pub(super) const RUN_SELECT: &str = "
    SELECT r.id, r.action, r.inventory_path, r.inventory_sha256, r.parameters, r.operator,
           r.tool_version, r.started_at, r.finished_at, r.status,
           COUNT(j.device_id),
           COUNT(*) FILTER (WHERE j.outcome = 'succeeded'),
           COUNT(*) FILTER (WHERE j.outcome = 'failed'),
           COUNT(*) FILTER (WHERE j.outcome NOT IN ('succeeded', 'failed'))
    FROM runs r LEFT JOIN jobs j ON j.run_id = r.id";

/// An event's id as its run's chain knows it, of `events e`: for an event merged from a site's
/// database (`fleetreset audit merge`), the id its site gave it; otherwise its own. Reports of
/// a merged run then name the events as its site's reports and `audit verify` do.
pub(super) const EVENT_ID: &str =
    "COALESCE((SELECT o.site_event_id FROM event_origins o WHERE o.id = e.id), e.id)";

/// Newest first; the id breaks ties between runs started in the same millisecond.
/// Newest first by when each run was recorded in this database (its rowid), not by its
/// `started_at`: that is the wall clock of whichever process wrote it, which can be hours off.
const NEWEST_FIRST: &str = "ORDER BY r.rowid DESC";

/// What `resolve_run_id` takes to mean the newest run.
const LATEST: &str = "latest";

impl Db {
    /// All runs, newest first.
    pub fn list_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("{RUN_SELECT} GROUP BY r.id {NEWEST_FIRST}");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `latest`, a full run id, or a unique prefix of one → the run id.
    pub fn resolve_run_id(&self, query: &str) -> Result<String, StoreError> {
        let no_such_run = || StoreError::NoSuchRun(query.to_string());
        if query == LATEST {
            let sql = format!("SELECT r.id FROM runs r {NEWEST_FIRST} LIMIT 1");
            return self
                .conn
                .query_row(&sql, [], |r| r.get(0))
                .optional()?
                .ok_or_else(no_such_run);
        }
        if query.is_empty() {
            return Err(no_such_run());
        }
        let exact: Option<String> = self
            .conn
            .query_row("SELECT id FROM runs WHERE id = ?1", [query], |r| r.get(0))
            .optional()?;
        if let Some(id) = exact {
            return Ok(id);
        }
        // substr, not LIKE: a `_` or `%` in what the user typed is not a wildcard.
        let mut stmt = self.conn.prepare(
            "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 2",
        )?;
        let matches = stmt
            .query_map([query], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        match <[String; 1]>::try_from(matches) {
            Ok([id]) => Ok(id),
            Err(matches) if matches.is_empty() => Err(no_such_run()),
            Err(_) => Err(StoreError::AmbiguousRun(query.to_string())),
        }
    }

    /// Jobs whose intent to send a command was recorded and that have no outcome: their
    /// command may have arrived, and only `resume` of their run may judge them. Of run `run_id`
    /// only, or of every run. A query rather than whole runs read back: it runs before every
    /// `run` and `resume`, over however much history the database holds.
    pub fn open_commands(&self, run_id: Option<&str>) -> Result<Vec<OpenCommand>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT j.run_id, j.device_id, j.host, j.mac FROM jobs j
             WHERE j.outcome IS NULL AND (?1 IS NULL OR j.run_id = ?1)
               AND EXISTS (SELECT 1 FROM events e
                           WHERE e.run_id = j.run_id AND e.device_id = j.device_id
                             AND e.kind = 'intent')
             ORDER BY j.run_id, j.seq",
        )?;
        let rows = stmt.query_map(params![run_id], |r| {
            Ok(OpenCommand {
                run_id: r.get(0)?,
                device_id: r.get(1)?,
                host: r.get(2)?,
                mac: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything stored about one run: jobs in inventory order, snapshots in job order (pre
    /// before post), events in write order.
    pub fn load_run(&self, run_id: &str) -> Result<RunRecord, StoreError> {
        let sql = format!("{RUN_SELECT} WHERE r.id = ?1 GROUP BY r.id");
        let run = self
            .conn
            .query_row(&sql, [run_id], run_row)
            .optional()?
            .ok_or_else(|| StoreError::NoSuchRun(run_id.to_string()))?;

        let mut stmt = self.conn.prepare(
            "SELECT device_id, seq, host, model, mac, site, unit, method, state, outcome,
                    reason, detail, attempts, started_at, finished_at, identity_verified
             FROM jobs WHERE run_id = ?1 ORDER BY seq",
        )?;
        let jobs = stmt
            .query_map(params![run_id], job_row)?
            .collect::<Result<_, _>>()?;

        let mut stmt = self.conn.prepare(
            "SELECT s.device_id, s.phase, s.taken_at, s.data
             FROM snapshots s JOIN jobs j ON j.run_id = s.run_id AND j.device_id = s.device_id
             WHERE s.run_id = ?1 ORDER BY j.seq, s.phase = 'post'",
        )?;
        let snapshots = stmt
            .query_map(params![run_id], |r| {
                Ok(SnapshotRow {
                    device_id: r.get(0)?,
                    phase: word(r, 1)?,
                    taken_at: timestamp(r, 2)?,
                    data: json(r, 3)?,
                })
            })?
            .collect::<Result<_, _>>()?;

        let mut stmt = self.conn.prepare(&format!(
            "SELECT {EVENT_ID}, e.device_id, e.at, e.state, e.kind, e.detail
             FROM events e WHERE e.run_id = ?1 ORDER BY e.id"
        ))?;
        let mut rows = stmt.query(params![run_id])?;
        let mut events = Vec::new();
        while let Some(r) = rows.next()? {
            events.push(super::stream::event_row(run_id, r)?);
        }

        Ok(RunRecord {
            run,
            jobs,
            snapshots,
            events,
        })
    }
}

pub(super) fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        action: word(r, 1)?,
        inventory_path: r.get(2)?,
        inventory_sha256: r.get(3)?,
        parameters: json(r, 4)?,
        operator: r.get(5)?,
        tool_version: r.get(6)?,
        started_at: timestamp(r, 7)?,
        finished_at: opt_timestamp(r, 8)?,
        status: word(r, 9)?,
        jobs: r.get(10)?,
        succeeded: r.get(11)?,
        failed: r.get(12)?,
        other: r.get(13)?,
    })
}

pub(super) fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        device_id: r.get(0)?,
        seq: r.get(1)?,
        host: r.get(2)?,
        model: r.get(3)?,
        mac: r.get(4)?,
        site: r.get(5)?,
        unit: r.get(6)?,
        method: word(r, 7)?,
        state: word(r, 8)?,
        outcome: opt_word(r, 9)?,
        reason: opt_word(r, 10)?,
        detail: r.get(11)?,
        attempts: r.get(12)?,
        started_at: opt_timestamp(r, 13)?,
        finished_at: opt_timestamp(r, 14)?,
        identity_verified: r.get(15)?,
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::{Action, EventKind, RunEventKind};
    use crate::store::NewRun;

    #[test]
    fn an_event_of_a_kind_this_build_does_not_know_is_refused_by_id_and_word() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
        let run = NewRun {
            id: "r1".into(),
            action: Action::PowerCycle,
            inventory_path: "lab.csv".into(),
            inventory_sha256: "aa".into(),
            parameters: Default::default(),
            operator: "alice".into(),
            tool_version: "0.1.0".into(),
            started_at: chrono::Utc::now(),
        };
        db.create_run(&run, &[]).unwrap();
        let rec = db.load_run("r1").unwrap();
        assert_eq!(rec.events[0].kind, RunEventKind::RunStarted);
        assert_ne!(rec.events[0].kind, EventKind::State);
        // As a newer fleetreset would write it.
        db.conn
            .execute(
                "INSERT INTO events (run_id, device_id, at, state, kind, detail)
                 VALUES ('r1', NULL, '2026-11-21T05:47:08.123Z', NULL, 'run_paused', '{}')",
                [],
            )
            .unwrap();
        let id = db.conn.last_insert_rowid();
        match db.load_run("r1") {
            Err(StoreError::UnknownEventKind {
                run_id,
                event_id,
                word,
            }) => {
                assert_eq!(
                    (run_id.as_str(), event_id, word.as_str()),
                    ("r1", id, "run_paused")
                );
            }
            other => panic!("expected UnknownEventKind, got {other:?}"),
        }
        let err = db.load_run("r1").unwrap_err().to_string();
        assert!(
            err.contains(&format!("event {id} of run r1")) && err.contains("\"run_paused\""),
            "{err}"
        );
    }
}
