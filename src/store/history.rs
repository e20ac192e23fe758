//! `fleetreset history DEVICE`: every job of every run that touched one device, found by its
//! inventory id or by its MAC, oldest run first.

use rusqlite::params;
use serde::Serialize;

use super::columns::{opt_word, timestamp, word};
use super::{Db, RunStatus, StoreError, Timestamp, schema};
use crate::model::{Action, Method, Outcome, Reason};

/// One job that touched the device, with its run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub run_id: String,
    /// When the run started (UTC, as stored).
    pub run_started_at: Timestamp,
    pub action: Action,
    /// The run's status.
    pub status: RunStatus,
    pub operator: String,
    /// The device's inventory id in that run.
    pub device_id: String,
    /// Its position in that run's inventory, from 0.
    pub seq: u32,
    pub mac: Option<String>,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub host: String,
    pub method: Method,
    pub outcome: Option<Outcome>,
    pub reason: Option<Reason>,
    pub detail: Option<String>,
    /// A verifier's sample last found the device still set up (`sample_checked` failed): it
    /// has no certificate, whatever its outcome.
    pub refuted: bool,
    /// In a merged audit, the site whose database the run came from (`site` is the
    /// inventory's column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_site: Option<String>,
}

/// `text` as a MAC's 12 hex digits, upper case, when it is one (separators `:` and `-`
/// ignored, as the inventory reads them); `None` otherwise.
pub fn mac_digits(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-'))
        .collect::<String>()
        .to_ascii_uppercase();
    (digits.len() == 12 && digits.chars().all(|c| c.is_ascii_hexdigit())).then_some(digits)
}

impl Db {
    /// Every job whose `device_id` is `device`, or whose MAC is the MAC `device` spells (case
    /// and `:`/`-` separators aside), oldest run first (by when each run was recorded in this
    /// database), then in inventory order.
    pub fn device_history(&self, device: &str) -> Result<Vec<HistoryRow>, StoreError> {
        let mac = mac_digits(device);
        // A database opened to read may be older than the merged audit's tables.
        let merged_site = if schema::has_table(&self.conn, "merged_runs")? {
            "(SELECT m.site FROM merged_runs m WHERE m.run_id = r.id)"
        } else {
            "NULL"
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.id, r.started_at, r.action, r.status, r.operator,
                    j.device_id, j.seq, j.mac, j.site, j.unit, j.host, j.method,
                    j.outcome, j.reason, j.detail,
                    COALESCE((SELECT json_extract(e.detail, '$.result') = 'failed' FROM events e
                               WHERE e.run_id = j.run_id AND e.device_id = j.device_id
                                 AND e.kind = 'sample_checked'
                               ORDER BY e.id DESC LIMIT 1), 0),
                    {merged_site}
             FROM jobs j JOIN runs r ON r.id = j.run_id
             WHERE j.device_id = ?1
                OR (?2 IS NOT NULL AND j.mac IS NOT NULL
                    AND upper(replace(replace(j.mac, ':', ''), '-', '')) = ?2)
             ORDER BY r.rowid, j.seq"
        ))?;
        let rows = stmt.query_map(params![device, mac], |r| {
            Ok(HistoryRow {
                run_id: r.get(0)?,
                run_started_at: timestamp(r, 1)?,
                action: word(r, 2)?,
                status: word(r, 3)?,
                operator: r.get(4)?,
                device_id: r.get(5)?,
                seq: r.get(6)?,
                mac: r.get(7)?,
                site: r.get(8)?,
                unit: r.get(9)?,
                host: r.get(10)?,
                method: word(r, 11)?,
                outcome: opt_word(r, 12)?,
                reason: opt_word(r, 13)?,
                detail: r.get(14)?,
                refuted: r.get(15)?,
                merged_site: r.get(16)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::mac_digits;

    #[test]
    fn a_mac_is_its_digits_whatever_the_case_and_separators() {
        for text in [
            "50:c7:bf:01:02:0a",
            "50-C7-BF-01-02-0A",
            "50c7bf01020A",
            " 50:C7:BF:01:02:0A ",
        ] {
            assert_eq!(mac_digits(text).as_deref(), Some("50C7BF01020A"), "{text}");
        }
        for text in ["plug-1", "50:c7:bf:01:02", "50:c7:bf:01:02:0g", ""] {
            assert_eq!(mac_digits(text), None, "{text}");
        }
    }
}
