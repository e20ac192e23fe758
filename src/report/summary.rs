//! A run's jobs counted by outcome, by reason and by site: the `summary` of `run.json` and the
//! tables of `summary.md`.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::model::{Outcome, Reason};
use crate::store::{JobCount, RunRecord, RunStatus};

/// What reports call a job that has no outcome yet: its run was interrupted, or is still going.
pub const UNFINISHED: &str = "unfinished";

/// The word for a job's outcome, [`UNFINISHED`] without one.
pub fn outcome_word(outcome: Option<Outcome>) -> &'static str {
    outcome.map_or(UNFINISHED, Outcome::as_str)
}

/// The word for a run's status, as the database and `--json` spell it.
pub fn status_word(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "running",
        RunStatus::Finished => "finished",
        RunStatus::Stopped => "stopped",
        RunStatus::Interrupted => "interrupted",
    }
}

/// One slot per outcome, plus one for unfinished jobs.
const SLOTS: usize = Outcome::ALL.len() + 1;

/// Jobs counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally([u32; SLOTS]);

impl Tally {
    fn slot(outcome: Option<Outcome>) -> usize {
        match outcome {
            Some(o) => Outcome::ALL
                .iter()
                .position(|x| *x == o)
                .expect("Outcome::ALL lists every outcome"),
            None => SLOTS - 1,
        }
    }

    pub fn add(&mut self, outcome: Option<Outcome>) {
        self.add_n(outcome, 1);
    }

    pub fn add_n(&mut self, outcome: Option<Outcome>, n: u32) {
        self.0[Self::slot(outcome)] += n;
    }

    pub fn get(&self, outcome: Option<Outcome>) -> u32 {
        self.0[Self::slot(outcome)]
    }

    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Every outcome in the order of [`Outcome::ALL`] with its count, zeros included, then
    /// unfinished jobs (`None`).
    pub fn iter(&self) -> impl Iterator<Item = (Option<Outcome>, u32)> + '_ {
        Outcome::ALL
            .iter()
            .map(|o| Some(*o))
            .chain([None])
            .map(|o| (o, self.get(o)))
    }
}

/// `{"succeeded": 1, "failed": 0, …, "unfinished": 0}`: every key always present, so scripts
/// need no defaults.
impl Serialize for Tally {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(o, n)| (outcome_word(o), n)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub outcomes: Tally,
    /// Every reason in the order of [`Reason::ALL`] with its count, zeros included.
    pub reasons: Vec<(Reason, u32)>,
    /// Sites in name order, then jobs without a site (`None`).
    pub sites: Vec<(Option<String>, Tally)>,
}

impl Summary {
    pub fn of(record: &RunRecord) -> Summary {
        Summary::counted(
            record
                .jobs
                .iter()
                .map(|j| (j.site.as_deref(), j.outcome, j.reason, 1)),
        )
    }

    /// From the database's counts by site, outcome and reason.
    pub fn of_counts(counts: &[JobCount]) -> Summary {
        Summary::counted(
            counts
                .iter()
                .map(|c| (c.site.as_deref(), c.outcome, c.reason, c.jobs)),
        )
    }

    /// `(site, outcome, reason, jobs)`, any number of rows for the same combination.
    fn counted<'a>(
        rows: impl Iterator<Item = (Option<&'a str>, Option<Outcome>, Option<Reason>, u32)>,
    ) -> Summary {
        let mut outcomes = Tally::default();
        let mut reasons: Vec<(Reason, u32)> = Reason::ALL.iter().map(|r| (*r, 0)).collect();
        let mut sites: BTreeMap<Option<&str>, Tally> = BTreeMap::new();
        for (site, outcome, reason, n) in rows {
            outcomes.add_n(outcome, n);
            if let Some(reason) = reason
                && let Some(slot) = reasons.iter_mut().find(|(r, _)| *r == reason)
            {
                slot.1 += n;
            }
            sites.entry(site).or_default().add_n(outcome, n);
        }
        // `None` sorts first in the map; jobs without a site read better last.
        let (mut named, unnamed): (Vec<_>, Vec<_>) = sites
            .into_iter()
            .map(|(site, tally)| (site.map(str::to_string), tally))
            .partition(|(site, _)| site.is_some());
        named.extend(unnamed);
        Summary {
            outcomes,
            reasons,
            sites: named,
        }
    }
}

/// `{"jobs": 4, "by_outcome": {…}, "by_reason": {…}, "by_site": {"site-a": {…}, "": {…}}}`;
/// jobs without a site are counted under `""`, which no inventory site can be.
impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Reasons<'a>(&'a [(Reason, u32)]);
        impl Serialize for Reasons<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(r, n)| (r.as_str(), n)))
            }
        }
        struct Sites<'a>(&'a [(Option<String>, Tally)]);
        impl Serialize for Sites<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(
                    self.0
                        .iter()
                        .map(|(site, t)| (site.as_deref().unwrap_or(""), t)),
                )
            }
        }

        let mut out = s.serialize_struct("Summary", 4)?;
        out.serialize_field("jobs", &self.outcomes.total())?;
        out.serialize_field("by_outcome", &self.outcomes)?;
        out.serialize_field("by_reason", &Reasons(&self.reasons))?;
        out.serialize_field("by_site", &Sites(&self.sites))?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn jobs_are_counted_by_outcome_reason_and_site() {
        let summary = Summary::of(&fixture::record());
        let outcomes: Vec<_> = summary.outcomes.iter().collect();
        assert_eq!(
            outcomes,
            [
                (Some(Outcome::Succeeded), 1),
                (Some(Outcome::Failed), 1),
                (Some(Outcome::ManualRequired), 1),
                (Some(Outcome::ManualConfirmed), 0),
                (Some(Outcome::Skipped), 1),
                (None, 0),
            ]
        );
        assert_eq!(summary.outcomes.total(), 4);
        let reasons: Vec<_> = summary.reasons.iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(
            reasons,
            [&(Reason::NotVerified, 1), &(Reason::ThresholdReached, 1)]
        );
        let sites: Vec<_> = summary
            .sites
            .iter()
            .map(|(site, t)| (site.as_deref(), t.total(), t.get(Some(Outcome::Succeeded))))
            .collect();
        assert_eq!(
            sites,
            [
                (Some("north|south"), 1, 0),
                (Some("site-a"), 2, 1),
                (None, 1, 0)
            ]
        );
    }

    #[test]
    fn a_job_without_an_outcome_counts_as_unfinished() {
        let mut record = fixture::record();
        record.jobs[0].outcome = None;
        let summary = Summary::of(&record);
        assert_eq!(summary.outcomes.get(None), 1);
        assert_eq!(summary.outcomes.get(Some(Outcome::Succeeded)), 0);
        assert_eq!(summary.outcomes.total(), 4);
    }

    #[test]
    fn status_words_match_their_serde_form() {
        for status in [
            RunStatus::Running,
            RunStatus::Finished,
            RunStatus::Stopped,
            RunStatus::Interrupted,
        ] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::from(status_word(status))
            );
        }
    }
}
