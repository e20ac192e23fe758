//! `devices.csv`: one row per job in inventory order, with what the pre and post snapshots
//! showed of the device, and the evidence of the action's effect: the cloud binding before and
//! after (a factory reset unbinds) and whether the device was seen leaving the network.
//!
//! A job a technician confirmed (`fleetreset confirm`) names them in `confirmed_by`, with the
//! time the confirmation was recorded in `confirmed_at`.
//!
//! Times are local with their offset ([`Zone`]); `duration_real_s` is real time, whatever the
//! run's time scale.
//!
//! Whatever a device or the inventory says is untrusted, and this file is meant to be opened in
//! a spreadsheet: text cells that a spreadsheet would evaluate as a formula are neutralised
//! ([`text_cell`]).

use std::io;

use serde_json::Value;

use super::evidence;
use super::local_time::Zone;
use super::source::Source;
use super::summary::outcome_word;
use crate::inert::inert;
use crate::inventory::MacAddr;
use crate::model::Action;
use crate::store::{JobBundle, Timestamp};

pub const HEADER: [&str; 27] = [
    "id",
    "site",
    "unit",
    "model",
    "mac",
    "host",
    "action",
    "method",
    "outcome",
    "reason",
    "detail",
    "identity",
    "started",
    "finished",
    "duration_real_s",
    "pre_alias",
    "pre_firmware",
    "pre_mac",
    "pre_on_time",
    "post_alias",
    "post_on_time",
    "post_seen",
    "cloud_bound_before",
    "cloud_bound_after",
    "left_network",
    "confirmed_by",
    "confirmed_at",
];

#[cfg(test)]
pub fn render(record: &RunRecord, zone: Zone) -> Result<Vec<u8>, ::csv::Error> {
    let mut out = Vec::new();
    write(&mut out, Source::Record(record), zone).map_err(|err| {
        match err.downcast::<::csv::Error>() {
            Ok(csv) => csv,
            Err(other) => panic!("a record in memory written to memory failed: {other:#}"),
        }
    })?;
    Ok(out)
}

/// The header, then one row per job as `src` hands them over.
pub fn write(out: impl io::Write, src: Source<'_>, zone: Zone) -> anyhow::Result<()> {
    let mut out = ::csv::Writer::from_writer(out);
    out.write_record(HEADER)?;
    let action = src.run().action;
    src.bundles(|bundle| Ok(out.write_record(row(action, bundle, zone))?))?;
    out.flush()?;
    Ok(())
}

fn row(action: Action, bundle: &JobBundle, zone: Zone) -> [String; HEADER.len()] {
    let job = &bundle.job;
    let (pre, post) = (bundle.pre.as_ref(), bundle.post.as_ref());
    let bound_before = evidence::bound_in(pre).or(bundle.bound_at_intent);
    // Seen leaving, or answering after the action; else nothing shows either way.
    let left_network = if bundle.left_network {
        Some(true)
    } else {
        post.map(|_| false)
    };
    let opt_text = |s: &Option<String>| text_cell(s.as_deref().unwrap_or(""));
    // Only for a job that is confirmed now: the event outlives nothing, but says who.
    let confirmed = bundle.confirmed.as_ref();
    [
        text_cell(&job.device_id),
        opt_text(&job.site),
        opt_text(&job.unit),
        opt_text(&job.model),
        opt_text(&job.mac),
        text_cell(&job.host),
        action.as_str().to_string(),
        job.method.as_str().to_string(),
        // An empty outcome cell would read as "nothing to report".
        outcome_word(job.outcome).to_string(),
        job.reason.map_or("", |r| r.as_str()).to_string(),
        opt_text(&job.detail),
        identity_word(job.identity_verified).to_string(),
        job.started_at.map(|t| zone.show(&t)).unwrap_or_default(),
        job.finished_at.map(|t| zone.show(&t)).unwrap_or_default(),
        duration_s(job.started_at, job.finished_at),
        value_cell(field(pre, "alias", &["alias"])),
        value_cell(field(pre, "firmware", &["sw_ver", "fw_ver"])),
        mac_cell(field(pre, "mac", &["mac", "mic_mac"])),
        value_cell(field(pre, "on_time", &["on_time"])),
        value_cell(field(post, "alias", &["alias"])),
        value_cell(field(post, "on_time", &["on_time"])),
        post.is_some().to_string(),
        evidence::word(bound_before).to_string(),
        evidence::word(evidence::bound_in(post)).to_string(),
        evidence::word(left_network).to_string(),
        confirmed.map(|(by, _)| text_cell(by)).unwrap_or_default(),
        confirmed.map(|(_, at)| zone.show(at)).unwrap_or_default(),
    ]
}

