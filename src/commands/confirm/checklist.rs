//! A returned checklist: `work-orders.csv` with the technicians' columns filled in, saved as
//! CSV, .xlsx or .ods, read by the inventory's own readers ([`crate::inventory::read_table`]).
//!
//! Columns are found by name (`id`, `confirmed_by`, optional `confirmed_at`, `note` and `run`),
//! so a spreadsheet that moved or dropped columns still reads. Every row is checked before
//! anything is recorded, and every problem is reported at once as `FILE:LINE: message`.

use std::path::Path;

use crate::inert::Inert;
use crate::inventory::MacAddr;
use crate::inventory::ReadOptions;
use crate::report::work_orders::{ACTION, BY, ID, MAC, NOTE, RUN, SAID_AT, unneutralised};
use crate::store::RunRecord;

/// One row the technician signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub line: u64,
    pub device_id: String,
    pub by: String,
    pub said_at: Option<String>,
    pub note: Option<String>,
}

/// What the checklist holds: the signed rows, and how many rows were left unsigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub signed: Vec<Signed>,
    pub unsigned: usize,
    /// `FILE` or `FILE[SHEET]`, for messages.
    pub location: String,
}

/// Reads `path` and checks every signed row against `record`: the device is in the run and is
/// `manual_required`, no device is signed twice, and a row's `action` and `mac`, when given,
/// are the run's (a list of another run with its `run` column dropped says another action). `by` signs rows that give a
/// `confirmed_at` and no `confirmed_by`. `Err` holds every problem, one line each.
pub fn read(
    path: &Path,
    sheet: Option<&str>,
    record: &RunRecord,
    by: Option<&str>,
) -> anyhow::Result<Result<Returned, Vec<String>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the checklist {}: {e}", path.display()))?;
    let options = ReadOptions {
        sheet: sheet.map(str::to_string),
        ..ReadOptions::default()
    };
    let table = crate::inventory::read_table(path, &bytes, &options)
        .map_err(|e| anyhow::anyhow!("cannot read the checklist {}: {e}", path.display()))?;
    let location = match &table.sheet {
        Some(s) => format!("{}[{}]", path.display(), Inert(s)),
        None => path.display().to_string(),
    };
    let mut problems = Vec::new();
    let mut rows = table.rows.into_iter();
    let Some((header_line, header)) = rows.next() else {
        return Ok(Err(vec![format!(
            "{location}:1: the checklist is empty; expected work-orders.csv's header row"
        )]));
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(id_col), Some(by_col)) = (column(ID), column(BY)) else {
        return Ok(Err(vec![format!(
            "{location}:{header_line}: the checklist needs the columns {ID} and {BY} (as work-orders.csv has them)"
        )]));
    };
    let (at_col, note_col, run_col) = (column(SAID_AT), column(NOTE), column(RUN));
    let (mac_col, action_col) = (column(MAC), column(ACTION));
    let cell = |fields: &[String], col: Option<usize>| -> Option<String> {
        let text = fields.get(col?)?.trim();
        (!text.is_empty()).then(|| unneutralised(text).to_string())
    };
    let default_by = by
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    let mut signed: Vec<Signed> = Vec::new();
    let mut unsigned = 0;
    for (line, fields) in rows {
        let at = |msg: String| format!("{location}:{line}: {msg}");
        if let Some(run) = cell(&fields, run_col)
            && run != record.run.id
        {
            problems.push(at(format!(
                "this row is of run {}, not {}",
                Inert(&run),
                record.run.id
            )));
            continue;
        }
        let said_at = cell(&fields, at_col);
        let who = cell(&fields, Some(by_col)).or_else(|| said_at.as_ref().and(default_by.clone()));
        let Some(who) = who else {
            unsigned += 1;
            continue;
        };
        let Some(device_id) = cell(&fields, Some(id_col)) else {
            problems.push(at(format!(
                "signed by {}, but names no device (id)",
                Inert(&who)
            )));
            continue;
        };
        if let Some(first) = signed.iter().find(|s| s.device_id == device_id) {
            problems.push(at(format!(
                "{} is signed again (first on line {})",
                Inert(&device_id),
                first.line
            )));
            continue;
        }
        let job = match record.confirmable(&device_id) {
            Ok(job) => job,
            Err(e) => {
                problems.push(at(crate::inert::inert(&e.to_string()).into_owned()));
                continue;
            }
        };
        // A row that says another action or another MAC than the run's is another list's
        // (another run's, its `run` column dropped), or another device: the work it signs
        // for is not this job's.
        if let Some(action) = cell(&fields, action_col)
            && action != record.run.action.as_str()
        {
            problems.push(at(format!(
                "this row is for a {}, but run {} is a {}",
                Inert(&action),
                record.run.id,
                record.run.action
            )));
            continue;
        }
        if let Some(mac) = cell(&fields, mac_col)
            && let Some(known) = job.mac.as_deref().and_then(|m| m.parse::<MacAddr>().ok())
            && mac.parse::<MacAddr>().ok() != Some(known)
        {
            problems.push(at(format!(
                "this row gives {} the MAC {}, but run {} knows it as {known}",
                Inert(&device_id),
                Inert(&mac),
                record.run.id
            )));
            continue;
        }
        signed.push(Signed {
            line,
            device_id,
            by: who,
            said_at,
            note: cell(&fields, note_col),
        });
    }
    if problems.is_empty() {
        Ok(Ok(Returned {
            signed,
            unsigned,
            location,
        }))
    } else {
        Ok(Err(problems))
    }
}
