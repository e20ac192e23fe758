//! Writing the certificates: `DIR/certificates/<id>.json|.md|.html` for each sanitized device
//! and `DIR/certificates/bundle.json|.md|.html`, owner-only, each replaced atomically, never
//! through a symlinked directory (as the reports, [`crate::report::files`]). With a signer,
//! every `.json` gets its detached minisign signature beside it, `<file>.json.minisig`.
//!
//! Files of the same names are replaced; nothing else in the directory is touched (another
//! run's certificates, which have other ids, stay).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::model::Bundle;
use super::{html, json, markdown};
use crate::report::files;

/// Signs one JSON file's exact bytes with a trusted comment; returns the `.minisig` text
/// (`signing::Signer::sign`).
/// The directory of a run's certificates, inside its report directory.
pub const DIR: &str = "certificates";

pub type Sign<'a> = &'a dyn Fn(&[u8], &str) -> anyhow::Result<String>;

/// What [`write`] wrote, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// The trusted comment of a signature: what the file is and the chain it rests on.
pub fn trusted_comment(what: &str, head: &str) -> String {
    format!("fleetreset {what} chain {head}")
}

/// Writes the bundle's files into `dir/certificates/` (created owner-only). Everything is
/// rendered and signed before the first file is written, so a failure leaves no half set.
pub fn write(dir: &Path, bundle: &Bundle, sign: Option<Sign<'_>>) -> anyhow::Result<Written> {
    // The files say whether they are signed; they must not say so wrongly.
    if bundle.signature.signed != sign.is_some() {
        anyhow::bail!(
            "the certificates were built {} but are being written {}",
            if bundle.signature.signed {
                "to be signed"
            } else {
                "unsigned"
            },
            if sign.is_some() {
                "with a signer"
            } else {
                "without one"
            }
        );
    }
    let out = dir.join(DIR);
    let mut pending: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut add_json = |name: String, text: String, what: String| -> anyhow::Result<()> {
        let path = out.join(&name);
        if let Some(sign) = sign {
            let comment = trusted_comment(&what, &bundle.chain.head);
            let sig = sign(text.as_bytes(), &comment)
                .with_context(|| format!("cannot sign {}", path.display()))?;
            pending.push((path.clone(), text.into_bytes()));
            pending.push((out.join(format!("{name}.minisig")), sig.into_bytes()));
        } else {
            pending.push((path, text.into_bytes()));
        }
        Ok(())
    };
    for c in &bundle.certificates {
        let text = json::certificate(c).context("cannot render a certificate as JSON")?;
        add_json(
            format!("{}.json", c.id),
            text,
            format!("certificate {}", c.id),
        )?;
    }
    let text = json::bundle(bundle).context("cannot render bundle.json")?;
    add_json(
        "bundle.json".into(),
        text,
        format!("certificate bundle {}", bundle.run.id),
    )?;
    for c in &bundle.certificates {
        pending.push((
            out.join(format!("{}.md", c.id)),
            markdown::certificate(c).into_bytes(),
        ));
        pending.push((
            out.join(format!("{}.html", c.id)),
            html::certificate(c).into_bytes(),
        ));
    }
    pending.push((out.join("bundle.md"), markdown::bundle(bundle).into_bytes()));
    pending.push((out.join("bundle.html"), html::bundle(bundle).into_bytes()));

    // Neither the run's directory nor `certificates/` in it may be a link.
    for d in [dir, out.as_path()] {
        files::refuse_symlinked_dir(d)
            .with_context(|| format!("cannot write the certificates into {}", d.display()))?;
    }
    files::create_private_dir(&out)
        .with_context(|| format!("cannot create the directory {}", out.display()))?;
    let mut written = Vec::with_capacity(pending.len());
    for (path, bytes) in pending {
        files::write_private(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    files::sync_dir(&out).with_context(|| format!("cannot sync {}", out.display()))?;
    Ok(Written {
        dir: out,
        files: written,
    })
}
