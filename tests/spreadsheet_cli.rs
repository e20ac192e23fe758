//! Inventories as spreadsheets write them (issue 9, items 1 and 2): Excel's "CSV UTF-8" (BOM,
//! CRLF), a semicolon CSV, a Windows-1252 CSV, a tab-separated file, and `.xlsx` and `.ods`
//! workbooks, through the real binary: `check`, `plan`, and a power-cycle `run` against
//! `fleetreset simulate` of the same file, judged by the simulator's journal.
//!
//! Workbooks are built by `tests/data/make_workbook.py`: `.xlsx` with openpyxl (installed into
//! a virtualenv under target/tmp on first use), `.ods` with Python's standard library.
//!
//! Loopback range 127.37.x.x; each test its own third octet.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::truth::{Journal, assert_truthful, latest_run};
use common::{KillOnDrop, ip, text};
use fleetreset::model::Outcome;
use serde_json::{Value, json};

const FILE: u8 = 37;

/// The ways the one fleet is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// Excel's "CSV UTF-8 (Comma delimited)": a BOM, CRLF line endings.
    Utf8BomCrlf,
    /// Excel's "CSV" where the decimal separator is a comma: `;`, CRLF.
    Semicolon,
    /// Excel's plain "CSV" on Windows: Windows-1252, CRLF.
    Windows1252,
    /// "Text (Tab delimited)", LF.
    Tab,
    Xlsx,
    Ods,
}

const FLAVOURS: [Flavour; 6] = [
    Flavour::Utf8BomCrlf,
    Flavour::Semicolon,
    Flavour::Windows1252,
    Flavour::Tab,
    Flavour::Xlsx,
    Flavour::Ods,
];

impl Flavour {
    fn file_name(self) -> &'static str {
        match self {
            Flavour::Xlsx => "fleet.xlsx",
            Flavour::Ods => "fleet.ods",
            _ => "fleet.csv",
        }
    }

    /// How `check` and messages name the file.
    fn location(self) -> String {
        match self {
            Flavour::Xlsx | Flavour::Ods => format!("{}[Fleet]", self.file_name()),
            _ => self.file_name().to_string(),
        }
    }
}

/// The MAC of p1, typed into the workbooks as a number: twelve digits, `5012345678` and the
/// test's octet in decimal (50:12:34:56:78:11 for test 11).
fn p1_mac_digits(test: u8) -> String {
    assert!(test < 100, "the MAC must stay digits only");
    format!("5012345678{test:02}")
}

/// The fleet's rows, as a spreadsheet shows them: a comment, the header, three devices at
/// `127.37.TEST.1..=3` on two sites, a unit typed as a number (204), one computed by a formula
/// (205), and a note with a line break in it.
fn rows(test: u8) -> Vec<Vec<String>> {
    let r = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    vec![
        r(&["id", "host", "model", "mac", "site", "unit", "notes"]),
        r(&[
            "p1",
            &ip(FILE, test, 1).to_string(),
            "HS110(EU)",
            &p1_mac_digits(test),
            "Résidence Hélène",
            "204",
            "",
        ]),
        r(&[
            "p2",
            &ip(FILE, test, 2).to_string(),
            "HS110(EU)",
            &format!("50:C7:BF:25:{test:02X}:02"),
            "Annex",
            "205",
            "",
        ]),
        r(&[
            "p3",
            &ip(FILE, test, 3).to_string(),
            "HS103(US)",
            "",
            "Résidence Hélène",
            "B-12",
            "rack 2\nshelf 3",
        ]),
    ]
}

/// The fleet as CSV text with `delimiter` and line `ending`, a comment line first.
fn csv_text(test: u8, delimiter: char, ending: &str) -> String {
    let mut text = format!("# Fleet of building A{ending}");
    for row in rows(test) {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                if c.contains('\n') {
                    format!("\"{c}\"")
                } else {
                    c.clone()
                }
            })
            .collect();
        text.push_str(&cells.join(&delimiter.to_string()));
        text.push_str(ending);
    }
    text
}

