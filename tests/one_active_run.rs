//! One active run per database, and one run per device on a machine (issue 8, item 1): two runs
//! over the same inventory and database once both reset every device. Each test holds the
//! simulator's journal (what every device received) to at most one command per device.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::truth::{Journal, assert_truthful, count_events, latest_run};
use common::{KillOnDrop, Simulate, fleetreset_in, ip, text};
use fleetreset::model::Outcome;
use fleetreset::store::Db;

const FILE: u8 = 32;

/// `n` HS110 plugs (relay on, so on-time tells a reboot) with MACs, on 127.32.`test`.x.
fn fleet(test: u8, n: u8, fault: &str) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "p{i:02},{},HS110(EU),50:C7:BF:{:02X}:{test:02X}:{i:02X},{fault}\n",
            ip(FILE, test, i),
            FILE
        ));
    }
    csv
}

struct Bench {
    dir: tempfile::TempDir,
    locks: tempfile::TempDir,
    journal: std::path::PathBuf,
    _sim: Simulate,
}

fn bench(csv: &str) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let locks = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.log");
    let sim = Simulate::start_with(csv, &["--journal", journal.to_str().unwrap()]);
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    Bench {
        dir,
        locks,
        journal,
        _sim: sim,
    }
}

impl Bench {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = fleetreset_in(self.dir.path());
        cmd.args(args)
            // Claims in a directory of this test's own, so parallel tests never see them.
            .env("FLEETRESET_LOCK_DIR", self.locks.path());
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> KillOnDrop {
        KillOnDrop(
            self.cmd(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    fn db(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn run_args<'a>(action: &'a str, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "fleet.csv",
        "--action",
        action,
        "--db",
        db,
        "--yes",
        "--time-scale",
        "0.01",
        "--connect-timeout",
        "1",
        "--request-timeout",
        "1",
    ];
    args.extend_from_slice(extra);
    args
}

fn wait_for(db: &Path, kind: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_events(db, kind) < n {
        assert!(
            Instant::now() < deadline,
            "no {n} {kind} events in {}",
            db.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn finish(child: &mut KillOnDrop) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the first run did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_run_or_resume_on_a_database_with_a_run_in_progress_is_refused_naming_the_holder() {
    let b = bench(&fleet(1, 6, ""));
    // One job a second: the first run is still going when the others try.
    let mut first = b.spawn(&run_args("power-cycle", "audit.db", &["--rate", "1"]));
    wait_for(&b.db("audit.db"), "intent", 1);

    for args in [
        run_args("power-cycle", "audit.db", &[]),
        vec!["resume", "latest", "--db", "audit.db", "--yes"],
    ] {
        let out = b.output(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(
            t.contains(&format!("is in use by pid {}", first.0.id())),
            "{args:?} must name the holder: {t}"
        );
        assert!(t.contains("audit.db.lock"), "{t}");
    }

    assert_eq!(finish(&mut first), Some(0));
    let db = Db::open(&b.db("audit.db")).unwrap();
    assert_eq!(
        db.list_runs().unwrap().len(),
        1,
        "a second run was recorded"
    );
    let record = latest_run(&b.db("audit.db"));
    let journal = Journal::read(&b.journal);
    assert_truthful(&record, &journal, true, "two runs on one database");
    for j in &record.jobs {
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{j:?}");
        assert_eq!(
            journal.reboots.get(&j.device_id),
            Some(&1),
            "{}",
            j.device_id
        );
    }
}

#[test]
fn two_runs_on_different_databases_cannot_act_on_the_same_devices_at_once() {
    let b = bench(&fleet(2, 4, ""));
    let mut first = b.spawn(&run_args("power-cycle", "a.db", &["--rate", "1"]));
    wait_for(&b.db("a.db"), "intent", 1);

    let out = b.output(&run_args("power-cycle", "b.db", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("claimed by another run"), "{t}");
    assert!(
        t.contains("a.db"),
        "the refusal names the other run's database: {t}"
    );
    assert!(
        t.contains("50:C7:BF:20:02:0"),
        "and a device they share: {t}"
    );

    assert_eq!(finish(&mut first), Some(0));
    let journal = Journal::read(&b.journal);
    for i in 1..=4 {
        assert_eq!(journal.commands(&format!("p{i:02}")), 1, "{}", journal.text);
    }
    // The refused run recorded nothing, and now that the first is done it may run.
    assert!(
        Db::open(&b.db("b.db"))
            .unwrap()
            .list_runs()
            .unwrap()
            .is_empty()
    );
    let out = b.output(&run_args("power-cycle", "b.db", &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_new_run_is_refused_while_a_crashed_run_has_commands_without_outcomes() {
    let b = bench(&fleet(3, 4, "reset_stays"));
    let mut first = b.spawn(&run_args("factory-reset", "audit.db", &["--rate", "20"]));
    wait_for(&b.db("audit.db"), "intent", 1);
    let _ = first.0.kill(); // SIGKILL mid-run: intents without outcomes stay behind.
    let _ = first.0.wait();

    let out = b.output(&run_args("factory-reset", "audit.db", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("Resume that run first"), "{t}");
    let db = Db::open(&b.db("audit.db")).unwrap();
    assert_eq!(
        db.list_runs().unwrap().len(),
        1,
        "the refused run was recorded"
    );
    drop(db);

    let out = b.output(&["resume", "latest", "--db", "audit.db", "--yes"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let record = latest_run(&b.db("audit.db"));
    assert_truthful(
        &record,
        &Journal::read(&b.journal),
        true,
        "crash, refused run, resume",
    );
}
