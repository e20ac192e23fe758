//! The upstream method end to end: the real binary against `fleetreset simulate`, where a row's
//! `power_via` strip outlet powers it. Each test reads the simulator's journal (what every
//! switch and device went through) beside the audit database.
//!
//! Loopback: 127.43.T.N, one third octet per test.

mod common;

use common::bench::{Bench, exit_code, kill_when, run_args, wait_for_events};
use common::truth::{count_events, events_of, latest_run, outcome_of, switchings};
use fleetreset::model::EventKind;
use fleetreset::model::{Method, Outcome, Reason};

/// HS300 with six outlets at .1; `rows` after it.
fn fleet(test: u8, rows: &[(&str, u8, &str, &str)]) -> String {
    let mut csv = format!(
        "id,host,model,mac,power_via\nstrip,127.43.{test}.1,HS300(US),50:C7:BF:43:{test:02X}:01,\n"
    );
    for (id, n, model, via) in rows {
        csv.push_str(&format!(
            "{id},127.43.{test}.{n},{model},50:C7:BF:43:{test:02X}:{n:02X},{via}\n"
        ));
    }
    csv
}

/// The catalog's off time of a KL130 and an HS110 (10 s), at the runs' time scale 0.01.
const OFF_SCALED_MS: i64 = 100;

#[test]
fn a_power_cycle_behind_a_strip_outlet_switches_only_that_outlet_off_then_on_and_the_bulb_returns()
{
    let csv = fleet(1, &[("bulb", 2, "KL130(US)", "strip#2")]);
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let journal = bench.journal().lines();
    let sw = switchings(&journal, "strip");
    assert_eq!(sw.len(), 2, "one off and one on: {sw:?}\n{stderr}");
    assert_eq!((sw[0].0.as_str(), sw[0].1), ("2", false), "{sw:?}");
    assert_eq!((sw[1].0.as_str(), sw[1].1), ("2", true), "{sw:?}");
    let off_ms = (sw[1].2 - sw[0].2).num_milliseconds();
    assert!(
        off_ms >= OFF_SCALED_MS,
        "held off {off_ms} ms, under the catalog's off time"
    );
    // The bulb went dark and booted again; nobody sent it a reboot.
    let bulb: Vec<&str> = journal
        .iter()
        .filter(|l| l.id == "bulb")
        .map(|l| l.what.as_str())
        .collect();
    assert_eq!(
        bulb,
        ["power_lost", "power_back"],
        "{}",
        bench.journal().text
    );
    assert_eq!(bench.journal().commands("bulb"), 0);
    assert_eq!(bench.journal().commands("strip"), 0);

    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{stderr}"
    );
    let job = record.jobs.iter().find(|j| j.device_id == "bulb").unwrap();
    assert_eq!(job.method, Method::Upstream);
    let events = events_of(&record, "bulb");
    for kind in [
        EventKind::Intent,
        EventKind::OutletOff,
        EventKind::WentAway,
        EventKind::OutletOn,
        EventKind::CameBack,
    ] {
        assert!(events.iter().any(|e| *e == kind), "no {kind}: {events:?}");
    }
    let pos = |k: EventKind| events.iter().position(|e| *e == k).unwrap();
    assert!(
        pos(EventKind::Intent) < pos(EventKind::OutletOff)
            && pos(EventKind::OutletOff) < pos(EventKind::OutletOn)
    );
    // The strip has no power_via: with --method upstream it is a work order, untouched.
    assert_eq!(
        outcome_of(&record, "strip").0,
        Some(Outcome::ManualRequired)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a work order is not a success\n{stderr}"
    );
}

#[test]
fn two_devices_behind_one_outlet_share_one_cycle_and_each_keeps_its_outcome() {
    let csv = fleet(
        2,
        &[
            ("lamp", 2, "KL130(US)", "strip#3"),
            ("plug", 3, "HS110(EU)", "strip#3"),
        ],
    );
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let journal = bench.journal().lines();
    let sw = switchings(&journal, "strip");
    assert_eq!(sw.len(), 2, "one cycle for both: {sw:?}");
    assert!(sw.iter().all(|(o, _, _)| o == "3"), "{sw:?}");
    let record = latest_run(&bench.db());
    for id in ["lamp", "plug"] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(bench.journal().commands(id), 0, "{id} got a command");
    }
}

#[test]
fn a_strip_powered_by_a_plug_is_cycled_only_after_the_bulb_behind_it_is_done() {
    // plug ← strip ← bulb: --method upstream cycles the strip's outlet 2 for the bulb, then the
    // plug's relay for the strip, never the other way round.
    let csv = "id,host,model,mac,power_via\n\
               plug,127.43.3.1,HS110(EU),50:C7:BF:43:03:01,\n\
               strip,127.43.3.2,HS300(US),50:C7:BF:43:03:02,plug\n\
               bulb,127.43.3.3,KL130(US),50:C7:BF:43:03:03,strip#2\n";
    let bench = Bench::start(csv, csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let journal = bench.journal().lines();
    let record = latest_run(&bench.db());
    for id in ["strip", "bulb"] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{stderr}"
        );
    }
    let strip_on = switchings(&journal, "strip");
    let plug = switchings(&journal, "plug");
    assert_eq!(strip_on.len(), 2, "{strip_on:?}");
    assert_eq!(plug.len(), 2, "{plug:?}");
    let bulb_back = journal
        .iter()
        .find(|l| l.id == "bulb" && l.what == "power_back")
        .expect("the bulb came back")
        .at;
    assert!(
        plug[0].2 > bulb_back,
        "the plug went off before the bulb behind the strip was back\n{}",
        bench.journal().text
    );

    // The plan shows the order.
    let plan = bench.output(&[
        "plan",
        "fleet.csv",
        "--action",
        "power-cycle",
        "--method",
        "upstream",
    ]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("after: bulb"), "{text}");
    assert!(text.contains("after: strip"), "{text}");
    let plan = bench.output(&[
        "plan",
        "fleet.csv",
        "--action",
        "power-cycle",
        "--method",
        "upstream",
        "--json",
    ]);
    let jobs: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(jobs[1]["method"], "upstream", "{jobs}");
    assert_eq!(jobs[1]["via"], "plug", "{jobs}");
    assert_eq!(jobs[1]["after"], serde_json::json!(["bulb"]), "{jobs}");
    assert_eq!(jobs[2]["via"], "strip#2", "{jobs}");
    assert_eq!(jobs[0]["method"], "manual", "{jobs}");
}

