//! `summary.md`: the run for people. Its parameters, counts by outcome and by site, and every job
//! that did not simply succeed, with the reason. `run` and `demo` print it at the end too, so it
//! has to read well as plain text in a terminal as well as rendered.

use std::fmt::{self, Write};

use serde_json::Value;

use super::summary::{Summary, outcome_word, status_word};
use super::timestamp;
use crate::inert::{inert, needs_escape};
use crate::model::Outcome;
use crate::store::{JobRow, RunRecord, RunRow};

pub fn render(record: &RunRecord) -> String {
    let mut out = String::new();
    write_summary(&mut out, record).expect("writing to a String never fails");
    out
}

fn write_summary(out: &mut String, record: &RunRecord) -> fmt::Result {
    let run = &record.run;
    let summary = Summary::of(record);
    writeln!(out, "# Run {}: {}", escape(&run.id), run.action)?;
    writeln!(out)?;
    write_parameters(out, run)?;
    writeln!(out)?;
    write_outcomes(out, &summary)?;
    if !summary.sites.is_empty() {
        writeln!(out)?;
        write_sites(out, &summary)?;
    }
    writeln!(out)?;
    write_attention(out, record)?;
    write_unverified(out, record)
}

/// Devices acted on without an identity check: the auditor's list of what might have been the
/// wrong device.
fn write_unverified(out: &mut String, record: &RunRecord) -> fmt::Result {
    let jobs: Vec<&JobRow> = record
        .jobs
        .iter()
        .filter(|j| j.identity_verified == Some(false))
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "## Acted on without an identity check ({})",
        jobs.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "The inventory gave no MAC for these devices; --allow-unverified-identity let the run act on whatever answered at their addresses."
    )?;
    writeln!(out)?;
    for job in jobs {
        writeln!(
            out,
            "- **{}**, {}: {}",
            escape(&job.device_id),
            escape(&job.host),
            outcome_word(job.outcome)
        )?;
    }
    Ok(())
}

fn write_parameters(out: &mut String, run: &RunRow) -> fmt::Result {
    writeln!(
        out,
        "- Inventory: {} (sha256 {})",
        escape(&run.inventory_path),
        escape(&run.inventory_sha256)
    )?;
    writeln!(out, "- Operator: {}", escape(&run.operator))?;
    writeln!(out, "- fleetreset version: {}", escape(&run.tool_version))?;
    if let Some(settings) = settings(&run.parameters) {
        writeln!(out, "- Settings: {settings}")?;
    }
    writeln!(out, "- Started: {}", timestamp(&run.started_at))?;
    match run.finished_at {
        Some(end) => {
            writeln!(out, "- Finished: {}", timestamp(&end))?;
            writeln!(out, "- Duration: {}", duration(end - run.started_at))?;
        }
        None => writeln!(out, "- Finished: not yet")?,
    }
    writeln!(out, "- Status: {}", status_word(run.status))
}

/// The run's validated parameters as `key value, …` in key order, or `None` when there are
/// none.
fn settings(parameters: &Value) -> Option<String> {
    let map = parameters.as_object().filter(|m| !m.is_empty())?;
    let pairs: Vec<String> = map
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{} {}", escape(key), escape(&value))
        })
        .collect();
    Some(pairs.join(", "))
}

/// Said for a duration that came out negative. The start and the end are wall-clock times
/// taken by different processes when a run was resumed, so a host clock set back in between
/// (it ran two hours ahead when the run started, and was corrected before the resume) puts the
/// end before the start. No run takes negative time, and no figure we could print would be the
/// true one.
pub const UNKNOWN_DURATION: &str = "unknown (the host clock changed between processes)";

