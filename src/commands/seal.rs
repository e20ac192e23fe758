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
