//! One active run per database, and one run per device on a machine (issue 8, item 1): two runs
//! over the same inventory and database once both reset every device. Each test holds the
//! simulator's journal (what every device received) to at most one command per device.

mod common;

use common::bench::{Bench, exit_code, run_args, run_args_on, wait_for_events};
use common::truth::{assert_truthful, latest_run};
use common::{signal, signal_twice, text};
use fleetreset::model::EventKind;
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
    wait_for_events(&b.path("audit.db"), EventKind::Intent, 1);

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
    wait_for_events(&b.path("a.db"), EventKind::Intent, 1);

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
    wait_for_events(&b.path("audit.db"), EventKind::Intent, 1);
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

#[test]
fn a_new_run_is_refused_while_a_run_stopped_at_once_by_two_signals_left_commands_open() {
    // Devices that ignore the reboot keep their job verifying; two signals drop it in flight
    // with its intent recorded and no outcome.
    let csv = fleet(4, 2, "reboot_ignored");
    let b = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let mut first = Bench::spawn(&mut b.cmd(&run_args(
        "power-cycle",
        &["--rate", "1", "--time-scale", "0.1"],
    )));
    wait_for_events(&b.db(), EventKind::Intent, 1);
    signal_twice(&first, "-INT");
    assert_eq!(exit_code(&mut first), Some(3));
    let open = latest_run(&b.db())
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .count();
    assert!(open >= 1, "the second signal left no job open");

    let out = b.output(&run_args("power-cycle", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("Resume that run first"), "{t}");
    for id in ["p01", "p02"] {
        assert!(b.journal().commands(id) <= 1, "{}", b.journal().text);
    }
}

#[test]
fn resume_of_one_run_is_refused_while_another_run_of_the_database_left_a_command_open_on_its_devices()
 {
    // Run A stops before its second device; run B, over that device alone, is killed after
    // its command. Resuming A would run that device afresh: a second command.
    let csv = fleet(5, 2, "");
    let b = Bench::start(&csv, &csv);
    let mut a = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--rate", "1"])));
    wait_for_events(&b.db(), EventKind::Intent, 1);
    signal(&a, "-INT");
    assert_eq!(exit_code(&mut a), Some(3));
    let run_a = latest_run(&b.db()).run.id;

    let second_only: String = csv
        .lines()
        .filter(|l| !l.starts_with("p01"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(b.path("p02.csv"), &second_only).unwrap();
    let args = run_args_on("p02.csv", "power-cycle", &[]);
    let mut run_b = Bench::spawn(&mut b.cmd(&args));
    let db = b.db();
    common::bench::kill_when(&mut run_b, || {
        common::truth::count_events(&db, EventKind::Intent) >= 2 && b.journal().commands("p02") == 1
    });

    let out = b.output(&["resume", &run_a, "--yes"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("Resume that run first"), "{t}");
    assert_eq!(b.journal().commands("p02"), 1, "{}", b.journal().text);
}

#[test]
fn an_open_command_is_found_whatever_way_the_address_is_written() {
    // No MACs: the address is all there is to match, and `10.0.0.1`, `10.0.0.1:9999` and
    // `::ffff:10.0.0.1` are one device.
    let ip = common::ip(FILE, 6, 1);
    let csv = format!("id,host,model\nplug,{ip},HS110(EU)\n");
    let b = Bench::start(&csv, &csv);
    let mut first = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &[])));
    let db = b.db();
    common::bench::kill_when(&mut first, || {
        common::truth::count_events(&db, EventKind::Ack) >= 1
    });
    for spelled in [format!("{ip}:9999"), format!("::ffff:{ip}")] {
        std::fs::write(
            b.path("other.csv"),
            format!("id,host,model\nsame,{spelled},HS110(EU)\n"),
        )
        .unwrap();
        let args = run_args_on("other.csv", "power-cycle", &[]);
        let out = b.output(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{spelled}: {t}");
        assert!(t.contains("Resume that run first"), "{spelled}: {t}");
    }
    assert_eq!(b.journal().commands("plug"), 1, "{}", b.journal().text);
}

#[test]
fn a_device_is_claimed_whatever_way_its_address_is_written() {
    let ip = common::ip(FILE, 7, 1);
    let csv = format!("id,host,model\nplug,{ip},HS110(EU)\n");
    let b = Bench::start(&csv, &csv);
    let mut first =
        Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--db", "a.db", "--rate", "1"])));
    wait_for_events(&b.path("a.db"), EventKind::Intent, 1);
    std::fs::write(
        b.path("other.csv"),
        format!("id,host,model\nsame,::ffff:{ip},HS110(EU)\n"),
    )
    .unwrap();
    let args = run_args_on("other.csv", "power-cycle", &["--db", "b.db"]);
    let out = b.output(&args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("claimed by another run"), "{t}");
    assert_eq!(exit_code(&mut first), Some(0));
    assert_eq!(b.journal().commands("plug"), 1, "{}", b.journal().text);
}

#[test]
fn a_run_on_another_database_is_refused_while_a_crashed_run_has_commands_open_on_the_same_devices()
{
    let csv = fleet(8, 2, "");
    let b = Bench::start(&csv, &csv);
    let mut first = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--db", "a.db"])));
    let a_db = b.path("a.db");
    common::bench::kill_when(&mut first, || {
        common::truth::count_events(&a_db, EventKind::Ack) >= 1
    });
    let sent = b.journal().reboots.len();

    // The claim outlives the crash: a run on b.db must not act before a.db's run is judged.
    let out = b.output(&run_args("power-cycle", &["--db", "b.db"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("resume it first"), "{t}");
    assert!(t.contains("a.db"), "{t}");
    assert_eq!(b.journal().reboots.len(), sent, "{}", b.journal().text);

    // Resumed on its own database, the crashed run is judged; after that b.db may run.
    let out = b.output(&["resume", "latest", "--db", "a.db", "--yes"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    assert_truthful(
        &latest_run(&a_db),
        &b.journal(),
        true,
        "a.db after its resume",
    );
    let out = b.output(&run_args("power-cycle", &["--db", "b.db"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_device_named_by_a_host_name_in_one_run_and_by_its_address_in_another_is_one_device() {
    // `localhost` is the name every host resolves (to 127.0.0.1); port 19998 is used by no
    // other test.
    let csv = "id,host,model,sim_fault\nplug,127.0.0.1:19998,HS110(EU),reboot_ignored\n";
    let b = Bench::start(csv, csv);
    let mut first = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--db", "a.db"])));
    wait_for_events(&b.path("a.db"), EventKind::Intent, 1);
    std::fs::write(
        b.path("named.csv"),
        "id,host,model\nsame,localhost:19998,HS110(EU)\n",
    )
    .unwrap();
    let args = run_args_on("named.csv", "power-cycle", &["--db", "b.db"]);
    let out = b.output(&args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("claimed by"), "{t}");
    let _ = exit_code(&mut first);
    assert_eq!(b.journal().commands("plug"), 1, "{}", b.journal().text);
}

#[test]
fn a_crashed_run_s_claim_survives_later_runs_on_its_own_database_until_it_is_resumed() {
    // The crashed run on a.db covers p01; a later, successful run on a.db covers p02 only.
    // Neither may erase the marker that keeps runs on other databases off p01.
    let csv = fleet(9, 2, "");
    let b = Bench::start(&csv, &csv);
    let only = |id: &str, file: &str| {
        let rows: String = csv
            .lines()
            .filter(|l| l.starts_with("id,") || l.starts_with(id))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(b.path(file), rows).unwrap();
    };
    only("p01", "p01.csv");
    only("p02", "p02.csv");
    let with =
        |file: &'static str, db: &'static str| run_args_on(file, "power-cycle", &["--db", db]);
    let mut crashed = Bench::spawn(&mut b.cmd(&with("p01.csv", "a.db")));
    let a_db = b.path("a.db");
    common::bench::kill_when(&mut crashed, || {
        common::truth::count_events(&a_db, EventKind::Ack) >= 1
    });
    let out = b.output(&with("p02.csv", "a.db"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = b.output(&with("p01.csv", "b.db"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("resume it first"), "{t}");
    assert_eq!(b.journal().commands("p01"), 1, "{}", b.journal().text);
}

#[test]
fn a_run_stopped_at_once_by_two_signals_keeps_its_devices_from_runs_on_other_databases() {
    // The command must still be in flight when the second signal lands: at a tenth of device
    // time the plug's ignored reboot keeps its job waiting 3 s, not the 0.3 s of the usual
    // rehearsal speed that a loaded machine can outlast between the intent and the signals
    // (the run then ends with no open command, and a second run may rightly cycle it again).
    let csv = fleet(10, 1, "reboot_ignored");
    let b = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let mut first = Bench::spawn(&mut b.cmd(&run_args(
        "power-cycle",
        &["--db", "a.db", "--time-scale", "0.1"],
    )));
    wait_for_events(&b.path("a.db"), EventKind::Intent, 1);
    signal_twice(&first, "-INT");
    assert_eq!(exit_code(&mut first), Some(3));
    let out = b.output(&run_args("power-cycle", &["--db", "b.db"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("resume it first"), "{t}");
    assert_eq!(b.journal().commands("p01"), 1, "{}", b.journal().text);
}

#[test]
fn a_device_found_at_a_new_address_is_claimed_there_too() {
    // The inventory says .1; discovery finds the MAC at .2. A run on another database naming
    // .2 without a MAC must see the claim.
    let (old, new) = (common::ip(FILE, 11, 1), common::ip(FILE, 11, 2));
    let sim = format!(
        "id,host,model,mac,sim_fault\nghost,{old},HS110(EU),50:C7:BF:20:0B:09,offline\nplug,{new},HS110(EU),50:C7:BF:20:0B:01,reboot_ignored\n"
    );
    let inventory = format!("id,host,model,mac\nplug,{old},HS110(EU),50:C7:BF:20:0B:01\n");
    let b = Bench::start(&sim, &inventory);
    let target = format!("{}/29", common::ip(FILE, 11, 0));
    let mut first = Bench::spawn(&mut b.cmd(&run_args(
        "power-cycle",
        &["--db", "a.db", "--rediscover", &target],
    )));
    wait_for_events(&b.path("a.db"), EventKind::Intent, 1);
    std::fs::write(
        b.path("new.csv"),
        format!("id,host,model\nsame,{new},HS110(EU)\n"),
    )
    .unwrap();
    let args = run_args_on("new.csv", "power-cycle", &["--db", "b.db"]);
    let out = b.output(&args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("claimed by"), "{t}");
    let _ = exit_code(&mut first);
    assert_eq!(b.journal().commands("plug"), 1, "{}", b.journal().text);
}
