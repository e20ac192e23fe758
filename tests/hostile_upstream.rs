//! A hostile pass over the upstream power cycle, the method choice and work orders: the real
//! binary against `fleetreset simulate`, killed at each point of a cycle, with switches that
//! misbehave and rows that lie. Every test reads the simulator's journal (what each switch and
//! device went through) beside the audit database.
//!
//! Loopback: 127.46.T.N, one third octet per test.

mod common;

use common::bench::{Bench, kill_when, run_args};
use common::text;
use common::truth::{Line, assert_truthful, count_events, events_of, latest_run, outcome_of};
use fleetreset::model::EventKind;
use fleetreset::model::{Method, Outcome, Reason};

fn lines(bench: &Bench) -> Vec<Line> {
    bench.journal().lines()
}

/// `(offs, ons)` of `id`'s outlets in the journal.
fn switched(bench: &Bench, id: &str) -> (usize, usize) {
    let l = lines(bench);
    let n = |what: &str| l.iter().filter(|l| l.id == id && l.what == what).count();
    (n("outlet_off"), n("outlet_on"))
}

/// How long outlet `n` of `id` was off, in ms: from its first `outlet_off` to the next
/// `outlet_on`.
fn off_ms(bench: &Bench, id: &str, n: &str) -> Option<i64> {
    let l = lines(bench);
    let mine = |what: &str| {
        l.iter()
            .filter(|x| x.id == id && x.what == what && x.arg.as_deref() == Some(n))
            .map(|x| x.at)
            .collect::<Vec<_>>()
    };
    let off = *mine("outlet_off").first()?;
    let on = mine("outlet_on").into_iter().find(|&t| t >= off)?;
    Some((on - off).num_milliseconds())
}

fn journal_has(bench: &Bench, id: &str, what: &str) -> bool {
    lines(bench).iter().any(|l| l.id == id && l.what == what)
}

/// An HS300 strip at `.1` (with `strip_fault`), then `rows` `(id, n, model, power_via,
/// fault)`, MACs from the address.
fn fleet(test: u8, strip_fault: &str, rows: &[(&str, u8, &str, &str, &str)]) -> String {
    let mut csv = format!(
        "id,host,model,mac,power_via,sim_fault\n\
         strip,127.46.{test}.1,HS300(US),50:C7:BF:46:{test:02X}:01,,{strip_fault}\n"
    );
    for (id, n, model, via, fault) in rows {
        csv.push_str(&format!(
            "{id},127.46.{test}.{n},{model},50:C7:BF:46:{test:02X}:{n:02X},{via},{fault}\n"
        ));
    }
    csv
}

/// The catalog's off time of a bulb or a plug (10 s), at time scale 0.1.
const OFF_AT_TENTH_MS: i64 = 1000;

/// Killed once the strip has taken the outlet off but before its reply arrived (the strip is
/// slow to answer): the run never recorded the `outlet_off`. `resume` finds the outlet off,
/// must hold it off for the whole off time, switch it on once, and never off again.
#[test]
fn a_kill_after_the_outlet_went_off_but_before_the_switch_answered_is_resumed_with_the_full_off_time()
 {
    let csv = fleet(1, "slow=150", &[("bulb", 2, "KL130(US)", "strip#2", "")]);
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let db = bench.db();
    let mut child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.1"],
    )));
    kill_when(&mut child, || journal_has(&bench, "strip", "outlet_off"));
    assert_eq!(
        count_events(&db, EventKind::OutletOff),
        0,
        "killed before the ack"
    );
    assert_eq!(count_events(&db, EventKind::Intent), 1);

    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}",
        text(&out)
    );
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    let held = off_ms(&bench, "strip", "2").expect("off, then on");
    assert!(
        held >= OFF_AT_TENTH_MS,
        "resume switched the outlet on after {held} ms, under the catalog's off time: a blip, not a power cycle\n{}",
        bench.journal().text
    );
    assert_truthful(&record, &bench.journal(), true, "after resume");
    let events = events_of(&record, "bulb");
    assert_eq!(
        events.iter().filter(|e| **e == EventKind::OutletOn).count(),
        1,
        "{events:?}"
    );
}

