//! An AES `securePassthrough` client for one device: the RSA handshake, `login_device`, then
//! SMART requests encrypted inside `securePassthrough` on `/app?token=…`.
//!
//! Every failed login counts towards the device's lockout (-40404), so a client tries at
//! most two: the profile's credentials (or blank ones, if the device has no profile), then the
//! Tapo default, each after a fresh handshake (a device answers 9999 to a login retried on
//! the same session).

use std::net::SocketAddr;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};
use serde_json::Value;
use tokio::time::Instant;

use super::cipher::{self, LoginParams, LoginVersion, PassthroughCipher};
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::http::{self, HttpConn, Reply, Sent};
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::klap::session::Kind;
use crate::protocol::session::{Driver, Exchanged, SessionProtocol};
use crate::protocol::smart::{self, SmartErrorKind};

/// The Tapo app's default login, which python-kasa also tries after a login error.
const TAPO_DEFAULT: (&str, &str) = ("test@tp-link.net", "test");

/// The RSA key pair for every AES handshake of this process. Generating one takes a while
/// (tens of milliseconds optimised, seconds in a debug build), and the device only uses it to
/// wrap the session key, so one per process is enough.
static KEY: OnceLock<(RsaPrivateKey, String)> = OnceLock::new();

/// The key pair and its public half as PEM, generating it on first use.
async fn key_pair() -> Result<&'static (RsaPrivateKey, String), String> {
    if let Some(k) = KEY.get() {
        return Ok(k);
    }
    // Off the async threads: generation is CPU-bound.
    tokio::task::spawn_blocking(|| {
        if KEY.get().is_none() {
            let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024)
                .map_err(|e| format!("cannot generate the RSA key: {e}"))?;
            let der = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| format!("cannot encode the RSA key: {e}"))?;
            let pem = cipher::public_key_pem(der.as_bytes());
            // Another thread may have won the race; either key is as good.
            let _ = KEY.set((key, pem));
        }
        Ok(KEY.get().expect("set above"))
    })
    .await
    .map_err(|e| format!("RSA key generation failed: {e}"))?
}

struct Established {
    cipher: PassthroughCipher,
    /// The cookie's name (`TP_SESSIONID`, or `SESSIONID` on some firmware) and value.
    cookie: Option<(String, String)>,
    token: String,
    expires: Instant,
}

/// An AES passthrough client for one device, on the shared session [`Driver`].
#[derive(Debug)]
pub struct AesClient {
    driver: Driver<Aes>,
}

/// The protocol side: handshake and login, and one passthrough request.
struct Aes {
    addr: SocketAddr,
    credentials: Option<Credentials>,
    login_version: LoginVersion,
    http: HttpConn,
}

impl std::fmt::Debug for Aes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aes")
            .field("addr", &self.addr)
            .field(
                "username",
                &self.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .field("login_version", &self.login_version)
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

const HANDSHAKE: &str = "aes handshake";
const LOGIN: &str = "aes login_device";

impl AesClient {
    /// A client that logs in with the v2 parameters (`password2`), as current firmware and
    /// python-kasa's CLI default expect.
    pub fn new(addr: SocketAddr, credentials: Option<Credentials>, timeouts: Timeouts) -> Self {
        AesClient::with_login_version(addr, credentials, timeouts, LoginVersion::V2)
    }

    pub fn with_login_version(
        addr: SocketAddr,
        credentials: Option<Credentials>,
        timeouts: Timeouts,
        login_version: LoginVersion,
    ) -> Self {
        AesClient {
            driver: Driver::new(Aes {
                addr,
                credentials,
                login_version,
                http: HttpConn::new(addr, timeouts),
            }),
        }
    }

    /// From now on a disruptive command goes only on the session logged in now, the one the
    /// caller read the device's identity on; an expired or refused session makes it fail with
    /// [`DeviceError::NotSent`] instead of logging in again. Reads still log in again.
    pub fn pin(&mut self) {
        self.driver.pin();
    }

    pub fn is_pinned(&self) -> bool {
        self.driver.is_pinned()
    }

    pub fn addr(&self) -> SocketAddr {
        self.driver.proto.addr
    }

    /// Sends one SMART JSON request and returns the device's decrypted JSON reply.
    pub async fn request(&mut self, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.call("aes request", json).await
    }

    /// [`request`](Self::request) with the operation named in errors.
    pub async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.driver
            .exchange(op, json, Kind::Query)
            .await?
            .into_reply(op)
    }

    /// Sends a disruptive command; see [`Sent`].
    pub async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        self.driver.exchange(op, json, Kind::Disruptive).await
    }

    /// Forgets the session, so the next request handshakes and logs in again.
    pub fn reset_session(&mut self) {
        self.driver.reset_session();
    }
}

