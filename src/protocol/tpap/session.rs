//! A TPAP client for one device: the discover probe, the SPAKE2+ login (`pake_register`,
//! `pake_share`) and AES-128-CCM requests on `/stok=<stok>/ds`, on the shared session
//! [`Driver`].
//!
//! Devices lock TPAP logins after about 15 failures and refuse even the right password while
//! locked, so a client logs in with **one** candidate (the profile's password, or blank for a
//! device with no profile) and never again after a refusal: the driver remembers it and every
//! later call returns the same error. A refused login's error carries the counters the device
//! reported (`remainAttempts`, `failedAttempts`, `lockedMinute`), which the job records.

use std::net::SocketAddr;

use rand::RngCore;
use serde_json::Value;
use tokio::time::Instant;

use super::cipher::SessionCipher;
use super::credential::{self, Family};
use super::messages::{self, Announce, Counters, Discovered, code};
use super::spake2p::{self, Password};
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::http::{self, HttpConn, Sent};
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::klap::session::Kind;
use crate::protocol::session::{Driver, Exchanged, SessionProtocol};

const DISCOVER: &str = "tpap discover";
const REGISTER: &str = "tpap pake_register";
const SHARE: &str = "tpap pake_share";

/// A logged-in session.
struct Established {
    cipher: SessionCipher,
    stok: String,
    /// The next request's sequence number: `start_seq` first, then one more each time.
    seq: u32,
}

impl std::fmt::Debug for Established {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Established")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// A TPAP client for one device.
#[derive(Debug)]
pub struct TpapClient {
    driver: Driver<Tpap>,
}

struct Tpap {
    /// Where the device serves HTTP (the discover probe).
    addr: SocketAddr,
    family: Family,
    credentials: Option<Credentials>,
    timeouts: Timeouts,
    /// Plain HTTP to `addr`, for the probe.
    probe: HttpConn,
    /// The announcement, once read, and the connection TPAP goes on.
    tpap: Option<(Announce, HttpConn)>,
    /// What the discover probe said, once asked: whether the device speaks TPAP at all.
    discovered: Option<Probed>,
    /// The lockout counters of the device's refusal of our login, if it refused it.
    refused_with: Option<Counters>,
}

/// What the discover probe told the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probed {
    /// The device announced TPAP.
    Tpap,
    /// Pre-TPAP firmware, or firmware that announces TPAP elsewhere but prefers KLAP: the probe
    /// answered without a `tpap` object.
    NotTpap,
}

impl std::fmt::Debug for Tpap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tpap")
            .field("addr", &self.addr)
            .field("profile", &self.credentials.is_some())
            .field("announce", &self.tpap.as_ref().map(|(a, _)| a))
            .field("refused_with", &self.refused_with)
            .finish_non_exhaustive()
    }
}

impl TpapClient {
    pub fn new(
        addr: SocketAddr,
        family: Family,
        credentials: Option<Credentials>,
        timeouts: Timeouts,
    ) -> TpapClient {
        TpapClient {
            driver: Driver::new(Tpap {
                addr,
                family,
                credentials,
                timeouts,
                probe: HttpConn::new(addr, timeouts),
                tpap: None,
                discovered: None,
                refused_with: None,
            }),
        }
    }

    /// A client for a camera or doorbell on TPAP firmware at `addr` (its HTTPS port). Cameras
    /// don't answer the discover probe; they take TPAP over TLS without verification where
    /// SslAes was, with the account password (`tls` 1, `pake` [2], as a C220 announces).
    pub fn camera(
        addr: SocketAddr,
        credentials: Option<Credentials>,
        timeouts: Timeouts,
    ) -> TpapClient {
        let mut client = TpapClient::new(addr, Family::Camera, credentials, timeouts);
        let announce = Announce {
            tls: 1,
            dac: 0,
            noc: 1,
            pake: vec![messages::PAKE_USER_PASSWORD],
            port: Some(addr.port()),
        };
        let tpap = &mut client.driver.proto;
        tpap.discovered = Some(Probed::Tpap);
        tpap.tpap = Some((announce, HttpConn::over_tls(addr, timeouts)));
        client
    }

    pub fn addr(&self) -> SocketAddr {
        self.driver.proto.addr
    }

    /// See [`crate::protocol::klap::session::KlapClient::pin`].
    pub fn pin(&mut self) {
        self.driver.pin();
    }

    pub fn is_pinned(&self) -> bool {
        self.driver.is_pinned()
    }

    pub async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.driver
            .exchange(op, json, Kind::Query)
            .await?
            .into_reply(op)
    }

    pub async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        self.driver.exchange(op, json, Kind::Disruptive).await
    }

    pub fn reset_session(&mut self) {
        self.driver.reset_session();
    }

    /// What the discover probe said, if it was asked and answered.
    pub fn probed(&self) -> Option<Probed> {
        self.driver.proto.discovered
    }

    /// The counters the device sent with its refusal of our login (`-2203`, `-2101`), for the
    /// audit; `None` if it did not refuse one.
    pub fn refused_with(&self) -> Option<Counters> {
        self.driver.proto.refused_with
    }
}

