//! The KLAP cipher, v1 and v2, without I/O.
//!
//! Both sides derive everything from three values: the client's 16-byte `local_seed`, the
//! device's 16-byte `remote_seed`, and the `auth_hash` of the account credentials. The
//! handshake hashes prove knowledge of `auth_hash` in each direction; the session key, IV
//! prefix, signature key and first sequence number come from SHA-256 of labelled
//! concatenations. Each request increments the sequence number first, uses it as the last
//! four bytes of the IV, and is signed with SHA-256(sig || seq || ciphertext).

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Length of each handshake seed.
pub const SEED_LEN: usize = 16;
/// Length of the signature that prefixes every request and response body.
pub const SIG_LEN: usize = 32;

/// The two KLAP generations; they differ only in the hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    /// Older Kasa firmware, including IOT devices such as the HS100 hardware 4.1.
    V1,
    /// Tapo and current Kasa firmware.
    V2,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the response signature does not match")]
    BadSignature,
    #[error("the body is shorter than its 32-byte signature")]
    Short,
    #[error("the ciphertext does not decrypt (wrong key or corrupt padding)")]
    Padding,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The credential hash a device stores: v1 `MD5(MD5(user) || MD5(password))`, v2
/// `SHA256(SHA1(user) || SHA1(password))`. Username and password are UTF-8, case-sensitive.
pub fn auth_hash(version: Version, username: &str, password: &str) -> Vec<u8> {
    match version {
        Version::V1 => {
            let mut h = Md5::new();
            h.update(Md5::digest(username.as_bytes()));
            h.update(Md5::digest(password.as_bytes()));
            h.finalize().to_vec()
        }
        Version::V2 => sha256(&[
            &Sha1::digest(username.as_bytes()),
            &Sha1::digest(password.as_bytes()),
        ])
        .to_vec(),
    }
}

/// What the device returns after its seed in handshake 1, proving it knows `auth`.
pub fn server_hash(version: Version, local: &[u8], remote: &[u8], auth: &[u8]) -> [u8; 32] {
    match version {
        Version::V1 => sha256(&[local, auth]),
        Version::V2 => sha256(&[local, remote, auth]),
    }
}

/// What the client sends in handshake 2, proving it knows `auth`.
pub fn client_hash(version: Version, local: &[u8], remote: &[u8], auth: &[u8]) -> [u8; 32] {
    match version {
        Version::V1 => sha256(&[remote, auth]),
        Version::V2 => sha256(&[remote, local, auth]),
    }
}

/// An established session's keys and sequence number. The same type serves both ends: the
/// client encrypts requests and decrypts responses, the simulator the other way round.
#[derive(Clone)]
pub struct Session {
    key: [u8; 16],
    iv12: [u8; 12],
    sig: [u8; 28],
    seq: i32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("Session")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Derives the session from the handshake's seeds and the credential hash.
    pub fn new(local: &[u8], remote: &[u8], auth: &[u8]) -> Session {
        let key_full = sha256(&[b"lsk", local, remote, auth]);
        let iv_full = sha256(&[b"iv", local, remote, auth]);
        let sig_full = sha256(&[b"ldk", local, remote, auth]);
        let mut key = [0u8; 16];
        key.copy_from_slice(&key_full[..16]);
        let mut iv12 = [0u8; 12];
        iv12.copy_from_slice(&iv_full[..12]);
        let mut sig = [0u8; 28];
        sig.copy_from_slice(&sig_full[..28]);
        let seq = i32::from_be_bytes([iv_full[28], iv_full[29], iv_full[30], iv_full[31]]);
        Session {
            key,
            iv12,
            sig,
            seq,
        }
    }

    /// The current sequence number (the last one used, or the derived start).
    pub fn seq(&self) -> i32 {
        self.seq
    }

