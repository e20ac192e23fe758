//! `fleetreset audit verify` against the databases real runs produce: the demo's power cycle
//! (remote commands, upstream outlets, work orders) and factory reset, with a technician's
//! confirmation recorded afterwards. Untouched, every chain verifies. Then each tampering case
//! is applied to a copy of the database, with the append-only triggers dropped as anyone with
//! `sqlite3` could, and `verify` must fail naming the record.
//!
//! The demo serves its own fleet on 127.77.x.x; the confirmation's look goes there too, after
//! the demo's simulator has stopped, so nothing answers it.

mod common;
mod manual_run;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::audit_db::{self, head, query, reset_run, tamper, verify};
use common::{fleetreset_in, text};
use rusqlite::Connection;

/// One demo directory for the whole file: two demo runs and a confirmation, made once.
fn source() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for action in ["power-cycle", "factory-reset"] {
            let out = fleetreset_in(dir.path())
                .args(["demo", "--action", action])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "demo {action}: {}", text(&out));
        }
        let out = fleetreset_in(dir.path())
            .args([
                "confirm",
                "--db",
                "reports/demo.db",
                "latest",
                "oak-205-cam",
                "--by",
                "Ana Técnica",
                "--operator",
                "desk",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "confirm: {}", text(&out));
        dir
    })
    .path()
}
/// The factory-reset run: the latest./// The run's current head as `verify` prints it (`RECORDS:HASH`)./// `verify` of the factory-reset run failed, and its first finding is `tamper` of `record`.
fn assert_caught(out: &Output, record: &str, tamper: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let first = stdout.lines().next().unwrap_or("");
    assert!(
        first.contains("BROKEN at record") && first.contains(record) && first.contains(tamper),
        "expected the first finding to be {tamper} of {record}:\n{}",
        text(out)
    );
}

/// A copy of the demo database to tamper with.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    audit_db::copy(&source().join("reports/demo.db"), name)
}

#[test]
fn every_run_the_demo_and_a_confirmation_wrote_verifies_untouched() {
    let (_dir, db) = copy("untouched.db");
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches(": intact, ").count(), 2, "{stdout}");
    // The power cycle used all three methods; the factory reset left work orders, and one of
    // them was confirmed afterwards: its chain covers that too.
    let methods: String = query(
        &db,
        "SELECT group_concat(DISTINCT method) FROM (SELECT method FROM jobs ORDER BY method)",
    );
    assert_eq!(methods, "manual,remote,upstream");
    let run = reset_run(&db);
    let confirmed: i64 = query(
        &db,
        "SELECT COUNT(*) FROM jobs WHERE outcome = 'manual_confirmed'",
    );
    assert_eq!(confirmed, 1);
    let out = verify(&db, &["--run", &run, "--expect", &head(&db, &run)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 records were added since"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_edited_event_is_named() {
    let (_dir, db) = copy("edited-event.db");
    let run = reset_run(&db);
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'ack'"),
    );
    tamper(
        &db,
        &format!("UPDATE events SET detail = json_set(detail, '$.forged', 1) WHERE id = {id}"),
    );
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("event {id} (ack of"),
        "edited",
    );
}

#[test]
fn a_deleted_event_is_named() {
    let (_dir, db) = copy("deleted-event.db");
    let run = reset_run(&db);
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'intent'"),
    );
    tamper(&db, &format!("DELETE FROM events WHERE id = {id}"));
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("event {id}"),
        "removed",
    );
}

#[test]
fn two_events_swapped_are_named_as_reordered() {
    let (_dir, db) = copy("reordered.db");
    let run = reset_run(&db);
    let (a, b): (i64, i64) = Connection::open(&db)
        .unwrap()
        .query_row(
            &format!(
                "SELECT MIN(id), MIN(id) + 1 FROM events WHERE run_id = '{run}' AND device_id IS NOT NULL"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Swap the two rows' ids: each now sits where the other was written.
    tamper(
        &db,
        &format!(
            "UPDATE events SET id = -1 WHERE id = {a};
             UPDATE events SET id = {a} WHERE id = {b};
             UPDATE events SET id = {b} WHERE id = -1;"
        ),
    );
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("event {a}"),
        "reordered",
    );
}

#[test]
fn an_inserted_event_is_named() {
    let (_dir, db) = copy("inserted.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "INSERT INTO events (run_id, device_id, at, state, kind, detail)
             SELECT run_id, device_id, at, state, 'ack', '{{}}' FROM events
              WHERE run_id = '{run}' AND kind = 'intent' LIMIT 1"
        ),
    );
    let id: i64 = query(&db, "SELECT MAX(id) FROM events");
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("event {id} (ack of"),
        "inserted",
    );
}

