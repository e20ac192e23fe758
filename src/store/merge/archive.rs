//! A merged audit as the other commands see it: whether a database is one (an archive no run,
//! resume, confirmation or sample writes to), which site each run came from, and the site
//! files merged into it.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::model::Outcome;
use crate::store::columns::opt_word;
use crate::store::{Db, StoreError, schema};

/// A site file merged into the audit (`sources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    pub id: i64,
    pub site: String,
    pub sha256: String,
    /// The file as it was given to `audit merge`.
    pub path: String,
    /// RFC 3339 UTC, as stored.
    pub merged_at: String,
    /// How many runs the file held.
    pub runs: i64,
}

/// Whether the database holds merged runs or merged site files.
pub(crate) fn is_merged(conn: &Connection) -> rusqlite::Result<bool> {
    if !schema::has_table(conn, "sources")? {
        return Ok(false);
    }
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sources) OR EXISTS (SELECT 1 FROM merged_runs)",
        [],
        |r| r.get(0),
    )
}

pub(super) fn source_by_sha(
    conn: &Connection,
    sha256: &str,
) -> rusqlite::Result<Option<SourceRow>> {
    conn.query_row(
        "SELECT id, site, sha256, path, merged_at, runs FROM sources WHERE sha256 = ?1",
        params![sha256],
        source_row,
    )
    .optional()
}

fn source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRow> {
    Ok(SourceRow {
        id: r.get(0)?,
        site: r.get(1)?,
        sha256: r.get(2)?,
        path: r.get(3)?,
        merged_at: r.get(4)?,
        runs: r.get(5)?,
    })
}

impl Db {
    /// Whether this database is a merged audit (`fleetreset audit merge` wrote to it).
    pub fn is_merged(&self) -> Result<bool, StoreError> {
        Ok(is_merged(&self.conn)?)
    }

    /// Runs this database recorded itself, not merged from a site file: the first few.
    pub fn own_runs(&self) -> Result<Vec<String>, StoreError> {
        // A new, empty file has no tables yet.
        if !schema::has_table(&self.conn, "runs")? {
            return Ok(Vec::new());
        }
        let sql = if schema::has_table(&self.conn, "merged_runs")? {
            "SELECT id FROM runs WHERE id NOT IN (SELECT run_id FROM merged_runs)
             ORDER BY rowid LIMIT 3"
        } else {
            "SELECT id FROM runs ORDER BY rowid LIMIT 3"
        };
        let ids = self
            .conn
            .prepare(sql)?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// The site each merged run came from, by run id; empty for a site's own database.
    pub fn run_sites(&self) -> Result<BTreeMap<String, String>, StoreError> {
        if !schema::has_table(&self.conn, "merged_runs")? {
            return Ok(BTreeMap::new());
        }
        let sites = self
            .conn
            .prepare("SELECT run_id, site FROM merged_runs")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(sites)
    }

    /// The merged runs' jobs counted by site and outcome: `(site, outcome, jobs)`.
    pub fn outcomes_by_site(&self) -> Result<Vec<(String, Option<Outcome>, u32)>, StoreError> {
        if !schema::has_table(&self.conn, "merged_runs")? {
            return Ok(Vec::new());
        }
        let rows = self
            .conn
            .prepare(
                "SELECT m.site, j.outcome, COUNT(*) FROM jobs j
                 JOIN merged_runs m ON m.run_id = j.run_id
                 GROUP BY m.site, j.outcome ORDER BY m.site",
            )?
            .query_map([], |r| Ok((r.get(0)?, opt_word(r, 1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The site files merged into this database, in merge order.
    pub fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        if !schema::has_table(&self.conn, "sources")? {
            return Ok(Vec::new());
        }
        let rows = self
            .conn
            .prepare("SELECT id, site, sha256, path, merged_at, runs FROM sources ORDER BY id")?
            .query_map([], source_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
