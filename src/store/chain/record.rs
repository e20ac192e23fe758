//! Each chained record read as it is stored, and appended to the chain after it was written.
//! The writer and `audit verify` read rows through the same functions, so what the chain
//! holds is the row as SQLite keeps it, not the value the writer meant to keep.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::encode::{Event, Identity, Job, Outcome, Run, Snapshot, Status};
use super::{Kind, append, snapshot_ref};
use crate::store::{StoreError, schema};

/// A value of another SQL type than the column's (a row edited by hand) as text no row
/// fleetreset writes holds (it starts with NUL), so the record reads as changed instead of
/// stopping the check.
fn foreign(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "\0null".into(),
        ValueRef::Integer(i) => format!("\0integer:{i}"),
        ValueRef::Real(f) => format!("\0real:{f}"),
        ValueRef::Text(t) => format!("\0text:{}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!(
            "\0blob:{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

/// A text column, whatever the row holds.
fn text(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(t) => t.to_string(),
            Err(_) => foreign(ValueRef::Text(t)),
        },
        other => foreign(other),
    })
}

/// A text column that may be NULL.
fn opt_text(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        _ => Some(text(row, idx)?),
    })
}

/// An integer column, as JSON: the number, or the foreign value as a string.
fn integer(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => Value::from(i),
        other => Value::String(foreign(other)),
    })
}

fn json(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text = text(row, idx)?;
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
                id: text(r, 0)?,
                action: text(r, 1)?,
                inventory_path: text(r, 2)?,
                inventory_sha256: text(r, 3)?,
                parameters: json(r, 4)?,
                operator: text(r, 5)?,
                tool_version: text(r, 6)?,
                started_at: text(r, 7)?,
            },
            Status {
                status: text(r, 8)?,
                finished_at: opt_text(r, 9)?,
            },
        ))
    })
    .optional()
}

const JOB_COLUMNS: &str = "device_id, seq, host, model, mac, site, unit, method,
                           outcome, reason, detail, finished_at, identity_verified";

/// A job's three chained records: as described, its outcome (when it has one), its identity
/// verdict (when there is one).
pub(crate) type JobRecords = (Job, Option<Outcome>, Option<Identity>);

fn job_records(r: &Row<'_>) -> rusqlite::Result<JobRecords> {
    let device_id = text(r, 0)?;
    let outcome = Outcome {
        device_id: device_id.clone(),
        outcome: opt_text(r, 8)?,
        reason: opt_text(r, 9)?,
        detail: opt_text(r, 10)?,
        finished_at: opt_text(r, 11)?,
    };
    let identity = match r.get_ref(12)? {
        ValueRef::Null => None,
        ValueRef::Integer(0) => Some(Value::Bool(false)),
        ValueRef::Integer(1) => Some(Value::Bool(true)),
        other => Some(Value::String(foreign(other))),
    };
    Ok((
        Job {
            device_id: device_id.clone(),
            seq: integer(r, 1)?,
            host: text(r, 2)?,
            model: opt_text(r, 3)?,
            mac: opt_text(r, 4)?,
            site: opt_text(r, 5)?,
            unit: opt_text(r, 6)?,
            method: text(r, 7)?,
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

fn event(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        device_id: opt_text(r, 1)?,
        at: text(r, 2)?,
        state: opt_text(r, 3)?,
        kind: text(r, 4)?,
        detail: json(r, 5)?,
    })
}

/// A run's events as chained, in write order. A merged event's row has this database's id, but
/// its encoding and its chain entry's `ref` hold the id its site gave it (`event_origins`).
pub(crate) fn read_events(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<Event>> {
    let sql = if schema::has_table(conn, "event_origins")? {
        "SELECT COALESCE(o.site_event_id, e.id), e.device_id, e.at, e.state, e.kind, e.detail
         FROM events e LEFT JOIN event_origins o ON o.id = e.id
         WHERE e.run_id = ?1 ORDER BY e.id"
    } else {
        "SELECT id, device_id, at, state, kind, detail FROM events WHERE run_id = ?1 ORDER BY id"
    };
    conn.prepare(sql)?
        .query_map(params![run_id], event)?
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
        device_id: text(r, 0)?,
        phase: text(r, 1)?,
        taken_at: text(r, 2)?,
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

/// Chains the event the caller just inserted (row `id`), as stored: a detail too deep for the
/// JSON reader is then chained as the verifier will read it.
pub(crate) fn chain_new_event(conn: &Connection, run_id: &str, id: i64) -> Result<(), StoreError> {
    let stored = conn
        .prepare_cached("SELECT id, device_id, at, state, kind, detail FROM events WHERE id = ?1")?
        .query_row(params![id], event)?;
    chain_event(conn, run_id, &stored)
}

/// Chains an event as read from its row.
fn chain_event(conn: &Connection, run_id: &str, event: &Event) -> Result<(), StoreError> {
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
