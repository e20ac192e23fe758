//! `fleetreset certificates RUN`: certificates of sanitization for a factory-reset run, one per
//! sanitized device and one bundle, as JSON, Markdown and HTML in `certificates/` of the run's
//! report directory. Prints the paths written on stdout, one a line; says on stderr how many.
//!
//! Refused (exit 2, nothing written): a power-cycle run (it sanitized nothing), a run with no
//! audit chain (a certificate cites the chain head), and `--signing-key` while this build has
//! no signer.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::report::{default_dir, resolve};
use super::runs::open_existing;
use crate::certificate::{self, Sign, SignerInfo, Written};
use crate::cli::CertificatesArgs;
use crate::exit::{Early, Status};
use crate::inert::Inert;
use crate::model::Action;
use crate::output::say;
use crate::store::{ChainHead, RunRecord};

/// A signer for the JSON files: who signs, and the function that signs one file's bytes.
pub struct Signer<'a> {
    pub info: SignerInfo,
    pub sign: Sign<'a>,
}

pub fn run(args: &CertificatesArgs) -> anyhow::Result<Status> {
    if let Some(key) = &args.signing_key {
        // INTEGRATION POINT (`crate::signing`, on its own branch): load the key here with
        // `signing::Signer::load(key)`, then pass
        // `Some(Signer { info: SignerInfo { key_id, public_key_file }, sign: &|data, comment| signer.sign(data, comment) })`
        // to `certify` below instead of `None`. Until then only `--unsigned` is available.
        return Err(Early::refused(format!(
            "cannot sign with {}: this build of fleetreset has no signer; give --unsigned, or sign the JSON files with minisign yourself",
            key.display()
        ))
        .into());
    }
    let db = open_existing(&args.db)?;
    let run_id = resolve(&db, &args.run, &args.db)?;
    let record = db
        .load_run(&run_id)
        .with_context(|| format!("cannot read run {run_id} from {}", args.db.display()))?;
    if record.run.action != Action::FactoryReset {
        return Err(Early::refused(format!(
            "run {} was a power cycle: it restarts devices and erases nothing, so it has no certificates of sanitization",
            Inert(&run_id)
        ))
        .into());
    }
    let head = db
        .chain_head(&run_id)
        .with_context(|| format!("cannot read the audit chain of run {run_id}"))?
        .ok_or_else(|| {
            Early::refused(format!(
                "run {} has no audit chain: a certificate cites the chain head, so none can be written",
                Inert(&run_id)
            ))
        })?;
    let dir: PathBuf = match &args.out {
        Some(dir) => dir.clone(),
        None => default_dir(&run_id)?,
    };
    let written = certify(&record, &head, &dir, None)?;
    let mut text = String::new();
    for path in &written.files {
        text.push_str(&path.display().to_string());
        text.push('\n');
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    Ok(Status::Success)
}

/// Builds the run's bundle and writes it into `dir/certificates/`, signed by `signer` when
/// there is one; tells people on stderr what it holds.
pub fn certify(
    record: &RunRecord,
    head: &ChainHead,
    dir: &Path,
    signer: Option<Signer<'_>>,
) -> anyhow::Result<Written> {
    let (info, sign) = match signer {
        Some(s) => (Some(s.info), Some(s.sign)),
        None => (None, None),
    };
    let bundle = certificate::build(record, head, env!("CARGO_PKG_VERSION"), info);
    let written = certificate::write(dir, &bundle, sign)?;
    let open = record.jobs.iter().filter(|j| j.outcome.is_none()).count();
    if open > 0 {
        say!(
            "fleetreset: warning: {open} device(s) of run {} have no outcome yet; they are listed as not sanitized",
            Inert(&record.run.id)
        );
    }
    say!(
        "{} certificate(s), {} device(s) not sanitized, {}; chain head {}",
        bundle.certificates.len(),
        bundle.not_sanitized.len(),
        if sign.is_some() { "signed" } else { "unsigned" },
        head
    );
    Ok(written)
}