/// The fleet as a workbook description for `make_workbook.py`: a comment in row 1, row 2
/// empty, the header in row 3; p1's MAC and unit as numbers, p2's unit a formula with its
/// cached value; a styled empty cell far below and right of the data; and a second sheet.
fn workbook_spec(test: u8) -> Value {
    let mut sheet_rows = vec![json!(["# Fleet of building A"]), json!([])];
    for (i, row) in rows(test).into_iter().enumerate() {
        let cells: Vec<Value> = row
            .iter()
            .enumerate()
            .map(|(col, c)| match (i, col) {
                // p1's MAC and unit: number cells.
                (1, 3) | (1, 5) => json!(c.parse::<u64>().unwrap()),
                // p2's unit: the formula's cell, filled below.
                (2, 5) => Value::Null,
                _ if c.is_empty() => Value::Null,
                _ => json!(c),
            })
            .collect();
        sheet_rows.push(Value::Array(cells));
    }
    json!({"sheets": [
        {"name": "Fleet", "rows": sheet_rows, "formulas": {"F5": ["=200+5", 205]},
         "styled_empty": ["J40"]},
        {"name": "Other", "rows": [["id", "host"], ["x", ip(FILE, test, 9).to_string()]]},
    ]})
}

/// Python with openpyxl, in a virtualenv made on first use.
fn python_with_openpyxl() -> PathBuf {
    common::venv::install("openpyxl", "openpyxl==3.1.5", |venv| {
        let python = venv.join("bin/python");
        python.exists().then_some(python)
    })
}

/// Writes a workbook from `spec` to `path` (.xlsx or .ods).
fn make_workbook(spec: &Value, path: &Path) {
    let spec_path = path.with_extension("json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_workbook.py");
    let out = std::process::Command::new(python_with_openpyxl())
        .arg(script)
        .arg(&spec_path)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "make_workbook.py: {}", text(&out));
}

/// Writes the fleet in `flavour` into `dir`, returning its path.
fn write_fleet(dir: &Path, flavour: Flavour, test: u8) -> PathBuf {
    let path = dir.join(flavour.file_name());
    match flavour {
        Flavour::Utf8BomCrlf => {
            std::fs::write(&path, format!("\u{FEFF}{}", csv_text(test, ',', "\r\n"))).unwrap()
        }
        Flavour::Semicolon => std::fs::write(&path, csv_text(test, ';', "\r\n")).unwrap(),
        Flavour::Windows1252 => {
            let text = csv_text(test, ',', "\r\n");
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
            assert!(!unmappable);
            assert!(bytes.contains(&0xE9), "é must be the single byte 0xE9");
            std::fs::write(&path, bytes).unwrap()
        }
        Flavour::Tab => std::fs::write(&path, csv_text(test, '\t', "\n")).unwrap(),
        Flavour::Xlsx | Flavour::Ods => make_workbook(&workbook_spec(test), &path),
    }
    path
}

