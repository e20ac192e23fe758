//! `fleetreset confirm`, the real binary in a temp dir, over runs whose jobs ended
//! `manual_required` (built through the store's API): one device at a time, a returned checklist
//! (CSV, .xlsx and .ods), refusals, and the reports afterwards. Addresses: 127.44.2.0/24, where
//! nothing answers (the look at a device against the simulator is `confirm_verify_cli`).

mod common;
mod manual_run;

use fleetreset::model::EventKind;
use std::path::{Path, PathBuf};

use common::{fleetreset_in, text};
use fleetreset::model::{Action, Outcome};
use manual_run::{Dev, load, manual_run, outcome};
use serde_json::Value;

fn quiet(n: u8) -> String {
    format!("127.44.2.{n}")
}

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

fn three(tag: u8) -> Vec<Dev> {
    vec![
        Dev::manual("bell", quiet(tag * 10 + 1), "KD110").at("Oak", "204"),
        Dev::manual("plug", quiet(tag * 10 + 2), "HS103").at("Oak", "204"),
        Dev {
            outcome: Outcome::Succeeded,
            ..Dev::manual("done", quiet(tag * 10 + 3), "HS103").at("Oak", "101")
        },
    ]
}

#[test]
fn a_confirmation_records_the_technician_and_a_second_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-c-1", Action::FactoryReset, &three(1));
    let out = confirm(
        tmp.path(),
        &[
            "run-c-1",
            "bell",
            "--by",
            "Ana Técnica",
            "--note",
            "off the bracket, pin 8 s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(
            "bell: manual_confirmed, by Ana Técnica: nothing answered at 127.44.2.11:10443; on the technician's word"
        ),
        "{}",
        text(&out)
    );
    let rec = load(&db, "run-c-1");
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "plug"), Some(Outcome::ManualRequired));
    let confirmed = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["by"], "Ana Técnica");
    assert_eq!(confirmed[0]["note"], "off the bracket, pin 8 s");
    assert_eq!(confirmed[0]["operator"], "desk-ops");
    assert_eq!(confirmed[0]["source"], "command line");
    assert_eq!(confirmed[0]["seen"]["result"], "no_answer");
    // A plug nothing answers for is confirmed on the technician's word, after a look.
    let out = confirm(tmp.path(), &["run-c-1", "plug", "--by", "Ana Técnica"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "plug: manual_confirmed, by Ana Técnica: nothing answered at 127.44.2.12:9999; on the technician's word\n"
    );

    let again = confirm(tmp.path(), &["run-c-1", "bell", "--by", "Bo"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("device bell of run run-c-1 is already confirmed, by Ana Técnica at "),
        "{stderr}"
    );
    assert_eq!(
        events(&load(&db, "run-c-1"), EventKind::ManualConfirmed).len(),
        2
    );

    // The reports count them and name the technician.
    let out = fleetreset_in(tmp.path())
        .args(["report", "run-c-1", "--db", "audit.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = tmp.path().join("reports/run-c-1");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| manual_required | 0 |"), "{summary}");
    assert!(summary.contains("| manual_confirmed | 2 |"), "{summary}");
    assert!(
        summary.contains("## Confirmed by technicians (2)"),
        "{summary}"
    );
    assert!(
        summary.contains("- **bell**: by Ana Técnica (recorded "),
        "{summary}"
    );
    let mut devices = csv::Reader::from_path(dir.join("devices.csv")).unwrap();
    let header = devices.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = devices.records().map(Result::unwrap).collect();
    let bell = rows.iter().find(|r| &r[col("id")] == "bell").unwrap();
    assert_eq!(&bell[col("outcome")], "manual_confirmed");
    assert_eq!(&bell[col("confirmed_by")], "Ana Técnica");
    assert!(!bell[col("confirmed_at")].is_empty());
    let done = rows.iter().find(|r| &r[col("id")] == "done").unwrap();
    assert_eq!(&done[col("confirmed_by")], "");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["by_outcome"]["manual_confirmed"], 2);
    assert_eq!(json["confirmations"][0]["device_id"], "bell");
    assert_eq!(json["confirmations"][0]["by"], "Ana Técnica");
}

