//! `resume`'s rules against the simulator (issue 8, items 2, 3 and 10): a command that may have
//! arrived is never sent again; resume waits at least as long as the run would have before it
//! judges; no decision compares wall clocks of two processes; without an acknowledgement,
//! "gone" is not proof of a reset. Every test reads the simulator's journal.

mod common;

use fleetreset::model::EventKind;
use std::process::Output;
use std::time::Duration;

use common::bench::{Bench, kill_when, run_args};
use common::faketime;
use common::text;
use common::truth::{Journal, assert_truthful, count_events, latest_run, outcome_of};
use fleetreset::model::{Outcome, Reason};

const FILE: u8 = 33;

fn fleet(test: u8, n: u8, fault: &str) -> String {
    common::plugs(FILE, test, n, fault)
}

fn bench(csv: &str) -> Bench {
    Bench::start(csv, csv)
}

fn resume(b: &Bench) -> Output {
    b.output(&["resume", "latest", "--yes"])
}

#[test]
fn a_factory_reset_acknowledged_before_a_crash_is_never_sent_again_when_the_device_leaves_late() {
    // Devices that acknowledge a reset and leave the network 40 s later, up for 40 s before
    // the run; the run is killed while they are still there, then resumed at once.
    let b = bench(&fleet(1, 6, "leave_after=40"));
    std::thread::sleep(Duration::from_millis(400));
    let mut run = Bench::spawn(&mut b.cmd(&run_args("factory-reset", &["--rate", "40"])));
    let db = b.db();
    kill_when(&mut run, || {
        count_events(&db, EventKind::Ack) >= 3 && count_events(&db, EventKind::LeftNetwork) == 0
    });
    let acked_before = count_events(&b.db(), EventKind::Ack);

    let out = resume(&b);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        !t.contains("sent again;") && !t.contains("never arrived"),
        "{t}"
    );
    let record = latest_run(&b.db());
    let journal = b.journal();
    assert_truthful(&record, &journal, true, "late leavers");
    for j in &record.jobs {
        assert_eq!(
            journal.resets.get(&j.device_id),
            Some(&1),
            "{}\n{t}",
            j.device_id
        );
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{j:?}");
    }
    let judged = record
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Resolving)
        .count();
    assert!(
        judged >= acked_before.min(3),
        "{judged} jobs judged, {acked_before} acknowledged before the kill"
    );
}

#[test]
fn a_reset_without_a_recorded_acknowledgement_and_a_device_gone_at_resume_is_not_verified() {
    // The device holds every reply back 3 s: the kill comes after the reset was sent (and
    // acted on) but before its acknowledgement could be recorded.
    let b = bench(&fleet(2, 1, "slow=3000"));
    let mut run = Bench::spawn(&mut b.cmd(&run_args(
        "factory-reset",
        &["--connect-timeout", "5", "--request-timeout", "5"],
    )));
    let db = b.db();
    kill_when(&mut run, || {
        count_events(&db, EventKind::Intent) == 1
            && Journal::read(b.journal_path()).commands("p01") == 1
    });
    assert_eq!(
        count_events(&b.db(), EventKind::Ack),
        0,
        "the kill came too late"
    );

    let out = resume(&b);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let record = latest_run(&b.db());
    let journal = b.journal();
    assert_truthful(&record, &journal, true, "no ack, gone");
    let (outcome, reason, detail) = outcome_of(&record, "p01");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::NotVerified)),
        "{detail}"
    );
    assert!(
        detail.contains("no acknowledgement was recorded"),
        "{detail}"
    );
    assert!(detail.contains("not sent again"), "{detail}");
    assert_eq!(journal.resets.get("p01"), Some(&1));
}

/// Kills a power-cycle run (under a wall clock `offset` seconds off) once `n` reboots were
/// acknowledged, then resumes with the true clock.
fn power_cycle_across_a_clock_step(b: &Bench, offset: i64, n: usize) -> Output {
    let mut cmd = b.cmd(&run_args("power-cycle", &["--rate", "40"]));
    faketime::wall_clock_offset(&mut cmd, offset);
    let mut run = Bench::spawn(&mut cmd);
    let db = b.db();
    kill_when(&mut run, || count_events(&db, EventKind::Ack) >= n);
    resume(b)
}

#[test]
fn a_wall_clock_two_hours_ahead_during_the_run_gives_no_device_a_second_reboot() {
    let b = bench(&fleet(3, 6, ""));
    let out = power_cycle_across_a_clock_step(&b, 2 * 3600, 3);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let record = latest_run(&b.db());
    let journal = b.journal();
    assert_truthful(&record, &journal, true, "clock ahead");
    for j in &record.jobs {
        assert_eq!(
            journal.reboots.get(&j.device_id),
            Some(&1),
            "{}",
            j.device_id
        );
        assert_eq!(j.outcome, Some(Outcome::Succeeded), "{j:?}");
    }
    // The run's timestamps are two hours ahead of the resume's: proof the clock really was off.
    let intent = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::Intent)
        .unwrap();
    let resolving = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::Resolving)
        .unwrap();
    assert!(
        intent.at - resolving.at > chrono::Duration::minutes(100),
        "{} vs {}",
        intent.at,
        resolving.at
    );
}

