//! The whole sanitization record, as a reseller would use it, through the real binary: a
//! factory-reset demo run, its signed certificates checked with Debian's `minisign` as an
//! auditor would (and an edited copy refused), the bundle's list of devices not sanitized, a
//! verifier's sample, the certificates issued again with the sample, `audit verify` with the
//! public key, and a device's history.
//!
//! The demo serves its own fleet on 127.77.x.x; after it, nothing answers there, so the
//! sample's looks find every device gone.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{fleetreset_in, text};
use fleetreset::model::{Method, Outcome};
use fleetreset::store::{Db, RunRecord};
use serde_json::Value;

fn minisign() -> &'static str {
    let path = "/usr/bin/minisign";
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's `minisign` package (.ci/run does)"
    );
    path
}

fn run(dir: &Path, args: &[&str]) -> Output {
    fleetreset_in(dir).args(args).output().unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn verified_by_minisign(file: &Path, public: &Path) -> bool {
    Command::new(minisign())
        .arg("-Vm")
        .arg(file)
        .arg("-p")
        .arg(public)
        .output()
        .unwrap()
        .status
        .success()
}

fn record(dir: &Path) -> RunRecord {
    let db = Db::open(&dir.join("reports/demo.db")).unwrap();
    db.load_run(&db.resolve_run_id("latest").unwrap()).unwrap()
}

fn non_empty(v: &Value, path: &str) {
    let mut at = v;
    for key in path.split('.') {
        at = &at[key];
    }
    let filled = match at {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    assert!(filled, "{path} is empty in {v:#}");
}

#[test]
fn a_factory_reset_demo_leaves_signed_certificates_an_auditor_can_check_without_fleetreset() {
    minisign();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = run(dir, &["demo", "--action", "factory-reset"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = record(dir);
    let run_dir = dir.join("reports").join(&rec.run.id);
    let certs = run_dir.join("certificates");
    let public = dir.join("reports/demo-signing.pub");
    let head = Db::open(&dir.join("reports/demo.db"))
        .unwrap()
        .chain_head(&rec.run.id)
        .unwrap()
        .unwrap()
        .to_string();

    // One certificate per device the run sanitized: a remote reset that succeeded.
    let sanitized: Vec<_> = rec
        .jobs
        .iter()
        .filter(|j| j.outcome == Some(Outcome::Succeeded) && j.method == Method::Remote)
        .collect();
    assert!(sanitized.len() >= 15, "{}", sanitized.len());
    for job in &sanitized {
        let id = fleetreset::certificate::id(&rec.run.id, job.seq);
        let file = certs.join(format!("{id}.json"));
        let cert = json(&file);
        for field in [
            "id",
            "device.manufacturer",
            "device.brand",
            "device.model",
            "device.reported_model",
            "device.hardware_ids",
            "device.mac",
            "device.reported_mac",
            "device.asset_id",
            "device.site",
            "device.unit",
            "media_type",
            "sanitization.category",
            "sanitization.technique",
            "sanitization.method_used",
            "tool.name",
            "tool.version",
            "verification.method",
            "verification.result",
            "verification.evidence",
            "operator",
            "verifier.statement",
            "times.started.utc",
            "times.finished.utc",
            "chain.head",
            "signature.key_id",
            "signature.file",
        ] {
            non_empty(&cert, field);
        }
        assert_eq!(cert["device"]["asset_id"], job.device_id.as_str());
        assert_eq!(cert["sanitization"]["category"], "Clear");
        assert_eq!(cert["verification"]["result"], "passed");
        assert_eq!(cert["chain"]["head"], head.as_str());
        assert!(
            !String::from_utf8_lossy(&std::fs::read(&file).unwrap()).contains("\"Purge\""),
            "{file:?}"
        );
        let kinds: Vec<&str> = cert["verification"]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert!(kinds.contains(&"ack"), "{id}: {kinds:?}");
        assert!(
            kinds.contains(&"left_network"),
            "{id}: evidence of the departure: {kinds:?}"
        );
        assert!(verified_by_minisign(&file, &public), "{file:?}");
    }
    // Devices that were not sanitized have no certificate, and the bundle says why.
    let bundle = json(&certs.join("bundle.json"));
    let listed: Vec<&str> = bundle["not_sanitized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["asset_id"].as_str().unwrap())
        .collect();
    for job in rec
        .jobs
        .iter()
        .filter(|j| !sanitized.iter().any(|s| s.device_id == j.device_id))
    {
        assert!(
            listed.contains(&job.device_id.as_str()),
            "{}",
            job.device_id
        );
        let id = fleetreset::certificate::id(&rec.run.id, job.seq);
        assert!(!certs.join(format!("{id}.json")).exists(), "{id}");
    }
    for n in bundle["not_sanitized"].as_array().unwrap() {
        non_empty(n, "why");
        non_empty(n, "outcome");
    }
    assert_eq!(listed.len() + sanitized.len(), rec.jobs.len());
    assert!(verified_by_minisign(&certs.join("bundle.json"), &public));
    // The chain head beside the reports, signed too.
    assert!(verified_by_minisign(
        &run_dir.join("chain-head.txt"),
        &public
    ));

    // A one-byte edit of a certificate is refused by minisign.
    let first = fleetreset::certificate::id(&rec.run.id, sanitized[0].seq);
    let edited = dir.join("edited.json");
    let mut bytes = std::fs::read(certs.join(format!("{first}.json"))).unwrap();
    let at = bytes.windows(5).position(|w| w == b"Clear").unwrap();
    bytes[at] = b'K';
    std::fs::write(&edited, &bytes).unwrap();
    std::fs::copy(
        certs.join(format!("{first}.json.minisig")),
        dir.join("edited.json.minisig"),
    )
    .unwrap();
    assert!(!verified_by_minisign(&edited, &public));

    // The report page links every certificate.
    let page = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        page.contains(&format!("certificates/{first}.html")),
        "report.html"
    );

    sample_then_certify_again(dir, &rec, &certs, &public);
}

/// A verifier's sample, the certificates issued again with it, and the audit checked.
fn sample_then_certify_again(dir: &Path, rec: &RunRecord, certs: &Path, public: &Path) {
    let db = "reports/demo.db";
    // The run's operator can't be its own verifier, and nothing is recorded when refused.
    let own = run(
        dir,
        &[
            "audit",
            "sample",
            "latest",
            "--db",
            db,
            "--percent",
            "5",
            "--verifier",
            "demo",
        ],
    );
    assert_eq!(own.status.code(), Some(2), "{}", text(&own));
    assert!(record(dir).events.len() == rec.events.len());

    let out = run(
        dir,
        &[
            "audit",
            "sample",
            "latest",
            "--db",
            db,
            "--percent",
            "5",
            "--verifier",
            "Vera Verifier",
            "--seed",
            "42",
            "--signing-key",
            "reports/demo-signing.key",
        ],
    );
    // The demo's devices left the network and the simulator is gone: nothing answers, so
    // the sample is inconclusive, not passed.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = record(dir);
    let drawn = after
        .events
        .iter()
        .find(|e| e.kind.as_str() == "sample_drawn")
        .expect("the sample is recorded");
    assert_eq!(drawn.detail["verifier"], "Vera Verifier");
    assert_eq!(drawn.detail["seed"], "42");
    assert_ne!(drawn.detail["verifier"], after.run.operator.as_str());
    let finished = after
        .events
        .iter()
        .find(|e| e.kind.as_str() == "sample_finished")
        .unwrap();
    assert_eq!(finished.detail["result"], "inconclusive");
    // The sample issued the certificates again where they were: the bundle shows it, signed.
    let bundle = json(&certs.join("bundle.json"));
    assert_eq!(
        bundle["sample"]["verifier"],
        "Vera Verifier",
        "{}",
        text(&out)
    );
    assert!(verified_by_minisign(&certs.join("bundle.json"), public));

    let out = run(
        dir,
        &[
            "certificates",
            "latest",
            "--db",
            db,
            "--signing-key",
            "reports/demo-signing.key",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bundle_file: PathBuf = certs.join("bundle.json");
    let bundle = json(&bundle_file);
    assert_eq!(bundle["sample"]["verifier"], "Vera Verifier");
    assert_eq!(bundle["sample"]["result"], "inconclusive");
    assert!(verified_by_minisign(&bundle_file, public));

    let out = run(
        dir,
        &[
            "audit",
            "verify",
            "--db",
            db,
            "--key",
            "reports/demo-signing.pub",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("signed by the key given"),
        "{}",
        text(&out)
    );

    let first = rec
        .jobs
        .iter()
        .find(|j| j.outcome == Some(Outcome::Succeeded))
        .unwrap();
    let out = run(dir, &["history", &first.device_id, "--db", db]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = fleetreset::certificate::id(&rec.run.id, first.seq);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&id),
        "{}",
        text(&out)
    );
}
