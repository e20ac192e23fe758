//! The end of a run or resume: a few lines for people on stderr, or JSON on stdout, ending
//! with the command that continues the run when it has work left.

use std::io::Write;

use serde_json::json;

use crate::engine::execute::RunSummary;
use crate::engine::resume::is_resumable_skip;
use crate::inert::Inert;
use crate::model::Outcome;
use crate::output::say;
use crate::store::RunStatus;

/// Prints the summary; the run is done and recorded whatever happens to stdout or stderr, so
/// a closed pipe changes nothing about the exit status. `resume` is the command that continues
/// the run, printed when it has work left.
pub fn print_summary_quietly(s: &RunSummary, json_out: bool, resume: &str) {
    if let Err(e) = print_summary(s, json_out, resume)
        && !crate::output::is_closed_pipe(&e)
    {
        say!("fleetreset: could not print the summary: {e:#}");
    }
}

/// Whether the run left work that `resume` does: jobs without an outcome, or never started.
fn has_work_left(s: &RunSummary) -> bool {
    // Unfinished jobs and resumable skips are among those that did not succeed.
    s.record
        .not_succeeded
        .iter()
        .any(|j| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason))
}

/// When the run ran and for how long: local times with their offset, the duration in real
/// time, and at a time scale what the devices counted.
fn timing(s: &RunSummary) -> String {
    let run = &s.record.run;
    let started = run.started_at.with_timezone(&chrono::Local);
    let mut text = format!("started {}", crate::output::local_time(&started));
    if let Some(end) = run.finished_at {
        let took = (end - run.started_at).to_std().unwrap_or_default();
        text.push_str(&format!(
            ", ended {}: {} real time",
            crate::output::local_time(&end.with_timezone(&chrono::Local)),
            crate::output::duration(took)
        ));
        // Parameters this build can't read say nothing of a time scale: real time.
        let scale = run.parameters().map_or(1.0, |p| p.time_scale_or_real());
        if scale < 1.0 && scale > 0.0 {
            text.push_str(&format!(
                " (about {} of device time at --time-scale {scale})",
                crate::output::duration(took.div_f64(scale))
            ));
        }
    }
    text
}

/// The end of a run: a few lines for people on stderr, or JSON on stdout. A run with work left
/// ends with the command that continues it (`resume`).
pub fn print_summary(s: &RunSummary, json_out: bool, resume: &str) -> anyhow::Result<()> {
    let resume = has_work_left(s).then_some(resume);
    let counts: Vec<(Outcome, usize)> = Outcome::ALL
        .iter()
        .map(|o| (*o, s.count(*o)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if json_out {
        let failures: Vec<_> = s
            .record
            .not_succeeded
            .iter()
            .map(|j| json!({"id": j.device_id, "outcome": j.outcome, "reason": j.reason, "detail": j.detail}))
            .collect();
        let doc = json!({
            "run": s.run_id,
            "status": s.status,
            "stopped_because": s.stop.as_ref().map(|x| x.describe()),
            "action": s.record.run.action,
            "jobs": s.record.jobs(),
            "outcomes": counts.iter().map(|(o, n)| (o.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "not_succeeded": failures,
            "database": s.db_path,
            "started_at": s.record.run.started_at,
            "finished_at": s.record.run.finished_at,
            "resume_command": resume,
            "reports": {
                "dir": s.report.dir,
                "devices_csv": s.report.devices_csv,
                "run_json": s.report.run_json,
                "summary_md": s.report.summary_md,
                "report_html": s.report.report_html,
            },
        });
        let mut out = std::io::stdout().lock();
        out.write_all(crate::report::json_inert(&doc)?.as_bytes())?;
        return Ok(());
    }
    let list = counts
        .iter()
        .map(|(o, n)| format!("{n} {o}"))
        .collect::<Vec<_>>()
        .join(", ");
    say!(
        "run {} ({}) {}: {list}",
        s.run_id,
        s.record.run.action,
        status_word(s.status)
    );
    const SHOWN: usize = 20;
    let others = &s.record.not_succeeded;
    for j in others.iter().take(SHOWN) {
        say!(
            "  {} ({}): {}{}{}",
            Inert(&j.device_id),
            Inert(&j.host),
            j.outcome.map(|o| o.as_str()).unwrap_or("no outcome"),
            j.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
            j.detail
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| format!(" - {}", Inert(d)))
                .unwrap_or_default()
        );
    }
    if others.len() > SHOWN {
        say!("  … and {} more in the report", others.len() - SHOWN);
    }
    say!("times:    {}", timing(s));
    say!("reports:  {}", s.report.dir.display());
    say!("database: {}", s.db_path.display());
    if let Some(cmd) = resume {
        say!("continue: {cmd}");
    }
    Ok(())
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "still running",
        RunStatus::Finished => "finished",
        RunStatus::Stopped => "stopped early",
        RunStatus::Interrupted => "interrupted",
    }
}
