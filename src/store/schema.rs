//! The schema, as an ordered list of migrations tracked by `PRAGMA user_version`.
//!
//! Migration N takes a database from version N-1 to N, in one transaction with the version
//! bump. A migration that has shipped is NEVER edited: databases in the field already ran it,
//! and they would silently keep the old shape. Change the schema by appending a migration.

use rusqlite::{Connection, TransactionBehavior};

/// Version 1: runs, jobs, append-only events, pre/post snapshots.
const V1: &str = r#"
-- One execution of an action over an inventory.
CREATE TABLE runs (
    id               TEXT PRIMARY KEY NOT NULL,   -- the run id users type (`fleetreset report ID`)
    action           TEXT NOT NULL                -- what was asked for the fleet
                     CHECK (action IN ('power-cycle', 'factory-reset')),
    inventory_path   TEXT NOT NULL,               -- the inventory file as given
    inventory_sha256 TEXT NOT NULL,               -- hex SHA-256 of the inventory's bytes
    parameters       TEXT NOT NULL                -- validated parameters (rate, limits, timeouts) as JSON
                     CHECK (json_valid(parameters)),
    operator         TEXT NOT NULL,               -- who started the run
    tool_version     TEXT NOT NULL,               -- fleetreset version that ran it
    started_at       TEXT NOT NULL,               -- RFC 3339 UTC with ms, e.g. 2026-11-21T05:47:08.123Z
    finished_at      TEXT,                        -- NULL while running, or if the process died
    status           TEXT NOT NULL
                     CHECK (status IN ('running', 'finished', 'stopped', 'interrupted'))
);
CREATE INDEX runs_by_start ON runs (started_at);

-- One device inside a run. Ends with exactly one outcome.
CREATE TABLE jobs (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    device_id   TEXT NOT NULL,                    -- the inventory's `id` column
    seq         INTEGER NOT NULL,                 -- position in the inventory, from 0
    host        TEXT NOT NULL,                    -- address as the inventory gives it
    model       TEXT,                             -- inventory columns, NULL when empty
    mac         TEXT,
    site        TEXT,
    unit        TEXT,
    method      TEXT NOT NULL                     -- how the device gets the action
                CHECK (method IN ('remote', 'upstream', 'manual')),
    state       TEXT NOT NULL                     -- latest state; its history is in events
                CHECK (state IN ('pending', 'probing', 'identity_checked', 'intent_recorded',
                                 'acting', 'verifying', 'done')),
    outcome     TEXT                              -- NULL until the job ends, then never changed
                CHECK (outcome IN ('succeeded', 'failed', 'manual_required',
                                   'manual_confirmed', 'skipped')),
    reason      TEXT                              -- why it failed or was skipped
                CHECK (reason IN ('unreachable', 'timeout', 'auth_failed', 'device_error',
                                  'identity_mismatch', 'unsupported', 'not_verified',
                                  'threshold_reached', 'window_closed', 'interrupted',
                                  'dependency_failed')),
    detail      TEXT,                             -- the outcome in words, for people
    attempts    INTEGER NOT NULL DEFAULT 0,       -- how many times the job was started
    started_at  TEXT,                             -- first start; NULL if it never started
    finished_at TEXT,                             -- when the outcome was recorded
    PRIMARY KEY (run_id, device_id),
    UNIQUE (run_id, seq),
    CHECK ((outcome IS NULL) = (finished_at IS NULL))
);

-- Once a job has its outcome, the outcome stands.
CREATE TRIGGER jobs_outcome_is_final
BEFORE UPDATE OF outcome, reason, detail, finished_at ON jobs
WHEN OLD.outcome IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'jobs: the outcome of a job is final');
END;

