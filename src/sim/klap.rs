//! The device side of KLAP (v1 and v2): handshake sessions, keyed by their `TP_SESSIONID`
//! cookie, and request opening. No I/O; the keys come from the pure cipher in
//! [`crate::protocol::klap::cipher`].
//!
//! Handshake 1 answers with the device's seed and its proof of the account's `auth_hash`;
//! handshake 2 checks the client's proof, and only then do requests on the session open.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::protocol::klap::cipher::{self, SEED_LEN, Session, Version};

/// Sessions a device keeps at once; the oldest goes first. Firmware holds a handful; this
/// bounds what a client that handshakes in a loop can make a device remember.
pub const MAX_SESSIONS: usize = 32;

/// The session lifetime a device announces in its `TIMEOUT` cookie, in device seconds.
pub const SESSION_TIMEOUT_SECS: u64 = 86_400;

/// Why a KLAP step is refused; every one is answered with an HTTP error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Handshake 1 without a 16-byte seed.
    BadSeed,
    /// No such session, an expired one, or one still waiting for handshake 2.
    UnknownSession,
    /// Handshake 2 with a hash of credentials the device does not accept: a failed login.
    BadHash,
    /// A request whose signature or ciphertext does not check out.
    BadRequest,
}

#[derive(Debug)]
enum Stage {
    Challenged {
        local: [u8; SEED_LEN],
        remote: [u8; SEED_LEN],
    },
    Ready(Session),
}

#[derive(Debug)]
struct Entry {
    stage: Stage,
    created: Instant,
    expires: Instant,
}

/// One device's KLAP sessions.
#[derive(Debug)]
pub struct KlapSessions {
    version: Version,
    sessions: HashMap<String, Entry>,
}

