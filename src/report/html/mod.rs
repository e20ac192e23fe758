//! `report.html`: the run on one self-contained page. Its summary counts, a timeline chart
//! (inline SVG) of when each job ran with the start rate, the jobs in flight and the run's own
//! events (stops among them), the outcomes by site, the run's settings, and the device table,
//! sortable by a click on a header, with a link to each device's certificate for a factory
//! reset.
//!
//! Self-contained: no fetch of any kind (the Content-Security-Policy forbids them all), no
//! external script, style or font, no `http(s)://` anywhere; it opens from a USB stick on a
//! machine with no network. Every string from the audit (device text, ids, the operator, the
//! parameters) is made inert and HTML-escaped ([`escape`]) and only ever placed in element text
//! or a quoted attribute value, never in a script, a style, a URL or an event handler. The one
//! URL the page holds per device is a certificate link given by the caller, and only a plain
//! relative `certificates/<name>.html` is linked.
//!
//! - `page`: the head (policy, style) and the sorting script.
//! - `chart`: the SVG timeline, bounded whatever the fleet size.
//! - `spans`: when each job ran, for the chart; `axis`: its time labels; `group`: a row of a
//!   big run's chart.
//! - `table`: the device table.
//! - `escape`: the HTML escaper, shared with `work-orders.html`.
//! - [`estate`]: `estate.html`, a merged audit's sites on one page.

mod axis;
mod chart;
mod escape;
pub mod estate;
mod group;
mod page;
mod spans;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt::{self, Write};

use crate::model::{Action, Outcome};
use crate::store::{ChainHead, EventRow, RunRecord, RunRow};

use super::local_time::Zone;
use super::source::Source;
use super::summary::{Summary, outcome_word, status_word};
use super::{settings, timeline};

pub use self::escape::escape;

/// Where the certificates of a factory reset go, relative to the report.
pub const CERTIFICATES_DIR: &str = "certificates";

/// The page of all a run's certificates, relative to the report.
pub const BUNDLE_HREF: &str = "certificates/bundle.html";

/// The certificate links the page may use, by device id: only plain relative
/// `certificates/<name>.html` with a name of letters, digits, `.`, `_` and `-` (no scheme, no
/// `..`, nothing a run id edited into the database could turn into another URL).
pub struct Certificates<'a> {
    by_device: HashMap<&'a str, &'a str>,
    refused: usize,
}

impl<'a> Certificates<'a> {
    fn of(links: &'a [(String, String)]) -> Certificates<'a> {
        let mut by_device = HashMap::new();
        let mut refused = 0;
        for (device, href) in links {
            if usable(href) {
                by_device.insert(device.as_str(), href.as_str());
            } else {
                refused += 1;
            }
        }
        Certificates { by_device, refused }
    }

    pub fn href(&self, device_id: &str) -> Option<&'a str> {
        self.by_device.get(device_id).copied()
    }
}

