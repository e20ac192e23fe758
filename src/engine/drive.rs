//! Driving a run's jobs to their outcomes: work orders recorded at once (no slot), then the
//! units (one job, or the jobs behind one outlet) batch by batch under the blast-radius
//! limits, in the order power dependencies impose; then every job never started gets its
//! skip, the audit is closed and the reports written.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use crate::model::{Outcome, Reason};
use crate::store::{Record, StoreError, WRITER_CAPACITY, Writer};

use super::config::RunConfig;
use super::execute::{RunSummary, SHUTDOWN_GRACE};
use super::guard::Guard;
use super::job::{self, Addresses, JobEnv, JobResult, Mode};
use super::plan::PlannedJob;
use super::policy::{Failures, Safety, StopReason, batches};
use super::progress::ProgressView;
use super::run_end::{count, run_end};
use super::schedule::{Deferred, Progress, Scheduler};
use super::shutdown::Signals;
use super::units::{Unit, Units, units};

pub(super) struct Drive<'a> {
    pub(super) run_id: String,
    /// Held until the run ends: no other process works on this database or these devices.
    pub(super) guard: Guard,
    pub(super) work: Vec<(PlannedJob, Mode)>,
    pub(super) config: RunConfig,
    pub(super) safety: Safety,
    pub(super) db_path: &'a Path,
    pub(super) reports_dir: &'a Path,
    /// Signs the chain head and the certificates when the run ends.
    pub(super) signing: Option<&'a crate::signing::SigningKey>,
    pub(super) view: &'a mut ProgressView,
    pub(super) signals: Signals,
    /// Devices of this run that refused the credentials before (a resumed run's), counted
    /// towards `--max-auth-failures`.
    pub(super) prior_auth_failures: usize,
    /// The addresses already taken by jobs of this run (a resumed run's commands).
    pub(super) addresses: Addresses,
}

/// One batch as the scheduler takes it: the units in order, and deferred ones (resume's
/// judgements) that take no slot until they are due.
struct BatchWork {
    canary: bool,
    jobs: Vec<(usize, Unit)>,
    deferred: Vec<Deferred<Unit>>,
}

/// Whether a job's end counts towards the failure thresholds: a failure, or a device found
/// without a remote path because it never answered (a work order, but also a sign that
/// something is wrong, as an offline canary is). Work orders planned as such never count.
fn counts_as_failure(r: &JobResult) -> bool {
    match r.outcome {
        Outcome::Failed => true,
        Outcome::ManualRequired => r.reason == Some(Reason::Unreachable),
        _ => false,
    }
}