/// Killed while the outlet is held off, with two devices behind it and the strip itself (a
/// remote reboot) still to go: `resume` switches the outlet on once, both devices succeed,
/// and the strip reboots only after both are back.
#[test]
fn a_kill_in_the_off_hold_of_a_shared_outlet_is_resumed_once_and_the_strip_reboots_last() {
    // The devices behind the strip are cycled at the outlet (their rows say so); the strip
    // reboots by its own command.
    let csv = "id,host,model,mac,power_via,sim_fault,method\n\
               strip,127.46.2.1,HS300(US),50:C7:BF:46:02:01,,,\n\
               lamp,127.46.2.2,KL130(US),50:C7:BF:46:02:02,strip#3,,upstream\n\
               plug,127.46.2.3,HS110(EU),50:C7:BF:46:02:03,strip#3,,Upstream\n";
    let bench = Bench::start_with(csv, csv, &["--time-scale", "0.1"]);
    let db = bench.db();
    let mut child =
        Bench::spawn(&mut bench.cmd(&run_args("power-cycle", &["--time-scale", "0.1"])));
    kill_when(&mut child, || count_events(&db, EventKind::OutletOff) >= 2);
    assert_eq!(switched(&bench, "strip"), (1, 0));

    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    for id in ["lamp", "plug", "strip"] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{}",
            text(&out)
        );
    }
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    let l = lines(&bench);
    let at = |id: &str, what: &str| {
        l.iter()
            .find(|x| x.id == id && x.what == what)
            .unwrap_or_else(|| panic!("no {id} {what}\n{}", bench.journal().text))
            .at
    };
    let reboot = at("strip", "reboot");
    assert!(
        reboot > at("lamp", "power_back") && reboot > at("plug", "power_back"),
        "the strip rebooted before the devices behind it were back\n{}",
        bench.journal().text
    );
    assert_truthful(&record, &bench.journal(), true, "after resume");
}

/// Killed after the outlet came back on, before the device was seen back: `resume` switches
/// nothing and sees it back.
#[test]
fn a_kill_after_the_outlet_came_back_on_is_resumed_without_touching_the_switch() {
    let csv = fleet(3, "", &[("bulb", 2, "KL130(US)", "strip#1", "")]);
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.05"]);
    let db = bench.db();
    let mut child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.05"],
    )));
    kill_when(&mut child, || count_events(&db, EventKind::OutletOn) >= 1);
    assert_eq!(
        count_events(&db, EventKind::CameBack),
        0,
        "killed before verification"
    );

    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}",
        text(&out)
    );
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    let ons = record
        .events
        .iter()
        .filter(|e| e.kind == EventKind::OutletOn)
        .count();
    assert_eq!(ons, 1, "resume switched nothing more");
    assert_truthful(&record, &bench.journal(), true, "after resume");
    // The strip has no power_via: a work order under --method upstream.
    assert_eq!(
        outcome_of(&record, "strip").0,
        Some(Outcome::ManualRequired)
    );
    let job = record.jobs.iter().find(|j| j.device_id == "bulb").unwrap();
    assert_eq!(job.method, Method::Upstream);
}

/// A strip whose outlet goes off and then refuses to come on (a stuck relay, with hostile
/// words in its refusals): the run tries a few times, ends, says to switch it on by hand, and
/// never records a success; nothing is switched off twice, and no device text reaches the
/// terminal raw.
#[test]
fn an_outlet_that_goes_off_and_refuses_to_come_on_fails_the_devices_behind_it_with_the_words_to_fix_it()
 {
    let hostile = r"on_refused;err_msg=\e[2J\e[H[ 9/9] bulb: succeeded\nforged";
    let csv = fleet(4, hostile, &[("bulb", 2, "KL130(US)", "strip#2", "")])
        .replace(
            "id,host,model,mac,power_via,sim_fault\n",
            "id,host,model,mac,power_via,sim_fault,alias\n",
        )
        .replace(
            &format!("{hostile}\n"),
            &format!("{hostile},\"\u{1b}]0;pwned\u{7}strip\nline\"\n"),
        )
        .replace("strip#2,\n", "strip#2,,\n");
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream", "-v"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::DeviceError)),
        "{detail}\n{}",
        text(&out)
    );
    assert!(detail.contains("switch it on by hand"), "{detail}");
    assert_eq!(
        switched(&bench, "strip"),
        (1, 0),
        "{}",
        bench.journal().text
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_truthful(&record, &bench.journal(), true, "stuck relay");
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&0x07),
            "device text reached the {what} raw:\n{}",
            text(&out)
        );
    }
    for entry in walk(&bench.path("reports")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.contains(&0x1b) && !bytes.contains(&0x07),
            "device text reached {} raw",
            entry.display()
        );
    }
    // The audit keeps it open to nobody: resume has nothing to judge.
    let again = bench.output(&["resume", "latest", "--yes"]);
    assert_eq!(switched(&bench, "strip"), (1, 0), "{}", text(&again));
}

