//! One session driver for the HTTP protocols with a login: KLAP, the AES passthrough and
//! SslAes. Each protocol says how to establish a session and how to send one request on it
//! ([`SessionProtocol`]); the [`Driver`] owns the loop they share:
//!
//! - a session past its expiry is dropped before a request, and a new one established;
//! - a disruptive command goes only on the session established when the caller [pinned] it
//!   (the one the device's identity was read on), else it fails [`DeviceError::NotSent`];
//! - a session the device ended (it did not act on the request) is renewed **once** per
//!   request, and the request repeated once; a second end is an error;
//! - a login the device refused (auth, lockout) is remembered: every later request returns the
//!   same error and nothing more is sent, so a wrong password costs a device one failure.
//!
//! [pinned]: Driver::pin

use std::future::Future;
use std::net::SocketAddr;

use tokio::time::Instant;

use crate::device::DeviceError;
use crate::protocol::http::Sent;
use crate::protocol::klap::session::Kind;

/// How one request on a session ended.
#[derive(Debug)]
pub enum Exchanged {
    /// The device answered; the decrypted reply.
    Reply(Vec<u8>),
    /// A disruptive command was written in full, then the connection dropped or went silent.
    NoReply { detail: String },
    /// The device no longer knows the session (HTTP 401/403, 9999, -40401): it did not act.
    Ended { code: i64, why: String },
    /// The session can't be used any more (a reply that does not decrypt or verify).
    Broken(DeviceError),
}

impl From<Sent> for Exchanged {
    fn from(sent: Sent) -> Exchanged {
        match sent {
            Sent::Reply(reply) => Exchanged::Reply(reply),
            Sent::NoReply { detail } => Exchanged::NoReply { detail },
        }
    }
}

/// A protocol whose requests go on a session established first.
pub trait SessionProtocol {
    type Session: Send;

    fn addr(&self) -> SocketAddr;

    /// For log lines: `klap`, `aes`, `sslaes`.
    fn name(&self) -> &'static str;

    /// Handshakes and logs in. One attempt: the driver never calls it again after an
    /// [`DeviceError::Auth`] or [`DeviceError::Blocked`].
    fn establish(&mut self) -> impl Future<Output = Result<Self::Session, DeviceError>> + Send;

    /// When the session stops being usable, if the device said.
    fn expires(session: &Self::Session) -> Option<Instant>;

    /// Sends one request on `session`.
    fn send(
        &mut self,
        session: &mut Self::Session,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> impl Future<Output = Result<Exchanged, DeviceError>> + Send;
}

/// The loop every session protocol shares; see the module docs.
#[derive(Debug)]
pub struct Driver<P: SessionProtocol> {
    pub proto: P,
    session: Option<P::Session>,
    pinned: bool,
    refused: Option<DeviceError>,
}

impl<P: SessionProtocol> Driver<P> {
    pub fn new(proto: P) -> Driver<P> {
        Driver {
            proto,
            session: None,
            pinned: false,
            refused: None,
        }
    }

