//! `fleetreset run --action power-cycle` end to end on a fleet of one Tapo camera (SslAes) and
//! one Kasa camera (LINKIE2), against `fleetreset simulate`: each gets exactly one reboot (the
//! simulator's journal), goes away and comes back (the run's events), and ends `succeeded`.
//! A factory reset of the same fleet sends nothing and leaves work orders (`manual_required`).
//!
//! Loopback plan: 127.42.200+ (the camera tests' range).

mod common;

use fleetreset::model::EventKind;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use common::bench::{Bench, run_args};
use common::text;
use common::truth::{assert_truthful, latest_run, outcome_of};
use fleetreset::model::{Outcome, Reason};

const USER: &str = "owner@example.com";
/// Distinctive, so a leak anywhere is found by a plain byte search.
const PASSWORD: &str = "Cam-unique-PASSWORD-0815";

fn ip(test: u8, n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 42, 200 + test, n))
}

fn creds(dir: &std::path::Path, name: &str) -> PathBuf {
    common::office_credentials(dir.join(name), USER, PASSWORD)
}

/// A bench serving a Tapo C210 on :8443 and a Kasa EC60 on :10443, both bound to `office`.
fn cameras(test: u8) -> (Bench, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let sim_creds = creds(keys.path(), "sim.toml");
    let csv = format!(
        "id,host,model,mac,credentials\n\
         tapo-cam,{}:8443,C210,40:AE:30:{test:02X}:00:01,office\n\
         kasa-cam,{}:10443,EC60,74:FE:CE:{test:02X}:00:02,office\n",
        ip(test, 1),
        ip(test, 2)
    );
    let bench = Bench::start_with(&csv, &csv, &["--credentials", sim_creds.to_str().unwrap()]);
    (bench, keys)
}

fn events(rec: &fleetreset::store::RunRecord, id: &str, kind: EventKind) -> usize {
    rec.events
        .iter()
        .filter(|e| e.kind == kind && e.device_id.as_deref() == Some(id))
        .count()
}

#[test]
fn a_power_cycle_reboots_a_tapo_and_a_kasa_camera_once_each_and_sees_them_come_back() {
    let (bench, keys) = cameras(1);
    let run_creds = creds(keys.path(), "run.toml");
    let out = bench.output(&run_args(
        "power-cycle",
        &["--credentials", run_creds.to_str().unwrap()],
    ));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "camera power cycle");
    for id in ["tapo-cam", "kasa-cam"] {
        let (outcome, reason, detail) = outcome_of(&rec, id);
        assert_eq!(
            outcome,
            Some(Outcome::Succeeded),
            "{id}: {reason:?} {detail}\n{t}"
        );
        assert_eq!(journal.reboots.get(id), Some(&1), "{id}\n{}", journal.text);
        assert_eq!(events(&rec, id, EventKind::WentAway), 1, "{id}");
        assert_eq!(events(&rec, id, EventKind::CameBack), 1, "{id}");
    }
    assert!(!journal.text.contains("login_failed"), "{}", journal.text);
    // A Tapo camera counts failed logins: its login was recorded before it was tried, so a
    // crash mid-login is never followed by a second attempt on resume.
    assert_eq!(events(&rec, "tapo-cam", EventKind::LoginAttempt), 1);
    // Which LINKIE2 credential encoding matched is in the pre-state snapshot.
    let kasa_pre = rec
        .snapshots
        .iter()
        .find(|s| s.device_id == "kasa-cam")
        .expect("a snapshot of the Kasa camera");
    assert!(
        kasa_pre
            .data
            .to_string()
            .contains(r#""fleetreset_auth_encoding":"email-md5""#),
        "{}",
        kasa_pre.data
    );
    assert_eq!(
        rec.events
            .iter()
            .filter(|e| e.kind == EventKind::Link)
            .count(),
        2
    );
    for e in &rec.events {
        if e.kind == EventKind::Link {
            let want = match e.device_id.as_deref() {
                Some("tapo-cam") => "sslaes",
                _ => "linkie2",
            };
            assert_eq!(e.detail["protocol"], want, "{e:?}");
        }
    }
    // The password reaches neither the database nor the output.
    let db = std::fs::read(bench.db()).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
    assert!(!t.contains(PASSWORD), "{t}");
}

