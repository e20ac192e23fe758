//! An SslAes client for one Tapo camera or doorbell: the two-step secure login on `/`, then
//! SmartCam JSON encrypted inside `securePassthrough` on `/stok=<stok>/ds`, each request
//! signed with the `Seq` and `Tapo_tag` headers. HTTPS without certificate verification
//! ([`crate::protocol::tls`]).
//!
//! Cameras lock logins for about half an hour after a few failures (-40404, with `sec_left`),
//! so a client logs in **once**: the camera's local user `admin` with the profile's password
//! (the Tapo account's; an unbound camera's default without a profile). A login that fails is
//! remembered and never tried again by this client; every later call returns the same error.
//! A session the camera ends (HTTP 401, -40401) is renewed once by a new login, which is not a
//! retry of a failed one. The loop is the shared [`crate::protocol::session::Driver`]. One
//! session per camera: a second one from the same host makes the camera answer 500, and
//! requests on it are paced [`REQUEST_GAP`] apart.

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::cipher::{self, PwdHash};
use super::messages::{self, BAD_USERNAME, DEVICE_BLOCKED, INVALID_NONCE, LOGIN_REFUSED};
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::aes::cipher::PassthroughCipher;
use crate::protocol::http::{self, HttpConn, Reply, Sent};
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::klap::session::Kind;
use crate::protocol::session::{Driver, Exchanged, SessionProtocol};
use crate::protocol::smart;

/// The HTTPS port Tapo cameras serve SslAes on.
pub const DEFAULT_PORT: u16 = 443;

/// The cameras' local user. The profile's e-mail is the cloud account, not a camera user;
/// python-kasa falls back to this name after the e-mail is refused, which costs a login.
pub const CAMERA_USER: &str = "admin";

/// The password of an unbound camera on encrypt-type-3 firmware (python-kasa's
/// `TAPOCAMERA_LV3`; kennedn/tapo-onboarding saw it after a reset).
pub const UNBOUND_PASSWORD: &str = "TPL075526460603";

/// Least time between two requests to one camera. Cameras have an error for a request
/// repeated within a second (-40109); python-kasa sends back to back and works, so this is a
/// margin, not the second itself, which would double every probe's time.
pub const REQUEST_GAP: Duration = Duration::from_millis(250);

const HANDSHAKE1: &str = "sslaes login (handshake 1)";
const HANDSHAKE2: &str = "sslaes login (handshake 2)";

/// A logged-in session.
struct Established {
    cipher: PassthroughCipher,
    stok: String,
    /// The next request's `Seq`.
    seq: i64,
    pwd_hash: String,
    cnonce: String,
}

/// An SslAes client for one camera, on the shared session [`Driver`].
#[derive(Debug)]
pub struct SslAesClient {
    driver: Driver<SslAes>,
}

/// The protocol side: the login and one passthrough request.
struct SslAes {
    addr: SocketAddr,
    credentials: Option<Credentials>,
    http: HttpConn,
    last_request: Option<Instant>,
}

