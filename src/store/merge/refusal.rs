//! Why `audit merge` refused a site file. A refused file is refused whole: nothing of it was
//! written.

use std::fmt;

use crate::inert::Inert;
use crate::store::verify::Problem;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A `-wal` with records is beside the file: its bytes don't hold the whole database, and
    /// a fleetreset may still be writing to it.
    LogBeside { wal: String },
    /// The file can't be read, or opened as a database.
    Unreadable(String),
    /// A SQLite file (or another file) that is not a fleetreset audit database.
    NotFleetreset(String),
    /// The file is itself a merged audit.
    Merged,
    /// A run's chain does not verify; its first finding.
    Broken { run_id: String, problem: Problem },
    /// A run of the file is in the merged audit already, from another site.
    OtherSite { run_id: String, site: String },
    /// A run of the file is one the merged database recorded itself.
    OwnRun { run_id: String },
    /// The file's chain of a run is shorter than the merged audit's copy of it.
    Shorter {
        run_id: String,
        records: u64,
        merged: u64,
    },
    /// The file's chain of a run and the merged audit's copy part at a record.
    Diverged { run_id: String, at: u64 },
    /// The merged audit's copy of a run the file extends no longer verifies.
    CopyBroken { run_id: String, problem: Problem },
    /// The file's newer records change a row in a way the append-only triggers refuse.
    AppendOnly { run_id: String, detail: String },
    /// A row of the file does not fit the merged database's schema.
    DoesNotFit { run_id: String, detail: String },
    /// The file changed while it was merged, or what was copied does not verify as it did.
    Changed,
}

impl Refusal {
    /// A stable word for scripts.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::LogBeside { .. } => "log_beside",
            Refusal::Unreadable(_) => "unreadable",
            Refusal::NotFleetreset(_) => "not_fleetreset",
            Refusal::Merged => "merged_audit",
            Refusal::Broken { .. } => "broken",
            Refusal::OtherSite { .. } => "other_site",
            Refusal::OwnRun { .. } => "own_run",
            Refusal::Shorter { .. } => "shorter",
            Refusal::Diverged { .. } => "diverged",
            Refusal::CopyBroken { .. } => "copy_broken",
            Refusal::AppendOnly { .. } => "append_only",
            Refusal::DoesNotFit { .. } => "does_not_fit",
            Refusal::Changed => "changed",
        }
    }
}

/// A finding as one line: where, what, how.
fn finding(p: &Problem) -> String {
    format!(
        "record {}: {} {}: {}",
        p.position,
        p.record,
        p.tamper.as_str(),
        p.detail
    )
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::LogBeside { wal } => write!(
                f,
                "{} is beside it with records not yet in the file (a fleetreset may still be writing to it): copy the database once its run has ended",
                Inert(wal)
            ),
            Refusal::Unreadable(why) => write!(f, "cannot read it: {}", Inert(why)),
            Refusal::NotFleetreset(why) => {
                write!(f, "it is not a fleetreset audit database ({})", Inert(why))
            }
            Refusal::Merged => write!(
                f,
                "it is a merged audit itself: merge the site files it was made from"
            ),
            Refusal::Broken { run_id, problem } => write!(
                f,
                "run {} does not verify: {}; `fleetreset audit verify --db` on the file lists every finding",
                Inert(run_id),
                finding(problem)
            ),
            Refusal::OtherSite { run_id, site } => write!(
                f,
                "run {} is already in the merged audit from site {}",
                Inert(run_id),
                Inert(site)
            ),
            Refusal::OwnRun { run_id } => write!(
                f,
                "run {} is one the merged database recorded itself",
                Inert(run_id)
            ),
            Refusal::Shorter {
                run_id,
                records,
                merged,
            } => write!(
                f,
                "its chain of run {} has {records} records, the merged audit's copy {merged}: the file is older than one merged before, or was cut short (a rollback or tampering)",
                Inert(run_id)
            ),
            Refusal::Diverged { run_id, at } => write!(
                f,
                "its chain of run {} differs from the merged audit's copy at record {at}: one of them was rewritten (tampering)",
                Inert(run_id)
            ),
            Refusal::CopyBroken { run_id, problem } => write!(
                f,
                "the merged audit's copy of run {} no longer verifies ({}), so it is not brought up to date: `fleetreset audit verify` on the merged database lists the findings",
                Inert(run_id),
                finding(problem)
            ),
            Refusal::AppendOnly { run_id, detail } => write!(
                f,
                "run {} can't be brought up to date within the merged audit's append-only rules ({}): merge the site files into a new database",
                Inert(run_id),
                Inert(detail)
            ),
            Refusal::DoesNotFit { run_id, detail } => write!(
                f,
                "a row of run {} does not fit the merged audit's schema: {}",
                Inert(run_id),
                Inert(detail)
            ),
            Refusal::Changed => write!(
                f,
                "the file changed while it was merged: merge it again once nothing writes to it"
            ),
        }
    }
}
