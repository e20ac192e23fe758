//! `fleetreset audit verify`: recompute a run's chain from its rows and name every record that
//! was edited, removed, reordered or inserted since it was written, first one first.
//!
//! Three checks, all read-only:
//! 1. The chain itself: entries numbered 1..N with no gap, each hash following from the one
//!    before it, its kind tag and its digest.
//! 2. The rows against the chain: the latest entry of each record (the run, its status, each
//!    job, outcome, identity verdict, event and snapshot) must be the digest of that row as it
//!    is now; a row the chain doesn't know was inserted; a chained record with no row was
//!    removed.
//! 3. The heads kept elsewhere: a head given with `--expect` and every sealed checkpoint must
//!    be in the chain, at their length. A chain cut short or rewritten from scratch passes 1
//!    and 2 and fails here.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params};
use serde::Serialize;

use super::encode::{Event, Outcome};
use super::record::{read_events, read_jobs, read_run, read_snapshots};
use super::{ChainHead, Hash, Kind, digest, from_hex, link, snapshot_ref, to_hex};
use crate::inert::Inert;
use crate::store::{Db, StoreError};

/// What is wrong with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// The chain table itself: a gap in its numbering, a hash that doesn't follow, a kind or
    /// digest that isn't one.
    ChainEdited,
    /// The row differs from what was chained.
    Edited,
    /// A chained record has no row.
    Removed,
    /// A row the chain doesn't know.
    Inserted,
    /// The row holds what was chained for another record of its kind.
    Reordered,
    /// A head kept elsewhere covers more records than the chain has.
    Truncated,
    /// A head kept elsewhere is not the chain's at its length.
    HeadMismatch,
    /// A checkpoint's signature doesn't verify with the key given.
    BadSignature,
    /// Records no signature by the key given covers: chained after its last signed
    /// checkpoint.
    Unsigned,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::ChainEdited => "chain_edited",
            Tamper::Edited => "edited",
            Tamper::Removed => "removed",
            Tamper::Inserted => "inserted",
            Tamper::Reordered => "reordered",
            Tamper::Truncated => "truncated",
            Tamper::HeadMismatch => "head_mismatch",
            Tamper::BadSignature => "bad_signature",
            Tamper::Unsigned => "unsigned",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The chain position the finding is at (for an inserted row: the record before it).
    pub position: u64,
    pub tamper: Tamper,
    /// The record, in words: `event 1234`, `job plug-3`, `snapshot plug-3/post`, `run`.
    pub record: String,
    /// What was found, in words.
    pub detail: String,
}

/// What the caller can check that the store can't: a checkpoint's signature.
pub type SignatureCheck<'a> = &'a dyn Fn(&ChainHead, &str) -> bool;

/// The verdict on one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub run_id: String,
    pub head: Option<ChainHead>,
    /// Sorted by position: the first is the first broken record.
    pub problems: Vec<Problem>,
    /// Records chained after the head given with `--expect`, when it was found.
    pub since_expected: Option<u64>,
    /// Those records, named (the first few): what was added since the head kept elsewhere.
    pub added: Vec<String>,
    pub checkpoints: usize,
    /// Checkpoints whose signature verified with the key given.
    pub signed_checkpoints: usize,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.head.is_some()
    }
}

/// A head as people copy it: `N:HASH` (as reports print it) or the bare 64-digit hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub records: Option<u64>,
    pub hash: String,
}

impl std::str::FromStr for Expected {
    type Err = String;
    fn from_str(s: &str) -> Result<Expected, String> {
        let s = s.trim();
        let (records, hash) = match s.split_once(':') {
            Some((n, hash)) => (
                Some(n.parse::<u64>().map_err(|_| {
                    format!("{s:?}: expected RECORDS:HASH as reports print it, or HASH")
                })?),
                hash,
            ),
            None => (None, s),
        };
        let hash = hash.to_ascii_lowercase();
        if from_hex(&hash).is_none() {
            return Err(format!("{s:?}: the hash must be 64 hexadecimal digits"));
        }
        Ok(Expected { records, hash })
    }
}

pub(super) struct Entry {
    pub(super) n: u64,
    pub(super) kind: Kind,
    pub(super) reference: String,
    pub(super) digest: String,
    pub(super) hash: String,
}

fn has_chain_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN ('chain', 'checkpoints')",
        [],
        |r| r.get(0),
    )
}

