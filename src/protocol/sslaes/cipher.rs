//! The SslAes login hashes, session keys and request tag (Tapo cameras, doorbells, the H200
//! hub). Pure: nonces and password hashes in, hex strings and keys out.
//!
//! Every hash here is the upper-case hex of SHA-256 over ASCII strings concatenated, as
//! python-kasa's `SslAesTransport` computes them.

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::protocol::aes::cipher::PassthroughCipher;

/// Upper-case hex of SHA-256 of `parts` concatenated.
pub fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    hex_upper(&h.finalize())
}

fn sha256_raw(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// How the camera hashes the password it keeps: SHA-256 on current firmware, MD5 on older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PwdHash {
    Sha256,
    Md5,
}

impl PwdHash {
    /// Tried in this order against the camera's `device_confirm`; no request is sent per try.
    pub const ALL: [PwdHash; 2] = [PwdHash::Sha256, PwdHash::Md5];

    pub fn of(self, password: &str) -> String {
        match self {
            PwdHash::Sha256 => sha256_hex(&[password]),
            PwdHash::Md5 => hex_upper(&Md5::digest(password.as_bytes())),
        }
    }
}

/// What the camera sends in handshake 1 to prove it knows the password:
/// `SHA256(cnonce ‖ pwd_hash ‖ nonce) ‖ nonce ‖ cnonce`.
pub fn device_confirm(cnonce: &str, pwd_hash: &str, nonce: &str) -> String {
    format!("{}{nonce}{cnonce}", sha256_hex(&[cnonce, pwd_hash, nonce]))
}

/// What the client sends in handshake 2 to prove it knows the password:
/// `SHA256(pwd_hash ‖ cnonce ‖ nonce) ‖ cnonce ‖ nonce`.
pub fn digest_passwd(pwd_hash: &str, cnonce: &str, nonce: &str) -> String {
    format!("{}{cnonce}{nonce}", sha256_hex(&[pwd_hash, cnonce, nonce]))
}

/// The session's AES-128-CBC key (`lsk`) and IV (`ivb`), fixed for the session.
pub fn session_keys(cnonce: &str, nonce: &str, pwd_hash: &str) -> ([u8; 16], [u8; 16]) {
    let hashed = sha256_hex(&[cnonce, pwd_hash, nonce]);
    let part = |label: &str| {
        let full = sha256_raw(&[label, cnonce, nonce, &hashed]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    };
    (part("lsk"), part("ivb"))
}

/// The session cipher: the AES passthrough's own AES-128-CBC with PKCS#7 and base64, keyed
/// with [`session_keys`].
pub fn session_cipher(cnonce: &str, nonce: &str, pwd_hash: &str) -> PassthroughCipher {
    let (lsk, ivb) = session_keys(cnonce, nonce, pwd_hash);
    let mut key_and_iv = [0u8; 32];
    key_and_iv[..16].copy_from_slice(&lsk);
    key_and_iv[16..].copy_from_slice(&ivb);
    PassthroughCipher::from_key_and_iv(&key_and_iv).expect("32 bytes are a key and an IV")
}

/// The `Tapo_tag` header of one request:
/// `SHA256(SHA256(pwd_hash ‖ cnonce) ‖ body ‖ seq)`, over the exact body string sent.
pub fn tag(pwd_hash: &str, cnonce: &str, body: &str, seq: i64) -> String {
    let inner = sha256_hex(&[pwd_hash, cnonce]);
    sha256_hex(&[&inner, body, &seq.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from the protocol reference's appendix A (produced with python-kasa
    // 0.12.0's own functions): password `secret`, cnonce 0011223344556677, nonce
    // 8899AABBCCDDEEFF.
    const CNONCE: &str = "0011223344556677";
    const NONCE: &str = "8899AABBCCDDEEFF";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_login_hashes_match_python_kasa_s_known_answers() {
        let pwd = PwdHash::Sha256.of("secret");
        assert_eq!(
            pwd,
            "2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B"
        );
        assert_eq!(
            device_confirm(CNONCE, &pwd, NONCE),
            "41E1D707953BEFB012CED6400D5CBD0CDDCB425CA58DFD0F20679A52B14B1F038899AABBCCDDEEFF0011223344556677"
        );
        assert_eq!(
            digest_passwd(&pwd, CNONCE, NONCE),
            "01CDBA8A74EA2E23569231C15AAB0D7B95FCFD46B68EE22BD3F31A94026617CE00112233445566778899AABBCCDDEEFF"
        );
    }

    #[test]
    fn the_session_keys_and_tag_match_python_kasa_s_known_answers() {
        let pwd = PwdHash::Sha256.of("secret");
        let (lsk, ivb) = session_keys(CNONCE, NONCE, &pwd);
        assert_eq!(hex(&lsk), "baca88e5d3ec15a1878fb4fdf83f6931");
        assert_eq!(hex(&ivb), "5811a891153e7ad5614f54429616dafa");
        assert_eq!(
            tag(
                &pwd,
                CNONCE,
                r#"{"method":"securePassthrough","params":{"request":"AAAA"}}"#,
                100
            ),
            "1D478E5A3626BA0AC7765FD05BE776832B7670BDEF30EF31F8665652358CEF2B"
        );
    }

    #[test]
    fn the_md5_fallback_is_upper_case_hex_and_the_cipher_round_trips() {
        // md5("hunter2"), from the camera reference's known answers (lower case there).
        assert_eq!(
            PwdHash::Md5.of("hunter2"),
            "2AB96390C7DBE3439DE74D0C9B0B1767"
        );
        let c = session_cipher(CNONCE, NONCE, &PwdHash::Sha256.of("secret"));
        let sealed = c.encrypt(br#"{"method":"multipleRequest"}"#);
        assert_eq!(
            c.decrypt(&sealed).unwrap(),
            br#"{"method":"multipleRequest"}"#
        );
    }
}