#[test]
fn a_switch_at_the_address_that_is_not_the_inventory_s_is_never_switched() {
    // The strip's row says one MAC; the device at its address reports another (a lease that
    // moved): nothing behind it is switched off.
    let sim = "id,host,model,mac,power_via,sim_fault\n\
               strip,127.43.7.1,HS300(US),50:C7:BF:43:07:01,,mac=50:C7:BF:99:99:99\n\
               bulb,127.43.7.2,KL130(US),50:C7:BF:43:07:02,strip#1,\n";
    let bench = Bench::start(sim, sim);
    bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Skipped), Some(Reason::DependencyFailed)),
        "{detail}"
    );
    assert!(detail.contains("not the inventory's switch"), "{detail}");
    assert!(switchings(&bench.journal().lines(), "strip").is_empty());
}

#[test]
fn a_switch_that_does_not_answer_leaves_the_devices_behind_it_skipped_with_nothing_switched() {
    let sim = "id,host,model,mac,power_via,sim_fault\n\
               strip,127.43.5.1,HS300(US),50:C7:BF:43:05:01,,offline\n\
               bulb,127.43.5.2,KL130(US),50:C7:BF:43:05:02,strip#1,\n";
    let bench = Bench::start(sim, sim);
    bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(outcome, Some(Outcome::Skipped), "{detail}");
    assert_eq!(reason, Some(Reason::DependencyFailed), "{detail}");
    assert!(switchings(&bench.journal().lines(), "strip").is_empty());
}

#[test]
fn resume_after_a_kill_with_the_outlet_off_switches_it_on_and_never_cycles_it_again() {
    let csv = fleet(6, &[("bulb", 2, "KL130(US)", "strip#4")]);
    // At 0.1 the outlet stays off a whole second: time to kill the run inside it.
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let mut child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.1"],
    )));
    let db = bench.db();
    kill_when(&mut child, || count_events(&db, EventKind::OutletOff) >= 1);
    let before = switchings(&bench.journal().lines(), "strip");
    assert_eq!(before.len(), 1, "killed with the outlet off: {before:?}");
    assert_eq!(count_events(&db, EventKind::OutletOn), 0);

    let mut resume = Bench::spawn(&mut bench.cmd(&["resume", "latest", "--yes"]));
    // 1: the strip itself (no power_via) stays a work order.
    assert_eq!(exit_code(&mut resume), Some(1));
    wait_for_events(&db, EventKind::OutletOn, 1);
    let journal = bench.journal().lines();
    let sw = switchings(&journal, "strip");
    let offs = sw.iter().filter(|(_, on, _)| !on).count();
    let ons = sw.iter().filter(|(_, on, _)| *on).count();
    assert_eq!(
        (offs, ons),
        (1, 1),
        "switched on once, never off again: {sw:?}"
    );
    assert!(sw.iter().all(|(o, _, _)| o == "4"), "{sw:?}");
    let record = latest_run(&db);
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(outcome, Some(Outcome::Succeeded), "{reason:?} {detail}");
    assert!(detail.contains("not switched off again"), "{detail}");
}

#[test]
fn a_tapo_strip_outlet_is_switched_through_control_child_like_a_kasa_one() {
    let csv = "id,host,model,mac,power_via,protocol\n\
               strip,127.43.8.1:8080,P300,50:C7:BF:43:08:01,,klap\n\
               plug,127.43.8.2,HS110(EU),50:C7:BF:43:08:02,strip#2,\n";
    let bench = Bench::start(csv, csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "plug");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sw = switchings(&bench.journal().lines(), "strip");
    assert_eq!(sw.len(), 2, "{sw:?}");
    assert!(sw.iter().all(|(o, _, _)| o == "2"), "{sw:?}");
    assert_eq!(bench.journal().commands("plug"), 0);
}

#[test]
fn a_wrong_device_behind_an_outlet_keeps_the_outlet_on_for_everyone_behind_it() {
    let sim = "id,host,model,mac,power_via,sim_fault\n\
               strip,127.43.9.1,HS300(US),50:C7:BF:43:09:01,,\n\
               moved,127.43.9.2,HS110(EU),50:C7:BF:43:09:02,strip#2,mac=50:C7:BF:99:99:02\n\
               lamp,127.43.9.3,KL130(US),50:C7:BF:43:09:03,strip#2,\n";
    let bench = Bench::start(sim, sim);
    bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    assert_eq!(
        outcome_of(&record, "moved").1,
        Some(Reason::IdentityMismatch)
    );
    let (outcome, reason, detail) = outcome_of(&record, "lamp");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Skipped), Some(Reason::DependencyFailed)),
        "{detail}"
    );
    assert!(switchings(&bench.journal().lines(), "strip").is_empty());
}
