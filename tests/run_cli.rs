//! `fleetreset plan`, `run` and `demo` as real binaries, against `fleetreset simulate`.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Simulate, ip, text};
use fleetreset::model::{EventKind, Method, Outcome, Reason};
use fleetreset::store::Db;

const FILE: u8 = 23;

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    common::fleetreset()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `fleetreset run` in a fresh directory with the inventory `csv`, at the simulator's
/// time scale, and returns the output and the directory.
fn run(csv: &str, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), csv).unwrap();
    let mut args = vec!["run", "fleet.csv"];
    args.extend_from_slice(common::REHEARSAL);
    args.extend_from_slice(extra);
    (fleetreset(dir.path(), &args), dir)
}

fn outcome_of(dir: &Path, id: &str) -> (Option<Outcome>, Option<Reason>, String) {
    let db = Db::open(&dir.join("fleetreset.db")).unwrap();
    let run = db.resolve_run_id("latest").unwrap();
    let rec = db.load_run(&run).unwrap();
    let job = rec.jobs.iter().find(|j| j.device_id == id).unwrap();
    (
        job.outcome,
        job.reason,
        job.detail.clone().unwrap_or_default(),
    )
}

#[test]
fn plan_lists_steps_and_warnings_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.csv"),
        "id,host,model,mac\na,10.1.2.3,HS110(EU),50:C7:BF:00:00:01\nb,10.1.2.4,ZZ9000,\n",
    )
    .unwrap();
    let out = fleetreset(
        dir.path(),
        &["plan", "fleet.csv", "--action", "power-cycle"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // A row without site or unit says nothing of them, and durations say which clock.
    assert!(
        t.contains("a (HS110(EU)) at 10.1.2.3: power-cycle by remote method, about "),
        "{t}"
    );
    assert!(t.contains(" s) of device time\n"), "{t}");
    assert!(t.contains("send reboot (delay 1 s)"), "{t}");
    assert!(t.contains("warning: unknown model \"ZZ9000\""), "{t}");
    assert!(t.contains("warning: no MAC"), "{t}");
    assert!(
        t.contains("2 device(s) planned for power-cycle; 1 with warnings; nothing was sent"),
        "{t}"
    );
    assert!(
        !dir.path().join("fleetreset.db").exists(),
        "plan must not create a database"
    );

    let out = fleetreset(
        dir.path(),
        &[
            "plan",
            "fleet.csv",
            "--action",
            "factory-reset",
            "--json",
            // Row b has no MAC: without the flag, plan refuses it as run would.
            "--allow-unverified-identity",
        ],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan[0]["id"], "a");
    assert_eq!(plan[0]["method"], "remote");
    assert_eq!(plan[0]["family"], "plug");
    assert_eq!(plan[1]["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn a_power_cycle_reboots_each_device_and_reports_every_fault_with_its_reason() {
    let (a, b, c, d, e) = (
        ip(FILE, 1, 1),
        ip(FILE, 1, 2),
        ip(FILE, 1, 3),
        ip(FILE, 1, 4),
        ip(FILE, 1, 5),
    );
    let csv = format!(
        "id,host,model,mac,site,sim_fault\n\
         plug,{a},HS110(EU),50:C7:BF:01:00:01,HQ,\n\
         strip,{b},HS300(US),,HQ,\n\
         stuck,{c},HS103(US),,HQ,reboot_never_returns\n\
         gone,{d},HS100(UK),,Annex,offline\n\
         moved,{e},KP115(US),54:AF:97:01:00:05,Annex,mac=54:AF:97:99:99:99\n"
    );
    let _sim = Simulate::start(&csv);
    let (out, dir) = run(&csv, &["--action", "power-cycle", "--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["jobs"], 5);
    assert_eq!(summary["outcomes"]["succeeded"], 2, "{t}");
    assert_eq!(summary["outcomes"]["failed"], 2, "{t}");
    // Nothing answers at the offline device's address: a work order, not a bare failure.
    assert_eq!(summary["outcomes"]["manual_required"], 1, "{t}");

    let (o, r, detail) = outcome_of(dir.path(), "plug");
    assert_eq!((o, r), (Some(Outcome::Succeeded), None), "{detail}");
    assert!(detail.contains("alias and relay state kept"), "{detail}");
    assert!(detail.contains("on-time restarted"), "{detail}");
    assert_eq!(outcome_of(dir.path(), "strip").0, Some(Outcome::Succeeded));
    let (o, r, detail) = outcome_of(dir.path(), "stuck");
    assert_eq!(
        (o, r),
        (Some(Outcome::Failed), Some(Reason::Timeout)),
        "{detail}"
    );
    assert!(detail.contains("did not come back"), "{detail}");
    assert_eq!(
        outcome_of(dir.path(), "gone"),
        (
            Some(Outcome::ManualRequired),
            Some(Reason::Unreachable),
            outcome_of(dir.path(), "gone").2
        )
    );
    let (_, r, detail) = outcome_of(dir.path(), "moved");
    assert_eq!(r, Some(Reason::IdentityMismatch));
    assert!(detail.contains("nothing was sent"), "{detail}");

    let report = Path::new(summary["reports"]["dir"].as_str().unwrap());
    let report = dir.path().join(report);
    for f in ["devices.csv", "run.json", "summary.md"] {
        assert!(report.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn the_moved_device_is_never_sent_a_command() {
    let a = ip(FILE, 2, 1);
    let csv = format!(
        "id,host,model,mac,sim_fault\nmoved,{a},HS105(US),50:C7:BF:02:00:01,mac=50:C7:BF:99:99:99\n"
    );
    let _sim = Simulate::start(&csv);
    let (out, dir) = run(&csv, &["--action", "factory-reset", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let db = Db::open(&dir.path().join("fleetreset.db")).unwrap();
    let rec = db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap();
    let kinds: Vec<_> = rec.events.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&EventKind::IdentityMismatch.into()),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&EventKind::Intent.into()),
        "an intent was recorded: {kinds:?}"
    );
    // The simulated device is still there and still bound: it was not reset.
    let mut client =
        fleetreset::device::IotClient::new(std::net::SocketAddr::new(a, 9999), Default::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(client.cloud_info()).unwrap().binded, 1);
}

#[test]
fn a_factory_reset_without_yes_and_without_a_terminal_is_refused_before_anything_happens() {
    let (out, dir) = run(
        "id,host,mac\na,127.23.3.1,50:C7:BF:03:00:01\n",
        &["--action", "factory-reset"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs confirmation") && err.contains("--yes"),
        "{err}"
    );
    assert!(!dir.path().join("fleetreset.db").exists());
}

#[test]
fn a_factory_reset_of_healthy_devices_succeeds_with_exit_zero() {
    let (a, b) = (ip(FILE, 4, 1), ip(FILE, 4, 2));
    let csv = format!(
        "id,host,model,mac\np1,{a},EP25(US),AC:15:A2:04:00:01\np2,{b},KP303(US),B0:A7:B9:04:00:02\n"
    );
    let _sim = Simulate::start(&csv);
    let (out, dir) = run(&csv, &["--action", "factory-reset", "--yes"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("2 succeeded"), "{t}");
    let (_, _, detail) = outcome_of(dir.path(), "p1");
    assert!(
        detail.contains("acknowledged; left the network"),
        "{detail}"
    );
}

#[test]
fn bad_arguments_and_bad_inventories_exit_two_naming_the_problem() {
    let (out, _) = run(
        "id,host\na,127.23.5.1\n",
        &["--action", "power-cycle", "--rate", "0"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
    let (out, _) = run(
        "id,host\na,127.23.5.1\na,127.23.5.2\n",
        &["--action", "power-cycle"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fleet.csv:3: duplicate id \"a\""));
}

#[test]
fn the_demo_runs_end_to_end_and_every_fault_gets_its_expected_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetreset(dir.path(), &["demo"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Every device ended as the demo expects"), "{t}");
    assert!(dir.path().join("reports/demo.db").is_file());
    let db = Db::open(&dir.path().join("reports/demo.db")).unwrap();
    let run = db.resolve_run_id("latest").unwrap();
    for f in ["devices.csv", "run.json", "summary.md"] {
        assert!(
            dir.path().join("reports").join(&run).join(f).is_file(),
            "{f}"
        );
    }
    let rec = db.load_run(&run).unwrap();
    assert_eq!(rec.jobs.len(), 28);
    assert!(rec.jobs.iter().all(|j| j.outcome.is_some()));
    // A power cycle shows all three methods: remote commands (cameras among them), the
    // doorbell cycled at its transformer's plug, and the offline plug left as a work order.
    let method = |id: &str| rec.jobs.iter().find(|j| j.device_id == id).unwrap().method;
    assert_eq!(method("elm-105-cam"), Method::Remote);
    assert_eq!(method("pine-305-doorbell"), Method::Upstream);
    assert!(t.contains("upstream: pine-305-doorbell"), "{t}");
    assert!(t.contains("left for a technician: elm-104-plug"), "{t}");
    let orders = dir.path().join("reports").join(&run).join("work-orders.md");
    assert!(t.contains(&format!("reports/{run}/work-orders.md")), "{t}");
    assert!(
        std::fs::read_to_string(orders)
            .unwrap()
            .contains("elm-104-plug")
    );

    // The wipe: cameras and the doorbell have no local factory reset; their work orders say
    // how, the doorbell's off its bracket.
    let out = fleetreset(dir.path(), &["demo", "--action", "factory-reset"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Every device ended as the demo expects"), "{t}");
    assert!(
        t.contains("manual: elm-105-cam, oak-205-cam, pine-305-doorbell"),
        "{t}"
    );
    let run = db.resolve_run_id("latest").unwrap();
    let orders =
        std::fs::read_to_string(dir.path().join("reports").join(&run).join("work-orders.md"))
            .unwrap();
    let bell = &orders[orders.find("pine-305-doorbell").unwrap()..];
    assert!(bell.contains("bracket"), "{bell}");
}