    /// From now on a disruptive command goes only on the session established now; if it has
    /// expired or the device ends it, the command fails [`DeviceError::NotSent`] instead of
    /// logging in again (a new login could reach another device that knows the same account).
    /// Reads still establish a new session.
    pub fn pin(&mut self) {
        self.pinned = true;
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    pub fn is_established(&self) -> bool {
        self.session.is_some()
    }

    /// Forgets the session, so the next request establishes a new one. A remembered refusal
    /// stays.
    pub fn reset_session(&mut self) {
        self.session = None;
    }

    /// Sends one request of `kind`; see the module docs.
    pub async fn exchange(
        &mut self,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Sent, DeviceError> {
        let pinned = self.pinned && kind == Kind::Disruptive;
        let mut renewed = false;
        loop {
            if let Some(e) = &self.refused {
                return Err(e.clone());
            }
            if self
                .session
                .as_ref()
                .and_then(P::expires)
                .is_some_and(|at| Instant::now() >= at)
            {
                tracing::debug!(addr = %self.proto.addr(), protocol = self.proto.name(), "session expired");
                self.session = None;
            }
            if self.session.is_none() && pinned {
                return Err(DeviceError::NotSent { op });
            }
            let session = match &mut self.session {
                Some(s) => s,
                None => match self.proto.establish().await {
                    Ok(s) => self.session.insert(s),
                    Err(e) => {
                        if matches!(e, DeviceError::Auth { .. } | DeviceError::Blocked { .. }) {
                            self.refused = Some(e.clone());
                        }
                        return Err(e);
                    }
                },
            };
            match self.proto.send(session, op, json, kind).await? {
                Exchanged::Reply(reply) => return Ok(Sent::Reply(reply)),
                Exchanged::NoReply { detail } => return Ok(Sent::NoReply { detail }),
                Exchanged::Broken(e) => {
                    self.session = None;
                    return Err(e);
                }
                Exchanged::Ended { .. } if pinned => {
                    self.session = None;
                    return Err(DeviceError::NotSent { op });
                }
                Exchanged::Ended { code, why } if !renewed => {
                    tracing::debug!(addr = %self.proto.addr(), protocol = self.proto.name(), op, code, why, "session ended; establishing a new one");
                    renewed = true;
                    self.session = None;
                }
                Exchanged::Ended { code, why } => {
                    return Err(DeviceError::Device {
                        op,
                        code,
                        msg: format!("the device ended two sessions in a row: {why}"),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A protocol that answers from a script and counts logins.
    struct Scripted {
        logins: u32,
        login: Option<DeviceError>,
        answers: VecDeque<Exchanged>,
        sent: u32,
    }

    impl SessionProtocol for Scripted {
        type Session = u32;
        fn addr(&self) -> SocketAddr {
            "127.0.0.1:1".parse().unwrap()
        }
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn establish(&mut self) -> Result<u32, DeviceError> {
            self.logins += 1;
            match &self.login {
                Some(e) => Err(e.clone()),
                None => Ok(self.logins),
            }
        }
        fn expires(_: &u32) -> Option<Instant> {
            None
        }
        async fn send(
            &mut self,
            _: &mut u32,
            _: &'static str,
            _: &[u8],
            _: Kind,
        ) -> Result<Exchanged, DeviceError> {
            self.sent += 1;
            Ok(self
                .answers
                .pop_front()
                .unwrap_or(Exchanged::Reply(b"ok".to_vec())))
        }
    }

    fn driver(login: Option<DeviceError>, answers: Vec<Exchanged>) -> Driver<Scripted> {
        Driver::new(Scripted {
            logins: 0,
            login,
            answers: answers.into(),
            sent: 0,
        })
    }

    fn ended() -> Exchanged {
        Exchanged::Ended {
            code: 403,
            why: "HTTP status 403".into(),
        }
    }

    #[tokio::test]
    async fn a_session_the_device_ended_is_renewed_once_per_request() {
        let mut d = driver(None, vec![ended()]);
        assert_eq!(
            d.exchange("q", b"{}", Kind::Query).await.unwrap(),
            Sent::Reply(b"ok".to_vec())
        );
        assert_eq!((d.proto.logins, d.proto.sent), (2, 2));
        let mut d = driver(None, vec![ended(), ended()]);
        let err = d.exchange("q", b"{}", Kind::Query).await.unwrap_err();
        assert!(
            matches!(err, DeviceError::Device { code: 403, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_pinned_command_never_goes_on_a_new_session() {
        let mut d = driver(None, vec![]);
        d.exchange("q", b"{}", Kind::Query).await.unwrap();
        d.proto.answers.push_back(ended());
        d.pin();
        let err = d
            .exchange("reboot", b"{}", Kind::Disruptive)
            .await
            .unwrap_err();
        assert_eq!(err, DeviceError::NotSent { op: "reboot" });
        assert_eq!(d.proto.logins, 1);
        // And with no session at all, nothing is established for it.
        assert_eq!(
            d.exchange("reboot", b"{}", Kind::Disruptive)
                .await
                .unwrap_err(),
            DeviceError::NotSent { op: "reboot" }
        );
        assert_eq!((d.proto.logins, d.proto.sent), (1, 2));
    }

    #[tokio::test]
    async fn a_refused_login_is_never_tried_again() {
        let refused = DeviceError::Blocked {
            detail: "1800 s".into(),
        };
        let mut d = driver(Some(refused.clone()), vec![]);
        for _ in 0..3 {
            assert_eq!(
                d.exchange("q", b"{}", Kind::Query).await.unwrap_err(),
                refused
            );
        }
        assert_eq!((d.proto.logins, d.proto.sent), (1, 0));
        // A transient failure to log in is not remembered.
        let mut d = driver(
            Some(DeviceError::ConnectionLost {
                op: "login",
                detail: String::new(),
            }),
            vec![],
        );
        d.exchange("q", b"{}", Kind::Query).await.unwrap_err();
        d.exchange("q", b"{}", Kind::Query).await.unwrap_err();
        assert_eq!(d.proto.logins, 2);
    }

    #[tokio::test]
    async fn a_broken_session_is_dropped_and_its_error_returned() {
        let broken = DeviceError::Malformed {
            op: "q",
            detail: "bad signature".into(),
        };
        let mut d = driver(None, vec![Exchanged::Broken(broken.clone())]);
        assert_eq!(
            d.exchange("q", b"{}", Kind::Query).await.unwrap_err(),
            broken
        );
        assert!(!d.is_established());
        d.exchange("q", b"{}", Kind::Query).await.unwrap();
        assert_eq!(d.proto.logins, 2);
    }
}