/// `42.250 s` under a minute, `2m 02s`, `1h 05m 00s`; [`UNKNOWN_DURATION`] when negative.
fn duration(d: chrono::TimeDelta) -> String {
    let ms = d.num_milliseconds();
    if ms < 0 {
        return UNKNOWN_DURATION.to_string();
    }
    if ms < 60_000 {
        return format!("{:.3} s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// Every outcome, zeros included (a `failed | 0` row is news too); unfinished jobs only when
/// there are some.
fn write_outcomes(out: &mut String, summary: &Summary) -> fmt::Result {
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

/// Site × outcome, with a column only for the outcomes that occur in the run, so the table
/// stays narrow enough for a terminal.
fn write_sites(out: &mut String, summary: &Summary) -> fmt::Result {
    let columns: Vec<Option<Outcome>> = summary
        .outcomes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(o, _)| o)
        .collect();
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
fn write_attention(out: &mut String, record: &RunRecord) -> fmt::Result {
    let mut jobs: Vec<&JobRow> = record
        .jobs
        .iter()
        .filter(|job| job.outcome != Some(Outcome::Succeeded))
        .collect();
    jobs.sort_by_key(|job| job.seq);
    writeln!(out, "## Not succeeded ({})", jobs.len())?;
    writeln!(out)?;
    if jobs.is_empty() {
        return writeln!(out, "Every job succeeded.");
    }
    for job in jobs {
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
    }
    Ok(())
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
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn the_summary_has_parameters_counts_sites_and_the_jobs_to_look_at() {
        let expected = "\
# Run 20261121T054708-a1b2: power-cycle

- Inventory: inventories/lab.csv (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)
- Operator: alice
- fleetreset version: 0.1.0
- Settings: concurrency 4, rate_per_s 2
- Started: 2026-11-21T05:47:08.123Z
- Finished: 2026-11-21T05:49:10.500Z
- Duration: 2m 02s
- Status: stopped

## Outcomes

| outcome | jobs |
|:--|--:|
| succeeded | 1 |
| failed | 1 |
| manual_required | 1 |
| manual_confirmed | 0 |
| skipped | 1 |
| total | 4 |

## By site

| site | jobs | succeeded | failed | manual_required | skipped |
|:--|--:|--:|--:|--:|--:|
| north\\|south | 1 | 0 | 1 | 0 | 0 |
| site-a | 2 | 1 | 0 | 1 | 0 |
| (no site) | 1 | 0 | 0 | 0 | 1 |

## Not succeeded (3)

- **lamp-2** (north\\|south), 10.0.0.2: failed (not_verified): did not come back within 90 s\\n\\| retry later
- **strip-3**, 10.0.0.3: skipped (threshold_reached): failure threshold reached
- **cam-4** (site-a / porch), 10.0.0.4: manual_required: hold the reset button for 5 s

## Acted on without an identity check (1)

The inventory gave no MAC for these devices; --allow-unverified-identity let the run act on whatever answered at their addresses.

- **lamp-2**, 10.0.0.2: failed
";
        assert_eq!(render(&fixture::record()), expected);
    }

    #[test]
    fn table_metacharacters_and_markup_in_device_text_are_escaped() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("line 1\nline 2\r\n"), "line 1\\nline 2\\r\\n");
        assert_eq!(escape("a\\|b"), "a\\\\\\|b");
        assert_eq!(
            escape("<img src=x> [x](javascript:1) `code` **b**"),
            "\\<img src=x\\> \\[x\\](javascript:1) \\`code\\` \\*\\*b\\*\\*"
        );
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}\\[31mred");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape("plug_1 (rack 2)"), "plug_1 (rack 2)");
    }

    #[test]
    fn every_table_row_keeps_its_columns_whatever_the_site_is_called() {
        let mut record = fixture::record();
        record.jobs[0].site = Some("a|b\n| c | d |".to_string());
        let text = render(&record);
        let by_site = text.split("## By site").nth(1).unwrap();
        let rows: Vec<&str> = by_site
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), 2 + 4);
        for row in rows {
            let cells = row.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 7, "{row}");
        }
    }

    #[test]
    fn an_unfinished_run_says_so_and_lists_its_unfinished_jobs() {
        let mut record = fixture::record();
        record.run.finished_at = None;
        record.run.status = crate::store::RunStatus::Running;
        record.jobs[0].outcome = None;
        record.jobs[0].state = crate::model::JobState::Verifying;
        record.jobs[0].detail = None;
        let text = render(&record);
        assert!(
            text.contains("- Finished: not yet\n- Status: running\n"),
            "{text}"
        );
        assert!(!text.contains("- Duration:"), "{text}");
        assert!(text.contains("| unfinished | 1 |\n| total | 4 |"), "{text}");
        assert!(
            text.contains("## Not succeeded (4)\n\n- **plug-1** (site-a / rack 1), 10.0.0.1: unfinished (state verifying)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_run_where_everything_succeeded_says_so() {
        let mut record = fixture::record();
        for job in &mut record.jobs {
            job.outcome = Some(Outcome::Succeeded);
            job.reason = None;
            job.identity_verified = Some(true);
        }
        let text = render(&record);
        assert!(
            text.ends_with("## Not succeeded (0)\n\nEvery job succeeded.\n"),
            "{text}"
        );
        assert!(
            text.contains("| site | jobs | succeeded |\n|:--|--:|--:|\n"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        let d = |ms| duration(chrono::TimeDelta::milliseconds(ms));
        assert_eq!(d(42_250), "42.250 s");
        assert_eq!(d(122_377), "2m 02s");
        assert_eq!(d(3_900_000), "1h 05m 00s");
        assert_eq!(d(0), "0.000 s");
    }

    #[test]
    fn a_run_that_ended_before_it_started_by_the_clock_has_an_unknown_duration() {
        let mut record = fixture::record();
        // Started under a clock two hours ahead, resumed and finished under the true one.
        record.run.started_at = fixture::at("2026-11-21T07:47:08.123Z");
        record.run.finished_at = Some(fixture::at("2026-11-21T05:47:10.534Z"));
        let text = render(&record);
        assert!(
            text.contains(
                "- Finished: 2026-11-21T05:47:10.534Z\n- Duration: unknown (the host clock changed between processes)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("-7197"), "{text}");
    }

    #[test]
    fn device_text_with_escape_sequences_and_line_breaks_reaches_the_summary_inert() {
        let mut record = fixture::record();
        let hostile = "\u{1b}[2J\u{1b}[Hforged\r\n[ 9/9] ok\u{9b}31m";
        for job in &mut record.jobs {
            job.detail = Some(hostile.to_string());
            job.site = Some(hostile.to_string());
            job.unit = Some(hostile.to_string());
            job.device_id = format!("{}{hostile}", job.device_id);
            job.host = hostile.to_string();
        }
        record.run.operator = hostile.to_string();
        record.run.inventory_path = hostile.to_string();
        record.run.parameters = serde_json::json!({ "note": hostile });
        let text = render(&record);
        let controls: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && needs_escape(c))
            .collect();
        assert!(controls.is_empty(), "{controls:?} in {text}");
        assert!(
            text.contains(
                "- Operator: \\u{1b}\\[2J\\u{1b}\\[Hforged\\r\\n\\[ 9/9\\] ok\\u{9b}31m\n"
            ),
            "{text}"
        );
        // Every line the hostile text went into is still one line of the summary.
        assert!(!text.lines().any(|l| l.starts_with("[ 9/9]")), "{text}");
    }
}