/// An outlet someone switched off before the run: the device behind it has no power to cycle.
/// The run must not switch it on (nobody asked for that) nor record a power cycle that never
/// happened.
#[test]
fn an_outlet_already_off_is_left_alone_and_no_cycle_is_recorded() {
    let csv = fleet(5, "", &[("bulb", 2, "KL130(US)", "strip#2", "")]);
    let bench = Bench::start(&csv, &csv);
    switch_outlet_off("127.46.5.1:9999", 2);
    let before = switched(&bench, "strip");
    assert_eq!(before, (1, 0));
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Skipped), Some(Reason::DependencyFailed)),
        "{detail}\n{}",
        text(&out)
    );
    assert!(detail.contains("already off"), "{detail}");
    assert_eq!(
        switched(&bench, "strip"),
        (1, 0),
        "the run switched an outlet someone had switched off\n{}",
        bench.journal().text
    );
    assert_eq!(count_events(&bench.db(), EventKind::Intent), 0);
}

/// Switches outlet `n` of the IOT strip at `addr` off, as a person in the app would.
fn switch_outlet_off(addr: &str, n: usize) {
    use fleetreset::device::{DeviceClient, Link, ProtocolKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = DeviceClient::new(Link {
            addr: addr.parse().unwrap(),
            protocol: ProtocolKind::Iot,
            credentials: None,
            timeouts: Default::default(),
        });
        let info = c.info().await.unwrap();
        let child = info.children[n - 1].id.clone();
        c.set_relay(false, Some(&child)).await.unwrap();
    });
}

/// Two devices behind one outlet, one of them offline: the outlet is cycled once for both; the
/// one that answers succeeds, the offline one does not.
#[test]
fn an_offline_device_behind_a_shared_outlet_does_not_succeed_and_the_other_does() {
    let csv = fleet(
        6,
        "",
        &[
            ("lamp", 2, "KL130(US)", "strip#4", ""),
            ("gone", 3, "HS110(EU)", "strip#4", "offline"),
        ],
    );
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "lamp");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}",
        text(&out)
    );
    let (outcome, reason, detail) = outcome_of(&record, "gone");
    assert!(
        matches!(outcome, Some(Outcome::Failed | Outcome::ManualRequired)),
        "{outcome:?} {reason:?} {detail}"
    );
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    assert_truthful(
        &record,
        &bench.journal(),
        true,
        "offline behind a shared outlet",
    );
}

/// The strip is in the run (a remote reboot) and is not the device its row means: the device
/// behind it is skipped `dependency_failed`, nothing is switched, and the strip gets nothing.
#[test]
fn a_strip_in_the_run_that_fails_identity_switches_nothing_and_skips_what_it_powers() {
    let csv = "id,host,model,mac,power_via,sim_fault,method\n\
               strip,127.46.7.1,HS300(US),50:C7:BF:46:07:01,,mac=50:C7:BF:99:46:07,\n\
               bulb,127.46.7.2,KL130(US),50:C7:BF:46:07:02,strip#1,,upstream\n\
               lamp,127.46.7.3,KL130(US),50:C7:BF:46:07:03,strip#2,,\n";
    let bench = Bench::start(csv, csv);
    let out = bench.output(&run_args("power-cycle", &[]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Skipped), Some(Reason::DependencyFailed)),
        "{detail}\n{}",
        text(&out)
    );
    assert_eq!(
        outcome_of(&record, "strip").1,
        Some(Reason::IdentityMismatch)
    );
    // The lamp has its own reboot: it gets it.
    assert_eq!(outcome_of(&record, "lamp").0, Some(Outcome::Succeeded));
    let journal = bench.journal();
    assert_eq!(switched(&bench, "strip"), (0, 0), "{}", journal.text);
    assert_eq!(journal.commands("strip"), 0);
    assert_eq!(journal.disruptions("bulb"), 0);
    assert_truthful(&record, &journal, true, "strip not the inventory's");
}

