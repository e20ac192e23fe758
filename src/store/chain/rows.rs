//! `audit verify`'s second check: the rows against the chain. The latest entry of each record
//! must be the digest of its row as it is now; a row the chain doesn't know was inserted, a
//! chained record with no row was removed, and an event holding what another's entry chained
//! was moved.

use std::collections::{BTreeMap, HashSet};

use rusqlite::Connection;

use super::encode::{Event, Outcome};
use super::record::{JobRecords, read_run, read_snapshots};
use super::verify::{Entry, Problem, Tamper};
use super::{Kind, digest, snapshot_ref, to_hex};
use crate::inert::Inert;
use crate::store::StoreError;

/// A record as the rows hold it now: its digest, and how to name it.
struct Current<'e> {
    digest: String,
    name: String,
    /// An event's row, to tell an event moved to another's place from an edited one.
    event: Option<&'e Event>,
    /// A job without an outcome: as chained when `resume` cleared a skip (the latest entry is
    /// all `null`), and nothing to chain when it never had one.
    optional: bool,
}

pub(super) fn check_rows(
    conn: &Connection,
    run_id: &str,
    jobs: &[JobRecords],
    events: &[Event],
    entries: &[Entry],
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let rows = current(conn, run_id, jobs, events)?;
    // The latest entry of each record, and which record each event digest was chained for.
    let mut latest: BTreeMap<(Kind, &str), &Entry> = BTreeMap::new();
    for e in entries {
        latest.insert((e.kind, e.reference.as_str()), e);
    }
    // Events whose row differs from their entry: a swap of two shows as two of them, each
    // holding what the other's entry chained once its id is put back.
    let changed: Vec<(&Entry, &Event)> = latest
        .iter()
        .filter(|((kind, _), _)| *kind == Kind::Event)
        .filter_map(|((kind, reference), entry)| {
            let row = rows.get(&(*kind, reference.to_string()))?;
            (row.digest != entry.digest).then_some((*entry, row.event?))
        })
        .collect();
    let moved_from = |event: &Event| -> Option<&Entry> {
        changed.iter().map(|(entry, _)| *entry).find(|entry| {
            let Ok(id) = entry.reference.parse::<i64>() else {
                return false;
            };
            id != event.id
                && to_hex(&digest(
                    &Event {
                        id,
                        ..event.clone()
                    }
                    .encode(),
                )) == entry.digest
        })
    };
    for ((kind, reference), entry) in &latest {
        let name = describe(*kind, reference);
        match rows.get(&(*kind, reference.to_string())) {
            None => problems.push(Problem {
                position: entry.n,
                tamper: Tamper::Removed,
                record: name,
                detail: format!(
                    "chained as record {}, but the database has no such row",
                    entry.n
                ),
            }),
            Some(row) if row.digest != entry.digest => {
                let (tamper, detail) = match row.event.and_then(&moved_from) {
                    Some(other) => (
                        Tamper::Reordered,
                        format!(
                            "it holds what record {} chained as event {}",
                            other.n,
                            Inert(&other.reference)
                        ),
                    ),
                    _ => (
                        Tamper::Edited,
                        format!("the row differs from what record {} chained", entry.n),
                    ),
                };
                problems.push(Problem {
                    position: entry.n,
                    tamper,
                    record: row.name.clone(),
                    detail,
                });
            }
            Some(_) => {}
        }
    }
    let last = entries.last().map_or(0, |e| e.n);
    // `events.id` is the table's key, but a merged event's id as chained is its site's
    // (`event_origins`): a second row given the same one would hide behind the first.
    let mut ids = HashSet::new();
    for event in events.iter().filter(|ev| !ids.insert(ev.id)) {
        let reference = event.id.to_string();
        problems.push(Problem {
            position: inserted_position(Kind::Event, &reference, entries, last),
            tamper: Tamper::Inserted,
            record: format!("event {} ({})", event.id, Inert(&event.kind)),
            detail: "a second row holds this event's id: the row is in the database but not in the chain".into(),
        });
    }
    for ((kind, reference), row) in &rows {
        if !row.optional && !latest.contains_key(&(*kind, reference.as_str())) {
            problems.push(Problem {
                position: inserted_position(*kind, reference, entries, last),
                tamper: Tamper::Inserted,
                record: row.name.clone(),
                detail: "the row is in the database but not in the chain".into(),
            });
        }
    }
    Ok(())
}