#[test]
fn an_outcome_changed_in_the_jobs_table_is_named() {
    let (_dir, db) = copy("outcome.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'failed' LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET outcome = 'succeeded', reason = NULL
              WHERE run_id = '{run}' AND device_id = '{device}'"
        ),
    );
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("the outcome of job {device} (succeeded)"),
        "edited",
    );
}

#[test]
fn a_snapshot_edited_in_its_json_is_named() {
    let (_dir, db) = copy("snapshot.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!(
            "SELECT device_id FROM snapshots WHERE run_id = '{run}' AND phase = 'pre' ORDER BY device_id LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE snapshots SET data = json_set(data, '$.alias', 'someone else')
              WHERE run_id = '{run}' AND device_id = '{device}' AND phase = 'pre'"
        ),
    );
    assert_caught(
        &verify(&db, &["--run", &run]),
        &format!("snapshot {device}/pre"),
        "edited",
    );
}

#[test]
fn a_run_cut_short_is_caught_against_the_head_kept_elsewhere() {
    let (_dir, db) = copy("truncated.db");
    let run = reset_run(&db);
    let kept = head(&db, &run);
    // The confirmation's records are the chain's last. Cut them off, with the rows they
    // chained, and put the job back as the run left it: what remains is a consistent chain of
    // the run as it was before the confirmation.
    let cut: i64 = query(
        &db,
        &format!(
            "SELECT MIN(c.n) FROM chain c JOIN events e ON c.kind = 'event' AND c.ref = CAST(e.id AS TEXT)
              WHERE c.run_id = '{run}' AND e.kind = 'manual_confirmed'"
        ),
    );
    let outcome_event = format!(
        "FROM events WHERE run_id = '{run}' AND device_id = 'oak-205-cam' AND kind = 'outcome'"
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET outcome = 'manual_required',
                             detail = (SELECT json_extract(detail, '$.detail') {outcome_event}),
                             finished_at = (SELECT at {outcome_event})
              WHERE run_id = '{run}' AND device_id = 'oak-205-cam';
             DELETE FROM events WHERE run_id = '{run}' AND kind = 'manual_confirmed';
             DELETE FROM checkpoints WHERE run_id = '{run}';
             DELETE FROM chain WHERE run_id = '{run}' AND n >= {cut};"
        ),
    );
    // On its own, a consistent prefix is all there is to see: that is why reports and
    // certificates print the head.
    let alone = verify(&db, &["--run", &run]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone));
    let with_head = verify(&db, &["--run", &run, "--expect", &kept]);
    assert_caught(&with_head, "expected head", "truncated");
}

#[test]
fn an_edit_to_the_chain_itself_is_named() {
    let (_dir, db) = copy("chain.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "UPDATE chain SET digest = '{}' WHERE run_id = '{run}' AND n = 5",
            "0".repeat(64)
        ),
    );
    assert_caught(
        &verify(&db, &["--run", &run]),
        "chain record 5",
        "chain_edited",
    );
}

#[test]
fn a_head_that_is_not_in_the_chain_fails_and_a_malformed_one_is_bad_input() {
    let (_dir, db) = copy("head.db");
    let run = reset_run(&db);
    let n: i64 = query(
        &db,
        &format!("SELECT MAX(n) FROM chain WHERE run_id = '{run}'"),
    );
    let other = format!("{n}:{}", "ab".repeat(32));
    assert_caught(
        &verify(&db, &["--run", &run, "--expect", &other]),
        "expected head",
        "head_mismatch",
    );
    let out = verify(&db, &["--run", &run, "--expect", "12:xyz"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_run_from_before_the_chain_verifies_as_unchained_until_written_to_then_from_then_on() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run::manual_run(
        tmp.path(),
        "run-old",
        fleetreset::model::Action::FactoryReset,
        &[manual_run::Dev::manual("bell", "127.53.1.1".into(), "KD110").at("Oak", "204")],
    );
    // As a fleetreset older than schema version 5 left it: no chain at all.
    Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TRIGGER chain_is_not_deleted; DELETE FROM chain;")
        .unwrap();
    let out = verify(&db, &["--run", "run-old"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the run has no audit chain"),
        "{}",
        text(&out)
    );
    // A confirmation written to it chains the run as it stood first, then itself.
    let out = fleetreset_in(tmp.path())
        .args([
            "confirm",
            "--db",
            "audit.db",
            "run-old",
            "bell",
            "--by",
            "Ana",
            "--operator",
            "desk",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = verify(&db, &["--run", "run-old"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events: i64 = query(&db, "SELECT COUNT(*) FROM events WHERE run_id = 'run-old'");
    let chained: i64 = query(
        &db,
        "SELECT COUNT(DISTINCT ref) FROM chain WHERE run_id = 'run-old' AND kind = 'event'",
    );
    assert_eq!(chained, events);
}
