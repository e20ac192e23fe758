//! The TPAP session cipher, without I/O: AES-128-CCM (16-byte tag, 12-byte nonce, no
//! associated data) keyed from the SPAKE2+ shared key.
//!
//! - key: `HKDF-SHA256(salt "tp-kdf-salt-aes128-key", ikm shared, info
//!   "tp-kdf-info-aes128-key")`, 16 bytes;
//! - nonce: the first 8 bytes of `HKDF-SHA256("tp-kdf-salt-aes128-iv", shared,
//!   "tp-kdf-info-aes128-iv")` (12 bytes long), then the request's sequence number, big-endian;
//! - a body on the wire, either way: `BE32(seq) ‖ ciphertext ‖ tag`. A reply carries the
//!   sequence number of the request it answers.

use aes::Aes128;
use ccm::Ccm;
use ccm::aead::{Aead, KeyInit};
use ccm::consts::{U12, U16};
use hkdf::Hkdf;
use sha2::Sha256;

type Aes128Ccm = Ccm<Aes128, U16, U12>;

/// The sequence-number prefix of every body.
pub const SEQ_LEN: usize = 4;
/// The CCM tag after the ciphertext.
pub const TAG_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the body is {0} bytes, shorter than its sequence number and tag")]
    Short(usize),
    #[error("the body answers sequence number {got}, not {expected}")]
    OtherSeq { expected: u32, got: u32 },
    #[error("the body does not authenticate (wrong key, or altered on the way)")]
    Tag,
}

/// One session's key and nonce base.
#[derive(Clone)]
pub struct SessionCipher {
    aead: Aes128Ccm,
    base: [u8; 12],
}

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCipher(..)")
    }
}

impl SessionCipher {
    pub fn new(shared: &[u8]) -> SessionCipher {
        let (key, base) = derive(shared);
        SessionCipher {
            aead: Aes128Ccm::new_from_slice(&key).expect("a 16-byte key"),
            base,
        }
    }

    /// `BE32(seq) ‖ ciphertext ‖ tag` of `plain`.
    pub fn seal(&self, seq: u32, plain: &[u8]) -> Vec<u8> {
        let sealed = self
            .aead
            .encrypt(&self.nonce(seq).into(), plain)
            .expect("CCM seals any message shorter than 2^64 bytes");
        let mut body = Vec::with_capacity(SEQ_LEN + sealed.len());
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&sealed);
        body
    }

    /// The sequence number a body carries, if it is long enough to carry one.
    pub fn seq_of(body: &[u8]) -> Option<u32> {
        Some(u32::from_be_bytes(body.get(..SEQ_LEN)?.try_into().ok()?))
    }

    /// Opens a body that must carry `expected` (a reply to the request sent with it, or the
    /// next request a device expects): the prefix is checked first, then the tag.
    pub fn open(&self, expected: u32, body: &[u8]) -> Result<Vec<u8>, OpenError> {
        if body.len() < SEQ_LEN + TAG_LEN {
            return Err(OpenError::Short(body.len()));
        }
        let got = Self::seq_of(body).expect("checked the length");
        if got != expected {
            return Err(OpenError::OtherSeq { expected, got });
        }
        self.aead
            .decrypt(&self.nonce(got).into(), &body[SEQ_LEN..])
            .map_err(|_| OpenError::Tag)
    }

    fn nonce(&self, seq: u32) -> [u8; 12] {
        let mut nonce = self.base;
        nonce[8..].copy_from_slice(&seq.to_be_bytes());
        nonce
    }
}

/// The session key and the 12-byte nonce base (of which the first 8 bytes are used).
pub fn derive(shared: &[u8]) -> ([u8; 16], [u8; 12]) {
    let mut key = [0u8; 16];
    Hkdf::<Sha256>::new(Some(b"tp-kdf-salt-aes128-key"), shared)
        .expand(b"tp-kdf-info-aes128-key", &mut key)
        .expect("16 bytes is within HKDF's limit");
    let mut base = [0u8; 12];
    Hkdf::<Sha256>::new(Some(b"tp-kdf-salt-aes128-iv"), shared)
        .expand(b"tp-kdf-info-aes128-iv", &mut base)
        .expect("12 bytes is within HKDF's limit");
    (key, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn counting() -> Vec<u8> {
        (0u8..32).collect()
    }

    #[test]
    fn keys_and_a_body_match_the_reference_vector() {
        let (key, base) = derive(&counting());
        assert_eq!(key.to_vec(), hex("1f477a8c3d031511dcfd57aa01895887"));
        assert_eq!(base.to_vec(), hex("4240c38bb08a77faaae56105"));
        let c = SessionCipher::new(&counting());
        let body = c.seal(0x0102_0304, br#"{"method":"get_device_info"}"#);
        assert_eq!(
            body,
            hex(
                "01020304c0331c1c36a5df4ce0c68e5a27b2667ebf842dc994a3fd24b9e860a60fab76d4b66b9b669d95cca10c012f13"
            )
        );
        assert_eq!(
            c.open(0x0102_0304, &body).unwrap(),
            br#"{"method":"get_device_info"}"#
        );
    }

    #[test]
    fn the_first_request_of_the_reference_session_matches() {
        let shared = hex("7d167e1fb9d3af4c77f4512fba6bc8ab3773f6e840ed4f041fbc679297da5ee1");
        let (key, base) = derive(&shared);
        assert_eq!(key.to_vec(), hex("691c24d77f1d06de0a9edb0ed9c24e9c"));
        assert_eq!(base.to_vec(), hex("21aef525014a8e5a526b6308"));
        let body = SessionCipher::new(&shared)
            .seal(100, br#"{"method":"device_reboot","params":{"delay":1}}"#);
        assert_eq!(
            body,
            hex(
                "00000064951c72d26f82520e77a5ae8dcf2abb1971d4530e63c8f2c253860c6f01f4c50f7bb9078219b80f696eaa64dc1de4cd3be7406bd8599c58bb189be435a2a398"
            )
        );
    }

    #[test]
    fn a_body_for_another_seq_a_flipped_bit_or_a_short_body_is_refused() {
        let c = SessionCipher::new(&counting());
        let body = c.seal(7, b"{}");
        assert_eq!(
            c.open(8, &body).unwrap_err(),
            OpenError::OtherSeq {
                expected: 8,
                got: 7
            }
        );
        // The prefix rewritten to match: the nonce no longer does, so the tag fails.
        let mut moved = body.clone();
        moved[..4].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(c.open(8, &moved).unwrap_err(), OpenError::Tag);
        for i in SEQ_LEN..body.len() {
            let mut flipped = body.clone();
            flipped[i] ^= 1;
            assert_eq!(c.open(7, &flipped).unwrap_err(), OpenError::Tag, "byte {i}");
        }
        assert_eq!(c.open(7, &body[..19]).unwrap_err(), OpenError::Short(19));
        assert_eq!(c.open(7, &[]).unwrap_err(), OpenError::Short(0));
        let other = SessionCipher::new(&[9u8; 32]);
        assert_eq!(other.open(7, &body).unwrap_err(), OpenError::Tag);
        assert_eq!(c.open(7, &body).unwrap(), b"{}");
    }
}
