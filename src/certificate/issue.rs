//! Issuing a run's certificates: build the bundle against the run's chain head, write it,
//! signed by the configured key when there is one, and seal the head as a `certified`
//! checkpoint. Used by `fleetreset certificates` and at the end of every factory-reset run.

use std::path::Path;

use anyhow::Context;

use super::{Bundle, SignerInfo, Written, build, write};
use crate::model::Action;
use crate::signing::{self, SigningKey};
use crate::store::{ChainHead, Db, RunRecord, Seal};

/// What was issued.
#[derive(Debug)]
pub struct Issued {
    pub bundle: Bundle,
    pub written: Written,
    pub head: ChainHead,
}

impl Issued {
    /// `(device id, href)` of each certificate's HTML page, relative to the run's report
    /// directory, for `report.html`.
    pub fn links(&self) -> Vec<(String, String)> {
        self.bundle
            .certificates
            .iter()
            .map(|c| {
                (
                    c.device.asset_id.clone(),
                    format!("{}/{}.html", super::write::DIR, c.id),
                )
            })
            .collect()
    }
}

/// Why a run gets no certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotIssued {
    /// A power cycle erases nothing.
    PowerCycle,
    /// Recorded before fleetreset chained its audit: a certificate cites the chain head.
    NoChain,
    /// The run's records don't verify against its chain: a certificate would vouch for a
    /// record someone changed. The first finding, as `audit verify` words it.
    Broken(String),
}

/// Issues the certificates of `record`'s run into `dir/certificates/`.
pub fn issue(
    db: &mut Db,
    record: &RunRecord,
    dir: &Path,
    key: Option<&SigningKey>,
) -> anyhow::Result<Result<Issued, NotIssued>> {
    if record.run.action != Action::FactoryReset {
        return Ok(Err(NotIssued::PowerCycle));
    }
    let run_id = &record.run.id;
    let Some(head) = db
        .chain_head(run_id)
        .with_context(|| format!("cannot read the audit chain of run {run_id}"))?
    else {
        return Ok(Err(NotIssued::NoChain));
    };
    let verdict = db
        .verify_chain(run_id, None, None)
        .with_context(|| format!("cannot verify the audit chain of run {run_id}"))?;
    if let Some(first) = verdict.problems.first() {
        return Ok(Err(NotIssued::Broken(format!(
            "record {}: {} {}: {}",
            first.position,
            first.record,
            first.tamper.as_str(),
            first.detail
        ))));
    }
    let info = key.map(|k| SignerInfo {
        key_id: k.signer.key_id(),
        public_key_file: k.public_key.file_name().map_or_else(
            || k.public_key.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
    });
    let bundle = build(record, &head, env!("CARGO_PKG_VERSION"), info);
    let sign = |data: &[u8], comment: &str| -> anyhow::Result<String> {
        let k = key.expect("a signing function only with a key");
        Ok(k.signer.sign(data, comment)?)
    };
    let written = write(dir, &bundle, key.map(|_| &sign as super::Sign<'_>))?;
    signing::seal(db, run_id, Seal::Certified, key)?;
    Ok(Ok(Issued {
        bundle,
        written,
        head,
    }))
}
