//! `fleetreset runs` and `fleetreset report` as users run them: the real binary, in a temporary
//! directory, against a database filled through the store's public API.

use fleetreset::model::EventKind;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use chrono::DateTime;
use fleetreset::model::{Action, JobState, Method, Outcome, Reason};
use fleetreset::store::{
    Db, NewJob, NewRun, Record, RunStatus, SnapshotPhase, Timestamp, WRITER_CAPACITY, Writer,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The older run: a power cycle of two devices, one succeeded, one left to a technician.
const OLDER: &str = "20260101T090000-3f2a";
/// The newer run: a factory reset of three devices, one of each of succeeded, failed, skipped.
const NEWER: &str = "20260102T090000-9c1d";

/// India's zone, UTC+05:30 all year.
const REPORT_TZ: &str = "IST-5:30";

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn fleetreset(dir: &Path, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_fleetreset"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLEETRESET_LOG")
        // Reports show local time with its offset: a zone east of UTC by a half hour shows the
        // conversion, and a POSIX rule needs no tz database on the host.
        .env("TZ", REPORT_TZ)
        .output()
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn new_run(id: &str, action: Action, started: &str) -> NewRun {
    NewRun {
        id: id.to_string(),
        action,
        inventory_path: "inventories/lab.csv".to_string(),
        inventory_sha256: "ab".repeat(32),
        parameters: fleetreset::store::RunParameters {
            rate_per_s: Some(2),
            concurrency: Some(4),
            ..Default::default()
        },
        operator: "alice".to_string(),
        tool_version: "0.1.0".to_string(),
        started_at: at(started),
    }
}

fn new_job(device_id: &str, seq: u32, site: Option<&str>, method: Method) -> NewJob {
    NewJob {
        device_id: device_id.to_string(),
        seq,
        host: format!("10.0.0.{}", seq + 1),
        model: Some("HS103(US)".to_string()),
        mac: None,
        site: site.map(str::to_string),
        unit: None,
        method,
    }
}

fn ended(
    run_id: &str,
    device_id: &str,
    at_: &str,
    outcome: Outcome,
    reason: Option<Reason>,
    detail: &str,
) -> Record {
    Record::Outcome {
        run_id: run_id.to_string(),
        device_id: device_id.to_string(),
        at: at(at_),
        outcome,
        reason,
        detail: detail.to_string(),
        attempts: 1,
    }
}

fn snapshot(run_id: &str, device_id: &str, phase: SnapshotPhase, at_: &str, data: Value) -> Record {
    Record::Snapshot {
        run_id: run_id.to_string(),
        device_id: device_id.to_string(),
        phase,
        at: at(at_),
        data,
    }
}

/// Creates `run` with `jobs`, feeds `records` through the writer, and finishes the run.
fn record_run(db: Db, run: NewRun, jobs: &[NewJob], records: Vec<Record>, end: &str) -> Db {
    let mut db = db;
    db.create_run(&run, jobs).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut db = runtime.block_on(async {
        let (writer, task) = Writer::spawn(db, WRITER_CAPACITY);
        for rec in records {
            writer.record(rec).await.unwrap();
        }
        drop(writer);
        task.finish().await.unwrap()
    });
    db.finish_run(&run.id, RunStatus::Finished, at(end))
        .unwrap();
    db
}

/// A directory with `fleetreset.db` holding the two runs.
fn two_runs() -> TempDir {
    let dir = TempDir::new().unwrap();
    let db = Db::open(&dir.path().join("fleetreset.db")).unwrap();

    let db = record_run(
        db,
        new_run(OLDER, Action::PowerCycle, "2026-01-01T09:00:00.000Z"),
        &[
            new_job("hall-plug", 0, Some("site-a"), Method::Remote),
            new_job("porch-cam", 1, Some("site-a"), Method::Manual),
        ],
        vec![
            ended(
                OLDER,
                "hall-plug",
                "2026-01-01T09:01:00.000Z",
                Outcome::Succeeded,
                None,
                "came back",
            ),
            ended(
                OLDER,
                "porch-cam",
                "2026-01-01T09:01:00.000Z",
                Outcome::ManualRequired,
                None,
                "hold the reset button for 5 s",
            ),
        ],
        "2026-01-01T09:02:00.000Z",
    );

    let plug_sysinfo = json!({
        "alias": "=HYPERLINK(\"x\")",
        "sw_ver": "1.0.3 Build 210506 Rel.180637",
        "mac": "50:C7:BF:00:00:01",
        "on_time": 86400
    });
    record_run(
        db,
        new_run(NEWER, Action::FactoryReset, "2026-01-02T09:00:00.000Z"),
        &[
            new_job("plug-1", 0, Some("site-a"), Method::Remote),
            new_job("lamp-2", 1, Some("north|south"), Method::Remote),
            new_job("strip-3", 2, None, Method::Upstream),
        ],
        vec![
            Record::Started {
                run_id: NEWER.to_string(),
                device_id: "plug-1".to_string(),
                at: at("2026-01-02T09:00:01.000Z"),
            },
            Record::Event {
                run_id: NEWER.to_string(),
                device_id: Some("plug-1".to_string()),
                at: at("2026-01-02T09:00:01.000Z"),
                state: Some(JobState::Probing),
                kind: EventKind::State.into(),
                detail: json!({}),
            },
            snapshot(
                NEWER,
                "plug-1",
                SnapshotPhase::Pre,
                "2026-01-02T09:00:01.500Z",
                json!({"sysinfo": plug_sysinfo, "cloud": {"binded": 1}}),
            ),
            ended(
                NEWER,
                "plug-1",
                "2026-01-02T09:00:31.250Z",
                Outcome::Succeeded,
                None,
                "left the network",
            ),
            ended(
                NEWER,
                "lamp-2",
                "2026-01-02T09:00:05.000Z",
                Outcome::Failed,
                Some(Reason::Unreachable),
                "no answer on 10.0.0.2:9999",
            ),
            ended(
                NEWER,
                "strip-3",
                "2026-01-02T09:00:06.000Z",
                Outcome::Skipped,
                Some(Reason::ThresholdReached),
                "failure threshold reached",
            ),
        ],
        "2026-01-02T09:01:00.000Z",
    );
    dir
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn runs_on_a_missing_database_exits_2_naming_it_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let out = fleetreset(dir.path(), &["runs", "--db", "audit/none.db"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("fleetreset: error: no runs have been recorded at audit/none.db: "),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn runs_on_an_empty_database_says_so_and_exits_0() {
    let dir = TempDir::new().unwrap();
    drop(Db::open(&dir.path().join("empty.db")).unwrap());
    let out = fleetreset(dir.path(), &["runs", "--db", "empty.db"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "no runs recorded in empty.db\n");
}

#[test]
fn runs_lists_the_newest_run_first_with_its_counts() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["runs"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let rows: Vec<Vec<&str>> = lines(&out.stdout)
        .into_iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    assert_eq!(
        rows[0],
        [
            "ID",
            "ACTION",
            "STATUS",
            "STARTED",
            "JOBS",
            "SUCCEEDED",
            "FAILED",
            "OTHER",
            "INVENTORY"
        ]
    );
    // Columns 3 to 5 are the local date, time and UTC offset, which depend on the machine's
    // time zone.
    fn without_start<'a>(row: &[&'a str]) -> Vec<&'a str> {
        let offset = row[5];
        assert!(
            offset.len() == 6 && offset.starts_with(['+', '-']) && &offset[3..4] == ":",
            "{row:?}"
        );
        [&row[..3], &row[6..]].concat()
    }
    assert_eq!(
        without_start(&rows[1]),
        [
            NEWER,
            "factory-reset",
            "finished",
            "3",
            "1",
            "1",
            "1",
            "inventories/lab.csv"
        ]
    );
    assert_eq!(
        without_start(&rows[2]),
        [
            OLDER,
            "power-cycle",
            "finished",
            "2",
            "1",
            "0",
            "1",
            "inventories/lab.csv"
        ]
    );
}

#[test]
fn runs_json_prints_every_run_row_newest_first() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["runs", "--json", "--db", "fleetreset.db"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let runs: Value = serde_json::from_str(&out.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], NEWER);
    assert_eq!(runs[0]["action"], "factory-reset");
    assert_eq!(runs[0]["status"], "finished");
    assert_eq!(runs[0]["started_at"], "2026-01-02T09:00:00Z");
    assert_eq!(
        [
            &runs[0]["jobs"],
            &runs[0]["succeeded"],
            &runs[0]["failed"],
            &runs[0]["other"]
        ],
        [&json!(3), &json!(1), &json!(1), &json!(1)]
    );
    assert_eq!(runs[1]["id"], OLDER);
    assert_eq!(runs[1]["operator"], "alice");
}

#[test]
fn report_latest_writes_the_four_files_of_the_newest_run_under_reports() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["report", "latest"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let base = format!("reports/{NEWER}");
    assert_eq!(
        out.stdout,
        format!("{base}/devices.csv\n{base}/run.json\n{base}/summary.md\n{base}/report.html\n")
    );
    let base = dir.path().join(&base);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&base), 0o700);
    for name in ["devices.csv", "run.json", "summary.md", "report.html"] {
        assert_eq!(mode(&base.join(name)), 0o600, "{name}");
    }

    let csv = fs::read_to_string(base.join("devices.csv")).unwrap();
    let csv = lines(&csv);
    assert_eq!(csv.len(), 4, "{csv:?}");
    assert!(csv[0].starts_with("id,site,unit,model,mac,host,action,method,outcome,reason,detail,"));
    assert_eq!(
        csv[1],
        "plug-1,site-a,,HS103(US),,10.0.0.1,factory-reset,remote,succeeded,,left the network,,\
         2026-01-02 14:30:01.000 +05:30,2026-01-02 14:30:31.250 +05:30,30.250,\"'=HYPERLINK(\"\"x\"\")\",\
         1.0.3 Build 210506 Rel.180637,50:C7:BF:00:00:01,86400,,,false,true,unknown,unknown,,"
    );
    assert!(csv[2].starts_with("lamp-2,north|south,"), "{}", csv[2]);
    assert!(
        csv[2].contains(",failed,unreachable,no answer on 10.0.0.2:9999,"),
        "{}",
        csv[2]
    );
    assert!(csv[3].starts_with("strip-3,,"), "{}", csv[3]);

    let json: Value =
        serde_json::from_str(&fs::read_to_string(base.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["run"]["id"], NEWER);
    assert_eq!(json["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(json["snapshots"][0]["data"]["sysinfo"]["on_time"], 86400);
    assert_eq!(json["summary"]["jobs"], 3);
    assert_eq!(json["summary"]["by_outcome"]["failed"], 1);
    assert_eq!(json["summary"]["by_reason"]["unreachable"], 1);
    assert_eq!(json["summary"]["by_site"]["north|south"]["failed"], 1);

    let html = fs::read_to_string(base.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(
        html.contains(&format!("<h1>Run {NEWER}: factory-reset</h1>")),
        "{html}"
    );
    let head = Db::open(&dir.path().join("fleetreset.db"))
        .unwrap()
        .chain_head(NEWER)
        .unwrap()
        .expect("the run has a chain");
    assert!(
        html.contains(&format!(
            "<p class=\"meta\">Audit chain head: <code>{head}</code></p>"
        )),
        "{html}"
    );
    assert!(
        html.contains("No certificate was written with this report."),
        "{html}"
    );
    assert_eq!(html.matches("<rect class=\"job\"").count(), 3, "{html}");

    let md = fs::read_to_string(base.join("summary.md")).unwrap();
    assert!(
        md.starts_with(&format!("# Run {NEWER}: factory-reset\n")),
        "{md}"
    );
    assert!(md.contains("- Status: finished\n"), "{md}");
    assert!(
        md.contains("| north\\|south | 1 | 0 | 1 | 0 | 0 | 0 | 0 |\n"),
        "{md}"
    );
    assert!(
        md.contains("- Started: 2026-01-02 14:30:00.000 +05:30\n"),
        "{md}"
    );
    assert!(
        md.contains("- **lamp-2** (north\\|south), 10.0.0.2: failed (unreachable): no answer on 10.0.0.2:9999\n"),
        "{md}"
    );
}

#[test]
fn report_takes_a_unique_prefix_and_writes_where_out_says() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["report", "20260101", "--out", "out/older"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "out/older/devices.csv\nout/older/run.json\nout/older/summary.md\nout/older/report.html\n"
    );
    let md = fs::read_to_string(dir.path().join("out/older/summary.md")).unwrap();
    assert!(
        md.starts_with(&format!("# Run {OLDER}: power-cycle\n")),
        "{md}"
    );
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn report_of_an_ambiguous_prefix_exits_2_and_asks_for_more_of_the_id() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["report", "2026"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "fleetreset: error: fleetreset.db: \"2026\" matches several runs; give more of the id\n"
    );
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn report_of_an_unknown_run_exits_2_naming_it_and_where_to_look() {
    let dir = two_runs();
    let out = fleetreset(dir.path(), &["report", "20261231"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "fleetreset: error: fleetreset.db: no run \"20261231\" in the database; \
         `fleetreset runs --db fleetreset.db` lists them\n"
    );
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn report_latest_on_an_empty_database_says_there_are_no_runs() {
    let dir = TempDir::new().unwrap();
    drop(Db::open(&dir.path().join("fleetreset.db")).unwrap());
    let out = fleetreset(dir.path(), &["report", "latest"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "fleetreset: error: no runs recorded in fleetreset.db\n"
    );
}

#[test]
fn report_on_a_missing_database_exits_2_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let out = fleetreset(dir.path(), &["report", "latest", "--db", "none.db"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("fleetreset: error: no runs have been recorded at none.db: "),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn report_refuses_a_symlinked_run_directory_and_writes_nothing_through_it() {
    let dir = two_runs();
    let elsewhere = TempDir::new().unwrap();
    fs::create_dir(dir.path().join("reports")).unwrap();
    let run_dir = dir.path().join("reports").join(NEWER);
    std::os::unix::fs::symlink(elsewhere.path(), &run_dir).unwrap();
    let out = fleetreset(dir.path(), &["report", "latest"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "fleetreset: error: cannot create the report directory reports/{NEWER}: \
             reports/{NEWER} is a symbolic link; reports are never written through a symlinked \
             run directory (remove the link, or give the real directory)\n"
        )
    );
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn report_writes_through_a_symlinked_reports_directory() {
    let dir = two_runs();
    let mount = TempDir::new().unwrap();
    std::os::unix::fs::symlink(mount.path(), dir.path().join("reports")).unwrap();
    let out = fleetreset(dir.path(), &["report", "latest"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let names: Vec<_> = fs::read_dir(mount.path().join(NEWER))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

/// Whether `text` holds a character that must not reach a terminal, line ends aside.
fn controls_in(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c != '\n' && fleetreset::inert::needs_escape(c))
        .collect()
}

#[test]
fn report_files_show_hostile_device_text_inert() {
    const RUN: &str = "20260103T090000-abcd";
    let hostile = "\u{1b}[2J\u{1b}[Hcleared\r\n[ 9/9] plug-9 succeeded";
    let dir = TempDir::new().unwrap();
    let db = Db::open(&dir.path().join("fleetreset.db")).unwrap();
    drop(record_run(
        db,
        new_run(RUN, Action::PowerCycle, "2026-01-03T09:00:00.000Z"),
        &[new_job("plug-1", 0, Some("site-a"), Method::Remote)],
        vec![
            snapshot(
                RUN,
                "plug-1",
                SnapshotPhase::Pre,
                "2026-01-03T09:00:01.000Z",
                json!({"sysinfo": {"alias": hostile, "mac": "50:C7:BF:00:00:01"}}),
            ),
            ended(
                RUN,
                "plug-1",
                "2026-01-03T09:00:05.000Z",
                Outcome::Failed,
                Some(Reason::DeviceError),
                hostile,
            ),
        ],
        "2026-01-03T09:01:00.000Z",
    ));
    let out = fleetreset(dir.path(), &["report", "latest"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let base = dir.path().join("reports").join(RUN);

    let md = fs::read_to_string(base.join("summary.md")).unwrap();
    assert_eq!(controls_in(&md), [], "{md}");
    assert!(
        md.contains(
            "failed (device_error): \\u{1b}\\[2J\\u{1b}\\[Hcleared\\r\\n\\[ 9/9\\] plug-9 succeeded\n"
        ),
        "{md}"
    );

    let csv = fs::read_to_string(base.join("devices.csv")).unwrap();
    assert_eq!(controls_in(&csv), [], "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let escaped = "\\u{1b}[2J\\u{1b}[Hcleared\\r\\n[ 9/9] plug-9 succeeded";
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[10], escaped, "detail");
    assert_eq!(&row[15], escaped, "pre_alias");
}

#[test]
fn runs_on_another_programs_sqlite_file_refuses_it_and_leaves_it_as_it_was() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("places.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE places (url TEXT); INSERT INTO places VALUES ('x');")
        .unwrap();
    let before = fs::read(&path).unwrap();
    for args in [
        &["runs", "--db", "places.sqlite"][..],
        &["report", "latest", "--db", "places.sqlite"][..],
    ] {
        let out = fleetreset(dir.path(), args);
        assert_eq!(out.code, Some(2), "{}", out.stderr);
        assert_eq!(
            out.stderr,
            "fleetreset: error: places.sqlite is not a fleetreset audit database (it has tables \
             of its own and no fleetreset schema version); nothing was changed in it: give --db \
             a fleetreset database or a new file\n"
        );
    }
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}
