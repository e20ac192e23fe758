//! `audit verify`'s third check: the heads kept elsewhere. A head given with `--expect` and
//! every sealed checkpoint must be in the chain, at their length, and a checkpoint's signature
//! must verify with the key given. A chain cut short, or rewritten from scratch, passes the
//! other checks and fails here.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::ChainHead;
use super::verify::{Entry, Expected, Problem, SignatureCheck, Tamper, describe};
use crate::inert::Inert;
use crate::store::StoreError;

/// The records after the first `after`, named: at most [`NAMED`].
pub(super) fn named(entries: &[Entry], after: u64) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.n > after)
        .take(NAMED)
        .map(|e| format!("record {}: {}", e.n, describe(e.kind, &e.reference)))
        .collect()
}

/// How many added or unsigned records a verdict names.
const NAMED: usize = 8;

pub(super) fn check_expected(
    expected: &Expected,
    hashes: &[(u64, String)],
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    let last = hashes.last().map_or(0, |(n, _)| *n);
    let found = hashes
        .iter()
        .find(|(n, hash)| *hash == expected.hash && expected.records.is_none_or(|r| r == *n));
    if let Some((n, _)) = found {
        return Some(last - n);
    }
    let (tamper, detail) = match expected.records {
        Some(records) if records > last => (
            Tamper::Truncated,
            format!(
                "the head you kept covers {records} records, the chain has {last}: records were cut off its end"
            ),
        ),
        _ => (
            Tamper::HeadMismatch,
            "the chain does not contain the head you kept: records up to it were changed and the chain rewritten".into(),
        ),
    };
    problems.push(Problem {
        position: expected.records.unwrap_or(last).min(last),
        tamper,
        record: format!("expected head {}", expected.hash),
        detail,
    });
    None
}

pub(super) fn check_checkpoints(
    conn: &Connection,
    run_id: &str,
    hashes: &[(u64, String)],
    signature: Option<SignatureCheck<'_>>,
    problems: &mut Vec<Problem>,
) -> Result<(usize, usize, u64), StoreError> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = conn
        .prepare(
            "SELECT n, head, at, why, signature FROM checkpoints WHERE run_id = ?1 ORDER BY n, at",
        )?
        .query_map(params![run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let by_n: HashMap<u64, &str> = hashes.iter().map(|(n, h)| (*n, h.as_str())).collect();
    let last = hashes.last().map_or(0, |(n, _)| *n);
    let mut signed = 0;
    // The longest chain a verified signature covers.
    let mut signed_to = 0;
    for (n, head, at, why, sig) in &rows {
        let n = u64::try_from(*n).unwrap_or(0);
        let record = format!("checkpoint {n} ({}, {})", Inert(why), Inert(at));
        match by_n.get(&n) {
            None if n > last => problems.push(Problem {
                position: last,
                tamper: Tamper::Truncated,
                record,
                detail: format!(
                    "sealed at {n} records, but the chain has {last}: records were cut off its end"
                ),
            }),
            Some(hash) if *hash == head => {}
            _ => problems.push(Problem {
                position: n,
                tamper: Tamper::HeadMismatch,
                record,
                detail: format!("sealed head {}, the chain's is not that", Inert(head)),
            }),
        }
        if let (Some(check), Some(sig)) = (signature, sig) {
            let sealed = ChainHead {
                run_id: run_id.to_string(),
                records: n,
                hash: head.clone(),
            };
            if check(&sealed, sig) {
                signed += 1;
                signed_to = signed_to.max(n);
            } else {
                problems.push(Problem {
                    position: n,
                    tamper: Tamper::BadSignature,
                    record: format!("checkpoint {n} ({}, {})", Inert(why), Inert(at)),
                    detail: "its signature does not verify with the public key given".into(),
                });
            }
        }
    }
    Ok((rows.len(), signed, signed_to))
}
