//! The run's own life as `summary.md` tells it: started, interrupted or stopped, resumed (by
//! whom, on which inventory), finished, one line each, from the run-level events in the audit.
//! Only what was recorded is said: a crash leaves no event, so the resume after it says the
//! run's process ended without closing it.

use super::local_time::Zone;
use super::markdown;
use super::settings::Escape;
use crate::store::{
    EventRow, Interrupted, Resumed, RunEvent, RunStatus, Started, Stopped, Timestamp,
};

/// One line per run-level event, in write order: `time: what happened`.
pub fn lines(events: &[&EventRow], zone: Zone) -> Vec<String> {
    lines_with(events, zone, markdown::escape)
}

/// [`lines`], with stored text escaped by `escape`.
pub fn lines_with(events: &[&EventRow], zone: Zone, escape: Escape) -> Vec<String> {
    events
        .iter()
        .filter_map(|row| RunEvent::of_row(row).map(|e| (row.at, e)))
        .map(|(at, event)| line(&at, &event, zone, escape))
        .collect()
}

/// The operators who resumed the run, in order, each once.
pub fn resumed_by(events: &[&EventRow]) -> Vec<String> {
    let mut who: Vec<String> = Vec::new();
    for row in events {
        if let Some(RunEvent::Resumed(r)) = RunEvent::of_row(row)
            && !who.contains(&r.operator)
        {
            who.push(r.operator);
        }
    }
    who
}

fn line(at: &Timestamp, event: &RunEvent, zone: Zone, escape: Escape) -> String {
    let what = match event {
        RunEvent::Started(e) => started(e, escape),
        RunEvent::Interrupted(e) => interrupted(e, zone, escape),
        RunEvent::Stopped(e) => stopped(e, escape),
        RunEvent::Resumed(e) => resumed(e, escape),
        RunEvent::Finished(_) => "finished: every job has its outcome".to_string(),
    };
    format!("{}: {what}", zone.show(at))
}

fn started(e: &Started, escape: Escape) -> String {
    format!(
        "started by {} with fleetreset {}, inventory sha256 {}",
        escape(&e.operator),
        escape(&e.tool_version),
        short(escape, &e.inventory_sha256)
    )
}

fn interrupted(e: &Interrupted, zone: Zone, escape: Escape) -> String {
    let mut text = match (&e.signal, &e.signal_at) {
        (Some(name), Some(at)) => format!(
            "interrupted by {} (received {})",
            escape(name),
            zone.show(at)
        ),
        (Some(name), None) => format!("interrupted by {}", escape(name)),
        (None, _) => "interrupted by a signal".to_string(),
    };
    if e.signals > 1 {
        text.push_str("; a second signal stopped the jobs in flight at once");
    }
    text.push_str(&left_and_skipped(e.left_open, e.skipped));
    text
}

fn stopped(e: &Stopped, escape: Escape) -> String {
    format!(
        "stopped ({}): {}{}",
        e.reason,
        escape(&e.why),
        left_and_skipped(e.left_open, e.skipped)
    )
}

fn left_and_skipped(left_open: u32, skipped: u32) -> String {
    let mut text = String::new();
    if left_open > 0 {
        text.push_str(&format!(
            "; {left_open} job(s) whose command may have arrived left for `fleetreset resume` to judge"
        ));
    }
    if skipped > 0 {
        text.push_str(&format!("; {skipped} job(s) not started"));
    }
    text
}

fn resumed(e: &Resumed, escape: Escape) -> String {
    let after = match e.previous_status {
        RunStatus::Interrupted => "after an interruption",
        RunStatus::Stopped => "after a stop",
        RunStatus::Running => {
            "after its process ended without closing the run (a crash, a kill or a power cut)"
        }
        RunStatus::Finished => "after it had finished",
    };
    let mut text = format!(
        "resumed by {} {after}, with fleetreset {}",
        escape(&e.operator),
        escape(&e.tool_version)
    );
    match (e.inventory_changed(), e.force) {
        (true, true) => text.push_str(&format!(
            "; the inventory had changed (sha256 {} then, {} now): resumed with --force",
            short(escape, &e.inventory_sha256_then),
            short(escape, &e.inventory_sha256_now)
        )),
        // `resume` refuses a changed inventory without --force; a row says so if edited.
        (true, false) => text.push_str(&format!(
            "; the inventory had changed (sha256 {} then, {} now)",
            short(escape, &e.inventory_sha256_then),
            short(escape, &e.inventory_sha256_now)
        )),
        (false, true) => text.push_str("; --force given, the inventory was unchanged"),
        (false, false) => text.push_str("; the inventory was unchanged"),
    }
    if let Some(w) = &e.window {
        text.push_str(&format!("; window {}", escape(w)));
    }
    text
}

/// The first 12 hex digits of a SHA-256: enough to tell two files apart by eye.
fn short(escape: Escape, sha: &str) -> String {
    escape(sha.get(..12).unwrap_or(sha))
}
