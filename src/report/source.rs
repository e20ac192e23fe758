//! Where a report reads its run from: the audit database, streamed ([`RunReader`]: one job at a
//! time, counts by query), or a [`RunRecord`] already in memory (the tests' fixtures, `demo`).
//! Both hand the renderers the same things in the same order, so a report is the same bytes
//! whichever it came from.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::evidence;
use super::summary::Summary;
use crate::model::{EventKind, Outcome};
use crate::store::{
    Confirmed, EventRow, JobBundle, JobFilter, JobRow, RunReader, RunRecord, RunRow, SnapshotPhase,
    SnapshotRow,
};

/// What every callback returns: a read or a write may fail on the way.
pub type Step = anyhow::Result<()>;

/// A run to report on.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Record(&'a RunRecord),
    Db(&'a RunReader<'a>),
}

impl<'a> Source<'a> {
    pub fn run(&self) -> &'a RunRow {
        match self {
            Source::Record(r) => &r.run,
            Source::Db(r) => &r.run,
        }
    }

    /// The run's own events (started, interrupted, …), in write order.
    pub fn run_events(&self) -> Vec<&'a EventRow> {
        match self {
            Source::Record(r) => r.events.iter().filter(|e| e.device_id.is_none()).collect(),
            Source::Db(r) => r.run_events.iter().collect(),
        }
    }

    pub fn job_count(&self) -> usize {
        match self {
            Source::Record(r) => r.jobs.len(),
            Source::Db(r) => r.run.jobs as usize,
        }
    }

    pub fn summary(&self) -> anyhow::Result<Summary> {
        Ok(match self {
            Source::Record(r) => Summary::of(r),
            Source::Db(r) => Summary::of_counts(&r.job_counts()?),
        })
    }

    pub fn count_jobs(&self, filter: JobFilter) -> anyhow::Result<usize> {
        Ok(match self {
            Source::Record(r) => r.jobs.iter().filter(|j| keeps(filter, j)).count(),
            Source::Db(r) => r.count_jobs(filter)? as usize,
        })
    }

    /// The jobs `filter` lets through, in inventory order.
    pub fn jobs(&self, filter: JobFilter, mut f: impl FnMut(&JobRow) -> Step) -> Step {
        match self {
            Source::Record(r) => {
                let mut jobs: Vec<&JobRow> = r.jobs.iter().filter(|j| keeps(filter, j)).collect();
                jobs.sort_by_key(|j| j.seq);
                jobs.into_iter().try_for_each(f)
            }
            Source::Db(r) => r.jobs(filter, |j| f(&j)),
        }
    }

    /// Every job with its snapshots and what its events show, in inventory order.
    pub fn bundles(&self, mut f: impl FnMut(&JobBundle) -> Step) -> Step {
        match self {
            Source::Record(r) => {
                let of = Bundles::of(r);
                let mut jobs: Vec<&JobRow> = r.jobs.iter().collect();
                jobs.sort_by_key(|j| j.seq);
                jobs.into_iter().try_for_each(|j| f(&of.bundle(j)))
            }
            Source::Db(r) => r.bundles(|b| f(&b)),
        }
    }

    /// Snapshots as stored: in job order, pre before post.
    pub fn snapshots(&self, mut f: impl FnMut(&SnapshotRow) -> Step) -> Step {
        match self {
            Source::Record(r) => r.snapshots.iter().try_for_each(f),
            Source::Db(r) => r.snapshots(|s| f(&s)),
        }
    }

    /// Every event, in write order.
    pub fn events(&self, mut f: impl FnMut(&EventRow) -> Step) -> Step {
        match self {
            Source::Record(r) => r.events.iter().try_for_each(f),
            Source::Db(r) => r.events(|e| f(&e)),
        }
    }

    pub fn events_of_kind(&self, kind: EventKind, mut f: impl FnMut(&EventRow) -> Step) -> Step {
        match self {
            Source::Record(r) => r.events.iter().filter(|e| e.kind == kind).try_for_each(f),
            Source::Db(r) => r.events_of_kind(kind, |e| f(&e)),
        }
    }

    /// The technicians' confirmations in write order, each with whether its job is
    /// `manual_confirmed` now.
    pub fn confirmations(&self, mut f: impl FnMut(&Confirmed, bool) -> Step) -> Step {
        match self {
            Source::Record(r) => r.confirmations().iter().try_for_each(|c| {
                let confirmed = r.jobs.iter().any(|j| {
                    j.device_id == c.device_id && j.outcome == Some(Outcome::ManualConfirmed)
                });
                f(c, confirmed)
            }),
            Source::Db(r) => r.confirmations(|c, confirmed| f(&c, confirmed)),
        }
    }

    /// The database reader, whose chart spans come sorted by SQLite; `None` for a record in
    /// memory, which the chart reads whole.
    pub fn reader(&self) -> Option<&'a RunReader<'a>> {
        match self {
            Source::Record(_) => None,
            Source::Db(r) => Some(r),
        }
    }
}

