//! `fleetreset confirm` looks at each device before it records the technician's word: against
//! the simulator on loopback, a factory-reset device still bound to its account is flagged and
//! stays `manual_required`, an unbound one is confirmed with its answer as evidence, and
//! `--no-verify` takes the technician's word. Addresses: 127.44.5.0/24.

mod common;
mod manual_run;

use fleetreset::model::EventKind;
use std::path::{Path, PathBuf};

use common::truth::Journal;
use common::{Simulate, fleetreset_in, text};
use fleetreset::model::{Action, Outcome};
use fleetreset::store::SnapshotPhase;
use manual_run::{Dev, load, manual_run, outcome};
use serde_json::Value;

fn confirm(dir: &Path, args: &[&str]) -> std::process::Output {
    fleetreset_in(dir)
        .args(["confirm", "--db", "audit.db", "--operator", "desk-ops"])
        .args(args)
        .output()
        .unwrap()
}

fn events(record: &fleetreset::store::RunRecord, kind: EventKind) -> Vec<&Value> {
    record
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| &e.detail)
        .collect()
}

const USER: &str = "owner@example.com";
const PASSWORD: &str = "Conf-44-unique-PASSWORD";

fn creds_file(dir: &Path) -> PathBuf {
    common::office_credentials(dir.join("credentials.toml"), USER, PASSWORD)
}

#[test]
fn a_factory_reset_device_that_still_answers_bound_is_flagged_not_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let creds = creds_file(tmp.path());
    // Two KLAP plugs: one still bound to the office account (its reset was never done), one
    // unbound (reset, still on the network); a third nothing answers for.
    let devs = vec![
        Dev {
            credentials: Some("office"),
            protocol: Some("klap"),
            mac: Some("CC:32:E5:44:05:01"),
            ..Dev::manual("bound", "127.44.5.1:8080".into(), "HS100(UK)").at("Oak", "1")
        },
        Dev {
            protocol: Some("klap"),
            mac: Some("CC:32:E5:44:05:02"),
            ..Dev::manual("reset", "127.44.5.2:8080".into(), "HS100(UK)").at("Oak", "2")
        },
        Dev {
            credentials: Some("office"),
            protocol: Some("klap"),
            mac: Some("48:22:54:44:05:03"),
            ..Dev::manual("tapo", "127.44.5.3:8080".into(), "P110(UK)").at("Oak", "3")
        },
    ];
    let journal = tmp.path().join("journal.log");
    let _sim = Simulate::start_with(
        &manual_run::inventory_csv(&devs),
        &[
            "--credentials",
            creds.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    let db = manual_run(tmp.path(), "run-c-6", Action::FactoryReset, &devs);
    let with_creds = ["--credentials", creds.to_str().unwrap()];

    let out = confirm(
        tmp.path(),
        &[&["run-c-6", "bound", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(
            "bound: NOT confirmed, still manual_required: it still answers at 127.44.5.1:8080 bound to its cloud account"
        ),
        "{}",
        text(&out)
    );
    let rec = load(&db, "run-c-6");
    assert_eq!(outcome(&rec, "bound"), Some(Outcome::ManualRequired));
    let refused = events(&rec, EventKind::ConfirmationRefused);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["by"], "Ana");
    assert_eq!(refused[0]["address"], "127.44.5.1:8080");
    let post = rec
        .snapshots
        .iter()
        .find(|s| s.device_id == "bound" && s.phase == SnapshotPhase::Post)
        .expect("the device's answer is the evidence");
    assert_eq!(post.data["summary"]["bound"], true);
    assert_eq!(post.data["summary"]["mac"], "CC:32:E5:44:05:01");

    let out = confirm(
        tmp.path(),
        &[&["run-c-6", "reset", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "reset: manual_confirmed, by Ana: answers at 127.44.5.2:8080 unbound (factory defaults)"
        ),
        "{}",
        text(&out)
    );
    let rec = load(&db, "run-c-6");
    assert_eq!(outcome(&rec, "reset"), Some(Outcome::ManualConfirmed));
    let seen = &events(&rec, EventKind::ManualConfirmed)[0]["seen"];
    assert_eq!(seen["result"], "answered");
    assert_eq!(seen["bound"], false);

    // A Tapo plug whose owner's login still works, over SMART: flagged too.
    let out = confirm(
        tmp.path(),
        &[&["run-c-6", "tapo", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(
            "tapo: NOT confirmed, still manual_required: it still answers at 127.44.5.3:8080 bound"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(
        outcome(&load(&db, "run-c-6"), "tapo"),
        Some(Outcome::ManualRequired)
    );

    // --no-verify takes the technician's word, and the audit says nobody looked.
    let out = confirm(
        tmp.path(),
        &["run-c-6", "bound", "--by", "Ana", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-c-6");
    assert_eq!(outcome(&rec, "bound"), Some(Outcome::ManualConfirmed));
    let last = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(last.last().unwrap()["seen"]["result"], "not_checked");

    // The looks were reads: no device received a command, and no password reached the audit.
    let journal = Journal::read(&journal);
    assert!(journal.no_commands(), "{}", journal.text);
    let bytes = std::fs::read(&db).unwrap();
    assert!(
        !bytes
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password is in the database"
    );
}
