//! Opening the database, and the two writes a command makes itself: creating a run and
//! finishing it. Everything in between goes through the writer.
//!
//! Opening refuses, before changing anything, two files it must not touch: a database whose
//! write-ahead log lost committed records ([`super::wal`]), and a SQLite file that is not ours
//! (`--db` pointed at some other program's database would otherwise silently get our tables).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::schema::{self, TooNew};
use super::{Db, NewJob, NewRun, RunStatus, StoreError, Timestamp, space, time, wal};

/// How long a statement waits on another process's lock (a `report` reading while a run
/// writes) before failing with SQLITE_BUSY: long enough to ride out a checkpoint, short enough
/// that a stuck lock becomes an error instead of a hang.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// A new database is readable by its owner only: it names devices, sites and operators.
const NEW_FILE_MODE: u32 = 0o600;

impl Db {
    /// Opens (creating with owner-only permissions if new) and migrates the database.
    ///
    /// Refused, with the file left as it was: a database whose `-wal` is missing or truncated
    /// while its `-shm` says committed frames are waiting there ([`StoreError::WalLost`]), and
    /// a SQLite file that isn't a fleetreset audit database ([`StoreError::NotOurs`]).
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let shown = path.display().to_string();
        // Before SQLite sees the files: its first open resets the -shm we read.
        if let wal::Verdict::Lost { frames } = wal::check(path) {
            return Err(StoreError::WalLost {
                path: shown,
                frames,
            });
        }
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
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Until we know the file is ours, closing must not checkpoint a WAL of someone else's
        // database into its file: that would change it.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_err)?;
        if let Err(detail) = whose(&conn).map_err(open_err)? {
            return Err(StoreError::NotOurs {
                path: shown,
                detail,
            });
        }
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(open_err)?;
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