pub(super) async fn drive(d: Drive<'_>) -> anyhow::Result<RunSummary> {
    let Drive {
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
        prior_auth_failures,
        addresses,
    } = d;
    let (db, mut hold) = guard.into_parts();
    let (writer, writer_task) = Writer::spawn(db, WRITER_CAPACITY);
    let env = Arc::new(JobEnv {
        run_id: run_id.clone(),
        writer: writer.clone(),
        config: config.clone(),
        allow_unverified_identity: safety.allow_unverified_identity,
        addresses,
        off_outlets: Default::default(),
    });
    let total = work.len();
    let ids: Vec<String> = work.iter().map(|(j, _)| j.device.id.clone()).collect();
    let mut started = vec![false; total];
    let mut aborted = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut audit_error: Option<StoreError> = None;
    view.begin(total);

    // Work orders first: recorded at once, with no slot of the rate or the concurrency cap.
    let (scheduled, orders) = settle_work_orders(&env, work).await;
    for order in orders {
        match order {
            Ok((index, r)) => {
                started[index] = true;
                view.finished(&r);
                results.push(r);
            }
            Err(e) => audit_error = audit_error.or(Some(e)),
        }
    }
    let Units {
        units: ordered,
        members,
        after,
    } = units(scheduled);
    // Resume's judgements go with the first batch, deferred: they were started long ago and
    // count towards no batch.
    let mut fresh = Vec::new();
    let mut deferred = Vec::new();
    for (u, unit) in ordered {
        match &unit {
            Unit::One(_, Mode::Resolve { not_before, .. }) => deferred.push(Deferred {
                at: *not_before,
                index: u,
                job: unit,
            }),
            // Settled from the records at once, in no batch.
            Unit::One(_, Mode::Refused(_)) => deferred.push(Deferred {
                at: tokio::time::Instant::now(),
                index: u,
                job: unit,
            }),
            _ => fresh.push((u, unit)),
        }
    }
    let judged: Vec<bool> = {
        let mut j = vec![false; total];
        deferred
            .iter()
            .flat_map(|d| &members[d.index])
            .for_each(|&i| j[i] = true);
        j
    };
    let mut plan: Vec<BatchWork> = batches(fresh, &safety)
        .into_iter()
        .map(|b| BatchWork {
            canary: b.canary,
            jobs: b.jobs.into_iter().map(|(_, unit)| unit).collect(),
            deferred: Vec::new(),
        })
        .collect();
    if plan.is_empty() {
        plan.push(BatchWork {
            canary: false,
            jobs: Vec::new(),
            deferred: Vec::new(),
        });
    }
    plan[0].deferred = deferred;

    let audit_failed = Notify::new();
    let mut stop: Option<StopReason> = None;
    let mut failures = Failures::with_auth_failures(prior_auth_failures);
    let scheduler = Scheduler::new(&config.limits);
    let grace = config.scaled(SHUTDOWN_GRACE);

    for BatchWork {
        canary,
        jobs,
        deferred,
    } in plan
    {
        if stop.is_some() || audit_error.is_some() {
            break;
        }
        if signals.received() > 0 {
            stop = Some(StopReason::Signal);
            break;
        }
        let window_left = match &safety.window {
            None => None,
            Some(w) => match w.remaining_now() {
                Some(left) => Some(left),
                None => {
                    stop = Some(StopReason::WindowClosed(format!(
                        "the maintenance window {w} closed"
                    )));
                    break;
                }
            },
        };
        let batch_jobs = jobs.iter().map(|(u, _)| members[*u].len()).sum();
        failures.start_batch(batch_jobs, canary);
        let threshold = Notify::new();
        let mut threshold_why: Option<String> = None;
        let fired: std::cell::Cell<Option<StopReason>> = std::cell::Cell::new(None);
        let window = safety.window;
        let stop_starting = async {
            let reason = tokio::select! {
                _ = signals.at_least(1) => Some(StopReason::Signal),
                _ = threshold.notified() => None,
                _ = sleep_or_never(window_left) => Some(StopReason::WindowClosed(format!(
                    "the maintenance window {} closed",
                    window.as_ref().map(|w| w.to_string()).unwrap_or_default()
                ))),
                _ = audit_failed.notified() => None,
            };
            fired.set(reason);
        };
        let abort = async {
            tokio::select! {
                _ = signals.at_least(2) => {}
                _ = async { signals.at_least(1).await; tokio::time::sleep(grace).await } => {}
            }
        };
        let runner = |unit: Unit| unit.run(Arc::clone(&env));
        scheduler
            .run_ordered(
                jobs,
                deferred,
                &after,
                runner,
                |p: Progress<Result<Vec<JobResult>, StoreError>>| match p {
                    Progress::Started { index } => {
                        for &i in &members[index] {
                            started[i] = true;
                            view.started(&ids[i]);
                        }
                    }
                    Progress::Finished {
                        result: Ok(done), ..
                    } => {
                        for r in done {
                            if counts_as_failure(&r)
                                && let Some(why) = failures.failed(
                                    &safety,
                                    &r.device_id,
                                    // Held back by the login gate: no refusal of the credentials.
                                    if r.gated { None } else { r.reason },
                                )
                                && threshold_why.is_none()
                            {
                                view.note(&format!("stopping: {why}; no further job will start"));
                                threshold_why = Some(why);
                                threshold.notify_one();
                            }
                            view.finished(&r);
                            results.push(r);
                        }
                    }
                    Progress::Finished {
                        index,
                        result: Err(e),
                    } => {
                        let id = &ids[members[index][0]];
                        view.note(&format!("{id}: the audit database failed: {e}"));
                        if audit_error.is_none() {
                            audit_error = Some(e);
                            audit_failed.notify_one();
                        }
                    }
                    Progress::Aborted { index } => {
                        for &i in &members[index] {
                            view.note(&format!(
                                "{}: stopped in flight; left for resume to judge (the summary ends with the command)",
                                ids[i]
                            ));
                            aborted.push(i);
                        }
                    }
                },
                stop_starting,
                abort,
            )
            .await;
        stop = fired.take().or(threshold_why.map(StopReason::Threshold));
    }
    // An abort dropped cycles where they stood: no outlet stays off for it.
    if let Err(e) = env.off_outlets.restore(&env).await {
        audit_error = audit_error.or(Some(e));
    }
    view.end();
    // A signal that came once every job had started stopped nothing, but the run was still
    // asked to stop: it ends `interrupted` (exit 3), as the person or the service manager
    // that sent it expects.
    if stop.is_none() && signals.received() > 0 {
        stop = Some(StopReason::Signal);
    }

    // Jobs never started get their one outcome: a skip that `resume` can reopen. A job with a
    // recorded intent is not one of them: its command may have arrived, so it stays open for
    // `resume` to judge, never marked as skipped.
    let (mut left_open, mut skipped_count) = (0, 0);
    if let (Some(why), None) = (&stop, &audit_error) {
        let never_started = (0..total).filter(|i| !started[*i]);
        match skip_unstarted(&writer, &run_id, &ids, &judged, never_started, why).await {
            Ok((open, skipped)) => {
                left_open = open;
                skipped_count = skipped.len();
                results.extend(skipped);
            }
            Err(e) => audit_error = Some(e),
        }
    }
    drop(env);
    drop(writer);
    let mut db = writer_task
        .finish()
        .await
        .context("closing the audit database")?;
    if let Some(e) = audit_error {
        return Err(anyhow::Error::new(e).context(format!(
            "the audit database {} failed during run {run_id}; no new job was started after that",
            db_path.display()
        )));
    }
    if !aborted.is_empty() || left_open > 0 {
        hold.keep_claims();
    }
    let end = run_end(
        stop.as_ref(),
        &signals,
        count(aborted.len() + left_open),
        count(skipped_count),
    );
    let status = end.status();
    db.end_run(&run_id, chrono::Utc::now(), end)
        .context("closing the run")?;
    let closed = super::finish::close(&mut db, &run_id, reports_dir, signing)?;
    Ok(RunSummary {
        run_id,
        status,
        stop,
        results,
        record: closed.record,
        report: closed.report,
        head_file: closed.head_file,
        certificates: closed.certificates,
        db_path: db_path.to_path_buf(),
    })
}

