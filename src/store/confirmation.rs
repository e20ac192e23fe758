//! A technician's confirmation of a manual job (`fleetreset confirm`): the one change a
//! recorded outcome may still take, `manual_required` → `manual_confirmed` (schema version 4).
//!
//! Each confirmation is a `manual_confirmed` event (who did the work, when they say they did it,
//! their note, who ran the command, and what was seen of the device afterwards) written in the
//! same durable transaction as the job's new outcome and, when the device answered, its post
//! snapshot. A confirmation the device contradicts (a factory reset that still answers bound to
//! its account) is a `confirmation_refused` event instead, and the job stays `manual_required`.
//! Events stay append-only: nothing here updates or deletes one.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{apply, insert_event};
use super::columns::opt_word;
use super::db::durably;
use super::{Db, JobRow, Record, RunRecord, SnapshotPhase, StoreError, Timestamp};
use crate::model::{EventKind, Outcome};

/// What was seen of the device when the confirmation was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Seen {
    /// `--no-verify`: nobody looked; confirmed on the technician's word.
    NotChecked,
    /// fleetreset can't talk to the device (its protocol isn't one the client speaks, or its
    /// host is no address): confirmed on the technician's word.
    CannotLook { why: String },
    /// Nothing answered at the address: confirmed on the technician's word.
    NoAnswer { address: String, error: String },
    /// It answered; what it said is the job's post snapshot.
    Answered {
        address: String,
        /// Whether it reported being bound to a cloud account; `None` if it didn't say.
        bound: Option<bool>,
        /// The evidence in words.
        detail: String,
    },
}

impl Seen {
    /// One phrase for the job's detail and the reports.
    pub fn words(&self) -> String {
        match self {
            Seen::NotChecked => "not checked (--no-verify); on the technician's word".into(),
            Seen::CannotLook { why } => format!("not looked at ({why}); on the technician's word"),
            Seen::NoAnswer { address, .. } => {
                format!("nothing answered at {address}; on the technician's word")
            }
            Seen::Answered { detail, .. } => detail.clone(),
        }
    }
}

/// Who confirmed, as the `manual_confirmed` and `confirmation_refused` events hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technician {
    /// The technician who did the work (`--by`, or the checklist's `confirmed_by`).
    pub by: String,
    /// When they say they did it, as written on the checklist (free text); `None` when not given.
    pub said_at: Option<String>,
    pub note: Option<String>,
    /// Who ran `fleetreset confirm`.
    pub operator: String,
    /// `command line`, or the returned checklist `FILE:LINE`.
    pub source: String,
}

/// One confirmation to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub device_id: String,
    /// When it is recorded.
    pub at: Timestamp,
    pub technician: Technician,
    pub seen: Seen,
    /// The device's answer, for the post snapshot, when it answered.
    pub post: Option<Value>,
}

/// A confirmation the device contradicted.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub device_id: String,
    pub at: Timestamp,
    pub technician: Technician,
    pub address: String,
    /// Why it was not accepted, in words.
    pub why: String,
    pub post: Option<Value>,
}

/// The `detail` of a `manual_confirmed` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConfirmedDetail {
    #[serde(flatten)]
    technician: Technician,
    seen: Seen,
}

/// The `detail` of a `confirmation_refused` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RefusedDetail {
    #[serde(flatten)]
    technician: Technician,
    address: String,
    why: String,
}

/// A recorded confirmation, read back from its event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmed {
    pub device_id: String,
    /// When it was recorded.
    pub at: Timestamp,
    #[serde(flatten)]
    pub technician: Technician,
    pub seen: Seen,
}

impl Confirmed {
    /// The confirmation a `manual_confirmed` event records; `None` for any other event, or one
    /// that doesn't read as one (edited by hand).
    pub(crate) fn of_event(e: &super::EventRow) -> Option<Confirmed> {
        if e.kind != EventKind::ManualConfirmed {
            return None;
        }
        let d: ConfirmedDetail = serde_json::from_value(e.detail.clone()).ok()?;
        Some(Confirmed {
            device_id: e.device_id.clone()?,
            at: e.at,
            technician: d.technician,
            seen: d.seen,
        })
    }
}

impl RunRecord {
    /// Every confirmation recorded for the run, in write order. Events that don't read as
    /// one (edited by hand) are left to `run.json`.
    pub fn confirmations(&self) -> Vec<Confirmed> {
        self.events.iter().filter_map(Confirmed::of_event).collect()
    }

    /// The job `device_id`, if it can be confirmed: it exists and is `manual_required`.
    pub fn confirmable(&self, device_id: &str) -> Result<&JobRow, StoreError> {
        let job = self
            .jobs
            .iter()
            .find(|j| j.device_id == device_id)
            .ok_or_else(|| StoreError::NoSuchJob {
                run_id: self.run.id.clone(),
                device_id: device_id.to_string(),
            })?;
        match job.outcome {
            Some(Outcome::ManualRequired) => Ok(job),
            Some(Outcome::ManualConfirmed) => {
                let earlier = self
                    .confirmations()
                    .into_iter()
                    .rfind(|c| c.device_id == device_id);
                Err(already(&self.run.id, device_id, earlier.as_ref()))
            }
            other => Err(StoreError::NotManual {
                run_id: self.run.id.clone(),
                device_id: device_id.to_string(),
                outcome: outcome_word(other),
            }),
        }
    }
}

