//! Issue 10's whole path on one simulated building: a camera powered through a strip outlet is
//! power-cycled at that outlet; a factory reset of a mixed fleet leaves every device no command
//! can reach as a work order, which `work-orders` lists with its model's steps, and which a
//! technician's `confirm` closes, one by one and from the returned checklist. Each test reads
//! the simulator's journal (what every device got) beside the audit database.
//!
//! Loopback: 127.45.T.N, one third octet per test.

mod common;

use fleetreset::model::EventKind;
use std::path::{Path, PathBuf};

use common::bench::Bench;
use common::text;
use common::truth::{assert_truthful, latest_run, outcome_of, switchings};
use fleetreset::model::{Method, Outcome};

const USER: &str = "owner@example.com";
const PASSWORD: &str = "Upstream-cam-PASSWORD-4711";

fn creds(dir: &Path, name: &str) -> PathBuf {
    common::office_credentials(dir.join(name), USER, PASSWORD)
}

#[test]
fn a_camera_behind_a_strip_outlet_is_power_cycled_at_that_outlet_and_comes_back() {
    let keys = tempfile::tempdir().unwrap();
    let csv = "id,host,model,mac,power_via,credentials\n\
               strip,127.45.1.1,HS300(US),50:C7:BF:45:01:01,,\n\
               lamp,127.45.1.2,KL130(US),50:C7:BF:45:01:02,strip#1,\n\
               cam,127.45.1.3:8443,C210,40:AE:30:45:01:03,strip#3,office\n";
    let sim_creds = creds(keys.path(), "sim.toml");
    let bench = Bench::start_with(csv, csv, &["--credentials", sim_creds.to_str().unwrap()]);
    // Only the camera: the lamp on outlet 1 is in the inventory, not in the run.
    let only_cam = "id,host,model,mac,power_via,credentials\n\
                    strip,127.45.1.1,HS300(US),50:C7:BF:45:01:01,,\n\
                    cam,127.45.1.3:8443,C210,40:AE:30:45:01:03,strip#3,office\n";
    std::fs::write(bench.dir.path().join("cam.csv"), only_cam).unwrap();
    let run_creds = creds(keys.path(), "run.toml");
    let mut args = common::bench::run_args_on(
        "cam.csv",
        "power-cycle",
        &["--method", "upstream", "--credentials"],
    );
    args.push(run_creds.to_str().unwrap());
    let out = bench.output(&args);
    let t = text(&out);
    let journal = bench.journal();
    let lines = journal.lines();
    let seen = switchings(&lines, "strip");
    // The strip itself is in the run too, with nothing behind it but the camera: with
    // `--method upstream` it has no upstream of its own, so only the camera's outlet moves.
    let cam_outlet: Vec<_> = seen.iter().filter(|(o, _, _)| o == "3").collect();
    assert_eq!(cam_outlet.len(), 2, "one off, one on: {seen:?}\n{t}");
    assert!(!cam_outlet[0].1, "{seen:?}");
    assert!(cam_outlet[1].1, "{seen:?}");
    assert!(
        seen.iter().all(|(o, _, _)| o == "3"),
        "another outlet moved: {seen:?}"
    );
    let held_ms = (cam_outlet[1].2 - cam_outlet[0].2).num_milliseconds();
    let off = fleetreset::catalog::lookup("C210").off_time;
    let scaled_ms = (off.as_secs_f64() * 0.01 * 1000.0) as i64;
    assert!(
        held_ms >= scaled_ms,
        "held off {held_ms} ms, under the catalog's {} s at time scale 0.01",
        off.as_secs()
    );
    // The camera went dark and booted; it was sent nothing. The lamp on outlet 1 never lost
    // power.
    let cam: Vec<_> = lines
        .iter()
        .filter(|l| l.id == "cam" && l.what.starts_with("power_"))
        .map(|l| l.what.as_str())
        .collect();
    assert_eq!(cam, ["power_lost", "power_back"], "{}", journal.text);
    assert_eq!(journal.commands("cam"), 0, "{}", journal.text);
    assert!(
        !journal.text.contains("lamp power_lost"),
        "{}",
        journal.text
    );

    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "camera behind an outlet");
    let (outcome, reason, detail) = outcome_of(&record, "cam");
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded),
        "{reason:?} {detail}\n{t}"
    );
    let job = record.jobs.iter().find(|j| j.device_id == "cam").unwrap();
    assert_eq!(job.method, Method::Upstream);
    for kind in [
        EventKind::OutletOff,
        EventKind::OutletOn,
        EventKind::WentAway,
        EventKind::CameBack,
    ] {
        assert!(
            record
                .events
                .iter()
                .any(|e| e.device_id.as_deref() == Some("cam") && e.kind == kind),
            "no {kind} event for the camera"
        );
    }
    let db = std::fs::read(bench.db()).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
}

