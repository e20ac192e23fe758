//! Where signing keys live, writing a new key pair, and writing a file with its signature.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Signer, SigningError, shown, signature_path};
use crate::report::files::{create_private_dir, sync_dir, write_private};

/// The secret key file's mode, from the moment it exists.
pub const SECRET_MODE: u32 = 0o600;
/// The public key file's mode: it is for handing out.
pub const PUBLIC_MODE: u32 = 0o644;

/// The secret key: `$FLEETRESET_SIGNING_KEY` if set; else
/// `$XDG_CONFIG_HOME/fleetreset/signing.key`; else `$HOME/.config/fleetreset/signing.key`
/// (relative to the current directory when not even `HOME` is set).
pub fn default_key_path() -> PathBuf {
    key_path_from(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
}

pub(super) fn key_path_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    if let Some(path) = var("FLEETRESET_SIGNING_KEY") {
        return PathBuf::from(path);
    }
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        // The XDG spec ignores a relative XDG_CONFIG_HOME.
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    config.join("fleetreset").join("signing.key")
}

/// The public key beside the secret key `secret`: its extension replaced by `.pub`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    secret.with_extension("pub")
}

/// The files [`write_key_pair`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairFiles {
    pub secret: PathBuf,
    pub public: PathBuf,
}

/// Writes `signer`'s secret key at `secret` (mode 0600 from its creation, by `O_EXCL`; missing
/// parent directories are made 0700) and its public key beside it (0644). An existing key at
/// either path is an error ([`SigningError::Exists`]) unless `force`; with `force` each file is
/// replaced atomically.
pub fn write_key_pair(signer: &Signer, secret: &Path, force: bool) -> anyhow::Result<KeyPairFiles> {
    let public = public_key_path(secret);
    if public == secret {
        anyhow::bail!(
            "the signing key {} must not end in .pub: its public key goes beside it as .pub",
            shown(secret)
        );
    }
    if !force {
        for path in [secret, public.as_path()] {
            if fs::symlink_metadata(path).is_ok() {
                return Err(SigningError::Exists { path: shown(path) }.into());
            }
        }
    }
    let dir = match secret.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir).with_context(|| format!("cannot create {}", shown(&dir)))?;
    let secret_text = signer.secret_key_text()?;
    if force {
        write_private(secret, secret_text.as_bytes())
            .with_context(|| format!("cannot write the signing key {}", shown(secret)))?;
    } else {
        create_new(secret, secret_text.as_bytes(), SECRET_MODE).map_err(|err| {
            if err.kind() == io::ErrorKind::AlreadyExists {
                anyhow::Error::new(SigningError::Exists {
                    path: shown(secret),
                })
            } else {
                anyhow::Error::new(err)
                    .context(format!("cannot write the signing key {}", shown(secret)))
            }
        })?;
    }
    let written = write_private(&public, signer.public_key_text().as_bytes())
        .and_then(|()| fs::set_permissions(&public, Permissions::from_mode(PUBLIC_MODE)));
    if let Err(err) = written {
        if !force {
            // A secret key without its public half is of no use to anyone checking.
            let _ = fs::remove_file(secret);
        }
        return Err(anyhow::Error::new(err)
            .context(format!("cannot write the public key {}", shown(&public))));
    }
    sync_dir(&dir).with_context(|| format!("cannot sync {}", shown(&dir)))?;
    Ok(KeyPairFiles {
        secret: secret.to_path_buf(),
        public,
    })
}

/// Creates `path`, which must not exist, with `mode` from the start, and writes and syncs it.
fn create_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    let result = file
        .set_permissions(Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Writes `bytes` to `path` and, with a `signer`, their signature to `path.minisig` (the whole
/// file name and `.minisig`), each owner-only and replaced atomically. The signature is written
/// after the file, so a reader never finds a new signature beside an old file.
pub fn write_signed(
    path: &Path,
    bytes: &[u8],
    signer: Option<&Signer>,
    trusted_comment: &str,
) -> anyhow::Result<()> {
    // Signed first: a signing failure leaves the old pair as it was.
    let signature = signer
        .map(|s| s.sign(bytes, trusted_comment))
        .transpose()
        .with_context(|| format!("cannot sign {}", shown(path)))?;
    write_private(path, bytes).with_context(|| format!("cannot write {}", shown(path)))?;
    let sig_path = signature_path(path);
    match signature {
        Some(text) => write_private(&sig_path, text.as_bytes())
            .with_context(|| format!("cannot write {}", shown(&sig_path)))?,
        // An old signature beside a new unsigned file would fail, and mislead; it goes.
        None => match fs::remove_file(&sig_path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(anyhow::Error::new(err)
                    .context(format!("cannot remove the old {}", shown(&sig_path))));
            }
            _ => {}
        },
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(dir).with_context(|| format!("cannot sync {}", shown(dir)))?;
    }
    Ok(())
}
