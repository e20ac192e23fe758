//! What the order of a run's chain must obey, beyond each record's latest entry matching its
//! row. Without these, a record could be edited and then chained again at the end: every old
//! entry, head and signed checkpoint would still be in the chain.
//!
//! - A record fleetreset writes once (the run, a job, an event, a `pre` snapshot) is chained
//!   once.
//! - A job's outcome changes only the ways fleetreset changes it, each with its event: an
//!   `outcome` event for a job with none, `reopened` for a skip that `resume` cleared,
//!   `manual_confirmed` for a job left for a technician. The outcome the events come to is the
//!   job's outcome.
//! - After a job's last `outcome` event, its `post` snapshot changes only with a technician's
//!   confirmation (or its refusal) right after it, and its identity verdict never does.

use std::collections::HashMap;

use super::Kind;
use super::encode::{Event, Job, Outcome};
use super::record::JobRecords;
use super::verify::{Entry, Problem, Tamper, describe};
use crate::inert::Inert;

pub(super) fn check(
    entries: &[Entry],
    events: &[Event],
    jobs: &[JobRecords],
    problems: &mut Vec<Problem>,
) {
    once(entries, problems);
    let chained: HashMap<i64, u64> = entries
        .iter()
        .filter(|e| e.kind == Kind::Event)
        .filter_map(|e| Some((e.reference.parse().ok()?, e.n)))
        .collect();
    let by_n: HashMap<u64, &Event> = events
        .iter()
        .filter_map(|ev| Some((*chained.get(&ev.id)?, ev)))
        .collect();
    for (job, outcome, _) in jobs {
        let mine: Vec<&Event> = events
            .iter()
            .filter(|ev| ev.device_id.as_deref() == Some(job.device_id.as_str()))
            .collect();
        outcomes(job, outcome.as_ref(), &mine, &chained, problems);
        // The job's last outcome, unless `resume` reopened it since: then it runs again.
        let last = mine
            .iter()
            .filter(|ev| matches!(ev.kind.as_str(), "outcome" | "reopened"))
            .filter_map(|ev| Some((*chained.get(&ev.id)?, ev.kind.as_str())))
            .max();
        if let Some((n, "outcome")) = last {
            late(job, n, entries, &by_n, problems);
        }
    }
}

/// A second entry of a record written once.
fn once(entries: &[Entry], problems: &mut Vec<Problem>) {
    let mut first: HashMap<(Kind, &str), u64> = HashMap::new();
    for e in entries {
        let written_once = match e.kind {
            Kind::Run | Kind::Job | Kind::Event => true,
            Kind::Snapshot => e.reference.ends_with("/pre"),
            Kind::Status | Kind::Outcome | Kind::Identity => false,
        };
        if !written_once {
            continue;
        }
        match first.get(&(e.kind, e.reference.as_str())) {
            Some(m) => problems.push(Problem {
                position: e.n,
                tamper: Tamper::ChainEdited,
                record: describe(e.kind, &e.reference),
                detail: format!(
                    "chained again as record {}, after record {m}: fleetreset writes it once, so it was edited and chained anew",
                    e.n
                ),
            }),
            None => {
                first.insert((e.kind, e.reference.as_str()), e.n);
            }
        }
    }
}

/// Replays the job's outcome events; each must be one fleetreset writes, and they must come to
/// the job's outcome.
fn outcomes(
    job: &Job,
    row: Option<&Outcome>,
    events: &[&Event],
    chained: &HashMap<i64, u64>,
    problems: &mut Vec<Problem>,
) {
    let mut now: Option<String> = None;
    for ev in events {
        let word = |key: &str| ev.detail[key].as_str().map(str::to_string);
        let (allowed, next) = match ev.kind.as_str() {
            "outcome" => (now.is_none(), word("outcome")),
            "reopened" => (now.as_deref() == Some("skipped"), None),
            "manual_confirmed" => (
                now.as_deref() == Some("manual_required"),
                Some("manual_confirmed".to_string()),
            ),
            _ => continue,
        };
        if !allowed {
            problems.push(Problem {
                position: chained.get(&ev.id).copied().unwrap_or(0),
                tamper: Tamper::Edited,
                record: format!(
                    "event {} ({} of {})",
                    ev.id,
                    Inert(&ev.kind),
                    Inert(&job.device_id)
                ),
                detail: format!(
                    "job {} had the outcome {} then: fleetreset never writes this event there",
                    Inert(&job.device_id),
                    now.as_deref()
                        .map_or("none".to_string(), |w| Inert(w).to_string())
                ),
            });
        }
        now = next;
    }
    let stored = row.and_then(|o| o.outcome.clone());
    if stored != now {
        problems.push(Problem {
            position: events
                .iter()
                .filter_map(|ev| chained.get(&ev.id))
                .max()
                .copied()
                .unwrap_or(0),
            tamper: Tamper::Edited,
            record: format!("the outcome of job {}", Inert(&job.device_id)),
            detail: format!(
                "the job says {}, but its events come to {}",
                stored
                    .as_deref()
                    .map_or("none".to_string(), |w| Inert(w).to_string()),
                now.as_deref()
                    .map_or("none".to_string(), |w| Inert(w).to_string())
            ),
        });
    }
}

/// A `post` snapshot or identity verdict chained after the job's last `outcome` event.
fn late(
    job: &Job,
    last_outcome: u64,
    entries: &[Entry],
    by_n: &HashMap<u64, &Event>,
    problems: &mut Vec<Problem>,
) {
    let post = format!("{}/post", job.device_id);
    for e in entries.iter().filter(|e| e.n > last_outcome) {
        let fine = match e.kind {
            Kind::Snapshot if e.reference == post => by_n.get(&(e.n + 1)).is_some_and(|ev| {
                ev.device_id.as_deref() == Some(job.device_id.as_str())
                    && matches!(
                        ev.kind.as_str(),
                        "manual_confirmed" | "confirmation_refused"
                    )
            }),
            Kind::Identity if e.reference == job.device_id => false,
            _ => true,
        };
        if !fine {
            problems.push(Problem {
                position: e.n,
                tamper: Tamper::ChainEdited,
                record: describe(e.kind, &e.reference),
                detail: format!(
                    "chained after the job's outcome (record {last_outcome}) with no technician's confirmation beside it: fleetreset doesn't write it there"
                ),
            });
        }
    }
}