/// Where an inserted row sits: after the last chained event before it (events), or at the end.
fn inserted_position(kind: Kind, reference: &str, entries: &[Entry], last: u64) -> u64 {
    let Some(id) = (kind == Kind::Event)
        .then(|| reference.parse::<i64>().ok())
        .flatten()
    else {
        return last;
    };
    entries
        .iter()
        .filter(|e| e.kind == Kind::Event && e.reference.parse::<i64>().is_ok_and(|r| r < id))
        .map(|e| e.n)
        .max()
        .unwrap_or(0)
}

pub(crate) fn describe(kind: Kind, reference: &str) -> String {
    match kind {
        Kind::Run => "the run".into(),
        Kind::Status => "the run's status".into(),
        Kind::Job => format!("job {}", Inert(reference)),
        Kind::Outcome => format!("the outcome of job {}", Inert(reference)),
        Kind::Identity => format!("the identity verdict of job {}", Inert(reference)),
        Kind::Event => format!("event {}", Inert(reference)),
        Kind::Snapshot => format!("snapshot {}", Inert(reference)),
    }
}

/// Every chained record the rows hold now, keyed by kind and reference.
type Rows<'e> = BTreeMap<(Kind, String), Current<'e>>;

fn put<'a, 'e>(
    rows: &'a mut Rows<'e>,
    kind: Kind,
    reference: String,
    canonical: &str,
    name: String,
) -> &'a mut Current<'e> {
    let entry = rows.entry((kind, reference)).or_insert(Current {
        digest: String::new(),
        name: String::new(),
        event: None,
        optional: false,
    });
    entry.digest = to_hex(&digest(canonical));
    entry.name = name;
    entry
}

fn current<'e>(
    conn: &Connection,
    run_id: &str,
    jobs: &[JobRecords],
    events: &'e [Event],
) -> Result<Rows<'e>, StoreError> {
    let mut rows = Rows::new();
    if let Some((run, status)) = read_run(conn, run_id)? {
        put(
            &mut rows,
            Kind::Run,
            run_id.into(),
            &run.encode(),
            "the run".into(),
        );
        let name = format!("the run's status ({})", Inert(&status.status));
        put(
            &mut rows,
            Kind::Status,
            run_id.into(),
            &status.encode(),
            name,
        );
    }
    for (job, outcome, identity) in jobs {
        let id = job.device_id.clone();
        let optional = outcome.is_none();
        let outcome = outcome.clone().unwrap_or_else(|| Outcome::none(&id));
        let word = outcome.outcome.clone().unwrap_or_else(|| "none".into());
        let name = format!("the outcome of job {} ({})", Inert(&id), Inert(&word));
        put(
            &mut rows,
            Kind::Outcome,
            id.clone(),
            &outcome.encode(),
            name,
        )
        .optional = optional;
        if let Some(identity) = identity {
            let name = format!("the identity verdict of job {}", Inert(&id));
            put(
                &mut rows,
                Kind::Identity,
                id.clone(),
                &identity.encode(),
                name,
            );
        }
        let name = format!("job {}", Inert(&id));
        put(&mut rows, Kind::Job, id, &job.encode(), name);
    }
    for event in events {
        let name = format!(
            "event {} ({} of {} at {})",
            event.id,
            Inert(&event.kind),
            event
                .device_id
                .as_deref()
                .map_or("the run".into(), |d| Inert(d).to_string()),
            Inert(&event.at)
        );
        let canonical = event.encode();
        let reference = event.id.to_string();
        put(&mut rows, Kind::Event, reference, &canonical, name).event = Some(event);
    }
    for snap in read_snapshots(conn, run_id)? {
        let reference = snapshot_ref(&snap.device_id, &snap.phase);
        let name = format!("snapshot {}", Inert(&reference));
        put(&mut rows, Kind::Snapshot, reference, &snap.encode(), name);
    }
    Ok(rows)
}