/// Asks the device at `addr` (plain HTTP) whether it speaks TPAP. Sends no credentials and
/// counts as no login.
pub async fn probe(addr: SocketAddr, timeouts: Timeouts) -> Result<Discovered, DeviceError> {
    probe_on(&mut HttpConn::new(addr, timeouts)).await
}

async fn probe_on(http: &mut HttpConn) -> Result<Discovered, DeviceError> {
    let reply = post_json(http, DISCOVER, messages::discover()).await?;
    messages::parse_discover(&reply).map_err(|detail| DeviceError::Malformed {
        op: DISCOVER,
        detail,
    })
}

impl SessionProtocol for Tpap {
    type Session = Established;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &'static str {
        "tpap"
    }

    async fn establish(&mut self) -> Result<Established, DeviceError> {
        self.login().await
    }

    fn expires(_: &Established) -> Option<Instant> {
        // The devices name no lifetime; an expired session answers as ended.
        None
    }

    async fn send(
        &mut self,
        session: &mut Established,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Exchanged, DeviceError> {
        let seq = session.seq;
        session.seq = session.seq.wrapping_add(1);
        let body = session.cipher.seal(seq, json);
        let path = format!("/stok={}/ds", session.stok);
        let headers = [("content-type", "application/octet-stream".to_string())];
        let http = &mut self.tpap.as_mut().expect("logged in, so announced").1;
        let reply = match http.post(op, &path, &headers, body, kind).await {
            Ok(reply) => reply,
            Err(e) => return e.into_sent(kind).map(Exchanged::from),
        };
        match reply.status {
            200 => {}
            // The device no longer knows the session: it did not act.
            401 | 403 => {
                return Ok(Exchanged::Ended {
                    code: i64::from(reply.status),
                    why: format!("HTTP status {} to the request with seq {seq}", reply.status),
                });
            }
            status => {
                return Err(DeviceError::Device {
                    op,
                    code: i64::from(status),
                    msg: format!("HTTP status {status} to the request with seq {seq}"),
                });
            }
        }
        // A plain JSON answer with an error code: the session is not valid (any more).
        if let Ok(plain) = serde_json::from_slice::<Value>(&reply.body)
            && let Some(code) = plain["error_code"].as_i64()
            && code != 0
        {
            return Ok(Exchanged::Ended {
                code,
                why: format!(
                    "the device answered error {code} in plain text: the session is not valid"
                ),
            });
        }
        Ok(match session.cipher.open(seq, &reply.body) {
            Ok(plain) => Exchanged::Reply(plain),
            Err(e) => Exchanged::Broken(DeviceError::Malformed {
                op,
                detail: format!("tpap reply (seq {seq}): {e}"),
            }),
        })
    }
}

impl Tpap {
    async fn login(&mut self) -> Result<Established, DeviceError> {
        if self.tpap.is_none() {
            let discovered = probe_on(&mut self.probe).await?;
            self.discovered = Some(match discovered {
                Discovered::Tpap(_) | Discovered::Locked(_) => Probed::Tpap,
                Discovered::NotTpap => Probed::NotTpap,
            });
            let announce = match discovered {
                Discovered::Tpap(a) => a,
                Discovered::NotTpap => {
                    return Err(DeviceError::Unsupported {
                        detail: format!(
                            "{DISCOVER}: the device does not speak TPAP (its firmware answers the discover probe as pre-TPAP); set its protocol column to auto or klap"
                        ),
                    });
                }
                Discovered::Locked(counters) => {
                    self.refused_with = Some(counters);
                    return Err(locked(DISCOVER, &counters));
                }
            };
            if let Some(why) = announce.refusal() {
                return Err(DeviceError::Unsupported {
                    detail: format!("{DISCOVER}: {why}"),
                });
            }
            let at = SocketAddr::new(self.addr.ip(), announce.port_or_default());
            let http = if announce.tls == 1 {
                HttpConn::over_tls(at, self.timeouts)
            } else {
                HttpConn::new(at, self.timeouts)
            };
            self.tpap = Some((announce, http));
        }
        let http = &mut self.tpap.as_mut().expect("set above").1;

        let mut user_random = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut user_random);
        let reply = post_json(http, REGISTER, messages::register(&user_random)).await?;
        refused(REGISTER, &reply, &mut self.refused_with)?;
        let registered = messages::parse_register(&reply["result"]).map_err(|detail| {
            DeviceError::Malformed {
                op: REGISTER,
                detail,
            }
        })?;
        // Without a profile: blank on a plug (as a reset one has), the unbound default on a
        // camera (as its SslAes login has).
        let unbound = match self.family {
            Family::Plug => "",
            Family::Camera => crate::protocol::sslaes::session::UNBOUND_PASSWORD,
        };
        let password = self
            .credentials
            .as_ref()
            .map_or(unbound, |c| c.password.expose());
        let cred = credential::credential(password, registered.extra_crypt.as_ref(), self.family)
            .map_err(|e| DeviceError::Unsupported {
            detail: format!("{REGISTER}: {e}"),
        })?;
        let secret = Password::derive(cred.as_bytes(), &registered.dev_salt, registered.iterations);
        let context = spake2p::context(&user_random, &registered.dev_random);
        let x = spake2p::random_scalar(&mut rand::thread_rng());
        let ours = spake2p::prove(
            &secret,
            &x,
            spake2p::tpap_parties(&context),
            &registered.dev_share,
        )
        .map_err(|e| DeviceError::Malformed {
            op: REGISTER,
            detail: format!("dev_share: {e}"),
        })?;

