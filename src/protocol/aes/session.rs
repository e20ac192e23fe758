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
pub(crate) mod tests;