fn keeps(filter: JobFilter, job: &JobRow) -> bool {
    match filter {
        JobFilter::All => true,
        JobFilter::NotSucceeded => job.outcome != Some(Outcome::Succeeded),
        JobFilter::Unverified => job.identity_verified == Some(false),
    }
}

/// What a record's events and snapshots show per job, gathered once.
struct Bundles<'a> {
    pre: HashMap<&'a str, &'a SnapshotRow>,
    post: HashMap<&'a str, &'a SnapshotRow>,
    left_network: HashSet<&'a str>,
    confirmed: HashMap<String, (String, crate::store::Timestamp)>,
    bound_at_intent: HashMap<&'a str, Option<bool>>,
}

impl<'a> Bundles<'a> {
    fn of(record: &'a RunRecord) -> Bundles<'a> {
        let mut pre: HashMap<&str, &SnapshotRow> = HashMap::new();
        let mut post: HashMap<&str, &SnapshotRow> = HashMap::new();
        for s in &record.snapshots {
            let id = s.device_id.as_str();
            // The first pre snapshot (the device before anything was sent), the last post one
            // (the device as it was left).
            match s.phase {
                SnapshotPhase::Pre if pre.get(id).is_none_or(|p| s.taken_at < p.taken_at) => {
                    pre.insert(id, s);
                }
                SnapshotPhase::Post if post.get(id).is_none_or(|p| s.taken_at >= p.taken_at) => {
                    post.insert(id, s);
                }
                SnapshotPhase::Pre | SnapshotPhase::Post => {}
            }
        }
        let mut bound_at_intent = HashMap::new();
        for e in record.events.iter().filter(|e| e.kind == EventKind::Intent) {
            if let Some(id) = e.device_id.as_deref() {
                bound_at_intent
                    .entry(id)
                    .or_insert_with(|| evidence::bound_in_intent(&e.detail));
            }
        }
        Bundles {
            pre,
            post,
            left_network: evidence::left_network(record),
            confirmed: record
                .confirmations()
                .into_iter()
                .map(|c| (c.device_id, (c.technician.by, c.at)))
                .collect(),
            bound_at_intent,
        }
    }

    fn bundle(&self, job: &JobRow) -> JobBundle {
        let id = job.device_id.as_str();
        let data = |s: Option<&&SnapshotRow>| -> Option<Value> { s.map(|s| s.data.clone()) };
        JobBundle {
            job: job.clone(),
            pre: data(self.pre.get(id)),
            post: data(self.post.get(id)),
            bound_at_intent: self.bound_at_intent.get(id).copied().flatten(),
            left_network: self.left_network.contains(id),
            confirmed: self
                .confirmed
                .get(id)
                .filter(|_| job.outcome == Some(Outcome::ManualConfirmed))
                .cloned(),
        }
    }
}

#[cfg(test)]
mod tests;
