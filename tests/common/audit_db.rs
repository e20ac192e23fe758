//! Copies of an audit database to tamper with, as anyone with `sqlite3` could, and the
//! `fleetreset audit verify` that must catch it.

use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;

use super::fleetreset_in;

/// A consistent copy of the database at `db`, named `name` in a new temp dir (`VACUUM INTO`
/// takes the WAL's pages too).
pub fn copy(db: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let conn = Connection::open(db).unwrap();
    conn.execute("VACUUM INTO ?1", [path.to_str().unwrap()])
        .unwrap();
    (dir, path)
}

/// Runs SQL on the copy with every trigger dropped and CHECK constraints ignored first.
pub fn tamper(db: &Path, sql: &str) {
    let conn = Connection::open(db).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    conn.execute_batch("PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF")
        .unwrap();
    conn.execute_batch(sql).unwrap();
}

/// `fleetreset audit verify --db DB EXTRA…`, run beside the database.
pub fn verify(db: &Path, extra: &[&str]) -> Output {
    let dir = db.parent().unwrap();
    fleetreset_in(dir)
        .args(["audit", "verify", "--db", db.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

/// The one value `sql` selects.
pub fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// The latest factory-reset run.
pub fn reset_run(db: &Path) -> String {
    query(
        db,
        "SELECT id FROM runs WHERE action = 'factory-reset' ORDER BY started_at DESC LIMIT 1",
    )
}

/// The run's current chain head as `verify` prints it (`RECORDS:HASH`).
pub fn head(db: &Path, run: &str) -> String {
    let (n, hash): (i64, String) = Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT n, hash FROM chain WHERE run_id = ?1 ORDER BY n DESC LIMIT 1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    format!("{n}:{hash}")
}