-- Everything that happened, in order. Append-only: never updated, never deleted.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- write order
    run_id    TEXT NOT NULL REFERENCES runs (id),
    device_id TEXT,                               -- NULL for events of the whole run
    at        TEXT NOT NULL,                      -- RFC 3339 UTC with ms
    state     TEXT                                -- the state the job entered, if it moved
              CHECK (state IN ('pending', 'probing', 'identity_checked', 'intent_recorded',
                               'acting', 'verifying', 'done')),
    kind      TEXT NOT NULL,                      -- state, ack, went_away, came_back, outcome, ...
    detail    TEXT NOT NULL                       -- what was observed, as JSON
              CHECK (json_valid(detail)),
    FOREIGN KEY (run_id, device_id) REFERENCES jobs (run_id, device_id),
    CHECK (state IS NULL OR device_id IS NOT NULL)
);
CREATE INDEX events_by_run ON events (run_id, id);

CREATE TRIGGER events_are_not_updated BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: no UPDATE');
END;

CREATE TRIGGER events_are_not_deleted BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: no DELETE');
END;

-- What the device reported about itself before and after the action.
CREATE TABLE snapshots (
    run_id    TEXT NOT NULL,
    device_id TEXT NOT NULL,
    phase     TEXT NOT NULL CHECK (phase IN ('pre', 'post')),
    taken_at  TEXT NOT NULL,                      -- RFC 3339 UTC with ms
    data      TEXT NOT NULL                       -- the device's full info as JSON
              CHECK (json_valid(data)),
    PRIMARY KEY (run_id, device_id, phase),
    FOREIGN KEY (run_id, device_id) REFERENCES jobs (run_id, device_id)
);
"#;

/// Version 2: resumable skips, and whether each device's identity was verified.
const V2: &str = r#"
-- A job skipped because its run stopped early (interrupted, window closed, threshold reached)
-- never touched its device. `fleetreset resume` clears that skip and runs the job; every other
-- outcome stays final, and the events table keeps the skip either way.
DROP TRIGGER jobs_outcome_is_final;
CREATE TRIGGER jobs_outcome_is_final
BEFORE UPDATE OF outcome, reason, detail, finished_at ON jobs
WHEN OLD.outcome IS NOT NULL
 AND NOT (OLD.outcome = 'skipped'
          AND OLD.reason IN ('interrupted', 'window_closed', 'threshold_reached')
          AND NEW.outcome IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'jobs: the outcome of a job is final');
END;

-- Whether the device proved its identity before anything disruptive was sent: 1 it reported the
-- inventory's MAC, 0 the inventory had no MAC and --allow-unverified-identity let it through,
-- NULL the job didn't get that far.
ALTER TABLE jobs ADD COLUMN identity_verified INTEGER CHECK (identity_verified IN (0, 1));
"#;

/// `PRAGMA application_id` of a fleetreset audit database: "FLRS" in ASCII, so `file(1)` and
/// `sqlite3 .dbinfo` show whose file it is, and so that [`super::db`] can tell our database from
/// an unrelated SQLite file before it adds tables to it. Never change it: databases in the field
/// carry it.
pub(crate) const APPLICATION_ID: i32 = 0x464C_5253;

/// Version 3: the file says it is a fleetreset audit database ([`APPLICATION_ID`]). The pragma
/// writes the database header through the pager, so it commits or rolls back with the version
/// bump like any other migration.
const V3: &str = r#"
PRAGMA application_id = 1179406931; -- 0x464C5253, "FLRS"
"#;

/// Version 4: a technician's confirmation (`fleetreset confirm`) of a manual job.
const V4: &str = r#"
-- A job that needed a person ends `manual_required`; when the technician's confirmation is
-- recorded (a `manual_confirmed` event saying who, when, and what was seen of the device
-- afterwards) it becomes `manual_confirmed`. That is the one change an outcome may still take;
-- a confirmation stands like any other outcome.
DROP TRIGGER jobs_outcome_is_final;
CREATE TRIGGER jobs_outcome_is_final
BEFORE UPDATE OF outcome, reason, detail, finished_at ON jobs
WHEN OLD.outcome IS NOT NULL
 AND NOT (OLD.outcome = 'skipped'
          AND OLD.reason IN ('interrupted', 'window_closed', 'threshold_reached')
          AND NEW.outcome IS NULL)
 AND NOT (OLD.outcome = 'manual_required' AND NEW.outcome = 'manual_confirmed')
