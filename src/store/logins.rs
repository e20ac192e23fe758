//! The TPAP logins devices refused, as earlier runs recorded them (`probe_failed` events whose
//! detail carries the device's `tpap` lockout counters): what a new run's login gate reads
//! before it spends one of a device's last attempts.
//!
//! Cost: the refusals come from the partial index `events_probe_failed` (migration 7), and the
//! "logged in since" check runs once for each device of the run that has a refusal on record,
//! over the runs recorded after it; a database without refusals costs one empty index read.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;

use super::columns::timestamp;
use super::{Db, StoreError, Timestamp, mac_digits};
use crate::inventory::MacAddr;

/// A device's refusal of a TPAP login, as its job recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginRefusal {
    pub run_id: String,
    /// The inventory id the device had in that run.
    pub device_id: String,
    pub at: Timestamp,
    /// `remainAttempts`: logins the device still allowed before it locks.
    pub remain_attempts: Option<u64>,
    /// `lockedMinute`: minutes it stays locked, when it was.
    pub locked_minute: Option<u64>,
}

/// One refusal with where it sits in the database's order.
struct Refused {
    refusal: LoginRefusal,
    mac: Option<String>,
    /// `runs.rowid` of its run: runs in the order they were recorded here.
    run_order: i64,
}

impl Db {
    /// For each `(inventory id, MAC)` of `devices`, the TPAP login refusal recorded last for
    /// that device, unless a later run logged in to it (a job of it with a `pre` snapshot,
    /// which only a login that went through writes). A device is known by its MAC where both
    /// rows have one (a replacement that took over an inventory id is another device), by its
    /// inventory id otherwise. Keyed by inventory id.
    ///
    /// The refusals are read through the partial index `events_probe_failed`, whatever became
    /// of their jobs: a run that died after recording a refusal and before its job's outcome
    /// counts too.
    pub fn last_tpap_refusals(
        &self,
        devices: &[(&str, Option<MacAddr>)],
    ) -> Result<HashMap<String, LoginRefusal>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.run_id, e.device_id, j.mac, e.at,
                    json_extract(e.detail, '$.tpap.remain_attempts'),
                    json_extract(e.detail, '$.tpap.locked_minute'), r.rowid
             FROM events e
             JOIN jobs j ON j.run_id = e.run_id AND j.device_id = e.device_id
             JOIN runs r ON r.id = e.run_id
             WHERE e.kind = 'probe_failed'
               AND json_extract(e.detail, '$.reason') = 'auth_failed'
               AND json_type(e.detail, '$.tpap') = 'object'
             ORDER BY e.id",
        )?;
        let refused = stmt
            .query_map([], |r| {
                Ok(Refused {
                    refusal: LoginRefusal {
                        run_id: r.get(0)?,
                        device_id: r.get(1)?,
                        at: timestamp(r, 3)?,
                        remain_attempts: r.get::<_, Option<i64>>(4)?.and_then(to_count),
                        locked_minute: r.get::<_, Option<i64>>(5)?.and_then(to_count),
                    },
                    mac: r
                        .get::<_, Option<String>>(2)?
                        .as_deref()
                        .and_then(mac_digits),
                    run_order: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = HashMap::new();
        if refused.is_empty() {
            return Ok(out);
        }
        // The latest refusal by MAC, and by inventory id among refusals of rows without one
        // (or, for a device without a MAC, any row with its id).
        let mut by_mac: HashMap<&str, &Refused> = HashMap::new();
        let mut by_id_no_mac: HashMap<&str, &Refused> = HashMap::new();
        let mut by_id: HashMap<&str, &Refused> = HashMap::new();
        for r in &refused {
            match &r.mac {
                Some(m) => {
                    by_mac.insert(m.as_str(), r);
                }
                None => {
                    by_id_no_mac.insert(r.refusal.device_id.as_str(), r);
                }
            }
            by_id.insert(r.refusal.device_id.as_str(), r);
        }
        for (id, mac) in devices {
            let mac = mac.and_then(|m| mac_digits(&m.to_string()));
            let last = match &mac {
                Some(m) => [by_mac.get(m.as_str()), by_id_no_mac.get(id)]
                    .into_iter()
                    .flatten()
                    .max_by_key(|r| r.run_order),
                None => by_id.get(id),
            };
            let Some(last) = last else {
                continue;
            };
            if !self.logged_in_after(id, mac.as_deref(), last.run_order)? {
                out.insert((*id).to_string(), last.refusal.clone());
            }
        }
        Ok(out)
    }

    /// Whether a run recorded after `run_order` logged in to the device: by `mac` when the
    /// job's row has a MAC too, by inventory `id` otherwise.
    fn logged_in_after(
        &self,
        id: &str,
        mac: Option<&str>,
        run_order: i64,
    ) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (
                 SELECT 1 FROM runs r
                 JOIN jobs j ON j.run_id = r.id
                 JOIN snapshots s ON s.run_id = j.run_id AND s.device_id = j.device_id
                                 AND s.phase = 'pre'
                 WHERE r.rowid > ?1
                   AND CASE WHEN ?3 IS NOT NULL AND j.mac IS NOT NULL
                            THEN upper(replace(replace(j.mac, ':', ''), '-', '')) = ?3
                            ELSE j.device_id = ?2 END)",
        )?;
        Ok(stmt.query_row(params![run_order, id, mac], |r| r.get(0))?)
    }
}

fn to_count(n: i64) -> Option<u64> {
    u64::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusals are found through the partial index, not a scan of every event: a large
    /// audit must not make every run start slower.
    #[test]
    fn the_refusals_are_read_through_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("a.db")).unwrap();
        let plan: Vec<String> = db
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT e.id FROM events e
                 JOIN jobs j ON j.run_id = e.run_id AND j.device_id = e.device_id
                 WHERE e.kind = 'probe_failed' ORDER BY e.id",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("events_probe_failed")),
            "{plan:?}"
        );
        assert_eq!(
            db.last_tpap_refusals(&[("plug", None)]).unwrap(),
            HashMap::new()
        );
    }
}
