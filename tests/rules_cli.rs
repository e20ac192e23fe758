//! One validator, one MAC format, and a rehearsal safety net (issue 9, items 3, 4 and 10):
//! `check` refuses what `plan` and `run` refuse, with the same `FILE:LINE` lines; every MAC a
//! device reports comes out upper case with colons; a run against a simulator at another time
//! scale stops before any command. Each run reads the simulator's journal.

mod common;

use fleetreset::model::EventKind;
use std::process::Output;

use common::bench::{Bench, run_args};
use common::truth::{assert_truthful, latest_run, outcome_of};
use common::{ip, text};
use fleetreset::model::{Outcome, Reason};
use fleetreset::store::Db;

const FILE: u8 = 38;

/// The `fleet.csv:LINE: …` lines of a command's stderr.
fn file_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("fleet.csv:") && !l.starts_with("fleet.csv: "))
        .map(str::to_string)
        .collect()
}

/// Whether the database at `db` has no run recorded (or doesn't exist).
fn no_run_recorded(db: &std::path::Path) -> bool {
    !db.exists() || Db::open(db).unwrap().list_runs().unwrap().is_empty()
}

#[test]
fn check_plan_and_run_refuse_a_factory_reset_of_rows_without_a_mac_with_the_same_lines() {
    let (a, b, c) = (ip(FILE, 1, 1), ip(FILE, 1, 2), ip(FILE, 1, 3));
    let csv = format!(
        "id,host,model,mac,device_id\n\
         ok,{a},HS110(EU),50:C7:BF:26:01:01,\n\
         only-id,{b},HS110(EU),,8006ABCDEF\n\
         bare,{c},HS110(EU),,\n"
    );
    let bench = Bench::start(&csv, &csv);
    let check = bench.output(&["check", "fleet.csv", "--action", "factory-reset"]);
    let plan = bench.output(&["plan", "fleet.csv", "--action", "factory-reset"]);
    let run = bench.output(&run_args("factory-reset", &[]));
    for out in [&check, &plan, &run] {
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
    }
    let lines = file_lines(&check);
    assert_eq!(lines.len(), 2, "{}", text(&check));
    assert!(lines[0].starts_with("fleet.csv:3: only-id: no MAC to verify"));
    assert!(lines[1].starts_with("fleet.csv:4: bare: no MAC to verify"));
    assert_eq!(file_lines(&plan), lines, "{}", text(&plan));
    assert_eq!(file_lines(&run), lines, "{}", text(&run));
    assert!(plan.stdout.is_empty(), "{}", text(&plan));

    let journal = bench.journal();
    assert!(journal.no_commands(), "sent:\n{}", journal.text);
    assert!(no_run_recorded(&bench.db()), "a refused run was recorded");

    // The flag that lets `run` through lets `check` and `plan` through too; a power cycle
    // needs no MAC at all.
    for args in [
        &[
            "check",
            "fleet.csv",
            "--action",
            "factory-reset",
            "--allow-unverified-identity",
        ][..],
        &[
            "plan",
            "fleet.csv",
            "--action",
            "factory-reset",
            "--allow-unverified-identity",
        ],
        &["check", "fleet.csv", "--action", "power-cycle"],
        &["plan", "fleet.csv", "--action", "power-cycle"],
    ] {
        let out = bench.output(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_misspelt_protocol_and_a_device_id_of_no_known_form_are_refused_alike_by_check_plan_and_run() {
    let (a, b) = (ip(FILE, 2, 1), ip(FILE, 2, 2));
    let served = format!(
        "id,host,model,mac\nplug-a,{a},HS110(EU),50:C7:BF:26:02:01\nplug-b,{b},HS110(EU),50:C7:BF:26:02:02\n"
    );
    let inventory = format!(
        "id,host,model,mac,protocol,device_id\n\
         plug-a,{a},HS110(EU),50:C7:BF:26:02:01,klapp,\n\
         plug-b,{b},HS110(EU),50:C7:BF:26:02:02,,serial 42\n"
    );
    let bench = Bench::start(&served, &inventory);
    let check = bench.output(&["check", "fleet.csv"]);
    let plan = bench.output(&["plan", "fleet.csv", "--action", "power-cycle"]);
    let run = bench.output(&run_args("power-cycle", &[]));
    for out in [&check, &plan, &run] {
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
    }
    let lines = file_lines(&check);
    assert_eq!(
        lines,
        [
            "fleet.csv:2: unknown protocol \"klapp\": expected auto, iot, klap, aes, tpap, or one of \
             iot, iot-klap-v1, iot-klap-v2, smart-klap, smart-aes, smart-tpap, sslaes, camera-tpap, linkie2",
            "fleet.csv:3: bad device_id \"serial 42\": a device id has only hex digits (0-9, \
             A-F), as the device reports it (deviceId)",
        ]
    );
    assert_eq!(file_lines(&plan), lines);
    assert_eq!(file_lines(&run), lines);
    let journal = bench.journal();
    assert!(journal.no_commands(), "sent:\n{}", journal.text);
    assert!(no_run_recorded(&bench.db()));
}

#[test]
fn a_header_alone_has_no_devices_for_check_plan_or_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), "# to fill in\nid,host,mac\n").unwrap();
    let expected = "fleet.csv:2: no devices: the file has a header and no rows; add one row per \
                    device";
    for args in [
        &["check", "fleet.csv"][..],
        &["plan", "fleet.csv", "--action", "power-cycle"],
        &["run", "fleet.csv", "--action", "power-cycle", "--yes"],
    ] {
        let out = common::fleetreset_in(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert_eq!(file_lines(&out), [expected], "{args:?}: {}", text(&out));
    }
    assert!(no_run_recorded(&dir.path().join("fleetreset.db")));
}

#[test]
fn power_via_an_outlet_the_strip_does_not_have_is_caught_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (ip(FILE, 3, 1), ip(FILE, 3, 2), ip(FILE, 3, 3));
    std::fs::write(
        dir.path().join("fleet.csv"),
        format!(
            "id,host,model,power_via\nstrip,{a},KP303(UK),\nlamp,{b},KL130,strip#7\nfan,{c},HS103,strip#3\n"
        ),
    )
    .unwrap();
    let out = common::fleetreset_in(dir.path())
        .args(["check", "fleet.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        file_lines(&out),
        [
            "fleet.csv:3: power_via \"strip#7\" names outlet 7 of \"strip\", a \"KP303(UK)\", which \
          has 3 outlets"
        ]
    );
}

#[test]
fn a_tapo_plug_that_writes_its_mac_with_dashes_is_shown_with_colons_in_plan_dry_run_run_and_events()
{
    // The SMART simulator writes MACs as `50-C7-BF-…`; the inventory gives one in lower case
    // with dashes, the other the way a router lists it.
    let (a, b) = (ip(FILE, 4, 1), ip(FILE, 4, 2));
    let csv = format!(
        "id,host,model,mac,protocol,sim_fault\n\
         tapo,{a}:8080,P110(UK),50-c7-bf-26-04-01,klap,\n\
         moved,{b}:8080,P110(UK),50c7bf260402,klap,mac=50:c7:bf:26:04:99\n"
    );
    let bench = Bench::start(&csv, &csv);
    let plan = bench.output(&["plan", "fleet.csv", "--action", "power-cycle", "--json"]);
    let plan_text = String::from_utf8_lossy(&plan.stdout).to_string();
    assert!(plan_text.contains("\"50:C7:BF:26:04:01\""), "{plan_text}");

    let dry = bench.output(&run_args("power-cycle", &["--dry-run"]));
    let dry_text = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(dry_text.contains("50:C7:BF:26:04:01"), "{}", text(&dry));
    assert!(
        !dry_text.to_ascii_lowercase().contains("50-c7-bf"),
        "{}",
        text(&dry)
    );

    let out = bench.output(&run_args("power-cycle", &[]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let journal = bench.journal();
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "dashed MACs");
    assert_eq!(journal.commands("tapo"), 1, "{}", journal.text);
    assert_eq!(journal.commands("moved"), 0, "{}", journal.text);
    assert_eq!(outcome_of(&record, "tapo").0, Some(Outcome::Succeeded));

    let (outcome, reason, detail) = outcome_of(&record, "moved");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::IdentityMismatch))
    );
    assert!(
        detail.contains("MAC 50:C7:BF:26:04:02") && detail.contains("\"50:C7:BF:26:04:99\""),
        "{detail}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"50:C7:BF:26:04:99\""), "{stderr}");
    let reported: Vec<(String, String)> = record
        .events
        .iter()
        .filter_map(|e| {
            let mac = e.detail.get("reported_mac")?.as_str()?;
            Some((e.device_id.clone().unwrap_or_default(), mac.to_string()))
        })
        .collect();
    assert!(
        reported.contains(&("tapo".into(), "50:C7:BF:26:04:01".into())),
        "{reported:?}"
    );
    assert!(
        reported.contains(&("moved".into(), "50:C7:BF:26:04:99".into())),
        "{reported:?}"
    );
    assert!(
        reported.iter().all(|(_, m)| !m.contains('-')),
        "{reported:?}"
    );
}