fn usable(href: &str) -> bool {
    href.strip_prefix("certificates/")
        .and_then(|name| name.strip_suffix(".html"))
        .is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// The page. `head` is the run's audit chain head (`None`: not recorded); `certificates` the
/// links given (`certificate::Issued::links`) whose files exist, none when they were not written.
pub fn render(
    record: &RunRecord,
    zone: Zone,
    head: Option<&ChainHead>,
    certificates: &[(String, String)],
) -> String {
    let mut out = String::new();
    write(&mut out, Source::Record(record), zone, head, certificates)
        .expect("a record in memory written to a String never fails");
    out
}

/// [`render`], the device table and the chart streamed from `src`.
pub fn write(
    out: &mut dyn Write,
    src: Source<'_>,
    zone: Zone,
    head: Option<&ChainHead>,
    certificates: &[(String, String)],
) -> anyhow::Result<()> {
    let certificates = Certificates::of(certificates);
    let run = src.run();
    let events = src.run_events();
    let id = escape(&run.id);
    page::head(out, &format!("Run {id}: {}", run.action))?;
    writeln!(out, "<h1>Run {id}: {}</h1>", run.action)?;
    let ended = run
        .finished_at
        .map_or("not recorded".to_string(), |t| zone.show(&t));
    writeln!(
        out,
        "<p class=\"meta\">Status <b>{}</b> · {} job(s) · started {} by {} · ended {ended}</p>",
        status_word(run.status),
        src.job_count(),
        zone.show(&run.started_at),
        escape(&run.operator)
    )?;
    let head = head.map_or("not recorded".to_string(), |h| {
        format!("<code>{}</code>", escape(&h.to_string()))
    });
    writeln!(out, "<p class=\"meta\">Audit chain head: {head}</p>")?;
    write_timeline(out, src, &events, zone)?;
    let summary = src.summary()?;
    write_outcomes(out, &summary)?;
    write_sites(out, &summary)?;
    write_run(out, run, &events)?;
    write_certificates(out, run.action, &certificates)?;
    writeln!(out, "<section id=\"devices-section\">")?;
    writeln!(out, "<h2>Devices ({})</h2>", src.job_count())?;
    writeln!(
        out,
        "<p class=\"note\">In inventory order; click a header to sort by it (again to reverse).</p>"
    )?;
    table::write(out, src, zone, &certificates)?;
    writeln!(out, "</section>")?;
    page::tail(out)?;
    Ok(())
}

fn write_timeline(
    out: &mut dyn Write,
    src: Source<'_>,
    events: &[&EventRow],
    zone: Zone,
) -> anyhow::Result<()> {
    writeln!(out, "<section id=\"timeline\">")?;
    writeln!(out, "<h2>Timeline</h2>")?;
    chart::render(out, src, zone)?;
    let n = src.job_count();
    let rows = match n {
        n if n <= chart::LABELLED => "One row per job, in order of start.".to_string(),
        n if n <= chart::ONE_ROW_EACH => {
            "One thin row per job, in order of start; point at a bar for its device.".to_string()
        }
        n => format!(
            "{n} jobs: each row is {} consecutive jobs in order of start, one stripe per outcome \
             from the first start to the last end of those jobs, its height their share.",
            n.div_ceil(chart::GROUPS)
        ),
    };
    writeln!(
        out,
        "<p class=\"note\">Time from the run's start. {rows} A job's bar runs from its first \
         probe to its outcome; a job that never started is a thin mark where it was settled. \
         {}</p>",
        batches_note(&src.run().parameters)
    )?;
    let lines = timeline::lines_with(events, zone, escape);
    if lines.is_empty() {
        writeln!(
            out,
            "<p>The audit holds no events of the run itself (it was recorded by an older fleetreset).</p>"
        )?;
    } else {
        writeln!(out, "<ul class=\"events\">")?;
        for line in lines {
            writeln!(out, "<li>{line}</li>")?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")?;
    Ok(())
}

/// What the chart can say of batches: the audit does not record where each began.
fn batches_note(parameters: &serde_json::Value) -> String {
    let safety = &parameters["safety"];
    let canary = safety["canary"].as_u64().filter(|n| *n > 0);
    let batch = safety["batch"].as_str();
    let set = match (canary, batch) {
        (None, None) => {
            return "The run was one batch; the in-flight chart is its rolling concurrency."
                .to_string();
        }
        (Some(c), None) => format!("a canary of {c}"),
        (None, Some(b)) => format!("batches of {}", escape(b)),
        (Some(c), Some(b)) => format!("a canary of {c}, then batches of {}", escape(b)),
    };
    format!(
        "The run was set to {set}. The audit does not record where each batch began; the \
         in-flight chart shows them, falling between one batch and the next."
    )
}

fn write_outcomes(out: &mut dyn Write, summary: &Summary) -> fmt::Result {
    writeln!(out, "<section id=\"outcomes\">")?;
    writeln!(out, "<h2>Outcomes</h2>")?;
    writeln!(out, "<table class=\"counts\" id=\"by-outcome\">")?;
    writeln!(out, "<tr><th>outcome</th><th class=\"n\">jobs</th></tr>")?;
    for (outcome, n) in summary.outcomes.iter() {
        if outcome.is_some() || n > 0 {
            let word = outcome_word(outcome);
            writeln!(
                out,
                "<tr><td class=\"o o-{word}\">{word}</td><td class=\"n\">{n}</td></tr>"
            )?;
        }
    }
    writeln!(
        out,
        "<tr><th>total</th><th class=\"n\">{}</th></tr>",
        summary.outcomes.total()
    )?;
    writeln!(out, "</table>")?;
    let reasons: Vec<_> = summary.reasons.iter().filter(|(_, n)| *n > 0).collect();
    if !reasons.is_empty() {
        writeln!(out, "<table class=\"counts\" id=\"by-reason\">")?;
        writeln!(out, "<tr><th>reason</th><th class=\"n\">jobs</th></tr>")?;
        for (reason, n) in reasons {
            writeln!(out, "<tr><td>{reason}</td><td class=\"n\">{n}</td></tr>")?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</section>")
}

fn write_sites(out: &mut dyn Write, summary: &Summary) -> fmt::Result {
    if summary.sites.is_empty() {
        return Ok(());
    }
    let columns: Vec<Option<Outcome>> = summary.outcomes.iter().map(|(o, _)| o).collect();
    writeln!(out, "<section id=\"sites\">")?;
    writeln!(out, "<h2>By site</h2>")?;
    writeln!(out, "<table class=\"counts\" id=\"by-site\">")?;
    write!(out, "<tr><th>site</th><th class=\"n\">jobs</th>")?;
    for o in &columns {
        write!(out, "<th class=\"n\">{}</th>", outcome_word(*o))?;
    }
    writeln!(out, "</tr>")?;
    for (site, tally) in &summary.sites {
        let name = site
            .as_deref()
            .map_or("<i>(no site)</i>".to_string(), escape);
        write!(
            out,
            "<tr><td>{name}</td><td class=\"n\">{}</td>",
            tally.total()
        )?;
        for o in &columns {
            write!(out, "<td class=\"n\">{}</td>", tally.get(*o))?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "</section>")
}

fn write_run(out: &mut dyn Write, run: &RunRow, events: &[&EventRow]) -> fmt::Result {
    writeln!(out, "<section id=\"run\">")?;
    writeln!(out, "<h2>Run</h2>")?;
    writeln!(out, "<table class=\"counts\">")?;
    let mut row = |k: &str, v: String| writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    row("inventory", escape(&run.inventory_path))?;
    row(
        "inventory sha256",
        format!("<code>{}</code>", escape(&run.inventory_sha256)),
    )?;
    row("started by", escape(&run.operator))?;
    let resumed: Vec<String> = timeline::resumed_by(events)
        .iter()
        .map(|n| escape(n))
        .collect();
    if !resumed.is_empty() {
        row("resumed by", resumed.join(", "))?;
    }
    row("fleetreset version", escape(&run.tool_version))?;
    if let Some(line) = settings::line_with(run.action, &run.parameters, escape) {
        row("settings", line)?;
    }
    row(
        "times",
        "local, with their offset from UTC; the chart's axis is real time from the run's start"
            .to_string(),
    )?;
    writeln!(out, "</table>")?;
    writeln!(out, "</section>")
}

fn write_certificates(
    out: &mut dyn Write,
    action: Action,
    certificates: &Certificates<'_>,
) -> fmt::Result {
    if action != Action::FactoryReset {
        return Ok(());
    }
    writeln!(out, "<section id=\"certificates\">")?;
    writeln!(out, "<h2>Certificates</h2>")?;
    let n = certificates.by_device.len();
    if n == 0 {
        writeln!(out, "<p>No certificate was written with this report.</p>")?;
    } else {
        writeln!(
            out,
            "<p>{n} sanitized device(s) have a certificate, linked in the device table; all of them on one page: <a href=\"{BUNDLE_HREF}\">{BUNDLE_HREF}</a>.</p>"
        )?;
    }
    if certificates.refused > 0 {
        writeln!(
            out,
            "<p class=\"warn\">{} certificate link(s) were not a plain <code>certificates/NAME.html</code> and are not linked.</p>",
            certificates.refused
        )?;
    }
    writeln!(out, "</section>")
}
