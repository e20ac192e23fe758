//! A thousand simulated devices through `fleetreset run`: every job ends with exactly one
//! outcome in SQLite, and jobs start no faster than `--rate`.

mod common;

use fleetreset::model::EventKind;
use std::collections::HashMap;

use common::Simulate;
use fleetreset::model::Outcome;
use fleetreset::store::Db;

const DEVICES: usize = 1000;
const RATE: u32 = 100;
const MODELS: &[&str] = &[
    "HS103(US)",
    "HS110(EU)",
    "KP115(US)",
    "HS200(US)",
    "HS300(US)",
    "KL130(US)",
    "EP25(US)",
    "KP303(US)",
];

#[test]
fn a_thousand_device_factory_reset_gives_every_job_exactly_one_outcome_at_the_rate() {
    let mut csv = String::from("id,host,model,site,sim_fault\n");
    for i in 0..DEVICES {
        // 127.24.0.1 … 127.24.3.250; one in fifty is offline so failures are in the mix.
        let fault = if i % 50 == 7 { "offline" } else { "" };
        csv.push_str(&format!(
            "dev-{i:04},127.24.{}.{},{},site-{},{fault}\n",
            i / 250,
            i % 250 + 1,
            MODELS[i % MODELS.len()],
            i % 7
        ));
    }
    let _sim = Simulate::start(&csv);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), &csv).unwrap();
    let rate = RATE.to_string();
    let out = common::fleetreset()
        .current_dir(dir.path())
        .args([
            "run",
            "fleet.csv",
            "--action",
            "factory-reset",
            "--yes",
            "--json",
            "--time-scale",
            "0.01",
            // The generated rows have no MACs to check.
            "--allow-unverified-identity",
        ])
        .args([
            "--rate",
            &rate,
            "--concurrency",
            "64",
            "--connect-timeout",
            "2",
            "--request-timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let db = Db::open(&dir.path().join("fleetreset.db")).unwrap();
    let rec = db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap();
    assert_eq!(rec.jobs.len(), DEVICES);
    let mut outcome_events: HashMap<&str, usize> = HashMap::new();
    for e in rec.events.iter().filter(|e| e.kind == EventKind::Outcome) {
        *outcome_events
            .entry(e.device_id.as_deref().unwrap())
            .or_default() += 1;
    }
    for j in &rec.jobs {
        assert!(j.outcome.is_some(), "{} has no outcome", j.device_id);
        assert_eq!(
            outcome_events.get(j.device_id.as_str()),
            Some(&1),
            "{}",
            j.device_id
        );
    }
    let succeeded = rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Succeeded))
        .count();
    // Nothing answers at an offline device's address: each ends a work order.
    let offline = rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::ManualRequired))
        .count();
    assert_eq!(
        offline,
        DEVICES / 50,
        "only the offline devices need a person"
    );
    assert_eq!(
        succeeded,
        DEVICES - DEVICES / 50,
        "every other device was reset"
    );

    // Start times: the pacer makes up a start up to 20 ms late (its catch-up) with the next
    // ones, so any eleven consecutive starts span at least ten intervals less that catch-up,
    // and less one interval of slack for the job recording its start a moment late; and no
    // second holds more than 2 % above the rate plus one (plus that one of slack).
    let mut starts: Vec<_> = rec.jobs.iter().map(|j| j.started_at.unwrap()).collect();
    starts.sort();
    let interval_ms = 1000 / i64::from(RATE);
    let catch_up_ms = 20;
    for w in starts.windows(11) {
        let span = (w[10] - w[0]).num_milliseconds();
        assert!(
            span >= 9 * interval_ms - catch_up_ms,
            "11 starts within {span} ms at {RATE}/s"
        );
    }
    let most = f64::from(RATE) * 1.02 + 1.0 + 1.0;
    for (i, s) in starts.iter().enumerate() {
        let within = starts[i..]
            .iter()
            .take_while(|t| (**t - *s).num_milliseconds() < 1000)
            .count();
        assert!(
            within as f64 <= most,
            "{within} starts in the second from {s} at {RATE}/s"
        );
    }
    let total = (starts[DEVICES - 1] - starts[0]).num_milliseconds();
    assert!(
        total >= (DEVICES as i64 - 2) * interval_ms,
        "{DEVICES} starts in {total} ms"
    );
}
