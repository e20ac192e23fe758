//! `fleetreset certificates RUN`: certificates of sanitization for a factory-reset run, one per
//! sanitized device and one bundle, as JSON, Markdown and HTML in `certificates/` of the run's
//! report directory, each JSON signed (`.minisig`) with `--signing-key`. Prints the paths
//! written on stdout, one a line; says on stderr how many.
//!
//! Refused (exit 2, nothing written): a power-cycle run (it sanitized nothing), a run with no
//! audit chain (a certificate cites the chain head), a signing key that can't be used.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;

use super::report::{default_dir, resolve};
use super::runs::open_existing;
use crate::certificate::{self, Issued, NotIssued};
use crate::cli::CertificatesArgs;
use crate::exit::{Early, Status};
use crate::inert::Inert;
use crate::output::say;
use crate::signing;

pub fn run(args: &CertificatesArgs) -> anyhow::Result<Status> {
    // Loaded first: a key that can't be used refuses the command before anything is written.
    let key = match &args.signing_key {
        Some(path) => {
            signing::configured(Some(path)).map_err(|e| Early::refused(format!("{e:#}")))?
        }
        None => None,
    };
    let mut db = open_existing(&args.db)?;
    // Issuing seals a checkpoint into the run's chain: a merged audit keeps its sites' chains
    // as they were.
    crate::engine::guard::refuse_archive(&db, &args.db, "certificates")?;
    let run_id = resolve(&db, &args.run, &args.db)?;
    let record = db
        .load_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    let dir: PathBuf = match &args.out {
        Some(dir) => dir.clone(),
        None => default_dir(&run_id)?,
    };
    let issued = match certificate::issue(&mut db, &record, &dir, key.as_ref())? {
        Ok(issued) => issued,
        Err(NotIssued::PowerCycle) => {
            return Err(Early::refused(format!(
                "run {} was a power cycle: it restarts devices and erases nothing, so it has no certificates of sanitization",
                Inert(&run_id)
            ))
            .into());
        }
        Err(NotIssued::Broken(first)) => {
            say!(
                "fleetreset: run {} does not verify against its audit chain ({first}); no certificate was written. `fleetreset audit verify --run {}` lists every finding",
                Inert(&run_id),
                Inert(&run_id)
            );
            return Ok(Status::DeviceFailures);
        }
        Err(NotIssued::NoChain) => {
            return Err(Early::refused(format!(
                "run {} has no audit chain: a certificate cites the chain head, so none can be written",
                Inert(&run_id)
            ))
            .into());
        }
    };
    tell(&issued, &record);
    let mut text = String::new();
    for path in &issued.written.files {
        text.push_str(&path.display().to_string());
        text.push('\n');
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Status::Success)
}

/// What the bundle holds, on stderr.
pub fn tell(issued: &Issued, record: &crate::store::RunRecord) {
    let open = record.jobs.iter().filter(|j| j.outcome.is_none()).count();
    if open > 0 {
        say!(
            "fleetreset: warning: {open} device(s) of run {} have no outcome yet; they are listed as not sanitized",
            Inert(&record.run.id)
        );
    }
    say!(
        "{} certificate(s), {} device(s) not sanitized, {}; chain head {}",
        issued.bundle.certificates.len(),
        issued.bundle.not_sanitized.len(),
        if issued.bundle.signature.signed {
            "signed"
        } else {
            "unsigned"
        },
        issued.head
    );
}
