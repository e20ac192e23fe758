//! The device a command goes to is the device the inventory means (issue 8, items 4, 8 and 9):
//! a MAC answering at two addresses is ambiguous and nothing is sent to either; a device of
//! another family is refused; a factory reset needs a MAC; absurd options are refused before
//! anything is sent. Each test reads the simulator's journal.

mod common;

use fleetreset::model::EventKind;
use std::process::Output;

use common::bench::{Bench, run_args};
use common::truth::{assert_truthful, latest_run, outcome_of};
use common::{ip, text};
use fleetreset::model::{Outcome, Reason};

const FILE: u8 = 35;

/// Serves `sim_csv` (which may hold devices the inventory doesn't list) and writes `inventory`.
fn bench(sim_csv: &str, inventory: &str) -> Bench {
    Bench::start(sim_csv, inventory)
}

fn run(b: &Bench, action: &str, extra: &[&str]) -> Output {
    b.output(&run_args(action, extra))
}

#[test]
fn a_mac_answering_at_two_addresses_is_ambiguous_and_nothing_is_sent_to_either() {
    let (a, b, c, d, e) = (
        ip(FILE, 1, 1),
        ip(FILE, 1, 2),
        ip(FILE, 1, 3),
        ip(FILE, 1, 4),
        ip(FILE, 1, 5),
    );
    // unit-1 is where the inventory says, but a second device answers with its MAC too.
    // unit-2 moved away, and two devices answer with its MAC elsewhere.
    let sim = format!(
        "id,host,model,mac,sim_fault\n\
         unit-1,{a},HS110(EU),50:C7:BF:23:01:01,\n\
         twin-1,{b},HS110(EU),50:C7:BF:23:01:02,mac=50:C7:BF:23:01:01\n\
         unit-2,{c},HS110(EU),50:C7:BF:23:01:03,offline\n\
         twin-2a,{d},HS110(EU),50:C7:BF:23:01:04,mac=50:C7:BF:23:01:03\n\
         twin-2b,{e},HS110(EU),50:C7:BF:23:01:05,mac=50:C7:BF:23:01:03\n"
    );
    let inventory = format!(
        "id,host,model,mac\nunit-1,{a},HS110(EU),50:C7:BF:23:01:01\nunit-2,{c},HS110(EU),50:C7:BF:23:01:03\n"
    );
    let bench = bench(&sim, &inventory);
    let target = format!("{}/29", ip(FILE, 1, 0));
    let out = run(&bench, "factory-reset", &["--rediscover", &target]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");

    let journal = bench.journal();
    assert!(
        journal.no_commands(),
        "something was sent:\n{}",
        journal.text
    );
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "ambiguous MACs");
    for (id, one, two) in [("unit-1", a, b), ("unit-2", d, e)] {
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            (outcome, reason),
            (Some(Outcome::Failed), Some(Reason::IdentityMismatch)),
            "{id}: {detail}"
        );
        assert!(
            detail.contains(&format!("({one} and {two})")),
            "{id} must name both addresses: {detail}"
        );
        assert!(detail.contains("nothing will be sent"), "{detail}");
    }
}

#[test]
fn a_move_is_followed_only_to_the_one_address_that_answers_with_the_mac() {
    let (a, b) = (ip(FILE, 2, 1), ip(FILE, 2, 2));
    let sim = format!(
        "id,host,model,mac,sim_fault\nold,{a},HS110(EU),50:C7:BF:23:02:09,offline\n\
         moved,{b},HS110(EU),50:C7:BF:23:02:01,\n"
    );
    let inventory = format!("id,host,model,mac\nmoved,{a},HS110(EU),50:C7:BF:23:02:01\n");
    let bench = bench(&sim, &inventory);
    let target = format!("{}/29", ip(FILE, 2, 0));
    let out = run(&bench, "power-cycle", &["--rediscover", &target]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains(&format!("answered at {b}, not {a}")), "{t}");
    let journal = bench.journal();
    assert_eq!(journal.reboots.get("moved"), Some(&1), "{}", journal.text);
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "one move");
}

#[test]
fn a_device_of_another_family_than_the_inventory_says_is_refused_and_another_model_is_noted() {
    let (a, b) = (ip(FILE, 3, 1), ip(FILE, 3, 2));
    let sim = format!(
        "id,host,model,mac\nbulb,{a},HS110(EU),50:C7:BF:23:03:01\nplug,{b},HS110(EU),50:C7:BF:23:03:02\n"
    );
    // The inventory has a bulb where a plug answers, and an HS103 where an HS110 answers.
    let inventory = format!(
        "id,host,model,mac\nbulb,{a},KL130(EU),50:C7:BF:23:03:01\nplug,{b},HS103(EU),50:C7:BF:23:03:02\n"
    );
    let bench = bench(&sim, &inventory);
    let out = run(&bench, "power-cycle", &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let journal = bench.journal();
    assert_eq!(journal.commands("bulb"), 0, "{}", journal.text);
    assert_eq!(journal.reboots.get("plug"), Some(&1), "{}", journal.text);
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "model checks");
    let (outcome, reason, detail) = outcome_of(&record, "bulb");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::IdentityMismatch)),
        "{detail}"
    );
    assert!(
        detail.contains("Bulb") && detail.contains("Plug"),
        "{detail}"
    );
    assert_eq!(outcome_of(&record, "plug").0, Some(Outcome::Succeeded));
    let noted = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::ModelMismatch)
        .expect("the other model is recorded");
    assert_eq!(noted.device_id.as_deref(), Some("plug"));
    assert_eq!(noted.detail["reported_model"], "HS110(EU)");
    assert!(
        t.contains("another model than the inventory"),
        "warned: {t}"
    );
}