impl SessionProtocol for Aes {
    type Session = Established;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &'static str {
        "aes"
    }

    async fn establish(&mut self) -> Result<Established, DeviceError> {
        self.log_in().await
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
        let path = format!("/app?token={}", session.token);
        let headers = json_headers(session.cookie.as_ref());
        let body = cipher::passthrough_body(&session.cipher, json);
        let reply = match self.http.post(op, &path, &headers, body, kind).await {
            Ok(r) => r,
            Err(e) => return e.into_sent(kind).map(Exchanged::from),
        };
        match passthrough_reply(op, &session.cipher, &reply) {
            Ok(plain) => Ok(Exchanged::Reply(plain)),
            // The device forgot the session; it did not act on the request.
            Err(Retry::SessionEnded(why)) => Ok(Exchanged::Ended {
                code: why.code,
                why: why.detail,
            }),
            Err(Retry::Fail(e)) => Err(e),
        }
    }
}

impl Aes {
    /// Handshakes and logs in. With a profile, exactly one login: a device counts failed
    /// logins and locks them after a few, so a wrong password must cost each device one
    /// failure, not two. Without a profile (an unbound device), blank credentials and then the
    /// Tapo default, as unbound firmware accepts one or the other.
    async fn log_in(&mut self) -> Result<Established, DeviceError> {
        let candidates: Vec<(&str, Credentials)> = match self.credentials.clone() {
            Some(c) => vec![("the profile's credentials", c)],
            None => vec![
                ("blank credentials", Credentials::blank()),
                (
                    "the Tapo default credentials",
                    Credentials::new(TAPO_DEFAULT.0, TAPO_DEFAULT.1),
                ),
            ],
        };
        let mut last = None;
        for (label, creds) in candidates {
            let (cipher, cookie, lifetime) = self.handshake().await?;
            match self.login(&cipher, cookie.as_ref(), &creds).await {
                Ok(token) => {
                    tracing::debug!(addr = %self.addr, matched = label, "aes login accepted");
                    return Ok(Established {
                        cipher,
                        cookie,
                        token,
                        expires: Instant::now() + http::session_lifetime(lifetime),
                    });
                }
                Err(LoginError::Refused(e)) => {
                    tracing::debug!(addr = %self.addr, tried = label, code = e.code, "aes login refused");
                    last = Some(e);
                }
                Err(LoginError::Fail(e)) => return Err(e),
            }
        }
        let e = last.expect("at least one login was tried");
        Err(DeviceError::Auth {
            detail: match &self.credentials {
                Some(c) => format!(
                    "{LOGIN}: the device refused the profile's credentials (user {:?}) (error {} {}); {}",
                    c.username,
                    e.code,
                    e.name,
                    http::CHECK_CREDENTIALS
                ),
                None => format!(
                    "{LOGIN}: no credentials profile is set for this device and it refuses blank and the Tapo default credentials (error {} {}); give it a credentials profile with its account's e-mail and password (both case-sensitive)",
                    e.code, e.name
                ),
            },
        })
    }