        let reply = post_json(http, SHARE, messages::share(&ours.share, &ours.confirm)).await?;
        refused(SHARE, &reply, &mut self.refused_with)?;
        let shared = messages::parse_share(&reply["result"])
            .map_err(|detail| DeviceError::Malformed { op: SHARE, detail })?;
        if !ours.peer_confirms(&shared.dev_confirm) {
            // It took our proof but can't prove it knows the password: not the device (or
            // not a device that should be trusted with a command).
            return Err(DeviceError::Malformed {
                op: SHARE,
                detail: "the device's confirmation (dev_confirm) does not match: it does not know this account's password, or something between us altered the login".into(),
            });
        }
        tracing::debug!(addr = %self.addr, start_seq = shared.start_seq, "tpap login");
        Ok(Established {
            cipher: SessionCipher::new(&ours.shared),
            stok: shared.stok,
            seq: shared.start_seq,
        })
    }
}

/// POSTs a JSON login step and reads its JSON reply (any status the devices answer with a
/// body; a 403 without one is a refusal of the step).
async fn post_json(
    http: &mut HttpConn,
    op: &'static str,
    body: Vec<u8>,
) -> Result<Value, DeviceError> {
    let headers = [("content-type", "application/json".to_string())];
    let reply = http
        .post(op, "/", &headers, body, Kind::Query)
        .await
        .map_err(|e| e.error)?;
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(v) if v.is_object() => Ok(v),
        _ if reply.status == 403 => Err(DeviceError::Auth {
            detail: format!("{op}: {}", http::FORBIDDEN_HANDSHAKE),
        }),
        _ if reply.status != 200 => Err(DeviceError::Device {
            op,
            code: i64::from(reply.status),
            msg: format!("HTTP status {}", reply.status),
        }),
        _ => Err(DeviceError::Malformed {
            op,
            detail: "the reply is not a JSON object".into(),
        }),
    }
}

/// The error for a login step the device refused, or `Ok` when it did not. A refusal of the
/// password, or a lock, keeps its counters in `refused_with` for the audit.
fn refused(
    op: &'static str,
    reply: &Value,
    refused_with: &mut Option<Counters>,
) -> Result<(), DeviceError> {
    let code = reply["error_code"].as_i64().ok_or(DeviceError::Malformed {
        op,
        detail: "no error_code in the reply".into(),
    })?;
    let counters = Counters::of(reply);
    if matches!(
        code,
        code::LOCKED | code::CREDENTIALS | code::CAMERA_CREDENTIALS
    ) {
        *refused_with = Some(counters);
    }
    Err(match code {
        0 => return Ok(()),
        code::LOCKED => locked(op, &counters),
        code::CREDENTIALS | code::CAMERA_CREDENTIALS => DeviceError::Auth {
            detail: format!(
                "{op}: the device refused the password ({code}; {}); {} — fleetreset never retries a refused TPAP login",
                counters.describe(),
                http::CHECK_CREDENTIALS
            ),
        },
        code::CIPHER_SUITES_UNSUPPORTED => DeviceError::Unsupported {
            detail: format!("{op}: the device does not take cipher suite 1 (SPAKE2+ P-256, -2201)"),
        },
        code::PASSCODE_TYPE_UNSUPPORTED => DeviceError::Unsupported {
            detail: format!(
                "{op}: the device does not take the account password as passcode (-2202)"
            ),
        },
        code => DeviceError::Device {
            op,
            code,
            msg: "the device refused the login step".into(),
        },
    })
}

fn locked(op: &'static str, counters: &Counters) -> DeviceError {
    DeviceError::Blocked {
        detail: match counters.locked_minute {
            Some(m) => format!(
                "locked: {op}: the device refuses every TPAP login, the right one too, for {m} more minutes (-2101; {}); trying sooner keeps it locked",
                counters.describe()
            ),
            None => format!(
                "locked: {op}: the device refuses every TPAP login, the right one too (-2101; {}); trying again soon keeps it locked",
                counters.describe()
            ),
        },
    }
}
