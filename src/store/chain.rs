//! The audit chain: every record a report relies on, hashed in write order, one chain per run
//! (migration 5 in `schema` documents the table and the hash).
//!
//! Each write of a chained record (the run, its status, a job, an outcome, an identity
//! verdict, an event, a snapshot) appends an entry in the same transaction as the row, so the
//! chain and the rows commit or roll back together. An entry holds the SHA-256 digest of the
//! record's canonical encoding ([`encode`]); the chain hash links it to every entry before it,
//! with the record's kind as a domain tag (RFC 6962 style), so an entry of one kind can never
//! stand for a record of another. `fleetreset audit verify` ([`verify`]) recomputes it all from
//! the rows.
//!
//! A chain that anyone with `sqlite3` rewrote from scratch is still self-consistent: what
//! catches that is a head kept elsewhere. Every report and certificate prints its run's head,
//! and [`Db::record_checkpoint`] seals (and, with a key, signs) it at the moments people rely on.

pub(crate) mod encode;
mod heads;
pub(crate) mod merged;
pub(crate) mod record;
mod replay;
mod rows;
pub mod verify;

use std::fmt;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Db, StoreError, Timestamp, time};

/// What a chain entry stands for. The words are stored in `chain.kind` and hashed into every
/// entry's tag, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The run as created (action, inventory, parameters, operator, tool, start).
    Run,
    /// The run's status and end time.
    Status,
    /// A job as the inventory described it.
    Job,
    /// A job's outcome, reason, detail and end time.
    Outcome,
    /// Whether the device proved its identity.
    Identity,
    Event,
    Snapshot,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Run,
        Kind::Status,
        Kind::Job,
        Kind::Outcome,
        Kind::Identity,
        Kind::Event,
        Kind::Snapshot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Status => "status",
            Kind::Job => "job",
            Kind::Outcome => "outcome",
            Kind::Identity => "identity",
            Kind::Event => "event",
            Kind::Snapshot => "snapshot",
        }
    }

    pub fn parse(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

/// The domain tag every chain hash starts with, before the kind's word and a zero byte.
pub const TAG_PREFIX: &[u8] = b"fleetreset/chain/v1/";

pub(crate) type Hash = [u8; 32];

/// SHA-256 of a record's canonical encoding.
pub(crate) fn digest(canonical: &str) -> Hash {
    Sha256::digest(canonical.as_bytes()).into()
}

/// `SHA-256(TAG_PREFIX || kind || 0x00 || previous || digest)`.
pub(crate) fn link(kind: Kind, previous: &Hash, digest: &Hash) -> Hash {
    Sha256::new()
        .chain_update(TAG_PREFIX)
        .chain_update(kind.as_str().as_bytes())
        .chain_update([0u8])
        .chain_update(previous)
        .chain_update(digest)
        .finalize()
        .into()
}

pub(crate) fn to_hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Appends one record to its run's chain, inside the caller's transaction.
pub(crate) fn append(
    conn: &Connection,
    run_id: &str,
    kind: Kind,
    reference: &str,
    canonical: &str,
) -> Result<(), StoreError> {
    let (n, previous) = match last_entry(conn, run_id)? {
        // A run recorded before fleetreset chained its audit (schema version 4 or older),
        // written to again (resumed, confirmed, sampled): its records as they stand now enter
        // the chain first, so that what follows rests on them.
        None if kind != Kind::Run => {
            record::adopt(conn, run_id)?;
            // The record that set this off was written already, so adopting chained it.
            let chained: Option<String> = conn
                .prepare_cached(
                    "SELECT digest FROM chain WHERE run_id = ?1 AND kind = ?2 AND ref = ?3
                     ORDER BY n DESC LIMIT 1",
                )?
                .query_row(params![run_id, kind.as_str(), reference], |r| r.get(0))
                .optional()?;
            if chained.as_deref() == Some(to_hex(&digest(canonical)).as_str()) {
                return Ok(());
            }
            return append(conn, run_id, kind, reference, canonical);
        }
        None => (1, [0u8; 32]),
        Some((n, hex)) => {
            let previous = from_hex(&hex).ok_or_else(|| StoreError::ChainDamaged {
                run_id: run_id.to_string(),
                n,
            })?;
            (n + 1, previous)
        }
    };
    let digest = digest(canonical);
    let hash = link(kind, &previous, &digest);
    conn.prepare_cached(
        "INSERT INTO chain (run_id, n, kind, ref, digest, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        run_id,
        n,
        kind.as_str(),
        reference,
        to_hex(&digest),
        to_hex(&hash)
    ])?;
    Ok(())
}

