//! Copying a site file's run into the merged audit, row by row as SQLite stores it (each
//! value with its SQL type), so that every record encodes here as it did at its site. Only
//! inserts, and the updates a site itself makes (a run's status, a job's state and outcome, a
//! `post` snapshot): the append-only triggers stay on, and refuse anything else.

use std::collections::HashSet;

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::Refusal;
use super::plan::{How, Plan};
use crate::store::StoreError;

/// A table's columns in the merged database, in order: the columns copied, whatever else a
/// site file's table may have had added by hand.
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(&format!("PRAGMA table_info({table})"))?
        .query_map([], |r| r.get(1))?
        .collect()
}

fn list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each row `filter` picks from `table` of `src` (its columns as in `tx`), as values.
fn each_row(
    src: &Connection,
    columns: &[String],
    table: &str,
    filter: &str,
    args: impl rusqlite::Params,
    mut f: impl FnMut(Vec<Value>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = src.prepare(&format!(
        "SELECT {} FROM {table} WHERE {filter}",
        list(columns)
    ))?;
    let mut rows = stmt.query(args)?;
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        f(values)?;
    }
    Ok(())
}

/// Copies the rows `filter` picks from `table`, as stored. `on_conflict` ends the insert
/// (`ON CONFLICT (…) DO …`), or is empty.
fn copy(
    src: &Connection,
    tx: &Connection,
    table: &str,
    filter: &str,
    args: impl rusqlite::Params,
    on_conflict: &str,
) -> Result<(), StoreError> {
    let columns = columns(tx, table)?;
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({marks}) {on_conflict}",
        list(&columns)
    );
    let mut insert = tx.prepare(&sql)?;
    each_row(src, &columns, table, filter, args, |values| {
        insert.execute(rusqlite::params_from_iter(values))?;
        Ok(())
    })
}

/// Copies the run's events the merged audit doesn't hold yet (`known`: their ids at the site),
/// in the site's write order, each under a new id of this database with its site's id kept in
/// `event_origins`.
fn copy_events(
    src: &Connection,
    tx: &Connection,
    run_id: &str,
    known: &HashSet<i64>,
) -> Result<(), StoreError> {
    let columns: Vec<String> = columns(tx, "events")?
        .into_iter()
        .filter(|c| c != "id")
        .collect();
    let marks = vec!["?"; columns.len()].join(", ");
    let mut insert = tx.prepare(&format!(
        "INSERT INTO events ({}) VALUES ({marks})",
        list(&columns)
    ))?;
    let mut origin = tx.prepare("INSERT INTO event_origins (id, site_event_id) VALUES (?1, ?2)")?;
    let mut with_id = vec!["id".to_string()];
    with_id.extend(columns.iter().cloned());
    each_row(
        src,
        &with_id,
        "events",
        "run_id = ?1 ORDER BY id",
        params![run_id],
        |mut values| {
            let Value::Integer(site_id) = values.remove(0) else {
                // `events.id` is an INTEGER PRIMARY KEY: SQLite stores nothing else there.
                unreachable!("an event id that is not an integer")
            };
            if known.contains(&site_id) {
                return Ok(());
            }
            insert.execute(rusqlite::params_from_iter(values))?;
            origin.execute(params![tx.last_insert_rowid(), site_id])?;
            Ok(())
        },
    )
}

/// Brings `plan`'s run into the merged audit from the site file `src`.
pub(super) fn apply(
    tx: &Connection,
    src: &Connection,
    site: &str,
    plan: &Plan,
) -> Result<Result<(), Refusal>, StoreError> {
    let run_id = plan.head.run_id.as_str();
    let done = match plan.how {
        How::Added => add(tx, src, site, run_id),
        How::Extended => extend(tx, src, run_id, plan.had),
        How::Unchanged => checkpoints(tx, src, run_id),
    };
    match done {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::Sql(rusqlite::Error::SqliteFailure(e, message)))
            if e.code == ErrorCode::ConstraintViolation =>
        {
            let detail = message.unwrap_or_else(|| e.to_string());
            Ok(Err(if detail.contains("outcome of a job is final") {
                Refusal::AppendOnly {
                    run_id: run_id.to_string(),
                    detail,
                }
            } else {
                Refusal::DoesNotFit {
                    run_id: run_id.to_string(),
                    detail,
                }
            }))
        }
        Err(StoreError::NoSuchJob { device_id, .. }) => Ok(Err(Refusal::DoesNotFit {
            run_id: run_id.to_string(),
            detail: format!("the merged audit's copy has no job {device_id}"),
        })),
        Err(e) => Err(e),
    }
}

/// The checkpoints the merged audit lacks; one it has (the same run, length and reason) stays.
fn checkpoints(tx: &Connection, src: &Connection, run_id: &str) -> Result<(), StoreError> {
    copy(
        src,
        tx,
        "checkpoints",
        "run_id = ?1 ORDER BY n, at",
        params![run_id],
        "ON CONFLICT (run_id, n, why) DO NOTHING",
    )
}

fn add(tx: &Connection, src: &Connection, site: &str, run_id: &str) -> Result<(), StoreError> {
    copy(src, tx, "runs", "id = ?1", params![run_id], "")?;
    copy(
        src,
        tx,
        "jobs",
        "run_id = ?1 ORDER BY seq",
        params![run_id],
        "",
    )?;
    copy_events(src, tx, run_id, &HashSet::new())?;
    copy(
        src,
        tx,
        "snapshots",
        "run_id = ?1 ORDER BY device_id, phase",
        params![run_id],
        "",
    )?;
    copy(
        src,
        tx,
        "chain",
        "run_id = ?1 ORDER BY n",
        params![run_id],
        "",
    )?;
    checkpoints(tx, src, run_id)?;
    tx.execute(
        "INSERT INTO merged_runs (run_id, site) VALUES (?1, ?2)",
        params![run_id, site],
    )?;
    Ok(())
}

