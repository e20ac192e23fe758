//! The simulator's TLS: one self-signed certificate made at start (as cameras make their own),
//! and two acceptors. Tapo cameras take TLS 1.2 or later with OpenSSL's usual suites; Kasa
//! cameras offer **only** the static-RSA suites python-kasa pins for them, over TLS 1.2 only,
//! as the camera reference infers the real ones do.

use std::sync::OnceLock;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::{X509, X509NameBuilder};

use crate::protocol::tls::STATIC_RSA_SUITES;

/// Days the certificate is valid: long enough for any simulator run.
const VALID_DAYS: u32 = 3650;

/// Which suites a server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// TLS 1.2+ with OpenSSL's intermediate suites (Tapo cameras).
    Modern,
    /// TLS 1.2 with static-RSA suites only (Kasa cameras).
    StaticRsaOnly,
}

/// A self-signed RSA-2048 certificate and its key (`CN=camera`).
pub fn self_signed() -> Result<(X509, PKey<Private>), ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "camera")?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (from, until) = (
        Asn1Time::days_from_now(0)?,
        Asn1Time::days_from_now(VALID_DAYS)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

/// An acceptor offering `offer`, with `cert` and `key`.
pub fn acceptor_with(
    offer: Offer,
    cert: &X509,
    key: &PKey<Private>,
) -> Result<SslAcceptor, ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    if offer == Offer::StaticRsaOnly {
        b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        b.set_max_proto_version(Some(SslVersion::TLS1_2))?;
        b.set_cipher_list(&format!("{STATIC_RSA_SUITES}:@SECLEVEL=0"))?;
    }
    b.set_certificate(cert)?;
    b.set_private_key(key)?;
    b.check_private_key()?;
    Ok(b.build())
}

/// The process's acceptor for `offer`, made (with the certificate) on first use.
pub fn acceptor(offer: Offer) -> &'static SslAcceptor {
    static CERT: OnceLock<(X509, PKey<Private>)> = OnceLock::new();
    static MODERN: OnceLock<SslAcceptor> = OnceLock::new();
    static RSA_ONLY: OnceLock<SslAcceptor> = OnceLock::new();
    let (cert, key) = CERT.get_or_init(|| self_signed().expect("OpenSSL makes an RSA certificate"));
    let cell = match offer {
        Offer::Modern => &MODERN,
        Offer::StaticRsaOnly => &RSA_ONLY,
    };
    cell.get_or_init(|| acceptor_with(offer, cert, key).expect("the TLS settings are valid"))
}
