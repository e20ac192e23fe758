//! The device table: one row per job in inventory order, every cell escaped stored text or a
//! closed word. The page's script sorts it by a clicked header, reading only the cells' text;
//! without the script it stays in inventory order and shows everything.

use std::collections::HashMap;
use std::fmt::{self, Write};

use serde_json::Value;

use super::{Certificates, escape};
use crate::model::EventKind;
use crate::report::csv::{duration_s, field, identity_word};
use crate::report::evidence;
use crate::report::local_time::Zone;
use crate::report::summary::outcome_word;
use crate::store::{JobRow, RunRecord, SnapshotPhase};

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

/// The first pre snapshot and the last post snapshot of each device, found in one pass.
#[derive(Default)]
struct Snapshots<'a> {
    pre: Option<(&'a crate::store::Timestamp, &'a Value)>,
    post: Option<(&'a crate::store::Timestamp, &'a Value)>,
}

pub fn render(
    out: &mut String,
    record: &RunRecord,
    zone: Zone,
    certificates: &Certificates<'_>,
) -> fmt::Result {
    let mut snaps: HashMap<&str, Snapshots<'_>> = HashMap::new();
    for s in &record.snapshots {
        let e = snaps.entry(s.device_id.as_str()).or_default();
        match s.phase {
            SnapshotPhase::Pre if e.pre.is_none_or(|(t, _)| s.taken_at < *t) => {
                e.pre = Some((&s.taken_at, &s.data));
            }
            SnapshotPhase::Post if e.post.is_none_or(|(t, _)| s.taken_at >= *t) => {
                e.post = Some((&s.taken_at, &s.data));
            }
            SnapshotPhase::Pre | SnapshotPhase::Post => {}
        }
    }
    let mut at_intent: HashMap<&str, Option<bool>> = HashMap::new();
    for e in &record.events {
        if e.kind.as_str() == EventKind::Intent.as_str()
            && let Some(id) = e.device_id.as_deref()
        {
            at_intent
                .entry(id)
                .or_insert_with(|| evidence::bound_in_intent(&e.detail));
        }
    }
    let left = evidence::left_network(record);
    // Who confirmed each job a technician saw to (`fleetreset confirm`), and when.
    let confirmed: HashMap<String, (String, crate::store::Timestamp)> = record
        .confirmations()
        .into_iter()
        .map(|c| (c.device_id, (c.technician.by, c.at)))
        .collect();
    writeln!(out, "<div style=\"overflow-x:auto\">")?;
    writeln!(out, "<table class=\"devices\" id=\"devices\">")?;
    write!(out, "<thead><tr>")?;
    for (name, numeric) in COLUMNS {
        let class = if *numeric { " class=\"n\"" } else { "" };
        write!(out, "<th{class} scope=\"col\">{name}</th>")?;
    }
    writeln!(out, "</tr></thead>")?;
    writeln!(out, "<tbody>")?;
    let mut jobs: Vec<&JobRow> = record.jobs.iter().collect();
    jobs.sort_by_key(|j| j.seq);
    for job in jobs {
        let id = job.device_id.as_str();
        let s = snaps.get(id);
        let pre = s.and_then(|s| s.pre).map(|(_, d)| d);
        let post = s.and_then(|s| s.post).map(|(_, d)| d);
        let bound_before = evidence::bound_in(pre).or_else(|| at_intent.get(id).copied().flatten());
        let left_network = if left.contains(id) {
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
        match confirmed
            .get(id)
            .filter(|_| job.outcome == Some(crate::model::Outcome::ManualConfirmed))
        {
            Some((by, at)) => write!(out, "<td>{} at {}</td>", escape(by), zone.show(at))?,
            None => write!(out, "<td></td>")?,
        }
        match certificates.href(id) {
            Some(href) => write!(out, "<td><a href=\"{}\">certificate</a></td>", escape(href))?,
            None => write!(out, "<td></td>")?,
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>")?;
    writeln!(out, "</table>")?;
    writeln!(out, "</div>")
}

/// A value a device reported, escaped: strings as they are, anything else as compact JSON.
fn value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => escape(s),
        Some(other) => escape(&other.to_string()),
    }
}
