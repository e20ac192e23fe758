use super::*;
use crate::model::RunEventKind;
use crate::report::fixture;

#[test]
fn the_summary_has_parameters_counts_sites_and_the_jobs_to_look_at() {
    let expected = "\
# Run 20261121T054708-a1b2: power-cycle

- Inventory: inventories/lab.csv (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)
- Started by: alice
- fleetreset version: 0.1.0
- Settings: rate 2/s, concurrency 4
- Started: 2026-11-21 06:47:08.123 +01:00
- Ended: 2026-11-21 06:49:10.500 +01:00
- Duration: 2m 02s (real time)
- Status: stopped
- Times: local, with their offset from UTC. The duration and network timeouts are real time; how long a device took to go away, come back or leave the network is device time

## Timeline

- 2026-11-21 06:47:08.123 +01:00: started by alice with fleetreset 0.1.0, inventory sha256 9f86d081884c
- 2026-11-21 06:49:10.500 +01:00: stopped (threshold_reached): failure threshold reached; 1 job(s) not started

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

| site | jobs | succeeded | failed | manual_required | manual_confirmed | skipped | unfinished |
|:--|--:|--:|--:|--:|--:|--:|--:|
| north\\|south | 1 | 0 | 1 | 0 | 0 | 0 | 0 |
| site-a | 2 | 1 | 0 | 1 | 0 | 0 | 0 |
| (no site) | 1 | 0 | 0 | 0 | 0 | 1 | 0 |

## Not succeeded (3)

- **lamp-2** (north\\|south), 10.0.0.2: failed (not_verified): did not come back within 90 s\\n\\| retry later
- **strip-3**, 10.0.0.3: skipped (threshold_reached): failure threshold reached
- **cam-4** (site-a / porch), 10.0.0.4: manual_required: hold the reset button for 5 s

## Without an identity check (1)

The inventory gave no MAC for these devices, so the run could not check that the device answering at each address was the one meant; a power cycle goes ahead without that check.

- **lamp-2**, 10.0.0.2: failed

1 device(s) wait for a technician: `fleetreset work-orders 20261121T054708-a1b2` writes their checklist, and `fleetreset confirm` records the work.
";
    assert_eq!(render(&fixture::record(), fixture::ZONE), expected);
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
    let text = render(&record, fixture::ZONE);
    let by_site = text.split("## By site").nth(1).unwrap();
    let rows: Vec<&str> = by_site
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 2 + 4);
    for row in rows {
        let cells = row.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 9, "{row}");
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
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains("- Ended: not recorded\n- Status: running (as last recorded: the run is still going, or its process ended without closing it)\n"),
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
    let text = render(&record, fixture::ZONE);
    assert!(
        text.ends_with("## Not succeeded (0)\n\nEvery job succeeded.\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "| site | jobs | succeeded | failed | manual_required | manual_confirmed | skipped | unfinished |\n\
             |:--|--:|--:|--:|--:|--:|--:|--:|\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("| site-a | 2 | 2 | 0 | 0 | 0 | 0 | 0 |\n"),
        "{text}"
    );
}

#[test]
fn durations_read_as_seconds_minutes_or_hours() {
    let d = |ms| duration(chrono::TimeDelta::milliseconds(ms));
    assert_eq!(d(42_250).as_deref(), Some("42.250 s"));
    assert_eq!(d(122_377).as_deref(), Some("2m 02s"));
    assert_eq!(d(3_900_000).as_deref(), Some("1h 05m 00s"));
    assert_eq!(d(0).as_deref(), Some("0.000 s"));
    assert_eq!(d(-1), None);
}

#[test]
fn a_run_that_ended_before_it_started_by_the_clock_has_an_unknown_duration() {
    let mut record = fixture::record();
    // Started under a clock two hours ahead, resumed and finished under the true one.
    record.run.started_at = fixture::at("2026-11-21T07:47:08.123Z");
    record.run.finished_at = Some(fixture::at("2026-11-21T05:47:10.534Z"));
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains(
            "- Ended: 2026-11-21 06:47:10.534 +01:00\n- Duration: unknown (the host clock changed between processes)\n"
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
    let text = render(&record, fixture::ZONE);
    let controls: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && needs_escape(c))
        .collect();
    assert!(controls.is_empty(), "{controls:?} in {text}");
    assert!(
        text.contains("- Started by: \\u{1b}\\[2J\\u{1b}\\[Hforged\\r\\n\\[ 9/9\\] ok\\u{9b}31m\n"),
        "{text}"
    );
    // Every line the hostile text went into is still one line of the summary.
    assert!(!text.lines().any(|l| l.starts_with("[ 9/9]")), "{text}");
}

/// The fixture's run, interrupted by Ctrl-C and resumed by someone else on an edited inventory.
fn interrupted_and_resumed() -> RunRecord {
    let mut record = fixture::record();
    record.run.status = RunStatus::Finished;
    record.run.parameters =
        serde_json::json!({"rate_per_s": 2, "concurrency": 4, "time_scale": 0.01});
    record.events.truncate(2);
    let run_event = |id, at: &str, kind: RunEventKind, detail| crate::store::EventRow {
        id,
        device_id: None,
        at: fixture::at(at),
        state: None,
        kind: kind.into(),
        detail,
    };
    record.events.extend([
        run_event(
            3,
            "2026-11-21T05:47:30.000Z",
            RunEventKind::RunInterrupted,
            serde_json::json!({
                "signal": "SIGINT", "signal_at": "2026-11-21T05:47:29.250Z", "signals": 1,
                "left_open": 1, "skipped": 2
            }),
        ),
        run_event(
            4,
            "2026-11-21T05:48:00.000Z",
            RunEventKind::RunResumed,
            serde_json::json!({
                "operator": "bob", "previous_status": "interrupted",
                "inventory_sha256_then": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "inventory_sha256_now": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                "force": true, "window": null, "tool_version": "0.1.0"
            }),
        ),
        run_event(5, "2026-11-21T05:49:10.500Z", RunEventKind::RunFinished, serde_json::json!({})),
    ]);
    record
}

