//! What a run leaves once its end is recorded: its chain head sealed as a checkpoint (signed
//! when a key is configured) and written beside the reports as `chain-head.txt`, the
//! certificates of a factory reset, and the reports, whose page links the certificates.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::certificate::{self, Issued, NotIssued};
use crate::inert::Inert;
use crate::model::Action;
use crate::output::say;
use crate::report::{self, ReportFiles};
use crate::signing::{self, SigningKey};
use crate::store::{Db, RunOutline, Seal};

/// The files a finished run wrote.
pub struct Closed {
    /// The run, its counts and the jobs that did not succeed, for the end-of-run summary.
    pub record: RunOutline,
    pub report: ReportFiles,
    /// `chain-head.txt`, when the run has a chain.
    pub head_file: Option<PathBuf>,
    /// The certificates of a factory-reset run.
    pub certificates: Option<Issued>,
}

/// Seals the chain, issues a factory reset's certificates, and writes the reports streamed
/// from the database (one job at a time, whatever the fleet's size) and the head file.
pub(super) fn close(
    db: &mut Db,
    run_id: &str,
    reports_dir: &Path,
    key: Option<&SigningKey>,
) -> anyhow::Result<Closed> {
    let head = signing::seal(db, run_id, Seal::RunEnded, key)?;
    let dir = reports_dir.join(run_id);
    let action = db
        .read_run(run_id)
        .context("reading the run back")?
        .run
        .action;
    // A power cycle gets no certificate: nothing of its record is read whole.
    let certificates = match action {
        Action::FactoryReset => certify(db, run_id, &dir, key)?,
        Action::PowerCycle => None,
    };
    let links = certificates.as_ref().map(Issued::links).unwrap_or_default();
    let extras = report::Extras {
        chain_head: head.as_ref(),
        certificates: &links,
    };
    // One read transaction for the reports and the outline, so they tell the same run.
    let reader = db.read_run(run_id).context("reading the run back")?;
    let report = report::write_streamed(&dir, &reader, extras)
        .with_context(|| format!("writing the reports to {}", dir.display()))?;
    let record = reader.outline().context("reading the run back")?;
    drop(reader);
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

/// A factory reset's certificates, built from its whole record (each cites its device's
/// events and snapshots, and the chain is verified first); `None` when the run doesn't
/// verify, said on stderr.
fn certify(
    db: &mut Db,
    run_id: &str,
    dir: &Path,
    key: Option<&SigningKey>,
) -> anyhow::Result<Option<Issued>> {
    let record = db.load_run(run_id).context("reading the run back")?;
    Ok(
        match certificate::issue(db, &record, dir, key)
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
        },
    )
}
