//! Output never stops the work, and device text never steers a terminal (issue 8, items 5 and
//! 7): a run whose stderr or stdout is a closed pipe, or whose terminal hung up, finishes,
//! records every outcome and writes its reports; an `err_msg` full of escape sequences shows as
//! inert text on one line, in progress lines, logs and reports; colour only on a terminal.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::truth::{Journal, assert_truthful, count_events, latest_run};
use common::{KillOnDrop, Simulate, fleetreset_in, ip, text};
use fleetreset::model::Outcome;

const FILE: u8 = 34;

const QUICK: &[&str] = &[
    "--time-scale",
    "0.01",
    "--connect-timeout",
    "1",
    "--request-timeout",
    "1",
];

fn fleet(test: u8, n: u8) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "p{i:02},{},HS110(EU),50:C7:BF:22:{test:02X}:{i:02X},\n",
            ip(FILE, test, i)
        ));
    }
    csv
}

struct Bench {
    dir: tempfile::TempDir,
    journal: PathBuf,
    _sim: Simulate,
}

fn bench(csv: &str) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.log");
    let sim = Simulate::start_with(csv, &["--journal", journal.to_str().unwrap()]);
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    Bench {
        dir,
        journal,
        _sim: sim,
    }
}

impl Bench {
    /// `run … --action power-cycle` at rehearsal speed, `rate` jobs a second.
    fn run(&self, rate: &str, extra: &[&str]) -> Command {
        let mut cmd = fleetreset_in(self.dir.path());
        cmd.args([
            "run",
            "fleet.csv",
            "--action",
            "power-cycle",
            "--rate",
            rate,
        ])
        .args(QUICK)
        .args(extra);
        cmd
    }

    /// The run completed: one outcome each, reports on disk, and the journal agrees.
    fn assert_complete(&self, context: &str) {
        let record = latest_run(&self.dir.path().join("fleetreset.db"));
        let journal = Journal::read(&self.journal);
        assert_truthful(&record, &journal, true, context);
        assert!(
            record
                .jobs
                .iter()
                .all(|j| j.outcome == Some(Outcome::Succeeded)),
            "{context}: {:?}",
            record.jobs
        );
        let reports = self.dir.path().join("reports").join(&record.run.id);
        for f in ["devices.csv", "run.json", "summary.md"] {
            assert!(reports.join(f).exists(), "{context}: no {f}");
        }
    }
}

fn wait_exit(child: &mut KillOnDrop, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            return s.code();
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_whose_stderr_is_a_closed_pipe_finishes_and_records_every_outcome() {
    // `fleetreset run … 2>&1 | head -1`: the reader takes one line and goes away.
    let b = bench(&fleet(1, 8));
    let mut child = KillOnDrop(
        b.run("20", &[])
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
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), Some(0));
    b.assert_complete("stderr closed");
}

#[test]
fn a_run_whose_stdout_is_a_closed_pipe_keeps_its_exit_status_and_its_records() {
    let b = bench(&fleet(2, 3));
    let mut child = KillOnDrop(
        b.run("50", &["--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    drop(child.0.stdout.take());
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), Some(0));
    b.assert_complete("stdout closed");
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
    let b = bench(&fleet(3, 6));
    let mut child = KillOnDrop(
        b.run("5", &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let db = b.dir.path().join("fleetreset.db");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_events(&db, "intent") < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let hup = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), Some(0));
    b.assert_complete("SIGHUP");
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
    let b = bench(&csv);
    let out = fleetreset_in(b.dir.path())
        .args([
            "-vvv",
            "run",
            "fleet.csv",
            "--action",
            "factory-reset",
            "--yes",
        ])
        .args(common::REHEARSAL)
        .output()
        .unwrap();
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

    let record = latest_run(&b.dir.path().join("fleetreset.db"));
    let dir = b.dir.path().join("reports").join(&record.run.id);
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
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: `script` (util-linux) is not installed; terminal colour is not tested");
        return None;
    }
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_fleetreset"));
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR");
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
    let b = bench(&sim);
    std::fs::write(
        b.dir.path().join("fleet.csv"),
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

    let piped = b.run("50", &[]).output().unwrap();
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
