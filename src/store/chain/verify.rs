//! `fleetreset audit verify`: recompute a run's chain from its rows and name every record that
//! was edited, removed, reordered or inserted since it was written, first one first.
//!
//! Three checks, all read-only (`rows` and `heads` hold the second and third, `replay` what
//! the order of the chain must obey):
//! 1. The chain itself: entries numbered 1..N with no gap, each hash following from the one
//!    before it, its kind tag and its digest.
//! 2. The rows against the chain: the latest entry of each record (the run, its status, each
//!    job, outcome, identity verdict, event and snapshot) must be the digest of that row as it
//!    is now; a row the chain doesn't know was inserted; a chained record with no row was
//!    removed.
//! 3. The heads kept elsewhere: a head given with `--expect` and every sealed checkpoint must
//!    be in the chain, at their length. A chain cut short or rewritten from scratch passes 1
//!    and 2 and fails here. With a public key, every signed checkpoint must verify with it and
//!    at least one must be signed.
//! 4. In a merged audit, the heads each site file had when it was merged (`merged`).

use rusqlite::{Connection, params};
use serde::Serialize;

use super::heads::{check_checkpoints, check_expected, named};
use super::record::{read_events, read_jobs};
use super::rows::check_rows;
use super::{ChainHead, Hash, Kind, from_hex, link};
use crate::inert::Inert;
use crate::store::{Db, StoreError, schema};

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
    /// The site a merged run came from (`fleetreset audit merge`); absent in a site's own
    /// database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
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
    /// checkpoints, or that a merge recorded (a run whose rows were deleted still has to be
    /// verified, and fail).
    pub fn verifiable_runs(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self.list_runs()?.into_iter().map(|r| r.id).collect();
        let mut named = Vec::new();
        if has_chain_tables(&self.conn)? {
            named.push("SELECT run_id FROM chain UNION SELECT run_id FROM checkpoints");
        }
        if schema::has_table(&self.conn, "sources")? {
            named.push(
                "SELECT run_id FROM merged_runs UNION
                 SELECT CAST(json_extract(h.value, '$.run') AS TEXT) FROM sources s
                 JOIN json_each(CASE WHEN json_valid(s.heads) THEN s.heads ELSE '[]' END) h",
            );
        }
        if !named.is_empty() {
            let orphans: Vec<String> = self
                .conn
                .prepare(&format!(
                    "SELECT DISTINCT run_id FROM ({}) WHERE run_id NOT IN (SELECT id FROM runs)
                     ORDER BY run_id",
                    named.join(" UNION ")
                ))?
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
    let verdict = verify_run(&tx, run_id, expected, signature);
    tx.finish()?;
    verdict
}

/// [`Db::verify_chain`] inside the caller's read transaction: `audit merge` verifies a site
/// file, and then what it copied, with it.
pub(crate) fn verify_run(
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
    // Read once, for both checks that need them.
    let jobs = read_jobs(conn, run_id)?;
    let events = read_events(conn, run_id)?;
    check_rows(conn, run_id, &jobs, &events, &entries, &mut problems)?;
    super::replay::check(&entries, &events, &jobs, &mut problems);
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
    let site = super::merged::site_of(conn, run_id)?;
    super::merged::check_sources(conn, run_id, site.as_deref(), &hashes, &mut problems)?;
    problems.sort_by_key(|p| p.position);
    if signature.is_some() && signed_checkpoints == 0 {
        problems.push(Problem {
            position: last,
            tamper: Tamper::BadSignature,
            record: "checkpoints".into(),
            detail: "no checkpoint of the run is signed by the key given".into(),
        });
    }
    Ok(Verification {
        run_id: run_id.to_string(),
        site,
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

pub(super) use super::rows::describe;
