//! `summary.md`: the run for people. Its parameters, its timeline (started, interrupted,
//! resumed, finished), counts by outcome and by site, and every job that did not simply
//! succeed, with the reason. Every sentence is drawn from what the audit recorded of this run. `run` and `demo` print it at the end too, so it
//! has to read well as plain text in a terminal as well as rendered.

use std::fmt::{self, Write};

use super::local_time::Zone;
use super::source::Source;
use super::summary::{Summary, outcome_word, status_word};
use super::{settings, timeline};
use crate::inert::{inert, needs_escape};
use crate::model::{Action, Outcome};
use crate::store::{EventRow, JobFilter, RunRecord, RunRow, RunStatus};

/// The run's audit chain head, for people to keep: with it, `audit verify --expect` proves
/// later that nothing before it was changed.
pub fn write_chain_head(
    out: &mut dyn Write,
    run_id: &str,
    head: Option<&crate::store::ChainHead>,
) -> fmt::Result {
    out.write_str("\n## Audit chain\n\n")?;
    match head {
        Some(head) => writeln!(
            out,
            "- Head: `{head}`. Keep a copy elsewhere: `fleetreset audit verify --run {} --expect {head}` shows later that no record before it was changed, removed or cut off.",
            escape(run_id)
        ),
        None => out.write_str("- Not recorded: this run has no audit chain.\n"),
    }
}

pub fn render(record: &RunRecord, zone: Zone) -> String {
    let mut out = String::new();
    write(&mut out, Source::Record(record), zone)
        .expect("a record in memory written to a String never fails");
    out
}

/// The summary, job lists streamed from `src`.
pub fn write(out: &mut dyn Write, src: Source<'_>, zone: Zone) -> anyhow::Result<()> {
    let run = src.run();
    let summary = src.summary()?;
    let run_events = src.run_events();
    writeln!(out, "# Run {}: {}", escape(&run.id), run.action)?;
    writeln!(out)?;
    write_parameters(out, run, &run_events, zone)?;
    writeln!(out)?;
    write_timeline(out, &run_events, zone)?;
    writeln!(out)?;
    write_outcomes(out, &summary)?;
    if !summary.sites.is_empty() {
        writeln!(out)?;
        write_sites(out, &summary)?;
    }
    writeln!(out)?;
    write_attention(out, src, &summary)?;
    write_unverified(out, src)?;
    super::confirmations::write(out, src, &summary, zone)
}

/// The run's own events, one line each, or a sentence saying there are none to show.
fn write_timeline(out: &mut dyn Write, events: &[&EventRow], zone: Zone) -> fmt::Result {
    writeln!(out, "## Timeline")?;
    writeln!(out)?;
    let lines = timeline::lines(events, zone);
    if lines.is_empty() {
        return writeln!(
            out,
            "The audit holds no events of the run itself (it was recorded by an older fleetreset)."
        );
    }
    for line in lines {
        writeln!(out, "- {line}")?;
    }
    Ok(())
}

