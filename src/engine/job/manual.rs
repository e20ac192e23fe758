//! The manual method: a work order for a technician. A job planned manual (no remote command
//! for the action, no outlet upstream, or `--method manual`) is recorded at once as
//! `manual_required`, sends nothing, and takes no rate-limit or concurrency slot. A job that
//! finds no remote path at run time (its device never answered, or refused the command as one
//! it doesn't have) ends the same way, with its reason and the procedure to follow.

use crate::inert::inert;
use serde_json::{Value, json};

use crate::model::{Action, EventKind, Outcome, Reason};
use crate::store::{Record, StoreError};

use super::super::method::{Manual, MethodPlan};
use super::super::plan::PlannedJob;
use super::{JobEnv, JobResult};

/// The outcome of a job planned manual: `manual_required`, with why and what to do by hand.
/// `unsupported` when the tool has no remote path for it; no reason when a person asked for a
/// work order (`--method manual`, or the row's `method` column).
pub fn outcome(job: &PlannedJob, m: &Manual) -> JobResult {
    let reason = (!m.asked).then_some(Reason::Unsupported);
    JobResult {
        device_id: job.device.id.clone(),
        outcome: Outcome::ManualRequired,
        reason,
        detail: inert(&m.why).into_owned(),
        gated: false,
    }
}

/// Records the outcome of a job planned manual, durably, without a start: it takes no slot.
pub async fn settle(env: &JobEnv, job: &PlannedJob) -> Result<Option<JobResult>, StoreError> {
    let MethodPlan::Manual(m) = &job.method else {
        return Ok(None);
    };
    let result = outcome(job, m);
    env.writer
        .record(Record::Event {
            run_id: env.run_id.clone(),
            device_id: Some(job.device.id.clone()),
            at: chrono::Utc::now(),
            state: None,
            kind: EventKind::WorkOrder.into(),
            detail: work_order(job, env.config.action, &m.why),
        })
        .await?;
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

/// The `work_order` event's detail: why, and the procedure for `action` as the catalog gives
/// it (`null` when it gives none), for the work-order report to read without parsing words.
pub fn work_order(job: &PlannedJob, action: Action, why: &str) -> Value {
    let procedure = match action {
        Action::PowerCycle => job.model.soft,
        Action::FactoryReset => job.model.factory,
    };
    json!({
        "action": action.as_str(),
        "why": why,
        "model": job.model.model,
        "procedure": procedure.map(|p| json!({
            "words": p.words(),
            "hold_min_s": p.hold.min.as_secs(),
            "hold_max_s": p.hold.max.as_secs(),
            "tool": p.tool.map(|t| t.words()),
            "back_after_s": p.back_after.as_secs(),
        })),
        "app_path": job.model.app_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::plan;
    use crate::inventory::Device;

    #[test]
    fn a_kc100_factory_reset_is_a_work_order_with_the_recessed_button_and_a_reason() {
        let cam = Device {
            model: Some("KC100".into()),
            ..Device::bare("cam", "10.0.0.3")
        };
        let job = &plan(&[cam], Action::FactoryReset)[0];
        let MethodPlan::Manual(m) = &job.method else {
            panic!("{:?}", job.method);
        };
        let r = outcome(job, m);
        assert_eq!(r.outcome, Outcome::ManualRequired);
        assert_eq!(r.reason, Some(Reason::Unsupported));
        let wo = work_order(job, Action::FactoryReset, &m.why);
        assert_eq!(wo["procedure"]["hold_min_s"], 5);
        assert_eq!(wo["procedure"]["tool"], "a paperclip or pin");
        assert!(wo["why"].as_str().unwrap().contains("KC100"));
    }

    #[test]
    fn method_manual_is_a_work_order_without_a_reason() {
        let plug = Device {
            model: Some("HS110".into()),
            ..Device::bare("p", "10.0.0.4")
        };
        let job = &crate::engine::plan::plan_with(
            &[plug],
            Action::PowerCycle,
            crate::engine::method::MethodChoice::Manual,
        )[0];
        let MethodPlan::Manual(m) = &job.method else {
            panic!("{:?}", job.method);
        };
        assert_eq!(outcome(job, m).reason, None);
    }
}
