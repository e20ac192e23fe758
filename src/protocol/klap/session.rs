//! A KLAP client for one device: the two-step handshake, the session cookie and its lifetime,
//! and signed, encrypted requests on `/app/request`.
//!
//! The handshake proves the device knows one of a few candidate credentials (the profile's,
//! blank, the Kasa default) without sending any of them; if none matches, nothing more is sent.
//! Every response signature is checked, which python-kasa does not do. An HTTP 403 means the
//! device forgot the session: the client re-handshakes once and repeats the request once; the
//! device did not act on a request it refused, so this is safe even for a reset. The loop is
//! the shared [`crate::protocol::session::Driver`].
//!
//! The small HTTP/1.1 layer both KLAP and the AES transport use lives in [`http`].

use std::net::SocketAddr;

use rand::RngCore;
use tokio::time::Instant;

use super::cipher::{self, SEED_LEN, Session, Version};
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::http::{self, HttpConn, Sent};
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::session::{Driver, Exchanged, SessionProtocol};

/// The TCP port KLAP devices serve HTTP on.
pub const DEFAULT_PORT: u16 = 80;

/// The Kasa app's default login. Devices bound to the Kasa cloud switch between the owner's
/// credentials and these, so a handshake tries them too.
const KASA_DEFAULT: (&str, &str) = ("kasa@tp-link.net", "kasaSetup");

/// Why a request goes out: a read or a setting (may be repeated) or a disruptive command
/// (reboot, reset), which is never sent twice once it may have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Disruptive,
}

/// An established session: the cipher, the cookie that names it, and when to stop using it.
struct Established {
    cipher: Session,
    cookie: Option<String>,
    expires: Instant,
}

/// A KLAP client for one device, on the shared session [`Driver`]. One request at a time;
/// handshakes when it has no session or the session is about to expire.
#[derive(Debug)]
pub struct KlapClient {
    driver: Driver<Klap>,
}

/// The protocol side: the two handshakes and one signed request.
struct Klap {
    addr: SocketAddr,
    version: Version,
    credentials: Option<Credentials>,
    http: HttpConn,
    /// Whether the device answered handshake 1 with HTTP 403: local KLAP is off, or the
    /// firmware moved to TPAP.
    forbidden: bool,
}

impl std::fmt::Debug for Klap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Klap")
            .field("addr", &self.addr)
            .field("version", &self.version)
            .field(
                "username",
                &self.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl KlapClient {
    pub fn new(
        addr: SocketAddr,
        version: Version,
        credentials: Option<Credentials>,
        timeouts: Timeouts,
    ) -> KlapClient {
        KlapClient {
            driver: Driver::new(Klap {
                addr,
                version,
                credentials,
                http: HttpConn::new(addr, timeouts),
                forbidden: false,
            }),
        }
    }

    /// Whether the device refused handshake 1 with HTTP 403 (see [`http::FORBIDDEN_HANDSHAKE`]).
    pub fn forbidden(&self) -> bool {
        self.driver.proto.forbidden
    }

    /// From now on a disruptive command goes only on the session established now: the one the
    /// caller read the device's identity on. If that session has expired or the device refuses
    /// it (403), the command fails with [`DeviceError::NotSent`] instead of handshaking again,
    /// since a new handshake could reach another device that knows the same account. Reads
    /// still handshake again.
    pub fn pin(&mut self) {
        self.driver.pin();
    }

    pub fn is_pinned(&self) -> bool {
        self.driver.is_pinned()
    }

    pub fn addr(&self) -> SocketAddr {
        self.driver.proto.addr
    }

    pub fn version(&self) -> Version {
        self.driver.proto.version
    }

    /// Sends one JSON request and returns the device's JSON reply, decrypted and verified.
    pub async fn request(&mut self, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.call("klap request", json).await
    }

    /// [`request`](Self::request) with the operation named in errors.
    pub async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.driver
            .exchange(op, json, Kind::Query)
            .await?
            .into_reply(op)
    }

    /// Sends a disruptive command. A connection that drops (or goes silent) after the request
    /// was written is `Sent::NoReply`, not an error: the device most likely acted.
    pub async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        self.driver.exchange(op, json, Kind::Disruptive).await
    }

    /// Forgets the session, so the next request handshakes again.
    pub fn reset_session(&mut self) {
        self.driver.reset_session();
    }

    #[cfg(test)]
    fn candidates(&self) -> Vec<(&'static str, Credentials)> {
        self.driver.proto.candidates()
    }

    #[cfg(test)]
    fn no_match_detail(&self) -> String {
        self.driver.proto.no_match_detail()
    }
}