fn fleetreset(dir: &Path, args: &[&str]) -> Output {
    common::fleetreset()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `fleetreset simulate` of the inventory at `path`, journaling to `journal`; returns once
/// every device listens.
fn simulate(path: &Path, journal: &Path) -> KillOnDrop {
    simulate_with(path, journal, &[])
}

/// `simulate` with `extra` arguments (`--sheet NAME`).
fn simulate_with(path: &Path, journal: &Path, extra: &[&str]) -> KillOnDrop {
    common::simulate_file(path, journal, extra)
}

#[test]
fn every_flavour_checks_and_plans_the_same_devices_sites_and_units() {
    const TEST: u8 = 1;
    let mut plans = Vec::new();
    for flavour in FLAVOURS {
        let dir = tempfile::tempdir().unwrap();
        write_fleet(dir.path(), flavour, TEST);
        let name = flavour.file_name();
        let check = fleetreset(dir.path(), &["check", name]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{flavour:?}: {}",
            text(&check)
        );
        assert_eq!(
            String::from_utf8_lossy(&check.stdout),
            format!(
                "{}: ok, 3 devices (2 sites, 0 powered via another device)\n",
                flavour.location()
            ),
            "{flavour:?}"
        );
        if flavour == Flavour::Windows1252 {
            // One warning, naming p1's line (3: after the comment and the header).
            let warning = stderr(&check);
            assert_eq!(warning.lines().count(), 1, "{warning}");
            assert!(
                warning.starts_with("fleet.csv:3: warning: not UTF-8 (byte 0xE9 at byte offset"),
                "{warning}"
            );
        } else {
            assert_eq!(stderr(&check), "", "{flavour:?}");
        }

        let plan = fleetreset(dir.path(), &["plan", name, "--action", "power-cycle"]);
        assert_eq!(plan.status.code(), Some(0), "{flavour:?}: {}", text(&plan));
        let shown = String::from_utf8_lossy(&plan.stdout).into_owned();
        for expected in [
            format!(
                "p1 (HS110(EU), Résidence Hélène / 204) at {}: power-cycle",
                ip(FILE, TEST, 1)
            ),
            format!("check the device reports MAC 50:12:34:56:78:{TEST:02}"),
            format!("p2 (HS110(EU), Annex / 205) at {}", ip(FILE, TEST, 2)),
            format!(
                "p3 (HS103(US), Résidence Hélène / B-12) at {}",
                ip(FILE, TEST, 3)
            ),
            "3 device(s) planned for power-cycle".to_string(),
        ] {
            assert!(
                shown.contains(&expected),
                "{flavour:?}: {expected}\n{shown}"
            );
        }
        let json = fleetreset(
            dir.path(),
            &["plan", name, "--action", "power-cycle", "--json"],
        );
        let views: Value = serde_json::from_slice(&json.stdout).unwrap();
        plans.push((flavour, shown, views));
    }
    let (_, first_text, first_json) = &plans[0];
    for (flavour, shown, views) in &plans[1..] {
        assert_eq!(shown, first_text, "{flavour:?} plans differently");
        assert_eq!(views, first_json, "{flavour:?} plans differently");
    }
    // The note's line break survived every flavour's quoting (CRLF files keep their own).
    let notes =
        fleetreset::inventory::parse(Path::new("x.csv"), csv_text(TEST, ',', "\n").as_bytes())
            .unwrap();
    assert_eq!(notes.devices[2].notes.as_deref(), Some("rack 2\nshelf 3"));
}

/// `run --action power-cycle` of the fleet in `flavour` against `simulate` of the same file:
/// every device rebooted exactly once, as the journal shows, and recorded as succeeded.
fn power_cycle(flavour: Flavour, test: u8) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fleet(dir.path(), flavour, test);
    let journal_path = dir.path().join("journal.log");
    let _sim = simulate(&path, &journal_path);
    let mut args = vec!["run", flavour.file_name(), "--action", "power-cycle"];
    args.extend_from_slice(common::REHEARSAL);
    let out = fleetreset(dir.path(), &args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{flavour:?}: {t}");
    let journal = Journal::read(&journal_path);
    for id in ["p1", "p2", "p3"] {
        assert_eq!(
            journal.reboots.get(id),
            Some(&1),
            "{flavour:?}: {id}\n{}\n{t}",
            journal.text
        );
    }
    assert_eq!(journal.reboots.len(), 3, "{}", journal.text);
    assert!(journal.resets.is_empty(), "{}", journal.text);
    let record = latest_run(&dir.path().join("fleetreset.db"));
    assert_truthful(&record, &journal, true, &format!("{flavour:?}"));
    assert_eq!(record.jobs.len(), 3);
    for job in &record.jobs {
        assert_eq!(
            job.outcome,
            Some(Outcome::Succeeded),
            "{flavour:?}: {job:?}"
        );
    }
    assert_eq!(record.run.inventory_path, flavour.file_name());
    // The SHA-256 is of the file's exact bytes, so resume can tell whether it changed.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        record.run.inventory_sha256,
        fleetreset::engine::execute::sha256_hex(&bytes)
    );
    record.run.parameters["inventory"].clone()
}

#[test]
fn a_power_cycle_of_excels_csv_utf8_reboots_each_device_once() {
    let read = power_cycle(Flavour::Utf8BomCrlf, 2);
    assert_eq!(
        read,
        json!({"delimiter": 44, "encoding": "auto", "sheet": null})
    );
}

#[test]
fn a_power_cycle_of_a_semicolon_csv_reboots_each_device_once() {
    let read = power_cycle(Flavour::Semicolon, 3);
    // Stored as found, so resume splits the file the same way.
    assert_eq!(read["delimiter"], json!(59));
}

#[test]
fn a_power_cycle_of_a_windows_1252_csv_reboots_each_device_once() {
    power_cycle(Flavour::Windows1252, 4);
}

#[test]
fn a_power_cycle_of_a_tab_separated_file_reboots_each_device_once() {
    let read = power_cycle(Flavour::Tab, 5);
    assert_eq!(read["delimiter"], json!(9));
}