BEGIN
    SELECT RAISE(ABORT, 'jobs: the outcome of a job is final');
END;
"#;

/// Version 5: the audit chain over every record a report relies on, and its checkpoints.
const V5: &str = r#"
-- Every record a report relies on enters its run's chain each time it is written: the run and
-- its status, each job as the inventory described it, each outcome, identity verdict, event
-- and snapshot. Entry n holds the digest of the record's canonical encoding and the hash
--   hash(n) = SHA-256("fleetreset/chain/v1/" || kind || 0x00 || hash(n-1) || digest)
-- with hash(0) 32 zero bytes. The latest entry of each record must match the row as it is,
-- so `fleetreset audit verify` recomputes the chain from the rows and names the first record
-- that was edited, removed, reordered or inserted.
CREATE TABLE chain (
    run_id TEXT NOT NULL REFERENCES runs (id),
    n      INTEGER NOT NULL CHECK (n >= 1),     -- position in the run's chain, from 1
    kind   TEXT NOT NULL
           CHECK (kind IN ('run', 'status', 'job', 'outcome', 'identity', 'event', 'snapshot')),
    ref    TEXT NOT NULL,                        -- which record: run id, device id, event id,
                                                 -- device id and phase (`plug-1/post`)
    digest TEXT NOT NULL,                        -- hex SHA-256 of the record's canonical encoding
    hash   TEXT NOT NULL,                        -- hex chain hash up to and including this entry
    PRIMARY KEY (run_id, n)
);

CREATE TRIGGER chain_is_not_updated BEFORE UPDATE ON chain
BEGIN
    SELECT RAISE(ABORT, 'the audit chain is append-only: no UPDATE');
END;

CREATE TRIGGER chain_is_not_deleted BEFORE DELETE ON chain
BEGIN
    SELECT RAISE(ABORT, 'the audit chain is append-only: no DELETE');
END;

-- A chain head sealed at a moment people rely on (a run's end, a confirmation, a sample, a
-- certificate), signed when a signing key is configured. A copy of the head kept elsewhere
-- (a report, a certificate, a signed file) proves later that nothing before it was changed.
CREATE TABLE checkpoints (
    run_id    TEXT NOT NULL REFERENCES runs (id),
    n         INTEGER NOT NULL CHECK (n >= 1),  -- the chain length it seals
    head      TEXT NOT NULL,                    -- hex chain hash at n
    at        TEXT NOT NULL,                    -- RFC 3339 UTC with ms
    why       TEXT NOT NULL
              CHECK (why IN ('run_ended', 'confirmed', 'sampled', 'certified')),
    key_id    TEXT,                             -- minisign key id of the signer, NULL unsigned
    signature TEXT,                             -- minisign signature of the head statement
    PRIMARY KEY (run_id, n, why)
);

CREATE TRIGGER checkpoints_are_not_updated BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: no UPDATE');
END;

CREATE TRIGGER checkpoints_are_not_deleted BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: no DELETE');
END;
"#;

/// Version 6: merged audits (`fleetreset audit merge OUT.db SITE.db…`).
const V6: &str = r#"
-- Many sites' databases merged into one: each run's rows, chain entries and checkpoints copied
-- as they were, so that each run's chain verifies here as it did at its site. A database with
-- merged runs is an archive: no run, resume, confirmation or sample writes to it.

-- Each site file merged: which site, the hash of its bytes, and each of its runs' chain heads.
CREATE TABLE sources (
    id        INTEGER PRIMARY KEY,                -- merge order
    site      TEXT NOT NULL CHECK (site <> ''),   -- the site's name, e.g. site-a
    sha256    TEXT NOT NULL UNIQUE,               -- hex SHA-256 of the file's bytes
    path      TEXT NOT NULL,                      -- the file as given to `audit merge`
    merged_at TEXT NOT NULL,                      -- RFC 3339 UTC with ms
    runs      INTEGER NOT NULL,                   -- how many runs the file held
    heads     TEXT NOT NULL                       -- each run's chain in the file, as JSON:
              CHECK (json_valid(heads))           -- [{"run", "records", "head", "merged"}]
);

