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

use fleetreset::model::EventKind;
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

fn events(record: &fleetreset::store::RunRecord, kind: EventKind) -> Vec<&Value> {
    record
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| &e.detail)
        .collect()
}

fn creds_file(dir: &Path) -> PathBuf {
    common::office_credentials(dir.join("credentials.toml"), USER, PASSWORD)
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
    let seen = &events(&rec, EventKind::ManualConfirmed)[0]["seen"];
    assert_eq!(seen["result"], "answered", "{seen}");
    assert_eq!(seen["bound"], false, "{seen}");
    assert!(events(&rec, EventKind::ConfirmationRefused).is_empty());

    let out = confirm(
        tmp.path(),
        &[&["run-h-20", "bound", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = load(&db, "run-h-20");
    assert_eq!(outcome(&rec, "bound"), Some(Outcome::ManualRequired));
    let refused = events(&rec, EventKind::ConfirmationRefused);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["address"], "127.47.20.2:8443");

    // Looks are reads: no command, no failed login, no password in the audit or the output.
    let journal = Journal::read(&journal);
    assert!(journal.no_commands(), "{}", journal.text);
    assert!(!journal.text.contains("login_failed"), "{}", journal.text);
    assert!(!journal.text.contains("login_refused"), "{}", journal.text);
    // One look, one login, each.
    for id in ["wiped", "bound"] {
        let logins = journal
            .text
            .lines()
            .filter(|l| l.ends_with(&format!(" {id} login")))
            .count();
        assert_eq!(logins, 1, "{id}\n{}", journal.text);
    }
    assert!(!contains(&std::fs::read(&db).unwrap(), PASSWORD));
    assert!(!text(&out).contains(PASSWORD));
}

/// Three devices waiting for a technician, at addresses where nothing answers.
fn three(test: u8) -> Vec<Dev> {
    vec![
        Dev::manual("bell", format!("127.47.{test}.1"), "KD110").at("Oak", "204"),
        Dev::manual("plug", format!("127.47.{test}.2"), "HS103").at("Oak", "204"),
        Dev::manual("cam", format!("127.47.{test}.3:8443"), "C210").at("Oak", "101"),
    ]
}

/// `work-orders` for the run; its CSV's header and rows.
fn work_orders_csv(dir: &Path, run: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let out = fleetreset_in(dir)
        .args(["work-orders", run, "--db", "audit.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut reader =
        csv::Reader::from_path(dir.join(format!("reports/{run}/work-orders.csv"))).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

fn write_csv(path: &Path, header: &[String], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// Every hostile checklist is refused whole: nothing is recorded, the database unchanged.
#[test]
fn hostile_checklists_are_refused_whole_and_record_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-h-21", Action::FactoryReset, &three(21));
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-21");
    let (by, id, run) = (
        col(&header, "confirmed_by"),
        col(&header, "id"),
        col(&header, "run"),
    );
    let signed = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                r[by] = format!("t-{}", r[id]);
                r
            })
            .collect()
    };
    let before = load(&db, "run-h-21");
    let refused = |name: &str, want: &str| {
        let out = confirm(tmp.path(), &["run-h-21", "--from", name, "--no-verify"]);
        assert_eq!(out.status.code(), Some(2), "{name}\n{}", text(&out));
        assert!(
            text(&out).contains(want),
            "{name}: wants {want:?}\n{}",
            text(&out)
        );
        assert!(out.stdout.is_empty(), "{name}\n{}", text(&out));
        assert_eq!(load(&db, "run-h-21"), before, "{name} recorded something");
    };

    // One device signed twice, by two people.
    let mut twice = signed(&rows);
    let mut again = twice[0].clone();
    again[by] = "Someone Else".into();
    twice.push(again);
    write_csv(&tmp.path().join("twice.csv"), &header, &twice);
    refused("twice.csv", "is signed again (first on line 2)");

    // A row of another run among good ones.
    let mut mixed = signed(&rows);
    mixed[1][run] = "run-h-99".into();
    write_csv(&tmp.path().join("mixed.csv"), &header, &mixed);
    refused("mixed.csv", "this row is of run run-h-99, not run-h-21");

    // A 50 MB checklist: good rows, then a flood of rows for devices the run doesn't have.
    let mut big = String::new();
    {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).unwrap();
        for r in signed(&rows) {
            w.write_record(&r).unwrap();
        }
        big.push_str(std::str::from_utf8(&w.into_inner().unwrap()).unwrap());
    }
    let filler = format!(
        "run-h-21,Oak,1,ghost,HS103,,,{},,,,,Ana,,\n",
        "x".repeat(1000)
    );
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(&filler);
    }
    std::fs::write(tmp.path().join("big.csv"), &big).unwrap();
    let started = std::time::Instant::now();
    let out = confirm(
        tmp.path(),
        &["run-h-21", "--from", "big.csv", "--no-verify"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        &text(&out)[..2000.min(text(&out).len())]
    );
    assert!(out.stdout.is_empty());
    assert_eq!(load(&db, "run-h-21"), before, "big.csv recorded something");
    assert!(
        out.stderr.len() < 64 * 1024,
        "{} bytes of problems on stderr for one checklist",
        out.stderr.len()
    );
    eprintln!("big.csv: {:?}", started.elapsed());
}

fn python_with_openpyxl() -> PathBuf {
    common::venv::install("openpyxl", "openpyxl==3.1.5", |venv| {
        let python = venv.join("bin/python");
        python.exists().then_some(python)
    })
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// A Windows-1252 CSV and an .xlsx whose first sheet is hidden, their cells hostile (formula
/// prefixes, a terminal escape, HTML): the names are recorded as written, the hidden sheet is
/// not read, and every report shows the text inert.
#[test]
fn hostile_technician_text_from_a_windows_1252_csv_and_a_workbook_stays_inert() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-h-23", Action::FactoryReset, &three(23));
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-23");
    let (by, id, at, note) = (
        col(&header, "confirmed_by"),
        col(&header, "id"),
        col(&header, "confirmed_at"),
        col(&header, "note"),
    );
    // Windows-1252: bell, by a name with é and ü, a note a spreadsheet would run and one that
    // clears a terminal.
    let mut cp = rows.clone();
    let bell = cp.iter().position(|r| r[id] == "bell").unwrap();
    cp[bell][by] = "José Müller".into();
    cp[bell][at] = "+1 555 0100".into();
    cp[bell][note] = "=cmd|' /C calc'!A0 \u{1b}[2J\nok: forged".into();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for r in &cp {
        w.write_record(r).unwrap();
    }
    let utf8 = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&utf8);
    assert!(!unmappable && bytes.contains(&0xE9));
    std::fs::write(tmp.path().join("back-1252.csv"), &bytes).unwrap();
    let out = confirm(
        tmp.path(),
        &["run-h-23", "--from", "back-1252.csv", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "{}",
        text(&out)
    );
    assert!(!contains(&out.stdout, "\nok: forged"), "{}", text(&out));
    let rec = load(&db, "run-h-23");
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualConfirmed));
    let c = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["by"], "José Müller");
    assert_eq!(c[0]["said_at"], "+1 555 0100");

    // An .xlsx: its first sheet, hidden, signs plug and cam; the sheet a person sees signs
    // plug only, in a name that is HTML.
    let mut seen = rows.clone();
    let plug = seen.iter().position(|r| r[id] == "plug").unwrap();
    seen[plug][by] = "@SUM(1)</td><script>alert(1)</script>".into();
    let mut hidden = rows.clone();
    for r in &mut hidden {
        r[by] = "Hidden Hand".into();
    }
    let sheet = |rows: &[Vec<String>]| {
        let mut all = vec![header.clone()];
        all.extend(rows.iter().cloned());
        all
    };
    let spec = serde_json::json!({"sheets": [
        {"name": "Old", "hidden": true, "rows": sheet(&hidden)},
        {"name": "Checklist", "rows": sheet(&seen)},
    ]});
    let spec_path = tmp.path().join("back.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_workbook.py");
    let made = std::process::Command::new(python_with_openpyxl())
        .arg(script)
        .arg(&spec_path)
        .arg(tmp.path().join("back.xlsx"))
        .output()
        .unwrap();
    assert!(made.status.success(), "make_workbook.py: {}", text(&made));
    // Bell is signed again on the hidden sheet, but that sheet is not read.
    let out = confirm(
        tmp.path(),
        &["run-h-23", "--from", "back.xlsx", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-h-23");
    assert_eq!(outcome(&rec, "plug"), Some(Outcome::ManualConfirmed));
    assert_eq!(outcome(&rec, "cam"), Some(Outcome::ManualRequired));
    let c = events(&rec, EventKind::ManualConfirmed);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[1]["by"], "@SUM(1)</td><script>alert(1)</script>");
    assert_eq!(c[1]["source"], format!("back.xlsx[Checklist]:{}", plug + 2));
    assert!(!c.iter().any(|e| e["by"] == "Hidden Hand"));

    // Every report of the run shows the technicians' text, inert.
    let reports = tmp.path().join("out");
    let out = fleetreset_in(tmp.path())
        .args(["report", "run-h-23", "--db", "audit.db", "--out"])
        .arg(&reports)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let written = files(&reports);
    assert!(
        written.iter().any(|(_, b)| contains(b, "alert(1)")),
        "no report names the technician"
    );
    assert!(
        written.iter().any(|(_, b)| contains(b, "calc")),
        "no report has the note"
    );
    for (path, bytes) in &written {
        let name = path.display();
        assert!(!bytes.contains(&0x1b), "{name} holds a raw ESC");
        assert!(!contains(bytes, "\nok: forged"), "{name} has a forged line");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "html" {
            // report.html has its own script (the table's sort, admitted by its hash); no
            // other page has one, and no name adds one.
            let own = usize::from(path.ends_with("report.html"));
            let scripts = bytes.windows(7).filter(|w| w == b"<script").count();
            assert_eq!(scripts, own, "{name} has a live script");
        }
        if ext == "md" {
            // Markdown shows `\<` as `<`: every `<` of a name must come escaped.
            let raw = bytes
                .windows(7)
                .enumerate()
                .any(|(i, w)| w == b"<script" && (i == 0 || bytes[i - 1] != b'\\'));
            assert!(
                !raw,
                "{name} has raw HTML:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
        if ext == "csv" {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            for record in reader.records() {
                for cell in record.unwrap().iter() {
                    assert!(
                        cell.parse::<f64>().is_ok()
                            || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "{name}: a cell a spreadsheet would run: {cell:?}"
                    );
                }
            }
        }
    }
}

/// Two `confirm`s of one device at once, for six devices (one of each pair from a returned
/// checklist): each device is confirmed exactly once, by one of them, and the other is refused
/// with nothing recorded.
#[test]
fn two_confirms_of_one_device_at_once_record_exactly_one_confirmation() {
    let tmp = tempfile::tempdir().unwrap();
    let devs: Vec<Dev> = ["d1", "d2", "d3", "d4", "d5", "d6"]
        .iter()
        .enumerate()
        .map(|(n, id)| Dev::manual(id, format!("127.47.24.{}", n + 1), "HS103").at("Oak", "1"))
        .collect();
    let db = manual_run(tmp.path(), "run-h-24", Action::FactoryReset, &devs);
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-24");
    let (by, id) = (col(&header, "confirmed_by"), col(&header, "id"));
    let mut back = rows.clone();
    for r in &mut back {
        if ["d1", "d2", "d3"].contains(&r[id].as_str()) {
            r[by] = "Sheet Signer".into();
        }
    }
    write_csv(&tmp.path().join("back.csv"), &header, &back);
    let spawn = |args: &[&str]| {
        common::KillOnDrop(
            fleetreset_in(tmp.path())
                .args(["confirm", "--db", "audit.db", "--no-verify"])
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let mut children = vec![spawn(&["run-h-24", "--from", "back.csv"])];
    for d in ["d1", "d2", "d3", "d4", "d5", "d6"] {
        children.push(spawn(&["run-h-24", d, "--by", "First"]));
        children.push(spawn(&["run-h-24", d, "--by", "Second"]));
    }
    let outs: Vec<std::process::Output> = children
        .into_iter()
        .map(|mut c| {
            let child = std::mem::replace(
                &mut c.0,
                std::process::Command::new("true").spawn().unwrap(),
            );
            child.wait_with_output().unwrap()
        })
        .collect();
    let all: String = outs.iter().map(text).collect::<Vec<_>>().join("\n---\n");
    for o in &outs {
        assert!(matches!(o.status.code(), Some(0 | 2)), "{all}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("locked"),
            "a confirm gave up on a busy database:\n{all}"
        );
    }
    let rec = load(&db, "run-h-24");
    let confirmed = events(&rec, EventKind::ManualConfirmed);
    for d in ["d1", "d2", "d3", "d4", "d5", "d6"] {
        assert_eq!(
            outcome(&rec, d),
            Some(Outcome::ManualConfirmed),
            "{d}\n{all}"
        );
        let n = rec
            .events
            .iter()
            .filter(|e| e.kind == EventKind::ManualConfirmed && e.device_id.as_deref() == Some(d))
            .count();
        assert_eq!(n, 1, "{d} confirmed {n} times\n{all}");
        let job = rec.jobs.iter().find(|j| j.device_id == d).unwrap();
        let event = rec
            .events
            .iter()
            .find(|e| e.kind == EventKind::ManualConfirmed && e.device_id.as_deref() == Some(d))
            .unwrap();
        // The job's detail names the technician its one event names.
        let who = event.detail["by"].as_str().unwrap();
        assert!(
            job.detail.as_deref().unwrap_or("").contains(who),
            "{d}: {:?} vs {who}",
            job.detail
        );
    }
    assert_eq!(confirmed.len(), 6, "{all}");
    let succeeded = outs.iter().filter(|o| o.status.success()).count();
    // Six devices confirmed by single commands, or three of them by the checklist.
    assert!((4..=6).contains(&succeeded), "{succeeded} succeeded\n{all}");
}

/// `work-orders` for a run whose inventory has since changed, then been deleted: the orders
/// are written from the audit alone (no notes of the changed file), with a word why; to a
/// directory that can't be written, it fails with the directory named and writes nothing.
#[test]
fn work_orders_survive_a_changed_or_deleted_inventory_and_refuse_an_unwritable_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devs = three(25);
    devs[0].notes = Some("Key at the front desk");
    manual_run(tmp.path(), "run-h-25", Action::FactoryReset, &devs);
    let inventory = tmp.path().join("fleet.csv");
    let wo = |out: &Path| {
        fleetreset_in(tmp.path())
            .args(["work-orders", "run-h-25", "--db", "audit.db", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    // Changed: another device's notes, a note that would run in a spreadsheet.
    std::fs::write(
        &inventory,
        "id,host,model,notes\nbell,127.47.25.9,KD110,=HYPERLINK(\"http://x\")\n",
    )
    .unwrap();
    let changed = tmp.path().join("changed");
    let out = wo(&changed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("changed since run run-h-25 began"),
        "{}",
        text(&out)
    );
    let md = std::fs::read_to_string(changed.join("work-orders.md")).unwrap();
    assert!(
        !md.contains("HYPERLINK") && !md.contains("front desk"),
        "{md}"
    );
    // The audit's host, not the changed file's.
    assert!(
        md.contains("127.47.25.1") && !md.contains("127.47.25.9"),
        "{md}"
    );

    std::fs::remove_file(&inventory).unwrap();
    let gone = tmp.path().join("gone");
    let out = wo(&gone);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("cannot read the run's inventory"),
        "{}",
        text(&out)
    );
    let csv_rows = std::fs::read_to_string(gone.join("work-orders.csv")).unwrap();
    assert_eq!(csv_rows.lines().count(), 4, "{csv_rows}");

    // A directory that can't be written (a read-only parent), and a path that is a file.
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    let probe = locked.join("probe");
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    if writable {
        eprintln!("note: running as a user who may write anywhere; the read-only case is skipped");
    } else {
        let out = wo(&locked.join("orders"));
        assert_ne!(out.status.code(), Some(0), "{}", text(&out));
        assert!(text(&out).contains("locked/orders"), "{}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
    }
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    let out = wo(&file);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    // Under a file: no directory can be made there, whoever runs it.
    let out = wo(&file.join("orders"));
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(text(&out).contains("a-file/orders"), "{}", text(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// `confirm` of a run's offline device while `resume` of the same run is at work on another:
/// the confirmation is recorded once, resume's own events are all there, neither process
/// gives up on a busy database, and nothing is sent twice (the journal).
#[test]
fn a_confirm_while_resume_of_the_same_run_is_working_records_one_confirmation() {
    use common::bench::{Bench, exit_code, kill_when, run_args};
    use common::truth::{assert_truthful, count_events, latest_run};
    let csv = "id,host,model,mac,sim_fault\n\
               off,127.47.26.1,HS110(EU),50:C7:BF:47:1A:01,offline\n\
               gone,127.47.26.2,HS110(EU),50:C7:BF:47:1A:02,reboot_never_returns\n\
               fine,127.47.26.3,HS110(EU),50:C7:BF:47:1A:03,slow=400\n";
    let bench = Bench::start(csv, csv);
    let db = bench.db();
    let mut run = Bench::spawn(&mut bench.cmd(&run_args("power-cycle", &["--rate", "5"])));
    // Killed once `off` waits for a technician and `gone`'s reboot is acknowledged.
    kill_when(&mut run, || {
        count_events(&db, EventKind::WorkOrder) + count_events(&db, EventKind::Outcome) >= 1
            && count_events(&db, EventKind::Ack) >= 1
    });
    let rec = latest_run(&db);
    let run_id = rec.run.id.clone();
    let mut resume = common::KillOnDrop(
        bench
            .cmd(&["resume", &run_id, "--yes"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let off_done = || {
        latest_run(&db)
            .jobs
            .iter()
            .any(|j| j.device_id == "off" && j.outcome == Some(Outcome::ManualRequired))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !off_done() {
        assert!(
            std::time::Instant::now() < deadline,
            "off never waited for a technician"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = bench.output(&[
        "confirm",
        &run_id,
        "off",
        "--by",
        "Ana",
        "--operator",
        "desk",
    ]);
    let confirm_text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{confirm_text}");
    let code = exit_code(&mut resume);
    let child = std::mem::replace(
        &mut resume.0,
        std::process::Command::new("true").spawn().unwrap(),
    );
    let resume_out = child.wait_with_output().unwrap();
    let resume_text = text(&resume_out);
    assert!(matches!(code, Some(0 | 1)), "{resume_text}");
    for t in [&confirm_text, &resume_text] {
        assert!(
            !t.contains("database is locked") && !t.contains("busy"),
            "{t}"
        );
    }
    let rec = latest_run(&db);
    let journal = bench.journal();
    let on = |id: &str, kind: EventKind| {
        rec.events
            .iter()
            .filter(|e| e.kind == kind && e.device_id.as_deref() == Some(id))
            .count()
    };
    assert_eq!(
        on("off", EventKind::ManualConfirmed),
        1,
        "{confirm_text}\n{resume_text}"
    );
    let off = rec.jobs.iter().find(|j| j.device_id == "off").unwrap();
    assert_eq!(off.outcome, Some(Outcome::ManualConfirmed), "{resume_text}");
    assert_eq!(journal.reboots.get("gone"), Some(&1), "{}", journal.text);
    assert!(
        journal.reboots.get("fine").is_none_or(|n| *n == 1),
        "{}",
        journal.text
    );
    assert!(
        rec.jobs.iter().all(|j| j.outcome.is_some()),
        "{:?}",
        rec.jobs
    );
    for id in ["gone", "fine"] {
        assert_eq!(on(id, EventKind::Outcome), 1, "{id}\n{resume_text}");
    }
    assert_eq!(on("off", EventKind::Outcome), 1, "{resume_text}");
    assert_truthful(&rec, &journal, true, "confirm during resume");
}

/// After a factory reset, a Kasa camera (LINKIE2, as the KD110) is looked at with the Kasa camera default
/// only: the reset one answers unbound and is confirmed, the one still bound refuses it and
/// is flagged, and no account password (let alone in plain text or base64) goes to whatever
/// answers at an address a reset device may have given up: no failed login in the journal.
#[test]
fn after_a_factory_reset_kasa_cameras_are_looked_at_without_the_account_password() {
    let tmp = tempfile::tempdir().unwrap();
    let creds = creds_file(tmp.path());
    let devs = vec![
        Dev {
            credentials: Some("office"),
            mac: Some("74:FE:CE:47:1B:01"),
            ..Dev::manual("bell", "127.47.27.1:10443".into(), "EC60").at("Oak", "1")
        },
        Dev {
            credentials: Some("office"),
            mac: Some("74:FE:CE:47:1B:02"),
            ..Dev::manual("cam", "127.47.27.2:10443".into(), "EC60").at("Oak", "2")
        },
    ];
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
    let db = manual_run(tmp.path(), "run-h-27", Action::FactoryReset, &devs);
    let with_creds = ["--credentials", creds.to_str().unwrap()];
    let out = confirm(
        tmp.path(),
        &[&["run-h-27", "bell", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-h-27");
    assert_eq!(outcome(&rec, "bell"), Some(Outcome::ManualConfirmed));
    assert_eq!(
        events(&rec, EventKind::ManualConfirmed)[0]["seen"]["bound"],
        false
    );
    let out = confirm(
        tmp.path(),
        &[&["run-h-27", "cam", "--by", "Ana"], &with_creds[..]].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = load(&db, "run-h-27");
    assert_eq!(outcome(&rec, "cam"), Some(Outcome::ManualRequired));
    assert_eq!(events(&rec, EventKind::ConfirmationRefused).len(), 1);
    let journal = Journal::read(&journal);
    assert!(journal.no_commands(), "{}", journal.text);
    let failed = journal
        .text
        .lines()
        .filter(|l| l.contains("login_failed"))
        .count();
    // The bound one refuses the default: one failed login, for the one secret anyone knows.
    assert!(
        !journal
            .text
            .lines()
            .any(|l| l.contains("bell") && l.contains("login_failed")),
        "{}",
        journal.text
    );
    assert!(failed <= 1, "{}", journal.text);
    assert!(!contains(&std::fs::read(&db).unwrap(), PASSWORD));
}

/// After a power cycle, cameras are looked at with the profile (at `-vv`): each answers, is
/// confirmed with its alias (hostile: a terminal escape, a forged line, HTML) shown inert, and
/// the password reaches neither the output nor the audit.
#[test]
fn cameras_looked_at_with_the_profile_at_vv_show_their_names_inert_and_leak_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let creds = creds_file(tmp.path());
    let devs = vec![
        Dev {
            credentials: Some("office"),
            mac: Some("40:AE:30:47:1C:01"),
            ..Dev::manual("tapo", "127.47.28.1:8443".into(), "C210").at("Oak", "1")
        },
        Dev {
            credentials: Some("office"),
            mac: Some("74:FE:CE:47:1C:02"),
            ..Dev::manual("kasa", "127.47.28.2:10443".into(), "EC60").at("Oak", "2")
        },
    ];
    let mut sim_csv = String::from("id,host,model,mac,credentials,alias\n");
    for d in &devs {
        sim_csv.push_str(&format!(
            "{},{},{},{},office,\"\u{1b}[2J</td><script>x</script>\nok: forged\"\n",
            d.id,
            d.host,
            d.model,
            d.mac.unwrap()
        ));
    }
    let journal = tmp.path().join("journal.log");
    let _sim = Simulate::start_with(
        &sim_csv,
        &[
            "--credentials",
            creds.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    let db = manual_run(tmp.path(), "run-h-28", Action::PowerCycle, &devs);
    let mut all = String::new();
    for id in ["tapo", "kasa"] {
        let out = confirm(
            tmp.path(),
            &[
                "run-h-28",
                id,
                "--by",
                "Ana",
                "-vv",
                "--credentials",
                creds.to_str().unwrap(),
            ],
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{t}");
        assert!(
            t.contains(&format!("{id}: manual_confirmed, by Ana: answers at")),
            "{t}"
        );
        assert!(
            !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
            "{t}"
        );
        assert!(!contains(&out.stdout, "\nok: forged"), "{t}");
        all.push_str(&t);
    }
    assert!(!all.contains(PASSWORD), "{all}");
    let rec = load(&db, "run-h-28");
    for id in ["tapo", "kasa"] {
        assert_eq!(outcome(&rec, id), Some(Outcome::ManualConfirmed));
    }
    let journal = Journal::read(&journal);
    assert!(journal.no_commands(), "{}", journal.text);
    assert!(
        !journal.text.contains("tapo login_failed"),
        "{}",
        journal.text
    );
    assert!(!contains(&std::fs::read(&db).unwrap(), PASSWORD));
}

/// A checklist of another run with its `run` column deleted, applied to a run with the same
/// device ids: its rows say another action, and a row whose MAC names another device, so the
/// file is refused and nothing is recorded.
#[test]
fn a_checklist_of_another_run_without_its_run_column_is_refused_by_its_action_and_macs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devs = three(30);
    devs[0].mac = Some("74:FE:CE:47:1E:01");
    devs[1].mac = Some("50:C7:BF:47:1E:02");
    // Yesterday's power cycle of the same devices, then today's factory reset.
    manual_run(tmp.path(), "run-h-30a", Action::PowerCycle, &devs);
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-30a");
    let db = manual_run(tmp.path(), "run-h-30b", Action::FactoryReset, &devs);
    let (by, run, id, mac) = (
        col(&header, "confirmed_by"),
        col(&header, "run"),
        col(&header, "id"),
        col(&header, "mac"),
    );
    let keep: Vec<usize> = (0..header.len()).filter(|&c| c != run).collect();
    let strip = |r: &[String]| keep.iter().map(|&c| r[c].clone()).collect::<Vec<_>>();
    let signed: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r[by] = "Ana".into();
            strip(&r)
        })
        .collect();
    write_csv(&tmp.path().join("yesterday.csv"), &strip(&header), &signed);
    let before = load(&db, "run-h-30b");
    let out = confirm(
        tmp.path(),
        &["run-h-30b", "--from", "yesterday.csv", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("this row is for a power-cycle, but run run-h-30b is a factory-reset"),
        "{}",
        text(&out)
    );
    assert_eq!(load(&db, "run-h-30b"), before);

    // Today's list, one row's MAC another device's.
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-30b");
    let mut today: Vec<Vec<String>> = rows.clone();
    for r in &mut today {
        r[by] = "Ana".into();
        if r[id] == "plug" {
            r[mac] = "50:C7:BF:47:1E:99".into();
        }
    }
    write_csv(&tmp.path().join("today.csv"), &header, &today);
    let out = confirm(
        tmp.path(),
        &["run-h-30b", "--from", "today.csv", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("this row gives plug the MAC 50:C7:BF:47:1E:99, but run run-h-30b knows it as 50:C7:BF:47:1E:02"),
        "{}",
        text(&out)
    );
    assert_eq!(load(&db, "run-h-30b"), before);
    // As returned, it confirms all three.
    for r in &mut today {
        if r[id] == "plug" {
            r[mac] = "50:c7:bf:47:1e:02".into();
        }
    }
    write_csv(&tmp.path().join("today.csv"), &header, &today);
    let out = confirm(
        tmp.path(),
        &["run-h-30b", "--from", "today.csv", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        events(&load(&db, "run-h-30b"), EventKind::ManualConfirmed).len(),
        3
    );
}

/// Work orders from hostile inventory text (notes, site and unit with a terminal escape, a
/// forged line, HTML, formula prefixes): every file shows it inert, the CSV has no cell a
/// spreadsheet would run, and the checklist still reads back as returned.
#[test]
fn work_orders_show_hostile_inventory_text_inert_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devs = three(31);
    devs[0].notes = Some("=cmd|' /C calc'!A0\u{1b}[2J</td><script>alert(1)</script>\nok: forged");
    devs[1].notes = Some("@SUM(1+1)");
    devs[1].site = Some("+Oak</h2><img src=x onerror=alert(2)>");
    devs[1].unit = Some("-204\u{202e}gnp.exe");
    let db = manual_run(tmp.path(), "run-h-31", Action::FactoryReset, &devs);
    let out = fleetreset_in(tmp.path())
        .args(["work-orders", "run-h-31", "--db", "audit.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b));
    let dir = tmp.path().join("reports/run-h-31");
    let written = files(&dir);
    assert_eq!(written.len(), 3);
    assert!(
        written.iter().all(|(_, b)| contains(b, "alert(1)")),
        "the notes are in every file"
    );
    for (path, bytes) in &written {
        let name = path.display();
        assert!(!bytes.contains(&0x1b), "{name} holds a raw ESC");
        assert!(!contains(bytes, "\nok: forged"), "{name} has a forged line");
        assert!(!contains(bytes, "\u{202e}"), "{name} holds a raw RLO");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "html" {
            assert!(!contains(bytes, "<script"), "{name} has a live script");
            assert!(!contains(bytes, "<img"), "{name} has a live image");
            assert!(
                !contains(bytes, "</td>") && !contains(bytes, "</h2><"),
                "{name}"
            );
        }
        if ext == "csv" {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(bytes.as_slice());
            for record in reader.records() {
                for cell in record.unwrap().iter() {
                    assert!(
                        !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "{name}: a cell a spreadsheet would run: {cell:?}"
                    );
                }
            }
        }
    }
    // Returned as written, with one row signed by a name with a formula prefix: read back.
    let (header, rows) = work_orders_csv(tmp.path(), "run-h-31");
    let (by, id) = (col(&header, "confirmed_by"), col(&header, "id"));
    let mut back = rows.clone();
    for r in &mut back {
        if r[id] == "plug" {
            r[by] = "'-Ana-".into();
        }
    }
    write_csv(&tmp.path().join("back.csv"), &header, &back);
    let out = confirm(
        tmp.path(),
        &["run-h-31", "--from", "back.csv", "--no-verify"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = load(&db, "run-h-31");
    assert_eq!(events(&rec, EventKind::ManualConfirmed)[0]["by"], "-Ana-");
}
