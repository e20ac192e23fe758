//! `audit verify`'s fourth check, on a merged audit (`fleetreset audit merge`): the chain head
//! each site file had for a run when it was merged (`sources.heads`) must still be in the
//! run's chain, at its length, and the run must still be from the site whose file brought it.
//! A merged run cut short, or rewritten from scratch after the merge, fails here as it would
//! against a checkpoint.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::verify::{Problem, Tamper};
use crate::inert::Inert;
use crate::store::{StoreError, schema};

/// The site run `run_id` was merged from; `None` in a database that merged nothing.
pub(crate) fn site_of(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<String>> {
    if !schema::has_table(conn, "merged_runs")? {
        return Ok(None);
    }
    conn.prepare_cached("SELECT site FROM merged_runs WHERE run_id = ?1")?
        .query_row(params![run_id], |r| r.get(0))
        .optional()
}

/// One head a source recorded for the run.
struct Recorded {
    source: i64,
    site: String,
    sha256: String,
    records: Option<i64>,
    head: Option<String>,
}

pub(super) fn check_sources(
    conn: &Connection,
    run_id: &str,
    site: Option<&str>,
    hashes: &[(u64, String)],
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    if !schema::has_table(conn, "sources")? {
        return Ok(());
    }
    let last = hashes.last().map_or(0, |(n, _)| *n);
    // `heads` is JSON by the table's CHECK; a row edited with the checks off is a finding of
    // every run, since nobody can tell which runs it listed.
    let unreadable: Vec<i64> = conn
        .prepare_cached("SELECT id FROM sources WHERE NOT json_valid(heads) ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for source in unreadable {
        problems.push(Problem {
            position: last,
            tamper: Tamper::Edited,
            record: format!("source {source}"),
            detail: "its recorded chain heads are not JSON: the sources table was edited".into(),
        });
    }
    let recorded: Vec<Recorded> = conn
        .prepare_cached(
            "SELECT s.id, s.site, s.sha256, json_extract(h.value, '$.records'),
                    json_extract(h.value, '$.head')
             FROM sources s
             JOIN json_each(CASE WHEN json_valid(s.heads) THEN s.heads ELSE '[]' END) h
             WHERE json_extract(h.value, '$.run') = ?1 ORDER BY s.id",
        )?
        .query_map(params![run_id], |r| {
            Ok(Recorded {
                source: r.get(0)?,
                site: r.get(1)?,
                sha256: r.get(2)?,
                records: r.get(3).ok().flatten(),
                head: r.get(4).ok().flatten(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let by_n: HashMap<u64, &str> = hashes.iter().map(|(n, h)| (*n, h.as_str())).collect();
    for r in &recorded {
        let record = format!(
            "source {} ({}, sha256 {})",
            r.source,
            Inert(&r.site),
            Inert(r.sha256.get(..12).unwrap_or(&r.sha256))
        );
        if site != Some(r.site.as_str()) {
            problems.push(Problem {
                position: last,
                tamper: Tamper::Edited,
                record: record.clone(),
                detail: format!(
                    "the site file of site {} brought the run, but the merged audit says it is from {}",
                    Inert(&r.site),
                    site.map_or("no site".to_string(), |s| format!("site {}", Inert(s)))
                ),
            });
        }
        let n = r.records.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        match (by_n.get(&n), r.head.as_deref()) {
            (None, Some(_)) if n > last => problems.push(Problem {
                position: last,
                tamper: Tamper::Truncated,
                record,
                detail: format!(
                    "the site file had {n} records when it was merged, the chain has {last}: records were cut off its end"
                ),
            }),
            (Some(hash), Some(head)) if *hash == head => {}
            (_, head) => problems.push(Problem {
                position: n.min(last),
                tamper: Tamper::HeadMismatch,
                record,
                detail: format!(
                    "the site file's head at {n} records was {}, the chain's is not that",
                    Inert(head.unwrap_or("not recorded"))
                ),
            }),
        }
    }
    if let (Some(site), true) = (site, recorded.is_empty()) {
        problems.push(Problem {
            position: last,
            tamper: Tamper::Removed,
            record: "the run's source".into(),
            detail: format!(
                "the run is recorded as merged from site {}, but no merged site file lists it",
                Inert(site)
            ),
        });
    }
    Ok(())
}
