//! An operator's first hour without surprises (issue 9, items 5, 6, 8, 9 and 11): the
//! confirmation stays on screen, every `resume` hint works as printed, `--json` always prints
//! JSON, times say their zone and their clock, `-v` says more, lock and claim files don't pile
//! up, and the operator has a name without `$USER`. Every disruptive path is checked against
//! the simulator's journal.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bench::{Bench, run_args, run_args_on};
use common::text;
use common::truth::{assert_truthful, latest_run};
use fleetreset::model::Outcome;
use serde_json::Value;

const FILE: u8 = 39;

fn fleet(test: u8, n: u8) -> String {
    common::plugs(FILE, test, n, "")
}

/// A fleet whose first device, `canary`, is offline: `--canary 1` stops the run after it.
fn fleet_with_offline_canary(test: u8, n: u8) -> String {
    let mut csv = format!(
        "id,host,model,mac,sim_fault\ncanary,{},HS110(EU),50:C7:BF:{FILE:02X}:{test:02X}:F0,offline\n",
        common::ip(FILE, test, 200)
    );
    csv.push_str(&fleet(test, n)["id,host,model,mac,sim_fault\n".len()..]);
    csv
}

/// Writes each row of `csv` to an inventory of its own, `one1.csv`, `one2.csv`, …: runs on
/// them reach each device once, so one journal holds each run to the truth.
fn one_device_each(b: &Bench, csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    lines
        .enumerate()
        .map(|(i, row)| {
            let name = format!("one{}.csv", i + 1);
            std::fs::write(b.path(&name), format!("{header}\n{row}\n")).unwrap();
            name
        })
        .collect()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", text(out)))
}

/// The `--json` object of an early end: exactly `status`, `exit` and `reason`, its exit the
/// process's.
fn assert_early(out: &Output, status: &str, exit: i32, reason_has: &str) {
    let doc = stdout_json(out);
    let t = text(out);
    let obj = doc
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {t}"));
    let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["exit", "reason", "status"], "{t}");
    assert_eq!(doc["status"], status, "{t}");
    assert_eq!(doc["exit"], exit, "{t}");
    assert_eq!(out.status.code(), Some(exit), "{t}");
    let reason = doc["reason"].as_str().unwrap();
    assert!(
        reason.contains(reason_has),
        "{reason_has:?} not in {reason:?}"
    );
    // The people's line still goes to stderr.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(reason_has),
        "{t}"
    );
}

/// A window of local time that is closed now: it opens in two hours for an hour.
fn closed_window() -> String {
    let now = chrono::Local::now();
    let open = now + chrono::TimeDelta::hours(2);
    let close = now + chrono::TimeDelta::hours(3);
    format!("{}-{}", open.format("%H:%M"), close.format("%H:%M"))
}

// --- Item 5: the confirmation -------------------------------------------------------------

/// `fleetreset ARGS` on a terminal (`script`) in `b`'s directory: waits until the question is
/// on screen, lets the terminal sit for a while (a spinner would redraw the line meanwhile),
/// then types `answer`. Returns everything the terminal showed; None without `script`.
fn answer_on_a_terminal(b: &Bench, args: &str, answer: &str) -> Option<(String, i32)> {
    type_on_a_terminal(b, args, format!("{answer}\n").as_bytes())
}