    /// The RSA handshake: the session cipher, the cookie and the session lifetime in seconds.
    async fn handshake(
        &mut self,
    ) -> Result<(PassthroughCipher, Option<(String, String)>, u64), DeviceError> {
        let (key, pem) = key_pair().await.map_err(|detail| DeviceError::Malformed {
            op: HANDSHAKE,
            detail,
        })?;
        let body = cipher::handshake_body(pem);
        let reply = self
            .http
            .post(HANDSHAKE, "/app", &json_headers(None), body, Kind::Query)
            .await
            .map_err(|e| e.error)?;
        match reply.status {
            200 => {}
            403 => {
                return Err(DeviceError::Auth {
                    detail: format!("{HANDSHAKE}: {}", http::FORBIDDEN_HANDSHAKE),
                });
            }
            status => {
                return Err(DeviceError::Device {
                    op: HANDSHAKE,
                    code: i64::from(status),
                    msg: format!("HTTP status {status} to the handshake"),
                });
            }
        }
        let result =
            smart::parse_response(&reply.body).map_err(|e| response_error(HANDSHAKE, e))?;
        let wrapped = result
            .get("key")
            .and_then(Value::as_str)
            .and_then(|k| B64.decode(k).ok())
            .ok_or_else(|| malformed(HANDSHAKE, "the handshake result has no base64 key"))?;
        let key_and_iv = key.decrypt(Pkcs1v15Encrypt, &wrapped).map_err(|_| {
            malformed(
                HANDSHAKE,
                "the session key does not decrypt with our RSA key",
            )
        })?;
        let cipher = PassthroughCipher::from_key_and_iv(&key_and_iv)
            .map_err(|e| malformed(HANDSHAKE, &e.to_string()))?;
        let cookie = ["TP_SESSIONID", "SESSIONID"].iter().find_map(|name| {
            reply
                .cookie(name)
                .map(|v| ((*name).to_owned(), v.to_owned()))
        });
        let lifetime = reply
            .cookie("TIMEOUT")
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(http::DEFAULT_SESSION_SECS);
        Ok((cipher, cookie, lifetime))
    }

    async fn login(
        &mut self,
        cipher: &PassthroughCipher,
        cookie: Option<&(String, String)>,
        creds: &Credentials,
    ) -> Result<String, LoginError> {
        let params = LoginParams::new(self.login_version, creds);
        let inner = cipher::login_request(&params, smart::now_millis());
        let body = cipher::passthrough_body(cipher, &inner);
        let reply = self
            .http
            .post(LOGIN, "/app", &json_headers(cookie), body, Kind::Query)
            .await
            .map_err(|e| LoginError::Fail(e.error))?;
        let plain = match passthrough_reply(LOGIN, cipher, &reply) {
            Ok(p) => p,
            Err(Retry::SessionEnded(why)) => {
                return Err(LoginError::Fail(DeviceError::Device {
                    op: LOGIN,
                    code: why.code,
                    msg: format!("the device ended the session during login: {}", why.detail),
                }));
            }
            Err(Retry::Fail(e)) => return Err(LoginError::Fail(e)),
        };
        match smart::parse_response(&plain) {
            Ok(result) => result
                .get("token")
                .and_then(Value::as_str)
                .filter(|t| {
                    !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
                })
                .map(str::to_owned)
                .ok_or_else(|| {
                    LoginError::Fail(malformed(LOGIN, "the login result has no usable token"))
                }),
            Err(smart::ResponseError::Device(e)) if e.kind == SmartErrorKind::Auth => {
                Err(LoginError::Refused(e))
            }
            Err(e) => Err(LoginError::Fail(response_error(LOGIN, e))),
        }
    }
}

enum LoginError {
    /// The device refused these credentials; another may be tried.
    Refused(smart::SmartError),
    Fail(DeviceError),
}

enum Retry {
    /// The device ended the session (HTTP 403, 9999, -40401): log in again.
    SessionEnded(Ended),
    Fail(DeviceError),
}

/// How the device said the session ended: an HTTP status or a SMART error code.
struct Ended {
    code: i64,
    detail: String,
}

