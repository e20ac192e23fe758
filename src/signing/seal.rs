//! Sealing a run's chain head: a checkpoint in the database, signed when a key is configured,
//! and the head as a file beside the reports (`chain-head.txt`, with `chain-head.txt.minisig`)
//! that anyone can check with `minisign -V` and keep elsewhere.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Signer, SigningError, default_key_path, public_key_path};
use crate::store::{ChainHead, Db, Seal, Signed};

/// The key a command signs with, and where its public half is (named on certificates).
#[derive(Debug)]
pub struct SigningKey {
    pub signer: Signer,
    pub public_key: PathBuf,
}

/// The key to sign with: `explicit` (a `--signing-key`), which must load; else the default key
/// ([`default_key_path`]: `$FLEETRESET_SIGNING_KEY`, or the one `fleetreset keygen` makes), when
/// it exists; else none, and what is written is unsigned. A key that exists but can't be used
/// (readable by others, malformed) is an error either way: refused before anything is sent,
/// rather than a run that ends unsigned by surprise.
pub fn configured(explicit: Option<&Path>) -> anyhow::Result<Option<SigningKey>> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let path = default_key_path();
            match std::fs::symlink_metadata(&path) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                _ => path,
            }
        }
    };
    let signer = Signer::load(&path)?;
    Ok(Some(SigningKey {
        signer,
        public_key: public_key_path(&path),
    }))
}

/// The trusted comment of a head's signature: what `minisign -V` prints as verified.
pub fn head_comment(head: &ChainHead) -> String {
    format!(
        "fleetreset audit chain head run {} records {} head {}",
        head.run_id, head.records, head.hash
    )
}

/// Seals the run's current chain head as a checkpoint for `why`, signed by `key` when given.
/// `None` when the run has no chain (recorded before fleetreset chained its audit).
pub fn seal(
    db: &mut Db,
    run_id: &str,
    why: Seal,
    key: Option<&SigningKey>,
) -> anyhow::Result<Option<ChainHead>> {
    let Some(head) = db
        .chain_head(run_id)
        .context("reading the run's audit chain head")?
    else {
        return Ok(None);
    };
    let signed = key
        .map(|k| -> Result<Signed, SigningError> {
            Ok(Signed {
                key_id: k.signer.key_id(),
                signature: k
                    .signer
                    .sign(head.statement().as_bytes(), &head_comment(&head))?,
            })
        })
        .transpose()
        .context("signing the run's chain head")?;
    db.record_checkpoint(&head, why, chrono::Utc::now(), signed.as_ref())
        .context("recording the run's chain head as a checkpoint")?;
    Ok(Some(head))
}

/// Writes `dir/chain-head.txt` (the head's statement) and, with a key, its signature.
pub fn write_head(
    dir: &Path,
    head: &ChainHead,
    key: Option<&SigningKey>,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(HEAD_FILE);
    super::write_signed(
        &path,
        head.statement().as_bytes(),
        key.map(|k| &k.signer),
        &head_comment(head),
    )?;
    Ok(path)
}

/// The head file beside a run's reports.
pub const HEAD_FILE: &str = "chain-head.txt";

/// A check of checkpoint signatures by one public key, for `audit verify --key`.
pub fn checkpoint_check(public_key_text: String) -> impl Fn(&ChainHead, &str) -> bool {
    move |head: &ChainHead, signature: &str| {
        super::verify(&public_key_text, head.statement().as_bytes(), signature).is_ok()
    }
}
