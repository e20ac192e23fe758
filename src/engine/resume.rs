//! `resume`: a stopped or crashed run's remaining work, rebuilt from its audit. Jobs never
//! started run now; jobs whose command may have arrived are judged from their evidence, no
//! sooner than the run itself would have, and never sent again ([`super::job::resolve`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use tokio::time::Instant;

use crate::inventory::{Device, Host, Inventory};
use crate::model::{Outcome, Reason};
use crate::store::{EventRow, JobRow, Resumed, RunRecord, SnapshotPhase};

use super::config::RunConfig;
use super::drive::{Drive, drive};
use super::execute::{RunSummary, prepare};
use super::guard::Guard;
use super::host_clock::HostMark;
use super::job::{Addresses, Evidence, Mode, is_gated, login_unsettled, refused_login};
use super::plan::{self, PlannedJob};
use super::policy::Safety;
use super::progress::ProgressView;
use super::shutdown::Signals;

/// What `resume` needs: the run, the inventory as it is now, and the limits to go on with.
pub struct ResumeInput<'a> {
    pub run_id: &'a str,
    pub credentials: &'a crate::credentials::Store,
    pub rediscover: Option<Vec<std::net::IpAddr>>,
    pub inventory: &'a Inventory,
    pub config: RunConfig,
    pub safety: Safety,
    pub guard: Guard,
    pub db_path: &'a Path,
    pub reports_dir: &'a Path,
    /// Who resumes it, for the audit's `run_resumed` event.
    pub operator: String,
    /// SHA-256 of the inventory file's bytes now, hex; the event keeps it beside the run's.
    pub inventory_sha256: String,
    /// Whether `--force` was given.
    pub force: bool,
    /// `--force-login`: TPAP devices with few logins left are tried too.
    pub force_login: bool,
    /// Signs the run's chain head and certificates when it ends; `None` writes them unsigned.
    pub signing: Option<&'a crate::signing::SigningKey>,
}

/// Continues a stopped or crashed run. Jobs never started run now. Jobs with a recorded intent
/// and no outcome may have received their command: they are judged from the audit's evidence
/// and a look at the device, no sooner than the run itself would have judged them, and their
/// command is never sent again ([`job::resolve`]).
pub async fn resume(
    input: ResumeInput<'_>,
    view: &mut ProgressView,
    signals: Signals,
) -> anyhow::Result<RunSummary> {
    let ResumeInput {
        run_id,
        credentials,
        rediscover,
        inventory,
        config,
        safety,
        mut guard,
        db_path,
        reports_dir,
        operator,
        inventory_sha256,
        force,
        force_login,
        signing,
    } = input;
    let before = guard.db.load_run(run_id).context("reading the run")?;
    let by_id: HashMap<&str, &Device> = inventory
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    let missing: Vec<&str> = before
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason))
        .map(|j| j.device_id.as_str())
        .filter(|id| !by_id.contains_key(id))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the inventory no longer has these devices of run {run_id}: {}; restore their rows to resume",
            missing.join(", ")
        );
    }
    // Everything that can refuse comes before the run is reopened: a refused resume leaves
    // the run as it was.
    let now = HostMark::now();
    let start = Instant::now();
    let by_job = ByJob::of(&before);
    let open = |j: &&JobRow| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason);
    let mut work: Vec<(PlannedJob, Mode)> = Vec::new();
    // Planned over the whole inventory, as the run was: a device's method and order depend on
    // the rows that power it and that it powers.
    let mut planned_all: HashMap<String, PlannedJob> =
        plan::plan_with(&inventory.devices, config.action, config.method)
            .into_iter()
            .map(|p| (p.device.id.clone(), p))
            .collect();
    for j in before.jobs.iter().filter(open) {
        let Some(mut planned) = planned_all.remove(j.device_id.as_str()) else {
            continue;
        };
        planned.seq = j.seq;
        let events = by_job.events(&j.device_id);
        let mode = match Evidence::from_events(config.action, events.iter().copied()) {
            Some(evidence) => {
                // Judged where the command went (the run may have followed a move there).
                if let Some(addr) = evidence.sent_to() {
                    planned.device.host = Host {
                        name: addr.ip().to_string(),
                        port: Some(addr.port()),
                    };
                    planned.link.port = addr.port();
                }
                Mode::Resolve {
                    not_before: start + evidence.wait_before_judging(&now, &config),
                    evidence: Box::new(evidence),
                }
            }
            None => {
                let probed = by_job.probed.contains(j.device_id.as_str());
                match refused_login(events.iter().copied())
                    .or_else(|| login_unsettled(events.iter().copied(), probed))
                {
                    Some(f) => Mode::Refused(f),
                    None => Mode::Fresh,
                }
            }
        };
        work.push((planned, mode));
    }
    let (mut jobs, modes): (Vec<PlannedJob>, Vec<Mode>) = work.into_iter().unzip();
    // As `run` says it: on the bar before the first job, or as a line with `-v`.
    view.waiting(if rediscover.is_some() {
        "rediscovering the devices by MAC"
    } else {
        "settling how each device is reached"
    });
    prepare(
        &mut jobs,
        credentials,
        rediscover.as_deref(),
        &*view,
        &config,
    )
    .await
    .map_err(|problems| {
        let file = inventory.location();
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{file}:{}", super::job::probe::for_resume(p)))
            .collect();
        // A refusal like run's, with nothing sent: `--json` says `refused`, not `error`.
        crate::exit::Early::refused(format!(
            "{}\nnothing was sent, and the run is as it was",
            lines.join("\n")
        ))
    })?;
    super::links::gate_logins(&mut jobs, &guard.db, force_login, view)?;
    // Devices discovery found elsewhere are claimed, and checked, at their new addresses too.
    let moved: Vec<&Device> = jobs
        .iter()
        .filter(|j| j.link.moved_from.is_some())
        .map(|j| &j.device)
        .collect();
    if !moved.is_empty() {
        let holder = format!("resume of run {run_id} on {}", db_path.display());
        guard.claim(&moved, run_id, &holder)?;
        guard.refuse_unresolved(&moved, Some(run_id))?;
    }
    // Addresses the run already sent a command to stay taken: a second row reaching one of
    // them gets nothing in the resume either.
    let addresses = Addresses::default();
    for j in &before.jobs {
        let sent_to =
            Evidence::from_events(config.action, by_job.events(&j.device_id).iter().copied())
                .and_then(|e| e.sent_to());
        if let Some(addr) = sent_to {
            addresses.take(addr.ip(), &j.device_id);
        }
    }
    view.note(&format!(
        "resuming run {run_id}: {} job(s) left",
        jobs.len()
    ));
    let resumed = Resumed {
        operator,
        previous_status: before.run.status,
        inventory_sha256_then: before.run.inventory_sha256.clone(),
        inventory_sha256_now: inventory_sha256,
        force,
        window: safety.window.as_ref().map(ToString::to_string),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    guard
        .db
        .reopen_run(run_id, chrono::Utc::now(), &resumed)
        .context("reopening the run")?;
    drive(Drive {
        run_id: run_id.to_string(),
        guard,
        work: jobs.into_iter().zip(modes).collect(),
        addresses,
        config,
        safety,
        db_path,
        reports_dir,
        signing,
        view,
        signals,
        // The refusals still to be recorded are counted as their jobs end.
        prior_auth_failures: auth_failures(&before).0,
    })
    .await
}

