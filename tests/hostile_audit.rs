//! Hostile tests of the audit chain, its checkpoints and signatures, the certificates and the
//! HTML report: tampering `audit verify` might miss, untouched runs it might wrongly fail,
//! hostile device text, signing keys that must be refused before any device is sent anything.
//!
//! The demo-based cases share one demo directory (the demo serves 127.77.x.x, one at a time
//! machine-wide: the `OnceLock` makes it one demo for this file). The runs against the
//! simulator use 127.51.x.x, one third octet per test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::audit_db::{self, head, query, reset_run, tamper, verify};
use common::bench::{Bench, run_args};
use common::{fleetreset_in, text};
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

const FILE: u8 = 51;

// ---------------------------------------------------------------------------------------------
// The demo's database, copied and tampered.
// ---------------------------------------------------------------------------------------------

/// A power-cycle demo, a factory-reset demo and an unsigned confirmation, made once.
fn source() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for action in ["power-cycle", "factory-reset"] {
            // Another checkout's tests may be running a demo on 127.77.x.x: wait for it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
            let out = loop {
                let out = fleetreset_in(dir.path())
                    .args(["demo", "--action", action])
                    .env("HOME", dir.path())
                    .output()
                    .unwrap();
                let busy = out.status.code() == Some(2)
                    && String::from_utf8_lossy(&out.stderr).contains("Address already in use");
                if !busy || std::time::Instant::now() > deadline {
                    break out;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            };
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
            .env("HOME", dir.path())
            .env_remove("FLEETRESET_SIGNING_KEY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "confirm: {}", text(&out));
        dir
    })
    .path()
}

/// A copy of the demo database to tamper with.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    audit_db::copy(&source().join("reports/demo.db"), name)
}

fn demo_pub() -> PathBuf {
    source().join("reports/demo-signing.pub")
}

fn cycle_run(db: &Path) -> String {
    query(
        db,
        "SELECT id FROM runs WHERE action = 'power-cycle' ORDER BY started_at DESC LIMIT 1",
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `verify` failed (exit 1), and some finding's line names `record` with `tamper`.
fn assert_found(out: &Output, record: &str, tamper: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let s = stdout(out);
    assert!(
        s.lines()
            .any(|l| l.contains(record) && l.contains(&format!(" {tamper}"))),
        "expected a finding {tamper} of {record}:\n{}",
        text(out)
    );
}

#[test]
fn the_untouched_demo_verifies_with_its_key_and_every_checkpoint_is_signed_or_named() {
    let (_d, db) = copy("untouched.db");
    let key = demo_pub();
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        stdout(&out).matches(": intact, ").count(),
        2,
        "{}",
        text(&out)
    );
    // With the key: the power cycle is signed to its end; the factory reset's confirmation,
    // made without a key, is named as covered by no signature.
    let out = verify(&db, &["--key", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        stdout(&out).matches(": intact, ").count(),
        1,
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).lines().next().is_some_and(
            |l| l.contains(" unsigned: no checkpoint signed by the key given covers them")
        ),
        "{}",
        text(&out)
    );
    let out = verify(&db, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    // The demo's own key is owner-only and nowhere else in what the demos wrote.
    let secret = source().join("reports/demo-signing.key");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the demo's secret key has mode {mode:o}");
    let line = std::fs::read_to_string(&secret)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    for (path, bytes) in files_under(source()) {
        if path != secret {
            assert!(
                !contains(&bytes, line.as_bytes()),
                "the demo's secret key is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn an_edited_operator_is_named() {
    let (_d, db) = copy("operator.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!("UPDATE runs SET operator = 'mallory' WHERE id = '{run}'"),
    );
    assert_found(&verify(&db, &["--run", &run]), "the run", "edited");
}

#[test]
fn edited_parameters_are_named() {
    let (_d, db) = copy("parameters.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "UPDATE runs SET parameters = json_set(parameters, '$.dry_run', json('true')) WHERE id = '{run}'"
        ),
    );
    assert_found(&verify(&db, &["--run", &run]), "the run", "edited");
}

#[test]
fn parameters_rewritten_with_the_same_json_in_another_spelling_still_verify() {
    // Not a tamper: the chain hashes the parsed value, so whitespace and key order in the
    // stored text don't matter... but a changed value does.
    let (_d, db) = copy("parameters-spelling.db");
    let run = reset_run(&db);
    let params: String = query(
        &db,
        &format!("SELECT parameters FROM runs WHERE id = '{run}'"),
    );
    let v: Value = serde_json::from_str(&params).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    tamper(
        &db,
        &format!(
            "UPDATE runs SET parameters = '{}' WHERE id = '{run}'",
            pretty.replace('\'', "''")
        ),
    );
    let out = verify(&db, &["--run", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_edited_run_status_is_named() {
    let (_d, db) = copy("status.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!("UPDATE runs SET status = 'stopped' WHERE id = '{run}'"),
    );
    assert_found(&verify(&db, &["--run", &run]), "the run's status", "edited");
}

#[test]
fn an_edited_job_mac_and_method_are_named() {
    let (_d, db) = copy("mac.db");
    let run = reset_run(&db);
    let dev: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND mac IS NOT NULL ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET mac = '00:11:22:33:44:55' WHERE run_id = '{run}' AND device_id = '{dev}'"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("job {dev}"),
        "edited",
    );

    let (_d2, db2) = copy("method.db");
    let dev: String = query(
        &db2,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND method = 'remote' ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db2,
        &format!(
            "UPDATE jobs SET method = 'manual' WHERE run_id = '{run}' AND device_id = '{dev}'"
        ),
    );
    assert_found(
        &verify(&db2, &["--run", &run]),
        &format!("job {dev}"),
        "edited",
    );
}

#[test]
fn a_flipped_or_cleared_or_invented_identity_verdict_is_named() {
    let (_d, db) = copy("identity.db");
    let run = reset_run(&db);
    let dev: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND identity_verified = 1 ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET identity_verified = 0 WHERE run_id = '{run}' AND device_id = '{dev}'"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("the identity verdict of job {dev}"),
        "edited",
    );

    let (_d, db) = copy("identity-null.db");
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET identity_verified = NULL WHERE run_id = '{run}' AND device_id = '{dev}'"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("the identity verdict of job {dev}"),
        "removed",
    );

    let (_d, db) = copy("identity-new.db");
    let none: Option<String> = Connection::open(&db)
        .unwrap()
        .query_row(
            &format!("SELECT device_id FROM jobs WHERE run_id = '{run}' AND identity_verified IS NULL ORDER BY seq LIMIT 1"),
            [],
            |r| r.get(0),
        )
        .ok();
    if let Some(none) = none {
        tamper(
            &db,
            &format!(
                "UPDATE jobs SET identity_verified = 1 WHERE run_id = '{run}' AND device_id = '{none}'"
            ),
        );
        assert_found(
            &verify(&db, &["--run", &run]),
            &format!("the identity verdict of job {none}"),
            "inserted",
        );
    }
}

#[test]
fn a_deleted_snapshot_and_one_invented_for_a_job_that_had_none_are_named() {
    let (_d, db) = copy("snap-del.db");
    let run = reset_run(&db);
    let (dev, phase): (String, String) = Connection::open(&db)
        .unwrap()
        .query_row(
            &format!("SELECT device_id, phase FROM snapshots WHERE run_id = '{run}' ORDER BY device_id, phase LIMIT 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    tamper(
        &db,
        &format!(
            "DELETE FROM snapshots WHERE run_id = '{run}' AND device_id = '{dev}' AND phase = '{phase}'"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("snapshot {dev}/{phase}"),
        "removed",
    );

    let (_d, db) = copy("snap-new.db");
    let (dev, phase): (String, String) = Connection::open(&db)
        .unwrap()
        .query_row(
            &format!(
                "SELECT j.device_id, p.phase FROM jobs j, (SELECT 'pre' AS phase UNION SELECT 'post') p
                  WHERE j.run_id = '{run}' AND NOT EXISTS (SELECT 1 FROM snapshots s
                   WHERE s.run_id = j.run_id AND s.device_id = j.device_id AND s.phase = p.phase)
                  ORDER BY j.seq LIMIT 1"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    tamper(
        &db,
        &format!(
            "INSERT INTO snapshots (run_id, device_id, phase, taken_at, data)
             SELECT run_id, '{dev}', '{phase}', taken_at, data FROM snapshots WHERE run_id = '{run}' LIMIT 1"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("snapshot {dev}/{phase}"),
        "inserted",
    );
}

#[test]
fn an_event_moved_to_another_run_is_removed_from_one_and_inserted_in_the_other() {
    let (_d, db) = copy("moved.db");
    let run = reset_run(&db);
    let other = cycle_run(&db);
    let id: i64 = query(
        &db,
        &format!("SELECT MAX(id) FROM events WHERE run_id = '{run}' AND kind = 'ack'"),
    );
    tamper(
        &db,
        &format!("UPDATE events SET run_id = '{other}' WHERE id = {id}"),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("event {id}"),
        "removed",
    );
    assert_found(
        &verify(&db, &["--run", &other]),
        &format!("event {id}"),
        "inserted",
    );
    // And verifying every run fails too.
    let all = verify(&db, &[]);
    assert_eq!(all.status.code(), Some(1), "{}", text(&all));
}

#[test]
fn a_run_cut_short_with_its_records_is_caught_by_its_checkpoints_without_expect() {
    // The confirmation's records are the chain's last: cut them off with the rows they
    // chained and put the job back as the run left it, but leave the checkpoints (anyone
    // cutting must also know to delete those; forgetting is the case here).
    let (_d, db) = copy("cut.db");
    let run = reset_run(&db);
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
             DELETE FROM chain WHERE run_id = '{run}' AND n >= {cut};"
        ),
    );
    let out = verify(&db, &["--run", &run]);
    assert_found(&out, "checkpoint", "truncated");
    // With the checkpoints sealed since the cut gone too (the confirmation's, and the
    // certificates it issued again), the signed run-end ones still hold.
    tamper(
        &db,
        &format!("DELETE FROM checkpoints WHERE run_id = '{run}' AND n >= {cut}"),
    );
    let key = demo_pub();
    let out = verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// --- a consistent rewrite by the documented formula -------------------------------------------

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let body: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        s => s.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Edits event `id` (its detail gets `forged`), sets its chain entry's digest to the new
/// record's, recomputes every hash of the run's chain by the README's formula, and moves
/// every checkpoint's head to the new chain's at its length (keeping the signatures).
fn rewrite_consistently(db: &Path, run: &str, id: i64, checkpoints: &str) {
    tamper(
        db,
        &format!("UPDATE events SET detail = json_set(detail, '$.forged', 1) WHERE id = {id}"),
    );
    let conn = Connection::open(db).unwrap();
    let (device, at, state, kind, detail): (
        Option<String>,
        String,
        Option<String>,
        String,
        String,
    ) = conn
        .query_row(
            "SELECT device_id, at, state, kind, detail FROM events WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    let record = serde_json::json!({
        "id": id, "device_id": device, "at": at, "state": state, "kind": kind,
        "detail": serde_json::from_str::<Value>(&detail).unwrap(),
    });
    let new_digest = hex(&Sha256::digest(canonical(&record).as_bytes()));
    conn.execute(
        "UPDATE chain SET digest = ?1 WHERE run_id = ?2 AND kind = 'event' AND ref = ?3",
        rusqlite::params![new_digest, run, id.to_string()],
    )
    .unwrap();
    let rows: Vec<(i64, String, String)> = conn
        .prepare("SELECT n, kind, digest FROM chain WHERE run_id = ?1 ORDER BY n")
        .unwrap()
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = vec![0u8; 32];
    for (n, kind, digest) in rows {
        let h = Sha256::new()
            .chain_update(b"fleetreset/chain/v1/")
            .chain_update(kind.as_bytes())
            .chain_update([0u8])
            .chain_update(&prev)
            .chain_update(unhex(&digest))
            .finalize()
            .to_vec();
        conn.execute(
            "UPDATE chain SET hash = ?1 WHERE run_id = ?2 AND n = ?3",
            rusqlite::params![hex(&h), run, n],
        )
        .unwrap();
        prev = h;
    }
    conn.execute_batch(&format!(
        "UPDATE checkpoints SET head = (SELECT hash FROM chain c WHERE c.run_id = checkpoints.run_id AND c.n = checkpoints.n)
          WHERE run_id = '{run}'; {checkpoints}"
    ))
    .unwrap();
}

#[test]
fn a_chain_rewritten_by_the_formula_passes_alone_and_fails_the_kept_head_and_the_key() {
    let (_d, db) = copy("rewrite.db");
    let run = reset_run(&db);
    let kept = head(&db, &run);
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'ack'"),
    );
    rewrite_consistently(&db, &run, id, "");
    // Our rewrite is the documented formula: without anything kept elsewhere it passes.
    let alone = verify(&db, &["--run", &run]);
    assert_eq!(
        alone.status.code(),
        Some(0),
        "the formula in the README is not the one verify uses:\n{}",
        text(&alone)
    );
    assert_found(
        &verify(&db, &["--run", &run, "--expect", &kept]),
        "expected head",
        "head_mismatch",
    );
    let key = demo_pub();
    assert_found(
        &verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]),
        "checkpoint",
        "bad_signature",
    );
}

#[test]
fn a_rewrite_that_strips_every_signature_fails_with_the_key() {
    let (_d, db) = copy("rewrite-unsigned.db");
    let run = reset_run(&db);
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'ack'"),
    );
    rewrite_consistently(
        &db,
        &run,
        id,
        &format!("UPDATE checkpoints SET signature = NULL, key_id = NULL WHERE run_id = '{run}';"),
    );
    let key = demo_pub();
    let out = verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]);
    assert_found(&out, "checkpoints", "bad_signature");
}

