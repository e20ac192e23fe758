//! `fleetreset audit sample RUN --percent P --verifier NAME [--seed N]`: the independent
//! re-check R2v3 asks for, of at least a share of a factory-reset run's sanitized devices
//! (`succeeded` or `manual_confirmed`), by a person other than the run's operator.
//!
//! The devices are drawn at random, reproducibly from the seed ([`crate::audit_sample`]), and
//! each is looked at once with the read-only look `fleetreset confirm` uses: never a command.
//! A device that answers unbound and no longer with the alias its `pre` snapshot had passes;
//! one that answers still bound, or with its old alias, fails; one that doesn't answer (a reset
//! device leaving the network is expected to) is unreachable, neither. The sample fails if any
//! device failed, passes if none failed and at least one passed, and is inconclusive otherwise.
//!
//! Everything is recorded as `sample_drawn`, `sample_checked` and `sample_finished` events, all
//! or none. stdout: one line per device (device, address, result, evidence), then the result.
//! Exit 0 passed or inconclusive, 1 failed, 2 refused (nothing recorded).

use std::io::{self, Write};

use anyhow::Context;

use crate::store::Seal;
use chrono::Utc;
use futures::StreamExt;
use serde_json::Value;

use crate::audit_sample::{self, DRAW};
use crate::cli::AuditSampleArgs;
use crate::commands::confirm::look::{self, Verdict};
use crate::commands::report::resolve;
use crate::commands::runs::open_existing;
use crate::commands::work_orders::{device, run_inventory};
use crate::exit::{Early, Status};
use crate::inert::{Inert, inert};
use crate::model::{Action, Outcome};
use crate::output::say;
use crate::store::{
    CheckResult, JobRow, RunRecord, SampleCheck, SampleChecked, SampleDrawn, SampleFinished,
    SampleResult, Seen, SnapshotPhase,
};

/// Devices looked at at once, as `confirm` does: a gone device waits out its connect timeout.
const LOOKS_AT_ONCE: usize = 8;