/// The outcome's word; `unfinished` for a job without one, as the reports say.
fn outcome_word(outcome: Option<Outcome>) -> String {
    outcome.map_or("unfinished", Outcome::as_str).to_string()
}

fn already(run_id: &str, device_id: &str, earlier: Option<&Confirmed>) -> StoreError {
    StoreError::AlreadyConfirmed {
        run_id: run_id.to_string(),
        device_id: device_id.to_string(),
        by: earlier.map_or_else(|| "someone".into(), |c| c.technician.by.clone()),
        at: earlier.map_or_else(|| "an earlier time".into(), |c| super::time::format(&c.at)),
    }
}

/// The job's detail once confirmed.
fn detail(c: &Confirmation) -> String {
    let said = c
        .technician
        .said_at
        .as_deref()
        .map(|t| format!(" at {t}"))
        .unwrap_or_default();
    crate::inert::inert(&format!(
        "confirmed by {}{said}: {}",
        c.technician.by,
        c.seen.words()
    ))
    .into_owned()
}

impl Db {
    /// Records `confirmations` of run `run_id`, all or none, in one durable transaction: each
    /// job must still be `manual_required` (checked again here, so a second `confirm` racing
    /// this one can't confirm a job twice).
    pub fn confirm_manual(
        &mut self,
        run_id: &str,
        confirmations: &[Confirmation],
    ) -> Result<(), StoreError> {
        self.record_confirmations(run_id, confirmations, &[])
    }

    /// Records a confirmation the device contradicted: the `confirmation_refused` event and,
    /// when it answered, its post snapshot. The job keeps its `manual_required`.
    pub fn refuse_confirmation(&mut self, run_id: &str, r: &Refusal) -> Result<(), StoreError> {
        self.record_confirmations(run_id, &[], std::slice::from_ref(r))
    }

    /// What one `fleetreset confirm` found, all or none, in one durable transaction: the
    /// confirmations the devices contradicted (`refusals`) and the ones that stand. If any
    /// confirmation can't be recorded (a racing `confirm` took the job), neither is.
    pub fn record_confirmations(
        &mut self,
        run_id: &str,
        confirmations: &[Confirmation],
        refusals: &[Refusal],
    ) -> Result<(), StoreError> {
        durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for r in refusals {
                refuse_in(&tx, run_id, r)?;
            }
            for c in confirmations {
                confirm_in(&tx, run_id, c)?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

/// One confirmation, inside the caller's transaction.
fn confirm_in(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    c: &Confirmation,
) -> Result<(), StoreError> {
    let outcome: Option<Option<Outcome>> = tx
        .query_row(
            "SELECT outcome FROM jobs WHERE run_id = ?1 AND device_id = ?2",
            params![run_id, c.device_id],
            |r| opt_word(r, 0),
        )
        .optional()?;
    match outcome {
        None => {
            return Err(StoreError::NoSuchJob {
                run_id: run_id.into(),
                device_id: c.device_id.clone(),
            });
        }
        Some(Some(Outcome::ManualRequired)) => {}
        Some(Some(Outcome::ManualConfirmed)) => {
            return Err(already(run_id, &c.device_id, None));
        }
        Some(other) => {
            return Err(StoreError::NotManual {
                run_id: run_id.into(),
                device_id: c.device_id.clone(),
                outcome: outcome_word(other),
            });
        }
    }
    if let Some(data) = &c.post {
        apply(tx, &post_snapshot(run_id, &c.device_id, c.at, data))?;
    }
    let event = ConfirmedDetail {
        technician: c.technician.clone(),
        seen: c.seen.clone(),
    };
    insert_event(
        tx,
        run_id,
        Some(&c.device_id),
        &c.at,
        None,
        EventKind::ManualConfirmed.into(),
        &serde_json::to_value(&event).expect("plain strings serialize"),
    )?;
    tx.execute(
        "UPDATE jobs SET outcome = 'manual_confirmed', detail = ?3, finished_at = ?4
         WHERE run_id = ?1 AND device_id = ?2 AND outcome = 'manual_required'",
        params![run_id, c.device_id, detail(c), super::time::format(&c.at)],
    )?;
    super::chain::record::chain_outcome(tx, run_id, &c.device_id)
}

/// One contradicted confirmation, inside the caller's transaction.
fn refuse_in(tx: &rusqlite::Transaction<'_>, run_id: &str, r: &Refusal) -> Result<(), StoreError> {
    if let Some(data) = &r.post {
        apply(tx, &post_snapshot(run_id, &r.device_id, r.at, data))?;
    }
    let event = RefusedDetail {
        technician: r.technician.clone(),
        address: r.address.clone(),
        why: r.why.clone(),
    };
    insert_event(
        tx,
        run_id,
        Some(&r.device_id),
        &r.at,
        None,
        EventKind::ConfirmationRefused.into(),
        &serde_json::to_value(&event).expect("plain strings serialize"),
    )
}

fn post_snapshot(run_id: &str, device_id: &str, at: Timestamp, data: &Value) -> Record {
    Record::Snapshot {
        run_id: run_id.to_string(),
        device_id: device_id.to_string(),
        phase: SnapshotPhase::Post,
        at,
        data: data.clone(),
    }
}

#[cfg(test)]
mod tests;
