//! `work-orders.csv`: one row per device, in the checklist's order, with the three columns a
//! technician fills in (`confirmed_by`, `confirmed_at`, `note`). Saved back as CSV, .xlsx or
//! .ods, it is what `fleetreset confirm RUN --from FILE` reads: by the column names, so columns
//! may be moved, added or dropped (`id` and `confirmed_by` are the ones it needs).
//!
//! Cells are written as `devices.csv` writes them ([`text_cell`]): inert, and with a leading `'`
//! before text a spreadsheet would evaluate. [`unneutralised`] undoes the `'` on the way back.

use super::WorkOrders;
use crate::report::csv::text_cell;

/// The run the checklist is for; `confirm --from` refuses a checklist of another run.
pub const RUN: &str = "run";
pub const ID: &str = "id";
/// Filled in by the technician: who did the work.
pub const BY: &str = "confirmed_by";
/// Filled in by the technician: when, as they write it.
pub const SAID_AT: &str = "confirmed_at";
/// Filled in by the technician, optional.
pub const NOTE: &str = "note";
/// The device's MAC as the run knew it; `confirm --from` refuses a row that names another.
pub const MAC: &str = "mac";
/// The run's action; `confirm --from` refuses a row that says another (another run's list).
pub const ACTION: &str = "action";

pub const COLUMNS: [&str; 15] = [
    RUN,
    "site",
    "unit",
    ID,
    "model",
    "host",
    MAC,
    "notes",
    ACTION,
    "why",
    "steps",
    "check_afterwards",
    BY,
    SAID_AT,
    NOTE,
];

pub fn render(orders: &WorkOrders) -> Result<Vec<u8>, ::csv::Error> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for item in orders.items() {
        let opt = |s: &Option<String>| text_cell(s.as_deref().unwrap_or(""));
        let numbered = |before: Option<String>, lines: &[String], after: Option<String>| {
            let steps = lines
                .iter()
                .enumerate()
                .map(|(n, l)| format!("{}) {l}", n + 1));
            let all: Vec<String> = before.into_iter().chain(steps).chain(after).collect();
            text_cell(&all.join(" "))
        };
        let steps = &item.steps;
        let warning = steps.warning.as_ref().map(|w| format!("Warning: {w}."));
        let app = steps.app.as_ref().map(|a| format!("Alternative: {a}."));
        out.write_record([
            text_cell(&orders.run_id),
            opt(&item.site),
            opt(&item.unit),
            text_cell(&item.device_id),
            opt(&item.model),
            text_cell(&item.host),
            opt(&item.mac),
            opt(&item.notes),
            orders.action.as_str().to_string(),
            text_cell(&item.why),
            numbered(warning, &steps.actions, app),
            numbered(None, &steps.check, None),
            String::new(),
            String::new(),
            String::new(),
        ])?;
    }
    out.into_inner().map_err(|err| err.into_error().into())
}

/// A cell as it was before [`text_cell`] neutralised it: `'=x` → `=x`. Any other cell is
/// returned as it is.
pub fn unneutralised(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}
