//! `fleetreset audit sample`: a verifier's re-check of a random share of a factory-reset run's
//! sanitized devices, against the simulator on loopback. Every test reads the simulator's
//! journal: the sample only reads, it never sends a device a command. Addresses: 127.48.1-9.x.

mod common;

use std::process::Output;

use common::bench::{Bench, run_args};
use common::truth::{Journal, latest_run};
use common::{Simulate, fleetreset_in, plugs, text};
use fleetreset::model::Outcome;
use fleetreset::store::RunRecord;
use serde_json::{Value, json};

const FILE: u8 = 48;

fn sample(b: &Bench, args: &[&str]) -> Output {
    let mut full = vec!["audit", "sample", "latest"];
    full.extend_from_slice(args);
    // A home of the test's own: no user's credentials file is read.
    b.cmd(&full).env("HOME", b.dir.path()).output().unwrap()
}

fn details<'a>(record: &'a RunRecord, kind: &str) -> Vec<(Option<&'a str>, &'a Value)> {
    record
        .events
        .iter()
        .filter(|e| e.kind.as_str() == kind)
        .map(|e| (e.device_id.as_deref(), &e.detail))
        .collect()
}

fn sanitized_run(b: &Bench) -> RunRecord {
    let out = b.output(&run_args("factory-reset", &["--operator", "alice"]));
    let record = latest_run(&b.db());
    assert!(
        record
            .jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{:?}\n{}",
        record.jobs,
        text(&out)
    );
    record
}