    fn iv(&self, seq: i32) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..12].copy_from_slice(&self.iv12);
        iv[12..].copy_from_slice(&seq.to_be_bytes());
        iv
    }

    fn signature(&self, seq: i32, ciphertext: &[u8]) -> [u8; 32] {
        sha256(&[&self.sig, &seq.to_be_bytes(), ciphertext])
    }

    /// Encrypts with the IV of `seq` and signs: `signature || ciphertext`.
    pub fn seal(&self, seq: i32, plain: &[u8]) -> Vec<u8> {
        let ct = cbc::Encryptor::<Aes128>::new(&self.key.into(), &self.iv(seq).into())
            .encrypt_padded_vec::<Pkcs7>(plain);
        let mut body = self.signature(seq, &ct).to_vec();
        body.extend(ct);
        body
    }

    /// Checks the signature of `signature || ciphertext` for `seq`, then decrypts.
    pub fn open(&self, seq: i32, body: &[u8]) -> Result<Vec<u8>, CipherError> {
        if body.len() < SIG_LEN {
            return Err(CipherError::Short);
        }
        let (sig, ct) = body.split_at(SIG_LEN);
        if sig != self.signature(seq, ct) {
            return Err(CipherError::BadSignature);
        }
        cbc::Decryptor::<Aes128>::new(&self.key.into(), &self.iv(seq).into())
            .decrypt_padded_vec::<Pkcs7>(ct)
            .map_err(|_| CipherError::Padding)
    }

    /// Client side: the next request. Increments the sequence number first, wrapping as a
    /// signed 32-bit number does on the device.
    pub fn next_request(&mut self, plain: &[u8]) -> (i32, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        (self.seq, self.seal(self.seq, plain))
    }
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

    // Known answers from the protocol reference, computed with python-kasa 0.12.0:
    // user@example.com / secret, local_seed 00..0f, remote_seed 10..1f.
    const USER: &str = "user@example.com";
    const PASS: &str = "secret";
    fn seeds() -> (Vec<u8>, Vec<u8>) {
        ((0u8..16).collect(), (16u8..32).collect())
    }

    #[test]
    fn v1_known_answers() {
        let (local, remote) = seeds();
        let auth = auth_hash(Version::V1, USER, PASS);
        assert_eq!(auth, hex("9d6ce791ce44316e9e52fc1bc9d36496"));
        assert_eq!(
            server_hash(Version::V1, &local, &remote, &auth).to_vec(),
            hex("c2d456076f946c707000874d2e226a1c09e89a21e459272b8ec0f01cdaf774cf")
        );
        assert_eq!(
            client_hash(Version::V1, &local, &remote, &auth).to_vec(),
            hex("50ef3325d42cd7c999aa9e47e8cb0f8a7f6f239f1d51b39d46d581a4bb75c8c5")
        );
        let mut s = Session::new(&local, &remote, &auth);
        assert_eq!(s.key.to_vec(), hex("c5d896030359050e711d402b829b53cd"));
        assert_eq!(s.iv12.to_vec(), hex("3dcdd2bc7801fec3a7a7eb96"));
        assert_eq!(
            s.sig.to_vec(),
            hex("4617dcf442a7c0101e3e8bdcfee6978938be30821c84b70c71571fab")
        );
        assert_eq!(s.seq(), -59551828);
        let (seq, body) = s.next_request(br#"{"method":"get_device_info"}"#);
        assert_eq!(seq, -59551827);
        assert_eq!(
            body,
            hex(
                "99249a3b0d2529d57375e5d45be6368cd24bebe671ce091a4951ed5cba21c7d0cb821eba3e3908e01fc31481ca7fc75135b1e254ce8df739e2d8ed3d898b1807"
            )
        );
    }

    #[test]
    fn v2_known_answers() {
        let (local, remote) = seeds();
        let auth = auth_hash(Version::V2, USER, PASS);
        assert_eq!(
            auth,
            hex("b039216532fc844e9ae0cc8fe3ea911c9ba09c641bb96a3e1f776d93f7b5ae9b")
        );
        assert_eq!(
            server_hash(Version::V2, &local, &remote, &auth).to_vec(),
            hex("8ed3b905e654fbee23900d0244156a33029c025b71b03bfcc601eff33aaebb70")
        );
        assert_eq!(
            client_hash(Version::V2, &local, &remote, &auth).to_vec(),
            hex("1e590e7a4dc128da48ed17e06fe23ddb6ec646bb6da2eb00708d590f194201d7")
        );
        let mut s = Session::new(&local, &remote, &auth);
        assert_eq!(s.key.to_vec(), hex("35dcf29cd535ce140a239c67f641d395"));
        assert_eq!(s.iv12.to_vec(), hex("863e09a70667472d3fa152a4"));
        assert_eq!(
            s.sig.to_vec(),
            hex("777443e2fdd5cb21052633a60e830f44c8654b3a701f449231ed11fa")
        );
        assert_eq!(s.seq(), -903964344);
        let (seq, body) = s.next_request(br#"{"method":"get_device_info"}"#);
        assert_eq!(seq, -903964343);
        assert_eq!(
            body,
            hex(
                "81da24b0a1db4c9ec2fd895b347d416921d7f7a822457b501a52072e5f9acebf1119b459358000bec16c976ef226a249c491bf18064c9319a51d85792116a683"
            )
        );
    }

    #[test]
    fn default_credential_hashes_match_the_reference() {
        assert_eq!(
            auth_hash(Version::V1, "", ""),
            hex("5873dd45edd01f09c1ef2e7819369e8e")
        );
        assert_eq!(
            auth_hash(Version::V2, "", ""),
            hex("b8628ab91c74f531603f6d5b45e730e54c123a7247b8978272c03f1e13560cea")
        );
        assert_eq!(
            auth_hash(Version::V1, "kasa@tp-link.net", "kasaSetup"),
            hex("74b751bdd208bc155ae2a6d4167cc44d")
        );
        assert_eq!(
            auth_hash(Version::V2, "kasa@tp-link.net", "kasaSetup"),
            hex("49fc4839a2733ffbf464337648f65dc411778d4c03ec82c5e4cccc682163fa64")
        );
    }

    #[test]
    fn the_other_end_opens_what_one_end_seals_and_refuses_tampering() {
        let (local, remote) = seeds();
        let auth = auth_hash(Version::V2, USER, PASS);
        let mut client = Session::new(&local, &remote, &auth);
        let device = Session::new(&local, &remote, &auth);
        let (seq, body) = client.next_request(b"{\"method\":\"device_reboot\"}");
        assert_eq!(
            device.open(seq, &body).unwrap(),
            b"{\"method\":\"device_reboot\"}"
        );
        let reply = device.seal(seq, b"{\"error_code\":0}");
        assert_eq!(client.open(seq, &reply).unwrap(), b"{\"error_code\":0}");

        let mut tampered = reply.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(client.open(seq, &tampered), Err(CipherError::BadSignature));
        assert_eq!(client.open(seq + 1, &reply), Err(CipherError::BadSignature));
        assert_eq!(client.open(seq, &reply[..10]), Err(CipherError::Short));
        let other = Session::new(&local, &remote, &auth_hash(Version::V2, USER, "wrong"));
        assert_eq!(other.open(seq, &reply), Err(CipherError::BadSignature));
    }

    #[test]
    fn the_sequence_number_wraps_like_a_signed_32_bit_integer() {
        let (local, remote) = seeds();
        let mut s = Session::new(&local, &remote, &[0; 16]);
        s.seq = i32::MAX;
        assert_eq!(s.next_request(b"x").0, i32::MIN);
    }
}
