//! Issue 4's safety nets as real binaries against `fleetreset simulate`: the identity gate,
//! dry runs, canaries, batches and failure thresholds, maintenance windows, signals, resume.

mod common;

use fleetreset::model::EventKind;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{KillOnDrop, Simulate, ip, signal, signal_twice, text};
use fleetreset::model::{Outcome, Reason};
use fleetreset::store::{Db, RunRecord, RunStatus};

const FILE: u8 = 27;

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    common::fleetreset()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

const QUICK: &[&str] = &[
    "--time-scale",
    "0.01",
    "--connect-timeout",
    "1",
    "--request-timeout",
    "1",
];

fn run_args<'a>(action: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "fleet.csv", "--action", action];
    args.extend_from_slice(QUICK);
    args.extend_from_slice(extra);
    args
}

fn latest(dir: &Path) -> RunRecord {
    let db = Db::open(&dir.join("fleetreset.db")).unwrap();
    db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap()
}

fn outcomes(rec: &RunRecord) -> Vec<(String, Option<Outcome>, Option<Reason>)> {
    rec.jobs
        .iter()
        .map(|j| (j.device_id.clone(), j.outcome, j.reason))
        .collect()
}

/// `n` healthy plugs with MACs on 127.27.`test`.x, plus extra rows.
fn fleet(test: u8, n: u8, extra: &[(&str, &str)]) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "d{i:02},{},HS103(US),B0:95:75:{test:02X}:00:{i:02X},\n",
            ip(FILE, test, i)
        ));
    }
    for (k, (id, fault)) in extra.iter().enumerate() {
        let i = 200 + k as u8;
        csv.push_str(&format!(
            "{id},{},HS103(US),B0:95:75:{test:02X}:01:{i:02X},{fault}\n",
            ip(FILE, test, i)
        ));
    }
    csv
}

fn workdir(csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    dir
}

