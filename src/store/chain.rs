//! The audit chain: every record a report relies on, hashed in write order, per run (see
//! migration 5 in `schema`).

use std::fmt;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, StoreError};

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

impl Db {
    /// The run's chain head, `None` while its chain is empty.
    pub fn chain_head(&self, run_id: &str) -> Result<Option<ChainHead>, StoreError> {
        let head = self
            .conn
            .query_row(
                "SELECT n, hash FROM chain WHERE run_id = ?1 ORDER BY n DESC LIMIT 1",
                params![run_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        Ok(head.map(|(n, hash)| ChainHead {
            run_id: run_id.to_string(),
            records: n as u64,
            hash,
        }))
    }
}