/// Devices the run went ahead with without an identity check: the auditor's list of what might
/// have been the wrong device. It says why only what the run's settings show.
fn write_unverified(out: &mut dyn Write, src: Source<'_>) -> anyhow::Result<()> {
    let n = src.count_jobs(JobFilter::Unverified)?;
    if n == 0 {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Without an identity check ({n})")?;
    writeln!(out)?;
    let run = src.run();
    let flag = run
        .parameters()
        .is_ok_and(|p| p.allows_unverified_identity());
    let why = match (run.action, flag) {
        (Action::FactoryReset, true) => {
            "The inventory gave no MAC for these devices; --allow-unverified-identity let the run go ahead with whatever answered at their addresses."
        }
        (Action::PowerCycle, _) => {
            "The inventory gave no MAC for these devices, so the run could not check that the device answering at each address was the one meant; a power cycle goes ahead without that check."
        }
        (Action::FactoryReset, false) => {
            "The inventory gave no MAC for these devices, so the run could not check that the device answering at each address was the one meant."
        }
    };
    writeln!(out, "{why}")?;
    writeln!(out)?;
    src.jobs(JobFilter::Unverified, |job| {
        writeln!(
            out,
            "- **{}**, {}: {}",
            escape(&job.device_id),
            escape(&job.host),
            outcome_word(job.outcome)
        )?;
        Ok(())
    })
}

fn write_parameters(
    out: &mut dyn Write,
    run: &RunRow,
    events: &[&EventRow],
    zone: Zone,
) -> fmt::Result {
    writeln!(
        out,
        "- Inventory: {} (sha256 {})",
        escape(&run.inventory_path),
        escape(&run.inventory_sha256)
    )?;
    writeln!(out, "- Started by: {}", escape(&run.operator))?;
    let resumed_by = timeline::resumed_by(events);
    if !resumed_by.is_empty() {
        let names: Vec<String> = resumed_by.iter().map(|n| escape(n)).collect();
        writeln!(out, "- Resumed by: {}", names.join(", "))?;
    }
    writeln!(out, "- fleetreset version: {}", escape(&run.tool_version))?;
    if let Some(settings) = settings::line(run.action, &run.parameters) {
        writeln!(out, "- Settings: {settings}")?;
    }
    writeln!(out, "- Started: {}", zone.show(&run.started_at))?;
    match run.finished_at {
        Some(end) => {
            writeln!(out, "- Ended: {}", zone.show(&end))?;
            let pauses = if resumed_by.is_empty() {
                ""
            } else {
                ", from the start to the last end, including the time it lay stopped before each resume"
            };
            match duration(end - run.started_at) {
                Some(d) => writeln!(out, "- Duration: {d} (real time{pauses})")?,
                None => writeln!(out, "- Duration: {UNKNOWN_DURATION}")?,
            }
        }
        None => writeln!(out, "- Ended: not recorded")?,
    }
    writeln!(out, "- Status: {}", status_text(run.status))?;
    writeln!(out, "- Times: {}", times_note(run))
}

/// The status, with what `running` may mean when read back later.
fn status_text(status: RunStatus) -> String {
    match status {
        RunStatus::Running => format!(
            "{} (as last recorded: the run is still going, or its process ended without closing it)",
            status_word(status)
        ),
        other => status_word(other).to_string(),
    }
}

/// The time convention of this summary, said once: local times carry their offset; the run's
/// duration and network timeouts are real time; how long a device took to go away, come back
/// or leave the network is device time, which a rehearsal's time scale shrinks.
fn times_note(run: &RunRow) -> String {
    let base = "local, with their offset from UTC. The duration and network timeouts are real time; \
                how long a device took to go away, come back or leave the network is device time";
    // Parameters this build can't read say nothing of the time scale, like a run without one.
    match run.parameters().ok().and_then(|p| p.time_scale) {
        Some(scale) if scale > 0.0 && scale != 1.0 => format!(
            "{base} (at time scale {scale}, 1 device second took {} ms of real time)",
            (scale * 1e9).round() / 1e6
        ),
        Some(_) => format!("{base}, the same as real time in this run"),
        None => base.to_string(),
    }
}

/// Said for a duration that came out negative. The start and the end are wall-clock times
/// taken by different processes when a run was resumed, so a host clock set back in between
/// (it ran two hours ahead when the run started, and was corrected before the resume) puts the
/// end before the start. No run takes negative time, and no figure we could print would be the
/// true one.
pub const UNKNOWN_DURATION: &str = "unknown (the host clock changed between processes)";

/// `42.250 s` under a minute, `2m 02s`, `1h 05m 00s`; `None` when negative
/// ([`UNKNOWN_DURATION`]).
fn duration(d: chrono::TimeDelta) -> Option<String> {
    let ms = d.num_milliseconds();
    if ms < 0 {
        return None;
    }
    if ms < 60_000 {
        return Some(format!("{:.3} s", ms as f64 / 1000.0));
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    Some(if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    })
}

/// Every outcome, zeros included (a `failed | 0` row is news too); unfinished jobs only when
/// there are some.
fn write_outcomes(out: &mut dyn Write, summary: &Summary) -> fmt::Result {
    writeln!(out, "## Outcomes")?;
    writeln!(out)?;
    writeln!(out, "| outcome | jobs |")?;
    writeln!(out, "|:--|--:|")?;
    for (outcome, n) in summary.outcomes.iter() {
        if outcome.is_some() || n > 0 {
            writeln!(out, "| {} | {n} |", outcome_word(outcome))?;
        }
    }
    writeln!(out, "| total | {} |", summary.outcomes.total())
}

/// Site × outcome, with the same columns in the same order for every run (every outcome, then
/// unfinished), so that one run's table can be read, or pasted, beside another's.
fn write_sites(out: &mut dyn Write, summary: &Summary) -> fmt::Result {
    let columns: Vec<Option<Outcome>> = summary.outcomes.iter().map(|(o, _)| o).collect();
    writeln!(out, "## By site")?;
    writeln!(out)?;
    write!(out, "| site | jobs |")?;
    for outcome in &columns {
        write!(out, " {} |", outcome_word(*outcome))?;
    }
    writeln!(out)?;
    writeln!(out, "|:--|--:|{}", "--:|".repeat(columns.len()))?;
    for (site, tally) in &summary.sites {
        let name = site.as_deref().map_or("(no site)".to_string(), escape);
        write!(out, "| {name} | {} |", tally.total())?;
        for outcome in &columns {
            write!(out, " {} |", tally.get(*outcome))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Every job that did not succeed, in inventory order: what a technician or the next run has
/// to look at.
fn write_attention(out: &mut dyn Write, src: Source<'_>, summary: &Summary) -> anyhow::Result<()> {
    let n = summary.outcomes.total() - summary.outcomes.get(Some(Outcome::Succeeded));
    writeln!(out, "## Not succeeded ({n})")?;
    writeln!(out)?;
    if n == 0 {
        writeln!(out, "Every job succeeded.")?;
        return Ok(());
    }
    src.jobs(JobFilter::NotSucceeded, |job| {
        write!(out, "- **{}**", escape(&job.device_id))?;
        let place: Vec<String> = [&job.site, &job.unit]
            .into_iter()
            .flatten()
            .map(|s| escape(s))
            .collect();
        if !place.is_empty() {
            write!(out, " ({})", place.join(" / "))?;
        }
        write!(
            out,
            ", {}: {}",
            escape(&job.host),
            outcome_word(job.outcome)
        )?;
        if job.outcome.is_none() {
            write!(out, " (state {})", job.state)?;
        }
        if let Some(reason) = job.reason {
            write!(out, " ({reason})")?;
        }
        match job.detail.as_deref() {
            Some(detail) if !detail.is_empty() => writeln!(out, ": {}", escape(detail))?,
            _ => writeln!(out)?,
        }
        Ok(())
    })
}

/// Device or inventory text made inert in a table cell or a list item.
///
/// Line breaks and every other control or text-reordering character are shown as
/// [`crate::inert`] shows them (`\n`, `\r`, `\u{1b}`): a newline would end the table row, and
/// an escape sequence would reach the terminal the summary is printed on (`run` prints it, and
/// people `cat` it). A backslash goes before `|` (which would end the cell), before `<` `>` `[`
/// `]` `` ` `` `*` (HTML, links, images, code spans, and the bold around job ids), and before a
/// backslash of the text itself, so that text can't cancel an escape. The backslash of an inert
/// escape stays single: before a letter, Markdown shows a backslash as it is, so `\n` reads
/// `\n` both rendered and in a terminal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        match c {
            '\\' | '|' | '<' | '>' | '[' | ']' | '`' | '*' => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => out.push_str(&inert(c.encode_utf8(&mut utf8))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