#[test]
fn a_factory_reset_of_cameras_sends_nothing_and_leaves_work_orders() {
    let (bench, keys) = cameras(2);
    let run_creds = creds(keys.path(), "run.toml");
    let out = bench.output(&run_args(
        "factory-reset",
        &["--credentials", run_creds.to_str().unwrap()],
    ));
    let t = text(&out);
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "camera factory reset");
    assert!(journal.no_commands(), "{}", journal.text);
    for id in ["tapo-cam", "kasa-cam"] {
        let (outcome, reason, detail) = outcome_of(&rec, id);
        // No local factory-reset command exists for any camera: a work order from the plan.
        assert_eq!(
            outcome,
            Some(Outcome::ManualRequired),
            "{id}: {detail}\n{t}"
        );
        assert_eq!(reason, Some(Reason::Unsupported), "{id}: {detail}\n{t}");
        assert!(
            detail.contains("no local factory-reset command"),
            "{detail}"
        );
    }
}

#[test]
fn camera_faults_end_their_jobs_truthfully_a_doorbell_that_is_slow_still_succeeds() {
    let keys = tempfile::tempdir().unwrap();
    let sim_creds = creds(keys.path(), "sim.toml");
    let run_creds = creds(keys.path(), "run.toml");
    let csv = format!(
        "id,host,model,mac,credentials,sim_fault\n\
         gone-cam,{}:8443,C210,40:AE:30:03:00:01,office,reboot_never_returns\n\
         moved-cam,{}:10443,EC60,74:FE:CE:03:00:02,office,mac=74:FE:CE:99:99:99\n\
         bell,{}:8443,D130,40:AE:30:03:00:03,office,slow=200\n",
        ip(3, 1),
        ip(3, 2),
        ip(3, 3)
    );
    let bench = Bench::start_with(&csv, &csv, &["--credentials", sim_creds.to_str().unwrap()]);
    let out = bench.output(&run_args(
        "power-cycle",
        &["--credentials", run_creds.to_str().unwrap()],
    ));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let rec = latest_run(&bench.db());
    let journal = bench.journal();
    assert_truthful(&rec, &journal, true, "camera faults");

    let (outcome, reason, detail) = outcome_of(&rec, "gone-cam");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::Timeout)),
        "{detail}\n{t}"
    );
    assert_eq!(
        journal.reboots.get("gone-cam"),
        Some(&1),
        "{}",
        journal.text
    );

    let (outcome, reason, detail) = outcome_of(&rec, "moved-cam");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::IdentityMismatch)),
        "{detail}\n{t}"
    );
    assert_eq!(journal.commands("moved-cam"), 0, "{}", journal.text);

    let (outcome, _, detail) = outcome_of(&rec, "bell");
    assert_eq!(outcome, Some(Outcome::Succeeded), "{detail}\n{t}");
    assert_eq!(journal.reboots.get("bell"), Some(&1), "{}", journal.text);
    assert_eq!(events(&rec, "bell", EventKind::CameBack), 1);
}

#[test]
fn plan_names_each_camera_s_protocol_from_the_catalog_and_says_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.csv"),
        "id,host,model,mac\n\
         cam,127.42.250.1,C210,40:AE:30:FA:00:01\n\
         kcam,127.42.250.2,EC60(US),74:FE:CE:FA:00:02\n\
         child,127.42.250.3,D230,40:AE:30:FA:00:03\n",
    )
    .unwrap();
    let plan = |action: &str| {
        let out = common::fleetreset_in(dir.path())
            .args(["plan", "fleet.csv", "--json", "--action", action])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let jobs = plan("power-cycle");
    let get = |id: &str| {
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .unwrap()
            .clone()
    };
    let (cam, kcam, child) = (get("cam"), get("kcam"), get("child"));
    assert_eq!(
        (&cam["protocol"], &cam["protocol_source"]),
        (&"sslaes".into(), &"catalog".into())
    );
    assert_eq!(
        (&kcam["protocol"], &kcam["protocol_source"]),
        (&"linkie2".into(), &"catalog".into())
    );
    let warned = |j: &serde_json::Value, text: &str| {
        j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(text))
    };
    assert!(warned(&cam, "no local factory reset"), "{cam}");
    assert!(
        warned(&child, "hub children are not supported yet"),
        "{child}"
    );
    let resets = plan("factory-reset");
    assert!(
        resets
            .as_array()
            .unwrap()
            .iter()
            .take(2)
            .all(|j| warned(j, "fails unsupported without sending anything")),
        "{resets}"
    );
}
