//! The device table: one row per job in inventory order, every cell escaped stored text or a
//! closed word. The page's script sorts it by a clicked header, reading only the cells' text;
//! without the script it stays in inventory order and shows everything.

use std::fmt::{self, Write};

use serde_json::Value;

use super::{Certificates, escape};
use crate::report::csv::{duration_s, field, identity_word};
use crate::report::evidence;
use crate::report::local_time::Zone;
use crate::report::source::Source;
use crate::report::summary::outcome_word;
use crate::store::JobBundle;

/// The headers, in order; `n` marks the numeric columns (right-aligned).
const COLUMNS: &[(&str, bool)] = &[
    ("#", true),
    ("id", false),
    ("site", false),
    ("unit", false),
    ("model", false),
    ("host", false),
    ("MAC", false),
    ("method", false),
    ("outcome", false),
    ("reason", false),
    ("detail", false),
    ("identity", false),
    ("started", false),
    ("duration s", true),
    ("alias before", false),
    ("alias after", false),
    ("cloud bound before", false),
    ("cloud bound after", false),
    ("left network", false),
    ("confirmed by", false),
    ("certificate", false),
];

pub fn write(
    out: &mut dyn Write,
    src: Source<'_>,
    zone: Zone,
    certificates: &Certificates<'_>,
) -> anyhow::Result<()> {
    writeln!(out, "<div style=\"overflow-x:auto\">")?;
    writeln!(out, "<table class=\"devices\" id=\"devices\">")?;
    write!(out, "<thead><tr>")?;
    for (name, numeric) in COLUMNS {
        let class = if *numeric { " class=\"n\"" } else { "" };
        write!(out, "<th{class} scope=\"col\">{name}</th>")?;
    }
    writeln!(out, "</tr></thead>")?;
    writeln!(out, "<tbody>")?;
    src.bundles(|bundle| Ok(row(out, bundle, zone, certificates)?))?;
    writeln!(out, "</tbody>")?;
    writeln!(out, "</table>")?;
    writeln!(out, "</div>")?;
    Ok(())
}

fn row(
    out: &mut dyn Write,
    bundle: &JobBundle,
    zone: Zone,
    certificates: &Certificates<'_>,
) -> fmt::Result {
    let job = &bundle.job;
    let id = job.device_id.as_str();
    let (pre, post) = (bundle.pre.as_ref(), bundle.post.as_ref());
    let bound_before = evidence::bound_in(pre).or(bundle.bound_at_intent);
    let left_network = if bundle.left_network {
        Some(true)
    } else {
        post.map(|_| false)
    };
    let word = outcome_word(job.outcome);
    let opt = |s: &Option<String>| s.as_deref().map(escape).unwrap_or_default();
    write!(out, "<tr>")?;
    write!(out, "<td class=\"n\">{}</td>", u64::from(job.seq) + 1)?;
    write!(out, "<td>{}</td>", escape(id))?;
    for cell in [&job.site, &job.unit, &job.model] {
        write!(out, "<td>{}</td>", opt(cell))?;
    }
    write!(out, "<td>{}</td>", escape(&job.host))?;
    write!(out, "<td>{}</td>", opt(&job.mac))?;
    write!(out, "<td>{}</td>", job.method.as_str())?;
    write!(out, "<td class=\"o o-{word}\">{word}</td>")?;
    write!(out, "<td>{}</td>", job.reason.map_or("", |r| r.as_str()))?;
    write!(out, "<td class=\"wrap\">{}</td>", opt(&job.detail))?;
    write!(out, "<td>{}</td>", identity_word(job.identity_verified))?;
    let started = job.started_at.map(|t| zone.show(&t)).unwrap_or_default();
    write!(out, "<td>{started}</td>")?;
    write!(
        out,
        "<td class=\"n\">{}</td>",
        duration_s(job.started_at, job.finished_at)
    )?;
    for data in [pre, post] {
        write!(out, "<td>{}</td>", value(field(data, "alias", &["alias"])))?;
    }
    for known in [bound_before, evidence::bound_in(post), left_network] {
        write!(out, "<td>{}</td>", evidence::word(known))?;
    }
    match &bundle.confirmed {
        Some((by, at)) => write!(out, "<td>{} at {}</td>", escape(by), zone.show(at))?,
        None => write!(out, "<td></td>")?,
    }
    match certificates.href(id) {
        Some(href) => write!(out, "<td><a href=\"{}\">certificate</a></td>", escape(href))?,
        None => write!(out, "<td></td>")?,
    }
    writeln!(out, "</tr>")
}

/// A value a device reported, escaped: strings as they are, anything else as compact JSON.
fn value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => escape(s),
        Some(other) => escape(&other.to_string()),
    }
}
