//! When each job ran, as the chart draws it, in milliseconds from the run's start: from its
//! first start (its first `probing` state event, else the job's `started_at`) to its end (its
//! last `outcome` event, else the job's `finished_at`), and the time range the chart covers
//! (the run's start to its last recorded moment).
//!
//! What other commands record later about a run (a technician's confirmation, days after; a
//! verification sample) is not part of the run's time: it neither stretches the axis nor ends
//! a bar. A confirmed job's bar ends where the run left it for a technician.

use std::collections::HashMap;

use crate::model::{EventKind, JobState, Outcome, RunEventKind};
use crate::store::{EventRow, RunRecord, Timestamp};

/// One job on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Span<'a> {
    pub seq: u32,
    pub device_id: &'a str,
    /// Milliseconds from the run's start; `None` for a job that never started.
    pub start: Option<f64>,
    /// `None` while it has no end (an unfinished job, drawn to the end of the chart).
    pub end: Option<f64>,
    pub outcome: Option<Outcome>,
}

impl Span<'_> {
    /// Where a row sorts: by start, a never-started job at its end (when it was skipped).
    pub fn sort_key(&self) -> (f64, u32) {
        (self.start.or(self.end).unwrap_or(f64::MAX), self.seq)
    }
}

/// The jobs of `record` in order of their start, and the chart's length in milliseconds (at
/// least one).
pub fn of(record: &RunRecord) -> (Vec<Span<'_>>, f64) {
    let t0 = record.run.started_at;
    let ms = |t: &Timestamp| (*t - t0).num_milliseconds() as f64;
    let mut first_probe: HashMap<&str, Timestamp> = HashMap::new();
    let mut last_outcome: HashMap<&str, Timestamp> = HashMap::new();
    let mut last = record.run.finished_at.unwrap_or(t0).max(t0);
    for e in record.events.iter().filter(|e| !after_the_run(e)) {
        last = last.max(e.at);
        let Some(id) = e.device_id.as_deref() else {
            continue;
        };
        if is_start(e) {
            first_probe
                .entry(id)
                .and_modify(|t| *t = (*t).min(e.at))
                .or_insert(e.at);
        }
        if e.kind.as_str() == EventKind::Outcome.as_str() {
            last_outcome
                .entry(id)
                .and_modify(|t| *t = (*t).max(e.at))
                .or_insert(e.at);
        }
    }
    let mut spans: Vec<Span<'_>> = record
        .jobs
        .iter()
        .map(|j| {
            let id = j.device_id.as_str();
            let start = first_probe.get(id).copied().or(j.started_at);
            // An unfinished job has no end, whatever it recorded last.
            let end = j
                .outcome
                .and(last_outcome.get(id).copied().or(j.finished_at));
            for t in [start, end].into_iter().flatten() {
                last = last.max(t);
            }
            Span {
                seq: j.seq,
                device_id: id,
                start: start.map(|t| ms(&t).max(0.0)),
                end: end.map(|t| ms(&t).max(0.0)),
                outcome: j.outcome,
            }
        })
        .collect();
    spans.sort_by(|a, b| a.sort_key().partial_cmp(&b.sort_key()).expect("no NaN"));
    (spans, ms(&last).max(1.0))
}

/// Recorded about the run by a later command: `confirm`'s confirmations and refusals, a
/// verification sample's draws and checks.
fn after_the_run(e: &EventRow) -> bool {
    let kind = e.kind.as_str();
    [
        EventKind::ManualConfirmed.as_str(),
        EventKind::ConfirmationRefused.as_str(),
        EventKind::SampleChecked.as_str(),
        RunEventKind::SampleDrawn.as_str(),
        RunEventKind::SampleFinished.as_str(),
    ]
    .contains(&kind)
}

/// A job's start: the engine's `probing` state, the first thing a job records.
fn is_start(e: &EventRow) -> bool {
    e.kind.as_str() == "state" && e.state == Some(JobState::Probing)
}

/// Jobs in flight: at most how many at once within each of `buckets` equal slices of
/// `0..span` ms. A job with no end counts to the end.
pub fn in_flight(spans: &[Span<'_>], span: f64, buckets: usize) -> Vec<u32> {
    let mut points: Vec<(f64, i32)> = Vec::with_capacity(spans.len() * 2);
    for s in spans {
        if let Some(start) = s.start {
            points.push((start, 1));
            points.push((s.end.unwrap_or(span).max(start), -1));
        }
    }
    // Ends before starts at the same moment: one job handing over to the next is not two.
    points.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let bucket = |t: f64| ((t / span * buckets as f64) as usize).min(buckets - 1);
    let mut max = vec![0u32; buckets];
    let mut current: i32 = 0;
    let mut at = 0usize;
    for (t, delta) in points {
        let b = bucket(t);
        for m in &mut max[at..=b] {
            *m = (*m).max(current.max(0) as u32);
        }
        at = b;
        current += delta;
        max[b] = max[b].max(current.max(0) as u32);
    }
    max
}

/// How many jobs started within each of `buckets` equal slices of `0..span` ms.
pub fn starts(spans: &[Span<'_>], span: f64, buckets: usize) -> Vec<u32> {
    let mut counts = vec![0u32; buckets];
    for start in spans.iter().filter_map(|s| s.start) {
        counts[((start / span * buckets as f64) as usize).min(buckets - 1)] += 1;
    }
    counts
}
