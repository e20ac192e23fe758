//! Issue 13, the login choice and the login gate, end to end with the real binary:
//! - discovery announces KLAP, the device refuses KLAP with 403 and its discover probe
//!   announces TPAP: `auto` switches to TPAP (recorded as a second `link` event) and the
//!   device gets one reboot; an inventory that says `klap` is taken at its word;
//! - discovery announces TPAP, the probe prefers KLAP (KP125M 1.4.1): `auto` switches to KLAP;
//! - killed after a switched job's command was acknowledged, `resume` judges it by looking over
//!   the protocol the command went over (TPAP), though discovery still says KLAP;
//! - a device whose last TPAP refusal left 5 or fewer attempts is not tried again (the
//!   simulator's journal shows nothing) until `--force-login`, which the audit records; a
//!   device with attempts to spare is tried; a login since lifts the gate.
//!
//! Loopback plan: 127.64.x.y, one third octet per test.

mod common;

use common::bench::{Bench, kill_when};
use common::lab::{Lab, PASSWORD, lab, lab_with};
use common::truth::count_events;
use common::{ip, text};
use fleetreset::model::{EventKind, Outcome, Reason};
use fleetreset::store::RunRecord;

const FILE: u8 = 64;

/// Every `link` event of `id`: (protocol, chosen_by), in order.
fn links(rec: &RunRecord, id: &str) -> Vec<(String, String)> {
    rec.events
        .iter()
        .filter(|e| e.kind == EventKind::Link && e.device_id.as_deref() == Some(id))
        .map(|e| {
            (
                e.detail["protocol"].as_str().unwrap().to_string(),
                e.detail["chosen_by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(p: &str, by: &str) -> (String, String) {
    (p.to_string(), by.to_string())
}

fn outcome(rec: &RunRecord, id: &str) -> (Option<Outcome>, Option<Reason>, String) {
    let j = rec.jobs.iter().find(|j| j.device_id == id).unwrap();
    (j.outcome, j.reason, j.detail.clone().unwrap_or_default())
}

#[test]
fn auto_follows_a_klap_403_to_tpap_and_an_inventory_klap_is_taken_at_its_word() {
    let row = |id: &str, n: u8, column: &str| {
        format!(
            "{id},{}:8080,P110(UK),48-22-54-40-01-{n:02X},office,{column},announce=klap\n",
            ip(FILE, 1, n)
        )
    };
    let served = row("moved", 1, "tpap") + &row("pinned", 2, "tpap");
    let asked = row("moved", 1, "auto") + &row("pinned", 2, "klap");
    let lab = lab_with(&served, &asked);
    let out = lab.run(PASSWORD, &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let rec = lab.latest();

    let (o, _, detail) = outcome(&rec, "moved");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}");
    assert_eq!(
        links(&rec, "moved"),
        [
            pair("smart-klap", "discovery"),
            pair("smart-tpap", "tpap_probe")
        ]
    );
    let because = rec
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Link && e.device_id.as_deref() == Some("moved"))
        .nth(1)
        .unwrap()
        .detail["because"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(because.contains("HTTP 403"), "{because}");
    assert_eq!(lab.journal_count("moved", "reboot"), 1);
    // Logged in over TPAP (again after the reboot, to verify it), and never refused.
    assert!(lab.journal_count("moved", "login") >= 1);
    assert_eq!(lab.journal_count("moved", "login_failed"), 0);

    // The inventory said klap: no probe, no switch, the 403 as the reason.
    let (o, r, detail) = outcome(&rec, "pinned");
    assert_eq!(
        (o, r),
        (Some(Outcome::Failed), Some(Reason::AuthFailed)),
        "{detail}"
    );
    assert!(detail.contains("HTTP 403"), "{detail}");
    assert_eq!(links(&rec, "pinned"), [pair("smart-klap", "inventory")]);
    assert_eq!(lab.journal_of("pinned"), Vec::<String>::new());
}

#[test]
fn auto_follows_a_probe_that_prefers_klap_back_to_klap() {
    let row = |column: &str| {
        format!(
            "kp125m,{}:8080,P110(UK),48-22-54-40-02-01,office,{column},announce=tpap\n",
            ip(FILE, 2, 1)
        )
    };
    let lab = lab_with(&row("klap"), &row("auto"));
    let out = lab.run(PASSWORD, &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = lab.latest();
    let (o, _, detail) = outcome(&rec, "kp125m");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}");
    assert_eq!(
        links(&rec, "kp125m"),
        [
            pair("smart-tpap", "discovery"),
            pair("smart-klap", "tpap_probe")
        ]
    );
    assert_eq!(
        lab.journal_count("kp125m", "tpap_discover"),
        0,
        "a KLAP device"
    );
    assert_eq!(lab.journal_count("kp125m", "reboot"), 1);
    assert_eq!(lab.journal_count("kp125m", "login_failed"), 0);
}

#[test]
fn killed_after_the_ack_a_switched_job_is_judged_over_tpap_on_resume_and_not_sent_again() {
    let row = |column: &str| {
        format!(
            "moved,{}:8080,P110(UK),48-22-54-40-04-01,office,{column},announce=klap\n",
            ip(FILE, 4, 1)
        )
    };
    let lab = lab_with(&row("tpap"), &row("auto"));
    let db = lab.db();
    let mut run = Bench::spawn(&mut lab.run_command(PASSWORD, &["--action", "power-cycle"]));
    kill_when(&mut run, || count_events(&db, EventKind::Ack) >= 1);
    assert_eq!(lab.journal_count("moved", "reboot"), 1);

    // Discovery still says KLAP; the intent says the command went over TPAP.
    let out = lab.resume_command(PASSWORD).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = lab.latest();
    let (o, _, detail) = outcome(&rec, "moved");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}\n{t}");
    let intent = rec
        .events
        .iter()
        .find(|e| e.kind == EventKind::Intent)
        .unwrap();
    assert_eq!(intent.detail["protocol"], "smart-tpap");
    assert!(
        rec.events.iter().any(|e| e.kind == EventKind::Resolving),
        "judged by resume"
    );
    assert_eq!(lab.journal_count("moved", "reboot"), 1, "never sent again");
    assert_eq!(lab.journal_count("moved", "login_failed"), 0);
}

fn gate_lab() -> Lab {
    // `low` allows 6 failed logins, so one wrong password leaves it 5; `spare` allows 15.
    let rows = format!(
        "low,{}:8080,P110(UK),48-22-54-40-03-01,office,tpap,lockout=6\n\
         spare,{}:8080,P110(UK),48-22-54-40-03-02,office,tpap,\n",
        ip(FILE, 3, 1),
        ip(FILE, 3, 2)
    );
    lab(&rows)
}

#[test]
fn a_device_left_with_few_logins_is_not_tried_until_force_login_and_a_login_lifts_the_gate() {
    let lab = gate_lab();
    let cycle = ["--action", "power-cycle"];
    let out = lab.run("not-the-password", &cycle);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = lab.latest();
    assert!(outcome(&rec, "low").2.contains("remainAttempts 5"));
    assert!(outcome(&rec, "spare").2.contains("remainAttempts 14"));
    assert_eq!(lab.journal_count("low", "login_failed"), 1);

    // The right password: `low` is held back with nothing sent, `spare` is tried. Held back
    // is no refusal: even --max-auth-failures 1 lets `spare` go on.
    let seen = lab.journal_of("low");
    let out = lab.run(
        PASSWORD,
        &[
            "--action",
            "power-cycle",
            "--max-auth-failures",
            "1",
            "--concurrency",
            "1",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("1 device(s) refused a TPAP login earlier with 5 or fewer attempts left"),
        "{t}"
    );
    let rec = lab.latest();
    let (o, r, detail) = outcome(&rec, "low");
    assert_eq!(
        (o, r),
        (Some(Outcome::Failed), Some(Reason::AuthFailed)),
        "{detail}"
    );
    assert!(detail.contains("not tried"), "{detail}");
    assert!(detail.contains("allowed 5 more logins"), "{detail}");
    assert!(detail.contains("--force-login"), "{detail}");
    assert_eq!(lab.journal_of("low"), seen, "nothing was sent to it");
    let (o, _, detail) = outcome(&rec, "spare");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}");
    assert_eq!(lab.journal_count("spare", "reboot"), 1);

    // --force-login: tried, once, and the audit says what it was let past.
    let mut forced = cycle.to_vec();
    forced.push("--force-login");
    let out = lab.run(PASSWORD, &forced);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = lab.latest();
    let (o, _, detail) = outcome(&rec, "low");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}");
    let attempt = rec
        .events
        .iter()
        .find(|e| e.kind == EventKind::LoginAttempt && e.device_id.as_deref() == Some("low"))
        .unwrap();
    assert_eq!(attempt.detail["forced_past"]["remain_attempts"], 5);
    assert!(
        attempt.detail["detail"]
            .as_str()
            .unwrap()
            .starts_with("--force-login: its last TPAP login"),
        "{}",
        attempt.detail
    );
    assert_eq!(lab.journal_count("low", "reboot"), 1);
    assert!(lab.journal_count("low", "login") >= 1);

    // Logged in since: the gate is lifted without the flag.
    let out = lab.run(PASSWORD, &cycle);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(lab.journal_count("low", "reboot"), 2);
    assert_eq!(lab.journal_count("low", "login_failed"), 1);
}
