use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;

use super::files::key_path_from;
use super::*;

fn key_file(dir: &Path, signer: &Signer, mode: u32) -> PathBuf {
    let path = dir.join("k.key");
    fs::write(&path, signer.secret_key_text().unwrap()).unwrap();
    fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
    path
}

/// The base64 line of the secret key file: what must never be shown.
fn secret_line(signer: &Signer) -> String {
    signer
        .secret_key_text()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn a_signature_verifies_and_a_one_byte_edit_does_not() {
    let signer = Signer::generate().unwrap();
    let data = b"certificate of sanitization, run r-1, device p01".to_vec();
    let sig = signer.sign(&data, "fleetreset run r-1").unwrap();
    let lines: Vec<&str> = sig.lines().collect();
    assert_eq!(lines.len(), 4, "{sig}");
    assert!(lines[0].starts_with("untrusted comment: "), "{sig}");
    assert_eq!(lines[2], "trusted comment: fleetreset run r-1");
    verify(&signer.public_key_text(), &data, &sig).unwrap();

    let mut edited = data.clone();
    edited[3] ^= 1;
    let err = verify(&signer.public_key_text(), &edited, &sig).unwrap_err();
    assert!(matches!(err, SigningError::Invalid(_)), "{err}");
}

#[test]
fn an_edited_trusted_comment_fails() {
    let signer = Signer::generate().unwrap();
    let sig = signer.sign(b"x", "run r-1").unwrap();
    let forged = sig.replace("trusted comment: run r-1", "trusted comment: run r-2");
    assert_ne!(forged, sig);
    assert!(verify(&signer.public_key_text(), b"x", &forged).is_err());
}

#[test]
fn another_key_does_not_verify() {
    let signer = Signer::generate().unwrap();
    let other = Signer::generate().unwrap();
    assert_ne!(signer.key_id(), other.key_id());
    let sig = signer.sign(b"data", "c").unwrap();
    let err = verify(&other.public_key_text(), b"data", &sig).unwrap_err();
    assert!(err.to_string().contains(&signer.key_id()), "{err}");
}

#[test]
fn the_trusted_comment_stays_one_line() {
    let signer = Signer::generate().unwrap();
    let sig = signer.sign(b"data", "a\nb\r\u{1b}[2J").unwrap();
    assert_eq!(sig.lines().count(), 4, "{sig}");
    assert_eq!(
        sig.lines().nth(2).unwrap(),
        r"trusted comment: a\nb\r\u{1b}[2J"
    );
    verify(&signer.public_key_text(), b"data", &sig).unwrap();
}

#[test]
fn a_saved_key_loads_with_the_same_id_and_public_key() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    let path = key_file(tmp.path(), &signer, 0o600);
    let loaded = Signer::load(&path).unwrap();
    assert_eq!(loaded.key_id(), signer.key_id());
    assert_eq!(loaded.public_key_text(), signer.public_key_text());
    assert_eq!(signer.key_id().len(), 16);
    assert!(
        signer
            .key_id()
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert!(
        signer.public_key_text().starts_with(&format!(
            "untrusted comment: minisign public key: {}\n",
            signer.key_id()
        )),
        "{}",
        signer.public_key_text()
    );
    let sig = loaded.sign(b"data", "c").unwrap();
    verify(&signer.public_key_text(), b"data", &sig).unwrap();
}

#[test]
fn a_key_others_may_read_or_write_is_refused_naming_its_mode_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
        let path = key_file(tmp.path(), &signer, mode);
        let err = Signer::load(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SigningError::Permissions { .. }), "{text}");
        assert!(text.contains(&format!("mode {mode:04o}")), "{text}");
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(!text.contains(&secret_line(&signer)), "{text}");
    }
    // Owner-only modes narrower than 0600 are fine.
    let path = key_file(tmp.path(), &signer, 0o400);
    Signer::load(&path).unwrap();
}

#[test]
fn a_symlinked_key_and_a_directory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    let real = key_file(tmp.path(), &signer, 0o600);
    let link = tmp.path().join("link.key");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = Signer::load(&link).unwrap_err();
    assert!(matches!(err, SigningError::NotRegular { .. }), "{err}");
    assert!(err.to_string().contains("link.key"), "{err}");
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, Permissions::from_mode(0o700)).unwrap();
    let err = Signer::load(&dir).unwrap_err();
    assert!(matches!(err, SigningError::NotRegular { .. }), "{err}");
}

