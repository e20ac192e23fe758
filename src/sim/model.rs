//! One simulated device as its server sees it: the JSON dialect it answers in (IOT or SMART),
//! the transport it speaks, its account and its sessions. Pure: a request and the current
//! time go in, a reply and maybe an effect come out; the server owns the sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use rand::RngCore;
use rsa::rand_core::CryptoRngCore;
use serde_json::{Value, json};

use crate::protocol::klap::cipher::{self, SEED_LEN, Version};

use super::account::{Account, Login};
use super::aes::{self, AesCipher, AesSessions};
use super::camera::{CamHttpRequest, CameraKind, CameraState};
use super::fault::{Announced, Faults};
use super::klap::{self, KlapSessions, Refusal};
use super::smart::{SmartState, code};
use super::state::{DeviceState, Effect};

/// How a simulated device is reached: the closed set of wire protocols it may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Legacy IOT JSON in XOR frames on TCP 9999 (or the row's port), with UDP discovery on
    /// the same port.
    Xor,
    /// IOT JSON over KLAP v1 on HTTP, like the HS100 hardware 4.1; discovery on UDP 20002.
    KlapV1,
    /// KLAP v2 on HTTP, carrying SMART JSON (Tapo, current Kasa) or, for a row whose protocol
    /// is `iot-klap-v2`, IOT JSON; discovery on UDP 20002 and 20004.
    KlapV2,
    /// SMART JSON over AES `securePassthrough` on HTTP; discovery on UDP 20002 and 20004.
    Aes,
    /// Tapo cameras and doorbells: SmartCam JSON over SslAes on HTTPS 443 ([`super::camera`]).
    SslAes,
    /// Kasa cameras and the KD110: IOT JSON over LINKIE2 on HTTPS 10443, static-RSA TLS 1.2.
    Linkie2,
    /// SMART JSON over TPAP (SPAKE2+ login, AES-128-CCM) on HTTP: Tapo plugs and strips on
    /// 1.4.x firmware ([`tpap`]); discovery on UDP 20002 and 20004 with the `tpap` object.
    Tpap,
}

impl Transport {
    /// The port a row without one is served on: what real devices use.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Xor => crate::protocol::iot::DEFAULT_PORT,
            Transport::SslAes => crate::protocol::sslaes::DEFAULT_PORT,
            Transport::Linkie2 => crate::protocol::linkie2::DEFAULT_PORT,
            Transport::KlapV1 | Transport::KlapV2 | Transport::Aes | Transport::Tpap => 80,
        }
    }

    pub fn is_http(self) -> bool {
        self != Transport::Xor
    }

    /// Answers discovery on UDP 20002 and 20004 (else on the legacy UDP 9999, or its port).
    pub fn answers_new_discovery(self) -> bool {
        self.is_http() && self != Transport::Linkie2
    }

    /// HTTPS, served by [`super::camera::serve`].
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::SslAes | Transport::Linkie2)
    }

    /// For the listing: `tcp+udp`, `klap v2`, …
    pub fn describe(self) -> &'static str {
        match self {
            Transport::Xor => "tcp+udp",
            Transport::KlapV1 => "klap v1",
            Transport::KlapV2 => "klap v2",
            Transport::Aes => "aes",
            Transport::SslAes => "sslaes (https)",
            Transport::Linkie2 => "linkie2 (https, static-rsa tls 1.2)",
            Transport::Tpap => "tpap",
        }
    }
}

mod discovery;
mod http;
mod tpap;

pub use http::{HttpReply, HttpRequest, SESSION_COOKIE, stok_of};

/// The JSON a device answers in. The larger states are boxed so that a fleet of plugs pays
/// for a plug's state only.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "plugs are most of a fleet: their state inline saves an allocation each"
)]
pub enum Model {
    Iot(DeviceState),
    Smart(Box<SmartState>),
    /// A camera or doorbell, which keeps its own sessions ([`super::camera`]).
    Camera(Box<CameraState>),
}

#[derive(Debug)]
enum Sessions {
    None,
    Klap(KlapSessions),
    Aes(AesSessions),
    Tpap(super::tpap::TpapSessions),
}

