//! `resume`: a stopped or crashed run's remaining work, rebuilt from its audit. Jobs never
//! started run now; jobs whose command may have arrived are judged from their evidence, no
//! sooner than the run itself would have, and never sent again ([`super::job::resolve`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use tokio::time::Instant;

use crate::inventory::{Device, Inventory};
use crate::model::{Outcome, Reason};

use super::config::RunConfig;
use super::execute::{Drive, RunSummary, drive, prepare};
use super::guard::Guard;
use super::host_clock::HostMark;
use super::job::{Evidence, Mode, refused_login};
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
    let left = before
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason))
        .count();
    view.note(&format!("resuming run {run_id}: {left} job(s) left"));
    guard
        .db
        .reopen_run(run_id, chrono::Utc::now())
        .context("reopening the run")?;
    let record = guard.db.load_run(run_id).context("reading the run")?;
    let now = HostMark::now();
    let start = Instant::now();
    let mut work: Vec<(PlannedJob, Mode)> = Vec::new();
    for j in record.jobs.iter().filter(|j| j.outcome.is_none()) {
        let device = by_id[j.device_id.as_str()];
        let mut planned = plan::plan(std::slice::from_ref(device), config.action).remove(0);
        planned.seq = j.seq;
        let events = record
            .events
            .iter()
            .filter(|e| e.device_id.as_deref() == Some(j.device_id.as_str()));
        let events: Vec<_> = events.collect();
        let mode = match Evidence::from_events(config.action, events.iter().copied()) {
            Some(evidence) => Mode::Resolve {
                not_before: start + evidence.wait_before_judging(&now, &config),
                evidence: Box::new(evidence),
            },
            None => match refused_login(events.iter().copied()) {
                Some(f) => Mode::Refused(f),
                None => Mode::Fresh,
            },
        };
        work.push((planned, mode));
    }
    let (mut jobs, modes): (Vec<PlannedJob>, Vec<Mode>) = work.into_iter().unzip();
    prepare(&mut jobs, credentials, rediscover.as_deref(), &*view)
        .await
        .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
    drive(Drive {
        run_id: run_id.to_string(),
        guard,
        work: jobs.into_iter().zip(modes).collect(),
        config,
        safety,
        db_path,
        reports_dir,
        view,
        signals,
        // The refusals still to be recorded are counted as their jobs end.
        prior_auth_failures: auth_failures(&before).0,
    })
    .await
}

/// Devices of the run that refused the credentials: those with an `auth_failed` outcome, and
/// those whose refusal was recorded before the outcome could be.
pub fn auth_failures(record: &crate::store::RunRecord) -> (usize, usize) {
    let recorded = record
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Failed) && j.reason == Some(Reason::AuthFailed))
        .count();
    let pending = record
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .filter(|j| {
            refused_login(
                record
                    .events
                    .iter()
                    .filter(|e| e.device_id.as_deref() == Some(j.device_id.as_str())),
            )
            .is_some()
        })
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
