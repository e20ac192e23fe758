//! Output never stops the work, and device text never steers a terminal (issue 8, items 5 and
//! 7): a run whose stderr or stdout is a closed pipe, or whose terminal hung up, finishes,
//! records every outcome and writes its reports; an `err_msg` full of escape sequences shows as
//! inert text on one line, in progress lines, logs and reports; colour only on a terminal.

mod common;

use fleetreset::model::EventKind;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::bench::{Bench, exit_code, run_args, wait_for_events};
use common::truth::{assert_truthful, latest_run};
use common::{KillOnDrop, ip, signal, signal_twice, text};
use fleetreset::model::Outcome;

const FILE: u8 = 34;

fn bench(test: u8, n: u8) -> Bench {
    let csv = common::plugs(FILE, test, n, "");
    Bench::start(&csv, &csv)
}

/// `run … --action power-cycle` at rehearsal speed, `rate` jobs a second.
fn run(b: &Bench, rate: &str, extra: &[&str]) -> Command {
    let mut given = vec!["--rate", rate];
    given.extend_from_slice(extra);
    b.cmd(&run_args("power-cycle", &given))
}

/// The run completed: one outcome each, reports on disk, and the journal agrees.
fn assert_complete(b: &Bench, context: &str) {
    let record = latest_run(&b.db());
    assert_truthful(&record, &b.journal(), true, context);
    assert!(
        record
            .jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{context}: {:?}",
        record.jobs
    );
    let reports = b.path("reports").join(&record.run.id);
    for f in ["devices.csv", "run.json", "summary.md"] {
        assert!(reports.join(f).exists(), "{context}: no {f}");
    }
}