#[test]
fn a_power_cycle_of_an_xlsx_workbook_reboots_each_device_once() {
    let read = power_cycle(Flavour::Xlsx, 6);
    assert_eq!(
        read,
        json!({"delimiter": null, "encoding": "auto", "sheet": "Fleet"})
    );
}

#[test]
fn a_power_cycle_of_an_ods_workbook_reboots_each_device_once() {
    let read = power_cycle(Flavour::Ods, 7);
    assert_eq!(read["sheet"], json!("Fleet"));
}

#[test]
fn workbook_problems_name_the_sheet_and_the_row_the_spreadsheet_shows() {
    const TEST: u8 = 8;
    let dir = tempfile::tempdir().unwrap();
    let spec = json!({"sheets": [{"name": "Fleet", "rows": [
        [],
        ["id", "host", "model", "mac"],
        ["p1", ip(FILE, TEST, 1).to_string(), "HS110(EU)", "50:C7:BF:25:08:01"],
        ["p2", ip(FILE, TEST, 2).to_string(), "HS110(EU)", "#N/A"],
        [],
        ["p1", ip(FILE, TEST, 3).to_string(), "HS110(EU)", null, null, "stray"],
    ]}]});
    for name in ["fleet.xlsx", "fleet.ods"] {
        make_workbook(&spec, &dir.path().join(name));
        let out = fleetreset(dir.path(), &["check", name]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let shown = stderr(&out);
        let lines: Vec<&str> = shown.lines().collect();
        if name == "fleet.xlsx" {
            // openpyxl writes "#N/A" as an error cell; the .ods writer here writes it as text,
            // which the MAC parser refuses instead.
            assert_eq!(
                lines[0],
                "fleet.xlsx[Fleet]:4: cell D4 (\"mac\") holds the error #N/A instead of a \
                 value; fix what its formula refers to, or type the value",
                "{shown}"
            );
        } else {
            assert!(lines[0].starts_with("fleet.ods[Fleet]:4: "), "{shown}");
        }
        assert_eq!(
            lines[1],
            format!(
                "{name}[Fleet]:6: cell F6 holds \"stray\", but the header row names no column \
                 there; name the column in the header row, or clear the cell"
            ),
            "{shown}"
        );
        assert_eq!(lines[2], format!("{name}[Fleet]: 2 problems"), "{shown}");
    }
    // Nothing is sent for a workbook with problems.
    let out = fleetreset(
        dir.path(),
        &["run", "fleet.xlsx", "--action", "power-cycle"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("fleet.xlsx[Fleet]:4: cell D4"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("fleetreset.db").exists());
}

#[test]
fn sheets_are_chosen_by_name_and_options_that_do_not_fit_the_file_are_refused() {
    const TEST: u8 = 9;
    let dir = tempfile::tempdir().unwrap();
    write_fleet(dir.path(), Flavour::Xlsx, TEST);
    write_fleet(dir.path(), Flavour::Semicolon, TEST);
    std::fs::copy(
        dir.path().join("fleet.csv"),
        dir.path().join("renamed.xlsx"),
    )
    .unwrap();

    let other = fleetreset(dir.path(), &["check", "fleet.xlsx", "--sheet", "Other"]);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other));
    assert_eq!(
        String::from_utf8_lossy(&other.stdout),
        "fleet.xlsx[Other]: ok, 1 device (0 sites, 0 powered via another device)\n"
    );
    for (args, expected) in [
        (
            &["check", "fleet.xlsx", "--sheet", "Plugs"][..],
            "fleetreset: error: cannot read inventory fleet.xlsx: no sheet is named \"Plugs\"; \
             the sheets are \"Fleet\", \"Other\"",
        ),
        (
            &[
                "plan",
                "fleet.csv",
                "--action",
                "power-cycle",
                "--sheet",
                "Fleet",
            ],
            "fleetreset: error: --sheet is for workbooks (.xlsx, .xlsm, .ods); fleet.csv is \
             read as CSV, which has no sheets",
        ),
        (
            &["check", "fleet.xlsx", "--delimiter", ";"],
            "fleetreset: error: --delimiter is for CSV files; fleet.xlsx is an .xlsx \
             workbook, whose cells need none",
        ),
        (
            &["check", "fleet.xlsx", "--encoding", "utf-8"],
            "fleetreset: error: --encoding is for CSV files; fleet.xlsx is an .xlsx workbook, \
             which says its own encoding",
        ),
        (
            &["check", "renamed.xlsx"],
            "fleetreset: error: cannot read inventory renamed.xlsx: not an .xlsx workbook, or \
             a damaged one (a CSV file named so?): ",
        ),
    ] {
        let out = fleetreset(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).starts_with(expected),
            "{args:?}: {}",
            text(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out));
    }
}