#[test]

fn a_confirmation_rewritten_after_the_last_signed_checkpoint_is_not_passed_as_signed() {
    // The demo signs its run-end checkpoints; the confirmation afterwards was made without a
    // key, so its checkpoint is unsigned. Rewrite the confirmation's event and every hash after
    // it, and move the unsigned checkpoint to the new head: `--key` finds two good signatures
    // and calls the run intact, though the records after them are covered by no signature.
    let (_d, db) = copy("after-signed.db");
    let run = reset_run(&db);
    let last_signed: i64 = query(
        &db,
        &format!("SELECT MAX(n) FROM checkpoints WHERE run_id = '{run}' AND signature IS NOT NULL"),
    );
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'manual_confirmed'"),
    );
    let at: i64 = query(
        &db,
        &format!("SELECT n FROM chain WHERE run_id = '{run}' AND kind = 'event' AND ref = '{id}'"),
    );
    assert!(
        at > last_signed,
        "the confirmation is after the signed checkpoints"
    );
    rewrite_consistently(&db, &run, id, "");
    let key = demo_pub();
    let out = verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]);
    let s = stdout(&out);
    assert!(
        out.status.code() == Some(1) || s.contains("not signed") || s.contains("unsigned"),
        "records {}.. are covered by no signature, yet: {}",
        last_signed + 1,
        text(&out)
    );
}

#[test]
fn an_edited_checkpoint_head_is_named() {
    let (_d, db) = copy("cp-head.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "UPDATE checkpoints SET head = '{}' WHERE run_id = '{run}' AND why = 'run_ended'",
            "cd".repeat(32)
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        "checkpoint",
        "head_mismatch",
    );
    // A checkpoint sealing a length the chain never reached.
    let (_d, db) = copy("cp-long.db");
    tamper(
        &db,
        &format!(
            "UPDATE checkpoints SET n = n + 1000 WHERE run_id = '{run}' AND why = 'run_ended'"
        ),
    );
    assert_found(&verify(&db, &["--run", &run]), "checkpoint", "truncated");
}