/// A factory reset asked `--method upstream`, and rows whose `method` column says upstream: a
/// power cycle can't erase a device, so every row is a work order, and nothing is switched or
/// sent.
#[test]
fn a_factory_reset_by_the_outlet_is_a_work_order_and_nothing_is_switched() {
    let csv = "id,host,model,mac,power_via,sim_fault,method\n\
               strip,127.46.8.1,HS300(US),50:C7:BF:46:08:01,,,\n\
               bulb,127.46.8.2,KL130(US),50:C7:BF:46:08:02,strip#1,,upstream\n\
               cam,127.46.8.3,KC100,50:C7:BF:46:08:03,strip#2,,UPSTREAM\n";
    let sim = "id,host,model,mac,power_via\n\
               strip,127.46.8.1,HS300(US),50:C7:BF:46:08:01,\n\
               bulb,127.46.8.2,KL130(US),50:C7:BF:46:08:02,strip#1\n";
    let bench = Bench::start(sim, csv);
    let plan = bench.output(&[
        "plan",
        "fleet.csv",
        "--action",
        "factory-reset",
        "--method",
        "upstream",
        "--json",
    ]);
    let jobs: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan --json");
    for j in jobs.as_array().unwrap() {
        assert_eq!(j["method"], "manual", "{j}");
        assert_eq!(j["via"], serde_json::Value::Null, "{j}");
    }
    let out = bench.output(&run_args("factory-reset", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    for id in ["strip", "bulb", "cam"] {
        let (outcome, _, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::ManualRequired),
            "{id}: {detail}\n{}",
            text(&out)
        );
    }
    assert!(
        outcome_of(&record, "bulb")
            .2
            .contains("can't factory-reset")
    );
    // The rows' own `upstream`, with the run's --method auto: work orders too.
    let out = bench.output(&run_args("factory-reset", &[]));
    let record = latest_run(&bench.db());
    assert_eq!(
        outcome_of(&record, "bulb").0,
        Some(Outcome::ManualRequired),
        "{}",
        text(&out)
    );
    assert!(bench.journal().no_commands() || bench.journal().commands("bulb") == 0);
    assert_eq!(switched(&bench, "strip"), (0, 0));
    assert_eq!(bench.journal().disruptions("bulb"), 0);
}

/// The `method` column row by row, through `check`, `plan --json` and `run`; a bad word is
/// refused; a run's `--method` overrides every row.
#[test]
fn the_method_column_is_taken_row_by_row_and_a_run_wide_method_overrides_it() {
    let csv = "id,host,model,mac,power_via,sim_fault,method\n\
               strip,127.46.9.1,HS300(US),50:C7:BF:46:09:01,,,auto\n\
               bulb,127.46.9.2,KL130(US),50:C7:BF:46:09:02,strip#1,,upstream\n\
               lamp,127.46.9.3,KL130(US),50:C7:BF:46:09:03,strip#2,, Manual \n\
               plug,127.46.9.4,HS110(EU),50:C7:BF:46:09:04,strip#3,,remote\n\
               lone,127.46.9.5,KL130(US),50:C7:BF:46:09:05,,,upstream\n";
    let bench = Bench::start(csv, csv);
    std::fs::write(bench.path("bad.csv"), csv.replace("remote\n", "sideways\n")).unwrap();
    let check = bench.output(&["check", "bad.csv"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("bad.csv:5") && err.contains("sideways"),
        "{err}"
    );
    let check = bench.output(&["check", "fleet.csv"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    let plan = bench.output(&["plan", "fleet.csv", "--action", "power-cycle", "--json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan --json");
    let method = |i: usize| jobs[i]["method"].as_str().unwrap().to_string();
    assert_eq!(
        (1..5).map(method).collect::<Vec<_>>(),
        ["upstream", "manual", "remote", "manual"],
        "{jobs}"
    );
    assert_eq!(method(0), "remote", "{jobs}");
    assert_eq!(jobs[1]["via"], "strip#1");
    assert!(
        jobs[4]["why"].as_str().unwrap().contains("no power_via"),
        "{jobs}"
    );
    let all_manual = bench.output(&[
        "plan",
        "fleet.csv",
        "--action",
        "power-cycle",
        "--method",
        "manual",
        "--json",
    ]);
    let all: serde_json::Value = serde_json::from_slice(&all_manual.stdout).unwrap();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|j| j["method"] == "manual"),
        "{all}"
    );

    let out = bench.output(&run_args("power-cycle", &[]));
    let record = latest_run(&bench.db());
    let journal = bench.journal();
    for (id, want) in [
        ("strip", Outcome::Succeeded),
        ("bulb", Outcome::Succeeded),
        ("plug", Outcome::Succeeded),
        ("lamp", Outcome::ManualRequired),
        ("lone", Outcome::ManualRequired),
    ] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(want),
            "{id}: {reason:?} {detail}\n{}",
            text(&out)
        );
    }
    // A work order the row asked for is no "unsupported": the tool could have, and was told not to.
    let (_, reason, detail) = outcome_of(&record, "lamp");
    assert_eq!(reason, None, "{detail}");
    assert_eq!(outcome_of(&record, "lone").1, Some(Reason::Unsupported));
    let method_of = |id: &str| {
        record
            .jobs
            .iter()
            .find(|j| j.device_id == id)
            .unwrap()
            .method
    };
    assert_eq!(method_of("bulb"), Method::Upstream);
    assert_eq!(method_of("plug"), Method::Remote);
    assert_eq!(journal.power_cuts.get("bulb"), Some(&1), "{}", journal.text);
    assert_eq!(journal.commands("bulb"), 0);
    assert_eq!(journal.commands("plug"), 1);
    assert_eq!(journal.disruptions("lamp"), 0);
    assert_eq!(journal.commands("strip"), 1);
    assert_truthful(&record, &journal, true, "method column");
}

/// `--method upstream` is stored with the run: after a kill, `resume` cycles the job never
/// started at its outlet too, not by a reboot command the bulb would also take.
#[test]
fn resume_keeps_the_run_s_method_for_the_jobs_never_started() {
    let csv = fleet(
        10,
        "",
        &[
            ("first", 2, "KL130(US)", "strip#1", ""),
            ("second", 3, "KL130(US)", "strip#2", ""),
        ],
    );
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.05"]);
    let db = bench.db();
    let mut child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &[
            "--method",
            "upstream",
            "--time-scale",
            "0.05",
            "--concurrency",
            "1",
        ],
    )));
    kill_when(&mut child, || count_events(&db, EventKind::OutletOff) >= 1);
    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    let journal = bench.journal();
    for id in ["first", "second"] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{}",
            text(&out)
        );
        assert_eq!(
            journal.commands(id),
            0,
            "{id} got a reboot\n{}",
            journal.text
        );
        assert_eq!(journal.power_cuts.get(id), Some(&1), "{}", journal.text);
    }
    assert_eq!(switched(&bench, "strip"), (2, 2), "{}", journal.text);
    assert_eq!(
        outcome_of(&record, "strip").0,
        Some(Outcome::ManualRequired)
    );
    assert_truthful(&record, &journal, true, "resume of --method upstream");
}