#[test]
fn a_sample_by_another_person_records_what_each_drawn_device_answered_and_sends_nothing() {
    let csv = plugs(FILE, 1, 4, "reset_stays");
    let b = Bench::start(&csv, &csv);
    let run = sanitized_run(&b);
    // Each reset device restarts into its defaults, its relay off; the simulator journals a
    // relay change when the device next answers a request. Read-only probes (a dry run, into
    // a database of its own) until all four have, so the journal is still before the sample.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.journal().outlet_offs.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "{}", b.journal().text);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let probe = b.output(&run_args(
            "factory-reset",
            &["--dry-run", "--db", "probe.db", "--operator", "alice"],
        ));
        assert!(
            matches!(probe.status.code(), Some(0 | 1)),
            "{}",
            text(&probe)
        );
    }
    assert_eq!(b.journal().resets.values().sum::<usize>(), 4);
    let events_after_run = run.events.len();
    let journal_after_run = b.journal();
    assert_eq!(journal_after_run.resets.values().sum::<usize>(), 4);

    // The run's operator can't check their own work, whatever the case and spaces.
    let own = sample(
        &b,
        &["--percent", "50", "--verifier", "  ALICE ", "--seed", "7"],
    );
    assert_eq!(own.status.code(), Some(2), "{}", text(&own));
    assert!(
        String::from_utf8_lossy(&own.stderr)
            .contains("the verifier must be someone other than the run's operator (alice)"),
        "{}",
        text(&own)
    );
    assert!(own.stdout.is_empty(), "{}", text(&own));
    assert_eq!(latest_run(&b.db()).events.len(), events_after_run);

    let out = sample(
        &b,
        &["--percent", "50", "--verifier", "Vera Quinn", "--seed", "7"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let record = latest_run(&b.db());
    let drawn = details(&record, "sample_drawn");
    assert_eq!(drawn.len(), 1);
    let (device, d) = drawn[0];
    assert_eq!(device, None);
    assert_eq!(d["verifier"], "Vera Quinn");
    assert_eq!(d["operator"], "alice");
    assert_eq!(d["seed"], "7");
    assert_eq!(d["percent"], json!(50.0));
    assert_eq!(d["population"], 4);
    assert_eq!(d["size"], 2);
    assert_eq!(
        d["draw"],
        "chacha20 seed_from_u64, population by inventory position, partial Fisher-Yates"
    );
    let devices: Vec<String> = d["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(devices.len(), 2);
    assert_ne!(devices[0], devices[1]);

    let checked = details(&record, "sample_checked");
    assert_eq!(checked.len(), 2, "{checked:?}");
    for ((device, c), expected) in checked.iter().zip(&devices) {
        assert_eq!(*device, Some(expected.as_str()));
        assert_eq!(c["verifier"], "Vera Quinn");
        assert_eq!(c["result"], "passed", "{c}");
        assert!(
            c["address"].as_str().unwrap().starts_with("127.48.1."),
            "{c}"
        );
        assert!(c["evidence"].as_str().unwrap().contains("unbound"), "{c}");
        assert_eq!(c["post"]["summary"]["bound"], false, "{c}");
        assert!(stdout.contains(expected.as_str()), "{stdout}");
    }
    let finished = details(&record, "sample_finished");
    assert_eq!(
        *finished[0].1,
        json!({"verifier": "Vera Quinn", "result": "passed", "checked": 2, "passed": 2, "failed": 0, "unreachable": 0})
    );
    assert!(
        stdout.lines().next().unwrap().starts_with("DEVICE"),
        "{stdout}"
    );
    assert!(
        stdout.contains("result: passed (2 checked: 2 passed, 0 failed, 0 unreachable; seed 7)"),
        "{stdout}"
    );
    // The jobs are as the run left them.
    assert_eq!(record.jobs, run.jobs);

    // The same seed draws the same devices, recorded as a second sample.
    let again = sample(
        &b,
        &["--percent", "50", "--verifier", "Vera Quinn", "--seed", "7"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let record = latest_run(&b.db());
    let drawn = details(&record, "sample_drawn");
    assert_eq!(drawn.len(), 2);
    assert_eq!(drawn[1].1["devices"], drawn[0].1["devices"]);
    // And without a seed, one is drawn and recorded; the whole run at 100 %.
    let all = sample(&b, &["--percent", "100%", "--verifier", "Vera Quinn"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let record = latest_run(&b.db());
    let third = details(&record, "sample_drawn")[2].1;
    assert!(
        third["seed"].as_str().unwrap().parse::<u64>().is_ok(),
        "{third}"
    );
    assert_eq!(third["size"], 4);

    // Nothing was sent to any device: the journal is as the run left it.
    assert_eq!(b.journal(), journal_after_run);
}

#[test]
fn a_sampled_device_still_bound_with_its_old_alias_fails_the_sample_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let reset = plugs(FILE, 2, 2, "reset_stays");
    std::fs::write(tmp.path().join("fleet.csv"), &reset).unwrap();
    let journal = tmp.path().join("journal.log");
    let sim = Simulate::start_with(&reset, &["--journal", journal.to_str().unwrap()]);
    let out = fleetreset_in(tmp.path())
        .args(run_args("factory-reset", &["--operator", "alice"]))
        .output()
        .unwrap();
    let db = tmp.path().join("fleetreset.db");
    let record = latest_run(&db);
    assert!(
        record
            .jobs
            .iter()
            .all(|j| j.outcome == Some(Outcome::Succeeded)),
        "{}",
        text(&out)
    );
    // The same devices come back as they were before the run: set up again, bound, with their
    // names (a reset undone, or a device swapped back in).
    drop(sim);
    let journal2 = tmp.path().join("journal2.log");
    let _sim = Simulate::start_with(
        &plugs(FILE, 2, 2, ""),
        &["--journal", journal2.to_str().unwrap()],
    );
    let out = fleetreset_in(tmp.path())
        .args([
            "audit",
            "sample",
            "latest",
            "--percent",
            "5",
            "--verifier",
            "vera",
        ])
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" failed "), "{}", text(&out));
    assert!(
        stdout.contains("result: failed (1 checked: 0 passed, 1 failed"),
        "{stdout}"
    );
    let record = latest_run(&db);
    let checked = details(&record, "sample_checked");
    assert_eq!(checked.len(), 1);
    let c = checked[0].1;
    assert_eq!(c["result"], "failed", "{c}");
    assert!(c["evidence"].as_str().unwrap().contains("bound"), "{c}");
    assert_eq!(details(&record, "sample_finished")[0].1["result"], "failed");
    assert_eq!(details(&record, "sample_drawn")[0].1["size"], 1);
    // Only reads: the devices it looked at got no command.
    let after = Journal::read(&journal2);
    assert!(after.no_commands(), "{}", after.text);

    // The device the verifier found still set up gets no certificate, and its history says
    // so; the other keeps its certificate.
    let refuted = checked[0].0.expect("a device's check").to_string();
    let other = record
        .jobs
        .iter()
        .find(|j| j.device_id != refuted)
        .unwrap()
        .clone();
    let certs = fleetreset_in(tmp.path())
        .args(["certificates", "latest", "--unsigned"])
        .output()
        .unwrap();
    assert_eq!(certs.status.code(), Some(0), "{}", text(&certs));
    let bundle: Value = serde_json::from_slice(
        &std::fs::read(
            tmp.path()
                .join("reports")
                .join(&record.run.id)
                .join("certificates/bundle.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = bundle["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["asset_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [other.device_id.as_str()], "{bundle:#}");
    let history = |id: &str| {
        let out = fleetreset_in(tmp.path())
            .args(["history", id, "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
        rows[0]["certificate_id"].clone()
    };
    assert_eq!(history(&refuted), Value::Null);
    assert_eq!(
        history(&other.device_id),
        fleetreset::certificate::id(&record.run.id, other.seq)
    );
}

#[test]
fn a_power_cycle_run_and_a_run_with_nothing_sanitized_are_not_sampled() {
    let csv = plugs(FILE, 3, 1, "");
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("power-cycle", &["--operator", "alice"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = latest_run(&b.db()).events.len();
    let out = sample(&b, &["--percent", "5", "--verifier", "vera"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sanitizes nothing"),
        "{}",
        text(&out)
    );
    assert_eq!(latest_run(&b.db()).events.len(), before);

    // A factory reset whose only device was never reached: no sanitized device.
    drop(b);
    let gone = plugs(FILE, 4, 1, "offline");
    let b = Bench::start(&gone, &gone);
    let _ = b.output(&run_args("factory-reset", &["--operator", "alice"]));
    let before = latest_run(&b.db()).events.len();
    let out = sample(&b, &["--percent", "5", "--verifier", "vera"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("none to sample"),
        "{}",
        text(&out)
    );
    assert_eq!(latest_run(&b.db()).events.len(), before);
    let bad = sample(&b, &["--percent", "0", "--verifier", "vera"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}
