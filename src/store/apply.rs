//! What each [`Record`] does to the tables. Runs inside a transaction the writer owns.

use rusqlite::{Connection, params};
use serde_json::json;

use super::chain::record;
use super::{Record, StoreError, time};
use crate::model::{EventKind, JobState, StoredKind};

pub(crate) fn apply(conn: &Connection, rec: &Record) -> Result<(), StoreError> {
    match rec {
        Record::Event {
            run_id,
            device_id,
            at,
            state,
            kind,
            detail,
        } => {
            insert_event(
                conn,
                run_id,
                device_id.as_deref(),
                at,
                *state,
                *kind,
                detail,
            )?;
            // The schema refuses a state without a device, so the insert above failed already.
            if let (Some(state), Some(device_id)) = (state, device_id) {
                conn.prepare_cached(
                    "UPDATE jobs SET state = ?3 WHERE run_id = ?1 AND device_id = ?2",
                )?
                .execute(params![run_id, device_id, state.as_str()])?;
            }
            Ok(())
        }
        Record::Snapshot {
            run_id,
            device_id,
            phase,
            at,
            data,
        } => {
            // A retried job snapshots again. `pre` keeps the first: a re-probe may already see
            // the device after an earlier attempt acted, which would erase the evidence of
            // how it was. `post` keeps the last: the state the outcome was judged on.
            let changed = conn
                .prepare_cached(
                    "INSERT INTO snapshots (run_id, device_id, phase, taken_at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (run_id, device_id, phase) DO UPDATE
                     SET taken_at = excluded.taken_at, data = excluded.data
                     WHERE excluded.phase = 'post'",
                )?
                .execute(params![
                    run_id,
                    device_id,
                    phase.as_str(),
                    time::format(at),
                    data.to_string()
                ])?;
            if changed > 0 {
                record::chain_snapshot(conn, run_id, device_id, phase.as_str())?;
            }
            Ok(())
        }
        Record::Identity {
            run_id,
            device_id,
            verified,
        } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE jobs SET identity_verified = ?3 WHERE run_id = ?1 AND device_id = ?2",
                )?
                .execute(params![run_id, device_id, verified])?;
            if changed == 0 {
                return Err(no_such_job(run_id, device_id));
            }
            record::chain_identity(conn, run_id, device_id)
        }
        Record::Started {
            run_id,
            device_id,
            at,
        } => {
            // started_at is the first start; attempts counts them all.
            let changed = conn
                .prepare_cached(
                    "UPDATE jobs SET started_at = COALESCE(started_at, ?3), attempts = attempts + 1
                     WHERE run_id = ?1 AND device_id = ?2",
                )?
                .execute(params![run_id, device_id, time::format(at)])?;
            if changed == 0 {
                return Err(no_such_job(run_id, device_id));
            }
            Ok(())
        }
        Record::Outcome {
            run_id,
            device_id,
            at,
            outcome,
            reason,
            detail,
            attempts,
        } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE jobs SET outcome = ?3, reason = ?4, detail = ?5, attempts = ?6,
                                     finished_at = ?7, state = 'done'
                     WHERE run_id = ?1 AND device_id = ?2 AND outcome IS NULL",
                )?
                .execute(params![
                    run_id,
                    device_id,
                    outcome.as_str(),
                    reason.map(|r| r.as_str()),
                    detail,
                    attempts,
                    time::format(at),
                ])?;
            if changed == 0 {
                return Err(if job_exists(conn, run_id, device_id)? {
                    StoreError::DuplicateOutcome {
                        run_id: run_id.clone(),
                        device_id: device_id.clone(),
                    }
                } else {
                    no_such_job(run_id, device_id)
                });
            }
            record::chain_outcome(conn, run_id, device_id)?;
            let detail = json!({
                "outcome": outcome.as_str(),
                "reason": reason.map(|r| r.as_str()),
                "detail": detail,
            });
            insert_event(
                conn,
                run_id,
                Some(device_id),
                at,
                Some(JobState::Done),
                EventKind::Outcome.into(),
                &detail,
            )
        }
    }
}

pub(super) fn insert_event(
    conn: &Connection,
    run_id: &str,
    device_id: Option<&str>,
    at: &super::Timestamp,
    state: Option<JobState>,
    kind: StoredKind,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO events (run_id, device_id, at, state, kind, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        run_id,
        device_id,
        time::format(at),
        state.map(|s| s.as_str()),
        kind.as_str(),
        detail.to_string(),
    ])?;
    record::chain_new_event(conn, run_id, conn.last_insert_rowid())
}

fn job_exists(conn: &Connection, run_id: &str, device_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM jobs WHERE run_id = ?1 AND device_id = ?2)")?
        .query_row(params![run_id, device_id], |r| r.get(0))
}

fn no_such_job(run_id: &str, device_id: &str) -> StoreError {
    StoreError::NoSuchJob {
        run_id: run_id.to_string(),
        device_id: device_id.to_string(),
    }
}
