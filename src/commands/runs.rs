//! `fleetreset runs`: the runs in the audit database, newest first.

use crate::output::say;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{Local, TimeZone};
use serde::Serialize;

use crate::cli::RunsArgs;
use crate::exit::Status;
use crate::inert::inert;
use crate::report::status_word;
use crate::store::{Db, RunRow};

/// A run of a merged audit, as `--json` lists it: with the site it came from.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    run: &'a RunRow,
    site: Option<&'a str>,
}

/// Prints a table of the runs (with the site each came from in a merged audit), or with `--json` their rows as JSON, on stdout.
pub fn run(args: &RunsArgs) -> anyhow::Result<Status> {
    let db = open_existing(&args.db)?;
    let runs = db
        .list_runs()
        .with_context(|| format!("cannot list the runs in {}", args.db.display()))?;
    let sites = db
        .run_sites()
        .with_context(|| format!("cannot list the runs in {}", args.db.display()))?;
    let text = if args.json && sites.is_empty() {
        crate::report::json_inert(&runs)?
    } else if args.json {
        let listed: Vec<Listed> = runs
            .iter()
            .map(|run| Listed {
                run,
                site: sites.get(&run.id).map(String::as_str),
            })
            .collect();
        crate::report::json_inert(&listed)?
    } else if runs.is_empty() {
        say!("no runs recorded in {}", args.db.display());
        String::new()
    } else {
        table(&runs, &sites, &Local)
    };
    // Written in one piece so a closed pipe surfaces as an io::Error, which `main` keeps quiet.
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Status::Success)
}

/// Opens the audit database only if it is there: `Db::open` would create an empty one, and a
/// mistyped `--db` must not leave one behind.
/// [`open_existing`], read-only: nothing is created, migrated or checkpointed.
pub(crate) fn open_to_read(path: &Path) -> anyhow::Result<Db> {
    open_existing_with(path, Db::open_to_read)
}

pub(crate) fn open_existing(path: &Path) -> anyhow::Result<Db> {
    open_existing_with(path, Db::open)
}

fn open_existing_with(
    path: &Path,
    open: fn(&Path) -> Result<Db, crate::store::StoreError>,
) -> anyhow::Result<Db> {
    let exists = path
        .try_exists()
        .with_context(|| format!("cannot look for the database {}", path.display()))?;
    if !exists {
        bail!(
            "no runs have been recorded at {}: there is no database there (give the one `fleetreset run` wrote with --db)",
            path.display()
        );
    }
    Ok(open(path)?)
}

const COLUMNS: [&str; 9] = [
    "ID",
    "ACTION",
    "STATUS",
    "STARTED",
    "JOBS",
    "SUCCEEDED",
    "FAILED",
    "OTHER",
    "INVENTORY",
];

