//! The device side of the AES `securePassthrough` transport (older Tapo and Kasa SMART
//! firmware): the RSA key exchange, the session cipher, the login check and login tokens.
//! No I/O.
//!
//! The client sends an RSA public key in `handshake`; the device answers with a fresh AES-128
//! key and IV encrypted to it (PKCS#1 v1.5) and a session cookie. Every later body is
//! `securePassthrough` carrying base64 AES-128-CBC (PKCS#7) JSON, both ways, with one key and
//! IV for the whole session. Inside, `login_device` trades credentials for a token the client
//! then puts in the URL (`/app?token=…`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::protocol::aes::cipher::sha1_hex;
use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::credentials::Credentials;

/// Sessions a device keeps at once; the oldest goes first (see [`super::klap::MAX_SESSIONS`]).
pub const MAX_SESSIONS: usize = 32;

/// One session's cipher: AES-128-CBC with PKCS#7 padding, base64 on the wire.
#[derive(Clone)]
pub struct AesCipher {
    key: [u8; 16],
    iv: [u8; 16],
}

impl std::fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.write_str("AesCipher")
    }
}

impl AesCipher {
    /// From the 32 bytes the handshake hands over: key, then IV.
    pub fn new(key_and_iv: [u8; 32]) -> AesCipher {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 16];
        key.copy_from_slice(&key_and_iv[..16]);
        iv.copy_from_slice(&key_and_iv[16..]);
        AesCipher { key, iv }
    }

    pub fn encrypt(&self, plain: &[u8]) -> String {
        let ct = cbc::Encryptor::<Aes128>::new(&self.key.into(), &self.iv.into())
            .encrypt_padded_vec::<Pkcs7>(plain);
        B64.encode(ct)
    }

    /// `None` when the text is not base64 or does not decrypt with this key.
    pub fn decrypt(&self, text: &str) -> Option<Vec<u8>> {
        let ct = B64.decode(text.trim()).ok()?;
        cbc::Decryptor::<Aes128>::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec::<Pkcs7>(&ct)
            .ok()
    }
}

/// Encrypts the session's key and IV to the client's RSA public key (PEM SubjectPublicKeyInfo),
/// as the `result.key` of the handshake: base64 of RSA-PKCS#1 v1.5. `None` for a key that
/// does not parse.
pub fn wrap_key(
    pem: &str,
    key_and_iv: &[u8; 32],
    rng: &mut impl rsa::rand_core::CryptoRngCore,
) -> Option<String> {
    let public = parse_public_key(pem)?;
    let wrapped = public.encrypt(rng, rsa::Pkcs1v15Encrypt, key_and_iv).ok()?;
    Some(B64.encode(wrapped))
}

/// Reads a PEM public key leniently. python-kasa writes its base64 on one line, which strict
/// PEM parsers (64-character lines) refuse; so the armour is dropped and the DER decoded,
/// as SubjectPublicKeyInfo or else PKCS#1.
fn parse_public_key(pem: &str) -> Option<rsa::RsaPublicKey> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let b64: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = B64.decode(b64).ok()?;
    rsa::RsaPublicKey::from_public_key_der(&der)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(&der))
        .ok()
}

/// Whether `login_device` params are `credentials`: `username` = b64(sha1_hex(username)), and
/// login v2's `password2` = b64(sha1_hex(password)) or login v1's `password` = b64(password).
pub fn login_matches(params: &Value, credentials: &Credentials) -> bool {
    let user_ok = params["username"].as_str() == Some(&B64.encode(sha1_hex(&credentials.username)));
    let password = credentials.password.expose();
    let pass_ok = match (params["password2"].as_str(), params["password"].as_str()) {
        (Some(v2), _) => v2 == B64.encode(sha1_hex(password)),
        (None, Some(v1)) => v1 == B64.encode(password),
        (None, None) => false,
    };
    user_ok && pass_ok
}

#[derive(Debug)]
struct Entry {
    cipher: AesCipher,
    token: Option<String>,
    created: Instant,
    expires: Instant,
}

/// One device's AES sessions, keyed by their `TP_SESSIONID` cookie.
#[derive(Debug, Default)]
pub struct AesSessions {
    sessions: HashMap<String, Entry>,
}

