//! `fleetreset keygen` and signatures that Debian's `minisign` tool checks. No network.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{fleetreset_in, text};
use fleetreset::signing::Signer;

const MINISIGN: &str = "/usr/bin/minisign";

/// `minisign -Vm FILE -p PUB`: whether it exits 0, with what it said.
fn minisign_verifies(file: &Path, public: &Path) -> (bool, String) {
    assert!(
        Path::new(MINISIGN).exists(),
        "{MINISIGN} is missing: install Debian's `minisign` package (apt-get install minisign); CI installs it"
    );
    let out = Command::new(MINISIGN)
        .arg("-Vm")
        .arg(file)
        .arg("-p")
        .arg(public)
        .output()
        .expect("minisign runs");
    (out.status.success(), text(&out))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_an_owner_only_key_and_a_public_key_that_minisign_checks_signatures_with() {
    let tmp = tempfile::tempdir().unwrap();
    let out = fleetreset_in(tmp.path())
        .args(["keygen", "--out"])
        .arg(tmp.path().join("keys/k.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let secret = tmp.path().join("keys/k.key");
    let public = tmp.path().join("keys/k.pub");
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(mode(&public), 0o644);
    assert_eq!(mode(&tmp.path().join("keys")), 0o700);

    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    let signer = Signer::load(&secret).unwrap();
    let secret_text = fs::read_to_string(&secret).unwrap();
    let secret_line = secret_text.lines().nth(1).unwrap();
    assert!(secret_line.len() > 100, "{secret_text}");
    assert!(!stdout.contains(secret_line), "{}", text(&out));
    assert!(!stderr.contains(secret_line), "{}", text(&out));
    let public_text = fs::read_to_string(&public).unwrap();
    assert_eq!(public_text, signer.public_key_text());
    let public_line = public_text.lines().nth(1).unwrap();
    assert_eq!(
        stdout,
        format!(
            "secret_key\t{}\npublic_key\t{}\nkey_id\t{}\npublic_key_line\t{public_line}\n",
            secret.display(),
            public.display(),
            signer.key_id()
        ),
        "{}",
        text(&out)
    );
    assert!(stderr.contains("Copy "), "{}", text(&out));
    assert!(
        stderr.contains(&public.display().to_string()),
        "{}",
        text(&out)
    );

    // A file signed through the library checks with the stock tool; one byte changed fails.
    let file = tmp.path().join("certificate.json");
    let data = br#"{"run":"r-1","device":"p01","result":"sanitized"}"#;
    fleetreset::signing::write_signed(&file, data, Some(&signer), "fleetreset certificate r-1")
        .unwrap();
    let (ok, said) = minisign_verifies(&file, &public);
    assert!(ok, "{said}");
    assert!(said.contains("fleetreset certificate r-1"), "{said}");
    let mut edited = data.to_vec();
    edited[10] ^= 0x01;
    fs::write(&file, &edited).unwrap();
    let (ok, said) = minisign_verifies(&file, &public);
    assert!(!ok, "minisign accepted an edited file: {said}");
}

#[test]
fn keygen_refuses_to_replace_a_key_without_force_and_leaves_it_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    let first = fleetreset_in(tmp.path())
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let before = (
        fs::read(&key).unwrap(),
        fs::read(tmp.path().join("k.pub")).unwrap(),
    );

    let again = fleetreset_in(tmp.path())
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(again.stdout.is_empty(), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&key.display().to_string()),
        "{}",
        text(&again)
    );
    assert!(stderr.contains("--force"), "{}", text(&again));
    let after = (
        fs::read(&key).unwrap(),
        fs::read(tmp.path().join("k.pub")).unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(mode(&key), 0o600);

    let forced = fleetreset_in(tmp.path())
        .args(["keygen", "--force", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_ne!(fs::read(&key).unwrap(), before.0);
    assert_eq!(mode(&key), 0o600);
}

#[test]
fn keygen_defaults_to_the_signing_key_variable_and_a_world_readable_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("cfg/signing.key");
    let out = fleetreset_in(tmp.path())
        .arg("keygen")
        .env("FLEETRESET_SIGNING_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(tmp.path().join("cfg/signing.pub").is_file());
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = Signer::load(&key).unwrap_err().to_string();
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    assert!(err.contains("0644"), "{err}");
}
