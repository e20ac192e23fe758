//! The run's own life in the audit and the reports: a run interrupted by Ctrl-C, a resume by
//! another operator on an edited inventory (refused without `--force`, then forced), a run
//! killed outright and resumed, a run stopped by a threshold. Each is checked three ways: the
//! run-level events in the database, the timeline `summary.md` tells, and the simulator's
//! journal of what each device actually received (one command per device, never two).
//!
//! Loopback range 127.40.x.x.

mod common;

use fleetreset::model::{EventKind, RunEventKind, StoredKind};
use std::path::Path;

use common::bench::{Bench, exit_code, kill_when, run_args, wait_for_events};
use common::truth::{assert_truthful, count_events, latest_run};
use common::{plugs, text};
use fleetreset::model::Outcome;
use fleetreset::store::{EventRow, RunRecord, RunStatus};
use serde_json::Value;

const FILE: u8 = 40;

/// UTC+05:30 all year, as a POSIX rule (no tz database needed): reports show it.
const TZ: &str = "IST-5:30";

fn sha256_hex(path: &Path) -> String {
    fleetreset::engine::execute::sha256_hex(&std::fs::read(path).unwrap())
}

/// The run's own events (no device), as `(kind, detail)` in write order.
fn run_events(record: &RunRecord) -> Vec<(StoredKind, &Value)> {
    record
        .events
        .iter()
        .filter(|e| e.device_id.is_none())
        .map(|e: &EventRow| (e.kind, &e.detail))
        .collect()
}

/// The record without the skips a resume reopened: a skipped job that `resume` reopens keeps its
/// skip's `outcome` event in the append-only table, followed by `reopened`, then gets its one
/// real outcome. [`assert_truthful`] counts one outcome event per outcome, so each outcome event
/// a `reopened` superseded is left out of what it is shown.
fn without_reopened_skips(record: &RunRecord) -> RunRecord {
    let mut kept: Vec<EventRow> = Vec::new();
    for e in &record.events {
        if e.kind == EventKind::Reopened {
            let superseded = kept.iter().rposition(|k| {
                k.kind == EventKind::Outcome
                    && k.device_id == e.device_id
                    && k.detail["outcome"] == "skipped"
            });
            let i = superseded.unwrap_or_else(|| panic!("a reopened job with no skip: {e:?}"));
            kept.remove(i);
        }
        kept.push(e.clone());
    }
    RunRecord {
        events: kept,
        ..record.clone()
    }
}

fn summary(bench: &Bench, record: &RunRecord) -> String {
    std::fs::read_to_string(
        bench
            .path("reports")
            .join(&record.run.id)
            .join("summary.md"),
    )
    .unwrap()
}