/// The headers of every AES POST; the session cookie is sent back explicitly.
fn json_headers(cookie: Option<&(String, String)>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json".to_owned()),
        ("requestbyapp", "true".to_owned()),
    ];
    if let Some((name, value)) = cookie {
        h.push(("cookie", format!("{name}={value}")));
    }
    h
}

/// Unwraps `{"error_code":0,"result":{"response":"<b64>"}}` into the inner JSON.
fn passthrough_reply(
    op: &'static str,
    cipher: &PassthroughCipher,
    reply: &Reply,
) -> Result<Vec<u8>, Retry> {
    match reply.status {
        200 => {}
        403 => {
            return Err(Retry::SessionEnded(Ended {
                code: 403,
                detail: "HTTP status 403".into(),
            }));
        }
        status => {
            return Err(Retry::Fail(DeviceError::Device {
                op,
                code: i64::from(status),
                msg: format!("HTTP status {status} to the passthrough"),
            }));
        }
    }
    let result = match smart::parse_response(&reply.body) {
        Ok(r) => r,
        Err(smart::ResponseError::Device(e)) if e.is_session_expired() => {
            return Err(Retry::SessionEnded(Ended {
                code: e.code,
                detail: e.to_string(),
            }));
        }
        Err(smart::ResponseError::Device(e)) => {
            return Err(Retry::Fail(crate::device::smart_error(op, e)));
        }
        Err(smart::ResponseError::Shape(s)) => return Err(Retry::Fail(malformed(op, &s))),
    };
    let response = result
        .get("response")
        .and_then(Value::as_str)
        .ok_or_else(|| Retry::Fail(malformed(op, "the passthrough result has no response")))?;
    match cipher.decrypt(response) {
        Ok(plain) => Ok(plain),
        // Some firmware answers in clear inside the passthrough; accept that if it is JSON.
        Err(_) if serde_json::from_str::<Value>(response).is_ok() => {
            Ok(response.as_bytes().to_vec())
        }
        Err(e) => Err(Retry::Fail(malformed(op, &e.to_string()))),
    }
}

fn response_error(op: &'static str, e: smart::ResponseError) -> DeviceError {
    match e {
        smart::ResponseError::Device(e) => crate::device::smart_error(op, e),
        smart::ResponseError::Shape(s) => malformed(op, &s),
    }
}