/// How long AES answers that a locked device stays locked. The simulator keeps it locked
/// until it restarts; the figure is the half hour real firmware reports.
pub const LOCKOUT_SECS_LEFT: u64 = 1800;

/// Everything about one device that its server locks to answer a request.
#[derive(Debug)]
pub struct SimState {
    /// Times the device has booted since the simulator started (for tests and logs).
    pub boots: u32,
    pub model: Model,
    transport: Transport,
    account: Account,
    sessions: Sessions,
    /// Real seconds per device second.
    scale: f64,
    /// Where the device listens; discovery reports it.
    addr: SocketAddr,
}

impl SimState {
    pub fn new(
        model: Model,
        transport: Transport,
        account: Account,
        scale: f64,
        addr: SocketAddr,
    ) -> SimState {
        let sessions = match transport {
            Transport::Xor | Transport::SslAes | Transport::Linkie2 => Sessions::None,
            Transport::KlapV1 => Sessions::Klap(KlapSessions::new(Version::V1)),
            Transport::KlapV2 => Sessions::Klap(KlapSessions::new(Version::V2)),
            Transport::Aes => Sessions::Aes(AesSessions::default()),
            Transport::Tpap => Sessions::Tpap(super::tpap::TpapSessions::default()),
        };
        SimState {
            boots: 0,
            model,
            transport,
            account,
            sessions,
            scale,
            addr,
        }
    }

    pub fn faults(&self) -> &Faults {
        match &self.model {
            Model::Iot(d) => d.faults(),
            Model::Smart(d) => d.faults(),
            Model::Camera(d) => d.faults(),
        }
    }

    pub fn is_bound(&self) -> bool {
        match &self.model {
            Model::Iot(d) => d.is_bound(),
            Model::Smart(d) => d.is_bound(),
            Model::Camera(d) => d.is_bound(),
        }
    }

    /// Failed logins since the simulator started.
    pub fn failed_logins(&self) -> u32 {
        self.account.failed_logins()
    }

    /// The device came back from a reboot; its sessions died with the old boot.
    pub fn booted(&mut self, now: Instant) {
        self.boots += 1;
        match &mut self.model {
            Model::Iot(d) => d.booted(now),
            Model::Smart(d) => d.booted(now),
            Model::Camera(d) => d.booted(now),
        }
        match &mut self.sessions {
            Sessions::None => {}
            Sessions::Klap(s) => s.clear(),
            Sessions::Aes(s) => s.clear(),
            Sessions::Tpap(s) => s.clear(),
        }
    }

    /// Switches output `index` on at start: a device the inventory says it powers starts with
    /// power, whatever the capture's relay state was.
    pub fn start_powering(&mut self, index: usize, now: Instant) {
        match &mut self.model {
            Model::Iot(d) => d.start_powering(index, now),
            Model::Smart(d) => d.start_powering(index, now),
            Model::Camera(_) => {}
        }
    }

    /// What the device powers now: its relay, or each outlet's ([`super::power`]). A camera
    /// powers nothing.
    pub fn outputs(&self) -> Vec<bool> {
        match &self.model {
            Model::Iot(d) => d.outputs(),
            Model::Smart(d) => d.outputs(),
            Model::Camera(_) => Vec::new(),
        }
    }

    /// Answers one decoded JSON request in the device's dialect.
    pub fn handle_json(&mut self, request: &Value, now: Instant) -> (Value, Option<Effect>) {
        match &mut self.model {
            Model::Iot(d) => d.handle(request, now),
            Model::Smart(d) => d.handle(request, now),
            // Cameras take commands over HTTPS only ([`SimState::camera_http`]); a Kasa
            // camera answers the legacy discovery probe.
            Model::Camera(c) => (c.legacy_discovery(request), None),
        }
    }

    /// Answers one HTTPS request of a camera's transport.
    pub fn camera_http(
        &mut self,
        req: &CamHttpRequest<'_>,
        now: Instant,
        rng: &mut impl RngCore,
    ) -> (HttpReply, Option<Effect>) {
        match &mut self.model {
            Model::Camera(c) => match c.profile.kind {
                CameraKind::Tapo => c.tapo_http(&mut self.account, req, now, rng),
                CameraKind::Kasa => c.kasa_http(&mut self.account, req),
            },
            _ => (HttpReply::status(404), None),
        }
    }

