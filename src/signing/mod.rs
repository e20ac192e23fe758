//! Signatures in minisign's format (Ed25519, prehashed), for the files others must be able to
//! trust: certificates and reports. Anyone checks them with the stock `minisign` tool:
//! `minisign -Vm FILE -p signing.pub` reads `FILE.minisig`.
//!
//! The secret key is kept unencrypted, since fleetreset signs unattended (from cron), so the
//! file's mode is what protects it: [`Signer::load`] refuses a key that anyone but its owner
//! may read or write, and one reached through a symbolic link. No error and no `Debug` output
//! ever carries key material.
//!
//! # Layout
//! - this file: [`Signer`], [`verify`], [`SigningError`].
//! - `files`: where keys live ([`default_key_path`], [`public_key_path`]), writing a new key
//!   pair ([`write_key_pair`]) and signed files ([`write_signed`]).
//! - `seal`: the key a command signs with ([`configured`]), and sealing a run's chain head
//!   as a (signed) checkpoint and a `chain-head.txt` beside the reports.

mod files;
mod seal;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{Cursor, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

pub use self::files::{
    KeyPairFiles, PUBLIC_MODE, SECRET_MODE, default_key_path, public_key_path, write_key_pair,
    write_signed,
};
pub use self::seal::{
    HEAD_FILE, SigningKey, checkpoint_check, configured, head_comment, seal, write_head,
};

/// The untrusted comment of the secret key files fleetreset writes.
const SECRET_KEY_COMMENT: &str = "fleetreset signing secret key (unencrypted; keep it owner-only)";

/// What went wrong with a key or a signature. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(
        "the signing key {path} has mode {mode:04o}: group and others must have no access to it (chmod 600 {path})"
    )]
    Permissions { path: String, mode: u32 },
    #[error(
        "the signing key {path} is not a regular file (mode {mode:06o}: a symbolic link, a directory or a device); give the key file itself, with chmod 600 {path}"
    )]
    NotRegular { path: String, mode: u32 },
    #[error("cannot read the signing key {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the signing key {path} is not a minisign secret key ({why}); make one with `fleetreset keygen`"
    )]
    Malformed { path: String, why: String },
    #[error(
        "the signing key {path} is protected by a password; fleetreset signs unattended and needs an unencrypted key (make one with `fleetreset keygen`)"
    )]
    Encrypted { path: String },
    #[error("a signing key is already at {path}; give another --out, or --force to replace it")]
    Exists { path: String },
    #[error("cannot generate a signing key: {0}")]
    Generate(String),
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("not a minisign public key: {0}")]
    PublicKey(String),
    #[error("not a minisign signature: {0}")]
    Signature(String),
    #[error("the signature does not verify: {0}")]
    Invalid(String),
}

/// A loaded secret key, and its public half.
pub struct Signer {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads the unencrypted minisign secret key at `path`: a regular file (not a symbolic
    /// link) that only its owner may read or write.
    pub fn load(path: &Path) -> Result<Signer, SigningError> {
        let shown = shown(path);
        let read = |source| SigningError::Read {
            path: shown.clone(),
            source,
        };
        // O_NOFOLLOW: a symbolic link is refused by the open itself, and the checks below are
        // made on the file opened, not on whatever the name points at by then.
        let mut file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|err| match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => SigningError::NotRegular {
                    path: shown.clone(),
                    mode: meta.mode(),
                },
                _ => read(err),
            })?;
        let meta = file.metadata().map_err(read)?;
        if !meta.file_type().is_file() {
            return Err(SigningError::NotRegular {
                path: shown,
                mode: meta.mode(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SigningError::Permissions { path: shown, mode });
        }
        // A key file is two short lines; anything much longer is not one.
        let mut text = String::new();
        (&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::InvalidData => SigningError::Malformed {
                    path: shown.clone(),
                    why: "it is not text".into(),
                },
                _ => read(err),
            })?;
        Signer::from_text(&text).map_err(|why| match why {
            KeyProblem::Encrypted => SigningError::Encrypted { path: shown },
            KeyProblem::Malformed(why) => SigningError::Malformed { path: shown, why },
        })
    }

    /// A new random key pair.
    pub fn generate() -> Result<Signer, SigningError> {
        let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair()
            .map_err(|e| SigningError::Generate(e.to_string()))?;
        Ok(Signer {
            secret: sk,
            public: pk,
        })
    }