#[test]
fn a_factory_reset_of_a_row_with_only_a_device_id_is_refused_as_file_line() {
    let a = ip(FILE, 4, 1);
    let sim = format!("id,host,model\nplug,{a},HS110(EU)\n");
    let inventory = format!("id,host,model,device_id\nplug,{a},HS110(EU),8006ABCDEF\n");
    let bench = bench(&sim, &inventory);
    let out = run(&bench, "factory-reset", &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("fleet.csv:2: plug: no MAC"), "{t}");
    assert!(t.contains("a device_id alone is not enough"), "{t}");
    assert!(bench.journal().text.is_empty());
    assert!(!bench.db().exists());
}

#[test]
fn absurd_option_values_are_refused_before_anything_is_sent() {
    let a = ip(FILE, 5, 1);
    let sim = format!("id,host,model,mac\nplug,{a},HS110(EU),50:C7:BF:23:05:01\n");
    let bench = bench(&sim, &sim);
    for (args, says) in [
        (
            vec!["--time-scale", "1e-300"],
            "--time-scale must be from 0.005 to 1",
        ),
        (
            vec!["--time-scale", "NaN"],
            "--time-scale must be from 0.005 to 1",
        ),
        (
            vec!["--time-scale", "0.001"],
            "--time-scale must be from 0.005 to 1",
        ),
        (
            vec!["--concurrency", "0"],
            "--concurrency must be from 1 to 4096",
        ),
        (
            vec!["--concurrency", "99999999999"],
            "--concurrency must be from 1 to 4096",
        ),
        (
            vec!["--connect-timeout", "1e308"],
            "--connect-timeout must be from 0.01",
        ),
        (
            vec!["--request-timeout=-1"],
            "--request-timeout must be from 0.01",
        ),
        (vec!["--burst", "0"], "--burst must be at least 1"),
        (vec!["--rate", "0"], "--rate must be"),
    ] {
        // Only the option under test: nothing else may be what is refused.
        let out = bench
            .cmd(&["run", "fleet.csv", "--action", "power-cycle"])
            .args(&args)
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(says), "{args:?}: {t}");
    }
    assert!(bench.journal().text.is_empty());
    assert!(!bench.db().exists());
}

#[test]
fn discovery_probes_go_only_to_the_rows_own_addresses_and_nothing_goes_out_before_the_outputs_are_checked()
 {
    // HS100s speak XOR or KLAP by hardware: only discovery can tell, so each row is probed.
    // A bystander on the same /29 must hear nothing.
    let (a, b, c) = (ip(FILE, 6, 1), ip(FILE, 6, 2), ip(FILE, 6, 3));
    let sim = format!(
        "id,host,model,mac\nhs-a,{a},HS100(UK),50:C7:BF:23:06:01\nhs-b,{b},HS100(UK),50:C7:BF:23:06:02\n\
         bystander,{c},HS100(UK),50:C7:BF:23:06:03\n"
    );
    let inventory = format!(
        "id,host,model,mac\nhs-a,{a},HS100(UK),50:C7:BF:23:06:01\nhs-b,{b},HS100(UK),50:C7:BF:23:06:02\n"
    );
    let bench = bench(&sim, &inventory);

    // An unusable reports directory is found before the first packet, discovery included.
    std::fs::write(bench.path("not-a-dir"), b"").unwrap();
    let out = run(
        &bench,
        "power-cycle",
        &["--reports-dir", "not-a-dir/reports"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("not-a-dir/reports"), "{t}");
    assert!(
        bench.journal().text.is_empty(),
        "packets went out before the outputs were checked"
    );

    let out = run(&bench, "power-cycle", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let journal = bench.journal();
    assert!(
        journal.discoveries.get("hs-a").is_some_and(|n| *n >= 1),
        "{}",
        journal.text
    );
    assert!(
        journal.discoveries.get("hs-b").is_some_and(|n| *n >= 1),
        "{}",
        journal.text
    );
    assert_eq!(
        journal.discoveries.get("bystander"),
        None,
        "{}",
        journal.text
    );
    assert_eq!(journal.commands("bystander"), 0);
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "probes");
}

#[test]
fn one_device_spelled_three_ways_is_refused_by_check_before_any_run() {
    let a = ip(FILE, 7, 1);
    let inventory =
        format!("id,host,model\na,{a},HS110(EU)\nb,::ffff:{a},HS110(EU)\nc,0x7f230701,HS110(EU)\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), inventory).unwrap();
    let out = common::fleetreset_in(dir.path())
        .args(["check", "fleet.csv"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("fleet.csv:3: duplicate host"), "{t}");
    assert!(t.contains("fleet.csv:4: bad host"), "{t}");
    assert!(t.contains("a.b.c.d"), "{t}");
}

#[test]
fn two_rows_that_reach_one_address_in_a_run_give_it_one_command() {
    // A host name and the address it resolves to: nothing in the inventory tells them apart.
    // `localhost` is the one name every host resolves, to 127.0.0.1 (the IPv4 address is the
    // one a job takes); port 19999 is used by no other test.
    let sim = "id,host,model\nplug,127.0.0.1:19999,HS110(EU)\n".to_string();
    let inventory =
        "id,host,model\nby-ip,127.0.0.1:19999,HS110(EU)\nby-name,localhost:19999,HS110(EU)\n";
    let bench = bench(&sim, inventory);
    let out = run(&bench, "power-cycle", &["--concurrency", "1"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(
        bench.journal().commands("plug"),
        1,
        "{}",
        bench.journal().text
    );
    let record = latest_run(&bench.db());
    let (outcome, reason, detail) = outcome_of(&record, "by-name");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::IdentityMismatch)),
        "{detail}"
    );
    assert!(detail.contains("also the address of by-ip"), "{detail}");
}