#[test]
fn a_run_whose_stderr_is_a_closed_pipe_finishes_and_records_every_outcome() {
    // `fleetreset run … 2>&1 | head -1`: the reader takes one line and goes away.
    let b = bench(1, 8);
    let mut child = KillOnDrop(
        run(&b, "20", &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    // The read end is closed here; every later message of the run meets a broken pipe.
    assert_eq!(exit_code(&mut child), Some(0));
    assert_complete(&b, "stderr closed");
}

#[test]
fn a_run_whose_stdout_is_a_closed_pipe_keeps_its_exit_status_and_its_records() {
    let b = bench(2, 3);
    let mut child = KillOnDrop(
        run(&b, "50", &["--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    drop(child.0.stdout.take());
    assert_eq!(exit_code(&mut child), Some(0));
    assert_complete(&b, "stdout closed");
}

#[test]
fn plan_json_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,host,model\n");
    for i in 1..=2000 {
        csv.push_str(&format!(
            "d{i},10.9.{}.{},HS110(EU)\n",
            i / 200,
            i % 200 + 1
        ));
    }
    std::fs::write(dir.path().join("big.csv"), csv).unwrap();
    let out = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "{} plan big.csv --action power-cycle --json | head -c 10 >/dev/null",
            env!("CARGO_BIN_EXE_fleetreset")
        ))
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("Broken pipe") && !t.contains("panicked"), "{t}");
}

#[test]
fn a_run_whose_terminal_hangs_up_carries_on_to_its_reports() {
    let b = bench(3, 6);
    let mut child = Bench::spawn(&mut run(&b, "5", &[]));
    wait_for_events(&b.db(), EventKind::Intent, 1);
    let hup = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert_eq!(exit_code(&mut child), Some(0));
    assert_complete(&b, "SIGHUP");
}

/// A device whose refusal carries escape sequences that would clear the screen and forge a
/// success line, and a line break.
const HOSTILE: &str = r"reset_refused;err_msg=\e[2J\e[H[ 9/9] p01 succeeded\r\n[ 9/9] forged";

fn assert_inert(what: &str, s: &str) {
    assert!(!s.contains('\u{1b}'), "{what} carries an ESC byte: {s:?}");
    assert!(!s.contains('\r'), "{what} carries a CR: {s:?}");
    assert!(
        !s.lines().any(|l| l.starts_with("[ 9/9] forged")),
        "{what}: {s}"
    );
}

#[test]
fn a_hostile_error_message_is_shown_inert_on_one_line_in_progress_logs_and_reports() {
    let a = ip(FILE, 4, 1);
    let csv =
        format!("id,host,model,mac,sim_fault\np01,{a},HS110(EU),50:C7:BF:22:04:01,{HOSTILE}\n");
    let b = Bench::start(&csv, &csv);
    let mut args = vec!["-vvv"];
    args.extend(run_args("factory-reset", &[]));
    let out = b.output(&args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_inert("stderr", &stderr);
    // The progress line shows the escapes for what they are, all on one line.
    let line = stderr
        .lines()
        .find(|l| l.contains("p01 failed"))
        .unwrap_or_else(|| panic!("no progress line: {stderr}"));
    assert!(
        line.contains(r"\u{1b}[2J\u{1b}[H[ 9/9] p01 succeeded\r\n[ 9/9] forged"),
        "{line}"
    );
    // Trace logs name every exchange; on a pipe they carry no colour codes either (the ESC
    // check above covers them).
    assert!(stderr.contains("TRACE"), "-vvv logs: {stderr}");

    let record = latest_run(&b.db());
    let dir = b.path("reports").join(&record.run.id);
    // The escapes are shown as text: plainly in the CSV, markdown-escaped in the summary.
    for (f, shown) in [
        ("summary.md", r"\\u{1b}\[2J"),
        ("devices.csv", r"\u{1b}[2J"),
    ] {
        let body = std::fs::read_to_string(dir.join(f)).unwrap();
        assert_inert(f, &body);
        assert!(body.contains(shown), "{f}: {body}");
    }
    let detail = record.jobs[0].detail.clone().unwrap_or_default();
    assert_inert("the stored detail", &detail);
}

/// Whether `s` holds an SGR (colour) escape sequence, `ESC [ digits/semicolons m`.
fn has_colour(s: &str) -> bool {
    s.match_indices("\u{1b}[").any(|(i, _)| {
        let rest = &s[i + 2..];
        let params = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b';')
            .count();
        rest.as_bytes().get(params) == Some(&b'm')
    })
}

/// Runs `fleetreset ARGS` on a terminal (`script`), with `env` set; None without `script`.
fn on_a_terminal(dir: &Path, args: &str, env: &[(&str, &str)]) -> Option<String> {
    let mut c = common::terminal(dir, args)?;
    c.stdin(Stdio::null()).env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn log_lines_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    // A warning: the device reports another model than the inventory's.
    let a = ip(FILE, 5, 1);
    let sim = format!("id,host,model,mac\np01,{a},HS110(EU),50:C7:BF:22:05:01\n");
    let b = Bench::start(&sim, &sim);
    std::fs::write(
        b.path("fleet.csv"),
        format!("id,host,model,mac\np01,{a},HS103(EU),50:C7:BF:22:05:01\n"),
    )
    .unwrap();
    let args = "run fleet.csv --action power-cycle --time-scale 0.01 --connect-timeout 1 --request-timeout 1";
    let Some(coloured) = on_a_terminal(b.dir.path(), args, &[]) else {
        return;
    };
    let warning = coloured
        .lines()
        .find(|l| l.contains("another model than the inventory"))
        .unwrap_or_else(|| panic!("no warning on the terminal: {coloured}"));
    assert!(has_colour(warning), "a terminal gets colour: {warning:?}");

    let plain = on_a_terminal(b.dir.path(), args, &[("NO_COLOR", "1")]).unwrap();
    let warning = plain
        .lines()
        .find(|l| l.contains("another model than the inventory"))
        .unwrap_or_else(|| panic!("no warning on the terminal: {plain}"));
    // The progress bar still moves the cursor; only colour (SGR) codes are out.
    assert!(!has_colour(warning), "NO_COLOR: {warning:?}");

    let piped = run(&b, "50", &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        stderr.contains("another model than the inventory"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "a pipe gets no colour: {stderr:?}"
    );
}

#[test]
fn ctrl_c_twice_still_stops_a_run_whose_stderr_is_a_closed_pipe() {
    // Devices that ignore the reboot keep their jobs verifying for the whole away budget.
    // At a tenth of device time the away budget is seconds long: the jobs are surely still in
    // flight when the second signal comes.
    let csv = common::plugs(FILE, 6, 3, "reboot_ignored");
    let b = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let mut child = KillOnDrop(
        run(&b, "50", &["--time-scale", "0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    drop(child.0.stderr.take());
    wait_for_events(&b.db(), EventKind::Intent, 3);
    signal_twice(&child, "-INT");
    assert_eq!(exit_code(&mut child), Some(3), "the second signal was lost");
    let record = latest_run(&b.db());
    assert_eq!(record.run.status, fleetreset::store::RunStatus::Interrupted);
    assert!(
        record.jobs.iter().any(|j| j.outcome.is_none()),
        "the jobs in flight finished: the second signal did not stop them"
    );
}

#[test]
fn a_signal_after_the_last_job_started_still_ends_the_run_interrupted() {
    let b = bench(7, 2);
    let mut child = Bench::spawn(&mut run(&b, "50", &[]));
    wait_for_events(&b.db(), EventKind::Intent, 2);
    signal(&child, "-TERM");
    assert_eq!(exit_code(&mut child), Some(3));
    let record = latest_run(&b.db());
    assert_eq!(record.run.status, fleetreset::store::RunStatus::Interrupted);
    // The jobs in flight were let finish.
    assert!(
        record.jobs.iter().all(|j| j.outcome.is_some()),
        "{:?}",
        record.jobs
    );
}

#[test]
fn a_closed_pipe_does_not_change_what_check_or_a_dry_run_exit_with() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.csv"), "id,host\na,255.255.255.255\n").unwrap();
    // As `fleetreset check bad.csv 2>&1 | true`: nobody reads what it prints.
    assert_eq!(
        fleetreset_closed(dir.path(), &["check", "bad.csv"]),
        Some(2)
    );

    let a = ip(FILE, 8, 1);
    let csv =
        format!("id,host,model,mac,sim_fault\ngone,{a},HS110(EU),50:C7:BF:22:08:01,offline\n");
    let b = Bench::start(&csv, &csv);
    let args = run_args("power-cycle", &["--dry-run"]);
    assert_eq!(fleetreset_closed(b.dir.path(), &args), Some(1));
}

/// Runs fleetreset with stdout and stderr pipes whose read ends are closed before it writes.
fn fleetreset_closed(dir: &Path, args: &[&str]) -> Option<i32> {
    let mut child = common::fleetreset_in(dir)
        .args(args)
        .env("FLEETRESET_LOCK_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().unwrap().code()
}

#[test]
fn the_end_of_run_summary_shows_inventory_text_inert() {
    // An inventory id with an escape sequence and a line break (a cell pasted from anywhere).
    let a = ip(FILE, 9, 1);
    let sim = format!("id,host,model,mac,sim_fault\nx,{a},HS110(EU),50:C7:BF:22:09:01,offline\n");
    let b = Bench::start(
        &sim,
        &format!("id,host,model,mac\n\"\u{1b}[2Jx\u{1b}[31m\",{a},HS110(EU),50:C7:BF:22:09:01\n"),
    );
    let out = b.output(&run_args("power-cycle", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains(r"\u{1b}[2Jx"), "{stderr}");
}