impl KlapSessions {
    pub fn new(version: Version) -> KlapSessions {
        KlapSessions {
            version,
            sessions: HashMap::new(),
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Handshake 1: remembers the seeds under `id` and answers `remote || server_hash`, the
    /// device's proof that it knows `auth` (its account's `auth_hash`). `lifetime` is the real
    /// time the session lasts.
    pub fn handshake1(
        &mut self,
        local: &[u8],
        remote: [u8; SEED_LEN],
        auth: &[u8],
        id: String,
        now: Instant,
        lifetime: Duration,
    ) -> Result<Vec<u8>, Refusal> {
        let local: [u8; SEED_LEN] = local.try_into().map_err(|_| Refusal::BadSeed)?;
        self.make_room(now);
        self.sessions.insert(
            id,
            Entry {
                stage: Stage::Challenged { local, remote },
                created: now,
                expires: now + lifetime,
            },
        );
        let mut body = remote.to_vec();
        body.extend(cipher::server_hash(self.version, &local, &remote, auth));
        Ok(body)
    }

    /// Handshake 2: the client's hash must be that of one of the `accepted` auth hashes; the
    /// session's keys come from the one it matched. A wrong hash ends the session.
    pub fn handshake2(
        &mut self,
        id: &str,
        body: &[u8],
        accepted: &[Vec<u8>],
        now: Instant,
    ) -> Result<(), Refusal> {
        let version = self.version;
        let entry = self.live(id, now).ok_or(Refusal::UnknownSession)?;
        let Stage::Challenged { local, remote } = entry.stage else {
            // A second handshake 2 on a session: the client is confused; make it start over.
            self.sessions.remove(id);
            return Err(Refusal::UnknownSession);
        };
        let matched = accepted
            .iter()
            .find(|auth| cipher::client_hash(version, &local, &remote, auth) == body);
        match matched {
            Some(auth) => {
                entry.stage = Stage::Ready(Session::new(&local, &remote, auth));
                Ok(())
            }
            None => {
                self.sessions.remove(id);
                Err(Refusal::BadHash)
            }
        }
    }

    /// A request: checks its signature for `seq` and decrypts it. The reply is sealed with
    /// the returned session and the same `seq`.
    pub fn open(
        &mut self,
        id: &str,
        seq: i32,
        body: &[u8],
        now: Instant,
    ) -> Result<(Session, Vec<u8>), Refusal> {
        let entry = self.live(id, now).ok_or(Refusal::UnknownSession)?;
        let Stage::Ready(session) = &entry.stage else {
            return Err(Refusal::UnknownSession);
        };
        let plain = session.open(seq, body).map_err(|_| Refusal::BadRequest)?;
        Ok((session.clone(), plain))
    }

    /// Forgets every session, as a reboot does.
    pub fn clear(&mut self) {
        self.sessions.clear();
    }

    /// The session `id` if it has not expired; an expired one is dropped.
    fn live(&mut self, id: &str, now: Instant) -> Option<&mut Entry> {
        if self.sessions.get(id).is_some_and(|e| e.expires <= now) {
            self.sessions.remove(id);
        }
        self.sessions.get_mut(id)
    }

    fn make_room(&mut self, now: Instant) {
        self.sessions.retain(|_, e| e.expires > now);
        while self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.sessions.remove(&id),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::klap::cipher::auth_hash;

    const DAY: Duration = Duration::from_secs(86_400);

    fn seeds() -> ([u8; 16], [u8; 16]) {
        let mut local = [0u8; 16];
        let mut remote = [0u8; 16];
        for i in 0..16 {
            local[i] = i as u8;
            remote[i] = 16 + i as u8;
        }
        (local, remote)
    }

    #[test]
    fn handshake1_answers_the_reference_server_hash_for_v2() {
        let (local, remote) = seeds();
        let auth = auth_hash(Version::V2, "user@example.com", "secret");
        let mut s = KlapSessions::new(Version::V2);
        let body = s
            .handshake1(&local, remote, &auth, "A".into(), Instant::now(), DAY)
            .unwrap();
        assert_eq!(body[..16], remote);
        // The protocol reference's v2 known answer.
        let expected = "8ed3b905e654fbee23900d0244156a33029c025b71b03bfcc601eff33aaebb70";
        let hex: String = body[16..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        assert_eq!(
            s.handshake1(&local[..15], remote, &auth, "B".into(), Instant::now(), DAY),
            Err(Refusal::BadSeed)
        );
    }

    #[test]
    fn a_full_exchange_opens_the_clients_request_and_the_client_opens_the_reply() {
        for version in [Version::V1, Version::V2] {
            let (local, remote) = seeds();
            let owner = auth_hash(version, "user@example.com", "secret");
            let now = Instant::now();
            let mut s = KlapSessions::new(version);
            s.handshake1(&local, remote, &owner, "S".into(), now, DAY)
                .unwrap();
            assert_eq!(
                s.open("S", 1, &[0; 48], now).unwrap_err(),
                Refusal::UnknownSession,
                "no requests before handshake 2"
            );
            let proof = cipher::client_hash(version, &local, &remote, &owner);
            s.handshake2("S", &proof, std::slice::from_ref(&owner), now)
                .unwrap();
            let mut client = Session::new(&local, &remote, &owner);
            let (seq, body) = client.next_request(br#"{"method":"get_device_info"}"#);
            let (session, plain) = s.open("S", seq, &body, now).unwrap();
            assert_eq!(plain, br#"{"method":"get_device_info"}"#);
            let reply = session.seal(seq, b"{\"error_code\":0}");
            assert_eq!(client.open(seq, &reply).unwrap(), b"{\"error_code\":0}");
            assert_eq!(
                s.open("S", seq + 1, &body, now).unwrap_err(),
                Refusal::BadRequest,
                "a signature for another seq"
            );
        }
    }

    #[test]
    fn a_wrong_handshake2_hash_is_a_failed_login_and_ends_the_session() {
        let (local, remote) = seeds();
        let owner = auth_hash(Version::V2, "user@example.com", "secret");
        let wrong = auth_hash(Version::V2, "user@example.com", "wrong");
        let now = Instant::now();
        let mut s = KlapSessions::new(Version::V2);
        s.handshake1(&local, remote, &owner, "S".into(), now, DAY)
            .unwrap();
        let proof = cipher::client_hash(Version::V2, &local, &remote, &wrong);
        assert_eq!(
            s.handshake2("S", &proof, std::slice::from_ref(&owner), now),
            Err(Refusal::BadHash)
        );
        let right = cipher::client_hash(Version::V2, &local, &remote, &owner);
        assert_eq!(
            s.handshake2("S", &right, std::slice::from_ref(&owner), now),
            Err(Refusal::UnknownSession)
        );
    }

    #[test]
    fn any_accepted_hash_opens_a_session_keyed_by_the_one_that_matched() {
        let (local, remote) = seeds();
        let blank = auth_hash(Version::V1, "", "");
        let kasa = auth_hash(Version::V1, "kasa@tp-link.net", "kasaSetup");
        let now = Instant::now();
        let mut s = KlapSessions::new(Version::V1);
        s.handshake1(&local, remote, &blank, "S".into(), now, DAY)
            .unwrap();
        let proof = cipher::client_hash(Version::V1, &local, &remote, &kasa);
        s.handshake2("S", &proof, &[blank, kasa.clone()], now)
            .unwrap();
        let mut client = Session::new(&local, &remote, &kasa);
        let (seq, body) = client.next_request(b"{}");
        assert_eq!(s.open("S", seq, &body, now).unwrap().1, b"{}");
    }

    #[test]
    fn sessions_expire_and_a_device_remembers_a_bounded_number() {
        let (local, remote) = seeds();
        let auth = auth_hash(Version::V2, "", "");
        let t0 = Instant::now();
        let mut s = KlapSessions::new(Version::V2);
        s.handshake1(
            &local,
            remote,
            &auth,
            "S".into(),
            t0,
            Duration::from_secs(10),
        )
        .unwrap();
        let proof = cipher::client_hash(Version::V2, &local, &remote, &auth);
        assert_eq!(
            s.handshake2(
                "S",
                &proof,
                std::slice::from_ref(&auth),
                t0 + Duration::from_secs(11)
            ),
            Err(Refusal::UnknownSession)
        );
        for i in 0..MAX_SESSIONS + 5 {
            s.handshake1(&local, remote, &auth, format!("S{i}"), t0, DAY)
                .unwrap();
        }
        assert_eq!(s.sessions.len(), MAX_SESSIONS);
        s.clear();
        assert!(s.sessions.is_empty());
    }
}