-- The site each merged run came from: a run belongs to one site.
CREATE TABLE merged_runs (
    run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id),
    site   TEXT NOT NULL
);

-- `events.id` is this database's own, but an event's chained encoding and its chain entry's
-- `ref` hold the id its site gave it: the chain reads COALESCE(site_event_id, events.id).
CREATE TABLE event_origins (
    id            INTEGER PRIMARY KEY REFERENCES events (id),
    site_event_id INTEGER NOT NULL                -- the event's id in its site's database
);

CREATE TRIGGER sources_are_not_updated BEFORE UPDATE ON sources
BEGIN
    SELECT RAISE(ABORT, 'sources are append-only: no UPDATE');
END;

CREATE TRIGGER sources_are_not_deleted BEFORE DELETE ON sources
BEGIN
    SELECT RAISE(ABORT, 'sources are append-only: no DELETE');
END;

CREATE TRIGGER merged_runs_are_not_updated BEFORE UPDATE ON merged_runs
BEGIN
    SELECT RAISE(ABORT, 'merged_runs are append-only: no UPDATE');
END;

CREATE TRIGGER merged_runs_are_not_deleted BEFORE DELETE ON merged_runs
BEGIN
    SELECT RAISE(ABORT, 'merged_runs are append-only: no DELETE');
END;

CREATE TRIGGER event_origins_are_not_updated BEFORE UPDATE ON event_origins
BEGIN
    SELECT RAISE(ABORT, 'event_origins are append-only: no UPDATE');
END;

CREATE TRIGGER event_origins_are_not_deleted BEFORE DELETE ON event_origins
BEGIN
    SELECT RAISE(ABORT, 'event_origins are append-only: no DELETE');
END;
"#;

/// Version 7: the TPAP login gate's lookups.
const V7: &str = r#"
-- A new run's TPAP login gate reads the logins earlier runs saw refused (`probe_failed` events
-- carrying the device's lockout counters). This index holds those events alone: finding them
-- scans no other event, and recording any other event costs nothing more.
CREATE INDEX events_probe_failed ON events (id) WHERE kind = 'probe_failed';
"#;

/// Every migration, oldest first; index N-1 holds migration N. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The tables every fleetreset schema version has, from V1 on.
pub(crate) const OUR_TABLES: [&str; 4] = ["runs", "jobs", "events", "snapshots"];

pub(crate) fn application_id(conn: &Connection) -> rusqlite::Result<i32> {
    conn.pragma_query_value(None, "application_id", |row| row.get(0))
}

/// Whether the database has table `name`: a database opened to read is never migrated, so a
/// table a later migration added may be missing.
pub(crate) fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
    )?
    .query_row([name], |r| r.get(0))
}

/// The schema version this build writes.
pub(crate) fn known_version() -> i64 {
    // The list is a handful of entries; the cast can't truncate.
    MIGRATIONS.len() as i64
}

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Result of [`migrate`] when the database is newer than `migrations`.
#[derive(Debug)]
pub(crate) struct TooNew {
    pub found: i64,
}

/// Brings the database up to `migrations.len()`. Each step re-reads the version inside its
/// `BEGIN IMMEDIATE`, so two processes opening a new file at once don't both run a step.
pub(crate) fn migrate(
    conn: &mut Connection,
    migrations: &[&str],
) -> rusqlite::Result<Result<(), TooNew>> {
    let known = migrations.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = user_version(&tx)?;
        if version > known {
            return Ok(Err(TooNew { found: version }));
        }
        if version == known {
            return Ok(Ok(()));
        }
        // `version` is in 0..known here, so it indexes the next migration.
        tx.execute_batch(migrations[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests;
