//! [`StoredKind`]: the one closed set of words `events.kind` holds. The events table keeps a
//! job's events ([`EventKind`]) and the run's own ([`RunEventKind`]) side by side, so a row
//! read back is one or the other; the two sets never share a word (a test pins that), so a
//! word alone says which.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{EventKind, RunEventKind};

/// What an event row records: a job's event or the run's own. Stored, serialized and shown as
/// the inner kind's word (`ack`, `run_started`), which never changes once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredKind {
    Job(EventKind),
    Run(RunEventKind),
}

impl StoredKind {
    /// Every kind: the job kinds, then the run kinds, each in declaration order.
    pub fn all() -> impl Iterator<Item = StoredKind> {
        let jobs = EventKind::ALL.iter().copied().map(StoredKind::Job);
        jobs.chain(RunEventKind::ALL.iter().copied().map(StoredKind::Run))
    }

    /// The stable word stored in `events.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoredKind::Job(k) => k.as_str(),
            StoredKind::Run(k) => k.as_str(),
        }
    }

    /// The job's event kind, for a job's event.
    pub fn job(self) -> Option<EventKind> {
        match self {
            StoredKind::Job(k) => Some(k),
            StoredKind::Run(_) => None,
        }
    }

    /// The run event kind, for an event of the run itself.
    pub fn run(self) -> Option<RunEventKind> {
        match self {
            StoredKind::Job(_) => None,
            StoredKind::Run(k) => Some(k),
        }
    }
}

impl From<EventKind> for StoredKind {
    fn from(k: EventKind) -> StoredKind {
        StoredKind::Job(k)
    }
}

impl From<RunEventKind> for StoredKind {
    fn from(k: RunEventKind) -> StoredKind {
        StoredKind::Run(k)
    }
}

/// `row.kind == EventKind::Ack`: a job kind compares equal only to the same job kind.
impl PartialEq<EventKind> for StoredKind {
    fn eq(&self, other: &EventKind) -> bool {
        *self == StoredKind::Job(*other)
    }
}

/// `row.kind == RunEventKind::RunStarted`.
impl PartialEq<RunEventKind> for StoredKind {
    fn eq(&self, other: &RunEventKind) -> bool {
        *self == StoredKind::Run(*other)
    }
}

impl fmt::Display for StoredKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoredKind {
    type Err = String;

    /// A stored word; one this build doesn't know is an error naming it.
    fn from_str(s: &str) -> Result<StoredKind, String> {
        s.parse::<EventKind>()
            .map(StoredKind::Job)
            .or_else(|_| s.parse::<RunEventKind>().map(StoredKind::Run))
            .map_err(|_| format!("unknown event kind {s:?}"))
    }
}

/// As its word, so `run.json` shows `"kind": "ack"` as it always has.
impl Serialize for StoredKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StoredKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StoredKind, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        word.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_stored_word_and_json() {
        let all: Vec<StoredKind> = StoredKind::all().collect();
        assert_eq!(all.len(), EventKind::ALL.len() + RunEventKind::ALL.len());
        for k in all {
            assert_eq!(k.as_str().parse::<StoredKind>().unwrap(), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<StoredKind>(&json).unwrap(), k);
        }
    }

    #[test]
    fn a_word_reads_as_the_kind_of_its_own_set() {
        assert_eq!(
            "ack".parse::<StoredKind>().unwrap(),
            StoredKind::Job(EventKind::Ack)
        );
        assert_eq!(
            "sample_checked".parse::<StoredKind>().unwrap(),
            StoredKind::Job(EventKind::SampleChecked)
        );
        for (word, kind) in [
            ("run_started", RunEventKind::RunStarted),
            ("sample_drawn", RunEventKind::SampleDrawn),
            ("sample_finished", RunEventKind::SampleFinished),
        ] {
            assert_eq!(word.parse::<StoredKind>().unwrap(), StoredKind::Run(kind));
        }
        assert!(StoredKind::from(EventKind::Ack) == EventKind::Ack);
        assert!(StoredKind::from(EventKind::Ack) != EventKind::Intent);
        assert!(StoredKind::from(RunEventKind::RunFinished) == RunEventKind::RunFinished);
        assert_eq!(StoredKind::from(EventKind::Ack).as_str(), "ack");
    }

    #[test]
    fn an_unknown_word_is_refused_by_name() {
        let err = "run_paused".parse::<StoredKind>().unwrap_err();
        assert!(err.contains("\"run_paused\""), "{err}");
        assert!(serde_json::from_str::<StoredKind>("\"late\"").is_err());
    }
}
