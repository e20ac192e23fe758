//! One active run per database, and one run per device on a machine (issue 8, item 1): two runs
//! over the same inventory and database once both reset every device. Each test holds the
//! simulator's journal (what every device received) to at most one command per device.

mod common;

use common::bench::{Bench, exit_code, run_args, wait_for_events};
use common::text;
use common::truth::{assert_truthful, latest_run};
use fleetreset::model::Outcome;
use fleetreset::store::Db;

const FILE: u8 = 32;

fn fleet(test: u8, n: u8, fault: &str) -> String {
    common::plugs(FILE, test, n, fault)
}

#[test]
fn a_second_run_or_resume_on_a_database_with_a_run_in_progress_is_refused_naming_the_holder() {
    let csv = fleet(1, 6, "");
    let b = Bench::start(&csv, &csv);
    // One job a second: the first run is still going when the others try.
    let mut first = Bench::spawn(&mut b.cmd(&run_args(
        "power-cycle",
        &["--db", "audit.db", "--rate", "1"],
    )));
    wait_for_events(&b.path("audit.db"), "intent", 1);

    for args in [
        run_args("power-cycle", &["--db", "audit.db"]),
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

    assert_eq!(exit_code(&mut first), Some(0));
    let db = Db::open(&b.path("audit.db")).unwrap();
    assert_eq!(
        db.list_runs().unwrap().len(),
        1,
        "a second run was recorded"
    );
    let record = latest_run(&b.path("audit.db"));
    let journal = b.journal();
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
    let csv = fleet(2, 4, "");
    let b = Bench::start(&csv, &csv);
    let mut first =
        Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--db", "a.db", "--rate", "1"])));
    wait_for_events(&b.path("a.db"), "intent", 1);

    let out = b.output(&run_args("power-cycle", &["--db", "b.db"]));
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

    assert_eq!(exit_code(&mut first), Some(0));
    let journal = b.journal();
    for i in 1..=4 {
        assert_eq!(journal.commands(&format!("p{i:02}")), 1, "{}", journal.text);
    }
    // The refused run recorded nothing, and now that the first is done it may run.
    assert!(
        Db::open(&b.path("b.db"))
            .unwrap()
            .list_runs()
            .unwrap()
            .is_empty()
    );
    let out = b.output(&run_args("power-cycle", &["--db", "b.db"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_new_run_is_refused_while_a_crashed_run_has_commands_without_outcomes() {
    let csv = fleet(3, 4, "reset_stays");
    let b = Bench::start(&csv, &csv);
    let mut first = Bench::spawn(&mut b.cmd(&run_args(
        "factory-reset",
        &["--db", "audit.db", "--rate", "20"],
    )));
    wait_for_events(&b.path("audit.db"), "intent", 1);
    let _ = first.0.kill(); // SIGKILL mid-run: intents without outcomes stay behind.
    let _ = first.0.wait();

    let out = b.output(&run_args("factory-reset", &["--db", "audit.db"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("Resume that run first"), "{t}");
    let db = Db::open(&b.path("audit.db")).unwrap();
    assert_eq!(
        db.list_runs().unwrap().len(),
        1,
        "the refused run was recorded"
    );
    drop(db);

    let out = b.output(&["resume", "latest", "--db", "audit.db", "--yes"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let record = latest_run(&b.path("audit.db"));
    assert_truthful(&record, &b.journal(), true, "crash, refused run, resume");
}
