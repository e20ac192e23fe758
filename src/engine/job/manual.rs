//! The manual method: a work order for a technician. A job planned manual (no remote command
//! for the action, no outlet upstream, or `--method manual`) is recorded at once as
//! `manual_required`, sends nothing, and takes no rate-limit or concurrency slot. A job that
//! finds no remote path at run time (its device never answered, or refused the command as one
//! it doesn't have) ends the same way, with its reason and the procedure to follow.

use crate::inert::inert;
use crate::model::{Action, Outcome, Reason};
use crate::store::{Record, StoreError};

use super::super::method::{Manual, MethodPlan};
use super::super::plan::PlannedJob;
use super::{JobEnv, JobResult};

/// The outcome of a job planned manual: `manual_required`, with why and what to do by hand.
/// `unsupported` when the tool has no remote path for it; no reason when `--method manual`
/// asked for a work order.
pub fn outcome(job: &PlannedJob, m: &Manual) -> JobResult {
    let reason = (!m.why.starts_with("--method manual")).then_some(Reason::Unsupported);
    JobResult {
        device_id: job.device.id.clone(),
        outcome: Outcome::ManualRequired,
        reason,
        detail: inert(&m.why).into_owned(),
    }
}

/// Records the outcome of a job planned manual, durably, without a start: it takes no slot.
pub async fn settle(env: &JobEnv, job: &PlannedJob) -> Result<Option<JobResult>, StoreError> {
    let MethodPlan::Manual(m) = &job.method else {
        return Ok(None);
    };
    let result = outcome(job, m);
    env.writer
        .record_durable(Record::Outcome {
            run_id: env.run_id.clone(),
            device_id: result.device_id.clone(),
            at: chrono::Utc::now(),
            outcome: result.outcome,
            reason: result.reason,
            detail: result.detail.clone(),
            attempts: 0,
        })
        .await?;
    Ok(Some(result))
}

/// The detail of a job that found no remote path at run time: what happened, then what a
/// person does at the device for `action`, when the catalog knows.
pub fn by_hand(job: &PlannedJob, action: Action, detail: &str) -> String {
    let procedure = match action {
        Action::PowerCycle => job.model.soft,
        Action::FactoryReset => job.model.factory,
    };
    match procedure {
        Some(p) => format!("{detail}; no remote path: by hand, {}", p.words()),
        None => format!("{detail}; no remote path: see the device's manual"),
    }
}