/// A run's records grouped by job, once: a resume of a large run must not scan every event of
/// the run for every job.
struct ByJob<'a> {
    events: HashMap<&'a str, Vec<&'a EventRow>>,
    /// Jobs with a pre-state snapshot: their device was logged in to and read.
    probed: HashSet<&'a str>,
}

impl<'a> ByJob<'a> {
    fn of(record: &'a RunRecord) -> ByJob<'a> {
        let mut events: HashMap<&str, Vec<&EventRow>> = HashMap::new();
        for e in &record.events {
            if let Some(id) = e.device_id.as_deref() {
                events.entry(id).or_default().push(e);
            }
        }
        let probed = record
            .snapshots
            .iter()
            .filter(|s| s.phase == SnapshotPhase::Pre)
            .map(|s| s.device_id.as_str())
            .collect();
        ByJob { events, probed }
    }

    /// One job's events, in write order.
    fn events(&self, device_id: &str) -> &[&'a EventRow] {
        self.events.get(device_id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Devices of the run that refused the credentials: those with an `auth_failed` outcome, and
/// those whose refusal was recorded before the outcome could be.
pub fn auth_failures(record: &RunRecord) -> (usize, usize) {
    let by_job = ByJob::of(record);
    // A job the login gate held back sent nothing: no refusal of the credentials.
    let gated = |id: &str| by_job.events(id).iter().any(|e| is_gated(e));
    let recorded = record
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Failed) && j.reason == Some(Reason::AuthFailed))
        .filter(|j| !gated(&j.device_id))
        .count();
    let pending = record
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .filter(|j| refused_login(by_job.events(&j.device_id).iter().copied()).is_some())
        .count();
    (recorded, pending)
}

/// A skip that `resume` clears and runs: the job never started because the run stopped early.
pub fn is_resumable_skip(outcome: Option<Outcome>, reason: Option<Reason>) -> bool {
    outcome == Some(Outcome::Skipped)
        && matches!(
            reason,
            Some(Reason::Interrupted | Reason::WindowClosed | Reason::ThresholdReached)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_skips_from_an_early_stop_are_reopened() {
        assert!(is_resumable_skip(
            Some(Outcome::Skipped),
            Some(Reason::Interrupted)
        ));
        assert!(!is_resumable_skip(
            Some(Outcome::Skipped),
            Some(Reason::DependencyFailed)
        ));
        assert!(!is_resumable_skip(
            Some(Outcome::Failed),
            Some(Reason::Timeout)
        ));
        assert!(!is_resumable_skip(None, None));
    }
}
