//! How a job watches a device it asked to reboot. Its looks keep one connection while the
//! device answers; a connection the device closes must not be read as the device going away,
//! or a reboot that never happened would be recorded as done. Each test reads the simulator's
//! journal beside the database.
//!
//! Loopback plan: 127.62.x.y, one third octet per test.

mod common;

use common::bench::{Bench, run_args};
use common::truth::{assert_truthful, events_of, latest_run, outcome_of};
use common::{ip, text};
use fleetreset::model::{EventKind, Outcome, Reason};

const FILE: u8 = 62;

/// Two HS110 plugs (relay on, so their on-time tells a reboot) with `fault`.
///
/// At time scale 0.05 a job looks every 50 ms, so a device that closes a connection idle for
/// 40 ms has closed the one a look kept by the next look; the probe, the intent and the
/// command follow each other within a few milliseconds, on one connection.
fn fleet(test: u8, fault: &str) -> String {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=2u8 {
        csv.push_str(&format!(
            "p{i},{},HS110(EU),50:C7:BF:3E:{test:02X}:{i:02X},{fault}\n",
            ip(FILE, test, i)
        ));
    }
    csv
}

#[test]
fn a_device_that_drops_idle_connections_and_ignores_the_reboot_is_not_taken_for_gone() {
    // The device acknowledges the reboot and keeps running; every look finds the connection
    // it kept closed by the device. Only a fresh connection that fails may say the device went away.
    let csv = fleet(1, "idle_close=40;reboot_ignored");
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.05"]);
    let out = bench.output(&run_args("power-cycle", &["--time-scale", "0.05"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");

    let journal = bench.journal();
    let record = latest_run(&bench.db());
    assert_truthful(
        &record,
        &journal,
        true,
        "drops idle connections, ignores reboots",
    );
    for id in ["p1", "p2"] {
        assert_eq!(journal.commands(id), 1, "{}", journal.text);
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            (outcome, reason),
            (Some(Outcome::Failed), Some(Reason::NotVerified)),
            "{id}: {detail}"
        );
        assert!(detail.contains("kept answering"), "{id}: {detail}");
        let events = events_of(&record, id);
        assert!(
            !events.contains(&EventKind::WentAway.into()),
            "{id} was taken for gone: {events:?}"
        );
    }
}

#[test]
fn a_device_that_drops_idle_connections_is_still_seen_to_reboot_and_return() {
    let csv = fleet(2, "idle_close=40");
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.05"]);
    let out = bench.output(&run_args("power-cycle", &["--time-scale", "0.05"]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");

    let journal = bench.journal();
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "drops idle connections");
    for id in ["p1", "p2"] {
        assert_eq!(journal.commands(id), 1, "{}", journal.text);
        let (outcome, _, detail) = outcome_of(&record, id);
        assert_eq!(outcome, Some(Outcome::Succeeded), "{id}: {detail}");
        let events = events_of(&record, id);
        for kind in [EventKind::WentAway, EventKind::CameBack] {
            assert!(events.contains(&kind.into()), "{id}: {events:?}");
        }
    }
}