#[test]
fn an_interrupted_and_resumed_run_has_its_whole_timeline() {
    let text = render(&interrupted_and_resumed(), fixture::ZONE);
    let expected = "\
- Inventory: inventories/lab.csv (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)
- Started by: alice
- Resumed by: bob
- fleetreset version: 0.1.0
- Settings: rate 2/s, concurrency 4, time scale 0.01 (1 device second took 10 ms of real time)
- Started: 2026-11-21 06:47:08.123 +01:00
- Ended: 2026-11-21 06:49:10.500 +01:00
- Duration: 2m 02s (real time, from the start to the last end, including the time it lay stopped before each resume)
- Status: finished
- Times: local, with their offset from UTC. The duration and network timeouts are real time; how long a device took to go away, come back or leave the network is device time (at time scale 0.01, 1 device second took 10 ms of real time)

## Timeline

- 2026-11-21 06:47:08.123 +01:00: started by alice with fleetreset 0.1.0, inventory sha256 9f86d081884c
- 2026-11-21 06:47:30.000 +01:00: interrupted by SIGINT (received 2026-11-21 06:47:29.250 +01:00); 1 job(s) whose command may have arrived left for `fleetreset resume` to judge; 2 job(s) not started
- 2026-11-21 06:48:00.000 +01:00: resumed by bob after an interruption, with fleetreset 0.1.0; the inventory had changed (sha256 9f86d081884c then, 2c26b46b68ff now): resumed with --force
- 2026-11-21 06:49:10.500 +01:00: finished: every job has its outcome

## Outcomes
";
    assert!(text.contains(expected), "{text}");
}

#[test]
fn a_resume_after_a_crash_says_the_process_ended_without_closing_the_run() {
    let mut record = interrupted_and_resumed();
    record.events.remove(2);
    record.events[2].detail["previous_status"] = "running".into();
    record.events[2].detail["force"] = false.into();
    record.events[2].detail["inventory_sha256_now"] =
        record.events[2].detail["inventory_sha256_then"].clone();
    record.events[2].detail["window"] = "22:00-06:00".into();
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains(
            "- 2026-11-21 06:48:00.000 +01:00: resumed by bob after its process ended without closing the run (a crash, a kill or a power cut), with fleetreset 0.1.0; the inventory was unchanged; window 22:00-06:00\n"
        ),
        "{text}"
    );
    assert!(!text.contains("interrupted by"), "{text}");
}

#[test]
fn a_run_recorded_before_run_events_says_it_has_none_rather_than_inventing_them() {
    let mut record = fixture::record();
    record.events.retain(|e| e.device_id.is_some());
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains(
            "## Timeline\n\nThe audit holds no events of the run itself (it was recorded by an older fleetreset).\n"
        ),
        "{text}"
    );
}

#[test]
fn the_unverified_identity_flag_is_named_only_when_the_factory_reset_used_it() {
    let mut record = fixture::record();
    record.run.action = crate::model::Action::FactoryReset;
    record.run.parameters = serde_json::json!({"safety": {"allow_unverified_identity": true}});
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains(
            "## Without an identity check (1)\n\nThe inventory gave no MAC for these devices; --allow-unverified-identity let the run go ahead with whatever answered at their addresses.\n"
        ),
        "{text}"
    );
    record.run.parameters = serde_json::json!({"safety": {"allow_unverified_identity": false}});
    let text = render(&record, fixture::ZONE);
    assert!(!text.contains("--allow-unverified-identity"), "{text}");
    // The fixture's own run is a power cycle, which needs no flag: the summary names none.
    let text = render(&fixture::record(), fixture::ZONE);
    assert!(!text.contains("--allow-unverified-identity"), "{text}");
}

#[test]
fn the_by_site_columns_are_the_same_whatever_outcomes_occurred() {
    let header = |record: &RunRecord| {
        let text = render(record, fixture::ZONE);
        let by_site = text.split("## By site\n\n").nth(1).unwrap().to_string();
        by_site.lines().next().unwrap().to_string()
    };
    let mut all_succeeded = fixture::record();
    for job in &mut all_succeeded.jobs {
        job.outcome = Some(Outcome::Succeeded);
    }
    let mut unfinished = fixture::record();
    unfinished.jobs[0].outcome = None;
    assert_eq!(header(&fixture::record()), header(&all_succeeded));
    assert_eq!(header(&fixture::record()), header(&unfinished));
}

#[test]
fn operator_names_in_run_events_reach_the_timeline_inert() {
    let mut record = interrupted_and_resumed();
    record.events[3].detail["operator"] = "eve\u{1b}[2J|x".into();
    let text = render(&record, fixture::ZONE);
    assert!(
        text.contains("resumed by eve\\u{1b}\\[2J\\|x after"),
        "{text}"
    );
    assert!(
        text.contains("- Resumed by: eve\\u{1b}\\[2J\\|x\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}