/// [`answer_on_a_terminal`] typing `keys` as they are (`\x03` is Ctrl-C). A command still
/// running 20 s later is killed, with -1 as its exit code.
fn type_on_a_terminal(b: &Bench, args: &str, keys: &[u8]) -> Option<(String, i32)> {
    let locks = b
        .cmd(&[])
        .get_envs()
        .find(|(k, _)| *k == "FLEETRESET_LOCK_DIR")
        .and_then(|(_, v)| v.map(|v| v.to_owned()))
        .unwrap();
    let mut child = common::terminal(b.dir.path(), args)?
        .env("FLEETRESET_LOCK_DIR", locks)
        .env("COLUMNS", "80")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("to continue: ") {
        assert!(Instant::now() < deadline, "the question never came");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Five ticks of the old spinner.
    std::thread::sleep(Duration::from_millis(1000));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(keys).unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // The command under test then reads the end of its terminal, and ends.
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    reader.join().unwrap();
    let shown = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    Some((shown, status.code().unwrap_or(-1)))
}

#[test]
fn on_a_terminal_the_question_is_still_on_screen_when_the_answer_is_typed() {
    let csv = fleet(1, 2);
    let b = Bench::start(&csv, &csv);
    let args = "run fleet.csv --action factory-reset --time-scale 0.01 --connect-timeout 1 --request-timeout 1";
    let Some((shown, code)) = answer_on_a_terminal(&b, args, "3") else {
        return;
    };
    let (_, after) = shown.split_once("Type 2 to continue: ").unwrap();
    // Nothing drew over the question while it waited: the next thing on the terminal is the
    // answer as typed (echoed), not a carriage return or an erase-line of a spinner.
    assert!(
        after.starts_with('3'),
        "the question was redrawn before the answer: {after:?}"
    );
    assert!(
        after.contains("not confirmed: expected 2, got '3'; nothing was sent"),
        "{shown}"
    );
    assert_eq!(code, 2, "{shown}");
    assert!(b.journal().no_commands(), "{}", b.journal().text);
    assert!(!b.db().exists());

    let Some((shown, code)) = answer_on_a_terminal(&b, args, "2") else {
        return;
    };
    let (_, after) = shown.split_once("Type 2 to continue: ").unwrap();
    assert!(after.starts_with('2'), "{after:?}");
    assert_eq!(code, 0, "{shown}");
    let record = latest_run(&b.db());
    assert_truthful(&record, &b.journal(), true, "confirmed on a terminal");
    for j in &record.jobs {
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{shown}");
        assert_eq!(b.journal().resets.get(&j.device_id), Some(&1), "{shown}");
    }
}

#[test]
fn ctrl_c_at_the_question_ends_the_command_with_nothing_sent() {
    let csv = fleet(22, 2);
    let b = Bench::start(&csv, &csv);
    let args = "run fleet.csv --action factory-reset --time-scale 0.01 --connect-timeout 1 --request-timeout 1";
    let Some((shown, code)) = type_on_a_terminal(&b, args, b"\x03") else {
        return;
    };
    assert_eq!(code, 2, "Ctrl-C at the question did not end it: {shown}");
    assert!(
        shown.contains("not confirmed: interrupted by SIGINT"),
        "{shown}"
    );
    // No job ever started: nothing may speak of jobs in flight.
    assert!(!shown.contains("in flight"), "{shown}");
    assert!(b.journal().no_commands(), "{}", b.journal().text);
    assert!(!b.db().exists());
}

#[test]
fn a_wrong_answer_shown_inert_says_what_was_expected() {
    // Off a terminal the answer can't be typed at all: the refusal says how to go on.
    let csv = fleet(2, 2);
    let b = Bench::start(&csv, &csv);
    let mut args = run_args("factory-reset", &[]);
    args.retain(|a| *a != "--yes");
    let out = b.output(&args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("needs confirmation") && t.contains("--yes"),
        "{t}"
    );
    assert!(b.journal().no_commands(), "{}", b.journal().text);
}

// --- Item 6: hints that work as printed ---------------------------------------------------

/// `sh -c COMMAND` in `b`'s directory, with `fleetreset` on the PATH and `b`'s claims.
fn as_printed(b: &Bench, command: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_fleetreset"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(command).current_dir(b.dir.path());
    for (k, v) in b.cmd(&[]).get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh.env("PATH", path).output().unwrap()
}

#[test]
fn a_stopped_run_ends_with_the_command_that_continues_it_and_that_command_works_as_printed() {
    let csv = fleet_with_offline_canary(3, 3);
    let b = Bench::start(&csv, &csv);
    std::fs::create_dir(b.path("audit dir")).unwrap();
    let out = b.output(&run_args(
        "power-cycle",
        &[
            "--canary",
            "1",
            "--db",
            "audit dir/fleet.db",
            "--reports-dir",
            "my reports",
        ],
    ));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    let command = last
        .strip_prefix("continue: ")
        .unwrap_or_else(|| panic!("the summary does not end with the command: {t}"));
    let db = b.path("audit dir/fleet.db");
    let record = latest_run(&db);
    assert_eq!(
        command,
        format!(
            "fleetreset resume {} --db 'audit dir/fleet.db' --reports-dir 'my reports'",
            record.run.id
        )
    );
    assert!(b.journal().no_commands(), "the canary stopped it: {t}");
    assert_truthful(&record, &b.journal(), true, "stopped by the canary");

    let out = as_printed(&b, command);
    let t = text(&out);
    // The canary failed, so the run as a whole has a failure: 1.
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("continue: "),
        "nothing is left: {t}"
    );
    // The resumed jobs' skips were reopened (an outcome event each before this one), so the
    // journal is checked job by job: every resumed device got one reboot, the canary none.
    let record = latest_run(&db);
    let journal = b.journal();
    assert_eq!(journal.commands("canary"), 0, "{}", journal.text);
    for j in record.jobs.iter().filter(|j| j.device_id != "canary") {
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{}: {t}", j.device_id);
        assert_eq!(journal.commands(&j.device_id), 1, "{}", journal.text);
    }
    assert!(b.path("my reports").join(&record.run.id).is_dir(), "{t}");
}

