//! Why a claim was refused, in words that say what to do.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::LOCK_DIR_ENV;
#[cfg(test)]
pub(super) use crate::hint::shell_word;
use crate::inert::Inert;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "{total} of this run's device keys (MACs and addresses) are claimed by another run, {holder} ({}); the other run must finish first",
        list(overlapping, *total)
    )]
    Busy {
        /// The other claim's holder line.
        holder: String,
        /// The first few keys both claims hold (`SHOWN_OVERLAPS` of them at most).
        overlapping: Vec<String>,
        /// How many keys both claims hold.
        total: usize,
    },
    #[error(
        "the device claim {} is held by a running process but cannot be read ({why}); it is treated as claiming these devices: wait for that process to finish",
        path.display()
    )]
    Unreadable { path: PathBuf, why: String },
    #[error(
        "{total} of this run's device keys (MACs and addresses) are claimed by run {} on {} ({}), which ended without recording the outcome of commands it may have sent; resume it first ({}) so they are judged and never sent twice (its claim file is {})",
        Inert(run_id),
        Inert(&db.to_string_lossy()),
        list(overlapping, *total),
        resume_hint(run_id, db),
        path.display()
    )]
    Crashed {
        /// The dead run, as its claim file names it.
        run_id: String,
        /// Its database, as its claim file names it.
        db: PathBuf,
        /// The first few keys both claims hold (`SHOWN_OVERLAPS` of them at most).
        overlapping: Vec<String>,
        /// How many keys both claims hold.
        total: usize,
        /// Its claim file, left in place.
        path: PathBuf,
    },
    #[error(
        "{total} of this run's device keys (MACs and addresses) are claimed by run {} on {} ({}), which ended without releasing its claim, and its database can't be read ({why}) to tell whether it left commands without an outcome; resume it if you can ({}), or, if that database is gone for good, delete {}",
        Inert(run_id),
        Inert(&db.to_string_lossy()),
        list(overlapping, *total),
        resume_hint(run_id, db),
        path.display()
    )]
    CrashedUnknown {
        run_id: String,
        db: PathBuf,
        overlapping: Vec<String>,
        total: usize,
        path: PathBuf,
        /// Why the caller could not tell (`Settled::Unknown`); boxed to keep every `Result`
        /// of this module small.
        why: Box<str>,
    },
    #[error(
        "{total} of this run's device keys (MACs and addresses) are claimed by {holder} ({}), which ended without releasing its claim, and its claim file {} does not say which run and database it belongs to (an older fleetreset wrote it, or it is damaged), so it is treated as still claiming them: resume that run if you know which it was; if its run is known to be finished, delete {}",
        list(overlapping, *total),
        path.display(),
        path.display()
    )]
    StaleUnknownOrigin {
        /// The dead claim's holder line.
        holder: String,
        overlapping: Vec<String>,
        total: usize,
        path: PathBuf,
    },
    #[error(
        "the device claim {} was left by a fleetreset that ended without releasing it and cannot be read ({why}); it is treated as claiming these devices: if its run is known to be finished, delete {}",
        path.display(),
        path.display()
    )]
    StaleUnreadable { path: PathBuf, why: String },
    #[error(
        "refusing the device claims directory {}: {why}; it must be a directory of yours that only you can write (or set {LOCK_DIR_ENV} to one)",
        dir.display()
    )]
    UnsafeDir { dir: PathBuf, why: String },
    #[error(
        "the device claims registry {} stayed locked for {} s: another fleetreset is claiming devices, or is stuck doing so; try again",
        path.display(),
        waited.as_secs()
    )]
    RegistryTimeout { path: PathBuf, waited: Duration },
    #[error("cannot claim devices in {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The command that resumes the run `run_id` of the database `db`, as its claim names them.
fn resume_hint(run_id: &str, db: &std::path::Path) -> String {
    crate::hint::Resume {
        run_id,
        db,
        reports_dir: None,
        credentials: None,
        rediscover: None,
    }
    .command()
}

/// `mac A, host B and 3 more`.
fn list(shown: &[String], total: usize) -> String {
    let mut text = shown.join(", ");
    if total > shown.len() {
        text.push_str(&format!(" and {} more", total - shown.len()));
    }
    text
}
