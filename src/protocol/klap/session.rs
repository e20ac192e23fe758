//! A KLAP client for one device: the two-step handshake, the session cookie and its lifetime,
//! and signed, encrypted requests on `/app/request`.
//!
//! The handshake proves the device knows one of a few candidate credentials (the profile's,
//! blank, the Kasa default) without sending any of them; if none matches, nothing more is sent.
//! Every response signature is checked, which python-kasa does not do. An HTTP 403 means the
//! device forgot the session: the client re-handshakes once and repeats the request once; the
//! device did not act on a request it refused, so this is safe even for a reset.
//!
//! The small HTTP/1.1 layer both KLAP and the AES transport use lives in [`http`].

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use tokio::time::Instant;

use super::cipher::{self, SEED_LEN, Session, Version};
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::iot::transport::Timeouts;
use http::{HttpConn, HttpError, Sent};

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

/// A KLAP client for one device. One request at a time; handshakes when it has no session or
/// the session is about to expire.
pub struct KlapClient {
    addr: SocketAddr,
    version: Version,
    credentials: Option<Credentials>,
    http: HttpConn,
    session: Option<Established>,
}

impl std::fmt::Debug for KlapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlapClient")
            .field("addr", &self.addr)
            .field("version", &self.version)
            .field(
                "username",
                &self.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .field("established", &self.session.is_some())
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
            addr,
            version,
            credentials,
            http: HttpConn::new(addr, timeouts),
            session: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Sends one JSON request and returns the device's JSON reply, decrypted and verified.
    pub async fn request(&mut self, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.call("klap request", json).await
    }

    /// [`request`](Self::request) with the operation named in errors.
    pub async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        match self.exchange(op, json, Kind::Query).await? {
            Sent::Reply(reply) => Ok(reply),
            // Queries are never reported as sent-without-answer.
            Sent::NoReply { detail } => Err(DeviceError::ConnectionLost { op, detail }),
        }
    }

    /// Sends a disruptive command. A connection that drops (or goes silent) after the request
    /// was written is `Sent::NoReply`, not an error: the device most likely acted.
    pub async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        self.exchange(op, json, Kind::Disruptive).await
    }

    /// Forgets the session, so the next request handshakes again.
    pub fn reset_session(&mut self) {
        self.session = None;
    }

    async fn exchange(
        &mut self,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Sent, DeviceError> {
        let mut refused_once = false;
        loop {
            if self
                .session
                .as_ref()
                .is_some_and(|s| Instant::now() >= s.expires)
            {
                tracing::debug!(addr = %self.addr, "klap session expired; handshaking again");
                self.session = None;
            }
            if self.session.is_none() {
                self.session = Some(self.handshake().await?);
            }
            let Some(session) = self.session.as_mut() else {
                unreachable!("a session was just established");
            };
            let (seq, body) = session.cipher.next_request(json);
            let path = format!("/app/request?seq={seq}");
            let headers = cookie_header(session.cookie.as_deref());
            let reply = match self.http.post(op, &path, &headers, body, kind).await {
                Ok(reply) => reply,
                Err(HttpError { written, error }) => {
                    return if kind == Kind::Disruptive && written && error.is_silence() {
                        Ok(Sent::NoReply {
                            detail: error.to_string(),
                        })
                    } else {
                        Err(error)
                    };
                }
            };
            match reply.status {
                200 => {
                    return match session.cipher.open(seq, &reply.body) {
                        Ok(plain) => {
                            tracing::trace!(addr = %self.addr, op, seq, "klap exchange");
                            Ok(Sent::Reply(plain))
                        }
                        Err(e) => {
                            // Whatever the device holds, it is not our session any more.
                            self.session = None;
                            Err(DeviceError::Malformed {
                                op,
                                detail: format!("klap response (seq {seq}): {e}"),
                            })
                        }
                    };
                }
                // The device no longer knows the session (it expired or the device rebooted).
                // It did not act on the request, so one repeat after a new handshake is safe.
                403 if !refused_once => {
                    tracing::debug!(addr = %self.addr, op, "klap session refused (403); handshaking again");
                    refused_once = true;
                    self.session = None;
                }
                status => {
                    return Err(DeviceError::Device {
                        op,
                        code: i64::from(status),
                        msg: format!("HTTP status {status} to the request with seq {seq}"),
                    });
                }
            }
        }
    }

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

/// HTTP/1.1 POSTs to one device, for KLAP and the AES transport: one connection kept alive
/// between requests, a fresh one for each disruptive command, cookies read by hand.
///
/// Cookies are not kept in a jar: the device's `TIMEOUT` cookie must not be sent back (the
/// devices dislike it), so the session cookie is sent explicitly on each request.
pub mod http {
    use super::*;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full, Limited};
    use hyper::client::conn::http1::{self, SendRequest};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpStream;
    use tokio::time::timeout;

    /// The largest reply body we read. The largest SMART replies (a strip's child list page,
    /// `component_nego`) are a few KiB; 64 KiB leaves a wide margin and bounds what a broken
    /// device can make us buffer.
    pub const MAX_BODY: usize = 64 * 1024;

    /// Session lifetime when the device sends no `TIMEOUT` cookie (python-kasa's default).
    pub const DEFAULT_SESSION_SECS: u64 = 86_400;

    /// Sessions are dropped this much before the device's own expiry, so a request never
    /// races it (python-kasa uses the same 20 minutes).
    pub const EXPIRY_MARGIN_SECS: u64 = 1_200;

    /// What to tell a user whose device refuses the handshake itself with HTTP 403.
    pub const FORBIDDEN_HANDSHAKE: &str = "the device refused the handshake (HTTP 403); Tapo firmware updates turn local access off: enable Third-Party Compatibility in the Tapo app (Me > Third-Party Services)";

    /// What to tell a user whose credentials the device rejects.
    pub const CHECK_CREDENTIALS: &str = "check the account e-mail and password (both case-sensitive) of this device's credentials profile";

    /// How long to use a session the device says lasts `secs`: 20 minutes less, but never
    /// less than half of it, so a device with a short timeout does not force a handshake
    /// before every request.
    pub fn session_lifetime(secs: u64) -> Duration {
        Duration::from_secs(secs.saturating_sub(EXPIRY_MARGIN_SECS).max(secs / 2))
    }

    /// A disruptive command's delivery.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Sent {
        /// The device answered; the decrypted reply.
        Reply(Vec<u8>),
        /// The request was written in full, then the connection dropped or went silent.
        NoReply { detail: String },
    }

    /// One HTTP reply: status, the cookies it set, and the body.
    #[derive(Debug)]
    pub struct Reply {
        pub status: u16,
        /// `Set-Cookie` name and value pairs; attributes after the first `;` are dropped.
        pub cookies: Vec<(String, String)>,
        pub body: Bytes,
    }

    impl Reply {
        pub fn cookie(&self, name: &str) -> Option<&str> {
            self.cookies
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// A failed POST, with whether the request may have reached the device.
    #[derive(Debug)]
    pub struct HttpError {
        /// The request was handed to a live connection; it may have arrived.
        pub written: bool,
        pub error: DeviceError,
    }

    /// The connection to one device.
    pub struct HttpConn {
        addr: SocketAddr,
        timeouts: Timeouts,
        sender: Option<SendRequest<Full<Bytes>>>,
    }

    impl HttpConn {
        pub fn new(addr: SocketAddr, timeouts: Timeouts) -> HttpConn {
            HttpConn {
                addr,
                timeouts,
                sender: None,
            }
        }

        /// POSTs `body` to `path` with the extra `headers` (lower-case names).
        pub async fn post(
            &mut self,
            op: &'static str,
            path: &str,
            headers: &[(&'static str, String)],
            body: Vec<u8>,
            kind: Kind,
        ) -> Result<Reply, HttpError> {
            if kind == Kind::Disruptive {
                // On a reused connection, "dropped after writing" could just mean the device
                // had closed it while idle; on a fresh one it means the command arrived.
                self.sender = None;
            }
            let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
            let body = Bytes::from(body);
            match self.attempt(op, path, headers, body.clone()).await {
                // The device closed an idle kept-alive connection as we reused it; a query
                // may be repeated on a new one.
                Err(HttpError {
                    error: DeviceError::ConnectionLost { .. },
                    ..
                }) if reused && kind == Kind::Query => {
                    tracing::debug!(addr = %self.addr, op, "kept-alive connection was closed; reconnecting");
                    self.attempt(op, path, headers, body).await
                }
                other => other,
            }
        }

        async fn attempt(
            &mut self,
            op: &'static str,
            path: &str,
            headers: &[(&'static str, String)],
            body: Bytes,
        ) -> Result<Reply, HttpError> {
            let mut sender = match self.sender.take().filter(|s| !s.is_closed()) {
                Some(s) => s,
                None => self.connect(op).await.map_err(|error| HttpError {
                    written: false,
                    error,
                })?,
            };
            let mut builder = hyper::Request::post(path)
                .header("host", self.addr.to_string())
                // Some devices answer 500 without an exact length (AES handshake).
                .header("content-length", body.len());
            for (name, value) in headers {
                builder = builder.header(*name, value.as_str());
            }
            let request = builder.body(Full::new(body)).map_err(|e| HttpError {
                written: false,
                error: DeviceError::Malformed {
                    op,
                    detail: format!("cannot build the request: {e}"),
                },
            })?;

            let limit = self.timeouts.request;
            let mut started = false;
            let result = timeout(limit, async {
                sender.ready().await.map_err(|e| (false, e.into()))?;
                started = true;
                let response = sender
                    .send_request(request)
                    .await
                    // A cancelled request never left: the connection closed before it.
                    .map_err(|e| (!e.is_canceled(), e.into()))?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| (true, e))?
                    .to_bytes();
                Ok::<_, (bool, Box<dyn std::error::Error + Send + Sync>)>((parts, body))
            })
            .await;
            let (parts, body) = match result {
                Err(_) => {
                    return Err(HttpError {
                        written: started,
                        error: DeviceError::Timeout { op, after: limit },
                    });
                }
                Ok(Err((written, e))) => {
                    return Err(HttpError {
                        written,
                        error: describe(op, &*e),
                    });
                }
                Ok(Ok(done)) => done,
            };
            if !sender.is_closed() {
                self.sender = Some(sender);
            }
            let cookies = parts
                .headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(parse_set_cookie)
                .collect();
            tracing::trace!(addr = %self.addr, op, path, status = parts.status.as_u16(), len = body.len(), "http exchange");
            Ok(Reply {
                status: parts.status.as_u16(),
                cookies,
                body,
            })
        }

        async fn connect(&self, op: &'static str) -> Result<SendRequest<Full<Bytes>>, DeviceError> {
            let after = self.timeouts.connect;
            let stream = match timeout(after, TcpStream::connect(self.addr)).await {
                Err(_) => return Err(DeviceError::Timeout { op, after }),
                Ok(Err(e)) => {
                    return Err(DeviceError::Unreachable {
                        addr: self.addr,
                        detail: e.to_string(),
                    });
                }
                Ok(Ok(s)) => s,
            };
            // Small requests go out at once instead of waiting for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| {
                DeviceError::ConnectionLost {
                    op,
                    detail: e.to_string(),
                }
            })?;
            let addr = self.addr;
            // The connection task ends when the device closes the connection or the sender
            // is dropped; one per client at a time.
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::trace!(%addr, error = %e, "http connection ended");
                }
            });
            Ok(sender)
        }
    }

    /// Maps a hyper or body error to what it means for the caller.
    fn describe(op: &'static str, e: &(dyn std::error::Error + 'static)) -> DeviceError {
        if e.is::<http_body_util::LengthLimitError>() {
            return DeviceError::Malformed {
                op,
                detail: format!("reply body over the {MAX_BODY}-byte limit"),
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && h.is_parse()
        {
            return DeviceError::Malformed {
                op,
                detail: format!("not a valid HTTP reply: {h}"),
            };
        }
        DeviceError::ConnectionLost {
            op,
            detail: e.to_string(),
        }
    }

    /// `NAME=VALUE; attributes…` → (NAME, VALUE). A `TIMEOUT=…` after the first `;` is an
    /// attribute, as browsers and python-kasa's HTTP library read it.
    pub fn parse_set_cookie(header: &str) -> Option<(String, String)> {
        let pair = header.split(';').next()?;
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        Some((name.to_owned(), value.trim().trim_matches('"').to_owned()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::http::*;
    use super::*;

    #[test]
    fn set_cookie_headers_give_name_and_value_without_attributes() {
        assert_eq!(
            parse_set_cookie("TP_SESSIONID=ABCDEF;TIMEOUT=86400"),
            Some(("TP_SESSIONID".into(), "ABCDEF".into()))
        );
        assert_eq!(
            parse_set_cookie("TIMEOUT=1440; Path=/"),
            Some(("TIMEOUT".into(), "1440".into()))
        );
        assert_eq!(parse_set_cookie("garbage"), None);
        assert_eq!(parse_set_cookie("=x"), None);
    }

    #[test]
    fn sessions_end_twenty_minutes_early_but_never_before_half_their_life() {
        assert_eq!(session_lifetime(86_400), Duration::from_secs(85_200));
        assert_eq!(session_lifetime(1_440), Duration::from_secs(720));
        assert_eq!(session_lifetime(0), Duration::ZERO);
    }

    fn client(creds: Option<Credentials>) -> KlapClient {
        KlapClient::new(
            "127.0.0.1:80".parse().unwrap(),
            Version::V2,
            creds,
            Timeouts::default(),
        )
    }

    #[test]
    fn the_candidates_are_the_profile_then_blank_then_the_kasa_default() {
        let labels = |c: &KlapClient| {
            c.candidates()
                .into_iter()
                .map(|(l, _)| l)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labels(&client(Some(Credentials::new("a@b.c", "pw")))),
            [
                "the profile's credentials",
                "blank credentials",
                "the Kasa default credentials"
            ]
        );
        assert_eq!(
            labels(&client(None)),
            ["blank credentials", "the Kasa default credentials"]
        );
        assert_eq!(
            labels(&client(Some(Credentials::blank()))),
            ["the profile's credentials", "the Kasa default credentials"]
        );
    }

    #[test]
    fn debug_output_and_auth_errors_never_show_the_password() {
        let c = client(Some(Credentials::new(
            "owner@example.com",
            "hunter2-SECRET",
        )));
        let shown = format!("{c:?} {}", c.no_match_detail());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("owner@example.com"), "{shown}");
        assert!(shown.contains("case-sensitive"), "{shown}");
    }

    /// A bare HTTP/1.1 responder on loopback for the session tests (KLAP's and AES's): it
    /// hands each request to `handler`, and drops the connection when the handler says `None`.
    pub(crate) mod responder {
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};

        pub struct Req {
            pub path: String,
            /// The request line and headers, lower-cased.
            pub head: String,
            pub body: Vec<u8>,
        }

        pub struct Resp {
            pub status: u16,
            pub headers: Vec<String>,
            pub body: Vec<u8>,
        }

        type Handler = Arc<dyn Fn(Req) -> Option<Resp> + Send + Sync>;

        pub async fn spawn(
            handler: impl Fn(Req) -> Option<Resp> + Send + Sync + 'static,
        ) -> std::net::SocketAddr {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let handler: Handler = Arc::new(handler);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, handler.clone()));
                }
            });
            addr
        }

        async fn serve(mut stream: TcpStream, handler: Handler) {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                let Some(resp) = handler(Req { path, head, body }) else {
                    return;
                };
                let mut out = format!(
                    "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
                    resp.status,
                    resp.body.len()
                );
                for h in resp.headers {
                    out.push_str(&h);
                    out.push_str("\r\n");
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend(resp.body);
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }

    /// A tiny KLAP v2 device, enough to drive the client through its paths. The full device
    /// lives in the simulator; this one only answers what these tests need.
    mod device {
        use super::super::cipher::{self, Session, Version};
        use super::responder::{self, Req, Resp};
        use std::sync::{Arc, Mutex};

        #[derive(Default)]
        pub struct State {
            pub auth: Vec<u8>,
            pub paths: Vec<String>,
            pub forbid_requests: usize,
            pub tamper: bool,
            pub drop_requests: bool,
            seeds: Option<(Vec<u8>, Vec<u8>)>,
            session: Option<Session>,
        }

        pub async fn spawn(user: &str, pass: &str) -> (std::net::SocketAddr, Arc<Mutex<State>>) {
            let state = Arc::new(Mutex::new(State {
                auth: cipher::auth_hash(Version::V2, user, pass),
                ..State::default()
            }));
            let shared = state.clone();
            let addr = responder::spawn(move |req| answer(&shared, req)).await;
            (addr, state)
        }

        fn resp(status: u16, body: Vec<u8>) -> Option<Resp> {
            Some(Resp {
                status,
                headers: vec![],
                body,
            })
        }

        fn answer(state: &Mutex<State>, req: Req) -> Option<Resp> {
            let mut s = state.lock().unwrap();
            let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
            s.paths.push(path.to_owned());
            let has_cookie = req.head.contains("cookie: tp_sessionid=s1");
            match path {
                "/app/handshake1" => {
                    let remote: Vec<u8> = (16u8..32).collect();
                    let hash = cipher::server_hash(Version::V2, &req.body, &remote, &s.auth);
                    let mut body = remote.clone();
                    body.extend(hash);
                    s.seeds = Some((req.body, remote));
                    Some(Resp {
                        status: 200,
                        headers: vec!["set-cookie: TP_SESSIONID=S1;TIMEOUT=86400".into()],
                        body,
                    })
                }
                "/app/handshake2" => {
                    let (local, remote) = s.seeds.clone()?;
                    let ok = has_cookie
                        && req.body == cipher::client_hash(Version::V2, &local, &remote, &s.auth);
                    if ok {
                        s.session = Some(Session::new(&local, &remote, &s.auth));
                    }
                    resp(if ok { 200 } else { 400 }, vec![])
                }
                "/app/request" => {
                    if s.forbid_requests > 0 || !has_cookie || s.session.is_none() {
                        s.forbid_requests = s.forbid_requests.saturating_sub(1);
                        s.session = None;
                        return resp(403, vec![]);
                    }
                    if s.drop_requests {
                        return None;
                    }
                    let seq: i32 = query.strip_prefix("seq=")?.parse().ok()?;
                    let session = s.session.as_ref()?;
                    let plain = session.open(seq, &req.body).ok()?;
                    let reply = format!(r#"{{"error_code":0,"result":{{"len":{}}}}}"#, plain.len());
                    let mut sealed = session.seal(seq, reply.as_bytes());
                    if s.tamper {
                        sealed[0] ^= 1;
                    }
                    resp(200, sealed)
                }
                _ => resp(404, vec![]),
            }
        }
    }

    fn quick() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(2),
        }
    }

    const OWNER: (&str, &str) = ("owner@example.com", "pw-owner");

    fn klap(addr: SocketAddr, creds: Option<(&str, &str)>) -> KlapClient {
        KlapClient::new(
            addr,
            Version::V2,
            creds.map(|(u, p)| Credentials::new(u, p)),
            quick(),
        )
    }

    fn paths(state: &std::sync::Mutex<device::State>) -> Vec<String> {
        state.lock().unwrap().paths.clone()
    }

    #[tokio::test]
    async fn a_request_goes_through_both_handshakes_and_comes_back_verified() {
        let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
        let mut c = klap(addr, Some(OWNER));
        let reply = c.request(br#"{"method":"get_device_info"}"#).await.unwrap();
        assert_eq!(reply, br#"{"error_code":0,"result":{"len":28}}"#);
        // The session is reused.
        c.request(b"{}").await.unwrap();
        assert_eq!(
            paths(&state),
            [
                "/app/handshake1",
                "/app/handshake2",
                "/app/request",
                "/app/request"
            ]
        );
    }

    #[tokio::test]
    async fn an_unbound_device_is_reached_with_blank_credentials() {
        let (addr, _state) = device::spawn("", "").await;
        let mut c = klap(addr, Some(OWNER));
        assert!(c.request(b"{}").await.is_ok());
        let mut c = klap(addr, None);
        assert!(c.request(b"{}").await.is_ok());
    }

    #[tokio::test]
    async fn wrong_credentials_are_an_auth_error_and_no_handshake2_is_sent() {
        let (addr, state) = device::spawn(OWNER.0, "the-real-password").await;
        let err = klap(addr, Some(OWNER)).request(b"{}").await.unwrap_err();
        assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
        assert_eq!(err.reason(), "auth_failed");
        assert!(!err.to_string().contains("pw-owner"), "{err}");
        assert_eq!(paths(&state), ["/app/handshake1"]);
    }

    #[tokio::test]
    async fn a_response_with_a_bad_signature_is_malformed() {
        let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
        state.lock().unwrap().tamper = true;
        let err = klap(addr, Some(OWNER)).request(b"{}").await.unwrap_err();
        assert!(matches!(err, DeviceError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("signature"), "{err}");
    }

    #[tokio::test]
    async fn a_forgotten_session_is_renewed_once_and_the_request_repeated_once() {
        let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
        state.lock().unwrap().forbid_requests = 1;
        let mut c = klap(addr, Some(OWNER));
        let sent = c.command("reset", b"{}").await.unwrap();
        assert!(matches!(sent, Sent::Reply(_)), "{sent:?}");
        assert_eq!(
            paths(&state),
            [
                "/app/handshake1",
                "/app/handshake2",
                "/app/request",
                "/app/handshake1",
                "/app/handshake2",
                "/app/request"
            ]
        );
        // A device that keeps refusing gets one renewal, then an error.
        state.lock().unwrap().forbid_requests = 5;
        let err = c.request(b"{}").await.unwrap_err();
        assert!(
            matches!(err, DeviceError::Device { code: 403, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_command_whose_connection_drops_after_sending_is_sent_without_ack_and_not_repeated() {
        let (addr, state) = device::spawn(OWNER.0, OWNER.1).await;
        let mut c = klap(addr, Some(OWNER));
        c.request(b"{}").await.unwrap();
        state.lock().unwrap().drop_requests = true;
        let sent = c.command("reboot", b"{}").await.unwrap();
        assert!(matches!(sent, Sent::NoReply { .. }), "{sent:?}");
        let requests = paths(&state)
            .iter()
            .filter(|p| *p == "/app/request")
            .count();
        assert_eq!(requests, 2);
        // A query that loses its answer is an error, not an acknowledgement.
        let err = c.request(b"{}").await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = klap(addr, None).request(b"{}").await.unwrap_err();
        assert!(matches!(err, DeviceError::Unreachable { .. }), "{err}");
    }
}