    /// Opens an existing database to read it, changing nothing: no file is created, no
    /// migration runs, nothing is checkpointed. For looking at another run's database (whether
    /// a crashed run on it left commands without an outcome). Refused like [`Db::open`] when
    /// it isn't ours or lost its write-ahead log.
    pub fn open_to_read(path: &Path) -> Result<Db, StoreError> {
        let shown = path.display().to_string();
        if let wal::Verdict::Lost { frames } = wal::check(path) {
            return Err(StoreError::WalLost {
                path: shown,
                frames,
            });
        }
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_err)?;
        if let Err(detail) = whose(&conn).map_err(open_err)? {
            return Err(StoreError::NotOurs {
                path: shown,
                detail,
            });
        }
        let found = schema::user_version(&conn).map_err(open_err)?;
        if found > schema::known_version() {
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

    /// Checks, before a run sends anything to any device, that the database can take the run's
    /// records: the connection is not read-only, the database's directory accepts a new file
    /// (SQLite creates `-wal` and `-shm` there, and a probe `.<db name>.probe.<pid>` is created,
    /// written, fsynced and removed), and its file system has `bytes_needed` bytes free.
    pub fn preflight(&self, bytes_needed: u64) -> Result<(), StoreError> {
        let not_ready = |why| StoreError::NotReady {
            path: self.path.display().to_string(),
            why,
        };
        if self.conn.is_readonly("main")? {
            return Err(not_ready(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "SQLite opened it read-only (the file is not writable by this user)",
            )));
        }
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = self
            .path
            .file_name()
            .map_or_else(|| "db".into(), |n| n.to_string_lossy());
        let probe = format!(".{name}.probe.{}", std::process::id());
        space::probe(dir, &probe).map_err(not_ready)?;
        space::ensure_free(dir, bytes_needed).map_err(not_ready)
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

/// Whether the open file is a fleetreset audit database (or nothing yet): `Err` says why not.
/// Only reads.
fn whose(conn: &Connection) -> rusqlite::Result<Result<(), String>> {
    let app_id = schema::application_id(conn)?;
    if app_id == schema::APPLICATION_ID {
        return Ok(Ok(()));
    }
    if app_id != 0 {
        return Ok(Err(format!(
            "its application id is {:#010x}, not fleetreset's {:#010x}",
            app_id as u32,
            schema::APPLICATION_ID as u32
        )));
    }
    let version = schema::user_version(conn)?;
    let objects: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if version == 0 {
        // Nothing in it (a new or empty file) is ours to fill.
        return Ok(if objects == 0 {
            Ok(())
        } else {
            Err("it has tables of its own and no fleetreset schema version".to_owned())
        });
    }
    if !(1..=schema::known_version()).contains(&version) {
        return Ok(Err(format!(
            "its schema version is {version}, and no fleetreset has written that without its application id"
        )));
    }
    // Databases from before version 3 carry no application id: ours if they have our tables.
    let mut missing = Vec::new();
    for table in schema::OUR_TABLES {
        let present: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )?;
        if !present {
            missing.push(table);
        }
    }
    Ok(if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "its schema version is {version} but it lacks fleetreset's tables {}",
            missing.join(", ")
        ))
    })
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

    fn sha256(path: &Path) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(fs::read(path).unwrap()).to_vec()
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Opens `path` expecting [`StoreError::NotOurs`], and checks that neither the file nor its
    /// directory changed. Returns the detail.
    fn refused_untouched(path: &Path) -> String {
        let before = (sha256(path), names_in(path.parent().unwrap()));
        let err = Db::open(path).expect_err("not a fleetreset database");
        let StoreError::NotOurs {
            path: shown,
            detail,
        } = &err
        else {
            panic!("expected NotOurs, got {err:?}");
        };
        assert_eq!(shown, &path.display().to_string());
        assert_eq!(
            (sha256(path), names_in(path.parent().unwrap())),
            before,
            "the refused file or its directory changed"
        );
        detail.clone()
    }

    #[test]
    fn an_unrelated_sqlite_database_is_refused_and_left_byte_for_byte_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contacts.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
        let detail = refused_untouched(&path);
        assert_eq!(
            detail,
            "it has tables of its own and no fleetreset schema version"
        );
        let conn = Connection::open(&path).unwrap();
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 1, "no table of ours was added");
    }

    #[test]
    fn a_database_with_another_application_id_is_refused_even_if_it_has_our_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            schema::migrate(&mut conn, &schema::MIGRATIONS[..2])
                .unwrap()
                .unwrap();
            conn.pragma_update(None, "application_id", 0x1234_5678)
                .unwrap();
        }
        assert_eq!(
            refused_untouched(&path),
            "its application id is 0x12345678, not fleetreset's 0x464c5253"
        );
    }

    #[test]
    fn our_schema_version_without_our_tables_is_refused_naming_the_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE runs (id TEXT); PRAGMA user_version = 2;")
                .unwrap();
        }
        assert_eq!(
            refused_untouched(&path),
            "its schema version is 2 but it lacks fleetreset's tables jobs, events, snapshots"
        );
    }

    #[test]
    fn a_schema_version_no_fleetreset_wrote_without_an_application_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 40)
            .unwrap();
        assert_eq!(
            refused_untouched(&path),
            "its schema version is 40, and no fleetreset has written that without its application id"
        );
    }

    /// Closing the last connection checkpoints a WAL into the database file; the refusal must
    /// not do that to somebody else's database.
    #[test]
    fn a_refused_wal_database_keeps_its_uncheckpointed_log_and_its_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live");
        let copy = dir.path().join("copy");
        fs::create_dir(&live).unwrap();
        fs::create_dir(&copy).unwrap();
        let conn = Connection::open(live.join("app.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
            .unwrap();
        for name in ["app.db", "app.db-wal", "app.db-shm"] {
            fs::copy(live.join(name), copy.join(name)).unwrap();
        }
        drop(conn);
        let wal = fs::read(copy.join("app.db-wal")).unwrap();
        assert!(!wal.is_empty());
        refused_untouched(&copy.join("app.db"));
        assert_eq!(fs::read(copy.join("app.db-wal")).unwrap(), wal);
    }

    #[test]
    fn a_database_from_before_the_application_id_is_migrated_and_marked_as_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            schema::migrate(&mut conn, &schema::MIGRATIONS[..2])
                .unwrap()
                .unwrap();
            conn.execute_batch(
                "INSERT INTO runs VALUES ('r1', 'power-cycle', 'lab.csv', 'ab', '{}', 'op',
                     '0.1.0', '2026-11-21T05:47:08.123Z', NULL, 'running');",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(schema::user_version(&db.conn).unwrap(), 3);
        assert_eq!(
            schema::application_id(&db.conn).unwrap(),
            schema::APPLICATION_ID
        );
        assert_eq!(db.list_runs().unwrap().len(), 1);
        drop(db);
        // Persisted, not only in this connection.
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            schema::application_id(&conn).unwrap(),
            schema::APPLICATION_ID
        );
    }

    #[test]
    fn the_not_ours_message_says_whose_it_is_not_and_that_nothing_changed() {
        let err = StoreError::NotOurs {
            path: "contacts.db".into(),
            detail: "its application id is 0x12345678, not fleetreset's 0x464c5253".into(),
        };
        assert_eq!(
            err.to_string(),
            "contacts.db is not a fleetreset audit database (its application id is 0x12345678, \
             not fleetreset's 0x464c5253); nothing was changed in it: give --db a fleetreset \
             database or a new file"
        );
    }

    #[test]
    fn the_preflight_of_a_fresh_database_passes_and_leaves_no_probe_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let db = Db::open(&path).unwrap();
        let before = names_in(dir.path());
        db.preflight(1 << 20).unwrap();
        assert_eq!(names_in(dir.path()), before);
    }

    #[test]
    fn a_read_only_connection_fails_the_preflight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        drop(Db::open(&path).unwrap());
        let db = Db {
            conn: Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap(),
            path: path.clone(),
        };
        let err = db.preflight(0).unwrap_err();
        let StoreError::NotReady { path: shown, why } = &err else {
            panic!("expected NotReady, got {err:?}");
        };
        assert_eq!(shown, &path.display().to_string());
        assert_eq!(why.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("read-only"), "{err}");
    }

    #[test]
    fn a_need_beyond_any_disk_fails_the_preflight_with_no_space() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("audit.db")).unwrap();
        let err = db.preflight(u64::MAX / 2).unwrap_err();
        let StoreError::NotReady { why, .. } = &err else {
            panic!("expected NotReady, got {err:?}");
        };
        assert_eq!(why.kind(), io::ErrorKind::StorageFull);
        let text = err.to_string();
        assert!(
            text.contains(&format!("no space in {}: ", dir.path().display())),
            "{text}"
        );
        assert!(text.ends_with("free, about 8 EiB needed"), "{text}");
    }
}
