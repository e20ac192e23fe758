//! What a run leaves once its end is recorded: its chain head sealed as a checkpoint (signed
//! when a key is configured) and written beside the reports as `chain-head.txt`, the
//! certificates of a factory reset, and the reports, whose page links the certificates.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::certificate::{self, Issued, NotIssued};
use crate::inert::Inert;
use crate::output::say;
use crate::report::{self, ReportFiles};
use crate::signing::{self, SigningKey};
use crate::store::{Db, RunRecord, Seal};

/// The files a finished run wrote.
pub struct Closed {
    pub record: RunRecord,
    pub report: ReportFiles,
    /// `chain-head.txt`, when the run has a chain.
    pub head_file: Option<PathBuf>,
    /// The certificates of a factory-reset run.
    pub certificates: Option<Issued>,
}

pub(super) fn close(
    db: &mut Db,
    run_id: &str,
    reports_dir: &Path,
    key: Option<&SigningKey>,
) -> anyhow::Result<Closed> {
    let head = signing::seal(db, run_id, Seal::RunEnded, key)?;
    let record = db.load_run(run_id).context("reading the run back")?;
    let dir = reports_dir.join(run_id);
    let certificates = match certificate::issue(db, &record, &dir, key)
        .with_context(|| format!("writing the certificates to {}", dir.display()))?
    {
        Ok(issued) => Some(issued),
        Err(NotIssued::Broken(first)) => {
            say!(
                "fleetreset: warning: run {} does not verify against its audit chain ({first}); no certificate was written",
                Inert(run_id)
            );
            None
        }
        Err(NotIssued::PowerCycle | NotIssued::NoChain) => None,
    };
    let links = certificates.as_ref().map(Issued::links).unwrap_or_default();
    let extras = report::Extras {
        chain_head: head.as_ref(),
        certificates: &links,
    };
    let report = report::write(&dir, &record, extras)
        .with_context(|| format!("writing the reports to {}", dir.display()))?;
    let head_file = head
        .as_ref()
        .map(|h| signing::write_head(&dir, h, key))
        .transpose()
        .with_context(|| format!("writing the chain head to {}", dir.display()))?;
    Ok(Closed {
        record,
        report,
        head_file,
        certificates,
    })
}
