//! The whole loop as a property (issue 8): random fleets (models, protocols, faults), random
//! kill points in the run and in resumes, random wall-clock offsets between the processes
//! (libfaketime). After the final resume, whatever happened on the way:
//! - no device's journal shows more than one disruptive command;
//! - every job has exactly one outcome;
//! - no `succeeded` outcome exists for a device whose journal shows no command.
//!
//! Seeded, so a failure names the seed that reproduces it: `FLEETRESET_PROPERTY_SEED=N` runs
//! just that case, `FLEETRESET_PROPERTY_CASES=N` runs N cases per test. Loopback only
//! (127.36.x.y); each case takes a few seconds of a rehearsal's time scale.

mod common;

use fleetreset::model::EventKind;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::KillOnDrop;
use common::bench::{Bench, run_args};
use common::faketime;
use common::truth::{assert_truthful, latest_run};

const FILE: u8 = 36;

/// Cases per test when the environment doesn't say. Three tests run in parallel.
const CASES: u64 = 8;

/// Wall-clock offsets a process may run with, in seconds: none, hours either way (a host whose
/// date is wrong, an NTP step), and a small skew.
const OFFSETS: [i64; 5] = [0, 0, 2 * 3600, -2 * 3600, 37];

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    action: &'static str,
    /// `id,host,model,mac,protocol,sim_fault` rows.
    rows: Vec<String>,
    /// Events after which the run is killed; None: it runs to its end.
    kill_run: Option<usize>,
    /// Interrupted resumes before the final one: events each is allowed beyond its start.
    kill_resumes: Vec<usize>,
    /// Wall-clock offsets of the run, the interrupted resumes and the final resume.
    offsets: Vec<i64>,
}

fn case(seed: u64, test: u8) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let action = if rng.gen_bool(0.5) {
        "power-cycle"
    } else {
        "factory-reset"
    };
    let n = rng.gen_range(3..=8u8);
    let rows = (1..=n)
        .map(|i| {
            let host = common::ip(FILE, test, i);
            let mac = format!("50:C7:BF:24:{test:02X}:{i:02X}");
            let (model, protocol, port) = match rng.gen_range(0..10) {
                0..=5 => ("HS110(EU)", "iot", ""),
                6..=7 => ("HS300(US)", "iot", ""),
                _ => ("P110(UK)", "klap", ":8080"),
            };
            let xor = protocol == "iot";
            let fault = match rng.gen_range(0..100) {
                0..=49 => String::new(),
                50..=59 => format!("leave_after={}", rng.gen_range(0..=40)),
                60..=67 => "reboot_ignored".into(),
                68..=75 => "reset_stays".into(),
                76..=81 => "slow=300".into(),
                82..=86 => "offline".into(),
                87..=91 => "reboot_never_returns".into(),
                92..=95 => "reset_refused".into(),
                _ if xor => "drop_mid_reply".into(),
                _ => String::new(),
            };
            format!("d{i},{host}{port},{model},{mac},{protocol},{fault}")
        })
        .collect();
    let events = usize::from(n) * 12;
    let kill_run = rng.gen_bool(0.85).then(|| rng.gen_range(1..=events));
    let kill_resumes = (0..rng.gen_range(0..=2))
        .map(|_| rng.gen_range(1..=events / 2))
        .collect::<Vec<_>>();
    let offsets = (0..kill_resumes.len() + 2)
        .map(|_| OFFSETS[rng.gen_range(0..OFFSETS.len())])
        .collect();
    Case {
        seed,
        action,
        rows,
        kill_run,
        kill_resumes,
        offsets,
    }
}

fn total_events(db: &Path) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
        .unwrap_or(0)
}

/// Runs `cmd` to its end, or SIGKILLs it once the database holds `kill_at` events.
fn run_or_kill(mut cmd: Command, db: &Path, kill_at: Option<usize>) -> Option<Output> {
    let Some(kill_at) = kill_at else {
        return Some(cmd.output().unwrap());
    };
    let mut child = KillOnDrop(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while total_events(db) < kill_at {
        if child.0.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.0.kill(); // SIGKILL: no handler runs, nothing is flushed.
    let _ = child.0.wait();
    None
}

fn check_case(c: &Case) {
    let context = format!("seed {} ({c:?})", c.seed);
    let mut csv = String::from("id,host,model,mac,protocol,sim_fault\n");
    for r in &c.rows {
        csv.push_str(r);
        csv.push('\n');
    }
    let bench = Bench::start(&csv, &csv);
    let db = bench.db();
    let with = |args: &[&str], offset: i64| {
        let mut cmd = bench.cmd(args);
        if offset != 0 {
            faketime::wall_clock_offset(&mut cmd, offset);
        }
        cmd
    };
    let run = with(&run_args(c.action, &[]), c.offsets[0]);
    run_or_kill(run, &db, c.kill_run);
    if !db.exists() {
        // Killed before the run was recorded: nothing can have been sent.
        assert!(
            bench.journal().text.is_empty(),
            "{context}: commands without a run"
        );
        eprintln!("seed {}: killed before the run was recorded", c.seed);
        return;
    }
    for (k, extra) in c.kill_resumes.iter().enumerate() {
        let at = total_events(&db) + extra;
        run_or_kill(
            with(&["resume", "latest", "--yes"], c.offsets[k + 1]),
            &db,
            Some(at),
        );
    }
    let last = with(&["resume", "latest", "--yes"], *c.offsets.last().unwrap())
        .output()
        .unwrap();
    let said = common::text(&last);
    assert!(
        matches!(last.status.code(), Some(0 | 1)),
        "{context}: the final resume failed: {said}"
    );
    let record = latest_run(&db);
    let journal = bench.journal();
    assert_truthful(&record, &journal, true, &format!("{context}\n{said}"));
    let judged = record
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Resolving)
        .count();
    eprintln!(
        "seed {}: {} {} device(s), {} judged by resume, {} command(s) received",
        c.seed,
        c.action,
        record.jobs.len(),
        judged,
        journal.reboots.len() + journal.resets.len()
    );
}

fn seeds(test: u8) -> Vec<u64> {
    if let Some(seed) = std::env::var("FLEETRESET_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let cases = std::env::var("FLEETRESET_PROPERTY_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES);
    (0..cases).map(|i| u64::from(test) * 1000 + i).collect()
}

fn property(test: u8) {
    // Cases of one test share its address block (127.36.`test`.x), so they run one by one.
    for seed in seeds(test) {
        check_case(&case(seed, test));
    }
}

#[test]
fn after_any_crashes_and_clock_steps_each_device_got_at_most_one_command_and_each_job_one_true_outcome_1()
 {
    property(1);
}

#[test]
fn after_any_crashes_and_clock_steps_each_device_got_at_most_one_command_and_each_job_one_true_outcome_2()
 {
    property(2);
}

#[test]
fn after_any_crashes_and_clock_steps_each_device_got_at_most_one_command_and_each_job_one_true_outcome_3()
 {
    property(3);
}