/// The run's last chain entry: its position and hash.
fn last_entry(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT n, hash FROM chain WHERE run_id = ?1 ORDER BY n DESC LIMIT 1")?
        .query_row(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// The reference of a snapshot's entries: `device/phase`.
pub(crate) fn snapshot_ref(device_id: &str, phase: &str) -> String {
    format!("{device_id}/{phase}")
}

/// A run's chain as it stands: how many records it covers and the hash over all of them.
/// Printed on every report and certificate as `<records>:<hash>`, the form `fleetreset audit
/// verify --expect` takes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub run_id: String,
    /// Records in the chain, from 1.
    pub records: u64,
    /// Lower-case hex SHA-256 chain hash after the last record.
    pub hash: String,
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.records, self.hash)
    }
}

impl ChainHead {
    /// The text a checkpoint signs: which run, how many records, the hash. Plain lines, so a
    /// person checking a signature with `minisign -V` sees what was signed.
    pub fn statement(&self) -> String {
        format!(
            "fleetreset audit chain head\nrun: {}\nrecords: {}\nhead: {}\n",
            self.run_id, self.records, self.hash
        )
    }
}

/// Why a checkpoint was sealed (`checkpoints.why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seal {
    /// The run's process ended it (finished, stopped or interrupted).
    RunEnded,
    /// A technician's confirmation was recorded.
    Confirmed,
    /// A verification sample was recorded.
    Sampled,
    /// Certificates were written.
    Certified,
}

impl Seal {
    pub fn as_str(self) -> &'static str {
        match self {
            Seal::RunEnded => "run_ended",
            Seal::Confirmed => "confirmed",
            Seal::Sampled => "sampled",
            Seal::Certified => "certified",
        }
    }
}

/// A signature of a head's [`ChainHead::statement`], in minisign's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signer's minisign key id (hex).
    pub key_id: String,
    /// The whole `.minisig` text.
    pub signature: String,
}

/// A sealed head, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub records: u64,
    pub head: String,
    pub at: String,
    pub why: String,
    pub key_id: Option<String>,
    pub signature: Option<String>,
}

impl Db {
    /// The run's chain head, `None` while its chain is empty.
    pub fn chain_head(&self, run_id: &str) -> Result<Option<ChainHead>, StoreError> {
        Ok(last_entry(&self.conn, run_id)?.map(|(n, hash)| ChainHead {
            run_id: run_id.to_string(),
            records: u64::try_from(n).unwrap_or(0),
            hash,
        }))
    }

    /// Seals `head` (read with [`Db::chain_head`], signed by the caller or not) as a
    /// checkpoint. Sealing the same head for the same reason twice keeps the first.
    pub fn record_checkpoint(
        &mut self,
        head: &ChainHead,
        why: Seal,
        at: Timestamp,
        signed: Option<&Signed>,
    ) -> Result<(), StoreError> {
        super::db::durably(&mut self.conn, |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO checkpoints (run_id, n, head, at, why, key_id, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    head.run_id,
                    i64::try_from(head.records).unwrap_or(i64::MAX),
                    head.hash,
                    time::format(&at),
                    why.as_str(),
                    signed.map(|s| s.key_id.as_str()),
                    signed.map(|s| s.signature.as_str()),
                ],
            )?;
            Ok(())
        })
    }

    /// The run's checkpoints, oldest first.
    pub fn checkpoints(&self, run_id: &str) -> Result<Vec<Checkpoint>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT n, head, at, why, key_id, signature FROM checkpoints
             WHERE run_id = ?1 ORDER BY n, at",
        )?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok(Checkpoint {
                    records: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    head: r.get(1)?,
                    at: r.get(2)?,
                    why: r.get(3)?,
                    key_id: r.get(4)?,
                    signature: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;
