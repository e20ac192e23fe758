//! `fleetreset confirm` and `work-orders` attacked on purpose, the real binary against
//! `fleetreset simulate` where a device is involved: cameras looked at after a technician's
//! factory reset, hostile checklists (all or nothing), two `confirm`s of one device at once, and
//! work orders whose inventory moved or whose directory can't be written. Every test that looks
//! at a device checks the simulator's journal and the database both.
//!
//! Loopback plan: 127.47.20.0–127.47.39.0, one third octet per test (the camera tests of
//! `hostile_cameras` take 127.47.1–19).

mod common;
mod manual_run;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::truth::Journal;
use common::{Simulate, fleetreset_in, text};
use fleetreset::model::{Action, Outcome};
use manual_run::{Dev, load, manual_run, outcome};
use serde_json::Value;

const USER: &str = "owner@example.com";
const PASSWORD: &str = "Hostile-Confirm-PASSWORD-77";

fn confirm(dir: &Path, args: &[&str]) -> std::process::Output {
    fleetreset_in(dir)
        .args(["confirm", "--db", "audit.db", "--operator", "desk-ops"])
        .args(args)
        .output()
        .unwrap()
}

fn events<'a>(record: &'a fleetreset::store::RunRecord, kind: &str) -> Vec<&'a Value> {
    record
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| &e.detail)
        .collect()
}

fn creds_file(dir: &Path) -> PathBuf {
    let path = dir.join("credentials.toml");
    std::fs::write(
        &path,
        format!("[profiles.office]\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A Tapo camera the technician factory reset holds its unbound default password again, so
/// the owner's password is refused: that is the reset having worked, not a camera still bound.
/// One still bound (the owner's password works) is flagged. Neither costs a failed login.
#[test]
fn a_factory_reset_tapo_camera_is_confirmed_and_one_still_bound_is_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let creds = creds_file(tmp.path());
    // The run's inventory: both cameras in the office account.
    let devs = vec![
        Dev {
            credentials: Some("office"),
            mac: Some("40:AE:30:47:20:01"),
            ..Dev::manual("wiped", "127.47.20.1:8443".into(), "C210").at("Oak", "1")
        },
        Dev {
            credentials: Some("office"),
            mac: Some("40:AE:30:47:20:02"),
            ..Dev::manual("bound", "127.47.20.2:8443".into(), "C210").at("Oak", "2")
        },
    ];
    // What is on the network now: the reset one unbound (no account), the other still bound.
    let mut now = devs.clone();
    now[0].credentials = None;
    let journal = tmp.path().join("journal.log");
    let _sim = Simulate::start_with(
        &manual_run::inventory_csv(&now),
        &[
            "--credentials",
            creds.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    let db = manual_run(tmp.path(), "run-h-20", Action::FactoryReset, &devs);
    let with_creds = ["--credentials", creds.to_str().unwrap()];

    let out = confirm(
        tmp.path(),
        &[&["run-h-20", "wiped", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-h-20");
    assert_eq!(outcome(&rec, "wiped"), Some(Outcome::ManualConfirmed));
    let seen = &events(&rec, "manual_confirmed")[0]["seen"];
    assert_eq!(seen["result"], "answered", "{seen}");
    assert_eq!(seen["bound"], false, "{seen}");
    assert!(events(&rec, "confirmation_refused").is_empty());

    let out = confirm(
        tmp.path(),
        &[&["run-h-20", "bound", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = load(&db, "run-h-20");
    assert_eq!(outcome(&rec, "bound"), Some(Outcome::ManualRequired));
    let refused = events(&rec, "confirmation_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["address"], "127.47.20.2:8443");

    // Looks are reads: no command, no failed login, no password in the audit or the output.
    let journal = Journal::read(&journal);
    assert!(journal.no_commands(), "{}", journal.text);
    assert!(!journal.text.contains("login_failed"), "{}", journal.text);
    assert!(!journal.text.contains("login_refused"), "{}", journal.text);
    assert!(!contains(&std::fs::read(&db).unwrap(), PASSWORD));
    assert!(!text(&out).contains(PASSWORD));
}
