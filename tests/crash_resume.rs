//! The laptop dies mid-run: `fleetreset run` is killed with SIGKILL at many points of a factory
//! reset against the simulator, then resumed. Every device must end with exactly one outcome,
//! and no device may receive a second factory reset — checked against the simulator's own
//! journal of what each device received, not against what fleetreset recorded.

mod common;

use fleetreset::model::EventKind;
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{KillOnDrop, Simulate, ip, text};
use fleetreset::model::Outcome;
use fleetreset::store::Db;

const FILE: u8 = 28;
const DEVICES: u8 = 8;

/// Devices that survive a factory reset on the network (reset into defaults), so a second reset
/// would reach them and show in the journal. HS110s have their relay on, so on-time tells
/// whether a command arrived.
fn fleet(test: u8) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=DEVICES {
        csv.push_str(&format!(
            "unit-{i},{},HS110(EU),50:C7:BF:{test:02X}:00:{i:02X},reset_stays\n",
            ip(FILE, test, i)
        ));
    }
    csv
}

fn events(db: &Path) -> usize {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
        .unwrap_or(0)
}

/// Returns how many jobs were resolved by observation (an intent with no outcome at the crash).
fn crash_and_resume(test: u8, kill_after_events: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.log");
    let csv = fleet(test);
    let _sim = Simulate::start_with(&csv, &["--journal", journal.to_str().unwrap()]);
    std::fs::write(dir.path().join("fleet.csv"), &csv).unwrap();
    let db = dir.path().join("fleetreset.db");

    let quick = [
        "--time-scale",
        "0.01",
        "--connect-timeout",
        "1",
        "--request-timeout",
        "1",
    ];
    let mut run = KillOnDrop(
        common::fleetreset()
            .current_dir(dir.path())
            .args([
                "run",
                "fleet.csv",
                "--action",
                "factory-reset",
                "--yes",
                "--rate",
                "10",
            ])
            .args(quick)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while events(&db) < kill_after_events && Instant::now() < deadline {
        if run.0.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = run.0.kill(); // SIGKILL: no handler runs, nothing is flushed.
    let _ = run.0.wait();

    // Resume until the run is complete (a resume is itself never interrupted here).
    let out = common::fleetreset()
        .current_dir(dir.path())
        .args(["resume", "latest", "--yes"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "kill after {kill_after_events} events: {t}"
    );

    let db = Db::open(&db).unwrap();
    let rec = db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap();
    assert_eq!(rec.jobs.len(), usize::from(DEVICES));
    let mut outcome_events: HashMap<&str, usize> = HashMap::new();
    for e in rec.events.iter().filter(|e| e.kind == EventKind::Outcome) {
        *outcome_events
            .entry(e.device_id.as_deref().unwrap())
            .or_default() += 1;
    }
    for j in &rec.jobs {
        assert!(
            j.outcome.is_some(),
            "kill after {kill_after_events}: {} has no outcome\n{t}",
            j.device_id
        );
        assert_eq!(
            outcome_events.get(j.device_id.as_str()),
            Some(&1),
            "{}",
            j.device_id
        );
    }

    let journal = std::fs::read_to_string(&journal).unwrap_or_default();
    let mut resets: HashMap<&str, usize> = HashMap::new();
    for line in journal.lines() {
        let mut parts = line.split_whitespace().skip(1);
        if let (Some(id), Some("reset")) = (parts.next(), parts.next()) {
            *resets.entry(id).or_default() += 1;
        }
    }
    for (id, n) in &resets {
        assert_eq!(
            *n, 1,
            "kill after {kill_after_events} events: {id} received {n} factory resets\n{journal}"
        );
    }
    // A device recorded as reset really received its reset.
    for j in rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Succeeded))
    {
        assert_eq!(
            resets.get(j.device_id.as_str()),
            Some(&1),
            "{}: {:?}",
            j.device_id,
            j.detail
        );
    }
    rec.events
        .iter()
        .filter(|e| e.kind == EventKind::Resolving)
        .count()
}

#[test]
fn killed_at_many_points_and_resumed_no_device_is_reset_twice_and_each_has_one_outcome() {
    // From "just created" to "nearly done": the run writes about a dozen events per device.
    let mut resolved = 0;
    for (test, kill_after) in [
        (1u8, 1usize),
        (2, 6),
        (3, 14),
        (4, 25),
        (5, 38),
        (6, 52),
        (7, 70),
        (8, 90),
    ] {
        resolved += crash_and_resume(test, kill_after);
    }
    // The kill points must catch jobs between intent and outcome, or this proves little.
    assert!(resolved >= 3, "only {resolved} jobs were caught mid-action");
    eprintln!("{resolved} jobs were resolved by observation after a crash");
}