#[test]
fn a_wall_clock_two_hours_behind_does_not_make_an_ignored_reboot_a_success() {
    // Devices that acknowledge a reboot and ignore it: their on-time never restarts.
    let b = bench(&fleet(4, 4, "reboot_ignored"));
    let out = power_cycle_across_a_clock_step(&b, -2 * 3600, 1);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let record = latest_run(&b.db());
    let journal = b.journal();
    assert_truthful(&record, &journal, true, "clock behind");
    for j in &record.jobs {
        // A job killed between its durable intent and its command got none: resume can't
        // tell, and must not send it again. Every other device got exactly one.
        let reboots = journal.reboots.get(&j.device_id).copied().unwrap_or(0);
        assert!(reboots <= 1, "{} got {reboots} reboots", j.device_id);
        assert_eq!(
            (j.outcome, j.reason),
            (Some(Outcome::Failed), Some(Reason::NotVerified)),
            "{j:?}"
        );
    }
    let judged: Vec<_> = record
        .jobs
        .iter()
        .filter(|j| {
            record.events.iter().any(|e| {
                e.kind == EventKind::Resolving && e.device_id.as_deref() == Some(&j.device_id)
            })
        })
        .collect();
    assert!(!judged.is_empty(), "no job was left for resume to judge");
    assert!(
        record
            .jobs
            .iter()
            .filter(|j| journal.reboots.get(&j.device_id) == Some(&1))
            .count()
            >= 1,
        "the run was killed after an acknowledged reboot"
    );
    for j in judged {
        let detail = j.detail.as_deref().unwrap_or("");
        let acked = record
            .events
            .iter()
            .any(|e| e.kind == EventKind::Ack && e.device_id.as_deref() == Some(&j.device_id));
        if acked {
            assert!(
                detail.contains("acknowledged the reboot but did not restart"),
                "{detail}"
            );
        } else {
            assert!(detail.contains("not sent again"), "{detail}");
        }
    }
}

#[test]
fn a_crashed_run_whose_write_ahead_log_was_deleted_is_refused_rather_than_resumed_without_its_intents()
 {
    let csv = fleet(5, 4, "reset_stays");
    let b = bench(&csv);
    let mut run = Bench::spawn(&mut b.cmd(&run_args("factory-reset", &["--rate", "20"])));
    let db = b.db();
    kill_when(&mut run, || count_events(&db, EventKind::Ack) >= 1);
    let sent = b.journal().resets.len();
    // Copying the database without its -wal (or deleting it) loses the newest records, the
    // intents among them.
    let wal = b.path("fleetreset.db-wal");
    assert!(wal.exists(), "a crash leaves the write-ahead log behind");
    std::fs::remove_file(&wal).unwrap();

    let out = resume(&b);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("write-ahead log"), "{t}");
    assert!(t.contains("Nothing was changed"), "{t}");
    assert_eq!(
        b.journal().resets.len(),
        sent,
        "the refused resume sent something"
    );
}

#[test]
fn a_factory_reset_of_a_device_never_bound_is_not_verified_by_it_being_unbound() {
    // A Tapo plug with no account (unbound from the start) that acknowledges the reset and
    // stays on: being unbound afterwards proves nothing.
    let a = common::ip(FILE, 6, 1);
    let csv = format!(
        "id,host,model,mac,protocol,sim_fault\nlonely,{a}:8080,P110(UK),48:22:54:21:06:01,klap,leave_after=100000\n"
    );
    let b = bench(&csv);
    let out = b.output(&run_args("factory-reset", &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let record = latest_run(&b.db());
    let (outcome, reason, detail) = outcome_of(&record, "lonely");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::NotVerified)),
        "{detail}"
    );
    assert!(
        detail.contains("not bound to an account before either"),
        "{detail}"
    );
    assert_truthful(&record, &b.journal(), true, "never bound");
}

#[test]
fn one_command_per_address_holds_across_a_resume() {
    // `by-name` reaches the same device as `by-ip`; by-ip is sent its reboot, the run stops
    // before by-name starts, and the resume must not send by-name one. Port 19997 is used by
    // no other test.
    let sim = "id,host,model\nplug,127.0.0.1:19997,HS110(EU)\n";
    let inventory =
        "id,host,model\nby-ip,127.0.0.1:19997,HS110(EU)\nby-name,localhost:19997,HS110(EU)\n";
    let b = Bench::start(sim, inventory);
    let mut run = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--rate", "1"])));
    let db = b.db();
    common::bench::wait_for_events(&db, EventKind::Ack, 1);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &run.0.id().to_string()])
        .status();
    assert_eq!(common::bench::exit_code(&mut run), Some(3));
    let out = resume(&b);
    let t = text(&out);
    assert_eq!(b.journal().commands("plug"), 1, "{t}\n{}", b.journal().text);
    let (outcome, reason, detail) = outcome_of(&latest_run(&db), "by-name");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::IdentityMismatch)),
        "{detail}"
    );
}

