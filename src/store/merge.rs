//! `fleetreset audit merge`: many sites' audit databases in one, keyed by site, each run's chain
//! still verifiable on its own.
//!
//! A site file is merged whole or not at all, in one transaction: its bytes are hashed, it is
//! opened read-only, and every run's chain is verified (with the checkpoints' signatures when a
//! key is given) in one read transaction before anything is written. Then each run is added,
//! found unchanged, or brought up to date when the merged copy's chain is a prefix of the
//! file's; a run of another site, a chain shorter than the merged copy's or parting from it
//! refuses the file. Rows, chain entries and checkpoints are copied as stored; events get ids
//! of this database, their sites' ids kept in `event_origins`, which the chain reads. What was
//! copied is verified again before the commit.
//!
//! - `plan`: what each run of the file is to the merged audit.
//! - `copy`: the rows, as stored, within the append-only triggers.
//! - `refusal`: why a file was refused.
//! - `archive`: a merged audit as the other commands see it.

mod archive;
mod copy;
mod plan;
mod refusal;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

use rusqlite::{TransactionBehavior, params};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::chain::verify::{SignatureCheck, verify_run};
use super::{ChainHead, Db, StoreError, Timestamp, db::durably, schema, time};

pub use self::archive::SourceRow;
pub use self::plan::How;
pub use self::refusal::Refusal;

/// A site file to merge: the site's name (checked by the caller) and the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    pub site: String,
    pub path: std::path::PathBuf,
}

/// One run of a merged site file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMerged {
    /// Its chain head in the file.
    pub head: ChainHead,
    pub how: How,
    /// Records the merged copy had before (0 for a run added).
    pub had: u64,
}

/// What merging one site file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// Merged, as source `source` (a `sources` row).
    Merged {
        source: i64,
        sha256: String,
        runs: Vec<RunMerged>,
    },
    /// A file with these very bytes was merged before: nothing was written.
    AlreadyMerged(SourceRow),
    /// Refused whole: nothing of it was written.
    Refused(Refusal),
}

/// Hex SHA-256 of the file's bytes.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// An error and every cause under it, on one line.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// `path-wal`, when it holds anything: records the file's bytes don't have.
fn log_beside(path: &Path) -> Option<String> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    match std::fs::metadata(&wal) {
        Ok(meta) if meta.len() > 0 => Some(wal.display().to_string()),
        _ => None,
    }
}

/// The site file opened read-only, or why it can't be merged.
fn open_site(path: &Path) -> Result<Result<Db, Refusal>, StoreError> {
    let db = match Db::open_to_read(path) {
        Ok(db) => db,
        Err(StoreError::NotOurs { detail, .. }) => return Ok(Err(Refusal::NotFleetreset(detail))),
        Err(err) => return Ok(Err(Refusal::Unreadable(causes(&err)))),
    };
    // `open_to_read` takes a database from before version 3 (no application id) as ours;
    // those have no audit chain to verify.
    let id = schema::application_id(&db.conn)?;
    if id != schema::APPLICATION_ID {
        return Ok(Err(Refusal::NotFleetreset(format!(
            "its application id is {:#010x}, not fleetreset's {:#010x}",
            id as u32,
            schema::APPLICATION_ID as u32
        ))));
    }
    if archive::is_merged(&db.conn)? {
        return Ok(Err(Refusal::Merged));
    }
    Ok(Ok(db))
}

impl Db {
    /// Merges one site file into this database (see the module doc). `signature` checks the
    /// file's checkpoints as `audit verify --key` does: every signed one must verify, and at
    /// least one of each run must be signed.
    pub fn merge_site(
        &mut self,
        file: &SiteFile,
        signature: Option<SignatureCheck<'_>>,
        at: Timestamp,
    ) -> Result<Merge, StoreError> {
        if let Some(wal) = log_beside(&file.path) {
            return Ok(Merge::Refused(Refusal::LogBeside { wal }));
        }
        let sha256 = match sha256_file(&file.path) {
            Ok(sha) => sha,
            Err(err) => return Ok(Merge::Refused(Refusal::Unreadable(err.to_string()))),
        };
        if let Some(known) = archive::source_by_sha(&self.conn, &sha256)? {
            return Ok(Merge::AlreadyMerged(known));
        }
        let src = match open_site(&file.path)? {
            Ok(db) => db,
            Err(refusal) => return Ok(Merge::Refused(refusal)),
        };
        // One snapshot of the file for the verification and the copy.
        let read = src.conn.unchecked_transaction()?;
        let mut heads = Vec::new();
        for run_id in src.verifiable_runs()? {
            let verdict = verify_run(&read, &run_id, None, signature)?;
            match (verdict.problems.into_iter().next(), verdict.head) {
                (None, Some(head)) => heads.push(head),
                (Some(problem), _) => {
                    return Ok(Merge::Refused(Refusal::Broken { run_id, problem }));
                }
                // A run with no chain always has a finding saying so.
                (None, None) => unreachable!("a run without a chain verified"),
            }
        }
        let merged = durably(&mut self.conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Decided against what the merged audit holds inside this transaction.
            let mut plans = Vec::with_capacity(heads.len());
            for head in &heads {
                match plan::decide(&tx, &read, &file.site, head)? {
                    Ok(plan) => plans.push(plan),
                    Err(refusal) => return Ok(Merge::Refused(refusal)),
                }
            }
            for plan in &plans {
                if let Err(refusal) = copy::apply(&tx, &read, &file.site, plan)? {
                    return Ok(Merge::Refused(refusal));
                }
            }
            let recorded: Vec<serde_json::Value> = plans
                .iter()
                .map(|p| {
                    json!({
                        "run": p.head.run_id,
                        "records": p.head.records,
                        "head": p.head.hash,
                        "merged": p.how,
                    })
                })
                .collect();
            tx.execute(
                "INSERT INTO sources (site, sha256, path, merged_at, runs, heads)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    file.site,
                    sha256,
                    file.path.display().to_string(),
                    time::format(&at),
                    plans.len() as i64,
                    serde_json::Value::Array(recorded).to_string(),
                ],
            )?;
            let source = tx.last_insert_rowid();
            // What was copied verifies here as the file did, to the same head.
            for plan in plans.iter().filter(|p| p.how != How::Unchanged) {
                let copied = verify_run(&tx, &plan.head.run_id, None, None)?;
                if !copied.intact() || copied.head.as_ref() != Some(&plan.head) {
                    return Ok(Merge::Refused(Refusal::Changed));
                }
            }
            if sha256_file(&file.path).ok().as_deref() != Some(sha256.as_str()) {
                return Ok(Merge::Refused(Refusal::Changed));
            }
            tx.commit()?;
            Ok(Merge::Merged {
                source,
                sha256: sha256.clone(),
                runs: plans
                    .into_iter()
                    .map(|p| RunMerged {
                        head: p.head,
                        how: p.how,
                        had: p.had,
                    })
                    .collect(),
            })
        })?;
        read.finish()?;
        Ok(merged)
    }
}