#[test]
fn only_a_manual_required_job_of_the_run_can_be_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-c-2", Action::FactoryReset, &three(2));
    let before = load(&db, "run-c-2");
    let cases: [(&[&str], &str); 4] = [
        (
            &["run-c-2", "done", "--by", "Ana"],
            "device done of run run-c-2 ended succeeded, not manual_required",
        ),
        (
            &["run-c-2", "ghost", "--by", "Ana"],
            "run run-c-2 has no job \"ghost\"",
        ),
        (&["run-c-2", "plug"], "--by NAME is needed"),
        (
            &["no-such-run", "plug", "--by", "Ana"],
            "no run \"no-such-run\" in the database",
        ),
    ];
    for (args, expected) in cases {
        let out = confirm(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(load(&db, "run-c-2"), before);
}

/// `work-orders` for the run, then its CSV with `fill(id)` as each row's `confirmed_by`
/// (`None`: left empty) written to `name`.
fn returned_csv(
    dir: &Path,
    run: &str,
    name: &str,
    fill: impl Fn(&str) -> Option<String>,
) -> PathBuf {
    let out = fleetreset_in(dir)
        .args(["work-orders", run, "--db", "audit.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let csv_path = dir.join(format!("reports/{run}/work-orders.csv"));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let path = dir.join(name);
    let mut writer = csv::Writer::from_path(&path).unwrap();
    writer.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(String::from).collect();
        if let Some(by) = fill(&row[col("id")]) {
            row[col("confirmed_by")] = by;
            row[col("confirmed_at")] = "2026-12-01 10:15".into();
            row[col("note")] = format!("done at {}", row[col("unit")]);
        }
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    path
}

#[test]
fn a_returned_csv_checklist_confirms_its_signed_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devs = three(3);
    devs.push(Dev::manual("lamp", quiet(34), "KL130").at("Birch", "1"));
    let db = manual_run(tmp.path(), "run-c-3", Action::FactoryReset, &devs);
    let path = returned_csv(tmp.path(), "run-c-3", "back.csv", |id| {
        (id != "lamp").then(|| format!("tech-{id}"))
    });
    let out = confirm(tmp.path(), &["run-c-3", "--from", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bell: manual_confirmed, by tech-bell: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("plug: manual_confirmed, by tech-plug: "),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 row(s) unsigned, left manual_required"),
        "{}",
        text(&out)
    );
    let rec = load(&db, "run-c-3");
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "plug"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "lamp"), Some(Outcome::ManualRequired));
    let confirmed = events(&rec, EventKind::ManualConfirmed);
    let bell = confirmed.iter().find(|e| e["by"] == "tech-bell").unwrap();
    assert_eq!(bell["said_at"], "2026-12-01 10:15");
    assert_eq!(bell["note"], "done at 204");
    assert_eq!(bell["operator"], "desk-ops");
    assert!(
        bell["source"].as_str().unwrap().ends_with("back.csv:3"),
        "{bell}"
    );
}

#[test]
fn a_checklist_with_one_bad_row_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-c-4", Action::FactoryReset, &three(4));
    let good = returned_csv(tmp.path(), "run-c-4", "good.csv", |id| {
        Some(format!("t-{id}"))
    });
    // The checklist as returned, plus a row for the device that succeeded and one for a
    // device of no run.
    let mut text_in = std::fs::read_to_string(&good).unwrap();
    text_in.push_str("run-c-4,Oak,101,done,HS103,,,,,,,,Ana,,\n");
    text_in.push_str("run-c-4,Oak,101,ghost,HS103,,,,,,,,Ana,,\n");
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, text_in).unwrap();
    let before = load(&db, "run-c-4");
    let out = confirm(tmp.path(), &["run-c-4", "--from", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("bad.csv:4: device done of run run-c-4 ended succeeded, not manual_required"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.csv:5: run run-c-4 has no job \"ghost\""),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s) in the checklist"), "{stderr}");
    assert_eq!(load(&db, "run-c-4"), before);
    // A checklist of another run is refused too.
    let other = std::fs::read_to_string(&good)
        .unwrap()
        .replace("run-c-4,", "run-c-9,");
    std::fs::write(tmp.path().join("other.csv"), other).unwrap();
    let out = confirm(tmp.path(), &["run-c-4", "--from", "other.csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this row is of run run-c-9, not run-c-4"),
        "{}",
        text(&out)
    );
    assert_eq!(load(&db, "run-c-4"), before);
}

