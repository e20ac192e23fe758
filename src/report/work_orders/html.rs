//! `work-orders.html`: the checklist as one printable page. Self-contained (its style inline, no
//! script, no external resource), one device per block that a printer doesn't split.
//!
//! Device and inventory text (ids, notes, aliases in details) is hostile until shown otherwise:
//! every string is made inert ([`crate::inert`]: control and reordering characters escaped),
//! then HTML-escaped ([`escape`], shared with `report.html`), so a `<script>` in a note is text on the page.

use std::fmt::{self, Write};

use super::{Item, WorkOrders};

/// Print-friendly, readable on a phone too.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1.5em;color:#000;background:#fff}\
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:2px solid #000;margin-top:1.5em}\
h3{font-size:1.05em}article{border:1px solid #666;padding:.6em 1em;margin:.8em 0;\
break-inside:avoid;page-break-inside:avoid}article h4{margin:.2em 0 .4em}\
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0}\
dt{font-weight:bold}dd{margin:0}ol,ul{margin:.3em 0;padding-left:1.6em}ul{list-style:none}\
li{margin:.2em 0}\
.box{display:inline-block;width:.9em;height:.9em;border:1px solid #000;margin-right:.4em;\
vertical-align:-.1em}.warn{font-weight:bold}.sign{margin-top:1em;font-size:1.05em}\
@media print{body{margin:0}}";

pub fn render(orders: &WorkOrders) -> String {
    let mut out = String::new();
    write(&mut out, orders).expect("writing to a String never fails");
    out
}

use crate::report::html::escape;

fn write(out: &mut String, orders: &WorkOrders) -> fmt::Result {
    let run = escape(&orders.run_id);
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    // Nothing on the page may load or run anything, whatever a device string says.
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>Work orders: run {run}</title>")?;
    writeln!(out, "<style>{STYLE}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    writeln!(
        out,
        "<h1>Work orders: run {run} ({})</h1>",
        escape(orders.action.as_str())
    )?;
    let n = orders.items().count();
    if n == 0 {
        writeln!(
            out,
            "<p>No device of this run is waiting for a technician.</p>"
        )?;
    } else {
        writeln!(
            out,
            "<p>{n} device(s) need a technician. Tick each step, sign each device when it is done, \
             and return the checklist (<code>work-orders.csv</code> with <code>confirmed_by</code> \
             filled in) for <code>fleetreset confirm {run} --from FILE</code>.</p>"
        )?;
    }
    for site in &orders.sites {
        let name = site.name.as_deref().map_or("(no site)".into(), escape);
        writeln!(out, "<section>")?;
        writeln!(out, "<h2>Site: {name}</h2>")?;
        for unit in &site.units {
            let name = unit.name.as_deref().map_or("(no unit)".into(), escape);
            writeln!(out, "<h3>Unit: {name}</h3>")?;
            for item in &unit.items {
                write_item(out, item)?;
            }
        }
        writeln!(out, "</section>")?;
    }
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

const BOX: &str = "<span class=\"box\"></span>";

fn write_item(out: &mut String, item: &Item) -> fmt::Result {
    let model = item.model.as_deref().map_or("model unknown".into(), escape);
    writeln!(out, "<article>")?;
    writeln!(out, "<h4>{} — {model}</h4>", escape(&item.device_id))?;
    writeln!(out, "<dl>")?;
    writeln!(out, "<dt>Host</dt><dd>{}</dd>", escape(&item.host))?;
    let mac = item.mac.as_deref().map_or("not given".into(), escape);
    writeln!(out, "<dt>MAC</dt><dd>{mac}</dd>")?;
    if let Some(notes) = &item.notes {
        writeln!(out, "<dt>Notes</dt><dd>{}</dd>", escape(notes))?;
    }
    writeln!(out, "<dt>Why a person</dt><dd>{}</dd>", escape(&item.why))?;
    let steps = &item.steps;
    writeln!(out, "<dt>What</dt><dd>{}</dd>", escape(&steps.title))?;
    if let Some(bring) = steps.bring {
        writeln!(out, "<dt>Bring</dt><dd>{}</dd>", escape(bring))?;
    }
    writeln!(out, "</dl>")?;
    if let Some(warning) = &steps.warning {
        writeln!(out, "<p class=\"warn\">Warning: {}</p>", escape(warning))?;
    }
    writeln!(out, "<ol>")?;
    for action in &steps.actions {
        writeln!(out, "<li>{BOX}{}</li>", escape(action))?;
    }
    writeln!(out, "</ol>")?;
    if let Some(app) = &steps.app {
        writeln!(out, "<p>Alternative: {}</p>", escape(app))?;
    }
    writeln!(out, "<p>Check afterwards:</p>")?;
    writeln!(out, "<ul>")?;
    for check in &steps.check {
        writeln!(out, "<li>{BOX}{}</li>", escape(check))?;
    }
    writeln!(out, "</ul>")?;
    writeln!(
        out,
        "<p class=\"sign\">{}</p>",
        escape(super::markdown::SIGN_LINE)
    )?;
    writeln!(out, "</article>")
}