/// A MAC a device reported, in the inventory's one form (`50:C7:BF:00:00:02`) when it reads as
/// one (SMART devices say `50-C7-…`, some IOT ones `50C7BF…`); as neutralised text otherwise.
fn mac_cell(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => match s.parse::<MacAddr>() {
            Ok(mac) => mac.to_string(),
            Err(_) => text_cell(s),
        },
        other => value_cell(other),
    }
}

/// `verified` (the device reported the inventory's MAC), `unverified` (acted on without a MAC
/// to check, by --allow-unverified-identity), or empty (the job never got that far).
pub fn identity_word(verified: Option<bool>) -> &'static str {
    match verified {
        Some(true) => "verified",
        Some(false) => "unverified",
        None => "",
    }
}

/// A field of a snapshot: from its protocol-neutral `summary` when it has one (SMART devices
/// send their alias base64-encoded; the summary has it decoded), else the first of
/// `sysinfo_keys` in the device's own answer that is present and not null.
pub(super) fn field<'a>(
    data: Option<&'a Value>,
    summary_key: &str,
    sysinfo_keys: &[&str],
) -> Option<&'a Value> {
    let data = data?;
    if let Some(v) = data
        .get("summary")
        .and_then(|s| s.get(summary_key))
        .filter(|v| !v.is_null())
    {
        return Some(v);
    }
    let sys = data.get("sysinfo")?;
    sysinfo_keys
        .iter()
        .find_map(|k| sys.get(*k).filter(|v| !v.is_null()))
}

/// Seconds with millisecond precision: `42.250`. Empty when the job has no start or end, and
/// when it would be negative: the start and the end are wall-clock times, taken by different
/// processes when a run was resumed, and a host clock set back in between puts the end before
/// the start. No job takes negative time, and an empty cell reads as "not known" to a
/// spreadsheet where a number would be summed.
pub(super) fn duration_s(started: Option<Timestamp>, finished: Option<Timestamp>) -> String {
    match (started, finished) {
        (Some(s), Some(f)) if f >= s => {
            format!("{:.3}", (f - s).num_milliseconds() as f64 / 1000.0)
        }
        _ => String::new(),
    }
}

/// A value a device reported: numbers and booleans as they are (a JSON number is a number to a
/// spreadsheet too, `-3` included), strings as neutralised text, anything else as compact JSON.
fn value_cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::String(s)) => text_cell(s),
        Some(other) => text_cell(&other.to_string()),
    }
}

/// Text from a device or the inventory, safe to `cat` and to open in a spreadsheet.
///
/// First made inert ([`crate::inert`]): one line, control and reordering characters escaped
/// (`\u{1b}`, `\r`, `\n`), so an alias holding an escape sequence can't reach the terminal of
/// whoever looks at the file. Then Excel, LibreOffice and Google Sheets evaluate a cell that
/// starts with `=`, `+`, `-` or `@` as a formula, so such text gets a leading `'`, which they
/// show as text. (A leading tab or CR, which some of them trim before looking, is escaped by
/// the first step.)
pub fn text_cell(text: &str) -> String {
    let text = inert(text);
    match text.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{text}"),
        _ => text.into_owned(),
    }
}

#[cfg(test)]
use crate::{
    model::EventKind,
    store::{RunRecord, SnapshotPhase},
};

#[cfg(test)]
mod tests;