#[test]
fn a_chain_entry_whose_kind_word_changed_is_named() {
    let (_d, db) = copy("kind.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "UPDATE chain SET kind = 'snapshot' WHERE run_id = '{run}' AND n = 7 AND kind = 'event'"
        ),
    );
    let n7: i64 = query(
        &db,
        &format!(
            "SELECT COUNT(*) FROM chain WHERE run_id = '{run}' AND n = 7 AND kind = 'snapshot'"
        ),
    );
    if n7 == 1 {
        assert_found(
            &verify(&db, &["--run", &run]),
            "chain record 7",
            "chain_edited",
        );
    }
    let (_d, db) = copy("kind-unknown.db");
    tamper(
        &db,
        &format!("UPDATE chain SET kind = 'nonsense' WHERE run_id = '{run}' AND n = 7"),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        "chain record 7",
        "chain_edited",
    );
}

#[test]

fn a_column_edited_to_another_sql_type_is_named_not_an_error() {
    let (_d, db) = copy("blob.db");
    let run = reset_run(&db);
    let dev: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND model IS NOT NULL ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET model = CAST('HS110(EU)' AS BLOB) WHERE run_id = '{run}' AND device_id = '{dev}'"
        ),
    );
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("job {dev}"),
        "edited",
    );
}

#[test]

fn a_run_deleted_from_the_runs_table_is_caught_by_verifying_every_run() {
    let (_d, db) = copy("run-deleted.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!(
            "DELETE FROM snapshots WHERE run_id = '{run}';
             DELETE FROM events WHERE run_id = '{run}';
             DELETE FROM jobs WHERE run_id = '{run}';
             DELETE FROM runs WHERE id = '{run}';"
        ),
    );
    let out = verify(&db, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the chain and checkpoints of run {run} remain, but no verdict on it:\n{}",
        text(&out)
    );
}

#[test]
fn control_characters_in_tampered_rows_are_inert_in_verify_output() {
    let (_d, db) = copy("ansi.db");
    let run = reset_run(&db);
    let id: i64 = query(
        &db,
        &format!("SELECT MIN(id) FROM events WHERE run_id = '{run}' AND kind = 'ack'"),
    );
    tamper(
        &db,
        &format!(
            "UPDATE events SET kind = 'ack' || char(27) || '[2J' || char(13) || char(8238) || 'x',
                               at = at || char(27) || ']0;pwned' || char(7)
              WHERE id = {id};
             UPDATE checkpoints SET at = at || char(27) || '[31m' WHERE run_id = '{run}';"
        ),
    );
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["--run", run.as_str()];
        args.extend_from_slice(extra);
        let out = verify(&db, &args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let s = stdout(&out);
        for bad in ['\u{1b}', '\r', '\u{7}', '\u{8}', '\u{202e}'] {
            assert!(!s.contains(bad), "{bad:?} reached the terminal: {s:?}");
        }
        assert!(s.contains(&format!("event {id}")), "{s}");
    }
}