pub async fn run(args: &AuditSampleArgs) -> anyhow::Result<Status> {
    let key = super::super::run::signing_key(args.signing_key.as_deref())?;
    let mut db = open_existing(&args.db)?;
    crate::engine::guard::refuse_archive(&db, &args.db, "audit sample")?;
    let run_id = resolve(&db, &args.run, &args.db)?;
    let record = db
        .load_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    if record.run.action != Action::FactoryReset {
        return Err(Early::refused(format!(
            "run {} was a {}, which sanitizes nothing: only a factory-reset run is sampled; nothing was recorded",
            Inert(&run_id),
            record.run.action
        ))
        .into());
    }
    let verifier = verifier(&args.verifier, &record.run.operator)?;
    let population = population(&record);
    if population.is_empty() {
        return Err(Early::refused(format!(
            "run {} has no sanitized device (none succeeded or was manual_confirmed): none to sample; nothing was recorded",
            Inert(&run_id)
        ))
        .into());
    }
    let store = crate::commands::run::load_credentials(args.credentials.as_deref())
        .map_err(|e| Early::refused(format!("{e}; nothing was recorded")))?;
    let inventory = match run_inventory(&record.run) {
        Ok(inv) => Some(inv),
        Err(why) => {
            say!(
                "fleetreset: looking at the devices without the inventory's protocols and credentials: {why}"
            );
            None
        }
    };

    let seed = args.seed.unwrap_or_else(rand::random);
    let size = audit_sample::size(population.len(), args.percent);
    let sample: Vec<&JobRow> = audit_sample::draw(population.len(), size, seed)
        .into_iter()
        .map(|i| population[i])
        .collect();
    let drawn_at = Utc::now();
    let drawn = SampleDrawn {
        verifier: verifier.clone(),
        operator: record.run.operator.clone(),
        percent: args.percent,
        seed: seed.to_string(),
        population: population.len(),
        size: sample.len(),
        devices: sample.iter().map(|j| j.device_id.clone()).collect(),
        draw: DRAW.to_string(),
    };
    say!(
        "fleetreset: checking {} of {} sanitized device(s) of run {} ({}%), drawn with seed {seed}, verifier {}",
        sample.len(),
        population.len(),
        Inert(&run_id),
        args.percent,
        Inert(&verifier)
    );

    let verdicts: Vec<Verdict> = futures::stream::iter(&sample)
        .map(|job| {
            let (record, store, inventory) = (&record, &store, inventory.as_ref());
            async move {
                let dev = inventory.and_then(|i| device(i, &job.device_id));
                look::look(record, job, dev, store).await
            }
        })
        .buffered(LOOKS_AT_ONCE)
        .collect()
        .await;
    let checks: Vec<SampleCheck> = sample
        .iter()
        .zip(verdicts)
        .map(|(job, verdict)| {
            let j = judge(verdict, pre_alias(&record, &job.device_id).as_deref());
            SampleCheck {
                device_id: job.device_id.clone(),
                at: Utc::now(),
                detail: SampleChecked {
                    verifier: verifier.clone(),
                    result: j.result,
                    address: j.address.or_else(|| Some(job.host.clone())),
                    evidence: j.evidence,
                    post: j.post,
                },
            }
        })
        .collect();
    let finished = SampleFinished::of(&verifier, &checks);
    db.record_sample(&run_id, drawn_at, &drawn, &checks, Utc::now(), &finished)
        .with_context(|| {
            format!(
                "cannot record the sample in {}; nothing was recorded",
                args.db.display()
            )
        })?;
    super::super::seal::sealed(&mut db, &run_id, Seal::Sampled, key.as_ref());
    super::super::seal::reissue(&mut db, &run_id, key.as_ref());

    let mut stdout = io::stdout().lock();
    stdout.write_all(table(&checks, &finished, seed).as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    Ok(match finished.result {
        SampleResult::Passed => Status::Success,
        SampleResult::Failed => {
            say!(
                "fleetreset: {} sampled device(s) of run {} are not sanitized; the evidence is in the audit",
                finished.failed,
                Inert(&run_id)
            );
            Status::DeviceFailures
        }
        SampleResult::Inconclusive => {
            say!(
                "fleetreset: inconclusive: none of the {} sampled device(s) answered (a factory-reset device leaving the network is expected); draw another sample, or check them by hand",
                finished.checked
            );
            Status::Success
        }
    })
}

/// The verifier, trimmed; refused when empty or the run's operator (case and spaces aside).
fn verifier(given: &str, operator: &str) -> Result<String, Early> {
    let v = given.trim();
    if v.is_empty() {
        return Err(Early::refused(
            "--verifier NAME is needed: the person who checks; nothing was recorded",
        ));
    }
    if crate::audit_sample::same_person(v, operator) {
        return Err(Early::refused(format!(
            "the verifier must be someone other than the run's operator ({}); nothing was recorded",
            Inert(operator.trim())
        )));
    }
    Ok(v.to_string())
}

/// The run's sanitized jobs, in inventory order.
fn population(record: &RunRecord) -> Vec<&JobRow> {
    let mut jobs: Vec<&JobRow> = record
        .jobs
        .iter()
        .filter(|j| {
            matches!(
                j.outcome,
                Some(Outcome::Succeeded | Outcome::ManualConfirmed)
            )
        })
        .collect();
    jobs.sort_by_key(|j| j.seq);
    jobs
}

/// The alias the device had before the run, from its `pre` snapshot.
fn pre_alias(record: &RunRecord, device_id: &str) -> Option<String> {
    record
        .snapshots
        .iter()
        .find(|s| s.device_id == device_id && s.phase == SnapshotPhase::Pre)
        .and_then(|s| alias_of(&s.data))
}

fn alias_of(snapshot: &Value) -> Option<String> {
    snapshot["summary"]["alias"]
        .as_str()
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// One device's judgement.
#[derive(Debug, Clone, PartialEq)]
struct Judged {
    result: CheckResult,
    address: Option<String>,
    evidence: String,
    post: Option<Value>,
}

/// What the look at a factory-reset device comes to, against the alias it had before.
fn judge(verdict: Verdict, pre_alias: Option<&str>) -> Judged {
    let one_line = |s: &str| inert(s).into_owned();
    match verdict {
        Verdict::Refuse { address, why, post } => Judged {
            result: CheckResult::Failed,
            address: Some(address),
            evidence: one_line(&why),
            post,
        },
        Verdict::Confirm {
            seen:
                Seen::Answered {
                    address,
                    bound,
                    detail,
                },
            post: Some(post),
        } => {
            let alias = alias_of(&post);
            let old_alias = alias.is_some() && alias.as_deref() == pre_alias;
            let (result, evidence) = match bound {
                Some(true) => (CheckResult::Failed, detail),
                _ if old_alias => (
                    CheckResult::Failed,
                    format!(
                        "{detail}, but still named {:?} as before the run: its settings were not erased",
                        alias.unwrap_or_default()
                    ),
                ),
                Some(false) => (CheckResult::Passed, detail),
                None if pre_alias.is_some() => (
                    CheckResult::Passed,
                    format!("{detail}; no longer named as before the run (default settings)"),
                ),
                None => (
                    CheckResult::Unreachable,
                    format!(
                        "{detail}; with no alias from before the run to compare, nothing shows whether it was reset"
                    ),
                ),
            };
            Judged {
                result,
                address: Some(address),
                evidence: one_line(&evidence),
                post: Some(post),
            }
        }
        Verdict::Confirm { seen, post: _ } => {
            let (address, evidence) = match &seen {
                Seen::Answered {
                    address, detail, ..
                } => (Some(address.clone()), detail.clone()),
                Seen::NoAnswer { address, error } => (
                    Some(address.clone()),
                    format!("nothing answered at {address} ({error})"),
                ),
                Seen::CannotLook { why } => (None, format!("not looked at: {why}")),
                Seen::NotChecked => (None, "not looked at".to_string()),
            };
            Judged {
                result: CheckResult::Unreachable,
                address,
                evidence: one_line(&evidence),
                post: None,
            }
        }
    }
}

/// The devices' lines and the result line.
fn table(checks: &[SampleCheck], finished: &SampleFinished, seed: u64) -> String {
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|c| {
            [
                inert(&c.device_id).into_owned(),
                c.detail
                    .address
                    .as_deref()
                    .map_or("-".into(), |a| inert(a).into_owned()),
                c.detail.result.as_str().to_string(),
                inert(&c.detail.evidence).into_owned(),
            ]
        })
        .collect();
    let header = ["DEVICE", "ADDRESS", "RESULT", "EVIDENCE"].map(String::from);
    let mut widths = [0usize; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (cell, w) in row.iter().zip(widths) {
            out.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(&row[3]);
        out.push('\n');
    }
    out.push_str(&format!(
        "result: {} ({} checked: {} passed, {} failed, {} unreachable; seed {seed})\n",
        finished.result.as_str(),
        finished.checked,
        finished.passed,
        finished.failed,
        finished.unreachable
    ));
    out
}

#[cfg(test)]
mod tests;