#[test]
fn a_factory_reset_of_rows_without_a_mac_is_refused_unless_explicitly_allowed() {
    let a = ip(FILE, 1, 1);
    let csv = format!("id,host,model\nno-mac,{a},HS103(US)\n");
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(dir.path(), &run_args("factory-reset", &["--yes"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("fleet.csv:2: no-mac: no MAC to verify"), "{t}");
    assert!(t.contains("--allow-unverified-identity"), "{t}");
    assert!(
        !dir.path().join("fleetreset.db").exists(),
        "nothing recorded, nothing sent"
    );

    let out = fleetreset(
        dir.path(),
        &run_args("factory-reset", &["--yes", "--allow-unverified-identity"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = latest(dir.path());
    assert_eq!(rec.jobs[0].identity_verified, Some(false));
    let report = std::fs::read_to_string(
        dir.path()
            .join("reports")
            .join(&rec.run.id)
            .join("summary.md"),
    )
    .unwrap();
    assert!(
        report.contains("## Without an identity check (1)"),
        "{report}"
    );
    let csv_report = std::fs::read_to_string(
        dir.path()
            .join("reports")
            .join(&rec.run.id)
            .join("devices.csv"),
    )
    .unwrap();
    assert!(
        csv_report.lines().nth(1).unwrap().contains(",unverified,"),
        "{csv_report}"
    );
}

#[test]
fn a_dry_run_probes_reachability_and_identity_and_sends_nothing() {
    let csv = fleet(
        2,
        2,
        &[("gone", "offline"), ("moved", "mac=B0:95:75:99:99:99")],
    );
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(dir.path(), &run_args("factory-reset", &["--dry-run"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("ok    d01: HS103(US)"), "{t}");
    assert!(t.contains("identity verified"), "{t}");
    assert!(t.contains("FAIL  gone: probe failed"), "{t}");
    assert!(t.contains("FAIL  moved: identity mismatch"), "{t}");
    assert!(
        t.contains("dry run: 4 device(s), 2 ready, 2 with problems"),
        "{t}"
    );
    assert!(!dir.path().join("fleetreset.db").exists());
    // Nothing disruptive: the healthy devices are all still bound and answering.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 1..=2 {
        let mut c = fleetreset::device::IotClient::new(
            SocketAddr::new(ip(FILE, 2, i), 9999),
            Default::default(),
        );
        assert_eq!(rt.block_on(c.cloud_info()).unwrap().binded, 1);
    }
}

#[test]
fn a_failing_canary_stops_the_run_with_exit_three_and_resume_finishes_it() {
    // The first device is the canary and is offline.
    let a = ip(FILE, 3, 100);
    let mut csv =
        format!("id,host,model,mac,sim_fault\ncanary,{a},HS103(US),B0:95:75:03:09:09,offline\n");
    csv.push_str(&fleet(3, 5, &[])["id,host,model,mac,sim_fault\n".len()..]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(
        dir.path(),
        &run_args("power-cycle", &["--canary", "1", "--rate", "20"]),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("a canary device failed (canary)"), "{t}");
    let rec = latest(dir.path());
    assert_eq!(rec.run.status, RunStatus::Stopped);
    let o = outcomes(&rec);
    // Offline: a work order (nothing answers there), and a failure as the canary counts it.
    assert_eq!(o[0].1, Some(Outcome::ManualRequired));
    assert_eq!(o[0].2, Some(Reason::Unreachable));
    for (id, outcome, reason) in &o[1..] {
        assert_eq!(
            (*outcome, *reason),
            (Some(Outcome::Skipped), Some(Reason::ThresholdReached)),
            "{id}"
        );
    }

    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "the canary still failed: {t}");
    let rec = latest(dir.path());
    assert_eq!(rec.run.status, RunStatus::Finished);
    for (id, outcome, _) in &outcomes(&rec)[1..] {
        assert_eq!(*outcome, Some(Outcome::Succeeded), "{id}");
    }
    // The canary's failure stands; it was not run again.
    assert_eq!(rec.jobs[0].attempts, 1);
    let reopened = rec
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Reopened)
        .count();
    assert_eq!(reopened, 5);
}

#[test]
fn max_fail_as_a_percentage_stops_after_the_batch_that_exceeded_it() {
    // Batch 1: d01..d03 and two offline devices → 2 failures of 5, over 20% (1 allowed).
    let csv = format!(
        "id,host,model,mac,sim_fault\n{}",
        (1..=10u8)
            .map(|i| format!(
                "d{i:02},{},HS103(US),B0:95:75:04:00:{i:02X},{}\n",
                ip(FILE, 4, i),
                if i == 2 || i == 4 { "offline" } else { "" }
            ))
            .collect::<String>()
    );
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(
        dir.path(),
        &run_args(
            "power-cycle",
            &[
                "--batch",
                "5",
                "--max-fail",
                "20%",
                "--concurrency",
                "1",
                "--rate",
                "50",
            ],
        ),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.contains("2 of 5 devices in a batch failed, over --max-fail 20%"),
        "{t}"
    );
    let o = outcomes(&latest(dir.path()));
    // With one job at a time, the second failure (d04) stops the batch before d05 starts.
    assert_eq!(
        (o[3].1, o[3].2),
        (Some(Outcome::ManualRequired), Some(Reason::Unreachable))
    );
    for (id, outcome, reason) in &o[4..] {
        assert_eq!(
            (*outcome, *reason),
            (Some(Outcome::Skipped), Some(Reason::ThresholdReached)),
            "{id}"
        );
    }
}

#[test]
fn max_fail_as_a_count_stops_once_failures_over_the_run_exceed_it() {
    let csv = format!(
        "id,host,model,mac,sim_fault\n{}",
        (1..=8u8)
            .map(|i| format!(
                "d{i:02},{},HS103(US),B0:95:75:05:00:{i:02X},{}\n",
                ip(FILE, 5, i),
                if i % 2 == 0 { "offline" } else { "" }
            ))
            .collect::<String>()
    );
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(
        dir.path(),
        &run_args(
            "power-cycle",
            &["--max-fail", "1", "--concurrency", "1", "--rate", "50"],
        ),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("2 failures exceeded --max-fail 1"), "{t}");
    let rec = latest(dir.path());
    let failed = rec
        .jobs
        .iter()
        // Offline devices end as work orders, and count as failures towards --max-fail.
        .filter(|j| j.reason == Some(Reason::Unreachable))
        .count();
    let skipped = rec
        .jobs
        .iter()
        .filter(|j| j.reason == Some(Reason::ThresholdReached))
        .count();
    assert_eq!(failed, 2, "{:?}", outcomes(&rec));
    assert_eq!(skipped, 4, "{:?}", outcomes(&rec));
}

fn window_around_now(open_secs_ago: i64, closes_in_secs: i64) -> String {
    let now = chrono::Local::now().naive_local();
    let start = now - chrono::Duration::seconds(open_secs_ago);
    let end = now + chrono::Duration::seconds(closes_in_secs);
    format!("{}-{}", start.format("%H:%M:%S"), end.format("%H:%M:%S"))
}

#[test]
fn outside_the_window_nothing_starts_and_the_exit_code_is_three() {
    let dir = workdir("id,host,mac\na,127.27.6.1,B0:95:75:06:00:01\n");
    let window = window_around_now(-3600, 7200); // opens in an hour
    let out = fleetreset(dir.path(), &run_args("power-cycle", &["--window", &window]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.contains("outside the maintenance window") && t.contains("it opens at"),
        "{t}"
    );
    assert!(!dir.path().join("fleetreset.db").exists());
    let out = fleetreset(
        dir.path(),
        &run_args("power-cycle", &["--window", "25:00-01:00"]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn when_the_window_closes_the_rest_is_skipped_and_resumable() {
    let csv = fleet(7, 12, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    // One job a second; the window closes 3 s from now.
    let window = window_around_now(60, 3);
    let out = fleetreset(
        dir.path(),
        &run_args("power-cycle", &["--window", &window, "--rate", "1"]),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    let rec = latest(dir.path());
    let done = rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Succeeded))
        .count();
    let closed = rec
        .jobs
        .iter()
        .filter(|j| j.reason == Some(Reason::WindowClosed))
        .count();
    assert!(done >= 1 && closed >= 5, "{:?}", outcomes(&rec));
    assert_eq!(done + closed, 12, "{:?}", outcomes(&rec));

    let window = window_around_now(60, 3600);
    let out = fleetreset(dir.path(), &["resume", "latest", "--window", &window]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = latest(dir.path());
    assert!(
        rec.jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{:?}",
        outcomes(&rec)
    );
}

/// Starts `fleetreset run` in the background, with stderr captured.
fn spawn_run(dir: &Path, args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        common::fleetreset()
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits (up to 20 s) until the running process has recorded `n` events of `kind`.
fn wait_for_events(dir: &Path, kind: EventKind, n: usize) {
    let db = dir.join("fleetreset.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(conn) =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        {
            let count: rusqlite::Result<i64> = conn.query_row(
                "SELECT COUNT(*) FROM events WHERE kind = ?1",
                [kind.as_str()],
                |r| r.get(0),
            );
            if count.is_ok_and(|c| c as usize >= n) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never saw {n} {kind} events");
}

#[test]
fn a_first_signal_stops_new_jobs_lets_running_ones_finish_and_resume_completes() {
    let csv = fleet(8, 10, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let mut child = spawn_run(dir.path(), &run_args("power-cycle", &["--rate", "2"]));
    wait_for_events(dir.path(), EventKind::Intent, 2);
    signal(&child, "-INT");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let rec = latest(dir.path());
    assert_eq!(rec.run.status, RunStatus::Interrupted);
    let succeeded = rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Succeeded))
        .count();
    let interrupted = rec
        .jobs
        .iter()
        .filter(|j| j.reason == Some(Reason::Interrupted))
        .count();
    assert!(
        succeeded >= 2,
        "jobs in flight finish: {:?}",
        outcomes(&rec)
    );
    assert_eq!(succeeded + interrupted, 10, "{:?}", outcomes(&rec));
    assert!(rec.jobs.iter().all(|j| j.outcome.is_some()));

    let out = fleetreset(dir.path(), &["resume", "latest"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = latest(dir.path());
    assert!(
        rec.jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{:?}",
        outcomes(&rec)
    );
    // Each device rebooted exactly once over the two processes.
    assert!(
        rec.jobs.iter().all(|j| j.attempts == 1),
        "{:?}",
        rec.jobs.iter().map(|j| j.attempts).collect::<Vec<_>>()
    );
}

#[test]
fn a_second_signal_stops_at_once_and_resume_resolves_the_intents_by_observation() {
    let csv = fleet(9, 4, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let mut child = spawn_run(dir.path(), &run_args("power-cycle", &["--rate", "50"]));
    // A reboot is in flight (boot 0.6 s) when the signals come.
    wait_for_events(dir.path(), EventKind::Ack, 1);
    signal_twice(&child, "-TERM");
    assert_eq!(child.0.wait().unwrap().code(), Some(3));
    let rec = latest(dir.path());
    assert_eq!(rec.run.status, RunStatus::Interrupted);
    let open: Vec<_> = rec
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .map(|j| j.device_id.clone())
        .collect();
    assert!(
        !open.is_empty(),
        "some job should have been stopped in flight: {:?}",
        outcomes(&rec)
    );

    let out = fleetreset(dir.path(), &["resume", "latest"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "signal {:?}: {}",
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        text(&out)
    );
    let rec = latest(dir.path());
    for id in &open {
        let job = rec.jobs.iter().find(|j| &j.device_id == id).unwrap();
        assert_eq!(
            job.outcome,
            Some(Outcome::Succeeded),
            "{id}: {:?}",
            job.detail
        );
        let detail = job.detail.as_deref().unwrap();
        assert!(detail.contains("not sent again"), "{id}: {detail}");
    }
    let intents = rec
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Intent)
        .count();
    assert_eq!(intents, 4, "no device was sent a second reboot");
}

#[test]
fn resuming_a_finished_run_has_nothing_to_do() {
    let csv = fleet(10, 2, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(
        dir.path(),
        &run_args("power-cycle", &["--max-fail", "0", "--canary", "1"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(dir.path().join("fleet.csv"), format!("{csv}# edited\n")).unwrap();
    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a finished run has nothing to do: {t}"
    );
    assert!(t.contains("nothing left to do"), "{t}");
}

#[test]
fn resume_of_a_stopped_run_with_a_changed_inventory_needs_force() {
    let a = ip(FILE, 11, 100);
    let mut csv =
        format!("id,host,model,mac,sim_fault\ncanary,{a},HS103(US),B0:95:75:0B:09:09,offline\n");
    csv.push_str(&fleet(11, 2, &[])["id,host,model,mac,sim_fault\n".len()..]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(dir.path(), &run_args("power-cycle", &["--canary", "1"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    std::fs::write(dir.path().join("fleet.csv"), format!("{csv}# edited\n")).unwrap();
    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("changed since run") && t.contains("--force"),
        "{t}"
    );
    let out = fleetreset(dir.path(), &["resume", "latest", "--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn two_processes_cannot_work_on_the_same_database() {
    let csv = fleet(12, 6, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    // A slow run holds the database's lock; a resume of it meanwhile is refused, naming the
    // holder.
    let mut child = spawn_run(dir.path(), &run_args("power-cycle", &["--rate", "1"]));
    wait_for_events(dir.path(), EventKind::Intent, 1);
    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("is in use by pid"), "{t}");
    signal(&child, "-INT");
    child.0.wait().unwrap();
}

/// Runs `fleetreset ARGS` under `script`, which gives it a terminal, typing `input`.
fn on_a_terminal(dir: &Path, args: &str, input: &str) -> Option<Output> {
    let mut child = common::terminal(dir, args)?
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

#[test]
fn on_a_terminal_a_factory_reset_waits_for_the_device_count_to_be_typed() {
    let csv = fleet(13, 2, &[]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let args = "run fleet.csv --action factory-reset --time-scale 0.01 --connect-timeout 1 --request-timeout 1";
    let Some(out) = on_a_terminal(dir.path(), args, "3\n") else {
        return;
    };
    let t = text(&out);
    assert!(t.contains("Type 2 to continue"), "{t}");
    assert!(
        t.contains("not confirmed: expected 2, got '3'; nothing was sent"),
        "{t}"
    );
    assert!(!dir.path().join("fleetreset.db").exists(), "{t}");

    let Some(out) = on_a_terminal(dir.path(), args, "2\n") else {
        return;
    };
    let t = text(&out);
    let rec = latest(dir.path());
    assert!(
        rec.jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{t}"
    );
}

#[test]
fn resuming_a_finished_run_with_failures_exits_as_the_run_did() {
    let csv = fleet(14, 1, &[("gone", "offline")]);
    let _sim = Simulate::start(&csv);
    let dir = workdir(&csv);
    let out = fleetreset(dir.path(), &run_args("power-cycle", &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert!(t.contains("nothing left to do"), "{t}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "0 would say every device succeeded: {t}"
    );
}
