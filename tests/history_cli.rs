//! `fleetreset history DEVICE`: every run that touched one asset, by id or by MAC, oldest
//! first, with certificate ids for sanitized jobs only. The databases are built through the
//! library; no network.

mod common;

use std::path::Path;

use chrono::TimeZone;
use common::{fleetreset_in, text};
use fleetreset::model::{Action, Method, Outcome, Reason};
use fleetreset::store::{Db, NewJob, NewRun, Record, RunStatus, Timestamp, Writer};
use serde_json::{Value, json};

fn t(s: i64) -> Timestamp {
    chrono::Utc.timestamp_opt(1_795_000_000 + s, 0).unwrap()
}

fn job(id: &str, seq: u32, mac: Option<&str>) -> NewJob {
    NewJob {
        device_id: id.into(),
        seq,
        host: format!("127.48.200.{}", seq + 1),
        model: Some("HS110(EU)".into()),
        mac: mac.map(str::to_string),
        site: Some("Oak".into()),
        unit: Some(format!("{}", 100 + seq)),
        method: Method::Remote,
    }
}

/// A run `id` of `action` started at `at`, its jobs ending as `outcomes`.
async fn run(
    db: Db,
    id: &str,
    action: Action,
    at: Timestamp,
    jobs: &[NewJob],
    outcomes: &[(Outcome, Option<Reason>)],
) -> Db {
    let mut db = db;
    db.create_run(
        &NewRun {
            id: id.into(),
            action,
            inventory_path: "fleet.csv".into(),
            inventory_sha256: "aa".into(),
            parameters: Default::default(),
            operator: "alice".into(),
            tool_version: "0".into(),
            started_at: at,
        },
        jobs,
    )
    .unwrap();
    let (writer, task) = Writer::spawn(db, 16);
    for (j, (outcome, reason)) in jobs.iter().zip(outcomes) {
        writer
            .record_durable(Record::Outcome {
                run_id: id.into(),
                device_id: j.device_id.clone(),
                at,
                outcome: *outcome,
                reason: *reason,
                detail: "done".into(),
                attempts: 1,
            })
            .await
            .unwrap();
    }
    drop(writer);
    let mut db = task.finish().await.unwrap();
    db.finish_run(id, RunStatus::Finished, at).unwrap();
    db
}

/// Three runs in one database: the plug was `kitchen` (MAC in lower case with colons) in the
/// first, a factory reset that failed; `k-01` (MAC upper case with dashes) in the second, a
/// factory reset that succeeded; and `kitchen` again in a power cycle. `other` is in each.
fn build(path: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = Db::open(path).unwrap();
        let db = run(
            db,
            "20261118T110640Z-aaaa",
            Action::FactoryReset,
            t(0),
            &[
                job("other", 0, Some("50:C7:BF:48:C8:09")),
                job("kitchen", 1, Some("50:c7:bf:48:c8:01")),
            ],
            &[
                (Outcome::Succeeded, None),
                (Outcome::Failed, Some(Reason::NotVerified)),
            ],
        )
        .await;
        let db = run(
            db,
            "20261119T110640Z-bbbb",
            Action::FactoryReset,
            t(86_400),
            &[
                job("k-01", 0, Some("50-C7-BF-48-C8-01")),
                job("other", 1, Some("50:C7:BF:48:C8:09")),
            ],
            &[(Outcome::Succeeded, None), (Outcome::Succeeded, None)],
        )
        .await;
        let _ = run(
            db,
            "20261120T110640Z-cccc",
            Action::PowerCycle,
            t(2 * 86_400),
            &[job("kitchen", 0, None)],
            &[(Outcome::Succeeded, None)],
        )
        .await;
    });
}

fn history(dir: &Path, args: &[&str]) -> std::process::Output {
    fleetreset_in(dir)
        .arg("history")
        .args(args)
        .args(["--db", "audit.db"])
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

#[test]
fn a_mac_finds_every_run_that_touched_the_device_under_any_id_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    build(&tmp.path().join("audit.db"));
    for mac in ["50:C7:BF:48:C8:01", "50c7bf48c801", "50-c7-BF-48-c8-01"] {
        let out = history(tmp.path(), &[mac, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<(&str, &str, &str, Value)> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["run_id"].as_str().unwrap(),
                    r["device_id"].as_str().unwrap(),
                    r["outcome"].as_str().unwrap(),
                    r["certificate_id"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("20261118T110640Z-aaaa", "kitchen", "failed", Value::Null),
                (
                    "20261119T110640Z-bbbb",
                    "k-01",
                    "succeeded",
                    json!("20261119T110640Z-bbbb-0001")
                ),
            ],
            "{mac}"
        );
        let first = &rows[0];
        assert_eq!(first["action"], "factory-reset");
        assert_eq!(first["status"], "finished");
        assert_eq!(first["reason"], "not_verified");
        assert_eq!(first["site"], "Oak");
        assert_eq!(first["host"], "127.48.200.2");
        assert_eq!(first["method"], "remote");
        assert_eq!(first["run_started_local"], "2026-11-18 11:06:40.000 +00:00");
    }
}

#[test]
fn an_id_finds_its_jobs_and_the_table_shows_certificates_for_sanitized_jobs_only() {
    let tmp = tempfile::tempdir().unwrap();
    build(&tmp.path().join("audit.db"));
    let out = history(tmp.path(), &["kitchen"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let rows = columns(&stdout);
    assert_eq!(
        rows,
        [
            [
                "RUN",
                "STARTED",
                "ACTION",
                "STATUS",
                "DEVICE",
                "SITE/UNIT",
                "HOST",
                "METHOD",
                "OUTCOME",
                "REASON",
                "CERTIFICATE"
            ],
            [
                "20261118T110640Z-aaaa",
                "2026-11-18 11:06:40.000 +00:00",
                "factory-reset",
                "finished",
                "kitchen",
                "Oak/101",
                "127.48.200.2",
                "remote",
                "failed",
                "not_verified",
                "-"
            ],
            // A power cycle sanitizes nothing: no certificate.
            [
                "20261120T110640Z-cccc",
                "2026-11-20 11:06:40.000 +00:00",
                "power-cycle",
                "finished",
                "kitchen",
                "Oak/100",
                "127.48.200.1",
                "remote",
                "succeeded",
                "-",
                "-"
            ],
        ],
        "{stdout}"
    );

    let out = history(tmp.path(), &["other"]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let certs: Vec<String> = columns(&stdout)[1..]
        .iter()
        .map(|r| r[10].clone())
        .collect();
    assert_eq!(
        certs,
        ["20261118T110640Z-aaaa-0001", "20261119T110640Z-bbbb-0002"],
        "{stdout}"
    );
}

/// The table's cells: columns are two or more spaces apart.
fn columns(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn a_device_no_run_touched_is_an_empty_list_and_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    build(&tmp.path().join("audit.db"));
    let out = history(tmp.path(), &["50:C7:BF:48:C8:77", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows, json!([]));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no run in audit.db touched 50:C7:BF:48:C8:77"),
        "{}",
        text(&out)
    );
    let out = history(tmp.path(), &["nobody"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // A missing database is an error, and none is created.
    let out = fleetreset_in(tmp.path())
        .args(["history", "kitchen", "--db", "missing.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!tmp.path().join("missing.db").exists());
}
