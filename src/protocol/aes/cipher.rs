//! The pure parts of the AES `securePassthrough` transport: the session cipher, the login
//! parameters, and the JSON bodies of the handshake and the passthrough. No I/O.
//!
//! The session key and IV come from the device in the handshake (RSA-encrypted to our key)
//! and stay the same for every message of the session: AES-128-CBC, PKCS#7, base64.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::credentials::Credentials;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the handshake key is {0} bytes, not 32 (16 of key and 16 of IV)")]
    KeyLength(usize),
    #[error("the payload is not base64")]
    Base64,
    #[error("the payload does not decrypt (wrong key or corrupt padding)")]
    Padding,
}

/// The key and IV of one AES session.
#[derive(Clone, PartialEq, Eq)]
pub struct PassthroughCipher {
    key: [u8; 16],
    iv: [u8; 16],
}

impl std::fmt::Debug for PassthroughCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.write_str("PassthroughCipher { .. }")
    }
}

impl PassthroughCipher {
    /// From the 32 bytes the device's handshake key decrypts to: key first, then IV.
    pub fn from_key_and_iv(bytes: &[u8]) -> Result<PassthroughCipher, CipherError> {
        if bytes.len() != 32 {
            return Err(CipherError::KeyLength(bytes.len()));
        }
        let mut key = [0u8; 16];
        let mut iv = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        iv.copy_from_slice(&bytes[16..]);
        Ok(PassthroughCipher { key, iv })
    }

    /// Encrypts and base64-encodes, as the `request` of a passthrough.
    pub fn encrypt(&self, plain: &[u8]) -> String {
        let ct = cbc::Encryptor::<Aes128>::new(&self.key.into(), &self.iv.into())
            .encrypt_padded_vec::<Pkcs7>(plain);
        B64.encode(ct)
    }

    /// Decodes and decrypts the `response` of a passthrough.
    pub fn decrypt(&self, b64: &str) -> Result<Vec<u8>, CipherError> {
        let ct = B64.decode(b64.trim()).map_err(|_| CipherError::Base64)?;
        cbc::Decryptor::<Aes128>::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ct)
            .map_err(|_| CipherError::Padding)
    }
}

/// Which `login_device` parameters a device expects (discovery's `lv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginVersion {
    /// `password` is the base64 of the password itself.
    V1,
    /// `password2` is the base64 of the password's SHA-1 in lower-case hex.
    V2,
}

/// The params of `login_device`. Both forms are as good as the password to the device, so
/// `Debug` hides them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LoginParams {
    V1 { password: String, username: String },
    V2 { password2: String, username: String },
}

impl std::fmt::Debug for LoginParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginParams { .. }")
    }
}

/// Lower-case hex SHA-1 (also TPAP's `password_shadow` credential).
pub fn sha1_hex(s: &str) -> String {
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LoginParams {
    pub fn new(version: LoginVersion, credentials: &Credentials) -> LoginParams {
        let username = B64.encode(sha1_hex(&credentials.username));
        let password = credentials.password.expose();
        match version {
            LoginVersion::V1 => LoginParams::V1 {
                password: B64.encode(password),
                username,
            },
            LoginVersion::V2 => LoginParams::V2 {
                password2: B64.encode(sha1_hex(password)),
                username,
            },
        }
    }
}

/// `{"method":"login_device","params":{…},"request_time_milis":…}`: the login goes inside a
/// passthrough and, unlike other SMART requests, carries no `terminal_uuid`.
pub fn login_request(params: &LoginParams, request_time_milis: u64) -> Vec<u8> {
    #[derive(Serialize)]
    struct Login<'a> {
        method: &'static str,
        params: &'a LoginParams,
        request_time_milis: u64,
    }
    serde_json::to_vec(&Login {
        method: "login_device",
        params,
        request_time_milis,
    })
    .expect("a struct of strings serialises")
}

