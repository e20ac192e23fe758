//! What the audit holds of one job that a certificate cites: what the device said about itself
//! before the reset (model, MAC, hardware ids, from the pre snapshot), and the recorded facts
//! that show the reset took effect (acknowledgement, departure from the network, the post-state
//! of a device that stayed or answered the technician's check).

use serde_json::Value;

use super::model::{Evidence, Identifier, When};
use crate::model::EventKind;
use crate::report::evidence::bound_in;
use crate::report::local_time::Zone;
use crate::store::{EventRow, JobRow, RunRecord, SnapshotPhase, SnapshotRow, Timestamp};

/// A time as certificates show it.
pub fn when(at: &Timestamp, zone: Zone) -> When {
    When {
        utc: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        local: zone.show(at),
    }
}

/// The job's events, in write order.
pub fn events_of<'a>(record: &'a RunRecord, job: &JobRow) -> Vec<&'a EventRow> {
    record
        .events
        .iter()
        .filter(|e| e.device_id.as_deref() == Some(job.device_id.as_str()))
        .collect()
}

/// The job's last snapshot of `phase`.
pub fn snapshot<'a>(
    record: &'a RunRecord,
    job: &JobRow,
    phase: SnapshotPhase,
) -> Option<&'a SnapshotRow> {
    record
        .snapshots
        .iter()
        .rfind(|s| s.device_id == job.device_id && s.phase == phase)
}

/// A text field of a snapshot: the protocol-neutral summary's `summary_key`, else one of
/// `raw_keys` of the device's own answer (`sysinfo`, or the `system` inside it, as cameras
/// nest it). Empty text counts as none.
pub fn text_in(data: &Value, summary_key: &str, raw_keys: &[&str]) -> Option<String> {
    let summary = data.get("summary").and_then(|s| s.get(summary_key));
    let sysinfo = data.get("sysinfo");
    let nested = sysinfo.and_then(|s| s.get("system"));
    std::iter::once(summary)
        .chain(raw_keys.iter().map(|k| sysinfo.and_then(|s| s.get(*k))))
        .chain(raw_keys.iter().map(|k| nested.and_then(|s| s.get(*k))))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The hardware identifiers a device reported, by the names IOT (`deviceId`) and SMART
/// (`device_id`) give them; each once, under the IOT name.
pub fn hardware_ids(data: &Value) -> Vec<Identifier> {
    [
        ("deviceId", "device_id"),
        ("hwId", "hw_id"),
        ("oemId", "oem_id"),
        ("hw_ver", "hw_ver"),
    ]
    .into_iter()
    .filter_map(|(iot, smart)| {
        // Only the device id has a place in the protocol-neutral summary.
        let summary = if iot == "deviceId" { "device_id" } else { "" };
        Some(Identifier {
            name: iot.to_string(),
            value: text_in(data, summary, &[iot, smart])?,
        })
    })
    .collect()
}

/// The alias a snapshot shows.
fn alias(data: &Value) -> Option<String> {
    text_in(data, "alias", &["alias"])
}

/// The protocol the job spoke, from its last `link` event (a job that found its device speaks
/// the other of KLAP and TPAP records a second one).
pub fn protocol(events: &[&EventRow]) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|e| e.kind.as_str() == EventKind::Link.as_str())
        .and_then(|e| e.detail.get("protocol")?.as_str().map(str::to_string))
}

/// Every recorded fact that shows the reset took effect, in the order it was recorded: the
/// command's arrival, the device leaving the network, and the post-state it answered with.
pub fn verification(record: &RunRecord, job: &JobRow, zone: Zone) -> Vec<Evidence> {
    let events = events_of(record, job);
    let mut out: Vec<(Timestamp, Evidence)> = Vec::new();
    let mut push = |at: &Timestamp, kind: &str, what: String| {
        out.push((
            *at,
            Evidence {
                kind: kind.to_string(),
                at: when(at, zone),
                what,
            },
        ))
    };
    for e in &events {
        let k = e.kind.as_str();
        let after = e.detail.get("after_s").and_then(Value::as_f64);
        let what = if k == EventKind::Intent.as_str() {
            let bound = e.detail.get("pre").and_then(|p| p.get("bound"));
            match bound.and_then(Value::as_bool) {
                Some(true) => "the intent to reset was recorded before the command; the device was bound to a cloud account".to_string(),
                Some(false) => "the intent to reset was recorded before the command; the device was not bound to a cloud account".to_string(),
                None => "the intent to reset was recorded before the command".to_string(),
            }
        } else if k == EventKind::Ack.as_str() {
            "the device acknowledged the factory-reset command".to_string()
        } else if k == EventKind::SentNoAck.as_str() {
            "the command was written in full, then the device dropped the connection".to_string()
        } else if k == EventKind::UnreadableAck.as_str() {
            "the device answered the command unreadably".to_string()
        } else if k == EventKind::LeftNetwork.as_str() {
            match after {
                Some(s) => format!(
                    "the device left the network {s:.0} s after the command (no answer on two looks in a row)"
                ),
                None => "the device left the network after the command".to_string(),
            }
        } else if k == EventKind::ObservedAway.as_str() {
            "on resuming, the device was found no longer answering at its address".to_string()
        } else if k == EventKind::ManualConfirmed.as_str() {
            let by = e.detail.get("by").and_then(Value::as_str).unwrap_or("?");
            format!("the technician {by} confirmed the button reset")
        } else {
            continue;
        };
        push(&e.at, k, what);
    }
    if let Some(post) = snapshot(record, job, SnapshotPhase::Post) {
        let pre = snapshot(record, job, SnapshotPhase::Pre);
        push(&post.taken_at, "post_snapshot", post_state(pre, post));
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, e)| e).collect()
}

/// The post-state in words: bound or not, and the alias against the one before.
fn post_state(pre: Option<&SnapshotRow>, post: &SnapshotRow) -> String {
    let bound = match bound_in(Some(&post.data)) {
        Some(false) => "unbound (no cloud account)",
        Some(true) => "still bound to a cloud account",
        None => "binding not reported",
    };
    let before = pre.and_then(|p| alias(&p.data));
    let now = alias(&post.data);
    let alias = match (before, now) {
        (Some(b), Some(n)) if b != n => format!("; alias {b:?} before, {n:?} now"),
        (Some(_), Some(n)) => format!("; alias {n:?} unchanged"),
        (_, Some(n)) => format!("; alias {n:?}"),
        _ => String::new(),
    };
    format!("afterwards the device answered: {bound}{alias}")
}