#[test]
fn resume_judges_a_moved_device_where_the_command_went_not_at_the_inventory_s_old_address() {
    // The plug moved from .1 to .2; the run follows it with --rediscover, is killed after the
    // ack, and the device (leaving late) is still there, bound, when the resume judges.
    let (old, new) = (common::ip(FILE, 7, 1), common::ip(FILE, 7, 2));
    let sim = format!(
        "id,host,model,mac,sim_fault\nghost,{old},HS110(EU),50:C7:BF:21:07:09,offline\nplug,{new},HS110(EU),50:C7:BF:21:07:01,leave_after=400\n"
    );
    let inventory = format!("id,host,model,mac\nplug,{old},HS110(EU),50:C7:BF:21:07:01\n");
    let b = Bench::start(&sim, &inventory);
    let target = format!("{}/29", common::ip(FILE, 7, 0));
    let mut run = Bench::spawn(&mut b.cmd(&run_args("factory-reset", &["--rediscover", &target])));
    let db = b.db();
    kill_when(&mut run, || count_events(&db, EventKind::Ack) >= 1);
    let out = resume(&b);
    let t = text(&out);
    let (outcome, reason, detail) = outcome_of(&latest_run(&db), "plug");
    assert_eq!(
        (outcome, reason),
        (Some(Outcome::Failed), Some(Reason::NotVerified)),
        "{detail}\n{t}"
    );
    assert!(
        detail.contains("still on the network and bound"),
        "{detail}"
    );
    assert_eq!(b.journal().resets.get("plug"), Some(&1));
}

#[test]
fn a_resume_refused_for_its_credentials_leaves_the_run_as_it_was() {
    let a = common::ip(FILE, 8, 1);
    let rows = format!(
        "id,host,model,mac,credentials,protocol\nt1,{a}:8080,P110(UK),48:22:54:21:08:01,office,klap\nt2,{}:8080,P110(UK),48:22:54:21:08:02,office,klap\n",
        common::ip(FILE, 8, 2)
    );
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("sim.toml");
    std::fs::write(
        &creds,
        "[profiles.office]\nusername = \"o@example.com\"\npassword = \"pw\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let b = Bench::start_with(&rows, &rows, &["--credentials", creds.to_str().unwrap()]);
    let mut cmd = b.cmd(&run_args("power-cycle", &["--rate", "1"]));
    cmd.env("FLEETRESET_CRED_OFFICE_USERNAME", "o@example.com")
        .env("FLEETRESET_CRED_OFFICE_PASSWORD", "pw");
    let mut run = Bench::spawn(&mut cmd);
    let db = b.db();
    common::bench::wait_for_events(&db, EventKind::Ack, 1);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &run.0.id().to_string()])
        .status();
    assert_eq!(common::bench::exit_code(&mut run), Some(3));
    let before = latest_run(&db);

    // Without the profile in the environment, the resume can't reach the devices.
    std::fs::write(b.path("empty.toml"), "").unwrap();
    std::fs::set_permissions(
        b.path("empty.toml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = b.output(&["resume", "latest", "--yes", "--credentials", "empty.toml"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("fleet.csv:3"),
        "the problem names the file and line: {t}"
    );
    assert!(!t.contains("resuming run"), "{t}");
    let after = latest_run(&db);
    assert_eq!(after.run.status, before.run.status);
    assert_eq!(
        after.events.len(),
        before.events.len(),
        "the refused resume wrote events"
    );
}

#[test]
fn a_login_under_way_when_the_run_is_killed_is_not_tried_again() {
    // An AES plug bound to another account: every login fails, and its answer comes 300 ms
    // late, so the kill lands after the device counted the failure and before we recorded it.
    let a = common::ip(FILE, 9, 1);
    let rows = format!(
        "id,host,model,mac,credentials,protocol,sim_fault\nak,{a}:8080,P100(US),48:22:54:21:09:01,office,aes,auth_fail;slow=300\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("c.toml");
    std::fs::write(
        &creds,
        "[profiles.office]\nusername = \"o@example.com\"\npassword = \"pw\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let b = Bench::start_with(&rows, &rows, &["--credentials", creds.to_str().unwrap()]);
    let creds_arg = creds.to_str().unwrap();
    let mut run = Bench::spawn(&mut b.cmd(&run_args(
        "power-cycle",
        &[
            "--credentials",
            creds_arg,
            "--request-timeout",
            "3",
            "--connect-timeout",
            "3",
        ],
    )));
    let failed = || {
        b.journal()
            .text
            .lines()
            .filter(|l| l.ends_with("ak login_failed"))
            .count()
    };
    kill_when(&mut run, || failed() >= 1);
    let out = b.output(&["resume", "latest", "--yes", "--credentials", creds_arg]);
    let t = text(&out);
    assert_eq!(
        failed(),
        1,
        "a second failed login: {t}\n{}",
        b.journal().text
    );
    let (outcome, _, detail) = outcome_of(&latest_run(&b.db()), "ak");
    assert_eq!(outcome, Some(Outcome::Failed), "{detail}\n{t}");
}