#[test]
fn a_run_at_another_time_scale_than_the_simulator_s_stops_before_any_command_with_the_fix() {
    let csv = common::plugs(FILE, 5, 3, "");
    let bench = Bench::start(&csv, &csv);
    let first = ip(FILE, 5, 1);
    let fix = format!(
        "the simulator at {first} runs at --time-scale 0.01; this run uses 1; pass --time-scale \
         0.01"
    );
    let run = bench.output(&run_args("power-cycle", &["--time-scale", "1"]));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(&format!("fleet.csv:2: p01: {fix}")),
        "{}",
        text(&run)
    );
    let dry = bench.output(&run_args(
        "power-cycle",
        &["--time-scale", "1", "--dry-run"],
    ));
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stderr).contains(&fix),
        "{}",
        text(&dry)
    );
    let journal = bench.journal();
    assert!(journal.no_commands(), "sent:\n{}", journal.text);
    assert!(no_run_recorded(&bench.db()), "the stopped run was recorded");

    // At the simulator's own time scale the same fleet runs.
    let ok = bench.output(&run_args("power-cycle", &[]));
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let journal = bench.journal();
    assert_truthful(&latest_run(&bench.db()), &journal, true, "matching scale");
    assert_eq!(journal.reboots.len(), 3, "{}", journal.text);
}

