//! What a site file's run is to the merged audit: new, the same as merged before, or an
//! extension of the merged copy (its chain entries a prefix of the file's), or a conflict that
//! refuses the file.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::Refusal;
use crate::store::chain::merged::site_of;
use crate::store::chain::verify::verify_run;
use crate::store::{ChainHead, StoreError};

/// How a run of a site file entered the merged audit; stored in `sources.heads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// New to the merged audit: copied whole.
    Added,
    /// The merged copy was a prefix of the file's chain: the newer records were appended and
    /// the rows brought up to date.
    Extended,
    /// The merged copy's chain is the file's.
    Unchanged,
}

/// One run of the file, and how it enters the merged audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The run's chain head in the site file (verified).
    pub head: ChainHead,
    pub how: How,
    /// Records the merged copy had before: 0 for a new run.
    pub had: u64,
}

/// A chain entry as stored: `n, kind, ref, digest, hash`.
type Entry = (i64, String, String, String, String);

fn entries(conn: &Connection, run_id: &str) -> rusqlite::Result<Vec<Entry>> {
    conn.prepare_cached(
        "SELECT n, kind, ref, digest, hash FROM chain WHERE run_id = ?1 ORDER BY n",
    )?
    .query_map(params![run_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?
    .collect()
}

/// Decides how the run `head` names (of the site file `src`, from `site`) enters the merged
/// audit `tx`, or why the file is refused.
pub(super) fn decide(
    tx: &Connection,
    src: &Connection,
    site: &str,
    head: &ChainHead,
) -> Result<Result<Plan, Refusal>, StoreError> {
    let run_id = &head.run_id;
    let plan = |how, had| {
        Ok(Ok(Plan {
            head: head.clone(),
            how,
            had,
        }))
    };
    match site_of(tx, run_id)? {
        Some(other) if other != site => {
            return Ok(Err(Refusal::OtherSite {
                run_id: run_id.clone(),
                site: other,
            }));
        }
        Some(_) => {}
        None => {
            let own: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                params![run_id],
                |r| r.get(0),
            )?;
            return if own {
                Ok(Err(Refusal::OwnRun {
                    run_id: run_id.clone(),
                }))
            } else {
                plan(How::Added, 0)
            };
        }
    }
    let ours = entries(tx, run_id)?;
    let theirs = entries(src, run_id)?;
    if let Some(i) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        return Ok(Err(Refusal::Diverged {
            run_id: run_id.clone(),
            at: i as u64 + 1,
        }));
    }
    let (had, records) = (ours.len() as u64, theirs.len() as u64);
    if records < had {
        return Ok(Err(Refusal::Shorter {
            run_id: run_id.clone(),
            records,
            merged: had,
        }));
    }
    if records == had {
        return plan(How::Unchanged, had);
    }
    // Brought up to date only from a copy that is still what was merged: the update would
    // otherwise paper over an edit of it.
    let copy = verify_run(tx, run_id, None, None)?;
    if let Some(problem) = copy.problems.into_iter().next() {
        return Ok(Err(Refusal::CopyBroken {
            run_id: run_id.clone(),
            problem,
        }));
    }
    plan(How::Extended, had)
}