impl SessionProtocol for Klap {
    type Session = Established;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &'static str {
        "klap"
    }

    async fn establish(&mut self) -> Result<Established, DeviceError> {
        self.handshake().await
    }

    fn expires(session: &Established) -> Option<Instant> {
        Some(session.expires)
    }

    async fn send(
        &mut self,
        session: &mut Established,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Exchanged, DeviceError> {
        let (seq, body) = session.cipher.next_request(json);
        let path = format!("/app/request?seq={seq}");
        let headers = cookie_header(session.cookie.as_deref());
        let reply = match self.http.post(op, &path, &headers, body, kind).await {
            Ok(reply) => reply,
            Err(e) => return e.into_sent(kind).map(Exchanged::from),
        };
        match reply.status {
            200 => Ok(match session.cipher.open(seq, &reply.body) {
                Ok(plain) => {
                    tracing::trace!(addr = %self.addr, op, seq, "klap exchange");
                    Exchanged::Reply(plain)
                }
                // Whatever the device holds, it is not our session any more.
                Err(e) => Exchanged::Broken(DeviceError::Malformed {
                    op,
                    detail: format!("klap response (seq {seq}): {e}"),
                }),
            }),
            // The device no longer knows the session (it expired or the device rebooted). It
            // did not act on the request, so one repeat after a new handshake is safe.
            403 => Ok(Exchanged::Ended {
                code: 403,
                why: format!("HTTP status 403 to the request with seq {seq}"),
            }),
            status => Err(DeviceError::Device {
                op,
                code: i64::from(status),
                msg: format!("HTTP status {status} to the request with seq {seq}"),
            }),
        }
    }
}

impl Klap {
    /// The candidates a handshake checks the device against, in order, labelled for logs and
    /// error messages (never with the password).
    fn candidates(&self) -> Vec<(&'static str, Credentials)> {
        let mut list = Vec::with_capacity(3);
        if let Some(c) = &self.credentials {
            list.push(("the profile's credentials", c.clone()));
        }
        // A device never bound, or freshly reset, accepts blank credentials.
        let blank = Credentials::blank();
        if self.credentials.as_ref() != Some(&blank) {
            list.push(("blank credentials", blank));
        }
        list.push((
            "the Kasa default credentials",
            Credentials::new(KASA_DEFAULT.0, KASA_DEFAULT.1),
        ));
        list
    }

    async fn handshake(&mut self) -> Result<Established, DeviceError> {
        const OP1: &str = "klap handshake1";
        const OP2: &str = "klap handshake2";
        let local = random_seed();
        let reply = self
            .http
            .post(OP1, "/app/handshake1", &[], local.to_vec(), Kind::Query)
            .await
            .map_err(|e| e.error)?;
        match reply.status {
            200 => {}
            403 => {
                self.forbidden = true;
                return Err(DeviceError::Auth {
                    detail: format!("{OP1}: {}", http::FORBIDDEN_HANDSHAKE),
                });
            }
            status => {
                return Err(DeviceError::Device {
                    op: OP1,
                    code: i64::from(status),
                    msg: format!("HTTP status {status} to the handshake"),
                });
            }
        }
        if reply.body.len() != SEED_LEN + 32 {
            return Err(DeviceError::Malformed {
                op: OP1,
                detail: format!(
                    "expected a 16-byte seed and a 32-byte hash, got {} bytes",
                    reply.body.len()
                ),
            });
        }
        let (remote, server_hash) = reply.body.split_at(SEED_LEN);
        let cookie = reply.cookie("TP_SESSIONID").map(str::to_owned);
        let lifetime = reply
            .cookie("TIMEOUT")
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(http::DEFAULT_SESSION_SECS);

        let mut matched = None;
        for (label, creds) in self.candidates() {
            let auth = cipher::auth_hash(self.version, &creds.username, creds.password.expose());
            if cipher::server_hash(self.version, &local, remote, &auth) == server_hash {
                matched = Some((label, auth));
                break;
            }
        }
        let Some((label, auth)) = matched else {
            return Err(DeviceError::Auth {
                detail: self.no_match_detail(),
            });
        };
        tracing::debug!(addr = %self.addr, version = ?self.version, matched = label, "klap handshake1 verified");

        let payload = cipher::client_hash(self.version, &local, remote, &auth).to_vec();
        let headers = cookie_header(cookie.as_deref());
        let reply = self
            .http
            .post(OP2, "/app/handshake2", &headers, payload, Kind::Query)
            .await
            .map_err(|e| e.error)?;
        if reply.status != 200 {
            // python-kasa deliberately reports this as a device error, not an auth failure:
            // handshake 1 already proved the credentials.
            return Err(DeviceError::Device {
                op: OP2,
                code: i64::from(reply.status),
                msg: format!("HTTP status {} to the handshake", reply.status),
            });
        }
        Ok(Established {
            cipher: Session::new(&local, remote, &auth),
            cookie,
            expires: Instant::now() + http::session_lifetime(lifetime),
        })
    }

    fn no_match_detail(&self) -> String {
        match &self.credentials {
            Some(c) => format!(
                "klap handshake1: the device's challenge matches neither the profile's credentials (user {:?}) nor the blank or Kasa default ones; {}",
                c.username,
                http::CHECK_CREDENTIALS
            ),
            None => "klap handshake1: no credentials profile is set for this device and it accepts neither blank nor the Kasa default credentials, so it is bound to an account; give it a credentials profile with that account's e-mail and password (both case-sensitive)".to_owned(),
        }
    }
}

fn cookie_header(cookie: Option<&str>) -> Vec<(&'static str, String)> {
    cookie
        .map(|c| vec![("cookie", format!("TP_SESSIONID={c}"))])
        .unwrap_or_default()
}

fn random_seed() -> [u8; SEED_LEN] {
    let mut seed = [0u8; SEED_LEN];
    rand::thread_rng().fill_bytes(&mut seed);
    seed
}

#[cfg(test)]
mod tests;