#[test]
fn a_factory_reset_of_a_mixed_building_leaves_work_orders_that_technicians_close() {
    let keys = tempfile::tempdir().unwrap();
    let csv = "id,host,model,mac,site,unit,credentials,sim_fault\n\
               plug,127.45.2.1,HS103(US),50:C7:BF:45:02:01,Elm Court,101,,\n\
               gone,127.45.2.2,HS103(US),50:C7:BF:45:02:02,Elm Court,102,,offline\n\
               stuck,127.45.2.3,HS103(US),50:C7:BF:45:02:03,Elm Court,102,,button_only\n\
               bell,127.45.2.4:10443,KD110,74:FE:CE:45:02:04,Oak House,201,office,\n\
               cam,127.45.2.5:8443,C210,40:AE:30:45:02:05,Oak House,202,office,\n";
    // The doorbell's factory reset is manual from the plan: nothing may reach it, so nothing
    // simulates it.
    let served: String = csv
        .lines()
        .filter(|l| !l.starts_with("bell,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let sim_creds = creds(keys.path(), "sim.toml");
    let bench = Bench::start_with(
        &served,
        csv,
        &["--credentials", sim_creds.to_str().unwrap()],
    );
    let run_creds = creds(keys.path(), "run.toml");
    let mut args = common::bench::run_args("factory-reset", &["--credentials"]);
    args.push(run_creds.to_str().unwrap());
    let out = bench.output(&args);
    let t = text(&out);
    let journal = bench.journal();
    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "mixed factory reset");
    assert_eq!(journal.resets.get("plug"), Some(&1), "{}", journal.text);
    for id in ["gone", "stuck", "bell", "cam"] {
        assert_eq!(journal.disruptions(id), 0, "{id}: {}", journal.text);
        let (outcome, reason, detail) = outcome_of(&record, id);
        assert_eq!(
            outcome,
            Some(Outcome::ManualRequired),
            "{id}: {reason:?} {detail}\n{t}"
        );
    }
    assert_eq!(
        outcome_of(&record, "plug").0,
        Some(Outcome::Succeeded),
        "{t}"
    );

    // The checklist: grouped by site, then unit, each device with its model's steps.
    let out = bench.output(&["work-orders", "latest"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let md_path = t
        .lines()
        .find(|l| l.ends_with("work-orders.md"))
        .unwrap_or_else(|| panic!("no Markdown path: {t}"));
    let md = std::fs::read_to_string(bench.dir.path().join(md_path)).unwrap();
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the work orders:\n{md}"))
    };
    assert!(at("Elm Court") < at("Oak House"), "{md}");
    assert!(
        at("102") < at("gone") && at("gone") < at("Oak House"),
        "{md}"
    );
    assert!(
        at("Oak House") < at("bell") && at("bell") < at("cam"),
        "{md}"
    );
    // The plug that reset remotely needs nobody.
    assert!(!md.contains("#### plug "), "{md}");
    let bell = &md[at("bell")..at("cam")];
    assert!(bell.to_lowercase().contains("bracket"), "{bell}");
    let stuck = &md[at("stuck")..at("Oak House")];
    assert!(stuck.contains("10 s"), "{stuck}");

    // One by one: the offline plug doesn't answer, so the technician's word stands.
    let out = bench.output(&["confirm", "latest", "gone", "--by", "Ana Costa"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // The camera still refuses the login a reset device would take, and the button-only plug
    // still answers bound to its account: neither was reset, whatever the checklist says.
    for id in ["cam", "stuck"] {
        let out = bench.output(&["confirm", "latest", id, "--by", "Ana Costa"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{id} was confirmed: {t}");
        assert!(t.contains("NOT confirmed"), "{t}");
    }
    let record = latest_run(&bench.db());
    assert_eq!(
        outcome_of(&record, "gone").0,
        Some(Outcome::ManualConfirmed)
    );
    assert_eq!(outcome_of(&record, "cam").0, Some(Outcome::ManualRequired));
    assert_eq!(
        outcome_of(&record, "stuck").0,
        Some(Outcome::ManualRequired)
    );
    let confirmed = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::ManualConfirmed && e.device_id.as_deref() == Some("gone"))
        .expect("a manual_confirmed event");
    assert!(
        confirmed.detail.to_string().contains("Ana Costa"),
        "{confirmed:?}"
    );
    assert_eq!(
        record
            .events
            .iter()
            .filter(|e| e.kind == EventKind::ConfirmationRefused)
            .count(),
        2
    );

    // The returned checklist closes the rest of the building that it signs.
    let csv_path = bench.dir.path().join(md_path.replace(".md", ".csv"));
    let sheet = std::fs::read_to_string(&csv_path).unwrap();
    let mut rdr = csv::Reader::from_reader(sheet.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for row in rdr.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
        if row[col("id")] == "bell" {
            row[col("confirmed_by")] = "Bo Lind".into();
            row[col("note")] = "off the bracket, pin held 8 s".into();
        }
        w.write_record(&row).unwrap();
    }
    std::fs::write(
        bench.dir.path().join("returned.csv"),
        w.into_inner().unwrap(),
    )
    .unwrap();
    let out = bench.output(&["confirm", "latest", "--from", "returned.csv"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let record = latest_run(&bench.db());
    assert_eq!(
        outcome_of(&record, "bell").0,
        Some(Outcome::ManualConfirmed)
    );
    assert_eq!(
        outcome_of(&record, "stuck").0,
        Some(Outcome::ManualRequired)
    );
    assert!(
        record
            .events
            .iter()
            .any(|e| e.kind == EventKind::ManualConfirmed
                && e.device_id.as_deref() == Some("bell")
                && e.detail.to_string().contains("Bo Lind")),
        "no confirmation by Bo Lind"
    );
    // Confirmations sent nothing to any device.
    let after = bench.journal();
    assert_eq!(after.resets, journal.resets, "{}", after.text);
    assert!(after.reboots.is_empty(), "{}", after.text);
}
