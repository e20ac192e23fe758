//! When each job ran, as the chart draws it, in milliseconds from the run's start: from its
//! first start (its first `probing` state event, else the job's `started_at`) to its end (its
//! last `outcome` event, else the job's `finished_at`), and the time range the chart covers
//! (the run's start to its last recorded moment).
//!
//! What other commands record later about a run (a technician's confirmation, days after; a
//! verification sample) is not part of the run's time: it neither stretches the axis nor ends
//! a bar. A confirmed job's bar ends where the run left it for a technician.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::model::{EventKind, JobState, Outcome, RunEventKind};
use crate::store::{EventRow, RunRecord, RunRow, SpanRow, Timestamp};

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

impl Span<'_> {
    /// A span read from the database, in milliseconds from `t0`.
    pub fn of_row(row: &SpanRow, t0: Timestamp) -> Span<'_> {
        let ms = |t: &Timestamp| ((*t - t0).num_milliseconds() as f64).max(0.0);
        Span {
            seq: row.seq,
            device_id: &row.device_id,
            start: row.start.as_ref().map(ms),
            end: row.end.as_ref().map(ms),
            outcome: row.outcome,
        }
    }
}

/// The chart's length in milliseconds (at least one): from the run's start to its end or
/// `last`, its last recorded moment ([`crate::store::RunReader::last_moment`]), whichever is
/// later.
pub fn length(run: &RunRow, last: Option<Timestamp>) -> f64 {
    let t0 = run.started_at;
    let end = run
        .finished_at
        .unwrap_or(t0)
        .max(t0)
        .max(last.unwrap_or(t0));
    ((end - t0).num_milliseconds() as f64).max(1.0)
}

/// [`starts`], counted as the spans come.
pub struct Starts {
    span: f64,
    counts: Vec<u32>,
}

impl Starts {
    pub fn new(span: f64, buckets: usize) -> Starts {
        Starts {
            span,
            counts: vec![0; buckets],
        }
    }

    pub fn add(&mut self, s: &Span<'_>) {
        if let Some(start) = s.start {
            let buckets = self.counts.len();
            self.counts[((start / self.span * buckets as f64) as usize).min(buckets - 1)] += 1;
        }
    }

    pub fn counts(&self) -> Vec<u32> {
        self.counts.clone()
    }
}

/// [`in_flight`], swept as the spans come in order of start: only the ends of the jobs still
/// in flight (and of those starting at the same moment) are held, never every job's.
pub struct InFlight {
    span: f64,
    max: Vec<u32>,
    current: i32,
    at: usize,
    ends: BinaryHeap<Reverse<Ms>>,
    /// The moment the latest starts came at, and how many: they count once every end up to
    /// that moment has, their own zero-length ones included.
    starting: Option<(f64, u32)>,
}

/// Milliseconds, ordered (the chart's times are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ms(f64);

impl Eq for Ms {}

impl PartialOrd for Ms {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ms {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.partial_cmp(&other.0).expect("no NaN")
    }
}

impl InFlight {
    pub fn new(span: f64, buckets: usize) -> InFlight {
        InFlight {
            span,
            max: vec![0; buckets],
            current: 0,
            at: 0,
            ends: BinaryHeap::new(),
            starting: None,
        }
    }

    /// The next span by start; one that never started is not in flight.
    pub fn add(&mut self, s: &Span<'_>) {
        let Some(start) = s.start else {
            return;
        };
        match self.starting {
            Some((t, ref mut n)) if t == start => *n += 1,
            _ => {
                self.settle();
                self.starting = Some((start, 1));
            }
        }
        self.ends
            .push(Reverse(Ms(s.end.unwrap_or(self.span).max(start))));
    }

    pub fn finish(mut self) -> Vec<u32> {
        self.settle();
        while let Some(Reverse(Ms(end))) = self.ends.pop() {
            self.point(end, -1);
        }
        self.max
    }

    /// The starts gathered at one moment, after every end up to it: ends before starts at the
    /// same moment, so one job handing over to the next is not two.
    fn settle(&mut self) {
        let Some((t, n)) = self.starting.take() else {
            return;
        };
        while let Some(Reverse(Ms(end))) = self.ends.peek().copied()
            && end <= t
        {
            self.ends.pop();
            self.point(end, -1);
        }
        for _ in 0..n {
            self.point(t, 1);
        }
    }

    fn point(&mut self, t: f64, delta: i32) {
        let buckets = self.max.len();
        let b = ((t / self.span * buckets as f64) as usize).min(buckets - 1);
        for m in &mut self.max[self.at..=b] {
            *m = (*m).max(self.current.max(0) as u32);
        }
        self.at = b;
        self.current += delta;
        self.max[b] = self.max[b].max(self.current.max(0) as u32);
    }
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
#[cfg(test)]
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
#[cfg(test)]
pub fn starts(spans: &[Span<'_>], span: f64, buckets: usize) -> Vec<u32> {
    let mut counts = vec![0u32; buckets];
    for start in spans.iter().filter_map(|s| s.start) {
        counts[((start / span * buckets as f64) as usize).min(buckets - 1)] += 1;
    }
    counts
}
