//! Issue 13 end to end: `fleetreset run` power-cycles and factory-resets simulated devices on
//! TPAP firmware (SPAKE2+ login, AES-128-CCM session), picked by the `protocol` column or by
//! discovery, and a wrong password across a TPAP fleet stops at `--max-auth-failures` with
//! each device's `remainAttempts` in the audit and one failed login per device tried.
//!
//! Loopback plan: 127.66.x.y, one third octet per test.

mod common;

use common::lab::{Lab, PASSWORD, lab, lab_with};
use common::{ip, text};
use fleetreset::model::{EventKind, Outcome, Reason};
use fleetreset::store::RunRecord;

const FILE: u8 = 66;
/// A P110 and a P304M strip on TPAP firmware named by the column, and a P110 on TPAP
/// firmware too whose protocol the run's inventory leaves to discovery (`found_as` is its
/// column), at 127.66.`test`.1..=3.
fn tpap_fleet(test: u8, found_as: &str) -> String {
    format!(
        "plug,{}:8080,P110(UK),48-22-54-{test:02X}-00-01,office,tpap,\n\
         strip,{}:8080,P304M(UK),48-22-54-{test:02X}-00-02,office,smart-tpap,\n\
         found,{}:8080,P110(EU),48-22-54-{test:02X}-00-03,office,{found_as},\n",
        ip(FILE, test, 1),
        ip(FILE, test, 2),
        ip(FILE, test, 3),
    )
}

fn tpap_lab(test: u8) -> Lab {
    lab_with(&tpap_fleet(test, "tpap"), &tpap_fleet(test, "auto"))
}