/// Two rows behind one outlet, where the first is in fact plugged in elsewhere (its power_via
/// is wrong): it keeps answering with the outlet off and fails, but the second, which the
/// outlet does power, went dark and came back: it succeeds.
#[test]
fn a_device_that_keeps_answering_does_not_hide_that_the_next_one_behind_the_outlet_went_dark() {
    let sim = fleet(
        11,
        "",
        &[
            ("wrong", 2, "HS110(EU)", "strip#5", ""),
            ("right", 3, "KL130(US)", "strip#3", ""),
        ],
    );
    let inventory = sim.replace("strip#5", "strip#3");
    let bench = Bench::start(&sim, &inventory);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "wrong");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::NotVerified)),
        "{detail}\n{}",
        text(&out)
    );
    assert!(detail.contains("kept answering"), "{detail}");
    let (outcome, reason, detail) = outcome_of(&record, "right");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}",
        bench.journal().text
    );
    assert_eq!(switched(&bench, "strip"), (1, 1));
    assert_truthful(&record, &bench.journal(), true, "a wrong power_via");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// plug → strip → bulb, each by its own method: the bulb is cycled at the strip's outlet, then
/// the strip reboots, then the plug, each only once what it powers is done.
#[test]
fn a_chain_acts_from_the_bottom_up_each_once() {
    let csv = "id,host,model,mac,power_via,sim_fault,method\n\
               plug,127.46.12.1,HS110(EU),50:C7:BF:46:0C:01,,,\n\
               strip,127.46.12.2,HS300(US),50:C7:BF:46:0C:02,plug,,\n\
               bulb,127.46.12.3,KL130(US),50:C7:BF:46:0C:03,strip#2,,upstream\n";
    let bench = Bench::start(csv, csv);
    let out = bench.output(&run_args("power-cycle", &[]));
    let record = latest_run(&bench.db());
    for id in ["plug", "strip", "bulb"] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{}",
            text(&out)
        );
    }
    let l = lines(&bench);
    let at = |id: &str, what: &str| {
        l.iter()
            .find(|x| x.id == id && x.what == what)
            .unwrap_or_else(|| panic!("no {id} {what}\n{}", bench.journal().text))
            .at
    };
    assert!(at("strip", "reboot") > at("bulb", "power_back"));
    assert!(at("plug", "reboot") > at("strip", "reboot"));
    assert_eq!(switched(&bench, "strip"), (1, 1));
    assert_eq!(switched(&bench, "plug"), (0, 0));
    assert_truthful(&record, &bench.journal(), true, "a chain");
}

