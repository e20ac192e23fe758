//! `fleetreset audit sample`: a verifier's independent re-check of a random share of a
//! factory-reset run's sanitized devices (R2v3 asks for at least 5 %, by someone other than the
//! run's operator), recorded as events, all or none, in one durable transaction:
//!
//! - `sample_drawn` (run-level): who, the seed and how the draw was made, the devices drawn;
//! - `sample_checked` (one per device drawn): what the device answered and the result;
//! - `sample_finished` (run-level): the sample's result and its counts.
//!
//! Only appended, through [`insert_event`]: nothing else in the database changes (no outcome,
//! no snapshot). A second sample of the same run is another such set.

use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::insert_event;
use super::db::durably;
use super::{Db, StoreError, Timestamp};
use crate::model::{EventKind, RunEventKind};

/// The `detail` of `sample_drawn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleDrawn {
    pub verifier: String,
    /// The run's operator, whom the verifier is not.
    pub operator: String,
    pub percent: f64,
    /// The seed, a `u64` in decimal (as text: JSON readers lose precision past 2^53).
    pub seed: String,
    /// Sanitized jobs of the run (`succeeded` or `manual_confirmed`).
    pub population: usize,
    pub size: usize,
    /// The devices drawn, in inventory order.
    pub devices: Vec<String>,
    /// How they were drawn: [`crate::audit_sample::DRAW`].
    pub draw: String,
}

/// What one sampled device came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// It answered with its factory defaults (unbound, not the alias it had).
    Passed,
    /// It answered still bound, or with its old alias: not sanitized.
    Failed,
    /// Nothing answered, or it could not be looked at: expected of a reset device that left
    /// the network; neither a pass nor a fail.
    Unreachable,
}

impl CheckResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Passed => "passed",
            CheckResult::Failed => "failed",
            CheckResult::Unreachable => "unreachable",
        }
    }
}

/// The `detail` of `sample_checked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleChecked {
    pub verifier: String,
    pub result: CheckResult,
    /// Where it was looked for.
    pub address: Option<String>,
    /// What it answered, in one line of words.
    pub evidence: String,
    /// The device's answer, as a snapshot holds it; `None` when it didn't answer.
    pub post: Option<Value>,
}

/// One checked device, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleCheck {
    pub device_id: String,
    pub at: Timestamp,
    pub detail: SampleChecked,
}

/// The sample's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleResult {
    /// No device failed and at least one passed.
    Passed,
    /// At least one device failed.
    Failed,
    /// No device answered: nothing either way.
    Inconclusive,
}

impl SampleResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SampleResult::Passed => "passed",
            SampleResult::Failed => "failed",
            SampleResult::Inconclusive => "inconclusive",
        }
    }
}

/// The `detail` of `sample_finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleFinished {
    pub verifier: String,
    pub result: SampleResult,
    pub checked: usize,
    pub passed: usize,
    pub failed: usize,
    pub unreachable: usize,
}

impl SampleFinished {
    /// The counts and result of `checks`.
    pub fn of(verifier: &str, checks: &[SampleCheck]) -> SampleFinished {
        let count = |r: CheckResult| checks.iter().filter(|c| c.detail.result == r).count();
        let (passed, failed, unreachable) = (
            count(CheckResult::Passed),
            count(CheckResult::Failed),
            count(CheckResult::Unreachable),
        );
        let result = if failed > 0 {
            SampleResult::Failed
        } else if passed > 0 {
            SampleResult::Passed
        } else {
            SampleResult::Inconclusive
        };
        SampleFinished {
            verifier: verifier.to_string(),
            result,
            checked: checks.len(),
            passed,
            failed,
            unreachable,
        }
    }
}

impl Db {
    /// Records one sample of run `run_id`: `sample_drawn` at `drawn_at`, each check, then
    /// `sample_finished` at `finished_at`, in one durable `BEGIN IMMEDIATE` transaction. Every
    /// checked device must be a job of the run.
    pub fn record_sample(
        &mut self,
        run_id: &str,
        drawn_at: Timestamp,
        drawn: &SampleDrawn,
        checks: &[SampleCheck],
        finished_at: Timestamp,
        finished: &SampleFinished,
    ) -> Result<(), StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
                [run_id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::NoSuchRun(run_id.to_string()));
            }
            insert_event(
                &tx,
                run_id,
                None,
                &drawn_at,
                None,
                RunEventKind::SampleDrawn.into(),
                &value(drawn),
            )?;
            for c in checks {
                let job: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE run_id = ?1 AND device_id = ?2)",
                    [run_id, c.device_id.as_str()],
                    |r| r.get(0),
                )?;
                if !job {
                    return Err(StoreError::NoSuchJob {
                        run_id: run_id.to_string(),
                        device_id: c.device_id.clone(),
                    });
                }
                insert_event(
                    &tx,
                    run_id,
                    Some(&c.device_id),
                    &c.at,
                    None,
                    EventKind::SampleChecked.into(),
                    &value(&c.detail),
                )?;
            }
            insert_event(
                &tx,
                run_id,
                None,
                &finished_at,
                None,
                RunEventKind::SampleFinished.into(),
                &value(finished),
            )?;
            tx.commit()?;
            Ok(())
        })
    }
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("strings, numbers and JSON serialize")
}

#[cfg(test)]
mod tests;