/// Jobs that go to the scheduler (with their index in `work`), and the outcomes of the work
/// orders among `work`, recorded at once: a work order takes no rate-limit or concurrency
/// slot. Once the audit fails, everything else goes to the scheduler, which starts nothing.
#[allow(clippy::type_complexity)]
async fn settle_work_orders(
    env: &JobEnv,
    work: Vec<(PlannedJob, Mode)>,
) -> (
    Vec<(usize, (PlannedJob, Mode))>,
    Vec<Result<(usize, JobResult), StoreError>>,
) {
    let mut scheduled = Vec::new();
    let mut orders = Vec::new();
    let mut failed = false;
    for (index, (job, mode)) in work.into_iter().enumerate() {
        if mode != Mode::Fresh || failed {
            scheduled.push((index, (job, mode)));
            continue;
        }
        match job::manual::settle(env, &job).await {
            Ok(Some(r)) => orders.push(Ok((index, r))),
            Ok(None) => scheduled.push((index, (job, mode))),
            Err(e) => {
                failed = true;
                orders.push(Err(e));
            }
        }
    }
    (scheduled, orders)
}

/// Gives each job in `never_started` its one outcome: a skip, for `why`, that `resume` can
/// reopen. A job resume judges (`judged`) is not one of them: its command may have arrived, so
/// it stays open. The number left open, and the skips.
async fn skip_unstarted(
    writer: &Writer,
    run_id: &str,
    ids: &[String],
    judged: &[bool],
    never_started: impl Iterator<Item = usize>,
    why: &StopReason,
) -> Result<(usize, Vec<JobResult>), StoreError> {
    let mut left_open = 0;
    let mut skipped = Vec::new();
    for i in never_started {
        if judged[i] {
            left_open += 1;
            continue;
        }
        let skip = JobResult {
            device_id: ids[i].clone(),
            outcome: Outcome::Skipped,
            reason: Some(why.skip_reason()),
            detail: format!("not started: {}", why.describe()),
            gated: false,
        };
        writer
            .record_durable(Record::Outcome {
                run_id: run_id.to_owned(),
                device_id: skip.device_id.clone(),
                at: chrono::Utc::now(),
                outcome: skip.outcome,
                reason: skip.reason,
                detail: skip.detail.clone(),
                attempts: 0,
            })
            .await?;
        skipped.push(skip);
    }
    Ok((left_open, skipped))
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
