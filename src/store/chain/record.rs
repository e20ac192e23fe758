//! Each chained record read as it is stored, and appended to the chain after it was written.
//! The writer and `audit verify` read rows through the same functions, so what the chain
//! holds is the row as SQLite keeps it, not the value the writer meant to keep.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::encode::{Event, Identity, Job, Outcome, Run, Snapshot, Status};
use super::{Kind, append, snapshot_ref};
use crate::store::StoreError;

fn json(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    // A column that is not JSON was edited by hand (the schema checks `json_valid`): it still
    // encodes, as the text it holds, so the verifier reports a changed record, not an error.
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub(crate) fn read_run(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<(Run, Status)>> {
    conn.prepare_cached(
        "SELECT id, action, inventory_path, inventory_sha256, parameters, operator,
                tool_version, started_at, status, finished_at
         FROM runs WHERE id = ?1",
    )?
    .query_row(params![run_id], |r| {
        Ok((
            Run {
                id: r.get(0)?,
                action: r.get(1)?,
                inventory_path: r.get(2)?,
                inventory_sha256: r.get(3)?,
                parameters: json(r, 4)?,
                operator: r.get(5)?,
                tool_version: r.get(6)?,
                started_at: r.get(7)?,
            },
            Status {
                status: r.get(8)?,
                finished_at: r.get(9)?,
            },
        ))
    })
    .optional()
}

const JOB_COLUMNS: &str = "device_id, seq, host, model, mac, site, unit, method,
                           outcome, reason, detail, finished_at, identity_verified";

/// A job's three chained records: as described, its outcome (when it has one), its identity
/// verdict (when there is one).
type JobRecords = (Job, Option<Outcome>, Option<Identity>);

fn job_records(r: &Row<'_>) -> rusqlite::Result<JobRecords> {
    let device_id: String = r.get(0)?;
    let outcome = Outcome {
        device_id: device_id.clone(),
        outcome: r.get(8)?,
        reason: r.get(9)?,
        detail: r.get(10)?,
        finished_at: r.get(11)?,
    };
    let identity: Option<bool> = r.get(12)?;
    Ok((
        Job {
            device_id: device_id.clone(),
            seq: r.get(1)?,
            host: r.get(2)?,
            model: r.get(3)?,
            mac: r.get(4)?,
            site: r.get(5)?,
            unit: r.get(6)?,
            method: r.get(7)?,
        },
        (outcome.outcome.is_some() || outcome.finished_at.is_some()).then_some(outcome),
        identity.map(|verified| Identity {
            device_id,
            verified,
        }),
    ))
}

pub(crate) fn read_jobs(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<JobRecords>> {
    conn.prepare(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE run_id = ?1 ORDER BY seq"
    ))?
    .query_map(params![run_id], job_records)?
    .collect()
}

fn read_job(conn: &Connection, run_id: &str, device_id: &str) -> rusqlite::Result<JobRecords> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE run_id = ?1 AND device_id = ?2"
    ))?
    .query_row(params![run_id, device_id], job_records)
}

pub(crate) fn read_events(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<Event>> {
    conn.prepare(
        "SELECT id, device_id, at, state, kind, detail FROM events WHERE run_id = ?1 ORDER BY id",
    )?
    .query_map(params![run_id], |r| {
        Ok(Event {
            id: r.get(0)?,
            device_id: r.get(1)?,
            at: r.get(2)?,
            state: r.get(3)?,
            kind: r.get(4)?,
            detail: json(r, 5)?,
        })
    })?
    .collect()
}

pub(crate) fn read_snapshots(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<Snapshot>> {
    conn.prepare(
        "SELECT device_id, phase, taken_at, data FROM snapshots WHERE run_id = ?1
         ORDER BY device_id, phase",
    )?
    .query_map(params![run_id], snapshot)?
    .collect()
}

fn snapshot(r: &Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        device_id: r.get(0)?,
        phase: r.get(1)?,
        taken_at: r.get(2)?,
        data: json(r, 3)?,
    })
}

