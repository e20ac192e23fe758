//! `fleetreset work-orders RUN`, the real binary in a temp dir, over runs whose jobs ended
//! `manual_required` (built through the store's API). Addresses: 127.44.1.0/24 (nothing is
//! sent to them: `work-orders` reads only the audit and the inventory).

mod common;
mod manual_run;

use std::path::Path;

use common::{fleetreset_in, text};
use fleetreset::model::{Action, Outcome};
use manual_run::{Dev, manual_run};

fn host(n: u8) -> String {
    format!("127.44.1.{n}")
}

fn fleet() -> Vec<Dev> {
    vec![
        Dev {
            notes: Some("left of the front door, 2 m up"),
            mac: Some("50:C7:BF:44:01:01"),
            ..Dev::manual("oak-204-bell", host(1), "KD110(US)").at("Oak House", "204")
        },
        Dev {
            outcome: Outcome::Succeeded,
            ..Dev::manual("oak-101-plug", host(2), "HS103").at("Oak House", "101")
        },
        Dev::manual("oak-204-plug", host(3), "HS103(US)").at("Oak House", "204"),
        Dev::manual("birch-1-odd", host(4), "XYZ9").at("Birch Court", "1"),
        Dev::manual("oak-101-cam", host(5), "KC100").at("Oak House", "101"),
    ]
}

fn work_orders(dir: &Path, run: &str) -> std::process::Output {
    fleetreset_in(dir)
        .args(["work-orders", run, "--db", "audit.db"])
        .output()
        .unwrap()
}

#[test]
fn work_orders_list_the_manual_devices_by_site_and_unit_with_each_model_s_steps() {
    let tmp = tempfile::tempdir().unwrap();
    manual_run(tmp.path(), "run-wo-1", Action::FactoryReset, &fleet());
    let out = work_orders(tmp.path(), "run-wo");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        stdout,
        "reports/run-wo-1/work-orders.md\nreports/run-wo-1/work-orders.html\nreports/run-wo-1/work-orders.csv\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: birch-1-odd: model \"XYZ9\" is not in the catalog"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "4 device(s) for a technician. When the checklist comes back with confirmed_by filled in: \
             fleetreset confirm run-wo-1 --from reports/run-wo-1/work-orders.csv --db audit.db"
        ),
        "{stderr}"
    );
    let dir = tmp.path().join("reports/run-wo-1");
    let md = std::fs::read_to_string(dir.join("work-orders.md")).unwrap();
    let _ = std::fs::copy(dir.join("work-orders.md"), "/tmp/wo/wo.md");
    let _ = std::fs::copy(dir.join("work-orders.html"), "/tmp/wo/wo.html");
    let _ = std::fs::copy(dir.join("work-orders.csv"), "/tmp/wo/wo.csv");

    // Sites, then units, by name; the device that succeeded is not there.
    let order: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("## ") || l.starts_with("### ") || l.starts_with("#### "))
        .collect();
    assert_eq!(
        order,
        [
            "## Site: Birch Court",
            "### Unit: 1",
            "#### birch-1-odd — XYZ9",
            "## Site: Oak House",
            "### Unit: 101",
            "#### oak-101-cam — KC100",
            "### Unit: 204",
            "#### oak-204-bell — KD110(US)",
            "#### oak-204-plug — HS103(US)",
        ],
        "{md}"
    );
    assert!(!md.contains("oak-101-plug"), "{md}");
    let section = |id: &str| {
        let start = md.find(&format!("#### {id}")).unwrap();
        let rest = &md[start..];
        let end = rest[5..].find("\n#").map_or(rest.len(), |e| e + 5);
        rest[..end].to_string()
    };
    let bell = section("oak-204-bell");
    assert!(
        bell.contains("1. [ ] Take the doorbell off its mounting bracket."),
        "{bell}"
    );
    assert!(bell.contains("until the LED blinks red or amber"), "{bell}");
    assert!(
        bell.contains("- Notes: left of the front door, 2 m up"),
        "{bell}"
    );
    assert!(
        bell.contains("- Host: 127.44.1.1 · MAC: 50:C7:BF:44:01:01"),
        "{bell}"
    );
    assert!(
        bell.contains("- Why a person: offline: a technician must reset it with its button"),
        "{bell}"
    );
    assert!(
        bell.contains("- [ ] It no longer appears in the account in the app."),
        "{bell}"
    );
    assert!(bell.contains("Done by ______"), "{bell}");
    let plug = section("oak-204-plug");
    assert!(
        plug.contains("Press and hold the button on the device for 10 s"),
        "{plug}"
    );
    assert!(
        plug.contains("Alternative: while the device is still online, the app can do it instead"),
        "{plug}"
    );
    let cam = section("oak-101-cam");
    assert!(
        cam.contains("recessed reset button for 5–10 s until the light flashes rapidly"),
        "{cam}"
    );
    let odd = section("birch-1-odd");
    assert!(odd.contains("**Warning**"), "{odd}");

    let html = std::fs::read_to_string(dir.join("work-orders.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("Take the doorbell off its mounting bracket."));
    assert!(!html.contains("<script"), "{html}");
    let bell_at = html.find("oak-204-bell").unwrap();
    assert!(html.find("Birch Court").unwrap() < bell_at);

    let csv = std::fs::read_to_string(dir.join("work-orders.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let id = header.iter().position(|h| h == "id").unwrap();
    let by = header.iter().position(|h| h == "confirmed_by").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[id]).collect();
    assert_eq!(
        ids,
        ["birch-1-odd", "oak-101-cam", "oak-204-bell", "oak-204-plug"]
    );
    assert!(rows.iter().all(|r| r[by].is_empty()));
}

#[test]
fn a_power_cycle_s_work_orders_use_the_soft_procedures() {
    let tmp = tempfile::tempdir().unwrap();
    manual_run(tmp.path(), "run-wo-2", Action::PowerCycle, &fleet());
    let out = fleetreset_in(tmp.path())
        .args([
            "work-orders",
            "latest",
            "--db",
            "audit.db",
            "--out",
            "orders",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let md = std::fs::read_to_string(tmp.path().join("orders/work-orders.md")).unwrap();
    assert!(
        md.contains("Switch off the doorbell's circuit breaker"),
        "{md}"
    );
    assert!(!md.contains("bracket"), "{md}");
    assert!(
        md.contains("Press and hold the button on the device for 5 s"),
        "{md}"
    );
    assert!(md.contains("Unplug the power adapter"), "{md}");
    assert!(!md.contains("Alternative:"), "{md}");
}

#[test]
fn a_run_without_manual_devices_says_so_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let devs = vec![Dev {
        outcome: Outcome::Succeeded,
        ..Dev::manual("plug", host(9), "HS103")
    }];
    manual_run(tmp.path(), "run-wo-3", Action::FactoryReset, &devs);
    let out = work_orders(tmp.path(), "latest");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("run run-wo-3 has no device waiting for a technician"),
        "{}",
        text(&out)
    );
    assert!(!tmp.path().join("reports").exists());
}

#[test]
fn an_unknown_run_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    manual_run(tmp.path(), "run-wo-4", Action::FactoryReset, &fleet());
    let out = work_orders(tmp.path(), "nope");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no run \"nope\" in the database"),
        "{}",
        text(&out)
    );
}