impl AesSessions {
    /// A handshake made session `id`, not yet logged in.
    pub fn open(&mut self, id: String, cipher: AesCipher, now: Instant, lifetime: Duration) {
        self.sessions.retain(|_, e| e.expires > now);
        while self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(old) => self.sessions.remove(&old),
                None => break,
            };
        }
        self.sessions.insert(
            id,
            Entry {
                cipher,
                token: None,
                created: now,
                expires: now + lifetime,
            },
        );
    }

    /// The cipher of session `id`, if it exists and has not expired.
    pub fn cipher(&mut self, id: &str, now: Instant) -> Option<AesCipher> {
        if self.sessions.get(id).is_some_and(|e| e.expires <= now) {
            self.sessions.remove(id);
        }
        self.sessions.get(id).map(|e| e.cipher.clone())
    }

    /// Whether session `id` logged in and `token` is the one its login gave.
    pub fn authorised(&self, id: &str, token: Option<&str>) -> bool {
        match (
            self.sessions.get(id).and_then(|e| e.token.as_deref()),
            token,
        ) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => false,
        }
    }

    pub fn logged_in(&mut self, id: &str, token: String) {
        if let Some(e) = self.sessions.get_mut(id) {
            e.token = Some(token);
        }
    }

    /// Ends session `id`: after a failed login the client must handshake again.
    pub fn forget(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    /// Forgets every session, as a reboot does.
    pub fn clear(&mut self) {
        self.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cipher() -> AesCipher {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        AesCipher::new(k)
    }

    #[test]
    fn the_session_cipher_matches_a_known_answer_and_round_trips() {
        // Computed with python-kasa's `cryptography`: key 00..0f, IV 10..1f.
        let ct = cipher().encrypt(br#"{"method":"get_device_info"}"#);
        assert_eq!(ct, "AoTU/alSJog6QIUAiFg+poqOeIoym5tr6MEsEcHy66o=");
        assert_eq!(
            cipher().decrypt(&ct).unwrap(),
            br#"{"method":"get_device_info"}"#
        );
        assert!(cipher().decrypt("not base64!").is_none());
        let other = AesCipher::new([7; 32]);
        assert!(
            other
                .decrypt(&ct)
                .is_none_or(|p| p != br#"{"method":"get_device_info"}"#)
        );
    }

    #[test]
    fn login_params_match_the_reference_vectors_for_both_login_versions() {
        let c = Credentials::new("user@example.com", "secret");
        let user = "NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw==";
        let v2 = json!({"username": user, "password2": "ZTVlOWZhMWJhMzFlY2QxYWU4NGY3NWNhYWE0NzRmM2E2NjNmMDVmNA=="});
        let v1 = json!({"username": user, "password": "c2VjcmV0"});
        assert!(login_matches(&v2, &c));
        assert!(login_matches(&v1, &c));
        assert!(!login_matches(
            &v1,
            &Credentials::new("user@example.com", "Secret")
        ));
        assert!(!login_matches(&json!({"username": user}), &c));
        assert!(!login_matches(&json!({"password": "c2VjcmV0"}), &c));
    }

    #[test]
    fn the_wrapped_key_opens_with_the_clients_private_key() {
        use rsa::pkcs8::EncodePublicKey;
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let key = [9u8; 32];
        // python-kasa's armour: the whole base64 on one line.
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let one_line = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        let wrapped = wrap_key(&one_line, &key, &mut rng).unwrap();
        let opened = private
            .decrypt(rsa::Pkcs1v15Encrypt, &B64.decode(wrapped).unwrap())
            .unwrap();
        assert_eq!(opened, key);
        assert!(
            wrap_key(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                &key,
                &mut rng
            )
            .is_none()
        );
    }

    #[test]
    fn a_session_serves_requests_only_with_the_token_its_login_gave() {
        let now = Instant::now();
        let mut s = AesSessions::default();
        s.open("S".into(), cipher(), now, Duration::from_secs(60));
        assert!(s.cipher("S", now).is_some());
        assert!(!s.authorised("S", None));
        s.logged_in("S", "T1".into());
        assert!(s.authorised("S", Some("T1")));
        assert!(!s.authorised("S", Some("T2")));
        assert!(!s.authorised("S", None));
        assert!(
            s.cipher("S", now + Duration::from_secs(61)).is_none(),
            "expired"
        );
        s.open("S".into(), cipher(), now, Duration::from_secs(60));
        s.forget("S");
        assert!(s.cipher("S", now).is_none());
    }
}