fn protocol_of(rec: &RunRecord, id: &str) -> (String, String) {
    let e = rec
        .events
        .iter()
        .find(|e| e.kind == EventKind::Link && e.device_id.as_deref() == Some(id))
        .unwrap();
    (
        e.detail["protocol"].as_str().unwrap().to_string(),
        e.detail["chosen_by"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_tpap_fleet_power_cycles_once_each_with_the_protocol_choice_recorded() {
    let lab = tpap_lab(1);
    let out = lab.run(PASSWORD, &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = lab.latest();
    for j in &rec.jobs {
        assert_eq!(
            j.outcome,
            Some(Outcome::Succeeded),
            "{}: {:?}",
            j.device_id,
            j.detail
        );
        assert_eq!(
            lab.journal_count(&j.device_id, "reboot"),
            1,
            "{}",
            j.device_id
        );
        assert_eq!(lab.journal_count(&j.device_id, "login_failed"), 0);
    }
    assert_eq!(
        protocol_of(&rec, "plug"),
        ("smart-tpap".into(), "inventory".into())
    );
    assert_eq!(
        protocol_of(&rec, "strip"),
        ("smart-tpap".into(), "inventory".into())
    );
    assert_eq!(
        protocol_of(&rec, "found"),
        ("smart-tpap".into(), "discovery".into())
    );
    assert!(!t.contains(PASSWORD));
}

#[test]
fn a_tpap_fleet_factory_resets_once_each_and_leaves_the_network() {
    let lab = tpap_lab(2);
    let out = lab.run(PASSWORD, &["--action", "factory-reset", "--yes"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = lab.latest();
    assert_eq!(rec.jobs.len(), 3);
    for j in &rec.jobs {
        let detail = j.detail.clone().unwrap_or_default();
        assert_eq!(
            j.outcome,
            Some(Outcome::Succeeded),
            "{}: {detail}",
            j.device_id
        );
        assert!(
            detail.contains("left the network"),
            "{}: {detail}",
            j.device_id
        );
        assert_eq!(
            lab.journal_count(&j.device_id, "reset"),
            1,
            "{}",
            j.device_id
        );
        assert_eq!(
            lab.journal_count(&j.device_id, "reboot"),
            0,
            "{}",
            j.device_id
        );
    }
}

#[test]
fn a_wrong_password_stops_at_max_auth_failures_with_one_failed_login_each_and_remain_attempts_recorded()
 {
    let rows: String = (1..=5u8)
        .map(|i| {
            format!(
                "p{i},{}:8080,P110(UK),48-22-54-03-00-{i:02X},office,tpap,\n",
                ip(FILE, 3, i)
            )
        })
        .collect();
    let lab = lab(&rows);
    let out = lab.run(
        "not-the-password",
        &[
            "--action",
            "power-cycle",
            "--max-auth-failures",
            "2",
            "--concurrency",
            "1",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(
        t.contains("refused the credentials (--max-auth-failures 2)"),
        "{t}"
    );
    let rec = lab.latest();
    for (n, j) in rec.jobs.iter().enumerate() {
        let detail = j.detail.clone().unwrap_or_default();
        let failed = lab.journal_count(&j.device_id, "login_failed");
        if n < 2 {
            assert_eq!(
                (j.outcome, j.reason),
                (Some(Outcome::Failed), Some(Reason::AuthFailed)),
                "{}: {detail}",
                j.device_id
            );
            // The first failure of a device that allows 15.
            assert!(detail.contains("remainAttempts 14"), "{detail}");
            assert!(detail.contains("never retries"), "{detail}");
            assert_eq!(failed, 1, "{} was tried once", j.device_id);
        } else {
            assert_eq!(
                (j.outcome, j.reason),
                (Some(Outcome::Skipped), Some(Reason::ThresholdReached)),
                "{}",
                j.device_id
            );
            assert_eq!(failed, 0, "{} was never tried", j.device_id);
        }
        assert_eq!(lab.journal_count(&j.device_id, "reboot"), 0);
    }
    assert!(!t.contains("not-the-password"));
}

#[test]
fn a_locked_device_ends_auth_failed_locked_with_its_minutes_and_is_sent_no_login() {
    // lockout=1: one wrong password locks it.
    let rows = format!(
        "locked,{}:8080,P110(UK),48-22-54-04-00-01,office,tpap,lockout=1\n",
        ip(FILE, 4, 1)
    );
    let lab = lab(&rows);
    let out = lab.run("not-the-password", &["--action", "power-cycle"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j = &lab.latest().jobs[0];
    let detail = j.detail.clone().unwrap_or_default();
    assert!(detail.contains("remainAttempts 0"), "{detail}");
    assert_eq!(lab.journal_count("locked", "login_failed"), 1);

    // The right password now: the run holds the login back, since the device had no
    // attempts left at its last refusal; the device sees nothing at all.
    let seen = lab.journal_of("locked");
    let out = lab.run(PASSWORD, &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("--force-login tries them"), "{t}");
    let j = &lab.latest().jobs[0];
    let detail = j.detail.clone().unwrap_or_default();
    assert_eq!(
        (j.outcome, j.reason),
        (Some(Outcome::Failed), Some(Reason::AuthFailed)),
        "{detail}"
    );
    assert!(
        detail.contains("not tried") && detail.contains("allowed 0 more logins"),
        "{detail}"
    );
    assert_eq!(lab.journal_of("locked"), seen, "nothing was sent");

    // --force-login: the device refuses everything, and the run says so.
    let out = lab.run(PASSWORD, &["--action", "power-cycle", "--force-login"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let j = &lab.latest().jobs[0];
    let detail = j.detail.clone().unwrap_or_default();
    assert_eq!(
        (j.outcome, j.reason),
        (Some(Outcome::Failed), Some(Reason::AuthFailed)),
        "{detail}"
    );
    assert!(
        detail.contains("logins blocked: locked: tpap discover"),
        "{detail}"
    );
    assert!(detail.contains("30 more minutes"), "{detail}");
    // Refused at the discover probe: no second login was tried, so no second failure.
    assert_eq!(lab.journal_count("locked", "login_failed"), 1);
    assert!(lab.journal_count("locked", "login_refused") >= 1);
    assert_eq!(lab.journal_count("locked", "reboot"), 0);
}

#[test]
fn a_tapo_camera_on_tpap_firmware_reboots_once_over_tpap_with_tls() {
    // `cam` by the column, `found` by discovery's `encrypt_type: TPAP`.
    let row = |id: &str, n: u8, column: &str| {
        format!(
            "{id},{}:8443,C210(EU),A8-42-A1-05-00-{n:02X},office,{column},\n",
            ip(FILE, 5, n)
        )
    };
    let served = row("cam", 1, "tpap") + &row("found", 2, "tpap");
    let asked = row("cam", 1, "tpap") + &row("found", 2, "auto");
    let lab = lab_with(&served, &asked);
    let out = lab.run(PASSWORD, &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let rec = lab.latest();
    for (id, by) in [("cam", "inventory"), ("found", "discovery")] {
        let j = rec.jobs.iter().find(|j| j.device_id == id).unwrap();
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{id}: {:?}", j.detail);
        assert_eq!(protocol_of(&rec, id), ("camera-tpap".into(), by.into()));
        assert_eq!(lab.journal_count(id, "reboot"), 1, "{id}");
        assert!(lab.journal_count(id, "login") >= 1, "{id}");
        assert_eq!(lab.journal_count(id, "login_failed"), 0, "{id}");
    }

    // A wrong password: one failed login (-40401), never retried.
    let out = lab.run("not-the-password", &["--action", "power-cycle"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let j = &lab.latest().jobs[0];
    let detail = j.detail.clone().unwrap_or_default();
    assert_eq!(j.reason, Some(Reason::AuthFailed), "{detail}");
    assert!(detail.contains("-40401"), "{detail}");
    assert_eq!(lab.journal_count("cam", "login_failed"), 1);
    assert_eq!(lab.journal_count("cam", "reboot"), 1);
    assert!(!t.contains("not-the-password"));
}