    fn from_text(text: &str) -> Result<Signer, KeyProblem> {
        let mut lines = text.lines();
        let comment = lines.next().unwrap_or("");
        if !comment.starts_with("untrusted comment:") {
            return Err(KeyProblem::Malformed(
                "its first line is not an `untrusted comment:`".into(),
            ));
        }
        let encoded = lines.next().unwrap_or("").trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| KeyProblem::Malformed("its second line is not base64".into()))?;
        // sig_alg (2) kdf_alg (2) chk_alg (2) salt (32) ops (8) mem (8) keynum (8) sk (64) chk (32)
        if bytes.len() != 158 || &bytes[..2] != b"Ed" {
            return Err(KeyProblem::Malformed(
                "its key is not an Ed25519 minisign secret key".into(),
            ));
        }
        if bytes[2..4] != [0, 0] {
            return Err(KeyProblem::Encrypted);
        }
        let normalised = format!("untrusted comment: {SECRET_KEY_COMMENT}\n{encoded}\n");
        let secret = SecretKeyBox::from_string(&normalised)
            .and_then(SecretKeyBox::into_unencrypted_secret_key)
            .map_err(|_| KeyProblem::Malformed("its checksum does not match".into()))?;
        let public = PublicKey::from_secret_key(&secret)
            .map_err(|_| KeyProblem::Malformed("no public key derives from it".into()))?;
        Ok(Signer { secret, public })
    }

    /// The secret key file's text (two lines). Only for writing the key file.
    pub(crate) fn secret_key_text(&self) -> Result<String, SigningError> {
        self.secret
            .to_box(Some(SECRET_KEY_COMMENT))
            .map(|b| b.into_string())
            .map_err(|e| SigningError::Generate(e.to_string()))
    }

    /// The key id as minisign prints it: 16 upper-case hex digits.
    pub fn key_id(&self) -> String {
        key_id_of(self.public.keynum())
    }

    /// The `.pub` file's text: `untrusted comment: minisign public key: ID` and the key line.
    pub fn public_key_text(&self) -> String {
        self.public
            .to_box()
            .map(PublicKeyBox::into_string)
            .unwrap_or_default()
    }

    /// Signs `data`: the whole `.minisig` file text. The trusted comment is signed too; it is
    /// one line, so control characters in it are replaced by their escapes (`\n`, `\u{1b}`).
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, SigningError> {
        let trusted = crate::inert::inert(trusted_comment);
        let untrusted = format!("signature from fleetreset secret key {}", self.key_id());
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(&trusted),
            Some(&untrusted),
        )
        .map_err(|e| SigningError::Sign(e.to_string()))?;
        Ok(signature.into_string())
    }
}

enum KeyProblem {
    Encrypted,
    Malformed(String),
}

/// Checks `minisig_text` (a `.minisig` file's text) over `data` with the public key
/// `public_key_text` (a `.pub` file's text, or its key line alone). Legacy (non-prehashed)
/// signatures are refused, as `minisign -V` does by default.
pub fn verify(public_key_text: &str, data: &[u8], minisig_text: &str) -> Result<(), SigningError> {
    let public = public_key(public_key_text)?;
    let signature = SignatureBox::from_string(minisig_text)
        .map_err(|e| SigningError::Signature(e.to_string()))?;
    minisign::verify(&public, &signature, Cursor::new(data), true, false, false)
        .map_err(|e| SigningError::Invalid(e.to_string()))
}

/// Reads a public key file (`.pub`) to check signatures with: a regular file of a few lines.
/// A FIFO, a device or a directory is refused rather than waited on or read without end.
pub fn read_public_key(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let shown = shown(path);
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("cannot read the public key {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read the public key {shown}"))?;
    if !meta.file_type().is_file() {
        anyhow::bail!("the public key {shown} is not a regular file");
    }
    let mut text = String::new();
    (&mut file)
        .take(4096)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the public key {shown}: it is not text"))?;
    verify_public_key(&text).with_context(|| format!("{shown} is not a minisign public key"))?;
    Ok(text)
}

/// Checks that `text` is a minisign public key file, as [`verify`] reads it.
pub fn verify_public_key(text: &str) -> Result<(), SigningError> {
    public_key(text).map(|_| ())
}

fn public_key(text: &str) -> Result<PublicKey, SigningError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = match lines.as_slice() {
        [line] => *line,
        [comment, line] if comment.starts_with("untrusted comment:") => *line,
        _ => {
            return Err(SigningError::PublicKey(
                "expected an `untrusted comment:` line and a key line".into(),
            ));
        }
    };
    PublicKey::from_base64(line).map_err(|e| SigningError::PublicKey(e.to_string()))
}

fn key_id_of(keynum: &[u8]) -> String {
    let mut le = [0u8; 8];
    le.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(le))
}

/// A path as our messages show it: one line, inert.
fn shown(path: &Path) -> String {
    crate::inert::inert(&path.display().to_string()).into_owned()
}

/// `path` with `.minisig` added to its whole file name: `a.json` → `a.json.minisig`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}
