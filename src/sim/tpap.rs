//! The device side of TPAP, without I/O: a pending `pake_register` per device (the devices
//! take one login at a time), sessions keyed by their `stok`, each with the sequence number
//! it expects next, and the lockout counters. The crypto is the verifier role of
//! [`crate::protocol::tpap::spake2p`].

use std::collections::HashMap;
use std::time::Instant;

use rand::RngCore;

use crate::protocol::tpap::cipher::SessionCipher;
use crate::protocol::tpap::spake2p::{self, Outcome, Password};

pub mod wire;

/// Failed logins a TPAP device allows before it locks (the "around 15" devices were seen to
/// allow); a row's `lockout=N` fault sets another.
pub const DEFAULT_ALLOWANCE: u32 = 15;

/// The minutes a locked device reports in `lockedMinute`.
pub const LOCKED_MINUTES: u64 = 30;

/// The PBKDF2 iterations the device names in `pake_register` (a real device named 3000).
pub const ITERATIONS: u32 = 3000;

/// The first sequence number of a session.
pub const START_SEQ: u32 = 100;

/// Sessions a device keeps; the oldest goes first.
pub const MAX_SESSIONS: usize = 16;

/// A registration waiting for its `pake_share`.
struct Pending {
    user_random: Vec<u8>,
    dev_random: [u8; 32],
    y: p256::Scalar,
    /// The verifier of the credential this registration was answered for.
    password: Password,
}

/// A logged-in session.
#[derive(Debug)]
struct Live {
    cipher: SessionCipher,
    /// The lowest sequence number the next request may carry.
    next: u32,
    created: Instant,
}

/// What a `pake_share` came to.
#[derive(Debug)]
pub enum ShareResult {
    /// The client proved the password: the device's confirmation, the new `stok`, the start.
    Accepted {
        dev_confirm: [u8; 32],
        stok: String,
        start_seq: u32,
    },
    /// The client's confirmation does not check: a failed login.
    WrongPassword,
    /// No registration to go with it, or a share that is no point.
    Malformed,
}

/// Why a request on `/stok=…/ds` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRefusal {
    /// No such session (expired, or the device rebooted).
    UnknownSession,
    /// A sequence number below what the session expects (a replay), or a body that does not
    /// open.
    BadRequest,
}

/// One device's TPAP state.
#[derive(Default)]
pub struct TpapSessions {
    pending: Option<Pending>,
    sessions: HashMap<String, Live>,
}

impl std::fmt::Debug for TpapSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpapSessions")
            .field("pending", &self.pending.is_some())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

/// The device's answer to `pake_register`.
#[derive(Debug)]
pub struct Registration {
    pub dev_random: [u8; 32],
    pub dev_salt: Vec<u8>,
    pub dev_share: Vec<u8>,
}

impl TpapSessions {
    /// `pake_register`: a fresh `y` and `dev_random`; the share is for `credential` (the
    /// account's password under the device's `extra_crypt`) with `salt`.
    pub fn register(
        &mut self,
        user_random: Vec<u8>,
        credential: &str,
        salt: &[u8],
        rng: &mut impl RngCore,
    ) -> Registration {
        let mut dev_random = [0u8; 32];
        rng.fill_bytes(&mut dev_random);
        let y = spake2p::random_scalar(rng);
        let password = Password::derive(credential.as_bytes(), salt, ITERATIONS);
        let dev_share = spake2p::verifier_share(&password.verifier(), &y);
        self.pending = Some(Pending {
            user_random,
            dev_random,
            y,
            password,
        });
        Registration {
            dev_random,
            dev_salt: salt.to_vec(),
            dev_share,
        }
    }

    /// `pake_share`: checks the client's confirmation against the pending registration, which
    /// it uses up either way.
    pub fn share(
        &mut self,
        user_share: &[u8],
        user_confirm: &[u8],
        now: Instant,
        rng: &mut impl RngCore,
    ) -> ShareResult {
        let Some(p) = self.pending.take() else {
            return ShareResult::Malformed;
        };
        let context = spake2p::context(&p.user_random, &p.dev_random);
        let outcome: Outcome = match spake2p::respond(
            &p.password.verifier(),
            &p.y,
            spake2p::tpap_parties(&context),
            user_share,
        ) {
            Ok(o) => o,
            Err(_) => return ShareResult::Malformed,
        };
        if !outcome.peer_confirms(user_confirm) {
            return ShareResult::WrongPassword;
        }
        if self.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
        {
            self.sessions.remove(&oldest);
        }
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        let stok: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        self.sessions.insert(
            stok.clone(),
            Live {
                cipher: SessionCipher::new(&outcome.shared),
                next: START_SEQ,
                created: now,
            },
        );
        ShareResult::Accepted {
            dev_confirm: outcome.confirm,
            stok,
            start_seq: START_SEQ,
        }
    }