fn malformed(op: &'static str, detail: &str) -> DeviceError {
    DeviceError::Malformed {
        op,
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            cookies: vec![],
            body: bytes::Bytes::from(body.to_owned()),
        }
    }

    fn fixed() -> PassthroughCipher {
        PassthroughCipher::from_key_and_iv(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn passthrough_replies_decrypt_and_session_ends_are_told_apart() {
        let c = fixed();
        let inner = br#"{"error_code":0,"result":{"device_on":true}}"#;
        let ok = format!(
            r#"{{"error_code":0,"result":{{"response":"{}"}}}}"#,
            c.encrypt(inner)
        );
        assert_eq!(
            passthrough_reply("t", &c, &reply(200, &ok)).ok(),
            Some(inner.to_vec())
        );
        for ended in [reply(403, ""), reply(200, r#"{"error_code":9999}"#)] {
            assert!(matches!(
                passthrough_reply("t", &c, &ended),
                Err(Retry::SessionEnded(_))
            ));
        }
        assert!(matches!(
            passthrough_reply("t", &c, &reply(200, r#"{"error_code":-40404}"#)),
            Err(Retry::Fail(DeviceError::Blocked { .. }))
        ));
        assert!(matches!(
            passthrough_reply("t", &c, &reply(500, "")),
            Err(Retry::Fail(DeviceError::Device { code: 500, .. }))
        ));
    }

    #[test]
    fn a_clear_json_response_inside_the_passthrough_is_accepted() {
        let clear = r#"{"error_code":0,"result":{"response":"{\"error_code\":0}"}}"#;
        assert_eq!(
            passthrough_reply("t", &fixed(), &reply(200, clear)).ok(),
            Some(br#"{"error_code":0}"#.to_vec())
        );
    }

    #[tokio::test]
    async fn the_process_key_makes_a_314_byte_handshake_and_unwraps_what_is_sealed_to_it() {
        let (key, pem) = key_pair().await.unwrap();
        assert_eq!(cipher::handshake_body(pem).len(), 314);
        let sealed = key
            .to_public_key()
            .encrypt(&mut rand::rngs::OsRng, Pkcs1v15Encrypt, &[7u8; 32])
            .unwrap();
        assert_eq!(key.decrypt(Pkcs1v15Encrypt, &sealed).unwrap(), [7u8; 32]);
        // Generated once per process.
        assert!(std::ptr::eq(key, &key_pair().await.unwrap().0));
    }

    /// A tiny AES device on the shared test responder; `inner` answers the SMART requests
    /// (an echo of the method when unset).
    pub(crate) mod device {
        use super::super::cipher::{LoginParams, LoginVersion, PassthroughCipher};
        use crate::credentials::Credentials;
        use crate::protocol::http::tests::responder::{self, Req, Resp};
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD as B64;
        use rsa::pkcs8::DecodePublicKey;
        use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
        use serde_json::{Value, json};
        use std::sync::{Arc, Mutex};

        #[derive(Default)]
        pub struct State {
            /// The logins the device accepts.
            pub accepts: Vec<Credentials>,
            /// An error code to answer every refused login with (default -1501).
            pub refuse_with: Option<i64>,
            pub expire_once: bool,
            pub handshake_lengths: Vec<usize>,
            pub logins: usize,
            pub requests: Vec<String>,
            pub inner: Option<Inner>,
        }

        /// Answers one SMART request (the decrypted inner JSON) with its response.
        pub type Inner = Box<dyn Fn(&Value) -> Value + Send>;

        pub async fn spawn(state: State) -> (std::net::SocketAddr, Arc<Mutex<State>>) {
            let state = Arc::new(Mutex::new(state));
            let shared = state.clone();
            let addr = responder::spawn(move |req| Some(answer(&shared, req))).await;
            (addr, state)
        }

        fn cipher() -> PassthroughCipher {
            PassthroughCipher::from_key_and_iv(&(0u8..32).collect::<Vec<_>>()).unwrap()
        }

        fn ok(v: Value) -> Resp {
            Resp {
                status: 200,
                headers: vec!["set-cookie: TP_SESSIONID=A1".into()],
                body: v.to_string().into_bytes(),
            }
        }

        fn sealed(inner: Value) -> Resp {
            ok(
                json!({"error_code":0,"result":{"response":cipher().encrypt(inner.to_string().as_bytes())}}),
            )
        }

        fn answer(state: &Mutex<State>, req: Req) -> Resp {
            let mut s = state.lock().unwrap();
            let outer: Value = serde_json::from_slice(&req.body).unwrap();
            if outer["method"] == "handshake" {
                s.handshake_lengths.push(req.body.len());
                let pem = outer["params"]["key"].as_str().unwrap();
                let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
                let key = RsaPublicKey::from_public_key_der(&B64.decode(b64).unwrap()).unwrap();
                let wrapped = key
                    .encrypt(
                        &mut rand::rngs::OsRng,
                        Pkcs1v15Encrypt,
                        &(0u8..32).collect::<Vec<_>>(),
                    )
                    .unwrap();
                return ok(json!({"error_code":0,"result":{"key":B64.encode(wrapped)}}));
            }
            assert!(req.head.contains("cookie: tp_sessionid=a1"), "{}", req.head);
            assert!(req.head.contains("requestbyapp: true"), "{}", req.head);
            let inner = cipher()
                .decrypt(outer["params"]["request"].as_str().unwrap())
                .unwrap();
            let inner: Value = serde_json::from_slice(&inner).unwrap();
            if inner["method"] == "login_device" {
                s.logins += 1;
                let accepted = s.accepts.iter().any(|c| {
                    serde_json::to_value(LoginParams::new(LoginVersion::V2, c)).unwrap()
                        == inner["params"]
                });
                return if accepted {
                    sealed(json!({"error_code":0,"result":{"token":"T0K3N"}}))
                } else {
                    sealed(json!({"error_code": s.refuse_with.unwrap_or(-1501)}))
                };
            }
            assert!(req.path.ends_with("?token=t0k3n"), "{}", req.path);
            if std::mem::take(&mut s.expire_once) {
                return ok(json!({"error_code":9999}));
            }
            s.requests
                .push(inner["method"].as_str().unwrap_or("").to_owned());
            match &s.inner {
                Some(f) => sealed(f(&inner)),
                None => sealed(json!({"error_code":0,"result":{"echo":inner["method"]}})),
            }
        }
    }

    fn quick() -> Timeouts {
        Timeouts {
            connect: std::time::Duration::from_secs(2),
            request: std::time::Duration::from_secs(5),
        }
    }

    fn owner() -> Credentials {
        Credentials::new("owner@example.com", "pw-owner")
    }

    const GET: &[u8] = br#"{"method":"get_device_info"}"#;

    #[tokio::test]
    async fn a_request_goes_through_handshake_login_and_passthrough() {
        let (addr, state) = device::spawn(device::State {
            accepts: vec![owner()],
            ..Default::default()
        })
        .await;
        let mut c = AesClient::new(addr, Some(owner()), quick());
        let reply = c.request(GET).await.unwrap();
        assert_eq!(
            reply,
            br#"{"error_code":0,"result":{"echo":"get_device_info"}}"#
        );
        c.request(GET).await.unwrap();
        let s = state.lock().unwrap();
        assert_eq!(s.handshake_lengths, [314]);
        assert_eq!(s.logins, 1);
        assert_eq!(s.requests, ["get_device_info", "get_device_info"]);
    }

    #[tokio::test]
    async fn without_a_profile_a_refused_blank_login_falls_back_to_the_tapo_default() {
        let (addr, state) = device::spawn(device::State {
            accepts: vec![Credentials::new(TAPO_DEFAULT.0, TAPO_DEFAULT.1)],
            ..Default::default()
        })
        .await;
        let mut c = AesClient::new(addr, None, quick());
        c.request(GET).await.unwrap();
        let s = state.lock().unwrap();
        assert_eq!((s.handshake_lengths.len(), s.logins), (2, 2));
    }

    #[tokio::test]
    async fn a_refused_profile_costs_the_device_one_failed_login_only() {
        let (addr, state) = device::spawn(device::State::default()).await;
        let err = AesClient::new(addr, Some(owner()), quick())
            .request(GET)
            .await
            .unwrap_err();
        assert!(matches!(err, DeviceError::Auth { .. }), "{err}");
        let shown = err.to_string();
        assert!(
            shown.contains("case-sensitive") && !shown.contains("pw-owner"),
            "{shown}"
        );
        assert_eq!(state.lock().unwrap().logins, 1);
    }

    #[tokio::test]
    async fn a_locked_device_is_blocked_and_gets_no_second_login() {
        let (addr, state) = device::spawn(device::State {
            refuse_with: Some(-40404),
            ..Default::default()
        })
        .await;
        let err = AesClient::new(addr, Some(owner()), quick())
            .request(GET)
            .await
            .unwrap_err();
        assert!(matches!(err, DeviceError::Blocked { .. }), "{err}");
        assert!(
            err.to_string().contains("wait before trying again"),
            "{err}"
        );
        assert_eq!(state.lock().unwrap().logins, 1);
    }

    #[tokio::test]
    async fn an_expired_session_is_renewed_once_and_the_request_repeated() {
        let (addr, state) = device::spawn(device::State {
            accepts: vec![owner()],
            expire_once: true,
            ..Default::default()
        })
        .await;
        let mut c = AesClient::new(addr, Some(owner()), quick());
        let sent = c.command("device_reset", GET).await.unwrap();
        assert!(matches!(sent, Sent::Reply(_)), "{sent:?}");
        let s = state.lock().unwrap();
        assert_eq!((s.logins, s.requests.len()), (2, 1));
    }
}
