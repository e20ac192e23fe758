//! Certificates of sanitization (NIST SP 800-88's record) for factory-reset runs: one per
//! sanitized device and one bundle per run, each as JSON (the form that is signed), Markdown
//! and a printable HTML page.
//!
//! A device is sanitized when its factory reset is on record as done: a remote factory-reset
//! command that succeeded (acknowledged, then the device left the network or answered
//! unbound), or a technician's button reset that was confirmed (`fleetreset confirm`). The
//! category is always *Clear*, by the vendor's own factory-reset function as the firmware
//! implements it, and checked afterwards; never *Purge*. A power cycle sanitizes nothing.
//! Devices without a certificate are listed in the bundle with the reason.
//!
//! Verification (the tool saw the technique complete) and validation (an independent verifier
//! looked again, `fleetreset audit sample`) are kept apart: a certificate names a verifier only
//! when its device was sampled and checked.
//!
//! - `model`: the certificate and bundle as data, the JSON keys.
//! - `build`: one device's certificate from its job; `bundle`: the run's [`build`].
//! - `evidence`: what the job's events and snapshots show; `sample`: the verifier's sample.
//! - `json` (canonical, signed), `markdown`, `html`: the renderings.
//! - `write`: the files, owner-only and atomic, with their signatures.

mod build;
mod bundle;
mod evidence;
#[cfg(test)]
mod fixture;
mod html;
mod issue;
mod json;
mod markdown;
mod model;
mod sample;
#[cfg(test)]
mod tests;
mod write;

pub use self::bundle::build;
pub use self::issue::{Issued, NotIssued, issue};
pub use self::json::canonical;
pub use self::markdown::{SIGN_OPERATOR, SIGN_VERIFIER};
pub use self::model::*;
pub use self::write::{Sign, Written, trusted_comment, write};

/// The JSON, Markdown and HTML of one certificate, as `write` writes them.
pub fn render_certificate(cert: &Certificate) -> serde_json::Result<(String, String, String)> {
    Ok((
        json::certificate(cert)?,
        markdown::certificate(cert),
        html::certificate(cert),
    ))
}

/// The JSON, Markdown and HTML of the bundle, as `write` writes them.
pub fn render_bundle(bundle: &Bundle) -> serde_json::Result<(String, String, String)> {
    Ok((
        json::bundle(bundle)?,
        markdown::bundle(bundle),
        html::bundle(bundle),
    ))
}

/// A device's certificate id within its run: the run id and the job's place in the inventory,
/// from 1 (`20261121T054708Z-3f2a-0007`). Stable: `fleetreset history` and the bundle name
/// certificates by it.
pub fn id(run_id: &str, seq: u32) -> String {
    format!("{run_id}-{:04}", u64::from(seq) + 1)
}

#[cfg(test)]
mod tests_output;