impl Db {
    /// Every run id the database knows of: its runs, and any run that has chain entries or
    /// checkpoints (a run whose rows were deleted still has to be verified, and fail).
    pub fn verifiable_runs(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self.list_runs()?.into_iter().map(|r| r.id).collect();
        if has_chain_tables(&self.conn)? {
            let orphans: Vec<String> = self
                .conn
                .prepare(
                    "SELECT DISTINCT run_id FROM (SELECT run_id FROM chain UNION SELECT run_id FROM checkpoints)
                     WHERE run_id NOT IN (SELECT id FROM runs) ORDER BY run_id",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids.extend(orphans);
        }
        Ok(ids)
    }

    /// Verifies one run's chain; see the module doc.
    pub fn verify_chain(
        &self,
        run_id: &str,
        expected: Option<&Expected>,
        signature: Option<SignatureCheck<'_>>,
    ) -> Result<Verification, StoreError> {
        verify(&self.conn, run_id, expected, signature)
    }
}

fn verify(
    conn: &Connection,
    run_id: &str,
    expected: Option<&Expected>,
    signature: Option<SignatureCheck<'_>>,
) -> Result<Verification, StoreError> {
    // One read transaction: the chain and the rows from one snapshot of the database, so a
    // run writing meanwhile is seen as of one moment, never half.
    let tx = conn.unchecked_transaction()?;
    let verdict = verify_in(&tx, run_id, expected, signature);
    tx.finish()?;
    verdict
}

fn verify_in(
    conn: &Connection,
    run_id: &str,
    expected: Option<&Expected>,
    signature: Option<SignatureCheck<'_>>,
) -> Result<Verification, StoreError> {
    let mut problems = Vec::new();
    // A database from before migration 5 has no chain tables: its runs have no chain.
    let chained = has_chain_tables(conn)?;
    let entries = if chained {
        entries(conn, run_id, &mut problems)?
    } else {
        Vec::new()
    };
    let hashes: Vec<(u64, String)> = entries.iter().map(|e| (e.n, e.hash.clone())).collect();
    check_links(&entries, &mut problems);
    check_rows(conn, run_id, &entries, &mut problems)?;
    let jobs: Vec<_> = read_jobs(conn, run_id)?
        .into_iter()
        .map(|(job, outcome, _)| (job, outcome))
        .collect();
    super::replay::check(&entries, &read_events(conn, run_id)?, &jobs, &mut problems);
    let head = entries.last().map(|e| ChainHead {
        run_id: run_id.to_string(),
        records: e.n,
        hash: e.hash.clone(),
    });
    if head.is_none() {
        problems.push(Problem {
            position: 0,
            tamper: Tamper::Removed,
            record: "chain".into(),
            detail: "the run has no audit chain: it was recorded by a fleetreset older than schema version 5, or its chain was deleted".into(),
        });
    }
    let since_expected = expected.and_then(|e| check_expected(e, &hashes, &mut problems));
    let last = hashes.last().map_or(0, |(n, _)| *n);
    let added = since_expected.map_or_else(Vec::new, |since| named(&entries, last - since));
    let (checkpoints, signed_checkpoints, signed_to) = if chained {
        check_checkpoints(conn, run_id, &hashes, signature, &mut problems)?
    } else {
        (0, 0, 0)
    };
    if signature.is_some() && signed_to > 0 && signed_to < last {
        let names = named(&entries, signed_to);
        problems.push(Problem {
            position: signed_to + 1,
            tamper: Tamper::Unsigned,
            record: format!("records {}..{last}", signed_to + 1),
            detail: format!(
                "no checkpoint signed by the key given covers them: {}{}",
                names.join(", "),
                if (last - signed_to) as usize > names.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        });
    }
    problems.sort_by_key(|p| p.position);
    Ok(Verification {
        run_id: run_id.to_string(),
        head,
        problems,
        since_expected,
        added,
        checkpoints,
        signed_checkpoints,
    })
}

fn entries(
    conn: &Connection,
    run_id: &str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<(i64, String, String, String, String)> = conn
        .prepare("SELECT n, kind, ref, digest, hash FROM chain WHERE run_id = ?1 ORDER BY n")?
        .query_map(params![run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (n, kind, reference, digest, hash) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match Kind::parse(&kind) {
            Some(kind) => out.push(Entry {
                n,
                kind,
                reference,
                digest,
                hash,
            }),
            None => problems.push(Problem {
                position: n,
                tamper: Tamper::ChainEdited,
                record: format!("chain record {n}"),
                detail: format!("its kind {:?} is not one fleetreset writes", Inert(&kind)),
            }),
        }
    }
    Ok(out)
}

fn check_links(entries: &[Entry], problems: &mut Vec<Problem>) {
    let mut previous: Hash = [0; 32];
    let mut expected_n = 1;
    for e in entries {
        if e.n != expected_n {
            problems.push(Problem {
                position: expected_n,
                tamper: Tamper::ChainEdited,
                record: format!("chain records {expected_n}..{}", e.n),
                detail: format!(
                    "the chain jumps from record {} to {}: records were removed from it",
                    expected_n - 1,
                    e.n
                ),
            });
        }
        expected_n = e.n + 1;
        let (Some(digest), Some(stored)) = (from_hex(&e.digest), from_hex(&e.hash)) else {
            problems.push(Problem {
                position: e.n,
                tamper: Tamper::ChainEdited,
                record: format!("chain record {}", e.n),
                detail: "its digest or hash is not a SHA-256 in hex".into(),
            });
            continue;
        };
        if link(e.kind, &previous, &digest) != stored {
            problems.push(Problem {
                position: e.n,
                tamper: Tamper::ChainEdited,
                record: format!("chain record {} ({} {})", e.n, e.kind.as_str(), Inert(&e.reference)),
                detail: "its hash does not follow from the records before it: the chain table was edited".into(),
            });
        }
        // Go on from the stored hash, so one edit is reported once, where it is.
        previous = stored;
    }
}

/// A record as the rows hold it now: its digest, and how to name it.
struct Current {
    digest: String,
    name: String,
    /// An event's row, to tell an event moved to another's place from an edited one.
    event: Option<Event>,
    /// A job without an outcome: as chained when `resume` cleared a skip (the latest entry is
    /// all `null`), and nothing to chain when it never had one.
    optional: bool,
}

fn check_rows(
    conn: &Connection,
    run_id: &str,
    entries: &[Entry],
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let rows = current(conn, run_id)?;
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
            (row.digest != entry.digest).then_some((*entry, row.event.as_ref()?))
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
                let (tamper, detail) = match row.event.as_ref().and_then(&moved_from) {
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

pub(super) fn describe(kind: Kind, reference: &str) -> String {
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
type Rows = BTreeMap<(Kind, String), Current>;

fn put<'a>(
    rows: &'a mut Rows,
    kind: Kind,
    reference: String,
    canonical: &str,
    name: String,
) -> &'a mut Current {
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

fn current(conn: &Connection, run_id: &str) -> Result<Rows, StoreError> {
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
    for (job, outcome, identity) in read_jobs(conn, run_id)? {
        let id = job.device_id.clone();
        let optional = outcome.is_none();
        let outcome = outcome.unwrap_or_else(|| Outcome::none(&id));
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
    for event in read_events(conn, run_id)? {
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

/// The records after the first `after`, named: at most [`NAMED`].
fn named(entries: &[Entry], after: u64) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.n > after)
        .take(NAMED)
        .map(|e| format!("record {}: {}", e.n, describe(e.kind, &e.reference)))
        .collect()
}

/// How many added or unsigned records a verdict names.
const NAMED: usize = 8;

fn check_expected(
    expected: &Expected,
    hashes: &[(u64, String)],
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    let last = hashes.last().map_or(0, |(n, _)| *n);
    let found = hashes
        .iter()
        .find(|(n, hash)| *hash == expected.hash && expected.records.is_none_or(|r| r == *n));
    if let Some((n, _)) = found {
        return Some(last - n);
    }
    let (tamper, detail) = match expected.records {
        Some(records) if records > last => (
            Tamper::Truncated,
            format!(
                "the head you kept covers {records} records, the chain has {last}: records were cut off its end"
            ),
        ),
        _ => (
            Tamper::HeadMismatch,
            "the chain does not contain the head you kept: records up to it were changed and the chain rewritten".into(),
        ),
    };
    problems.push(Problem {
        position: expected.records.unwrap_or(last).min(last),
        tamper,
        record: format!("expected head {}", expected.hash),
        detail,
    });
    None
}

fn check_checkpoints(
    conn: &Connection,
    run_id: &str,
    hashes: &[(u64, String)],
    signature: Option<SignatureCheck<'_>>,
    problems: &mut Vec<Problem>,
) -> Result<(usize, usize, u64), StoreError> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = conn
        .prepare(
            "SELECT n, head, at, why, signature FROM checkpoints WHERE run_id = ?1 ORDER BY n, at",
        )?
        .query_map(params![run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let by_n: HashMap<u64, &str> = hashes.iter().map(|(n, h)| (*n, h.as_str())).collect();
    let last = hashes.last().map_or(0, |(n, _)| *n);
    let mut signed = 0;
    // The longest chain a verified signature covers.
    let mut signed_to = 0;
    for (n, head, at, why, sig) in &rows {
        let n = u64::try_from(*n).unwrap_or(0);
        let record = format!("checkpoint {n} ({}, {})", Inert(why), Inert(at));
        match by_n.get(&n) {
            None if n > last => problems.push(Problem {
                position: last,
                tamper: Tamper::Truncated,
                record,
                detail: format!(
                    "sealed at {n} records, but the chain has {last}: records were cut off its end"
                ),
            }),
            Some(hash) if *hash == head => {}
            _ => problems.push(Problem {
                position: n,
                tamper: Tamper::HeadMismatch,
                record,
                detail: format!("sealed head {}, the chain's is not that", Inert(head)),
            }),
        }
        if let (Some(check), Some(sig)) = (signature, sig) {
            let sealed = ChainHead {
                run_id: run_id.to_string(),
                records: n,
                hash: head.clone(),
            };
            if check(&sealed, sig) {
                signed += 1;
                signed_to = signed_to.max(n);
            } else {
                problems.push(Problem {
                    position: n,
                    tamper: Tamper::BadSignature,
                    record: format!("checkpoint {n} ({}, {})", Inert(why), Inert(at)),
                    detail: "its signature does not verify with the public key given".into(),
                });
            }
        }
    }
    Ok((rows.len(), signed, signed_to))
}