    /// A request on session `stok`: its plaintext and the cipher and sequence number to seal
    /// the reply with.
    pub fn open(
        &mut self,
        stok: &str,
        body: &[u8],
    ) -> Result<(SessionCipher, u32, Vec<u8>), RequestRefusal> {
        let live = self
            .sessions
            .get_mut(stok)
            .ok_or(RequestRefusal::UnknownSession)?;
        let seq = SessionCipher::seq_of(body).ok_or(RequestRefusal::BadRequest)?;
        if seq < live.next {
            return Err(RequestRefusal::BadRequest);
        }
        let plain = live
            .cipher
            .open(seq, body)
            .map_err(|_| RequestRefusal::BadRequest)?;
        live.next = seq.wrapping_add(1);
        Ok((live.cipher.clone(), seq, plain))
    }

    /// Forgets every session and registration, as a reboot does.
    pub fn clear(&mut self) {
        self.pending = None;
        self.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tpap::spake2p::{prove, random_scalar, tpap_parties};

    /// A client's login with `password`: what the device said, and the client's shared key.
    fn login(s: &mut TpapSessions, password: &str) -> (ShareResult, [u8; 32]) {
        let mut rng = rand::thread_rng();
        let user_random = vec![5u8; 32];
        let r = s.register(user_random.clone(), "device-credential", b"salt", &mut rng);
        let client = Password::derive(password.as_bytes(), &r.dev_salt, ITERATIONS);
        let ctx = spake2p::context(&user_random, &r.dev_random);
        let out = prove(
            &client,
            &random_scalar(&mut rng),
            tpap_parties(&ctx),
            &r.dev_share,
        )
        .unwrap();
        let result = s.share(&out.share, &out.confirm, Instant::now(), &mut rng);
        if let ShareResult::Accepted { dev_confirm, .. } = &result {
            assert!(out.peer_confirms(dev_confirm));
        }
        (result, out.shared)
    }

    #[test]
    fn the_right_credential_opens_a_session_whose_sequence_only_moves_forward() {
        let mut s = TpapSessions::default();
        let (
            ShareResult::Accepted {
                stok, start_seq, ..
            },
            shared,
        ) = login(&mut s, "device-credential")
        else {
            panic!("the right credential logs in");
        };
        assert_eq!(start_seq, START_SEQ);
        let ours = SessionCipher::new(&shared);
        let (_, seq, plain) = s.open(&stok, &ours.seal(start_seq, b"{}")).unwrap();
        assert_eq!((seq, plain.as_slice()), (start_seq, &b"{}"[..]));
        // The same sequence number again is a replay.
        assert_eq!(
            s.open(&stok, &ours.seal(start_seq, b"{}")).unwrap_err(),
            RequestRefusal::BadRequest
        );
        // Another key's body does not open.
        let stranger = SessionCipher::new(&[0; 32]).seal(start_seq + 1, b"{}");
        assert_eq!(
            s.open(&stok, &stranger).unwrap_err(),
            RequestRefusal::BadRequest
        );
        assert!(s.open(&stok, &ours.seal(start_seq + 1, b"{}")).is_ok());
        assert_eq!(
            s.open("nope", b"0000").unwrap_err(),
            RequestRefusal::UnknownSession
        );
        s.clear();
        assert_eq!(
            s.open(&stok, &ours.seal(start_seq + 2, b"{}")).unwrap_err(),
            RequestRefusal::UnknownSession
        );
    }

    #[test]
    fn a_wrong_credential_fails_and_a_share_without_a_registration_is_malformed() {
        let mut s = TpapSessions::default();
        assert!(matches!(
            login(&mut s, "wrong").0,
            ShareResult::WrongPassword
        ));
        assert!(matches!(
            s.share(&[4; 65], &[0; 32], Instant::now(), &mut rand::thread_rng()),
            ShareResult::Malformed
        ));
    }
}