/// The public key as the device wants it: PEM armour around the base64 of the DER
/// SubjectPublicKeyInfo on ONE line (not wrapped at 64 columns). With a 1024-bit key this makes
/// the handshake body exactly 314 bytes, the length devices are known to accept.
pub fn public_key_pem(spki_der: &[u8]) -> String {
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(spki_der)
    )
}

/// `{"method":"handshake","params":{"key":"<PEM>"}}`.
pub fn handshake_body(pem: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "method": "handshake",
        "params": { "key": pem },
    }))
    .expect("a json! value serialises")
}

/// `{"method":"securePassthrough","params":{"request":"<base64 ciphertext>"}}`.
pub fn passthrough_body(cipher: &PassthroughCipher, inner: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "method": "securePassthrough",
        "params": { "request": cipher.encrypt(inner) },
    }))
    .expect("a json! value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> PassthroughCipher {
        let bytes: Vec<u8> = (0u8..32).collect();
        PassthroughCipher::from_key_and_iv(&bytes).unwrap()
    }

    // Known answers from the protocol reference (python-kasa 0.12.0), user@example.com / secret.
    #[test]
    fn login_params_match_the_reference() {
        let creds = Credentials::new("user@example.com", "secret");
        let v2 = serde_json::to_string(&LoginParams::new(LoginVersion::V2, &creds)).unwrap();
        assert_eq!(
            v2,
            r#"{"password2":"ZTVlOWZhMWJhMzFlY2QxYWU4NGY3NWNhYWE0NzRmM2E2NjNmMDVmNA==","username":"NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw=="}"#
        );
        let v1 = serde_json::to_string(&LoginParams::new(LoginVersion::V1, &creds)).unwrap();
        assert_eq!(
            v1,
            r#"{"password":"c2VjcmV0","username":"NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw=="}"#
        );
    }

    #[test]
    fn the_login_request_has_no_terminal_uuid() {
        let creds = Credentials::new("user@example.com", "secret");
        let params = LoginParams::new(LoginVersion::V1, &creds);
        assert_eq!(
            String::from_utf8(login_request(&params, 1795238597456)).unwrap(),
            r#"{"method":"login_device","params":{"password":"c2VjcmV0","username":"NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw=="},"request_time_milis":1795238597456}"#
        );
    }

    #[test]
    fn login_params_never_print() {
        let creds = Credentials::new("user@example.com", "secret");
        let shown = format!("{:?}", LoginParams::new(LoginVersion::V1, &creds));
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }

    // Known answer computed with `openssl enc -aes-128-cbc -K 0001…0f -iv 1011…1f | base64`.
    #[test]
    fn passthrough_encryption_matches_openssl() {
        let c = fixed();
        let plain = br#"{"method":"get_device_info"}"#;
        let b64 = c.encrypt(plain);
        assert_eq!(b64, "AoTU/alSJog6QIUAiFg+poqOeIoym5tr6MEsEcHy66o=");
        assert_eq!(c.decrypt(&b64).unwrap(), plain);
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        let c = fixed();
        assert_eq!(c.decrypt("not base64!"), Err(CipherError::Base64));
        assert_eq!(c.decrypt("AAAA"), Err(CipherError::Padding));
        assert_eq!(
            PassthroughCipher::from_key_and_iv(&[0; 16]),
            Err(CipherError::KeyLength(16))
        );
    }

    #[test]
    fn a_1024_bit_key_makes_a_314_byte_handshake() {
        // A 1024-bit SPKI in DER is 162 bytes whatever the modulus.
        let pem = public_key_pem(&[0x30; 162]);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMDAw"));
        assert_eq!(pem.lines().count(), 3);
        assert_eq!(handshake_body(&pem).len(), 314);
    }

    #[test]
    fn the_passthrough_body_carries_the_encrypted_request() {
        let body = passthrough_body(&fixed(), br#"{"method":"get_device_info"}"#);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"method":"securePassthrough","params":{"request":"AoTU/alSJog6QIUAiFg+poqOeIoym5tr6MEsEcHy66o="}}"#
        );
    }
}