impl std::fmt::Debug for SslAes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslAes")
            .field("addr", &self.addr)
            .field("profile", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl SslAesClient {
    pub fn new(addr: SocketAddr, credentials: Option<Credentials>, timeouts: Timeouts) -> Self {
        SslAesClient {
            driver: Driver::new(SslAes {
                addr,
                credentials,
                http: HttpConn::over_tls(addr, timeouts),
                last_request: None,
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.driver.proto.addr
    }

    /// From now on a disruptive command goes only on the session logged in now (the one the
    /// caller read the camera's identity on), else fails [`DeviceError::NotSent`].
    pub fn pin(&mut self) {
        self.driver.pin();
    }

    /// Sends one SmartCam request and returns the camera's JSON reply.
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
}

impl SessionProtocol for SslAes {
    type Session = Established;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &'static str {
        "sslaes"
    }

    async fn establish(&mut self) -> Result<Established, DeviceError> {
        self.log_in().await
    }

    /// Cameras send no session lifetime; one that ended answers 401 or -40401.
    fn expires(_: &Established) -> Option<Instant> {
        None
    }

    async fn send(
        &mut self,
        session: &mut Established,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Exchanged, DeviceError> {
        self.passthrough(session, op, json, kind).await
    }
}

impl SslAes {
    /// Waits out [`REQUEST_GAP`] since the last request.
    async fn pace(&mut self) {
        if let Some(last) = self.last_request {
            tokio::time::sleep_until(last + REQUEST_GAP).await;
        }
        self.last_request = Some(Instant::now());
    }

    /// One encrypted request, signed with `Seq` and `Tapo_tag`.
    async fn passthrough(
        &mut self,
        s: &mut Established,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Exchanged, DeviceError> {
        self.pace().await;
        let body = serde_json::to_string(&json!({"method": "securePassthrough",
            "params": {"request": s.cipher.encrypt(json)}}))
        .expect("a JSON value serialises");
        let seq = s.seq;
        s.seq += 1;
        let mut headers = headers(self.addr);
        headers.push(("seq", seq.to_string()));
        headers.push(("tapo_tag", cipher::tag(&s.pwd_hash, &s.cnonce, &body, seq)));
        let path = format!("/stok={}/ds", s.stok);
        let reply = match self
            .http
            .post(op, &path, &headers, body.into_bytes(), kind)
            .await
        {
            Ok(r) => r,
            Err(e) => return e.into_sent(kind).map(Exchanged::from),
        };
        match reply.status {
            200 => {}
            401 => {
                return Ok(Exchanged::Ended {
                    code: 401,
                    why: "HTTP status 401".into(),
                });
            }
            status => {
                return Err(DeviceError::Device {
                    op,
                    code: i64::from(status),
                    msg: format!(
                        "HTTP status {status} to the request (500: another session to this camera is open)"
                    ),
                });
            }
        }
        let outer: Value =
            serde_json::from_slice(&reply.body).map_err(|e| malformed(op, &e.to_string()))?;
        let code = outer.get("error_code").and_then(Value::as_i64).unwrap_or(0);
        if code == LOGIN_REFUSED || code == 9999 {
            return Ok(Exchanged::Ended {
                code,
                why: format!("error {code}"),
            });
        }
        if code != 0 {
            return Err(crate::device::smart_error(op, smart::classify(code)));
        }
        let Some(response) = outer["result"]["response"].as_str() else {
            // "Tapo Cameras respond unencrypted to single requests": the reply is the answer.
            return Ok(Exchanged::Reply(reply.body.to_vec()));
        };
        Ok(match s.cipher.decrypt(response) {
            Ok(plain) => Exchanged::Reply(plain),
            Err(e) => Exchanged::Broken(malformed(
                op,
                &format!("the response does not decrypt: {e}"),
            )),
        })
    }

    /// The two-step login. Exactly one attempt.
    async fn log_in(&mut self) -> Result<Established, DeviceError> {
        let password = match &self.credentials {
            Some(c) => c.password.expose().to_owned(),
            None => UNBOUND_PASSWORD.to_owned(),
        };
        let cnonce = random_nonce();
        self.pace().await;
        let reply = self
            .post_login(HANDSHAKE1, messages::handshake1(CAMERA_USER, &cnonce))
            .await?;
        let (code, data) = login_reply(HANDSHAKE1, &reply)?;
        if code != INVALID_NONCE || data.get("nonce").is_none() {
            return Err(self.refusal(HANDSHAKE1, code, &data));
        }
        if data["encrypt_type"]
            .as_array()
            .is_some_and(|t| !t.iter().any(|x| x == "3"))
        {
            return Err(DeviceError::Unsupported {
                detail: format!(
                    "{HANDSHAKE1}: the camera offers only the older plain-text login, which fleetreset does not speak"
                ),
            });
        }
        let nonce = data["nonce"].as_str().unwrap_or_default().to_owned();
        let confirm = data["device_confirm"].as_str().unwrap_or_default();
        let Some(pwd_hash) = PwdHash::ALL
            .iter()
            .map(|h| h.of(&password))
            .find(|h| cipher::device_confirm(&cnonce, h, &nonce) == confirm)
        else {
            // The camera proved it holds another password; nothing more is sent.
            return Err(DeviceError::Auth {
                detail: self.wrong_password(HANDSHAKE1),
            });
        };
        let digest = cipher::digest_passwd(&pwd_hash, &cnonce, &nonce);
        self.pace().await;
        let reply = self
            .post_login(
                HANDSHAKE2,
                messages::handshake2(CAMERA_USER, &cnonce, &digest),
            )
            .await?;
        let (code, data) = login_reply(HANDSHAKE2, &reply)?;
        if code != 0 {
            return Err(self.refusal(HANDSHAKE2, code, &data));
        }
        let result: Value = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .map(|v| v["result"].clone())
            .unwrap_or_default();
        let stok = result["stok"]
            .as_str()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| malformed(HANDSHAKE2, "the login result has no usable stok"))?
            .to_owned();
        let seq = result["start_seq"]
            .as_i64()
            .ok_or_else(|| malformed(HANDSHAKE2, "the login result has no start_seq"))?;
        tracing::debug!(addr = %self.addr, "camera login accepted");
        Ok(Established {
            cipher: cipher::session_cipher(&cnonce, &nonce, &pwd_hash),
            stok,
            seq,
            pwd_hash,
            cnonce,
        })
    }

    async fn post_login(&mut self, op: &'static str, body: Vec<u8>) -> Result<Reply, DeviceError> {
        let reply = self
            .http
            .post(op, "/", &headers(self.addr), body, Kind::Query)
            .await
            .map_err(|e| e.error)?;
        if reply.status != 200 {
            return Err(DeviceError::Device {
                op,
                code: i64::from(reply.status),
                msg: format!("HTTP status {} to the login", reply.status),
            });
        }
        Ok(reply)
    }

    /// The error for a refused login step: blocked (with the seconds left), unknown user,
    /// wrong password, or the code as the table names it.
    fn refusal(&self, op: &'static str, code: i64, data: &Value) -> DeviceError {
        match data.get("code").and_then(Value::as_i64) {
            Some(DEVICE_BLOCKED) => DeviceError::Blocked {
                detail: match data.get("sec_left").and_then(Value::as_u64) {
                    Some(s) => format!(
                        "{op}: the camera blocks logins for another {s} s (-40404) after failed attempts; trying sooner only extends it"
                    ),
                    None => format!(
                        "{op}: the camera blocks logins (-40404) after failed attempts; trying again soon only extends it"
                    ),
                },
            },
            Some(BAD_USERNAME) => DeviceError::Auth {
                detail: format!("{op}: the camera has no local user {CAMERA_USER:?} (-60502)"),
            },
            _ if code == INVALID_NONCE && op == HANDSHAKE2 => DeviceError::Auth {
                detail: self.wrong_password(op),
            },
            _ => crate::device::smart_error(op, smart::classify(code)),
        }
    }

    fn wrong_password(&self, op: &'static str) -> String {
        match &self.credentials {
            Some(_) => format!(
                "{op}: the camera does not accept the profile's password for its local user {CAMERA_USER:?}; {}",
                http::CHECK_CREDENTIALS
            ),
            None => format!(
                "{op}: no credentials profile is set for this camera and it is not unbound (it refuses the default password); give it a credentials profile with its Tapo account's password"
            ),
        }
    }
}

/// The outer `error_code` and the `data` object (root level for a block, else in `result`).
fn login_reply(op: &'static str, reply: &Reply) -> Result<(i64, Value), DeviceError> {
    let v: Value =
        serde_json::from_slice(&reply.body).map_err(|e| malformed(op, &e.to_string()))?;
    let code = v
        .get("error_code")
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed(op, "no error_code"))?;
    let data = v
        .get("data")
        .filter(|d| d.is_object())
        .or_else(|| v["result"].get("data"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok((code, data))
}

/// The headers every camera request carries (python-kasa's, less the gzip it can't make us
/// decode).
fn headers(addr: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json; charset=UTF-8".into()),
        ("accept", "application/json".into()),
        ("requestbyapp", "true".into()),
        ("user-agent", "Tapo CameraClient Android".into()),
        ("referer", format!("https://{addr}")),
    ]
}

/// 8 random bytes as 16 upper-case hex digits.
fn random_nonce() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn malformed(op: &'static str, detail: &str) -> DeviceError {
    DeviceError::Malformed {
        op,
        detail: detail.to_owned(),
    }
}