#[test]
fn utf8_only_refuses_windows_1252_and_a_wrong_delimiter_gets_a_hint() {
    const TEST: u8 = 10;
    let dir = tempfile::tempdir().unwrap();
    write_fleet(dir.path(), Flavour::Windows1252, TEST);
    let out = fleetreset(dir.path(), &["check", "fleet.csv", "--encoding", "utf-8"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = stderr(&out);
    let lines: Vec<&str> = shown.lines().collect();
    assert!(
        lines[0].starts_with("fleet.csv:3: invalid UTF-8 (byte 0xE9 at byte offset"),
        "{shown}"
    );
    assert!(
        lines[1].starts_with("fleet.csv:5: invalid UTF-8"),
        "{shown}"
    );
    assert_eq!(lines[2], "fleet.csv: 2 problems", "{shown}");
    // Said outright, Windows-1252 needs no warning.
    let out = fleetreset(
        dir.path(),
        &["check", "fleet.csv", "--encoding", "windows-1252"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stderr(&out), "");

    let semi = dir.path().join("semi");
    std::fs::create_dir(&semi).unwrap();
    write_fleet(&semi, Flavour::Semicolon, TEST);
    let out = fleetreset(&semi, &["check", "fleet.csv", "--delimiter", ","]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "fleet.csv:2: the header has one column when split at ','; is the file separated \
             by ';'? pass --delimiter ';', or leave it out to detect it"
        ),
        "{}",
        text(&out)
    );
    let out = fleetreset(&semi, &["check", "fleet.csv", "--delimiter", ";"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn discover_update_of_a_workbook_writes_csv_to_out_and_never_the_workbook() {
    const TEST: u8 = 11;
    let dir = tempfile::tempdir().unwrap();
    // The device, where DHCP put it now.
    let served = dir.path().join("served.csv");
    std::fs::write(
        &served,
        format!(
            "id,host,model,mac\np1,{},HS110(EU),50:C7:BF:25:0B:01\n",
            ip(FILE, TEST, 1)
        ),
    )
    .unwrap();
    let _sim = simulate(&served, &dir.path().join("journal.log"));
    // The inventory still has it at .5; p2 is not on the network.
    let spec = json!({"sheets": [{"name": "Fleet", "rows": [
        ["id", "host", "model", "mac", "unit"],
        ["p1", ip(FILE, TEST, 5).to_string(), "HS110(EU)", "50:C7:BF:25:0B:01", 204],
        ["p2", ip(FILE, TEST, 6).to_string(), "HS110(EU)", "50:C7:BF:25:0B:02", 205],
    ]}]});
    let book = dir.path().join("fleet.xlsx");
    make_workbook(&spec, &book);
    let before = std::fs::read(&book).unwrap();
    let target = ip(FILE, TEST, 1).to_string();
    let discover = |extra: &[&str]| {
        let mut args = vec!["discover", "--target", &target, "--timeout", "1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--update", "fleet.xlsx"]);
        fleetreset(dir.path(), &args)
    };

    let out = discover(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "fleet.xlsx is a workbook, and discover never rewrites one; pass --out FILE.csv"
        ),
        "{}",
        text(&out)
    );

    let out = discover(&["--out", "updated.csv"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "moved p1: {} -> {} (MAC 50:C7:BF:25:0B:01)",
            ip(FILE, TEST, 5),
            ip(FILE, TEST, 1)
        )),
        "{t}"
    );
    assert!(
        stdout.contains(&format!(
            "not found: p2 (MAC 50:C7:BF:25:0B:02) at {}, fleet.xlsx[Fleet]:3",
            ip(FILE, TEST, 6)
        )),
        "{t}"
    );
    assert_eq!(
        std::fs::read(&book).unwrap(),
        before,
        "the workbook was rewritten"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("updated.csv")).unwrap(),
        format!(
            "id,host,model,mac,unit\np1,{},HS110(EU),50:C7:BF:25:0B:01,204\n\
             p2,{},HS110(EU),50:C7:BF:25:0B:02,205\n",
            ip(FILE, TEST, 1),
            ip(FILE, TEST, 6)
        )
    );
    let check = fleetreset(dir.path(), &["check", "updated.csv"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    // Discovery sends nothing disruptive.
    assert!(Journal::read(&dir.path().join("journal.log")).no_commands());
}

#[test]
fn resume_reads_the_sheet_the_run_read() {
    const TEST: u8 = 12;
    let dir = tempfile::tempdir().unwrap();
    // The fleet is the second sheet; the first is another list, which must not be run.
    let host = |n| ip(FILE, TEST, n).to_string();
    let spec = json!({"sheets": [
        {"name": "Other", "rows": [["id", "host", "model"], ["x", host(9), "HS110(EU)"]]},
        {"name": "Fleet", "rows": [
            ["id", "host", "model", "mac", "sim_fault"],
            ["canary", host(1), "HS103(US)", "50:C7:BF:25:0C:01", "offline"],
            ["p2", host(2), "HS110(EU)", "50:C7:BF:25:0C:02"],
            ["p3", host(3), "HS110(EU)", "50:C7:BF:25:0C:03"],
        ]},
    ]});
    let book = dir.path().join("fleet.xlsx");
    make_workbook(&spec, &book);
    let journal_path = dir.path().join("journal.log");
    let _sim = simulate_with(&book, &journal_path, &["--sheet", "Fleet"]);

    let mut args = vec![
        "run",
        "fleet.xlsx",
        "--sheet",
        "Fleet",
        "--action",
        "power-cycle",
        "--canary",
        "1",
    ];
    args.extend_from_slice(common::REHEARSAL);
    let out = fleetreset(dir.path(), &args);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the canary stops the run: {}",
        text(&out)
    );
    assert!(Journal::read(&journal_path).no_commands());

    let out = fleetreset(dir.path(), &["resume", "latest"]);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the canary still needs a person: {t}"
    );
    let journal = Journal::read(&journal_path);
    let record = latest_run(&dir.path().join("fleetreset.db"));
    // (`assert_truthful` counts one outcome event per job; a skip reopened by resume has two.)
    assert!(journal.resets.is_empty(), "{}", journal.text);
    assert_eq!(journal.reboots.get("p2"), Some(&1), "{}", journal.text);
    assert_eq!(journal.reboots.get("p3"), Some(&1), "{}", journal.text);
    assert_eq!(journal.reboots.len(), 2, "{}", journal.text);
    let outcomes: Vec<(&str, Option<Outcome>)> = record
        .jobs
        .iter()
        .map(|j| (j.device_id.as_str(), j.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            // Offline: a work order, which still stopped the canary batch.
            ("canary", Some(Outcome::ManualRequired)),
            ("p2", Some(Outcome::Succeeded)),
            ("p3", Some(Outcome::Succeeded)),
        ]
    );
}

/// A workbook whose first sheet is hidden (an old list someone hid rather than deleted): a run
/// without `--sheet` reads the first sheet a person sees, and never acts on the hidden one.
fn hidden_first_sheet_is_not_read(name: &str, test: u8) {
    let dir = tempfile::tempdir().unwrap();
    let host = |n| ip(FILE, test, n).to_string();
    let mac = |n: u8| format!("50:C7:BF:25:{test:02X}:{n:02X}");
    // Both devices are on the network; only p1 is in the sheet a person sees.
    let served = dir.path().join("served.csv");
    std::fs::write(
        &served,
        format!(
            "id,host,model,mac\nold,{},HS110(EU),{}\np1,{},HS110(EU),{}\n",
            host(9),
            mac(9),
            host(1),
            mac(1)
        ),
    )
    .unwrap();
    let journal_path = dir.path().join("journal.log");
    let _sim = simulate(&served, &journal_path);
    let spec = json!({"sheets": [
        {"name": "Old", "hidden": true, "rows": [
            ["id", "host", "model", "mac"],
            ["old", host(9), "HS110(EU)", mac(9)],
        ]},
        {"name": "Fleet", "rows": [
            ["id", "host", "model", "mac"],
            ["p1", host(1), "HS110(EU)", mac(1)],
        ]},
    ]});
    let book = dir.path().join(name);
    make_workbook(&spec, &book);

    let out = fleetreset(dir.path(), &["check", name]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{name}[Fleet]: ok, 1 device (0 sites, 0 powered via another device)\n"),
        "{}",
        text(&out)
    );
    let mut args = vec!["run", name, "--action", "power-cycle"];
    args.extend_from_slice(common::REHEARSAL);
    let out = fleetreset(dir.path(), &args);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let journal = Journal::read(&journal_path);
    assert_eq!(journal.reboots.get("p1"), Some(&1), "{}\n{t}", journal.text);
    assert_eq!(journal.reboots.len(), 1, "{}\n{t}", journal.text);
    assert!(journal.resets.is_empty(), "{}", journal.text);
    let record = latest_run(&dir.path().join("fleetreset.db"));
    assert_eq!(record.run.parameters["inventory"]["sheet"], json!("Fleet"));
    // Named, the hidden sheet is read: it is the user's choice.
    let out = fleetreset(dir.path(), &["check", name, "--sheet", "Old"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_hidden_first_sheet_of_an_xlsx_workbook_is_not_read() {
    hidden_first_sheet_is_not_read("fleet.xlsx", 13);
}

#[test]
fn a_hidden_first_sheet_of_an_ods_workbook_is_not_read() {
    hidden_first_sheet_is_not_read("fleet.ods", 14);
}

/// openpyxl writes `ws["D3"] = "=D2"` with no cached value: calamine reads the cell as empty.
/// Read so, p2 would lose its MAC and be acted on without its identity checked; the formula is
/// a problem instead, in every column, in `.xlsx` and `.ods` alike.
#[test]
fn a_formula_openpyxl_wrote_without_a_cached_value_is_a_problem_not_an_empty_mac() {
    const TEST: u8 = 15;
    let dir = tempfile::tempdir().unwrap();
    let spec = json!({"sheets": [{"name": "Fleet", "rows": [
        ["id", "host", "model", "mac", "notes"],
        ["p1", ip(FILE, TEST, 1).to_string(), "HS110(EU)", "50:C7:BF:25:0F:01"],
        ["p2", ip(FILE, TEST, 2).to_string(), "HS110(EU)", null, "ok"],
        ["p3", ip(FILE, TEST, 3).to_string(), "HS110(EU)", "50:C7:BF:25:0F:03", null],
    ], "formulas": {"D3": ["=D2", null], "E4": ["=A1", null]}}]});
    for name in ["fleet.xlsx", "fleet.ods"] {
        make_workbook(&spec, &dir.path().join(name));
        let out = fleetreset(dir.path(), &["check", name]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let shown = stderr(&out);
        let lines: Vec<&str> = shown.lines().collect();
        let advice = "but no value computed for it (the file was written by a program that \
                      computes nothing); open and save it in a spreadsheet program, or type the \
                      value";
        assert_eq!(
            lines,
            [
                format!("{name}[Fleet]:3: cell D3 (\"mac\") holds the formula \"=D2\" {advice}"),
                format!("{name}[Fleet]:4: cell E4 (\"notes\") holds the formula \"=A1\" {advice}"),
                format!("{name}[Fleet]: 2 problems"),
            ],
            "{shown}"
        );
    }
    let out = fleetreset(
        dir.path(),
        &["run", "fleet.xlsx", "--action", "power-cycle"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("cell D3 (\"mac\")"), "{}", text(&out));
    assert!(!dir.path().join("fleetreset.db").exists());
}

/// A site typed once and merged down over its rows (a common way to group a list) shows on
/// every row, but calamine reads it in the first cell only: the rows below would silently have
/// no site. Merged cells holding a value are a problem on each row they cover; a merged comment
/// row (a title) is fine.
#[test]
fn merged_cells_over_data_rows_are_a_problem_on_each_row_they_cover() {
    const TEST: u8 = 16;
    let dir = tempfile::tempdir().unwrap();
    let host = |n| ip(FILE, TEST, n).to_string();
    let spec = json!({"sheets": [{"name": "Fleet", "rows": [
        ["# Site A, first floor"],
        ["id", "host", "model", "mac", "site"],
        ["p1", host(1), "HS110(EU)", "50:C7:BF:25:10:01", "a"],
        ["p2", host(2), "HS110(EU)", "50:C7:BF:25:10:02"],
        ["p3", host(3), "HS110(EU)", "50:C7:BF:25:10:03", "b"],
    ], "merged": ["A1:E1", "E3:E4"]}]});
    let merged = "cells E3:E4 are merged: their value shows across them but is in E3 only; \
                  unmerge them and type the value in each cell";
    for name in ["fleet.xlsx", "fleet.ods"] {
        make_workbook(&spec, &dir.path().join(name));
        let out = fleetreset(dir.path(), &["check", name]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let shown = stderr(&out);
        assert_eq!(
            shown.lines().collect::<Vec<_>>(),
            [
                format!("{name}[Fleet]:3: {merged}"),
                format!("{name}[Fleet]:4: {merged}"),
                format!("{name}[Fleet]: 2 problems"),
            ],
            "{shown}"
        );
    }
    let out = fleetreset(
        dir.path(),
        &["run", "fleet.xlsx", "--action", "power-cycle"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!dir.path().join("fleetreset.db").exists());
}

/// An old plug's row hidden (or filtered out) rather than deleted: calamine reads it as any
/// other, in `.xlsx` and `.ods`, and a run would reset a device no one reading the sheet sees, as with a hidden
/// sheet. A hidden row is a problem; a hidden comment row is not.
#[test]
fn a_hidden_row_of_a_workbook_sheet_is_a_problem_not_a_device() {
    const TEST: u8 = 17;
    let dir = tempfile::tempdir().unwrap();
    let host = |n| ip(FILE, TEST, n).to_string();
    let spec = json!({"sheets": [{"name": "Fleet", "rows": [
        ["id", "host", "model", "mac"],
        ["p1", host(1), "HS110(EU)", "50:C7:BF:25:11:01"],
        ["old", host(2), "HS110(EU)", "50:C7:BF:25:11:02"],
        ["# retired"],
        ["p3", host(3), "HS110(EU)", "50:C7:BF:25:11:03"],
    ], "hidden_rows": [3, 4]}]});
    for name in ["fleet.xlsx", "fleet.ods"] {
        make_workbook(&spec, &dir.path().join(name));
        let out = fleetreset(dir.path(), &["check", name]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let shown = stderr(&out);
        assert_eq!(
            shown.lines().collect::<Vec<_>>(),
            [
                format!(
                    "{name}[Fleet]:3: row 3 is hidden (or filtered out): whoever reads the \
                     sheet does not see it; unhide it, delete it, or make it a comment by \
                     starting its first cell with #"
                ),
                format!("{name}[Fleet]: 1 problem"),
            ],
            "{shown}"
        );
    }
    let out = fleetreset(
        dir.path(),
        &["run", "fleet.xlsx", "--action", "factory-reset", "--yes"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!dir.path().join("fleetreset.db").exists());
}

/// A semicolon CSV saved again with commas after its run stopped: resume reads it split at
/// ';' as the run did, finds one column, and says to pass --delimiter, which resume has not;
/// `check`, reading afresh, finds nothing wrong. Resume says why it reads the file so.
#[test]
fn resume_of_a_csv_saved_again_with_another_delimiter_says_it_reads_it_as_the_run_did() {
    const TEST: u8 = 18;
    let dir = tempfile::tempdir().unwrap();
    let host = |n| ip(FILE, TEST, n).to_string();
    let rows = [
        ["id", "host", "model", "mac", "sim_fault"].map(String::from),
        [
            "canary",
            &host(1),
            "HS103(US)",
            "50:C7:BF:25:12:01",
            "offline",
        ]
        .map(String::from),
        ["p2", &host(2), "HS110(EU)", "50:C7:BF:25:12:02", ""].map(String::from),
    ];
    let written = |d: &str| rows.iter().map(|r| r.join(d) + "\r\n").collect::<String>();
    let path = dir.path().join("fleet.csv");
    std::fs::write(&path, written(";")).unwrap();
    let journal_path = dir.path().join("journal.log");
    let _sim = simulate(&path, &journal_path);
    let mut args = vec![
        "run",
        "fleet.csv",
        "--action",
        "power-cycle",
        "--canary",
        "1",
    ];
    args.extend_from_slice(common::REHEARSAL);
    let out = fleetreset(dir.path(), &args);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    std::fs::write(&path, written(",")).unwrap();
    let out = fleetreset(dir.path(), &["resume", "latest", "--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let run = latest_run(&dir.path().join("fleetreset.db")).run.id;
    assert!(
        stderr(&out).contains(&format!(
            "fleetreset: fleet.csv changed since run {run} began, and resume reads it as the run \
             did (fields split at ';'); restore it as the run read it to resume, or start a new \
             run"
        )),
        "{}",
        text(&out)
    );
    assert!(Journal::read(&journal_path).no_commands());
    let out = fleetreset(dir.path(), &["check", "fleet.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
