//! Inventories saved by a real spreadsheet program. `inventories/oak-house.xlsx` and `.ods` are
//! what LibreOffice Calc 7.4 wrote when it opened `inventories/oak-house.csv` and saved it
//! (`soffice --headless --convert-to xlsx|ods oak-house.csv`): its own cell types (the unit
//! numbers are number cells), styles, shared strings and sheet name, not what a test library
//! chose. fleetreset must read them as the CSV they came from, and a run of either must reach
//! each device once. Hosts are 127.41.1.x.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::text;
use common::truth::{Journal, assert_truthful, latest_run};
use fleetreset::model::Outcome;

const IDS: [&str; 6] = [
    "oak-201-plug",
    "oak-202-plug",
    "oak-203-strip",
    "oak-203-router",
    "oak-204-switch",
    "oak-205-bulb",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("inventories")
        .join(name)
}

fn fleetreset_at(dir: &Path, args: &[&str]) -> Output {
    common::fleetreset()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn workbooks_saved_by_libreoffice_check_and_plan_as_the_csv_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut plans = Vec::new();
    for (name, location) in [
        ("oak-house.csv", "oak-house.csv"),
        ("oak-house.xlsx", "oak-house.xlsx[oak-house]"),
        ("oak-house.ods", "oak-house.ods[oak-house]"),
    ] {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
        let out = fleetreset_at(dir.path(), &["check", name]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{location}: ok, 6 devices (1 site, 1 powered via another device)\n"),
            "{name}"
        );
        assert!(out.stderr.is_empty(), "{name}: {}", text(&out));
        let out = fleetreset_at(
            dir.path(),
            &["plan", name, "--action", "factory-reset", "--json"],
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows: Vec<(String, String, String, String)> = plan
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                let s = |k: &str| j[k].as_str().unwrap_or_default().to_string();
                (s("id"), s("site"), s("unit"), s("mac"))
            })
            .collect();
        // Calc's number cells come back as the digits a person typed, not `201.0`.
        assert_eq!(
            rows[0],
            (
                "oak-201-plug".to_string(),
                "Résidence Oak House".to_string(),
                "201".to_string(),
                "50:C7:BF:41:01:01".to_string()
            ),
            "{name}: {plan}"
        );
        assert_eq!(
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            IDS,
            "{name}"
        );
        plans.push((name, plan));
    }
    for (name, plan) in &plans[1..] {
        assert_eq!(plan, &plans[0].1, "{name} plans otherwise than the CSV");
    }
}

#[test]
fn a_power_cycle_of_each_libreoffice_workbook_reboots_each_device_once() {
    for name in ["oak-house.xlsx", "oak-house.ods"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::copy(fixture(name), &path).unwrap();
        let journal_path = dir.path().join("journal.log");
        let sim = common::simulate_file(&path, &journal_path, &[]);
        let mut args = vec!["run", name, "--action", "power-cycle"];
        args.extend_from_slice(common::REHEARSAL);
        let out = fleetreset_at(dir.path(), &args);
        drop(sim);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {t}");
        let journal = Journal::read(&journal_path);
        for id in IDS {
            assert_eq!(
                journal.reboots.get(id),
                Some(&1),
                "{name}: {id}\n{}",
                journal.text
            );
        }
        assert_eq!(journal.reboots.len(), IDS.len(), "{}", journal.text);
        assert!(journal.resets.is_empty(), "{}", journal.text);
        let record = latest_run(&dir.path().join("fleetreset.db"));
        assert_truthful(&record, &journal, true, name);
        assert!(
            record
                .jobs
                .iter()
                .all(|j| j.outcome == Some(Outcome::Succeeded)),
            "{name}: {:?}",
            record.jobs
        );
        assert_eq!(
            record.run.inventory_sha256,
            fleetreset::engine::execute::sha256_hex(&std::fs::read(&path).unwrap())
        );
    }
}