#[test]
fn a_malformed_or_encrypted_key_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("k.key");
    let write = |text: &str| {
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
    };
    for text in [
        "",
        "hello\n",
        "untrusted comment: x\nnot base64!\n",
        "untrusted comment: x\nAAAA\n",
    ] {
        write(text);
        let err = Signer::load(&path).unwrap_err();
        assert!(
            matches!(err, SigningError::Malformed { .. }),
            "{text:?}: {err}"
        );
        assert!(
            err.to_string().contains("is not a minisign secret key"),
            "{err}"
        );
    }
    // A good key with one byte of its secret changed fails its checksum.
    let signer = Signer::generate().unwrap();
    let text = signer.secret_key_text().unwrap();
    let line = secret_line(&signer);
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&line)
        .unwrap();
    bytes[100] ^= 1;
    let bad = base64::engine::general_purpose::STANDARD.encode(&bytes);
    write(&text.replace(&line, &bad));
    let err = Signer::load(&path).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // The same key marked as scrypt-encrypted.
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&line)
        .unwrap();
    bytes[2..4].copy_from_slice(b"Sc");
    let enc = base64::engine::general_purpose::STANDARD.encode(&bytes);
    write(&text.replace(&line, &enc));
    let err = Signer::load(&path).unwrap_err();
    assert!(matches!(err, SigningError::Encrypted { .. }), "{err}");
}

#[test]
fn debug_shows_the_key_id_and_no_key_bytes() {
    let signer = Signer::generate().unwrap();
    let shown = format!("{signer:?} {signer:#?}");
    assert!(shown.contains(&signer.key_id()), "{shown}");
    let line = secret_line(&signer);
    assert!(!shown.contains(&line), "{shown}");
    // Nor the secret scalar in the hex the minisign crate's own Debug prints.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&line)
        .unwrap();
    let hex: String = raw[62..126].iter().map(|b| format!("{b:x}")).collect();
    assert!(!shown.contains(&hex[..24]), "{shown}");
    assert!(shown.len() < 120, "{shown}");
}

#[test]
fn the_default_key_path_prefers_the_variable_then_xdg_then_home() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    static ALL: [(&str, &str); 3] = [
        ("FLEETRESET_SIGNING_KEY", "/k/s.key"),
        ("XDG_CONFIG_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(key_path_from(vars(&ALL[..])), PathBuf::from("/k/s.key"));
    assert_eq!(
        key_path_from(vars(&ALL[1..])),
        PathBuf::from("/x/fleetreset/signing.key")
    );
    assert_eq!(
        key_path_from(vars(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")])),
        PathBuf::from("/h/.config/fleetreset/signing.key")
    );
    assert_eq!(
        public_key_path(Path::new("/x/fleetreset/signing.key")),
        PathBuf::from("/x/fleetreset/signing.pub")
    );
    assert_eq!(
        signature_path(Path::new("/r/cert.json")),
        PathBuf::from("/r/cert.json.minisig")
    );
}

#[test]
fn write_signed_writes_the_file_and_its_signature_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    let path = tmp.path().join("cert.json");
    write_signed(&path, b"{}", Some(&signer), "cert").unwrap();
    let sig = fs::read_to_string(tmp.path().join("cert.json.minisig")).unwrap();
    verify(&signer.public_key_text(), b"{}", &sig).unwrap();
    for p in [&path, &tmp.path().join("cert.json.minisig")] {
        assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Unsigned again: the stale signature goes.
    write_signed(&path, b"{\"v\":2}", None, "cert").unwrap();
    assert!(!tmp.path().join("cert.json.minisig").exists());
    assert_eq!(fs::read(&path).unwrap(), b"{\"v\":2}");
}

#[test]
fn a_key_pair_is_written_once_with_its_modes_and_not_over_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("new/dir/k.key");
    let first = Signer::generate().unwrap();
    let files = write_key_pair(&first, &secret, false).unwrap();
    assert_eq!(files.public, tmp.path().join("new/dir/k.pub"));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(mode(&files.public), 0o644);
    assert_eq!(mode(&tmp.path().join("new")), 0o700);
    assert_eq!(mode(&tmp.path().join("new/dir")), 0o700);
    let err = write_key_pair(&Signer::generate().unwrap(), &secret, false).unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<SigningError>(),
            Some(SigningError::Exists { .. })
        ),
        "{err:#}"
    );
    assert_eq!(Signer::load(&secret).unwrap().key_id(), first.key_id());
    let second = Signer::generate().unwrap();
    write_key_pair(&second, &secret, true).unwrap();
    assert_eq!(Signer::load(&secret).unwrap().key_id(), second.key_id());
    assert_eq!(mode(&secret), 0o600);
    assert_eq!(
        fs::read_to_string(&files.public).unwrap(),
        second.public_key_text()
    );
}
