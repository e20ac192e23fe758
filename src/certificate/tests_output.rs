//! The renderings and the files: canonical JSON, escaping, never Purge, signatures.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::fixture::{HOSTILE, bundle_of, factory_record, unsigned_bundle_of};

fn every_output() -> Vec<String> {
    let b = bundle_of(&factory_record());
    let mut out = Vec::new();
    for c in &b.certificates {
        let (j, m, h) = super::render_certificate(c).unwrap();
        out.extend([j, m, h]);
    }
    let (j, m, h) = super::render_bundle(&b).unwrap();
    out.extend([j, m, h]);
    out
}

#[test]
fn the_json_is_canonical_and_the_same_every_time() {
    let (a, b) = (bundle_of(&factory_record()), bundle_of(&factory_record()));
    for (x, y) in a.certificates.iter().zip(&b.certificates) {
        let (jx, jy) = (
            super::json::certificate(x).unwrap(),
            super::json::certificate(y).unwrap(),
        );
        assert_eq!(jx.as_bytes(), jy.as_bytes());
        assert!(jx.starts_with("{\"chain\":{\"hash\":"), "{jx}");
        assert!(jx.ends_with("}\n") && jx.matches('\n').count() == 1);
        assert!(!jx.contains("\": ") && !jx.contains(", \""));
        let keys = [
            "\"chain\":",
            "\"device\":",
            "\"format\":",
            "\"id\":",
            "\"issued_by\":",
            "\"media_type\":",
            "\"operator\":",
            "\"run_id\":",
            "\"sanitization\":",
            "\"signature\":",
            "\"technician\":",
            "\"times\":",
            "\"tool\":",
            "\"verification\":",
            "\"verifier\":",
        ];
        let at: Vec<usize> = keys.iter().map(|k| jx.rfind(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    }
    assert_eq!(
        super::json::bundle(&a).unwrap(),
        super::json::bundle(&b).unwrap()
    );
}

#[test]
fn the_category_is_clear_and_purge_is_only_ever_disclaimed() {
    for text in every_output() {
        let purge = text.matches("Purge").count();
        let disclaimed = text.matches("no Purge or Destroy claim").count();
        assert_eq!(purge, disclaimed, "{text}");
        assert!(!text.contains("\"category\":\"Purge\""));
    }
    let b = bundle_of(&factory_record());
    assert!(
        b.certificates
            .iter()
            .all(|c| c.sanitization.category == "Clear")
    );
}

#[test]
fn device_text_is_escaped_in_html_and_markdown() {
    let mut record = factory_record();
    // The alias before the reset shows in the post-state evidence.
    let mut post = record.snapshots[0].clone();
    post.phase = crate::store::SnapshotPhase::Post;
    post.data = serde_json::json!({"summary": {"alias": "Smart Plug", "bound": false}});
    record.snapshots.push(post);
    let b = bundle_of(&record);
    let plug = &b.certificates[0];
    let (_, md, html) = super::render_certificate(plug).unwrap();
    assert!(!html.contains(HOSTILE) && !md.contains(HOSTILE));
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(md.contains("\\<img src=x onerror=alert(1)\\>"), "{md}");
    let (_, bmd, bhtml) = super::render_bundle(&b).unwrap();
    assert!(!bhtml.contains("<img") && bhtml.contains("&lt;img"));
    assert!(!bmd.contains(HOSTILE) && bmd.contains("\\<img src=x onerror=alert(1)\\>"));
    for page in [&html, &bhtml] {
        assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
        assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("://"));
        assert!(page.contains("@page{size:A4"));
        assert!(page.contains("Verifier: name, signature, date"));
    }
    assert!(md.contains(super::SIGN_OPERATOR) && md.contains(super::SIGN_VERIFIER));
}

#[test]
fn device_text_in_the_json_is_inert() {
    let mut record = factory_record();
    record.jobs[0].detail = Some("left\u{202e}txt.exe\u{1b}[2J".into());
    let b = bundle_of(&record);
    let json = super::json::certificate(&b.certificates[0]).unwrap();
    assert!(
        !json.contains('\u{202e}') && !json.contains("\\u001b"),
        "{json}"
    );
    assert!(
        json.contains("left\\\\u{202e}txt.exe\\\\u{1b}[2J"),
        "{json}"
    );
}

#[test]
fn writing_signs_each_json_with_its_exact_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let b = bundle_of(&factory_record());
    let seen: RefCell<Vec<(Vec<u8>, String)>> = RefCell::new(Vec::new());
    let sign = |data: &[u8], comment: &str| -> anyhow::Result<String> {
        seen.borrow_mut().push((data.to_vec(), comment.to_string()));
        Ok(format!(
            "untrusted comment: fake\n{}\ntrusted comment: {comment}\n",
            data.len()
        ))
    };
    // A file of another run stays.
    let dir = tmp.path().join("certificates");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("other-run-0001.json"), "{}").unwrap();
    let written = super::write(tmp.path(), &b, Some(&sign)).unwrap();
    let seen = seen.take();
    let jsons: Vec<_> = written
        .files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(jsons.len(), 3);
    assert_eq!(seen.len(), 3);
    for (path, (data, comment)) in jsons.iter().zip(&seen) {
        assert_eq!(&fs::read(path).unwrap(), data);
        let sig = fs::read_to_string(format!("{}.minisig", path.display())).unwrap();
        assert!(sig.ends_with(&format!("trusted comment: {comment}\n")));
        assert!(
            comment.contains(&format!("chain 42:{}", "ab".repeat(32))),
            "{comment}"
        );
    }
    assert_eq!(
        seen[0].1,
        format!(
            "fleetreset certificate {} chain 42:{}",
            b.certificates[0].id,
            "ab".repeat(32)
        )
    );
    assert_eq!(written.files.len(), 3 * 2 + 2 * 2 + 2);
    for path in &written.files {
        assert_eq!(
            fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
    }
    assert_eq!(
        fs::read_to_string(dir.join("other-run-0001.json")).unwrap(),
        "{}"
    );
    // Written again: replaced, not added to.
    let again = super::write(tmp.path(), &b, Some(&sign)).unwrap();
    assert_eq!(again.files, written.files);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), written.files.len() + 1);
}

#[test]
fn a_symlinked_certificates_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), tmp.path().join("certificates")).unwrap();
    let err = super::write(tmp.path(), &unsigned_bundle_of(&factory_record()), None).unwrap_err();
    assert!(format!("{err:#}").contains("is a symbolic link"), "{err:#}");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_bundle_is_written_signed_only_when_it_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let signed = bundle_of(&factory_record());
    assert!(super::write(tmp.path(), &signed, None).is_err());
    let sign = |_: &[u8], _: &str| -> anyhow::Result<String> { Ok("sig".into()) };
    let unsigned = unsigned_bundle_of(&factory_record());
    assert!(super::write(tmp.path(), &unsigned, Some(&sign)).is_err());
    assert!(!tmp.path().join("certificates").exists());
    let written = super::write(tmp.path(), &unsigned, None).unwrap();
    assert!(
        written
            .files
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".minisig"))
    );
    let json = fs::read_to_string(tmp.path().join("certificates/bundle.json")).unwrap();
    assert!(json.contains("\"statement\":\"unsigned\""), "{json}");
}
