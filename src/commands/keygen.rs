//! `fleetreset keygen [--out PATH] [--force]`: a new minisign key pair for signing
//! certificates and reports. The secret key is written owner-only (0600 from the moment the file
//! exists, unencrypted: fleetreset signs unattended) and the public key beside it as `.pub`
//! (0644), for whoever checks the signatures.
//!
//! stdout: the secret key's path, the public key's path, the key id and the public key line,
//! one per line. The secret key is never printed.

use std::io::{self, Write};

use crate::cli::KeygenArgs;
use crate::exit::{Early, Status};
use crate::inert::Inert;
use crate::output::say;
use crate::signing::{self, Signer, SigningError};

pub fn run(args: &KeygenArgs) -> anyhow::Result<Status> {
    let secret = args.out.clone().unwrap_or_else(signing::default_key_path);
    let signer = Signer::generate()?;
    let files = match signing::write_key_pair(&signer, &secret, args.force) {
        Ok(files) => files,
        Err(err) => {
            if let Some(SigningError::Exists { path }) = err.downcast_ref::<SigningError>() {
                return Err(Early::refused(format!(
                    "a signing key is already at {path}; nothing was written (give another --out, or --force to replace it: signatures made with the old key will no longer match the new .pub)"
                ))
                .into());
            }
            return Err(err);
        }
    };
    let public_line = signer
        .public_key_text()
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let text = format!(
        "secret_key\t{}\npublic_key\t{}\nkey_id\t{}\npublic_key_line\t{}\n",
        Inert(&files.secret.display().to_string()),
        Inert(&files.public.display().to_string()),
        signer.key_id(),
        public_line
    );
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    drop(stdout);
    say!(
        "fleetreset: signing key {} written; keep {} to this account (it is unencrypted, mode 0600). \
         Copy {} to whoever checks certificates: `minisign -Vm FILE -p {}` checks FILE.minisig.",
        signer.key_id(),
        Inert(&files.secret.display().to_string()),
        Inert(&files.public.display().to_string()),
        Inert(&files.public.display().to_string()),
    );
    Ok(Status::Success)
}
