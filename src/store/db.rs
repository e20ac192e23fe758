//! Opening the database, and the writes a command makes itself: creating a run (with its
//! `run_started` event), finishing it, reopening it for `resume` (with its `run_resumed`
//! event). Everything in between goes through the writer; how a run ends is in `run_events`.
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

use super::apply::insert_event;
use super::chain;
use super::run_events::{self, Resumed, RunEvent, Started};
use super::schema::{self, TooNew};
use super::{Db, NewJob, NewRun, RunStatus, StoreError, Timestamp, space, time, wal};
use crate::model::{EventKind, JobState};

/// How long a statement waits on another process's lock (a `report` reading while a run
/// writes) before failing with SQLITE_BUSY: long enough to ride out a checkpoint, short enough
/// that a stuck lock becomes an error instead of a hang.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// A new database is readable by its owner only: it names devices, sites and operators.
const NEW_FILE_MODE: u32 = 0o600;

/// Prepared statements a connection keeps: more than every statement the writer uses.
const STATEMENT_CACHE: usize = 128;

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
        // The writer cycles through a few dozen statements for each job (inserts, the chain's
        // appends and read-backs); rusqlite's default cache of 16 would prepare some of them
        // again every time.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
        let parameters = run.parameters.to_value();
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
                    parameters.to_string(),
                    run.operator,
                    run.tool_version,
                    time::format(&run.started_at),
                    RunStatus::Running.as_str(),
                ],
            )?;
            let started = RunEvent::Started(Started {
                operator: run.operator.clone(),
                inventory_path: run.inventory_path.clone(),
                inventory_sha256: run.inventory_sha256.clone(),
                tool_version: run.tool_version.clone(),
                parameters: parameters.clone(),
            });
            chain::record::chain_run(&tx, &run.id)?;
            run_events::insert(&tx, &run.id, &run.started_at, &started)?;
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
                    chain::record::chain_job(&tx, &run.id, &job.device_id)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Marks the run finished with `status`, durably, with no event saying how it ended: for
    /// tools and tests that build a run by hand. The engine ends its runs with
    /// [`Db::end_run`], which also records the run-level event.
    pub fn finish_run(
        &mut self,
        run_id: &str,
        status: RunStatus,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3 WHERE id = ?1",
                params![run_id, time::format(&at), status.as_str()],
            )?;
            if changed == 0 {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            chain::record::chain_status(&tx, run_id)?;
            tx.commit()?;
            Ok(())
        })
    }
}

impl Db {
    /// Opens a stopped run for `fleetreset resume`, in one durable transaction: the run is
    /// `running` again, and every job skipped because the run stopped early (interrupted,
    /// window closed, threshold reached) loses its skip so it can run. Each reopened job gets a
    /// `reopened` event holding the skip it had, after the run's `run_resumed` event (who
    /// resumed it, and whether the inventory had changed). Returns the reopened jobs' device ids.
    pub fn reopen_run(
        &mut self,
        run_id: &str,
        at: Timestamp,
        resumed: &Resumed,
    ) -> Result<Vec<String>, StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?1",
                params![run_id],
            )?;
            if changed == 0 {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            chain::record::chain_status(&tx, run_id)?;
            run_events::insert(&tx, run_id, &at, &RunEvent::Resumed(resumed.clone()))?;
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
                chain::record::chain_outcome(&tx, run_id, device_id)?;
                let event =
                    serde_json::json!({ "was": "skipped", "reason": reason, "detail": detail });
                insert_event(
                    &tx,
                    run_id,
                    Some(device_id),
                    &at,
                    Some(JobState::Pending),
                    EventKind::Reopened.into(),
                    &event,
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
mod tests;
