//! Reading typed values out of rows: the stored words, timestamps and JSON text. A value that
//! doesn't parse is a conversion error naming the column, not a panic.

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::Type;
use serde_json::Value;

use super::{RunStatus, SnapshotPhase, Timestamp, time};

impl RunStatus {
    /// The word stored in `runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Stopped => "stopped",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "running" => Ok(RunStatus::Running),
            "finished" => Ok(RunStatus::Finished),
            "stopped" => Ok(RunStatus::Stopped),
            "interrupted" => Ok(RunStatus::Interrupted),
            other => Err(format!("unknown RunStatus {other:?}")),
        }
    }
}

impl SnapshotPhase {
    /// The word stored in `snapshots.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotPhase::Pre => "pre",
            SnapshotPhase::Post => "post",
        }
    }
}

impl FromStr for SnapshotPhase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pre" => Ok(SnapshotPhase::Pre),
            "post" => Ok(SnapshotPhase::Post),
            other => Err(format!("unknown SnapshotPhase {other:?}")),
        }
    }
}

fn conversion(
    idx: usize,
    err: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, err.into())
}

/// A stored word (`Action`, `Outcome`, …) in column `idx`.
pub(crate) fn word<T: FromStr<Err = String>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e: String| conversion(idx, e))
}

/// A stored word, or NULL.
pub(crate) fn opt_word<T: FromStr<Err = String>>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| t.parse().map_err(|e: String| conversion(idx, e)))
        .transpose()
}

pub(crate) fn timestamp(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let text: String = row.get(idx)?;
    time::parse(&text).map_err(|e| conversion(idx, e))
}

pub(crate) fn opt_timestamp(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| time::parse(&t).map_err(|e| conversion(idx, e)))
        .transpose()
}

/// A JSON text column.
pub(crate) fn json(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| conversion(idx, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_statuses_round_trip_through_their_stored_word() {
        for s in [
            RunStatus::Running,
            RunStatus::Finished,
            RunStatus::Stopped,
            RunStatus::Interrupted,
        ] {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn snapshot_phases_round_trip_through_their_stored_word() {
        for p in [SnapshotPhase::Pre, SnapshotPhase::Post] {
            assert_eq!(p.as_str().parse::<SnapshotPhase>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn a_word_the_build_does_not_know_is_a_conversion_error() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let err = conn
            .query_row("SELECT 'paused'", [], |r| word::<RunStatus>(r, 0))
            .unwrap_err();
        assert!(err.to_string().contains("paused"), "{err}");
    }
}