/// A strip in the run that is offline: what it powers is skipped `dependency_failed` with
/// nothing switched; the strip itself is a work order (it answers nothing).
#[test]
fn an_offline_strip_in_the_run_skips_what_it_powers_and_is_a_work_order_itself() {
    let csv = fleet(13, "offline", &[("bulb", 2, "KL130(US)", "strip#6", "")])
        .replace("sim_fault\n", "sim_fault,method\n")
        .replace(",offline\n", ",offline,\n")
        .replace("strip#6,\n", "strip#6,,upstream\n");
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &[]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Skipped), Some(Reason::DependencyFailed)),
        "{detail}\n{}",
        text(&out)
    );
    let (outcome, reason, detail) = outcome_of(&record, "strip");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::ManualRequired), Some(Reason::Unreachable)),
        "{detail}"
    );
    assert!(bench.journal().no_commands(), "{}", bench.journal().text);
    assert_eq!(out.status.code(), Some(1));
}

/// A row whose device doesn't answer at the probe (it is rebooting), and after the cycle
/// another device answers at its address (the MAC says so): no success for a device nobody
/// saw.
#[test]
fn a_device_that_comes_back_as_another_one_is_not_a_success() {
    // The inventory's bulb has one MAC; the simulator's device at its address another.
    let sim = fleet(14, "", &[("bulb", 2, "KL130(US)", "strip#2", "")])
        .replace("50:C7:BF:46:0E:02", "50:C7:BF:99:0E:02");
    let inventory = fleet(14, "", &[("bulb", 2, "KL130(US)", "strip#2", "")]);
    let bench = Bench::start_with(&sim, &inventory, &["--time-scale", "0.05"]);
    reboot("127.46.14.2:9999");
    let out = bench.output(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.05"],
    ));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    // Still rebooting at the probe (the case here), the cycle goes on and what comes back is
    // checked; a machine so loaded that the reboot was over by then sees the mismatch first.
    assert_eq!(
        outcome,
        Some(Outcome::Failed),
        "{reason:?} {detail}\n{}",
        text(&out)
    );
    match reason {
        Some(Reason::NotVerified) => {
            assert!(detail.contains("not the inventory's device"), "{detail}")
        }
        Some(Reason::IdentityMismatch) => assert_eq!(switched(&bench, "strip"), (0, 0)),
        other => panic!("{other:?} {detail}\n{}", bench.journal().text),
    }
}

