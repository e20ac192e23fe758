//! Opening the database, and the two writes a command makes itself: creating a run and
//! finishing it. Everything in between goes through the writer.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::schema::{self, TooNew};
use super::{Db, NewJob, NewRun, RunStatus, StoreError, Timestamp, time};

/// How long a statement waits on another process's lock (a `report` reading while a run
/// writes) before failing with SQLITE_BUSY: long enough to ride out a checkpoint, short enough
/// that a stuck lock becomes an error instead of a hang.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// A new database is readable by its owner only: it names devices, sites and operators.
const NEW_FILE_MODE: u32 = 0o600;

impl Db {
    /// Opens (creating with owner-only permissions if new) and migrates the database.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let shown = path.display().to_string();
        create_owner_only(path).map_err(|source| StoreError::Create {
            path: shown.clone(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        // No SQLITE_OPEN_CREATE: the file exists by now, with the mode chosen above.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        if let Err(TooNew { found }) =
            schema::migrate(&mut conn, schema::MIGRATIONS).map_err(open_err)?
        {
            return Err(StoreError::TooNew {
                path: shown,
                found,
                known: schema::known_version(),
            });
        }
        Ok(Db {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Creates the run and all its jobs (state pending) in one durable transaction.
    pub fn create_run(&mut self, run: &NewRun, jobs: &[NewJob]) -> Result<(), StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO runs (id, action, inventory_path, inventory_sha256, parameters,
                                   operator, tool_version, started_at, finished_at, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
                params![
                    run.id,
                    run.action.as_str(),
                    run.inventory_path,
                    run.inventory_sha256,
                    run.parameters.to_string(),
                    run.operator,
                    run.tool_version,
                    time::format(&run.started_at),
                    RunStatus::Running.as_str(),
                ],
            )?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO jobs (run_id, device_id, seq, host, model, mac, site, unit,
                                       method, state, attempts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0)",
                )?;
                for job in jobs {
                    insert.execute(params![
                        run.id,
                        job.device_id,
                        job.seq,
                        job.host,
                        job.model,
                        job.mac,
                        job.site,
                        job.unit,
                        job.method.as_str(),
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Marks the run finished with `status`, durably.
    pub fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        durably(&mut self.conn, |conn| {
            let changed = conn.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3 WHERE id = ?1",
                params![run_id, time::format(&at), status.as_str()],
            )?;
            if changed == 0 {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            Ok(())
        })
    }
}

impl Db {
    /// Opens a stopped run for `fleetreset resume`, in one durable transaction: the run is
    /// `running` again, and every job skipped because the run stopped early (interrupted,
    /// window closed, threshold reached) loses its skip so it can run. Each reopened job gets a
    /// `reopened` event holding the skip it had. Returns the reopened jobs' device ids.
    pub fn reopen_run(&mut self, run_id: &str, at: Timestamp) -> Result<Vec<String>, StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?1",
                params![run_id],
            )?;
            if changed == 0 {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            let skipped: Vec<(String, String, Option<String>)> = tx
                .prepare(
                    "SELECT device_id, reason, detail FROM jobs
                     WHERE run_id = ?1 AND outcome = 'skipped'
                       AND reason IN ('interrupted', 'window_closed', 'threshold_reached')
                     ORDER BY seq",
                )?
                .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (device_id, reason, detail) in &skipped {
                tx.execute(
                    "UPDATE jobs SET outcome = NULL, reason = NULL, detail = NULL, finished_at = NULL,
                                     state = 'pending'
                     WHERE run_id = ?1 AND device_id = ?2",
                    params![run_id, device_id],
                )?;
                let event =
                    serde_json::json!({ "was": "skipped", "reason": reason, "detail": detail });
                tx.execute(
                    "INSERT INTO events (run_id, device_id, at, state, kind, detail)
                     VALUES (?1, ?2, ?3, 'pending', 'reopened', ?4)",
                    params![run_id, device_id, time::format(&at), event.to_string()],
                )?;
            }
            tx.commit()?;
            Ok(skipped.into_iter().map(|(d, _, _)| d).collect())
        })
    }
}

/// Creates the file with [`NEW_FILE_MODE`] if it doesn't exist; an existing file (or anything
/// else at that path) is left as it is for SQLite to judge.
fn create_owner_only(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(NEW_FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // First, so that the pragmas below already wait on a lock held by another process.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) refuse WAL; the rollback journal still works.
        tracing::warn!(journal_mode = %mode, "the audit database could not switch to WAL");
    }
    set_full_sync(conn, false)?;
    conn.pragma_update(None, "foreign_keys", "ON")
}

/// `synchronous=FULL` makes a commit wait until the WAL is on disk; NORMAL, the default here,
/// may lose the last commits on power loss but never corrupts. Not allowed inside a transaction.
pub(crate) fn set_full_sync(conn: &Connection, full: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })
}

/// Runs `write` (which commits its own transaction) with `synchronous=FULL`, then goes back
/// to NORMAL whatever happened.
pub(crate) fn durably<T>(
    conn: &mut Connection,
    write: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    set_full_sync(conn, true)?;
    let result = write(conn);
    let restored = set_full_sync(conn, false);
    let value = result?;
    restored?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn pragma_text(db: &Db, name: &str) -> String {
        db.conn
            .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    }

    #[test]
    fn a_new_database_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        Db::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        fs::write(&path, b"").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        Db::open(&path).unwrap();
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_fresh_database_has_the_latest_user_version_and_the_connection_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("audit.db")).unwrap();
        assert_eq!(
            schema::user_version(&db.conn).unwrap(),
            schema::known_version()
        );
        assert_eq!(pragma_text(&db, "journal_mode"), "Text(\"wal\")");
        // NORMAL is 1, FULL is 2.
        assert_eq!(pragma_text(&db, "synchronous"), "Integer(1)");
        assert_eq!(pragma_text(&db, "foreign_keys"), "Integer(1)");
        assert_eq!(pragma_text(&db, "busy_timeout"), "Integer(5000)");
    }

    #[test]
    fn opening_twice_is_idempotent_and_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        {
            let db = Db::open(&path).unwrap();
            db.conn
                .execute_batch(
                    "INSERT INTO runs VALUES ('r1', 'power-cycle', 'lab.csv', 'ab', '{}', 'op',
                         '0.1.0', '2026-11-21T05:47:08.123Z', NULL, 'running');",
                )
                .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(
            schema::user_version(&db.conn).unwrap(),
            schema::known_version()
        );
        let runs: i64 = db
            .conn
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(runs, 1);
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused_as_too_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        drop(Db::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", schema::known_version() + 1)
            .unwrap();
        match Db::open(&path) {
            Err(StoreError::TooNew {
                path: shown,
                found,
                known,
            }) => {
                assert_eq!(
                    (found, known),
                    (schema::known_version() + 1, schema::known_version())
                );
                assert_eq!(shown, path.display().to_string());
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_directory_given_as_the_database_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Db::open(dir.path()).expect_err("a directory is not a database");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn finishing_an_unknown_run_is_refused_and_sync_goes_back_to_normal() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
        let err = db.finish_run("nope", RunStatus::Finished, chrono::Utc::now());
        assert!(matches!(err, Err(StoreError::NoSuchRun(id)) if id == "nope"));
        assert_eq!(pragma_text(&db, "synchronous"), "Integer(1)");
    }
}