#[test]
fn the_json_summary_of_a_stopped_run_carries_the_command_that_continues_it() {
    let csv = fleet_with_offline_canary(4, 2);
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args(
        "power-cycle",
        &["--canary", "1", "--json", "--db", "a b.db"],
    ));
    let doc = stdout_json(&out);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = doc["run"].as_str().unwrap();
    assert_eq!(
        doc["resume_command"],
        format!("fleetreset resume {id} --db 'a b.db'")
    );
    assert!(b.journal().no_commands(), "{}", b.journal().text);
}

// --- Item 8: --json always prints JSON ----------------------------------------------------

#[test]
fn with_json_every_early_end_prints_one_object_with_its_status_and_reason() {
    let csv = fleet(5, 2);
    let b = Bench::start(&csv, &csv);
    std::fs::write(b.path("bad.csv"), "id,host\np01,not an address\n").unwrap();

    let out = b.output(&run_args("power-cycle", &["--json", "--rate", "0"]));
    assert_early(&out, "refused", 2, "--rate must be");
    let out = b.output(&["run", "fleet.csv", "--json"]);
    assert_early(&out, "refused", 2, "--action");
    let out = b.output(&run_args_on_bad());
    assert_early(&out, "refused", 2, "bad.csv has problems");
    let out = b.output(&["plan", "bad.csv", "--action", "power-cycle", "--json"]);
    assert_early(&out, "refused", 2, "bad.csv has problems");
    let window = closed_window();
    let out = b.output(&run_args("power-cycle", &["--json", "--window", &window]));
    assert_early(&out, "outside-window", 3, "outside the maintenance window");
    let mut unconfirmed = run_args("factory-reset", &["--json"]);
    unconfirmed.retain(|a| *a != "--yes");
    let out = b.output(&unconfirmed);
    assert_early(&out, "not-confirmed", 2, "needs confirmation");
    let out = b.output(&["runs", "--json", "--db", "none.db"]);
    assert_early(&out, "error", 2, "no runs have been recorded");
    let out = b.output(&["resume", "latest", "--json", "--db", "none.db"]);
    assert_early(&out, "refused", 2, "no runs have been recorded");

    // The database in use: its lock file held as a run holds it (flock).
    let out = b.output(&run_args("power-cycle", &["--json", "--max-fail", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let journal = b.journal();
    assert_truthful(&latest_run(&b.db()), &journal, true, "the one run");
    if Command::new("flock").arg("--version").output().is_ok() {
        // `-o`: the lock stays with `flock` itself, so killing it releases the lock.
        let holder = common::KillOnDrop(
            Command::new("flock")
                .args(["-o", "fleetreset.db.lock", "sleep", "10"])
                .current_dir(b.dir.path())
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(300));
        let out = b.output(&run_args("power-cycle", &["--json"]));
        assert_early(&out, "refused", 2, "is in use by");
        drop(holder);
    }
    let out = b.output(&["resume", "latest", "--json"]);
    assert_early(&out, "nothing-to-do", 0, "nothing left to do");
    assert_eq!(b.journal(), journal, "no early end sent anything");
    for id in ["p01", "p02"] {
        assert_eq!(journal.reboots.get(id), Some(&1), "{}", journal.text);
    }
}

#[test]
fn a_dry_run_with_json_prints_its_looks_as_json() {
    let csv = format!(
        "{}p09,{},HS110(EU),50:C7:BF:{FILE:02X}:0A:09,offline\n",
        fleet(10, 2),
        common::ip(FILE, 10, 9)
    );
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("factory-reset", &["--dry-run", "--json"]));
    let doc = stdout_json(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["ready"], 2);
    assert_eq!(doc["problems"], 1);
    let ready: Vec<_> = doc["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d["ready"].as_bool().unwrap()))
        .collect();
    assert_eq!(ready, [("p01", true), ("p02", true), ("p09", false)]);
    assert!(b.journal().no_commands(), "{}", b.journal().text);
    assert!(!b.db().exists(), "a dry run records nothing");
}

fn run_args_on_bad() -> Vec<&'static str> {
    run_args_on("bad.csv", "power-cycle", &["--json"])
}

// --- Item 10: the rehearsal safety net ---------------------------------------------------

#[test]
fn a_run_against_a_simulator_at_another_time_scale_says_the_fix_in_its_json_too() {
    let csv = fleet(21, 2);
    let b = Bench::start_with(&csv, &csv, &["--time-scale", "1"]);
    for extra in [&["--json"][..], &["--json", "--dry-run"][..]] {
        let out = b.output(&run_args("power-cycle", extra));
        assert_early(
            &out,
            "refused",
            2,
            "runs at --time-scale 1; this run uses 0.01",
        );
        let reason = stdout_json(&out)["reason"].as_str().unwrap().to_owned();
        assert!(reason.contains("pass --time-scale 1"), "{reason}");
    }
    assert!(b.journal().no_commands(), "{}", b.journal().text);
}

#[test]
fn a_resume_against_a_simulator_at_another_time_scale_is_refused_with_a_fix_a_resume_takes() {
    let csv = fleet_with_offline_canary(20, 2);
    let audit = tempfile::tempdir().unwrap();
    let db = audit.path().join("fleet.db");
    let db_s = db.to_str().unwrap();
    {
        let a = Bench::start(&csv, &csv);
        let out = a.output(&run_args("power-cycle", &["--canary", "1", "--db", db_s]));
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert_truthful(
            &latest_run(&db),
            &a.journal(),
            true,
            "stopped by the canary",
        );
        assert!(a.journal().no_commands(), "{}", a.journal().text);
    }
    // The same devices, simulated again, now at time scale 1: the run's is 0.01, and a resume
    // has no --time-scale to pass.
    let b = Bench::start_with(&csv, &csv, &["--time-scale", "1"]);
    let out = b.output(&["resume", "latest", "--db", db_s, "--json"]);
    assert_early(
        &out,
        "refused",
        2,
        "restart the simulator with --time-scale 0.01",
    );
    let reason = stdout_json(&out)["reason"].as_str().unwrap().to_owned();
    assert!(!reason.contains("pass --time-scale"), "{reason}");
    assert!(b.journal().no_commands(), "{}", b.journal().text);
    let record = latest_run(&db);
    assert_truthful(&record, &b.journal(), true, "refused resume");
    assert!(
        record
            .jobs
            .iter()
            .filter(|j| j.device_id != "canary")
            .all(|j| j.outcome == Some(Outcome::Skipped)),
        "the run is as it was"
    );
}

// --- Item 9: times ------------------------------------------------------------------------

#[test]
fn times_people_read_show_their_offset_and_durations_say_which_clock() {
    let csv = fleet(6, 2);
    let b = Bench::start(&csv, &csv);
    // A zone without daylight saving, one hour east of UTC.
    let in_zone = |args: &[&str]| b.cmd(args).env("TZ", "CET-1").output().unwrap();
    let out = in_zone(&run_args("power-cycle", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let times = t
        .lines()
        .find(|l| l.starts_with("times:"))
        .unwrap_or_else(|| panic!("no times line: {t}"));
    assert!(times.contains(" +01:00, ended "), "{times}");
    assert!(times.contains(" real time (about "), "{times}");
    assert!(
        times.ends_with(" of device time at --time-scale 0.01)"),
        "{times}"
    );
    assert_truthful(&latest_run(&b.db()), &b.journal(), true, "timed run");

    let out = in_zone(&["runs"]);
    let t = text(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" +01:00 "),
        "{t}"
    );
    let window = closed_window();
    let out = in_zone(&run_args("power-cycle", &["--window", &window]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("(local time); it opens at "), "{t}");
    assert!(t.contains(" +01:00. Nothing was sent."), "{t}");
}

#[test]
fn discover_with_a_3_second_timeout_on_a_slash_16_takes_about_3_seconds_or_says_why() {
    let began = Instant::now();
    let out = common::fleetreset()
        .args(["discover", "--target", "127.39.0.0/16", "--timeout", "3"])
        .output()
        .unwrap();
    let took = began.elapsed();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(took >= Duration::from_millis(2900), "{took:?}: {t}");
    assert!(t.contains("real time"), "{t}");
    if took > Duration::from_millis(3800) {
        assert!(t.contains("longer than --timeout 3"), "{took:?}: {t}");
    }
}

// --- Item 11: the smaller ones ------------------------------------------------------------

#[test]
fn verbose_says_what_the_run_waits_for_and_very_verbose_each_job_start() {
    let csv = fleet(7, 4);
    let b = Bench::start(&csv, &csv);
    let inventories = one_device_each(&b, &csv);
    let out = b
        .cmd(
            &[
                &["-v"][..],
                &run_args_on(&inventories[0], "power-cycle", &[]),
            ]
            .concat(),
        )
        .env("TZ", "CET-1")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_truthful(&latest_run(&b.db()), &b.journal(), true, "-v");
    // Log lines carry local time with its offset, as every time people read does.
    let line = t.lines().find(|l| l.contains("starting the run")).unwrap();
    assert!(line.contains("+01:00"), "{line:?}");
    for line in [
        "1 device(s) from one1.csv; at most 50 job(s) a second",
        "checking the database, its lock and the device claims",
        "settling how each device is reached",
        "starting the run",
    ] {
        assert!(t.contains(line), "{line:?}: {t}");
    }
    assert!(!t.contains("job started"), "{t}");
    let out = b.output(&[&["-vv"][..], &run_args_on("fleet.csv", "power-cycle", &[])].concat());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("job started").count(), 4, "{t}");
    let journal = b.journal();
    assert_eq!(journal.reboots.get("p01"), Some(&2), "{}", journal.text);
    for id in ["p02", "p03", "p04"] {
        assert_eq!(journal.reboots.get(id), Some(&1), "{}", journal.text);
    }
}

#[test]
fn a_verbose_resume_says_what_it_waits_for_too() {
    let csv = fleet_with_offline_canary(23, 2);
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("power-cycle", &["--canary", "1"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(b.journal().no_commands(), "{}", b.journal().text);
    let out = b.output(&["-v", "resume", "latest"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("settling how each device is reached"), "{t}");
    let record = latest_run(&b.db());
    let journal = b.journal();
    assert_eq!(journal.commands("canary"), 0, "{}", journal.text);
    for id in ["p01", "p02"] {
        assert_eq!(journal.reboots.get(id), Some(&1), "{}", journal.text);
    }
    assert!(record.jobs.iter().all(|j| j.outcome.is_some()), "{t}");
}

#[test]
fn runs_leave_one_lock_file_beside_the_database_and_no_claim_files() {
    let csv = fleet(8, 3);
    let b = Bench::start(&csv, &csv);
    let claims = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(claims.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir(b.path("audit")).unwrap();
    let db = b.path("audit/fleet.db");
    for inventory in one_device_each(&b, &csv) {
        let out = b
            .cmd(&run_args_on(
                &inventory,
                "power-cycle",
                &["--db", "audit/fleet.db"],
            ))
            .env("FLEETRESET_LOCK_DIR", claims.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_truthful(&latest_run(&db), &b.journal(), true, &inventory);
    }
    let mut beside: Vec<String> = std::fs::read_dir(b.path("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    beside.sort_unstable();
    assert_eq!(beside, ["fleet.db", "fleet.db.lock"]);
    let left: Vec<String> = std::fs::read_dir(claims.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        ["registry.lock"],
        "claims are removed when a run ends"
    );
    let journal = b.journal();
    for id in ["p01", "p02", "p03"] {
        assert_eq!(journal.reboots.get(id), Some(&1), "{}", journal.text);
    }
}

#[test]
fn without_user_and_logname_the_operator_is_the_accounts_name() {
    let csv = fleet(9, 1);
    let b = Bench::start(&csv, &csv);
    let out = b
        .cmd(&run_args("power-cycle", &[]))
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = Command::new("id").arg("-un").output().unwrap();
    let account = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    assert!(!account.is_empty());
    let record = latest_run(&b.db());
    assert_eq!(record.run.operator, account);
    assert_truthful(&record, &b.journal(), true, "operator");
}
