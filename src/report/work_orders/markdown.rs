//! `work-orders.md`: the checklist as Markdown, readable as plain text too. Device and
//! inventory text is escaped as in `summary.md` ([`escape`]).

use std::fmt::{self, Write};

use super::{Item, WorkOrders};
use crate::report::markdown::escape;

/// The line a technician signs.
pub const SIGN_LINE: &str = "Done by ______________________ at ______________";

pub fn render(orders: &WorkOrders) -> String {
    let mut out = String::new();
    write(&mut out, orders).expect("writing to a String never fails");
    out
}

fn write(out: &mut String, orders: &WorkOrders) -> fmt::Result {
    let run = escape(&orders.run_id);
    writeln!(out, "# Work orders: run {run} ({})", orders.action)?;
    writeln!(out)?;
    let n = orders.items().count();
    if n == 0 {
        return writeln!(out, "No device of this run is waiting for a technician.");
    }
    writeln!(
        out,
        "{n} device(s) need a technician. Tick each step, sign each device when it is done, and \
         return the checklist: `work-orders.csv` with `confirmed_by` (and `confirmed_at`, `note`) \
         filled in, for `fleetreset confirm {run} --from FILE`."
    )?;
    for site in &orders.sites {
        writeln!(out)?;
        let name = site.name.as_deref().map_or("(no site)".into(), escape);
        writeln!(out, "## Site: {name}")?;
        for unit in &site.units {
            writeln!(out)?;
            let name = unit.name.as_deref().map_or("(no unit)".into(), escape);
            writeln!(out, "### Unit: {name}")?;
            for item in &unit.items {
                writeln!(out)?;
                write_item(out, item)?;
            }
        }
    }
    Ok(())
}

fn write_item(out: &mut String, item: &Item) -> fmt::Result {
    let model = item.model.as_deref().map_or("model unknown".into(), escape);
    writeln!(out, "#### {} — {model}", escape(&item.device_id))?;
    writeln!(out)?;
    let mac = item.mac.as_deref().map_or("not given".into(), escape);
    writeln!(out, "- Host: {} · MAC: {mac}", escape(&item.host))?;
    if let Some(notes) = &item.notes {
        writeln!(out, "- Notes: {}", escape(notes))?;
    }
    writeln!(out, "- Why a person: {}", escape(&item.why))?;
    let steps = &item.steps;
    writeln!(out, "- What: {}", escape(&steps.title))?;
    if let Some(warning) = &steps.warning {
        writeln!(out, "- **Warning**: {}", escape(warning))?;
    }
    if let Some(bring) = steps.bring {
        writeln!(out, "- Bring: {bring}")?;
    }
    writeln!(out)?;
    for (n, action) in steps.actions.iter().enumerate() {
        writeln!(out, "{}. [ ] {}", n + 1, escape(action))?;
    }
    if let Some(app) = &steps.app {
        writeln!(out)?;
        writeln!(out, "Alternative: {}", escape(app))?;
    }
    writeln!(out)?;
    writeln!(out, "Check afterwards:")?;
    writeln!(out)?;
    for check in &steps.check {
        writeln!(out, "- [ ] {}", escape(check))?;
    }
    writeln!(out)?;
    writeln!(out, "{SIGN_LINE}")
}