/// Reboots the IOT device at `addr`, as someone at the app would, and waits for it to go
/// dark.
fn reboot(addr: &str) {
    use fleetreset::device::{DeviceClient, Link, ProtocolKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = DeviceClient::new(Link {
            addr: addr.parse().unwrap(),
            protocol: ProtocolKind::Iot,
            credentials: None,
            timeouts: Default::default(),
        });
        c.reboot().await.unwrap();
        // Until it has gone dark.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.info().await.is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "{addr} never rebooted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
}

/// A strip whose Wi-Fi link drops for a while right after it switched an outlet off (30 s of
/// device time, well within a strip's boot budget): the run keeps trying to switch the outlet
/// on until the switch is back, rather than giving up after a few seconds and leaving what
/// it powers dark.
#[test]
fn a_switch_that_drops_off_the_network_after_the_off_is_switched_on_once_it_is_back() {
    let csv = fleet(
        15,
        "link_drop=30",
        &[("bulb", 2, "KL130(US)", "strip#3", "")],
    );
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("power-cycle", &["--method", "upstream"]));
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}\n{}",
        text(&out),
        bench.journal().text
    );
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    assert_truthful(&record, &bench.journal(), true, "a switch whose link drops");
}

/// Ctrl-C twice while an outlet is held off: the run stops at once, but not with the outlet
/// left off and what it powers dark until someone thinks of `resume`.
#[test]
fn an_abort_in_the_off_hold_switches_the_outlet_back_on_before_the_run_ends() {
    let csv = fleet(16, "", &[("bulb", 2, "KL130(US)", "strip#2", "")]);
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.1"]);
    let db = bench.db();
    let child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.1"],
    )));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count_events(&db, EventKind::OutletOff) < 1 {
        assert!(std::time::Instant::now() < deadline, "no outlet_off");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    common::signal_twice(&child, "-INT");
    let mut child = child;
    let code = common::bench::exit_code(&mut child);
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "exit {code:?}: the outlet was left off\n{}",
        bench.journal().text
    );
    // What resume then finds: the outlet on, the bulb back; never switched off again.
    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    // Switched on after a moment, not its off time: no power cycle to record. (A machine so
    // slow that the hold was over before the second Ctrl-C finishes the cycle.)
    match (outcome, reason) {
        (Some(Outcome::Failed), Some(Reason::NotVerified)) => {
            assert!(
                detail.contains("stopped while strip#2 was held off"),
                "{detail}"
            )
        }
        (Some(Outcome::Succeeded), _) => {}
        other => panic!("{other:?} {detail}\n{}", text(&out)),
    }
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    assert_truthful(&record, &bench.journal(), true, "after an abort");
}

/// Killed in the off hold of a switch whose Wi-Fi dropped with the off, and resumed while it
/// still answers nothing: `resume` waits for the switch (as long as it may take to boot)
/// rather than leaving the outlet off with "check it by hand".
#[test]
fn resume_waits_for_a_switch_that_is_off_the_network_to_switch_the_outlet_on() {
    let csv = fleet(
        17,
        "link_drop=60",
        &[("bulb", 2, "KL130(US)", "strip#5", "")],
    );
    let bench = Bench::start_with(&csv, &csv, &["--time-scale", "0.02"]);
    let db = bench.db();
    let mut child = Bench::spawn(&mut bench.cmd(&run_args(
        "power-cycle",
        &["--method", "upstream", "--time-scale", "0.02"],
    )));
    kill_when(&mut child, || journal_has(&bench, "strip", "outlet_off"));
    let out = bench.output(&["resume", "latest", "--yes"]);
    let record = latest_run(&db);
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{}\n{}",
        text(&out),
        bench.journal().text
    );
    assert_eq!(
        switched(&bench, "strip"),
        (1, 1),
        "{}",
        bench.journal().text
    );
    assert_truthful(
        &record,
        &bench.journal(),
        true,
        "resume with the switch away",
    );
}
