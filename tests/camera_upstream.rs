//! Issue 10's whole path on one simulated building: a camera powered through a strip outlet is
//! power-cycled at that outlet; a factory reset of a mixed fleet leaves every device no command
//! can reach as a work order, which `work-orders` lists with its model's steps, and which a
//! technician's `confirm` closes, one by one and from the returned checklist. Each test reads
//! the simulator's journal (what every device got) beside the audit database.
//!
//! Loopback: 127.45.T.N, one third octet per test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::bench::Bench;
use common::text;
use common::truth::{assert_truthful, latest_run, outcome_of};
use fleetreset::model::{Method, Outcome};

const USER: &str = "owner@example.com";
const PASSWORD: &str = "Upstream-cam-PASSWORD-4711";

fn creds(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("[profiles.office]\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// `(device, what, argument)` of each journal line, in order.
fn journal_lines(text: &str) -> Vec<(String, String, Option<String>)> {
    text.lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            p.next()?;
            Some((
                p.next()?.to_string(),
                p.next()?.to_string(),
                p.next().map(str::to_string),
            ))
        })
        .collect()
}

/// The real time between the strip's `outlet_off N` and `outlet_on N`, and every outlet it
/// switched.
fn switchings(text: &str, strip: &str) -> (Vec<(String, String)>, i64) {
    let mut seen = Vec::new();
    let mut off_at = None;
    let mut held = 0;
    for l in text.lines() {
        let mut p = l.split_whitespace();
        let (Some(at), Some(id), Some(what)) = (p.next(), p.next(), p.next()) else {
            continue;
        };
        if id != strip || !what.starts_with("outlet_") {
            continue;
        }
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        let outlet = p.next().unwrap_or_default().to_string();
        match what {
            "outlet_off" => off_at = Some(at),
            "outlet_on" => held = (at - off_at.expect("on without off")).num_milliseconds(),
            _ => {}
        }
        seen.push((what.to_string(), outlet));
    }
    (seen, held)
}

#[test]
fn a_camera_behind_a_strip_outlet_is_power_cycled_at_that_outlet_and_comes_back() {
    let keys = tempfile::tempdir().unwrap();
    let csv = "id,host,model,mac,power_via,credentials\n\
               strip,127.45.1.1,HS300(US),50:C7:BF:45:01:01,,\n\
               lamp,127.45.1.2,KL130(US),50:C7:BF:45:01:02,strip#1,\n\
               cam,127.45.1.3:8443,C210,40:AE:30:45:01:03,strip#3,office\n";
    let sim_creds = creds(keys.path(), "sim.toml");
    let bench = Bench::start_with(csv, csv, &["--credentials", sim_creds.to_str().unwrap()]);
    // Only the camera: the lamp on outlet 1 is in the inventory, not in the run.
    let only_cam = "id,host,model,mac,power_via,credentials\n\
                    strip,127.45.1.1,HS300(US),50:C7:BF:45:01:01,,\n\
                    cam,127.45.1.3:8443,C210,40:AE:30:45:01:03,strip#3,office\n";
    std::fs::write(bench.dir.path().join("cam.csv"), only_cam).unwrap();
    let run_creds = creds(keys.path(), "run.toml");
    let mut args = common::bench::run_args_on(
        "cam.csv",
        "power-cycle",
        &["--method", "upstream", "--credentials"],
    );
    args.push(run_creds.to_str().unwrap());
    let out = bench.output(&args);
    let t = text(&out);
    let journal = bench.journal();
    let (seen, held_ms) = switchings(&journal.text, "strip");
    // The strip itself is in the run too, with nothing behind it but the camera: with
    // `--method upstream` it has no upstream of its own, so only the camera's outlet moves.
    let cam_outlet: Vec<_> = seen.iter().filter(|(_, o)| o == "3").collect();
    assert_eq!(cam_outlet.len(), 2, "one off, one on: {seen:?}\n{t}");
    assert_eq!(cam_outlet[0].0, "outlet_off", "{seen:?}");
    assert_eq!(cam_outlet[1].0, "outlet_on", "{seen:?}");
    assert!(
        seen.iter().all(|(_, o)| o == "3"),
        "another outlet moved: {seen:?}"
    );
    let off = fleetreset::catalog::lookup("C210").off_time;
    let scaled_ms = (off.as_secs_f64() * 0.01 * 1000.0) as i64;
    assert!(
        held_ms >= scaled_ms,
        "held off {held_ms} ms, under the catalog's {} s at time scale 0.01",
        off.as_secs()
    );
    // The camera went dark and booted; it was sent nothing. The lamp on outlet 1 never lost
    // power.
    let cam: Vec<_> = journal_lines(&journal.text)
        .into_iter()
        .filter(|(id, what, _)| id == "cam" && what.starts_with("power_"))
        .map(|(_, what, _)| what)
        .collect();
    assert_eq!(cam, ["power_lost", "power_back"], "{}", journal.text);
    assert_eq!(journal.commands("cam"), 0, "{}", journal.text);
    assert!(!journal.text.contains("lamp power_lost"), "{}", journal.text);

    let record = latest_run(&bench.db());
    assert_truthful(&record, &journal, true, "camera behind an outlet");
    let (outcome, reason, detail) = outcome_of(&record, "cam");
    assert_eq!(outcome, Some(Outcome::Succeeded), "{reason:?} {detail}\n{t}");
    let job = record.jobs.iter().find(|j| j.device_id == "cam").unwrap();
    assert_eq!(job.method, Method::Upstream);
    for kind in ["outlet_off", "outlet_on", "went_away", "came_back"] {
        assert!(
            record
                .events
                .iter()
                .any(|e| e.device_id.as_deref() == Some("cam") && e.kind == kind),
            "no {kind} event for the camera"
        );
    }
    let db = std::fs::read(bench.db()).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
}
