//! After a command added records to a run (a confirmation, a sample): seal the run's new chain
//! head as a checkpoint, signed when a key is configured, and say it on stderr for people to
//! keep. What was recorded stands either way: a checkpoint that can't be written is a warning.

use crate::inert::Inert;
use crate::output::say;
use crate::signing::{self, SigningKey};
use crate::store::{Db, Seal};

pub fn sealed(db: &mut Db, run_id: &str, why: Seal, key: Option<&SigningKey>) {
    match signing::seal(db, run_id, why, key) {
        Ok(Some(head)) => say!(
            "fleetreset: run {}: chain head {head} ({}); `fleetreset audit verify --run {} --expect {head}` checks it later",
            Inert(run_id),
            if key.is_some() { "signed" } else { "unsigned" },
            Inert(run_id)
        ),
        Ok(None) => {}
        Err(err) => say!(
            "fleetreset: warning: what was recorded stands, but its chain head could not be sealed: {err:#}"
        ),
    }
}

/// After a confirmation or a sample of a factory-reset run: issue its certificates again where
/// they were issued (`reports/<run id>/certificates/` under the working directory), so the
/// bundle shows the new confirmation or sample. Where there are none, says the command that
/// issues them. What was recorded stands either way.
pub fn reissue(db: &mut Db, run_id: &str, key: Option<&SigningKey>) {
    let Ok(dir) = super::report::default_dir(run_id) else {
        return;
    };
    let hint = format!(
        "`fleetreset certificates {} --signing-key KEY` (or `--unsigned`) issues its certificates with it",
        Inert(run_id)
    );
    if !dir.join("certificates").is_dir() {
        say!("fleetreset: run {}: {hint}", Inert(run_id));
        return;
    }
    let issued = db
        .load_run(run_id)
        .map_err(anyhow::Error::from)
        .and_then(|record| crate::certificate::issue(db, &record, &dir, key));
    match issued {
        Ok(Ok(issued)) => say!(
            "fleetreset: run {}: certificates issued again in {} ({} certificate(s), {})",
            Inert(run_id),
            issued.written.dir.join("certificates").display(),
            issued.bundle.certificates.len(),
            if issued.bundle.signature.signed {
                "signed"
            } else {
                "unsigned"
            }
        ),
        Ok(Err(crate::certificate::NotIssued::PowerCycle)) => {}
        Ok(Err(why)) => say!(
            "fleetreset: warning: run {}: no certificates issued again ({why:?}); {hint}",
            Inert(run_id)
        ),
        Err(err) => say!(
            "fleetreset: warning: run {}: the certificates could not be issued again: {err:#}; {hint}",
            Inert(run_id)
        ),
    }
}
