//! Work orders end to end: a factory reset over a mixed fleet, where devices with no remote
//! path end `manual_required` with nothing disruptive sent, and the rest are reset.
//!
//! Loopback: 127.43.40.N.

mod common;

use common::bench::{Bench, run_args};
use common::truth::{latest_run, outcome_of};
use fleetreset::model::EventKind;
use fleetreset::model::{Outcome, Reason};

#[test]
fn a_factory_reset_of_a_mixed_fleet_ends_every_device_without_a_remote_path_manual_required() {
    // The KC100 has no local factory-reset command (the catalog): planned manual, never
    // contacted, so the simulator need not serve it.
    let sim = "id,host,model,mac,sim_fault\n\
               button,127.43.40.2,HS110(EU),50:C7:BF:43:28:02,button_only\n\
               gone,127.43.40.3,HS110(EU),50:C7:BF:43:28:03,offline\n\
               fine,127.43.40.4,HS110(EU),50:C7:BF:43:28:04,\n";
    let inventory = "id,host,model,mac\n\
                     cam,127.43.40.1,KC100,50:C7:BF:43:28:01\n\
                     button,127.43.40.2,HS110(EU),50:C7:BF:43:28:02\n\
                     gone,127.43.40.3,HS110(EU),50:C7:BF:43:28:03\n\
                     fine,127.43.40.4,HS110(EU),50:C7:BF:43:28:04\n";
    let bench = Bench::start(sim, inventory);
    let out = bench.output(&run_args("factory-reset", &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let record = latest_run(&bench.db());
    let journal = bench.journal();

    let (o, r, detail) = outcome_of(&record, "cam");
    assert_eq!(
        (o, r),
        (Some(Outcome::ManualRequired), Some(Reason::Unsupported)),
        "{detail}"
    );
    assert!(
        detail.contains("no local factory-reset command for a KC100"),
        "{detail}"
    );
    let (o, r, detail) = outcome_of(&record, "button");
    assert_eq!(
        (o, r),
        (Some(Outcome::ManualRequired), Some(Reason::Unsupported)),
        "{detail}\n{stderr}"
    );
    assert!(detail.contains("by hand"), "{detail}");
    let (o, r, detail) = outcome_of(&record, "gone");
    assert_eq!(
        (o, r),
        (Some(Outcome::ManualRequired), Some(Reason::Unreachable)),
        "{detail}"
    );
    let (o, _, detail) = outcome_of(&record, "fine");
    assert_eq!(o, Some(Outcome::Succeeded), "{detail}\n{stderr}");

    for id in ["cam", "button", "gone"] {
        assert_eq!(
            journal.commands(id),
            0,
            "{id} received a command\n{}",
            journal.text
        );
    }
    assert_eq!(journal.resets.get("fine"), Some(&1), "{}", journal.text);
    // The planned work order never started: no slot, no attempt.
    let cam = record.jobs.iter().find(|j| j.device_id == "cam").unwrap();
    assert_eq!(cam.attempts, 0);
    assert_eq!(cam.started_at, None);
    // Each work order carries the catalog's procedure for the report that lists them.
    for id in ["cam", "button"] {
        let order = record
            .events
            .iter()
            .find(|e| e.device_id.as_deref() == Some(id) && e.kind == EventKind::WorkOrder)
            .unwrap_or_else(|| panic!("no work_order event for {id}"));
        assert!(
            order.detail["procedure"]["words"].is_string(),
            "{id}: {}",
            order.detail
        );
    }
    assert_eq!(out.status.code(), Some(1));
}