    /// Answers raw JSON bytes: what KLAP and AES carry.
    fn handle_bytes(&mut self, plain: &[u8], now: Instant) -> (Vec<u8>, Option<Effect>) {
        match serde_json::from_slice::<Value>(plain) {
            Ok(request) => {
                let (reply, effect) = self.handle_json(&request, now);
                (to_json(&reply), effect)
            }
            Err(_) => match &self.model {
                Model::Iot(d) => {
                    let mut refusal = json!({"err_code": -1, "err_msg": "module not support"});
                    d.faults().reword_iot_refusals(&mut refusal);
                    (to_json(&refusal), None)
                }
                Model::Smart(_) | Model::Camera(_) => (
                    to_json(&json!({"error_code": code::JSON_DECODE_FAIL})),
                    None,
                ),
            },
        }
    }

    /// The session lifetime in device seconds and in real time.
    fn lifetime(&self) -> (u64, Duration) {
        let secs = klap::SESSION_TIMEOUT_SECS;
        (secs, Duration::from_secs(secs).mul_f64(self.scale))
    }

    /// Answers one HTTP request in the device's transport.
    pub fn http(
        &mut self,
        req: &HttpRequest<'_>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (HttpReply, Option<Effect>) {
        match self.transport {
            Transport::KlapV1 | Transport::KlapV2 => self.klap(req, now, rng),
            Transport::Aes => self.aes(req, now, rng),
            Transport::Tpap => self.tpap(req, now, rng),
            Transport::Xor | Transport::SslAes | Transport::Linkie2 => {
                (HttpReply::status(404), None)
            }
        }
    }

    fn klap(
        &mut self,
        req: &HttpRequest<'_>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (HttpReply, Option<Effect>) {
        let (lifetime_secs, lifetime) = self.lifetime();
        let bound = self.is_bound();
        let Sessions::Klap(sessions) = &mut self.sessions else {
            return (HttpReply::status(500), None);
        };
        let version = sessions.version();
        // The auth hashes of every login the device accepts, best first.
        let hashes: Vec<Vec<u8>> = self
            .account
            .accepted(bound, Login::Klap)
            .iter()
            .map(|c| cipher::auth_hash(version, &c.username, c.password.expose()))
            .collect();
        let reply = match req.path {
            "/app/handshake1" | "/app/handshake2" if self.account.is_locked() => {
                self.account.refused();
                HttpReply::status(403)
            }
            "/app/handshake1" => {
                let mut remote = [0u8; SEED_LEN];
                rng.fill_bytes(&mut remote);
                let id = random_hex(rng, 16);
                match sessions.handshake1(req.body, remote, &hashes[0], id.clone(), now, lifetime) {
                    Ok(body) => HttpReply::bytes(body).with_session(&id, lifetime_secs),
                    Err(_) => HttpReply::status(400),
                }
            }
            "/app/handshake2" => {
                let result = match req.session {
                    Some(id) => sessions.handshake2(id, req.body, &hashes, now),
                    None => Err(Refusal::UnknownSession),
                };
                match result {
                    Ok(()) => HttpReply::bytes(Vec::new()),
                    Err(Refusal::BadHash) => {
                        self.account.failed();
                        HttpReply::status(403)
                    }
                    Err(_) => HttpReply::status(403),
                }
            }
            "/app/request" => {
                let Some(seq) = query_param(req.query, "seq").and_then(|s| s.parse::<i32>().ok())
                else {
                    return (HttpReply::status(400), None);
                };
                let opened = match req.session {
                    Some(id) => sessions.open(id, seq, req.body, now),
                    None => Err(Refusal::UnknownSession),
                };
                match opened {
                    Ok((session, plain)) => {
                        let (reply, effect) = self.handle_bytes(&plain, now);
                        return (HttpReply::bytes(session.seal(seq, &reply)), effect);
                    }
                    // 403 makes python-kasa handshake again.
                    Err(Refusal::UnknownSession) => HttpReply::status(403),
                    Err(_) => HttpReply::status(400),
                }
            }
            // TPAP's discover probe (or any login on `/`): pre-TPAP firmware's answer, or that
            // of firmware that announces TPAP and prefers KLAP.
            "/" if self.faults().announce == Some(Announced::Tpap) => HttpReply::json(&json!({
                "error_code": 0,
                "result": {"sub_method": "discover", "tpap_preferred": false},
            })),
            "/" => error_reply(crate::protocol::tpap::messages::code::NOT_TPAP),
            _ => HttpReply::status(404),
        };
        (reply, None)
    }

