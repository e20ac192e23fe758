//! `fleetreset certificates RUN`, the real binary in a temp dir, over factory-reset runs built
//! through the store's API. Addresses: 127.50.1.0/24 (nothing is sent to them: `certificates`
//! reads only the audit).

mod common;
mod manual_run;

use std::path::Path;

use common::{fleetreset_in, text};
use fleetreset::model::{Action, Outcome};
use manual_run::{Dev, manual_run};

fn fleet() -> Vec<Dev> {
    vec![
        Dev {
            outcome: Outcome::Succeeded,
            mac: Some("50:C7:BF:50:01:01"),
            ..Dev::manual("oak-101-plug", "127.50.1.1".into(), "HS103(US)").at("Oak House", "101")
        },
        Dev::manual("oak-204-bell", "127.50.1.2".into(), "KD110(US)").at("Oak House", "204"),
    ]
}

/// The run's chain head as the store has it.
fn head(db: &Path, run_id: &str) -> String {
    fleetreset::store::Db::open(db)
        .unwrap()
        .chain_head(run_id)
        .unwrap()
        .expect("the run has a chain")
        .to_string()
}

#[test]
fn a_run_with_a_chain_gets_a_certificate_per_sanitized_device_and_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-cert-1", Action::FactoryReset, &fleet());
    let out = fleetreset_in(tmp.path())
        .args([
            "certificates",
            "run-cert-1",
            "--db",
            "audit.db",
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let files: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        files,
        [
            "out/certificates/run-cert-1-0001.json",
            "out/certificates/bundle.json",
            "out/certificates/run-cert-1-0001.md",
            "out/certificates/run-cert-1-0001.html",
            "out/certificates/bundle.md",
            "out/certificates/bundle.html",
        ],
        "{}",
        text(&out)
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join(files[1])).unwrap()).unwrap();
    assert_eq!(bundle["chain"]["head"], head(&db, "run-cert-1"));
    assert_eq!(bundle["certificates"][0]["asset_id"], "oak-101-plug");
    assert_eq!(bundle["not_sanitized"][0]["asset_id"], "oak-204-bell");
    assert_eq!(bundle["signature"]["statement"], "unsigned");
    let cert: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join(files[0])).unwrap()).unwrap();
    assert_eq!(cert["sanitization"]["category"], "Clear");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("1 certificate(s), 1 device(s) not sanitized, unsigned")
    );
}

#[test]
fn a_run_without_an_audit_chain_is_refused_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let db = manual_run(tmp.path(), "run-cert-2", Action::FactoryReset, &fleet());
    // As a run recorded before fleetreset chained its audit has it: no chain at all.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TRIGGER chain_is_not_deleted; DELETE FROM chain;")
        .unwrap();
    let out = fleetreset_in(tmp.path())
        .args([
            "certificates",
            "run-cert-2",
            "--db",
            "audit.db",
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("has no audit chain"), "{}", text(&out));
    assert!(out.stdout.is_empty());
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_power_cycle_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    manual_run(tmp.path(), "run-cert-3", Action::PowerCycle, &fleet());
    let out = fleetreset_in(tmp.path())
        .args([
            "certificates",
            "run-cert-3",
            "--db",
            "audit.db",
            "--out",
            "out",
            "--unsigned",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("erases nothing"), "{}", text(&out));
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn signing_or_not_must_be_said_and_a_key_that_cannot_be_used_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    manual_run(tmp.path(), "run-cert-4", Action::FactoryReset, &fleet());
    let certificates = |extra: &[&str]| {
        fleetreset_in(tmp.path())
            .args(["certificates", "run-cert-4", "--db", "audit.db"])
            .args(extra)
            .output()
            .unwrap()
    };
    let neither = certificates(&[]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));
    let missing = certificates(&["--signing-key", "k.key"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("cannot read the signing key k.key"),
        "{}",
        text(&missing)
    );
    assert!(!tmp.path().join("reports").exists());

    let keygen = fleetreset_in(tmp.path())
        .args(["keygen", "--out", "k.key"])
        .output()
        .unwrap();
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen));
    let secret = std::fs::read_to_string(tmp.path().join("k.key")).unwrap();
    // Readable by others: refused, and nothing written.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tmp.path().join("k.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let open = certificates(&["--signing-key", "k.key"]);
    assert_eq!(open.status.code(), Some(2), "{}", text(&open));
    assert!(!tmp.path().join("reports").exists());
    std::fs::set_permissions(
        tmp.path().join("k.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    let signed = certificates(&["--signing-key", "k.key"]);
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed));
    let dir = tmp.path().join("reports/run-cert-4/certificates");
    for name in ["run-cert-4-0001.json", "bundle.json"] {
        let sig = std::fs::read_to_string(dir.join(format!("{name}.minisig"))).unwrap();
        let data = std::fs::read(dir.join(name)).unwrap();
        let public = std::fs::read_to_string(tmp.path().join("k.pub")).unwrap();
        fleetreset::signing::verify(&public, &data, &sig).unwrap();
    }
    // The secret key is in no output and no file written.
    let secret_line = secret.lines().nth(1).unwrap();
    assert!(!text(&signed).contains(secret_line));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let body = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!body.contains(secret_line));
    }
}