/// Columns padded to their widest cell, counts right-aligned; the inventory path last and
/// unpadded, since it is the one that can be long. A merged audit's runs have their site after
/// the id.
fn table<Tz: TimeZone>(runs: &[RunRow], sites: &BTreeMap<String, String>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let merged = !sites.is_empty();
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    if merged {
        header.insert(1, "SITE".into());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let mut row = vec![
                run.id.clone(),
                run.action.to_string(),
                status_word(run.status).to_string(),
                crate::output::local_time(&run.started_at.with_timezone(tz)),
                run.jobs.to_string(),
                run.succeeded.to_string(),
                run.failed.to_string(),
                run.other.to_string(),
                run.inventory_path.clone(),
            ];
            if merged {
                row.insert(1, sites.get(&run.id).map_or("-", String::as_str).into());
            }
            // Stored text, which anyone may have edited: one inert line per cell.
            row.into_iter().map(|c| inert(&c).into_owned()).collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    // The columns before the counts are left-aligned, the counts right-aligned.
    let counts = if merged { 5..=8 } else { 4..=7 };
    let last = header.len() - 1;
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let width = widths[i];
            match i {
                i if i == last => line.push_str(cell),
                i if counts.contains(&i) => line.push_str(&format!("{cell:>width$}  ")),
                _ => line.push_str(&format!("{cell:<width$}  ")),
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, FixedOffset, Utc};
    use serde_json::json;

    use super::*;
    use crate::model::Action;
    use crate::store::RunStatus;

    fn row(id: &str, started: &str, counts: [u32; 4], status: RunStatus) -> RunRow {
        RunRow {
            id: id.to_string(),
            action: Action::FactoryReset,
            inventory_path: "inventories/lab.csv".to_string(),
            inventory_sha256: "00".repeat(32),
            parameters: json!({}),
            operator: "alice".to_string(),
            tool_version: "0.1.0".to_string(),
            started_at: DateTime::parse_from_rfc3339(started).unwrap().to_utc(),
            finished_at: None,
            status,
            jobs: counts[0],
            succeeded: counts[1],
            failed: counts[2],
            other: counts[3],
        }
    }

    #[test]
    fn the_table_has_aligned_columns_in_the_order_given() {
        let runs = [
            row(
                "20260102T090000-9c1d",
                "2026-01-02T09:00:00.000Z",
                [120, 117, 2, 1],
                RunStatus::Interrupted,
            ),
            row(
                "20260101T090000-3f2a",
                "2026-01-01T09:00:00.000Z",
                [2, 1, 0, 1],
                RunStatus::Finished,
            ),
        ];
        let expected = "\
ID                    ACTION         STATUS       STARTED                     JOBS  SUCCEEDED  FAILED  OTHER  INVENTORY
20260102T090000-9c1d  factory-reset  interrupted  2026-01-02 09:00:00 +00:00   120        117       2      1  inventories/lab.csv
20260101T090000-3f2a  factory-reset  finished     2026-01-01 09:00:00 +00:00     2          1       0      1  inventories/lab.csv
";
        assert_eq!(table(&runs, &BTreeMap::new(), &Utc), expected);
    }

    #[test]
    fn a_merged_audit_shows_each_run_s_site_after_its_id_as_inert_text() {
        let runs = [
            row(
                "20260102T090000-9c1d",
                "2026-01-02T09:00:00.000Z",
                [120, 117, 2, 1],
                RunStatus::Finished,
            ),
            row(
                "20260101T090000-3f2a",
                "2026-01-01T09:00:00.000Z",
                [2, 1, 0, 1],
                RunStatus::Finished,
            ),
        ];
        let sites = BTreeMap::from([
            ("20260102T090000-9c1d".to_string(), "site-a".to_string()),
            ("20260101T090000-3f2a".to_string(), "b\u{1b}[2J".to_string()),
        ]);
        let expected = "\
ID                    SITE        ACTION         STATUS    STARTED                     JOBS  SUCCEEDED  FAILED  OTHER  INVENTORY
20260102T090000-9c1d  site-a      factory-reset  finished  2026-01-02 09:00:00 +00:00   120        117       2      1  inventories/lab.csv
20260101T090000-3f2a  b\\u{1b}[2J  factory-reset  finished  2026-01-01 09:00:00 +00:00     2          1       0      1  inventories/lab.csv
";
        assert_eq!(table(&runs, &sites, &Utc), expected);
    }

    #[test]
    fn start_times_are_shown_in_the_given_time_zone() {
        let runs = [row(
            "r",
            "2026-01-01T23:30:00.000Z",
            [0; 4],
            RunStatus::Running,
        )];
        let cet = FixedOffset::east_opt(3600).unwrap();
        assert!(table(&runs, &BTreeMap::new(), &cet).contains(" 2026-01-02 00:30:00 +01:00 "));
    }

    #[test]
    fn a_missing_database_is_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("none.db");
        let err = open_existing(&path).err().unwrap();
        assert!(
            err.to_string().starts_with(&format!(
                "no runs have been recorded at {}: ",
                path.display()
            )),
            "{err}"
        );
        assert!(!path.exists());
    }
}