fn timeline(summary: &str) -> Vec<String> {
    summary
        .split("## Timeline\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("- "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_run_interrupted_by_ctrl_c_and_resumed_by_another_operator_on_an_edited_inventory_tells_it_all()
{
    let csv = plugs(FILE, 1, 6, "");
    let bench = Bench::start(&csv, &csv);
    let inventory = bench.path("fleet.csv");
    let sha_then = sha256_hex(&inventory);
    // One job at a time, two a second: the signal lands with most of the fleet not started.
    let args = run_args(
        "power-cycle",
        &["--operator", "alice", "--rate", "2", "--concurrency", "1"],
    );
    let mut run = Bench::spawn(bench.cmd(&args).env("TZ", TZ));
    wait_for_events(&bench.db(), EventKind::Intent, 1);
    // SAFETY: kill(2) on our own child's pid, which it still is (not yet reaped).
    assert_eq!(
        unsafe { libc::kill(run.0.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    assert_eq!(exit_code(&mut run), Some(3));

    let stopped = latest_run(&bench.db());
    assert_eq!(stopped.run.status, RunStatus::Interrupted);
    let skipped = stopped
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Skipped))
        .count();
    assert!(skipped >= 1, "{:?}", stopped.jobs);
    assert_truthful(&stopped, &bench.journal(), false, "after the interruption");
    let events = run_events(&stopped);
    let kinds: Vec<_> = events.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [RunEventKind::RunStarted, RunEventKind::RunInterrupted]
    );
    let started = events[0].1;
    assert_eq!(started["operator"], "alice");
    assert_eq!(started["inventory_sha256"], sha_then.as_str());
    assert_eq!(started["parameters"]["rate_per_s"], 2);
    let interrupted = events[1].1;
    assert_eq!(interrupted["signal"], "SIGINT");
    assert!(interrupted["signal_at"].is_string(), "{interrupted}");
    assert_eq!(interrupted["signals"], 1);
    assert_eq!(interrupted["skipped"], skipped);

    // Someone edits the inventory (a comment: the same devices, other bytes).
    let mut edited = std::fs::read_to_string(&inventory).unwrap();
    edited.push_str("# checked by bob\n");
    std::fs::write(&inventory, edited).unwrap();
    let sha_now = sha256_hex(&inventory);
    assert_ne!(sha_then, sha_now);

    let resume = |extra: &[&str]| {
        let mut args = vec!["resume", "latest", "--operator", "bob"];
        args.extend_from_slice(extra);
        bench.cmd(&args).env("TZ", TZ).output().unwrap()
    };
    let journal_before = bench.journal();
    let refused = resume(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert_eq!(count_events(&bench.db(), RunEventKind::RunResumed), 0);
    assert_eq!(
        bench.journal(),
        journal_before,
        "the refused resume sent something"
    );

    let out = resume(&["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let done = latest_run(&bench.db());
    assert_eq!(done.run.status, RunStatus::Finished);
    let journal = bench.journal();
    assert_truthful(
        &without_reopened_skips(&done),
        &journal,
        true,
        "after the resume",
    );
    assert_eq!(count_events(&bench.db(), EventKind::Reopened), skipped);
    for job in &done.jobs {
        assert_eq!(job.outcome, Some(Outcome::Succeeded), "{job:?}");
        assert_eq!(journal.commands(&job.device_id), 1, "{}", journal.text);
    }
    // The resume sent nothing to a device that had its command before.
    for (id, n) in &journal_before.reboots {
        assert_eq!(journal.reboots.get(id), Some(n), "{id}");
    }

    let events = run_events(&done);
    let kinds: Vec<_> = events.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            RunEventKind::RunStarted,
            RunEventKind::RunInterrupted,
            RunEventKind::RunResumed,
            RunEventKind::RunFinished
        ]
    );
    let resumed = events[2].1;
    assert_eq!(resumed["operator"], "bob");
    assert_eq!(resumed["previous_status"], "interrupted");
    assert_eq!(resumed["force"], true);
    assert_eq!(resumed["inventory_sha256_then"], sha_then.as_str());
    assert_eq!(resumed["inventory_sha256_now"], sha_now.as_str());
    // The run's own operator stays the one who started it.
    assert_eq!(done.run.operator, "alice");

    let md = summary(&bench, &done);
    assert!(
        md.contains("- Started by: alice\n- Resumed by: bob\n"),
        "{md}"
    );
    let lines = timeline(&md);
    assert_eq!(lines.len(), 4, "{md}");
    assert!(
        lines.iter().all(|l| l[2..].contains(" +05:30: ")),
        "{lines:?}"
    );
    assert!(lines[0].ends_with(&format!(
        ": started by alice with fleetreset {}, inventory sha256 {}",
        env!("CARGO_PKG_VERSION"),
        &sha_then[..12]
    )));
    assert!(
        lines[1].contains(": interrupted by SIGINT (received 20"),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(&format!("; {skipped} job(s) not started")),
        "{lines:?}"
    );
    assert!(
        lines[2].ends_with(&format!(
            ": resumed by bob after an interruption, with fleetreset {}; the inventory had changed (sha256 {} then, {} now): resumed with --force",
            env!("CARGO_PKG_VERSION"),
            &sha_then[..12],
            &sha_now[..12]
        )),
        "{lines:?}"
    );
    assert!(
        lines[3].ends_with(": finished: every job has its outcome"),
        "{lines:?}"
    );
    assert!(md.contains("- Status: finished\n"), "{md}");
    assert!(!md.contains("--allow-unverified-identity"), "{md}");
}

#[test]
fn a_run_killed_outright_is_resumed_under_the_users_name_and_the_timeline_says_it_was_not_closed() {
    let csv = plugs(FILE, 2, 4, "reset_stays");
    let bench = Bench::start(&csv, &csv);
    let args = run_args(
        "factory-reset",
        &["--operator", "alice", "--rate", "2", "--concurrency", "1"],
    );
    let mut run = Bench::spawn(&mut bench.cmd(&args));
    let db = bench.db();
    kill_when(&mut run, || count_events(&db, EventKind::Intent) >= 1);

    let killed = latest_run(&db);
    assert_eq!(killed.run.status, RunStatus::Running);
    assert_eq!(
        run_events(&killed)
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>(),
        [RunEventKind::RunStarted],
        "a killed process writes no end"
    );

    // No --operator: the resume is recorded under the user's name, as `run` would be.
    let out = bench
        .cmd(&["resume", "latest", "--yes"])
        .env("USER", "carol")
        .env("TZ", TZ)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let done = latest_run(&db);
    assert_truthful(&done, &bench.journal(), true, "after the resume");
    let events = run_events(&done);
    let kinds: Vec<_> = events.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            RunEventKind::RunStarted,
            RunEventKind::RunResumed,
            RunEventKind::RunFinished
        ]
    );
    let resumed = events[1].1;
    assert_eq!(resumed["operator"], "carol");
    assert_eq!(resumed["previous_status"], "running");
    assert_eq!(resumed["force"], false);
    assert_eq!(
        resumed["inventory_sha256_then"],
        resumed["inventory_sha256_now"]
    );

    let md = summary(&bench, &done);
    let lines = timeline(&md);
    assert_eq!(lines.len(), 3, "{md}");
    assert!(
        lines[1].contains(
            ": resumed by carol after its process ended without closing the run (a crash, a kill or a power cut), with fleetreset "
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with("; the inventory was unchanged"),
        "{lines:?}"
    );
    assert!(!md.contains("interrupted by"), "{md}");
}

#[test]
fn a_run_stopped_by_its_failure_threshold_says_which_and_how_many_never_started() {
    // The first device is offline: with --max-fail 0 its failure stops the run.
    let mut csv = plugs(FILE, 3, 4, "");
    csv = csv.replacen(",\n", ",offline\n", 1);
    let bench = Bench::start(&csv, &csv);
    let out = bench
        .cmd(&run_args(
            "power-cycle",
            &["--max-fail", "0", "--concurrency", "1", "--rate", "2"],
        ))
        .env("TZ", TZ)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let record = latest_run(&bench.db());
    assert_eq!(record.run.status, RunStatus::Stopped);
    let journal = bench.journal();
    assert_truthful(&record, &journal, true, "after the stop");
    assert_eq!(journal.commands("p01"), 0, "{}", journal.text);
    let skipped = record
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Skipped))
        .count();
    assert!(skipped >= 1, "{:?}", record.jobs);

    let events = run_events(&record);
    let kinds: Vec<_> = events.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [RunEventKind::RunStarted, RunEventKind::RunStopped]);
    let stopped = events[1].1;
    assert_eq!(stopped["reason"], "threshold_reached");
    assert_eq!(stopped["skipped"], skipped);
    assert_eq!(stopped["left_open"], 0);
    let why = stopped["why"].as_str().unwrap();

    let md = summary(&bench, &record);
    let lines = timeline(&md);
    assert_eq!(lines.len(), 2, "{md}");
    assert!(
        lines[1].ends_with(&format!(
            ": stopped (threshold_reached): {why}; {skipped} job(s) not started"
        )),
        "{lines:?}"
    );
    assert!(md.contains("- Status: stopped\n"), "{md}");
}
