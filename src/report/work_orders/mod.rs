//! Work orders: the checklist a technician carries for the devices of a run that ended
//! `manual_required` (no remote path: offline, button-only, or a factory reset with no known
//! command). Grouped by site, then unit; each device with the model's steps for the run's
//! action from the catalog, what to check afterwards, and a line to sign.
//!
//! - `steps`: the catalog's procedures (or conservative generic ones) as numbered steps.
//! - `markdown`, `html`: the checklist as `work-orders.md` and a printable, self-contained
//!   `work-orders.html` (no scripts; every device string escaped).
//! - `csv`: `work-orders.csv`, one row per device with empty `confirmed_by`, `confirmed_at` and
//!   `note` columns: filled in and saved as CSV, .xlsx or .ods, it is what
//!   `fleetreset confirm RUN --from FILE` reads back.

mod csv;
pub(crate) mod html;
mod markdown;
mod steps;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::model::{Action, Outcome};
use crate::store::{JobRow, RunRecord};

pub use self::csv::{
    ACTION, BY, COLUMNS as CSV_COLUMNS, ID, MAC, NOTE, RUN, SAID_AT, unneutralised,
};
pub use self::steps::Steps;

/// The work orders of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkOrders {
    pub run_id: String,
    pub action: Action,
    /// Sites in name order, the devices without a site last.
    pub sites: Vec<Site>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: Option<String>,
    /// Units in name order, the devices without a unit last.
    pub units: Vec<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub name: Option<String>,
    /// In inventory order.
    pub items: Vec<Item>,
}

/// One device a technician has to see to.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub seq: u32,
    pub device_id: String,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub model: Option<String>,
    pub host: String,
    pub mac: Option<String>,
    /// The inventory's `notes` for the device, when the inventory could be read as the run read it.
    pub notes: Option<String>,
    /// Why it needs a person, from the job's outcome.
    pub why: String,
    pub steps: Steps,
}

impl WorkOrders {
    /// The `manual_required` jobs of `record`, grouped and ordered; `notes` by device id.
    pub fn of(record: &RunRecord, notes: &HashMap<String, String>) -> WorkOrders {
        let action = record.run.action;
        let mut items: Vec<Item> = record
            .jobs
            .iter()
            .filter(|j| j.outcome == Some(Outcome::ManualRequired))
            .map(|j| Item {
                seq: j.seq,
                device_id: j.device_id.clone(),
                site: j.site.clone(),
                unit: j.unit.clone(),
                model: j.model.clone(),
                host: j.host.clone(),
                mac: j.mac.clone(),
                notes: notes.get(&j.device_id).cloned(),
                why: why(j),
                steps: Steps::for_model(j.model.as_deref(), action),
            })
            .collect();
        // Named before unnamed, then by name as people count (unit 9 before unit 10), then
        // inventory order.
        items.sort_by(|a, b| {
            let key = |i: &Item| {
                (
                    i.site.is_none(),
                    i.site.as_deref().map(natural),
                    i.unit.is_none(),
                    i.unit.as_deref().map(natural),
                    i.seq,
                )
            };
            key(a).cmp(&key(b))
        });
        let mut sites: Vec<Site> = Vec::new();
        for item in items {
            if sites.last().is_none_or(|s| s.name != item.site) {
                sites.push(Site {
                    name: item.site.clone(),
                    units: Vec::new(),
                });
            }
            let site = sites.last_mut().expect("pushed above");
            if site.units.last().is_none_or(|u| u.name != item.unit) {
                site.units.push(Unit {
                    name: item.unit.clone(),
                    items: Vec::new(),
                });
            }
            site.units
                .last_mut()
                .expect("pushed above")
                .items
                .push(item);
        }
        WorkOrders {
            run_id: record.run.id.clone(),
            action,
            sites,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sites
            .iter()
            .flat_map(|s| &s.units)
            .flat_map(|u| &u.items)
    }
}

/// One run of digits or of other characters in a name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Chunk {
    /// Digits, by value.
    Number(u128),
    /// Other text, case-insensitively.
    Text(String),
}

/// A sort key that orders `Unit 9` before `Unit 10` and `2B` before `10A`, case aside; names
/// that differ only in case or leading zeros then go as written.
fn natural(name: &str) -> (Vec<Chunk>, String) {
    let mut chunks = Vec::new();
    let mut rest = name;
    while let Some(first) = rest.chars().next() {
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        chunks.push(match part.parse::<u128>() {
            Ok(n) if digit => Chunk::Number(n),
            _ => Chunk::Text(part.to_lowercase()),
        });
        rest = tail;
    }
    (chunks, name.to_string())
}

/// Why a job needs a person, in words: the engine's detail, else its reason.
fn why(job: &JobRow) -> String {
    match (job.detail.as_deref(), job.reason) {
        (Some(d), _) if !d.trim().is_empty() => d.to_string(),
        (_, Some(r)) => format!("no remote path ({r})"),
        _ => "no remote path to this device".to_string(),
    }
}

/// The files `work-orders` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrderFiles {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub csv: PathBuf,
}

/// Writes `work-orders.md`, `work-orders.html` and `work-orders.csv` into `dir` (owner-only,
/// never through a symlinked run directory), each replaced atomically.
pub fn write(dir: &Path, orders: &WorkOrders) -> anyhow::Result<WorkOrderFiles> {
    let files = WorkOrderFiles {
        markdown: dir.join("work-orders.md"),
        html: dir.join("work-orders.html"),
        csv: dir.join("work-orders.csv"),
    };
    let md = markdown::render(orders);
    let page = html::render(orders);
    let table = csv::render(orders).context("cannot write work-orders.csv")?;
    super::files::refuse_symlinked_dir(dir)
        .and_then(|()| super::files::create_private_dir(dir))
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    for (path, bytes) in [
        (&files.markdown, md.as_bytes()),
        (&files.html, page.as_bytes()),
        (&files.csv, table.as_slice()),
    ] {
        super::files::write_private(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    super::files::sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(files)
}