#[test]
fn a_klap_device_at_another_time_scale_is_refused_by_its_own_probe_and_gets_nothing() {
    // No legacy row to ask before the run: each job's probe holds its device to the rule.
    let a = ip(FILE, 6, 1);
    let csv =
        format!("id,host,model,mac,protocol\ntapo,{a}:8080,P110(UK),50:C7:BF:26:06:01,klap\n");
    let bench = Bench::start(&csv, &csv);
    let out = bench.output(&run_args("factory-reset", &["--time-scale", "1"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let journal = bench.journal();
    assert!(journal.no_commands(), "sent:\n{}", journal.text);
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "klap at another scale");
    let (outcome, reason, detail) = outcome_of(&record, "tapo");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::Unsupported)),
        "{detail}"
    );
    assert!(
        detail.contains("runs at --time-scale 0.01; this run uses 1; pass --time-scale 0.01"),
        "{detail}"
    );
    assert!(
        !record.events.iter().any(|e| e.kind == EventKind::Intent),
        "an intent was recorded"
    );
}

#[test]
fn a_row_naming_a_credentials_profile_that_is_not_there_is_refused_alike_by_check_plan_and_run() {
    let (a, b) = (ip(FILE, 9, 1), ip(FILE, 9, 2));
    let csv = format!(
        "id,host,model,mac,credentials\n\
         lobby,{a},HS110(EU),50:C7:BF:26:09:01,\n\
         office,{b},HS110(EU),50:C7:BF:26:09:02,office\n"
    );
    let bench = Bench::start(&csv, &csv);
    // No credentials file in this HOME, and no FLEETRESET_CRED_OFFICE_* variables.
    let home = tempfile::tempdir().unwrap();
    let output = |args: &[&str]| {
        bench
            .cmd(args)
            .env("HOME", home.path())
            .env_remove("FLEETRESET_CRED_OFFICE_USERNAME")
            .env_remove("FLEETRESET_CRED_OFFICE_PASSWORD")
            .output()
            .unwrap()
    };
    // The file alone is valid; asked about a run, `check` refuses what the run would.
    let alone = output(&["check", "fleet.csv"]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone));
    let check = output(&["check", "fleet.csv", "--action", "power-cycle"]);
    let plan = output(&["plan", "fleet.csv", "--action", "power-cycle"]);
    let run = output(&run_args("power-cycle", &[]));
    for out in [&check, &plan, &run] {
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
    }
    let lines = file_lines(&check);
    assert_eq!(lines.len(), 1, "{}", text(&check));
    assert!(
        lines[0].starts_with("fleet.csv:3: office: ") && lines[0].contains("office"),
        "{}",
        lines[0]
    );
    assert_eq!(file_lines(&plan), lines, "{}", text(&plan));
    assert_eq!(file_lines(&run), lines, "{}", text(&run));
    assert!(plan.stdout.is_empty(), "{}", text(&plan));
    let journal = bench.journal();
    assert!(journal.no_commands(), "sent:\n{}", journal.text);
    assert!(no_run_recorded(&bench.db()), "a refused run was recorded");

    // With the profile in the environment, all three let the row through.
    let with_profile = |args: &[&str]| {
        bench
            .cmd(args)
            .env("HOME", home.path())
            .env("FLEETRESET_CRED_OFFICE_USERNAME", "owner@example.com")
            .env("FLEETRESET_CRED_OFFICE_PASSWORD", "not-used-by-iot")
            .output()
            .unwrap()
    };
    let check = with_profile(&["check", "fleet.csv", "--action", "power-cycle"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let plan = with_profile(&["plan", "fleet.csv", "--action", "power-cycle"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        !text(&check).contains("not-used-by-iot") && !text(&plan).contains("not-used-by-iot"),
        "a password was printed"
    );
}