#[test]
fn with_by_a_row_that_gives_only_a_time_is_signed_in_that_name_and_empty_rows_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-c-7", Action::FactoryReset, &three(7));
    // Columns in another order, a `;` delimiter and CRLF, as a spreadsheet in some locales
    // saves them; the `run` column dropped.
    std::fs::write(
        tmp.path().join("back.csv"),
        "confirmed_at;id;confirmed_by;note\r\n08:40;bell;;\r\n;plug;;\r\n",
    )
    .unwrap();
    let out = confirm(
        tmp.path(),
        &["run-c-7", "--from", "back.csv", "--by", "Cy Crew"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-c-7");
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "plug"), Some(Outcome::ManualRequired));
    let confirmed = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["by"], "Cy Crew");
    assert_eq!(confirmed[0]["said_at"], "08:40");
    // Without --by, nothing in it is signed: refused, nothing recorded.
    let out = confirm(tmp.path(), &["run-c-7", "--from", "back.csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("back.csv: no row has confirmed_by filled in (2 row(s) unsigned)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        events(&load(&db, "run-c-7"), EventKind::ManualConfirmed).len(),
        1
    );
}

/// Python with openpyxl, in a virtualenv made on first use (as `spreadsheet_cli` makes it).
fn python_with_openpyxl() -> PathBuf {
    common::venv::install("openpyxl", "openpyxl==3.1.5", |venv| {
        let python = venv.join("bin/python");
        python.exists().then_some(python)
    })
}

#[test]
fn a_returned_xlsx_checklist_confirms_its_signed_rows() {
    returned_workbook_confirms_its_signed_rows("xlsx", 5);
}

#[test]
fn a_returned_ods_checklist_confirms_its_signed_rows() {
    returned_workbook_confirms_its_signed_rows("ods", 8);
}

/// The checklist of a run with its `plug` row signed, saved as a workbook (`ext`), confirms it.
fn returned_workbook_confirms_its_signed_rows(ext: &str, tag: u8) {
    let tmp = tempfile::tempdir().unwrap();
    let run = format!("run-c-{tag}");
    let db = manual_run(tmp.path(), &run, Action::PowerCycle, &three(tag));
    let csv_back = returned_csv(tmp.path(), &run, "back.csv", |id| {
        (id == "plug").then(|| "Bea Wire".to_string())
    });
    // The same rows as a workbook, as a spreadsheet program saves them.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&csv_back)
        .unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let spec = serde_json::json!({"sheets": [{"name": "Checklist", "rows": rows}]});
    let spec_path = tmp.path().join("back.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let book = format!("back.{ext}");
    let xlsx = tmp.path().join(&book);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_workbook.py");
    let made = std::process::Command::new(python_with_openpyxl())
        .arg(script)
        .arg(&spec_path)
        .arg(&xlsx)
        .output()
        .unwrap();
    assert!(made.status.success(), "make_workbook.py: {}", text(&made));

    let out = confirm(tmp.path(), &[&run, "--from", &book]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("plug: manual_confirmed, by Bea Wire: "),
        "{}",
        text(&out)
    );
    let rec = load(&db, &run);
    assert_eq!(outcome(&rec, "plug"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualRequired));
    let confirmed = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["by"], "Bea Wire");
    assert_eq!(confirmed[0]["source"], format!("{book}[Checklist]:3"));
}