#[test]
fn expect_heads_that_are_not_quite_heads_are_bad_input_or_caught() {
    let (_d, db) = copy("expect.db");
    let run = reset_run(&db);
    let kept = head(&db, &run);
    let (n, hash) = kept.split_once(':').unwrap();
    // Upper case, surrounding spaces: the same head.
    let out = verify(
        &db,
        &[
            "--run",
            &run,
            "--expect",
            &format!("  {n}:{}  ", hash.to_uppercase()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The right hash at the wrong length.
    let wrong = format!("{}:{hash}", n.parse::<u64>().unwrap() - 1);
    assert_found(
        &verify(&db, &["--run", &run, "--expect", &wrong]),
        "expected head",
        "head_mismatch",
    );
    // A length beyond u64, a negative one, an empty hash, non-ASCII digits.
    for bad in [
        format!("99999999999999999999999:{hash}"),
        format!("-1:{hash}"),
        format!("{n}:"),
        format!("{n}:{}", "é".repeat(32)),
        String::new(),
    ] {
        let out = verify(&db, &["--run", &run, "--expect", &bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
    }
    // --expect without --run, and a key that is not a key.
    let out = verify(&db, &["--expect", &kept]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let secret = source().join("reports/demo-signing.key");
    let out = verify(&db, &["--key", secret.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let secret_line = std::fs::read_to_string(&secret)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        !text(&out).contains(&secret_line),
        "the secret key was printed: {}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Runs against the simulator, 127.51.x.x.
// ---------------------------------------------------------------------------------------------

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(2)>";

/// A CSV field, quoted.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Every file under `dir` (recursively), with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn keygen(dir: &Path, path: &str) -> (PathBuf, String) {
    let out = fleetreset_in(dir)
        .args(["keygen", "--out", path])
        .env("HOME", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let key = dir.join(path);
    let line = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    (key, line)
}

fn run_id(db: &Path) -> String {
    query(db, "SELECT id FROM runs ORDER BY started_at DESC LIMIT 1")
}

#[test]
fn hostile_device_text_in_a_signed_factory_reset_is_inert_everywhere_and_the_chain_verifies() {
    let evil = format!("{SCRIPT}\u{202e}gpj.exe \"q\" &amp; ' {IMG}");
    let long = format!("{}{IMG}", "Ж".repeat(3000));
    let mut csv = String::from("id,host,model,mac,alias,site,unit,sim_fault\n");
    csv.push_str(&format!(
        "p01,{},HS110(EU),50:C7:BF:33:01:01,{},{},{},reset_stays\n",
        common::ip(FILE, 1, 1),
        q(&evil),
        q(&format!("Oak {SCRIPT}")),
        q(IMG)
    ));
    csv.push_str(&format!(
        "p02,{},HS110(EU),50:C7:BF:33:01:02,{},Oak,2,reset_stays\n",
        common::ip(FILE, 1, 2),
        q(&long)
    ));
    csv.push_str(&format!(
        "p03,{},HS110(EU),50:C7:BF:33:01:03,plain,Oak,3,{}\n",
        common::ip(FILE, 1, 3),
        q(r"reset_refused;err_msg=<script>x</script>\e[31m\x00nul\x07\x1b]0\;t\x07")
    ));
    let b = Bench::start(&csv, &csv);
    let (key, secret_line) = keygen(b.dir.path(), "keys/k.key");
    let out = b
        .cmd(&run_args(
            "factory-reset",
            &[
                "--operator",
                "alice",
                "--signing-key",
                key.to_str().unwrap(),
            ],
        ))
        .env("HOME", b.dir.path())
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    for bad in ['\u{1b}', '\u{0}', '\u{7}', '\u{202e}'] {
        assert!(
            !text(&out).contains(bad),
            "{bad:?} in the run's output: {}",
            text(&out)
        );
    }
    let journal = b.journal();
    assert_eq!(journal.resets.get("p01"), Some(&1), "{}", journal.text);
    assert_eq!(journal.resets.get("p02"), Some(&1), "{}", journal.text);
    let db = b.db();
    let run = run_id(&db);
    let outcomes: String = query(
        &db,
        &format!(
            "SELECT group_concat(device_id || '=' || outcome, ' ') FROM (SELECT * FROM jobs WHERE run_id = '{run}' ORDER BY seq)"
        ),
    );
    assert!(
        outcomes.starts_with("p01=succeeded p02=succeeded p03="),
        "{outcomes}"
    );

    // Untouched, the chain verifies, signed by the key.
    let public = b.path("keys/k.pub");
    let v = b.output(&[
        "audit",
        "verify",
        "--run",
        &run,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    for bad in ['\u{1b}', '\u{0}', '\u{7}', '\u{202e}'] {
        assert!(!stdout(&v).contains(bad), "{bad:?}: {}", text(&v));
    }

    // Certificates for the two that were sanitized, signed; the HTML report.
    let reports = b.path(&format!("reports/{run}"));
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    let certs: Vec<(PathBuf, Vec<u8>)> = files_under(&reports.join("certificates"));
    assert!(
        certs
            .iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "json"))
            .count()
            >= 3,
        "{:?}",
        certs.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    let mut pages: Vec<(PathBuf, Vec<u8>)> = vec![(reports.join("report.html"), html.into_bytes())];
    pages.extend(certs.iter().cloned());
    for (path, bytes) in &pages {
        let name = path.display();
        let is_markup = path.extension().is_some_and(|e| e == "html" || e == "md");
        if is_markup {
            for raw in [SCRIPT, IMG, "<script>x</script>"] {
                assert!(!contains(bytes, raw.as_bytes()), "{name} holds raw {raw}");
            }
        }
        for c in [0x1bu8, 0x00, 0x07] {
            assert!(!bytes.contains(&c), "{name} holds byte {c:#04x}");
        }
        assert!(
            !contains(bytes, "\u{202e}".as_bytes()),
            "{name} holds a raw RTL override"
        );
        if path.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(v.is_object(), "{name}");
        }
    }
    // The hostile text did reach them, escaped: the test is not vacuous.
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    for kind in ["html", "json"] {
        let want: &[u8] = if kind == "html" {
            escaped.as_bytes()
        } else {
            SCRIPT.as_bytes()
        };
        assert!(
            pages
                .iter()
                .any(|(p, b)| p.extension().is_some_and(|e| e == kind) && contains(b, want)),
            "no {kind} file shows the device's text"
        );
    }
    assert!(
        contains(&pages[0].1, escaped.as_bytes()) || contains(&pages[0].1, b"&lt;script&gt;x"),
        "report.html doesn't show the hostile text"
    );
    // The JSON certificates are signed by the key and name the run's head.
    for (path, bytes) in certs
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "json"))
    {
        let sig = fleetreset::signing::signature_path(path);
        let sig =
            std::fs::read_to_string(&sig).unwrap_or_else(|e| panic!("{}: {e}", sig.display()));
        let pubtext = std::fs::read_to_string(&public).unwrap();
        fleetreset::signing::verify(&pubtext, bytes, &sig)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    // The secret key is nowhere but its own file: not the reports, not the database.
    for (path, bytes) in files_under(b.dir.path()) {
        if path == key {
            continue;
        }
        assert!(
            !contains(&bytes, secret_line.as_bytes()),
            "the secret key is in {}",
            path.display()
        );
    }
    assert!(!text(&out).contains(&secret_line));
}

/// A fleet of two plugs at `127.51.test.1..2` that would be reset (and stay on the network).
fn two_plugs(test: u8) -> String {
    common::plugs(FILE, test, 2, "reset_stays")
}

#[test]
fn a_signing_key_that_must_not_be_used_refuses_the_run_before_any_device_is_touched() {
    let csv = two_plugs(2);
    let b = Bench::start(&csv, &csv);
    let (good, secret_line) = keygen(b.dir.path(), "keys/good.key");
    let dir = b.dir.path();
    // A symlink to the good key.
    std::os::unix::fs::symlink(&good, dir.join("keys/link.key")).unwrap();
    // The good key, group-readable.
    std::fs::copy(&good, dir.join("keys/g.key")).unwrap();
    std::fs::set_permissions(
        dir.join("keys/g.key"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let private = |name: &str, bytes: &[u8]| {
        let p = dir.join("keys").join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    };
    let text_of_good = std::fs::read(&good).unwrap();
    private("empty.key", b"");
    private("truncated.key", &text_of_good[..text_of_good.len() / 2]);
    private("binary.key", &[0xff, 0xfe, 0x00, 0x01, 0x80]);
    // A minisign secret key with a password: kdf_alg "Sc" instead of zeros.
    let encoded = String::from_utf8(text_of_good.clone()).unwrap();
    let line = encoded.lines().nth(1).unwrap();
    use base64::Engine as _;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(line)
        .unwrap();
    raw[2] = b'S';
    raw[3] = b'c';
    private(
        "encrypted.key",
        format!(
            "untrusted comment: minisign encrypted secret key\n{}\n",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        )
        .as_bytes(),
    );
    std::fs::create_dir(dir.join("keys/dir.key")).unwrap();
    std::fs::set_permissions(
        dir.join("keys/dir.key"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let fifo = dir.join("keys/fifo.key");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o600)).unwrap();

    for name in [
        "link.key",
        "g.key",
        "empty.key",
        "truncated.key",
        "binary.key",
        "encrypted.key",
        "dir.key",
        "fifo.key",
        "good.pub",
        "missing.key",
    ] {
        let path = dir.join("keys").join(name);
        let db = format!("{name}.db");
        let started = std::time::Instant::now();
        let out = b
            .cmd(&run_args(
                "factory-reset",
                &["--db", &db, "--signing-key", path.to_str().unwrap()],
            ))
            .env("HOME", dir)
            .output()
            .unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{name}: it hung"
        );
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        let all = text(&out);
        assert!(
            !all.contains(&secret_line),
            "{name}: the secret key was printed"
        );
        assert!(
            all.contains(name),
            "{name}: the refusal doesn't name the file: {all}"
        );
        assert!(
            b.journal().no_commands(),
            "{name}: a device was sent a command:\n{}",
            b.journal().text
        );
        assert!(!b.path(&db).exists(), "{name}: the database was created");
        let runs: i64 = Connection::open(b.path(&db))
            .ok()
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
                    .ok()
            })
            .unwrap_or(0);
        assert_eq!(runs, 0, "{name}: a run was recorded");
        assert!(!b.path("reports").exists(), "{name}: reports were written");
    }
    // The same through the environment variable.
    let out = b
        .cmd(&run_args("factory-reset", &["--db", "env.db"]))
        .env("HOME", dir)
        .env("FLEETRESET_SIGNING_KEY", dir.join("keys/g.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(b.journal().no_commands(), "{}", b.journal().text);
}

#[test]
fn a_run_killed_mid_way_and_resumed_keeps_a_chain_that_verifies_and_extends_the_old_head() {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=8u8 {
        csv.push_str(&format!(
            "u{i},{},HS110(EU),50:C7:BF:33:03:{i:02X},reset_stays\n",
            common::ip(FILE, 3, i)
        ));
    }
    let b = Bench::start(&csv, &csv);
    let db = b.db();
    let mut child = Bench::spawn(&mut b.cmd(&run_args("factory-reset", &["--rate", "4"])));
    common::bench::kill_when(&mut child, || {
        common::truth::count_events(&db, fleetreset::model::EventKind::Ack) >= 3
    });
    let run = run_id(&db);
    // Killed: the chain as it stands verifies (nothing half-written), and its head is kept.
    let v = b.output(&["audit", "verify", "--run", &run]);
    assert_eq!(v.status.code(), Some(0), "after SIGKILL: {}", text(&v));
    let kept = head(&db, &run);
    let out = b.output(&["resume", "latest", "--yes"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let v = b.output(&["audit", "verify", "--run", &run, "--expect", &kept]);
    assert_eq!(v.status.code(), Some(0), "after resume: {}", text(&v));
    assert!(
        !stdout(&v).contains(" 0 records were added since"),
        "{}",
        text(&v)
    );
    // Every device reset exactly once, as the simulator saw it.
    let journal = b.journal();
    for i in 1..=8 {
        assert_eq!(
            journal.resets.get(&format!("u{i}")),
            Some(&1),
            "u{i}: {}",
            journal.text
        );
    }
    // A second resume of the finished run changes nothing the chain can't account for.
    let _ = b.output(&["resume", "latest", "--yes"]);
    let v = b.output(&["audit", "verify", "--run", &run]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "after a second resume: {}",
        text(&v)
    );
}

#[test]
fn runs_against_devices_with_odd_replies_verify_untouched() {
    let faults = [
        "garbage",
        "wrong_shape",
        "invalid_json",
        "huge_reply",
        "drop_mid_reply",
        "offline",
        "reset_stays",
    ];
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for (i, f) in faults.iter().enumerate() {
        let n = i as u8 + 1;
        csv.push_str(&format!(
            "d{n},{},HS110(EU),50:C7:BF:33:04:{n:02X},{f}\n",
            common::ip(FILE, 4, n)
        ));
    }
    // A smart plug with an energy meter reports floats.
    let b = Bench::start(&csv, &csv);
    for action in ["power-cycle", "factory-reset"] {
        let out = b.output(&run_args(action, &["--operator", "alice"]));
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{action}: {}",
            text(&out)
        );
        let db = b.db();
        let run = run_id(&db);
        let v = b.output(&["audit", "verify", "--run", &run]);
        assert_eq!(v.status.code(), Some(0), "{action}: {}", text(&v));
    }
    // Float-heavy and huge JSON written into a run's own events by the store's API still
    // round-trips: see `floats_and_huge_json_in_details_verify_untouched`.
}

#[test]
fn audit_sample_refuses_bad_percentages_and_its_own_operator_and_sends_nothing() {
    let csv = two_plugs(5);
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("factory-reset", &["--operator", "Alice Smith"]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let resets = b.journal().resets.clone();
    let sample = |args: &[&str]| {
        let mut full = vec!["audit", "sample", "latest"];
        full.extend_from_slice(args);
        b.cmd(&full).env("HOME", b.dir.path()).output().unwrap()
    };
    for p in ["0", "101", "abc", "-5", "NaN", "inf", "1e400", ""] {
        let out = sample(&["--percent", p, "--verifier", "Bob"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--percent {p:?}: {}",
            text(&out)
        );
    }
    for who in ["alice smith", "  ALICE SMITH ", "ALICE SMITH\n"] {
        let out = sample(&["--percent", "50", "--verifier", who]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "--verifier {who:?}: {}",
            text(&out)
        );
    }
    for who in ["", "   "] {
        let out = sample(&["--percent", "50", "--verifier", who]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--verifier {who:?}: {}",
            text(&out)
        );
    }
    let samples: i64 = Connection::open(b.db())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind LIKE 'sample%'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    assert_eq!(samples, 0, "a refused sample left events");
    assert_eq!(b.journal().resets, resets, "a sample sent a command");
    let run = run_id(&b.db());
    let v = b.output(&["audit", "verify", "--run", &run]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]

fn audit_sample_refuses_the_operator_spelled_with_other_inner_whitespace() {
    let csv = two_plugs(6);
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("factory-reset", &["--operator", "Alice Smith"]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    for who in ["Alice\tSmith", "Alice  Smith", "Alice\u{a0}Smith"] {
        let out = b
            .cmd(&[
                "audit",
                "sample",
                "latest",
                "--percent",
                "50",
                "--verifier",
                who,
            ])
            .env("HOME", b.dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "--verifier {who:?}: {}",
            text(&out)
        );
    }
    let drawn: i64 = query(
        &b.db(),
        "SELECT COUNT(*) FROM events WHERE kind = 'sample_drawn'",
    );
    assert_eq!(drawn, 0, "the run's operator sampled their own work");
}

/// Appends a chain entry for `reference` of `kind` with the digest of `record`, linked to the
/// run's current head by the README's formula: what anyone with `sqlite3` can do without
/// touching a single existing chain row or checkpoint.
fn append_entry(db: &Path, run: &str, kind: &str, reference: &str, record: &Value) {
    let conn = Connection::open(db).unwrap();
    let (n, prev): (i64, String) = conn
        .query_row(
            "SELECT n, hash FROM chain WHERE run_id = ?1 ORDER BY n DESC LIMIT 1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let digest = Sha256::digest(canonical(record).as_bytes()).to_vec();
    let hash = Sha256::new()
        .chain_update(b"fleetreset/chain/v1/")
        .chain_update(kind.as_bytes())
        .chain_update([0u8])
        .chain_update(unhex(&prev))
        .chain_update(&digest)
        .finalize()
        .to_vec();
    conn.execute(
        "INSERT INTO chain (run_id, n, kind, ref, digest, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![run, n + 1, kind, reference, hex(&digest), hex(&hash)],
    )
    .unwrap();
}

fn event_record(db: &Path, id: i64) -> Value {
    let (device, at, state, kind, detail): (
        Option<String>,
        String,
        Option<String>,
        String,
        String,
    ) = Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT device_id, at, state, kind, detail FROM events WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    serde_json::json!({
        "id": id, "device_id": device, "at": at, "state": state, "kind": kind,
        "detail": serde_json::from_str::<Value>(&detail).unwrap(),
    })
}

#[test]

fn an_edited_event_rechained_at_the_end_is_caught_though_every_old_head_is_still_in_the_chain() {
    let (_d, db) = copy("rechained.db");
    let run = reset_run(&db);
    let kept = head(&db, &run);
    let first_signed: i64 = query(
        &db,
        &format!("SELECT MIN(n) FROM checkpoints WHERE run_id = '{run}' AND signature IS NOT NULL"),
    );
    // An outcome event long before the signed run-end checkpoint: it says the device failed
    // or was reset; make it say whatever suits.
    let id: i64 = query(
        &db,
        &format!(
            "SELECT MIN(e.id) FROM events e JOIN chain c ON c.run_id = e.run_id AND c.kind = 'event' AND c.ref = CAST(e.id AS TEXT)
              WHERE e.run_id = '{run}' AND e.kind = 'outcome' AND c.n < {first_signed}"
        ),
    );
    tamper(
        &db,
        &format!("UPDATE events SET detail = json_set(detail, '$.forged', 'yes') WHERE id = {id}"),
    );
    // Plain verify names it...
    assert_found(
        &verify(&db, &["--run", &run]),
        &format!("event {id}"),
        "edited",
    );
    // ...until one entry is appended: no chain row, no checkpoint, no signature was touched.
    append_entry(&db, &run, "event", &id.to_string(), &event_record(&db, id));
    let key = demo_pub();
    let out = verify(
        &db,
        &[
            "--run",
            &run,
            "--expect",
            &kept,
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "event {id}, sealed by a signed checkpoint at {first_signed}, was rewritten: {}",
        text(&out)
    );
}

#[test]

fn an_edited_run_rechained_at_the_end_is_caught() {
    let (_d, db) = copy("rechained-run.db");
    let run = reset_run(&db);
    tamper(
        &db,
        &format!("UPDATE runs SET operator = 'mallory' WHERE id = '{run}'"),
    );
    let (action, path, sha, params, operator, tool, started): (String, String, String, String, String, String, String) =
        Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT action, inventory_path, inventory_sha256, parameters, operator, tool_version, started_at FROM runs WHERE id = ?1",
                [&run],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .unwrap();
    let record = serde_json::json!({
        "id": run, "action": action, "inventory_path": path, "inventory_sha256": sha,
        "parameters": serde_json::from_str::<Value>(&params).unwrap(), "operator": operator,
        "tool_version": tool, "started_at": started,
    });
    append_entry(&db, &run, "run", &run, &record);
    let key = demo_pub();
    let out = verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the operator is now mallory: {}",
        text(&out)
    );
}

#[test]

fn a_failed_reset_flipped_to_succeeded_and_rechained_is_caught() {
    let (dir, db) = copy("flipped.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'failed' ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET outcome = 'succeeded', reason = NULL
              WHERE run_id = '{run}' AND device_id = '{device}'"
        ),
    );
    let (outcome, reason, detail, finished): (Option<String>, Option<String>, Option<String>, Option<String>) =
        Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT outcome, reason, detail, finished_at FROM jobs WHERE run_id = ?1 AND device_id = ?2",
                [&run, &device],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
    let record = serde_json::json!({
        "device_id": device, "outcome": outcome, "reason": reason, "detail": detail,
        "finished_at": finished,
    });
    append_entry(&db, &run, "outcome", &device, &record);
    let key = demo_pub();
    let out = verify(&db, &["--run", &run, "--key", key.to_str().unwrap()]);
    let certs = fleetreset_in(dir.path())
        .args([
            "certificates",
            &run,
            "--db",
            db.to_str().unwrap(),
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "job {device} failed its reset, and now verifies as succeeded (certificates: {})\n{}",
        {
            let bundle: Value = std::fs::read(dir.path().join("out/certificates/bundle.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let issued = bundle["certificates"].as_array().map_or(0, |c| {
                c.iter()
                    .filter(|c| c["asset_id"] == device.as_str())
                    .count()
            });
            format!("{issued} issued for it; exit {:?}", certs.status.code())
        },
        text(&out)
    );
}

#[test]

fn certificates_are_not_issued_from_a_database_whose_chain_is_broken() {
    let (dir, db) = copy("cert-broken.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'failed' ORDER BY seq LIMIT 1"
        ),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET outcome = 'succeeded', reason = NULL
              WHERE run_id = '{run}' AND device_id = '{device}'"
        ),
    );
    let out = fleetreset_in(dir.path())
        .args([
            "certificates",
            &run,
            "--db",
            db.to_str().unwrap(),
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    let bundle: Value = std::fs::read(dir.path().join("out/certificates/bundle.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let issued = bundle["certificates"].as_array().map_or(0, |c| {
        c.iter()
            .filter(|c| c["asset_id"] == device.as_str())
            .count()
    });
    assert_eq!(
        issued,
        0,
        "a certificate for {device}, whose reset failed: {}",
        text(&out)
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn two_confirmations_of_one_run_at_once_both_land_and_the_chain_stays_intact() {
    let (dir, db) = copy("two-confirms.db");
    let run = reset_run(&db);
    let waiting: Vec<String> = Connection::open(&db)
        .unwrap()
        .prepare(&format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'manual_required' ORDER BY seq"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        waiting.len() >= 2,
        "fewer than two jobs wait for a confirmation: {waiting:?}"
    );
    let before: i64 = query(
        &db,
        &format!("SELECT MAX(n) FROM chain WHERE run_id = '{run}'"),
    );
    let children: Vec<_> = waiting
        .iter()
        .take(4)
        .map(|device| {
            fleetreset_in(dir.path())
                .args([
                    "confirm",
                    "--db",
                    db.to_str().unwrap(),
                    &run,
                    device,
                    "--by",
                    "Tech",
                    "--operator",
                    "desk",
                    "--no-verify",
                ])
                .env("HOME", dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    }
    let confirmed: i64 = query(
        &db,
        &format!(
            "SELECT COUNT(*) FROM jobs WHERE run_id = '{run}' AND outcome = 'manual_confirmed' AND device_id IN ({})",
            waiting
                .iter()
                .take(4)
                .map(|d| format!("'{d}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    assert_eq!(confirmed as usize, waiting.len().min(4));
    let after: i64 = query(
        &db,
        &format!("SELECT MAX(n) FROM chain WHERE run_id = '{run}'"),
    );
    assert!(after > before);
    let v = verify(&db, &["--run", &run]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn certificates_and_samples_of_a_power_cycle_and_bad_keys_for_confirm_are_refused() {
    let (dir, db) = copy("refusals.db");
    let cycle = cycle_run(&db);
    let before: i64 = query(&db, "SELECT COUNT(*) FROM chain");
    let out = fleetreset_in(dir.path())
        .args([
            "certificates",
            &cycle,
            "--db",
            db.to_str().unwrap(),
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!dir.path().join("out/certificates/bundle.json").exists());
    let out = fleetreset_in(dir.path())
        .args([
            "audit",
            "sample",
            &cycle,
            "--db",
            db.to_str().unwrap(),
            "--percent",
            "50",
            "--verifier",
            "Bob",
        ])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // confirm with a key others may read: refused, nothing recorded.
    let run = reset_run(&db);
    let device: Option<String> = Connection::open(&db)
        .unwrap()
        .query_row(
            &format!("SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'manual_required' ORDER BY seq LIMIT 1"),
            [],
            |r| r.get(0),
        )
        .ok();
    let key = dir.path().join("open.key");
    std::fs::copy(source().join("reports/demo-signing.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    if let Some(device) = device {
        let out = fleetreset_in(dir.path())
            .args([
                "confirm",
                "--db",
                db.to_str().unwrap(),
                &run,
                &device,
                "--by",
                "Tech",
                "--operator",
                "desk",
                "--no-verify",
                "--signing-key",
                key.to_str().unwrap(),
            ])
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    }
    let out = fleetreset_in(dir.path())
        .args([
            "certificates",
            &run,
            "--db",
            db.to_str().unwrap(),
            "--out",
            "out2",
            "--signing-key",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !dir.path().join("out2/certificates").exists(),
        "certificates written with a refused key"
    );
    let after: i64 = query(&db, "SELECT COUNT(*) FROM chain");
    assert_eq!(before, after, "a refused command chained records");
    let sealed: i64 = query(&db, "SELECT COUNT(*) FROM checkpoints");
    let (_d2, fresh) = copy("refusals-fresh.db");
    assert_eq!(
        sealed,
        query::<i64>(&fresh, "SELECT COUNT(*) FROM checkpoints")
    );
}

#[test]
fn keygen_with_force_replaces_a_symlink_and_never_writes_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, tmp.path().join("k.key")).unwrap();
    std::os::unix::fs::symlink(&victim, tmp.path().join("k.pub")).unwrap();
    let out = fleetreset_in(tmp.path())
        .args(["keygen", "--out", "k.key"])
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let out = fleetreset_in(tmp.path())
        .args(["keygen", "--out", "k.key", "--force"])
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "{}",
        text(&out)
    );
    if out.status.code() == Some(0) {
        let meta = std::fs::symlink_metadata(tmp.path().join("k.key")).unwrap();
        assert!(meta.is_file(), "the key is still a symlink");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // A key path ending in .pub, and a directory.
    for bad in ["x.pub", "."] {
        let out = fleetreset_in(tmp.path())
            .args(["keygen", "--out", bad, "--force"])
            .env("HOME", tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
    }
}

#[test]
fn history_finds_a_device_by_any_spelling_of_the_mac_the_inventory_gave_in_lowercase_dashes() {
    let ip = common::ip(FILE, 7, 1);
    let csv = format!("id,host,model,mac\nlamp,{ip},HS110(EU),50-c7-bf-33-07-01\n");
    let b = Bench::start(&csv, &csv);
    let out = b.output(&run_args("power-cycle", &["--operator", "alice"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        b.journal().reboots.get("lamp"),
        Some(&1),
        "{}",
        b.journal().text
    );
    for mac in [
        "50:C7:BF:33:07:01",
        "50c7bf330701",
        "50-C7-bf-33-07-01",
        " 50:c7:bf:33:07:01 ",
    ] {
        let out = b.output(&["history", mac, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{mac}: {}", text(&out));
        let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.as_array().map(Vec::len), Some(1), "{mac}: {rows}");
        assert_eq!(rows[0]["device_id"], "lamp");
    }
    let v = b.output(&["audit", "verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
}

#[test]
fn history_of_a_tampered_row_with_control_characters_is_inert() {
    let (dir, db) = copy("history.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!("SELECT device_id FROM jobs WHERE run_id = '{run}' ORDER BY seq LIMIT 1"),
    );
    tamper(
        &db,
        &format!(
            "UPDATE jobs SET site = 'Oak' || char(27) || '[2J' || char(8238), unit = char(13) || 'x' WHERE run_id = '{run}' AND device_id = '{device}'"
        ),
    );
    for json in [false, true] {
        let mut cmd = fleetreset_in(dir.path());
        cmd.args(["history", &device, "--db", db.to_str().unwrap()]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let s = stdout(&out);
        assert!(s.contains(&device), "{s}");
        for bad in ['\u{1b}', '\r', '\u{202e}'] {
            assert!(!s.contains(bad), "{bad:?} in history output: {s:?}");
        }
    }
}

/// A run built through the store's API, with events and snapshots whose JSON is `details`.
fn store_run(dir: &Path, details: &[Value]) -> PathBuf {
    use fleetreset::model::{Action, EventKind, Method};
    use fleetreset::store::{Db, NewJob, NewRun, Record, SnapshotPhase, Writer};
    let db_path = dir.join("audit.db");
    let mut db = Db::open(&db_path).unwrap();
    let run = NewRun {
        id: "odd-json".to_string(),
        action: Action::PowerCycle,
        inventory_path: "fleet.csv".to_string(),
        inventory_sha256: "0".repeat(64),
        parameters: Default::default(),
        operator: "planner".to_string(),
        tool_version: "0.1.0".to_string(),
        started_at: chrono::Utc::now(),
    };
    let job = NewJob {
        device_id: "plug".to_string(),
        seq: 0,
        host: "127.51.9.1".to_string(),
        model: Some("HS110(EU)".to_string()),
        mac: None,
        site: None,
        unit: None,
        method: Method::Remote,
    };
    db.create_run(&run, &[job]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let (writer, task) = Writer::spawn(db, 64);
        for (i, d) in details.iter().enumerate() {
            writer
                .record_durable(Record::Event {
                    run_id: "odd-json".into(),
                    device_id: Some("plug".into()),
                    at: chrono::Utc::now(),
                    state: None,
                    kind: EventKind::Ack.into(),
                    detail: d.clone(),
                })
                .await
                .unwrap_or_else(|e| panic!("event {i}: {e}"));
        }
        for (phase, d) in [
            (SnapshotPhase::Pre, &details[0]),
            (SnapshotPhase::Post, &details[details.len() - 1]),
        ] {
            writer
                .record_durable(Record::Snapshot {
                    run_id: "odd-json".into(),
                    device_id: "plug".into(),
                    phase,
                    at: chrono::Utc::now(),
                    data: d.clone(),
                })
                .await
                .unwrap();
        }
        drop(writer);
        task.finish().await.unwrap()
    });
    drop(db);
    db_path
}

fn nested(depth: usize) -> Value {
    let mut v = Value::from(1);
    for _ in 0..depth {
        v = serde_json::json!({ "a": v });
    }
    v
}

#[test]
fn floats_huge_numbers_and_long_json_in_details_verify_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let details = vec![
        serde_json::json!({
            "big": 1e300, "tiny": 5e-324, "max": f64::MAX, "neg0": -0.0, "third": 1.0 / 3.0,
            "u": u64::MAX, "i": i64::MIN, "int_float": 1.0, "e20": 1e20,
            "keys": {"\u{e9}": 1, "e\u{301}": 2, "Z": 3, "a": 4, "\u{1f600}": 5, "\u{ffff}": 6, "": 7},
            "nul": "a\u{0}b", "esc": "\u{1b}[31m", "rtl": "\u{202e}", "bom": "\u{feff}",
        }),
        serde_json::json!({"long": "x".repeat(200_000), "list": (0..5000).collect::<Vec<_>>()}),
        serde_json::json!([1.5, [2.25, [3.125]], null, true, "\u{7f}"]),
        serde_json::json!("just a string"),
        serde_json::json!(null),
        nested(100),
    ];
    let db = store_run(tmp.path(), &details);
    let out = fleetreset_in(tmp.path())
        .args(["audit", "verify", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]

fn a_deeply_nested_detail_verifies_untouched() {
    // A device reply nested 127 deep parses (serde_json's limit is 128); wrapped in the
    // event's own object or two, the stored detail is deeper than the verifier can parse.
    let tmp = tempfile::tempdir().unwrap();
    let db = store_run(tmp.path(), &[nested(130), nested(300)]);
    let out = fleetreset_in(tmp.path())
        .args(["audit", "verify", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn hostile_confirmation_text_and_operator_are_inert_in_certificates_and_reports() {
    let (dir, db) = copy("hostile-confirm.db");
    let run = reset_run(&db);
    let device: String = query(
        &db,
        &format!(
            "SELECT device_id FROM jobs WHERE run_id = '{run}' AND outcome = 'manual_required' ORDER BY seq LIMIT 1"
        ),
    );
    let by = format!("{SCRIPT}\u{1b}[2J\u{202e}Eve");
    let note = format!("{IMG}\n# heading\n[link](javascript:alert(3))\r\u{7}end");
    let out = fleetreset_in(dir.path())
        .args([
            "confirm",
            "--db",
            db.to_str().unwrap(),
            &run,
            &device,
            "--by",
            &by,
            "--note",
            &note,
            "--operator",
            &format!("desk{SCRIPT}"),
            "--no-verify",
        ])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    // Refusing control characters outright is fine too; accepting them must leave them inert.
    if out.status.code() == Some(2) {
        assert!(!text(&out).contains('\u{1b}'), "{}", text(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains('\u{1b}'), "{}", text(&out));
    let v = verify(&db, &["--run", &run]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let certs = fleetreset_in(dir.path())
        .args([
            "certificates",
            &run,
            "--db",
            db.to_str().unwrap(),
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(certs.status.code(), Some(0), "{}", text(&certs));
    let report = fleetreset_in(dir.path())
        .args(["report", &run, "--db", db.to_str().unwrap(), "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", text(&report));
    let files = files_under(&dir.path().join("out"));
    assert!(
        files.iter().any(|(p, _)| p.ends_with("report.html")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let mut shown = false;
    for (path, bytes) in &files {
        let name = path.display();
        let markup = path.extension().is_some_and(|e| e == "html" || e == "md");
        if markup {
            let md = path.extension().is_some_and(|e| e == "md");
            for raw in [SCRIPT, IMG, "[link](javascript:"] {
                if (md || !raw.starts_with('[')) && contains(bytes, raw.as_bytes()) {
                    let t = String::from_utf8_lossy(bytes);
                    let at = t.find(raw).unwrap();
                    let ctx: String = t[at.saturating_sub(300)..].chars().take(600).collect();
                    panic!("{name} holds raw {raw}: ...{ctx:?}");
                }
            }
            shown |= contains(bytes, b"&lt;img");
        }
        for c in [0x1bu8, 0x00, 0x07] {
            assert!(!bytes.contains(&c), "{name} holds byte {c:#04x}");
        }
        assert!(
            !contains(bytes, "\u{202e}".as_bytes()),
            "{name} holds a raw RTL override"
        );
    }
    assert!(shown, "no page shows the confirmation's note");
}

#[test]

fn verifying_a_run_while_it_writes_never_reports_a_false_break() {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=24u8 {
        csv.push_str(&format!(
            "v{i:02},{},HS110(EU),50:C7:BF:33:08:{i:02X},reset_stays\n",
            common::ip(FILE, 8, i)
        ));
    }
    let b = Bench::start(&csv, &csv);
    let db = b.db();
    let mut child = Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--rate", "8"])));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !db.exists()
        || Connection::open(&db)
            .ok()
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM chain", [], |r| r.get::<_, i64>(0))
                    .ok()
            })
            .unwrap_or(0)
            == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let run = run_id(&db);
    let mut checks = 0;
    let mut broken = Vec::new();
    while child.0.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        let v = b.output(&["audit", "verify", "--run", &run]);
        checks += 1;
        if v.status.code() != Some(0) {
            broken.push(text(&v));
        }
    }
    let code = common::bench::exit_code(&mut child);
    assert!(matches!(code, Some(0 | 1)), "the run ended {code:?}");
    let v = b.output(&["audit", "verify", "--run", &run]);
    assert_eq!(v.status.code(), Some(0), "after the run: {}", text(&v));
    assert!(checks > 3, "only {checks} checks during the run");
    assert!(
        broken.is_empty(),
        "{} of {checks} checks during the run failed; the first:\n{}",
        broken.len(),
        broken[0]
    );
}

/// `records` and `head` from a `chain-head.txt` statement.
fn head_file(path: &Path) -> String {
    let t = std::fs::read_to_string(path).unwrap();
    let field = |k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {t}"))
            .trim()
            .to_string()
    };
    format!("{}:{}", field("records:"), field("head:"))
}

#[test]
fn a_signed_run_stopped_by_ctrl_c_and_resumed_keeps_heads_that_verify_and_signatures_that_check() {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=10u8 {
        csv.push_str(&format!(
            "s{i:02},{},HS110(EU),50:C7:BF:33:09:{i:02X},reset_stays\n",
            common::ip(FILE, 9, i)
        ));
    }
    let b = Bench::start(&csv, &csv);
    let (key, secret_line) = keygen(b.dir.path(), "k/run.key");
    let public = b.path("k/run.pub");
    let db = b.db();
    let mut child = Bench::spawn(
        b.cmd(&run_args(
            "factory-reset",
            &["--rate", "3", "--signing-key", key.to_str().unwrap()],
        ))
        .env("HOME", b.dir.path()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::truth::count_events(&db, fleetreset::model::EventKind::Ack) < 2 {
        assert!(std::time::Instant::now() < deadline, "no acks");
        assert!(child.0.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    common::signal(&child, "-INT");
    let code = common::bench::exit_code(&mut child);
    assert!(code.is_some(), "killed by a signal");
    let run = run_id(&db);
    let status: String = query(&db, &format!("SELECT status FROM runs WHERE id = '{run}'"));
    assert_ne!(status, "running", "exit {code:?}");
    let dir = b.path(&format!("reports/{run}"));
    let first = head_file(&dir.join("chain-head.txt"));
    assert_eq!(
        first,
        head(&db, &run),
        "chain-head.txt is not the head the run ended on"
    );
    let sig = std::fs::read_to_string(dir.join("chain-head.txt.minisig")).unwrap();
    fleetreset::signing::verify(
        &std::fs::read_to_string(&public).unwrap(),
        &std::fs::read(dir.join("chain-head.txt")).unwrap(),
        &sig,
    )
    .unwrap();
    let v = b.output(&[
        "audit",
        "verify",
        "--run",
        &run,
        "--expect",
        &first,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));

    let out = b
        .cmd(&[
            "resume",
            "latest",
            "--yes",
            "--signing-key",
            key.to_str().unwrap(),
        ])
        .env("HOME", b.dir.path())
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let second = head_file(&dir.join("chain-head.txt"));
    assert_ne!(first, second);
    assert_eq!(second, head(&db, &run));
    let v = b.output(&[
        "audit",
        "verify",
        "--run",
        &run,
        "--expect",
        &first,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let journal = b.journal();
    for i in 1..=10 {
        assert_eq!(
            journal.resets.get(&format!("s{i:02}")),
            Some(&1),
            "s{i:02}: {}",
            journal.text
        );
    }
    for (path, bytes) in files_under(b.dir.path()) {
        if path != key {
            assert!(
                !contains(&bytes, secret_line.as_bytes()),
                "the secret key is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn the_same_seed_draws_the_same_devices_and_the_sample_keeps_the_chain_intact() {
    let mut drawn = Vec::new();
    for name in ["seed-a.db", "seed-b.db"] {
        let (dir, db) = copy(name);
        let run = reset_run(&db);
        let out = fleetreset_in(dir.path())
            .args([
                "audit",
                "sample",
                &run,
                "--db",
                db.to_str().unwrap(),
                "--percent",
                "30",
                "--verifier",
                "Vera",
                "--seed",
                "42",
            ])
            .env("HOME", dir.path())
            .env_remove("FLEETRESET_SIGNING_KEY")
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        let detail: String = query(
            &db,
            &format!("SELECT detail FROM events WHERE run_id = '{run}' AND kind = 'sample_drawn'"),
        );
        let mut v: Value = serde_json::from_str(&detail).unwrap();
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !k.contains("at") && !k.contains("time"));
        }
        drawn.push(v);
        let v = verify(&db, &["--run", &run]);
        assert_eq!(v.status.code(), Some(0), "{}", text(&v));
        let sealed: i64 = query(
            &db,
            &format!("SELECT COUNT(*) FROM checkpoints WHERE run_id = '{run}' AND why = 'sampled'"),
        );
        assert_eq!(sealed, 1);
    }
    assert_eq!(drawn[0], drawn[1], "seed 42 drew different devices");
}

#[test]
fn verify_does_not_change_the_database_it_checks() {
    let (_d, db) = copy("readonly.db");
    let out = verify(&db, &["--key", demo_pub().to_str().unwrap()]);
    // The confirmation after the signed checkpoints is unsigned: a finding, not a change.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (_d2, fresh) = copy("readonly-fresh.db");
    for table in [
        "chain",
        "checkpoints",
        "events",
        "jobs",
        "runs",
        "snapshots",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(
            query::<i64>(&db, &sql),
            query::<i64>(&fresh, &sql),
            "{table}"
        );
    }
}

#[test]

fn verify_of_a_database_from_before_the_chain_does_not_migrate_it() {
    let (_d, db) = copy("v4.db");
    tamper(
        &db,
        "DROP TABLE chain; DROP TABLE checkpoints; PRAGMA user_version = 4;",
    );
    let out = verify(&db, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("no audit chain"), "{}", text(&out));
    let version: i64 = query(&db, "PRAGMA user_version");
    let tables: i64 = query(
        &db,
        "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('chain', 'checkpoints')",
    );
    assert_eq!(
        (version, tables),
        (4, 0),
        "verify migrated the database it was checking"
    );
}

/// Runs `cmd` for at most `secs`; `None` if it was still running (then it is killed).
fn within(cmd: &mut std::process::Command, secs: u64) -> Option<Output> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]

fn a_public_key_that_is_a_fifo_is_refused_not_waited_on() {
    let (dir, db) = copy("fifo.db");
    let fifo = dir.path().join("key.pub");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = within(
        fleetreset_in(dir.path()).args([
            "audit",
            "verify",
            "--db",
            db.to_str().unwrap(),
            "--key",
            fifo.to_str().unwrap(),
        ]),
        10,
    );
    let out = out.expect("audit verify --key FIFO still waits after 10 s");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn bad_databases_and_hostile_arguments_are_bad_input_and_inert() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.db");
    let out = verify(&missing, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !missing.exists(),
        "verify created the database it was asked to check"
    );
    let garbage = tmp.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 10_000]).unwrap();
    let out = verify(&garbage, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let other = tmp.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let out = verify(&other, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let tables: i64 = query(&other, "SELECT COUNT(*) FROM sqlite_master");
    assert_eq!(tables, 1, "verify changed another application's database");

    let (_d, db) = copy("args.db");
    let evil = "\u{1b}[2J\u{1b}]0;x\u{7}\u{202e}";
    for args in [
        vec!["--run", evil],
        vec!["--run", "latest", "--expect", evil],
    ] {
        let out = verify(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!text(&out).contains(bad), "{bad:?}: {:?}", text(&out));
        }
    }
    let out = fleetreset_in(db.parent().unwrap())
        .args(["history", evil, "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    for bad in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(
            !text(&out).contains(bad),
            "history {bad:?}: {:?}",
            text(&out)
        );
    }
}

#[test]
fn killed_at_many_points_every_chain_verifies_before_and_after_resume() {
    let mut csv = String::from("id,host,model,mac,sim_fault\n");
    for i in 1..=6u8 {
        csv.push_str(&format!(
            "k{i},{},HS110(EU),50:C7:BF:33:0A:{i:02X},reset_stays\n",
            common::ip(FILE, 10, i)
        ));
    }
    let b = Bench::start(&csv, &csv);
    for kill_after in [1usize, 3, 6, 10, 15, 22] {
        let name = format!("k{kill_after}.db");
        let db = b.path(&name);
        let mut child =
            Bench::spawn(&mut b.cmd(&run_args("power-cycle", &["--db", &name, "--rate", "6"])));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let n = Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()
                .and_then(|c| {
                    c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
                        .ok()
                })
                .unwrap_or(0);
            if n as usize >= kill_after
                || child.0.try_wait().unwrap().is_some()
                || std::time::Instant::now() > deadline
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = child.0.kill();
        let _ = child.0.wait();
        let run = run_id(&db);
        let v = b.output(&["audit", "verify", "--db", &name, "--run", &run]);
        assert_eq!(
            v.status.code(),
            Some(0),
            "killed after {kill_after} events: {}",
            text(&v)
        );
        let kept = head(&db, &run);
        let out = b.output(&["resume", "latest", "--db", &name, "--yes"]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        let v = b.output(&[
            "audit", "verify", "--db", &name, "--run", &run, "--expect", &kept,
        ]);
        assert_eq!(
            v.status.code(),
            Some(0),
            "resumed after {kill_after} events: {}",
            text(&v)
        );
        let unfinished: i64 = query(
            &db,
            &format!("SELECT COUNT(*) FROM jobs WHERE run_id = '{run}' AND outcome IS NULL"),
        );
        assert_eq!(unfinished, 0, "after {kill_after}");
    }
}