/// The columns of a job's outcome: the append-only trigger guards them.
const OUTCOME: [&str; 4] = ["outcome", "reason", "detail", "finished_at"];

/// Appends what the site recorded after the merged copy's `had` chain entries, and brings the
/// rows those records changed up to the site's: the run's status, each job, the snapshots.
fn extend(tx: &Connection, src: &Connection, run_id: &str, had: u64) -> Result<(), StoreError> {
    update_run(tx, src, run_id)?;
    update_jobs(tx, src, run_id)?;
    let known: HashSet<i64> = tx
        .prepare(
            "SELECT o.site_event_id FROM events e JOIN event_origins o ON o.id = e.id
             WHERE e.run_id = ?1",
        )?
        .query_map(params![run_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    copy_events(src, tx, run_id, &known)?;
    copy(
        src,
        tx,
        "snapshots",
        "run_id = ?1 ORDER BY device_id, phase",
        params![run_id],
        "ON CONFLICT (run_id, device_id, phase)
         DO UPDATE SET taken_at = excluded.taken_at, data = excluded.data",
    )?;
    copy(
        src,
        tx,
        "chain",
        "run_id = ?1 AND n > ?2 ORDER BY n",
        params![run_id, i64::try_from(had).unwrap_or(i64::MAX)],
        "",
    )?;
    checkpoints(tx, src, run_id)
}

fn update_run(tx: &Connection, src: &Connection, run_id: &str) -> Result<(), StoreError> {
    let columns: Vec<String> = columns(tx, "runs")?
        .into_iter()
        .filter(|c| c != "id")
        .collect();
    let set = assignments(&columns, 1);
    let mut update = tx.prepare(&format!(
        "UPDATE runs SET {set} WHERE id = ?{}",
        columns.len() + 1
    ))?;
    each_row(
        src,
        &columns,
        "runs",
        "id = ?1",
        params![run_id],
        |mut values| {
            values.push(Value::Text(run_id.to_string()));
            update.execute(rusqlite::params_from_iter(values))?;
            Ok(())
        },
    )
}

/// `"a" = ?1, "b" = ?2, …` from `?first`.
fn assignments(columns: &[String], first: usize) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("\"{c}\" = ?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each job as the site has it now. The outcome columns change only when they differ, and the
/// way the site changed them: a skip `resume` cleared is cleared first, then set again.
fn update_jobs(tx: &Connection, src: &Connection, run_id: &str) -> Result<(), StoreError> {
    let all = columns(tx, "jobs")?;
    let keys = ["run_id", "device_id"];
    let other: Vec<String> = all
        .iter()
        .filter(|c| !keys.contains(&c.as_str()) && !OUTCOME.contains(&c.as_str()))
        .cloned()
        .collect();
    let outcome: Vec<String> = OUTCOME.iter().map(|c| c.to_string()).collect();
    let mut read: Vec<String> = vec!["device_id".into()];
    read.extend(other.iter().cloned());
    read.extend(outcome.iter().cloned());
    let where_job = |n: usize| format!("WHERE run_id = ?{} AND device_id = ?{}", n + 1, n + 2);
    let mut set_other = tx.prepare(&format!(
        "UPDATE jobs SET {} {}",
        assignments(&other, 1),
        where_job(other.len())
    ))?;
    let mut set_outcome = tx.prepare(&format!(
        "UPDATE jobs SET {} {}",
        assignments(&outcome, 1),
        where_job(outcome.len())
    ))?;
    let mut current = tx.prepare(&format!(
        "SELECT {} FROM jobs WHERE run_id = ?1 AND device_id = ?2",
        list(&outcome)
    ))?;
    each_row(
        src,
        &read,
        "jobs",
        "run_id = ?1 ORDER BY seq",
        params![run_id],
        |values| {
            let device = values[0].clone();
            let key = [Value::Text(run_id.to_string()), device.clone()];
            let (theirs_other, theirs_outcome) = values[1..].split_at(other.len());
            let ours: Option<Vec<Value>> = current
                .query_row(params![run_id, device], |r| {
                    (0..OUTCOME.len()).map(|i| r.get::<_, Value>(i)).collect()
                })
                .optional()?;
            // A run's jobs are all created with it, so the merged copy has every job the
            // file has, unless the copy was edited: refused rather than guessed at.
            let Some(ours) = ours else {
                return Err(StoreError::NoSuchJob {
                    run_id: run_id.to_string(),
                    device_id: match device {
                        Value::Text(t) => t,
                        other => format!("{other:?}"),
                    },
                });
            };
            set_other.execute(rusqlite::params_from_iter(
                theirs_other.iter().chain(&key).cloned(),
            ))?;
            if ours == theirs_outcome {
                return Ok(());
            }
            let resumable_skip = ours[0] == Value::Text("skipped".into())
                && matches!(&ours[1], Value::Text(r)
                if ["interrupted", "window_closed", "threshold_reached"].contains(&r.as_str()));
            if resumable_skip && theirs_outcome[0] != Value::Null {
                let cleared = [Value::Null, Value::Null, Value::Null, Value::Null];
                set_outcome.execute(rusqlite::params_from_iter(
                    cleared.iter().chain(&key).cloned(),
                ))?;
            }
            set_outcome.execute(rusqlite::params_from_iter(
                theirs_outcome.iter().chain(&key).cloned(),
            ))?;
            Ok(())
        },
    )
}