    fn aes(
        &mut self,
        req: &HttpRequest<'_>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (HttpReply, Option<Effect>) {
        if req.path != "/app" {
            return (HttpReply::status(404), None);
        }
        let Ok(outer) = serde_json::from_slice::<Value>(req.body) else {
            return (error_reply(code::JSON_DECODE_FAIL), None);
        };
        let (lifetime_secs, lifetime) = self.lifetime();
        let bound = self.is_bound();
        let Sessions::Aes(sessions) = &mut self.sessions else {
            return (HttpReply::status(500), None);
        };
        match outer["method"].as_str() {
            Some("handshake") => {
                let mut key_and_iv = [0u8; 32];
                rng.fill_bytes(&mut key_and_iv);
                let wrapped = outer["params"]["key"]
                    .as_str()
                    .and_then(|pem| aes::wrap_key(pem, &key_and_iv, rng));
                let Some(wrapped) = wrapped else {
                    return (error_reply(code::INVALID_PUBLIC_KEY), None);
                };
                let id = random_hex(rng, 16);
                sessions.open(id.clone(), AesCipher::new(key_and_iv), now, lifetime);
                let reply = HttpReply::json(&json!({"error_code": 0, "result": {"key": wrapped}}));
                (reply.with_session(&id, lifetime_secs), None)
            }
            Some("securePassthrough") => {
                let Some((id, cipher)) = req
                    .session
                    .and_then(|id| Some((id, sessions.cipher(id, now)?)))
                else {
                    return (error_reply(code::SESSION_TIMEOUT), None);
                };
                let Some(plain) = outer["params"]["request"]
                    .as_str()
                    .and_then(|r| cipher.decrypt(r))
                else {
                    return (error_reply(code::AES_DECODE_FAIL), None);
                };
                let inner = serde_json::from_slice::<Value>(&plain).ok();
                let (reply, effect) = match inner {
                    Some(inner) if inner["method"] == "login_device" => {
                        let answer = if self.account.is_locked() {
                            self.account.refused();
                            json!({"error_code": code::DEVICE_BLOCKED,
                                   "result": {"failed_attempts": self.account.failed_logins(),
                                              "sec_left": LOCKOUT_SECS_LEFT}})
                        } else if self
                            .account
                            .accepted(bound, Login::Aes)
                            .iter()
                            .any(|c| aes::login_matches(&inner["params"], c))
                        {
                            let token = random_hex(rng, 16);
                            sessions.logged_in(id, token.clone());
                            json!({"error_code": 0, "result": {"token": token}})
                        } else {
                            // The client has to handshake again before its next try.
                            sessions.forget(id);
                            self.account.failed();
                            json!({ "error_code": code::LOGIN_ERROR })
                        };
                        (to_json(&answer), None)
                    }
                    _ if sessions.authorised(id, query_param(req.query, "token")) => {
                        self.handle_bytes(&plain, now)
                    }
                    // Not logged in on this session (or after a failed login): the client
                    // has to start over.
                    _ => return (error_reply(code::SESSION_TIMEOUT), None),
                };
                let outer =
                    json!({"error_code": 0, "result": {"response": cipher.encrypt(&reply)}});
                (HttpReply::json(&outer), effect)
            }
            _ => (error_reply(code::UNKNOWN_METHOD), None),
        }
    }
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

fn error_reply(code: i64) -> HttpReply {
    HttpReply::json(&json!({ "error_code": code }))
}

/// Upper-case hex of `bytes` random bytes: session ids and tokens.
fn random_hex(rng: &mut impl RngCore, bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

pub(crate) fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The value of `name` in a query string (`seq=-5`, `token=AB12`). No percent-decoding:
/// neither carries anything that needs it.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests;
