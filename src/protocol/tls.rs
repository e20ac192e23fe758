//! TLS for the camera transports (SslAes on 443, LINKIE2 on 10443), through OpenSSL.
//!
//! **Certificates are not verified.** Cameras and doorbells serve self-signed certificates
//! made on the device, with no name or chain anyone could check; python-kasa and the vendor's
//! app do not verify them either. What protects the exchange is the protocol's own login
//! (SslAes proves the password both ways) — TLS here only keeps the LAN from reading along.
//!
//! OpenSSL rather than rustls: python-kasa pins only static-RSA key exchange suites
//! (`TLS_RSA_WITH_…`) for Kasa cameras, which suggests their TLS stack offers nothing newer,
//! and rustls does not implement static RSA at all. The client offers the usual forward-secret
//! suites first and those after them, over TLS 1.2 or later.

use std::pin::Pin;

use openssl::error::ErrorStack;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// The static-RSA suites python-kasa pins for Kasa cameras
/// (`kasa/transports/linkietransport.py`), in its order.
pub const STATIC_RSA_SUITES: &str =
    "AES256-GCM-SHA384:AES256-SHA256:AES128-GCM-SHA256:AES128-SHA256:AES256-SHA";

/// What the client offers for TLS 1.2: forward-secret suites first, then the static-RSA ones.
/// `@SECLEVEL=0` because camera certificates may carry small RSA keys that OpenSSL's default
/// security level refuses; the certificate is not verified anyway (see the module docs).
pub const CLIENT_CIPHERS: &str = concat!(
    "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:",
    "AES256-GCM-SHA384:AES256-SHA256:AES128-GCM-SHA256:AES128-SHA256:AES256-SHA",
    ":@SECLEVEL=0"
);

/// The client side: TLS 1.2 or later, [`CLIENT_CIPHERS`], no certificate verification.
pub fn client_connector() -> Result<SslConnector, ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_cipher_list(CLIENT_CIPHERS)?;
    // Self-signed device certificates: see the module docs.
    b.set_verify(SslVerifyMode::NONE);
    Ok(b.build())
}

/// Runs the client handshake on `tcp`. The error is OpenSSL's own words, for the user.
pub async fn connect(tcp: TcpStream) -> Result<SslStream<TcpStream>, String> {
    let connector = client_connector().map_err(|e| format!("cannot set up TLS: {e}"))?;
    let ssl = connector
        .configure()
        .and_then(|mut c| {
            // Devices have no host name; an IP in SNI is not allowed anyway.
            c.set_verify_hostname(false);
            c.set_use_server_name_indication(false);
            c.into_ssl("device")
        })
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| format!("cannot set up TLS: {e}"))?;
    Pin::new(&mut stream).connect().await.map_err(|e| {
        let words = e.to_string();
        if refused_by_the_offer(&words) {
            format!(
                "TLS handshake failed: the device accepts no TLS version or cipher suite fleetreset offers (TLS 1.2 or later; ECDHE or static-RSA AES suites): {words}"
            )
        } else {
            format!("TLS handshake failed: {e}")
        }
    })?;
    Ok(stream)
}

/// Whether OpenSSL's words say the server refused what the client offered (an alert for the
/// handshake or the protocol version, no shared cipher), rather than the connection failing.
fn refused_by_the_offer(words: &str) -> bool {
    [
        "alert handshake failure",
        "alert protocol version",
        "no shared cipher",
        "unsupported protocol",
        "wrong version number",
    ]
    .iter()
    .any(|w| words.contains(w))
}
