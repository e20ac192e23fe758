//! A whole run: record it, settle how each job reaches its device, and hand the jobs to
//! [`super::drive`], which takes them to their outcomes, closes the audit and writes the reports. `run`, `resume` and `demo` all
//! come through here, each holding its [`Guard`] (database, lock, claims) from before its
//! first packet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::inventory::Inventory;
use crate::model::Outcome;
use crate::report::ReportFiles;
use crate::store::{NewJob, NewRun, RunOutline, RunStatus};

use super::config::RunConfig;
use super::drive::{Drive, drive};
use super::guard::Guard;
use super::job::{Addresses, JobResult, Mode};
use super::links;
use super::plan::PlannedJob;
use super::policy::{Safety, StopReason};
use super::progress::ProgressView;
use super::shutdown::Signals;

/// After the first signal, jobs in flight get this long (device time) to finish before they are
/// dropped. A reboot's verification can take two boot times; past that, their intents stay
/// recorded for `resume`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(150);

/// What a new run needs besides its configuration.
pub struct RunInput<'a> {
    pub run_id: String,
    pub inventory: &'a Inventory,
    /// The jobs, planned and with their links settled ([`prepare`]).
    pub jobs: Vec<PlannedJob>,
    /// SHA-256 of the inventory file's bytes, hex.
    pub inventory_sha256: String,
    pub config: RunConfig,
    pub safety: Safety,
    /// The database (open, locked) and the device claims, taken before anything was sent.
    pub guard: Guard,
    pub db_path: &'a Path,
    /// Reports go to `<reports_dir>/<run id>/`.
    pub reports_dir: &'a Path,
    pub operator: String,
    /// Signs the run's chain head and certificates when it ends; `None` writes them unsigned.
    pub signing: Option<&'a crate::signing::SigningKey>,
}

/// How a run ended.
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    pub stop: Option<StopReason>,
    pub results: Vec<JobResult>,
    /// The run, its counts and the jobs that did not succeed: not every job's record.
    pub record: RunOutline,
    pub report: ReportFiles,
    /// `chain-head.txt` beside the reports: the run's head, signed when a key was configured.
    pub head_file: Option<PathBuf>,
    /// The certificates of a factory-reset run.
    pub certificates: Option<crate::certificate::Issued>,
    pub db_path: PathBuf,
}

impl RunSummary {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.record.count(outcome)
    }
}

/// Runs the action over the inventory until every job has its outcome or the run stops.
pub async fn execute(
    input: RunInput<'_>,
    view: &mut ProgressView,
    signals: Signals,
) -> anyhow::Result<RunSummary> {
    let RunInput {
        run_id,
        inventory,
        jobs: planned,
        inventory_sha256,
        config,
        safety,
        mut guard,
        db_path,
        reports_dir,
        operator,
        signing,
    } = input;
    let parameters = config.parameters(&safety, &inventory.read);
    let new_run = NewRun {
        id: run_id.clone(),
        action: config.action,
        inventory_path: inventory.path.display().to_string(),
        inventory_sha256,
        parameters,
        operator,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: chrono::Utc::now(),
    };
    let jobs: Vec<NewJob> = planned.iter().map(new_job).collect();
    guard.db.create_run(&new_run, &jobs).with_context(|| {
        format!(
            "recording the run in the audit database {}",
            db_path.display()
        )
    })?;
    // Stored: the rows aren't needed again, nor the plan's words, which were shown before the
    // question. A large run keeps every queued job for its whole length.
    drop(jobs);
    let work = planned
        .into_iter()
        .map(|mut j| {
            j.shed_words();
            (j, Mode::Fresh)
        })
        .collect();
    drive(Drive {
        run_id,
        guard,
        work,
        config,
        safety,
        db_path,
        reports_dir,
        signing,
        view,
        signals,
        prior_auth_failures: 0,
        addresses: Addresses::default(),
    })
    .await
}

/// Settles every job's link: its credentials profile, then (for protocols only discovery can
/// tell, or with `rediscover`) a discovery sweep, then checks that a rehearsal's simulator
/// runs at the run's time scale ([`links::rehearsal_check`]). Problems come back as
/// `LINE: id: message`; nothing disruptive has been sent either way.
pub async fn prepare(
    jobs: &mut [PlannedJob],
    store: &crate::credentials::Store,
    rediscover: Option<&[std::net::IpAddr]>,
    view: &ProgressView,
    config: &RunConfig,
) -> Result<(), Vec<String>> {
    links::attach_credentials(jobs, store).map_err(|p| {
        p.into_iter()
            .map(|(line, msg)| format!("{line}: {msg}"))
            .collect::<Vec<_>>()
    })?;
    match links::discover(jobs, rediscover, links::DISCOVERY_TIMEOUT).await {
        Ok(notes) => notes.iter().for_each(|n| view.note(n)),
        Err(e) => view.note(&format!(
            "discovery failed ({e}); using the inventory and catalog as they are"
        )),
    }
    links::attach_switches(jobs, store);
    links::rehearsal_check(jobs, config)
        .await
        .map_err(|p| vec![p])
}

pub(super) fn new_job(j: &PlannedJob) -> NewJob {
    NewJob {
        device_id: j.device.id.clone(),
        seq: j.seq,
        host: j.device.host.to_string(),
        model: j.device.model.clone(),
        mac: j.device.mac.map(|m| m.to_string()),
        site: j.device.site.clone(),
        unit: j.device.unit.clone(),
        method: j.method.word(),
    }
}

/// `20261121T054708Z-3f2a`: sortable by start time, unique enough for one operator's runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let noise = now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16);
    format!("{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), noise & 0xffff)
}

/// SHA-256 of a file's bytes, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn run_ids_sort_by_time_and_carry_a_suffix() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261121T054708Z-3f2a".len(), "{id}");
        assert_eq!(&id[16..17], "-");
    }
}
