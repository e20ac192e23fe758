//! The TPAP logins devices refused, as earlier runs recorded them (`probe_failed` events whose
//! detail carries the device's `tpap` lockout counters): what a new run's login gate reads
//! before it spends one of a device's last attempts.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;

use super::columns::timestamp;
use super::{Db, StoreError, Timestamp, mac_digits};

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
    /// that id or MAC, unless a later run logged in to the same device (a job of it with a
    /// `pre` snapshot, which only a login that went through writes). Keyed by inventory id.
    pub fn last_tpap_refusals(
        &self,
        devices: &[(&str, Option<&str>)],
    ) -> Result<HashMap<String, LoginRefusal>, StoreError> {
        // Only jobs that ended auth_failed can hold one, so the jobs table narrows it first.
        let mut stmt = self.conn.prepare(
            "SELECT j.run_id, j.device_id, j.mac, e.at,
                    json_extract(e.detail, '$.tpap.remain_attempts'),
                    json_extract(e.detail, '$.tpap.locked_minute'), r.rowid
             FROM jobs j
             JOIN runs r ON r.id = j.run_id
             JOIN events e ON e.run_id = j.run_id AND e.device_id = j.device_id
             WHERE j.reason = 'auth_failed' AND e.kind = 'probe_failed'
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
        for (id, mac) in devices {
            let mac = mac.and_then(mac_digits);
            let Some(last) = refused
                .iter()
                .rev()
                .find(|r| r.refusal.device_id == *id || (mac.is_some() && r.mac == mac))
            else {
                continue;
            };
            if !self.logged_in_after(id, mac.as_deref(), last.run_order)? {
                out.insert((*id).to_string(), last.refusal.clone());
            }
        }
        Ok(out)
    }

    /// Whether a run recorded after `run_order` logged in to the device `id` or `mac`.
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
                   AND (j.device_id = ?2
                        OR (?3 IS NOT NULL AND j.mac IS NOT NULL
                            AND upper(replace(replace(j.mac, ':', ''), '-', '')) = ?3)))",
        )?;
        Ok(stmt.query_row(params![run_order, id, mac], |r| r.get(0))?)
    }
}

fn to_count(n: i64) -> Option<u64> {
    u64::try_from(n).ok()
}