/// Chains the run and its status as stored, after `create_run` inserted it.
pub(crate) fn chain_run(conn: &Connection, run_id: &str) -> Result<(), StoreError> {
    let Some((run, status)) = read_run(conn, run_id)? else {
        return Err(StoreError::NoSuchRun(run_id.to_string()));
    };
    append(conn, run_id, Kind::Run, run_id, &run.encode())?;
    append(conn, run_id, Kind::Status, run_id, &status.encode())
}

/// Chains the run's status as stored, after it changed.
pub(crate) fn chain_status(conn: &Connection, run_id: &str) -> Result<(), StoreError> {
    let Some((_, status)) = read_run(conn, run_id)? else {
        return Err(StoreError::NoSuchRun(run_id.to_string()));
    };
    append(conn, run_id, Kind::Status, run_id, &status.encode())
}

/// Chains a job as the inventory described it, after `create_run` inserted it.
pub(crate) fn chain_job(
    conn: &Connection,
    run_id: &str,
    device_id: &str,
) -> Result<(), StoreError> {
    let (job, _, _) = read_job(conn, run_id, device_id)?;
    append(conn, run_id, Kind::Job, device_id, &job.encode())
}

/// Chains a job's outcome columns as stored, after they changed (an outcome, a confirmation,
/// or `resume` clearing a skip: then all four are `null`).
pub(crate) fn chain_outcome(
    conn: &Connection,
    run_id: &str,
    device_id: &str,
) -> Result<(), StoreError> {
    let (_, outcome, _) = read_job(conn, run_id, device_id)?;
    let outcome = outcome.unwrap_or_else(|| Outcome::none(device_id));
    append(conn, run_id, Kind::Outcome, device_id, &outcome.encode())
}

/// Chains a job's identity verdict as stored, after it was set.
pub(crate) fn chain_identity(
    conn: &Connection,
    run_id: &str,
    device_id: &str,
) -> Result<(), StoreError> {
    let (_, _, identity) = read_job(conn, run_id, device_id)?;
    if let Some(identity) = identity {
        append(conn, run_id, Kind::Identity, device_id, &identity.encode())?;
    }
    Ok(())
}

/// Chains a snapshot as stored, after it was written.
pub(crate) fn chain_snapshot(
    conn: &Connection,
    run_id: &str,
    device_id: &str,
    phase: &str,
) -> Result<(), StoreError> {
    let snap = conn
        .prepare_cached(
            "SELECT device_id, phase, taken_at, data FROM snapshots
             WHERE run_id = ?1 AND device_id = ?2 AND phase = ?3",
        )?
        .query_row(params![run_id, device_id, phase], snapshot)?;
    append(
        conn,
        run_id,
        Kind::Snapshot,
        &snapshot_ref(device_id, phase),
        &snap.encode(),
    )
}

/// Chains an event the caller just inserted, from the values it inserted (the event's text
/// columns are exactly these; `detail` is stored as this value's JSON text).
pub(crate) fn chain_event(
    conn: &Connection,
    run_id: &str,
    event: &Event,
) -> Result<(), StoreError> {
    append(
        conn,
        run_id,
        Kind::Event,
        &event.id.to_string(),
        &event.encode(),
    )
}

/// Chains every record of a run that has no chain yet, as the rows stand: the run and its
/// status, each job with its outcome and identity verdict, each event, each snapshot.
pub(crate) fn adopt(conn: &Connection, run_id: &str) -> Result<(), StoreError> {
    chain_run(conn, run_id)?;
    for (job, outcome, identity) in read_jobs(conn, run_id)? {
        let id = job.device_id.clone();
        append(conn, run_id, Kind::Job, &id, &job.encode())?;
        if let Some(outcome) = outcome {
            append(conn, run_id, Kind::Outcome, &id, &outcome.encode())?;
        }
        if let Some(identity) = identity {
            append(conn, run_id, Kind::Identity, &id, &identity.encode())?;
        }
    }
    for event in read_events(conn, run_id)? {
        chain_event(conn, run_id, &event)?;
    }
    for snap in read_snapshots(conn, run_id)? {
        let reference = snapshot_ref(&snap.device_id, &snap.phase);
        append(conn, run_id, Kind::Snapshot, &reference, &snap.encode())?;
    }
    Ok(())
}
