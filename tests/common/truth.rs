//! What the devices got against what the audit says. Our own audit is not evidence that our
//! own audit is right: these checks read the simulator's journal (every disruptive command each
//! device accepted, written by the simulator process) beside the database.

use fleetreset::model::EventKind;
use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use fleetreset::model::{Outcome, Reason, StoredKind};
use fleetreset::store::{Db, RunRecord};

/// Disruptive commands, power cuts and discovery probes per device id, from a simulator
/// journal (`TIME ID WHAT [ARG]` lines).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Journal {
    pub reboots: HashMap<String, usize>,
    pub resets: HashMap<String, usize>,
    /// Times a device lost power because the outlet feeding it went off.
    pub power_cuts: HashMap<String, usize>,
    /// Times a plug or strip switched one of its outlets off.
    pub outlet_offs: HashMap<String, usize>,
    pub discoveries: HashMap<String, usize>,
    pub text: String,
}

impl Journal {
    pub fn read(path: &Path) -> Journal {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut j = Journal {
            text: text.clone(),
            ..Journal::default()
        };
        for line in text.lines() {
            let mut parts = line.split_whitespace().skip(1);
            match (parts.next(), parts.next()) {
                (Some(id), Some("reboot")) => *j.reboots.entry(id.to_string()).or_default() += 1,
                (Some(id), Some("reset")) => *j.resets.entry(id.to_string()).or_default() += 1,
                (Some(id), Some("power_lost")) => {
                    *j.power_cuts.entry(id.to_string()).or_default() += 1
                }
                (Some(id), Some("outlet_off")) => {
                    *j.outlet_offs.entry(id.to_string()).or_default() += 1
                }
                (Some(id), Some("discovery")) => {
                    *j.discoveries.entry(id.to_string()).or_default() += 1
                }
                _ => {}
            }
        }
        j
    }

    /// Whether no device received any disruptive command, no outlet was switched off and no
    /// device lost power.
    pub fn no_commands(&self) -> bool {
        self.reboots.is_empty()
            && self.resets.is_empty()
            && self.outlet_offs.is_empty()
            && self.power_cuts.is_empty()
    }

    /// Every disruptive command a device received, of either kind.
    pub fn commands(&self, id: &str) -> usize {
        self.reboots.get(id).copied().unwrap_or(0) + self.resets.get(id).copied().unwrap_or(0)
    }

    /// Every line that reads as `TIME ID WHAT [ARG]`, in order.
    pub fn lines(&self) -> Vec<Line> {
        self.text
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace();
                let at = DateTime::parse_from_rfc3339(p.next()?)
                    .ok()?
                    .with_timezone(&Utc);
                Some(Line {
                    at,
                    id: p.next()?.to_string(),
                    what: p.next()?.to_string(),
                    arg: p.next().map(str::to_string),
                })
            })
            .collect()
    }

    /// Everything that disrupted a device: its commands, and the power cuts of the outlet
    /// feeding it.
    pub fn disruptions(&self, id: &str) -> usize {
        self.commands(id) + self.power_cuts.get(id).copied().unwrap_or(0)
    }
}

/// One journal line: when, which device, what, and its argument (an outlet number).
#[derive(Debug, Clone)]
pub struct Line {
    pub at: DateTime<Utc>,
    pub id: String,
    pub what: String,
    pub arg: Option<String>,
}

/// The switchings of `id`'s outlets: `(outlet, on, at)`, in order.
pub fn switchings(lines: &[Line], id: &str) -> Vec<(String, bool, DateTime<Utc>)> {
    lines
        .iter()
        .filter(|l| l.id == id && (l.what == "outlet_off" || l.what == "outlet_on"))
        .map(|l| {
            (
                l.arg.clone().unwrap_or_default(),
                l.what == "outlet_on",
                l.at,
            )
        })
        .collect()
}

/// The kinds of `id`'s events, in the order they were written.
pub fn events_of(record: &RunRecord, id: &str) -> Vec<StoredKind> {
    record
        .events
        .iter()
        .filter(|e| e.device_id.as_deref() == Some(id))
        .map(|e| e.kind)
        .collect()
}

/// The latest run of the database at `db`, after checking that its audit chain is intact:
/// every test that reads a run this way also proves the chain of that kind of run verifies.
pub fn latest_run(db: &Path) -> RunRecord {
    let db = Db::open(db).unwrap();
    let run_id = db.resolve_run_id("latest").unwrap();
    let verdict = db.verify_chain(&run_id, None, None).unwrap();
    assert!(
        verdict.intact(),
        "the audit chain of run {run_id} does not verify: {:#?}",
        verdict.problems
    );
    db.load_run(&run_id).unwrap()
}

/// The invariants every disruptive test holds the run to, against the journal:
/// - no device was disrupted more than once (a command, or a power cut at its outlet);
/// - every job has at most one outcome (exactly one when `complete`), and one `outcome` event
///   per outcome;
/// - no job `succeeded` unless its device's journal shows the disruption: the command, or for
///   the upstream method the power cut.
///
/// `context` goes into every failure message.
pub fn assert_truthful(record: &RunRecord, journal: &Journal, complete: bool, context: &str) {
    let disrupted = journal.reboots.keys().chain(journal.resets.keys());
    for id in disrupted.chain(journal.power_cuts.keys()) {
        let n = journal.disruptions(id);
        assert!(
            n <= 1,
            "{context}: {id} was disrupted {n} times\n{}",
            journal.text
        );
    }
    let mut outcome_events: HashMap<&str, usize> = HashMap::new();
    for e in record
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Outcome)
    {
        *outcome_events
            .entry(e.device_id.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    for j in &record.jobs {
        let events = outcome_events
            .get(j.device_id.as_str())
            .copied()
            .unwrap_or(0);
        match j.outcome {
            Some(_) => assert_eq!(
                events, 1,
                "{context}: {} has {events} outcome events",
                j.device_id
            ),
            None => {
                assert_eq!(
                    events, 0,
                    "{context}: {} has an outcome event but no outcome",
                    j.device_id
                );
                assert!(!complete, "{context}: {} has no outcome", j.device_id);
            }
        }
        if j.outcome == Some(Outcome::Succeeded) {
            assert_eq!(
                journal.disruptions(&j.device_id),
                1,
                "{context}: {} is recorded as succeeded ({:?}) but its journal shows no command\n{}",
                j.device_id,
                j.detail,
                journal.text
            );
        }
    }
}

/// The outcome and reason of one job.
pub fn outcome_of(record: &RunRecord, id: &str) -> (Option<Outcome>, Option<Reason>, String) {
    let j = record
        .jobs
        .iter()
        .find(|j| j.device_id == id)
        .unwrap_or_else(|| panic!("no job {id}"));
    (j.outcome, j.reason, j.detail.clone().unwrap_or_default())
}

/// Events of `kind` in the database at `db`, read without disturbing a writer.
pub fn count_events(db: &Path, kind: impl Into<StoredKind>) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    let kind = kind.into().as_str();
    conn.query_row("SELECT COUNT(*) FROM events WHERE kind = ?1", [kind], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as usize)
    .unwrap_or(0)
}
