//! The LINKIE2 client for one Kasa camera: each request one form POST to
//! `/data/LINKIE2.json`, authorised with the first Basic-auth [`Encoding`] the camera accepts.
//!
//! There is no session. The encodings are tried in [`Encoding::ORDER`], one request each,
//! until the camera accepts one (any answer but 401/403); that one is kept for the client's
//! life and logged. If it accepts none, the refusal is remembered and nothing more is sent.
//! A refused request did not act, so trying the next encoding is safe even for a reboot.

use std::net::SocketAddr;

use super::auth::Encoding;
use super::codec;
use crate::credentials::Credentials;
use crate::device::DeviceError;
use crate::protocol::http::{self, HttpConn, Sent};
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::klap::session::Kind;

/// The HTTPS port Kasa cameras serve LINKIE2 on (unless discovery names another).
pub const DEFAULT_PORT: u16 = 10443;

/// Where every request goes.
pub const PATH: &str = "/data/LINKIE2.json";

/// A LINKIE2 client for one camera.
pub struct Linkie2Client {
    addr: SocketAddr,
    credentials: Option<Credentials>,
    http: HttpConn,
    matched: Option<Encoding>,
    refused: Option<DeviceError>,
}

impl std::fmt::Debug for Linkie2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linkie2Client")
            .field("addr", &self.addr)
            .field("profile", &self.credentials.is_some())
            .field("matched", &self.matched)
            .finish_non_exhaustive()
    }
}

impl Linkie2Client {
    pub fn new(addr: SocketAddr, credentials: Option<Credentials>, timeouts: Timeouts) -> Self {
        Linkie2Client {
            addr,
            credentials,
            http: HttpConn::over_tls(addr, timeouts),
            matched: None,
            refused: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The encoding the camera accepted, once one has.
    pub fn matched(&self) -> Option<Encoding> {
        self.matched
    }

    /// Sends one IOT JSON request and returns the camera's JSON reply.
    pub async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.exchange(op, json, Kind::Query).await?.into_reply(op)
    }

    /// Sends a disruptive command; see [`Sent`].
    pub async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        self.exchange(op, json, Kind::Disruptive).await
    }

    async fn exchange(
        &mut self,
        op: &'static str,
        json: &[u8],
        kind: Kind,
    ) -> Result<Sent, DeviceError> {
        if let Some(e) = &self.refused {
            return Err(e.clone());
        }
        let body = codec::encode_request(json).into_bytes();
        let candidates: Vec<Encoding> = match self.matched {
            Some(e) => vec![e],
            None => Encoding::candidates(self.credentials.is_some()).to_vec(),
        };
        let mut last_status = 0;
        for enc in candidates {
            let Some(auth) = enc.header(self.credentials.as_ref()) else {
                continue;
            };
            let headers = [
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("authorization", auth),
                // One TS client says cameras drop requests without the app's user agent.
                ("user-agent", "Kasa_Android".to_owned()),
            ];
            let reply = match self.http.post(op, PATH, &headers, body.clone(), kind).await {
                Ok(r) => r,
                Err(e) => return e.into_sent(kind),
            };
            match reply.status {
                401 | 403 => {
                    tracing::debug!(addr = %self.addr, tried = enc.as_str(), status = reply.status, "linkie2 auth refused");
                    last_status = reply.status;
                    continue;
                }
                200 => {}
                status => {
                    return Err(DeviceError::Device {
                        op,
                        code: i64::from(status),
                        msg: format!("HTTP status {status} to the request"),
                    });
                }
            }
            if self.matched.is_none() {
                tracing::info!(addr = %self.addr, matched = enc.as_str(), "linkie2 auth accepted");
                self.matched = Some(enc);
            }
            let plain = codec::decode_reply(&reply.body).map_err(|e| DeviceError::Malformed {
                op,
                detail: e.to_string(),
            })?;
            return Ok(Sent::Reply(plain));
        }
        let tried: Vec<&str> = Encoding::candidates(self.credentials.is_some())
            .iter()
            .map(|e| e.as_str())
            .collect();
        let e = DeviceError::Auth {
            detail: format!(
                "linkie2: the camera refused every credential encoding tried ({}; last HTTP {last_status}); {}",
                tried.join(", "),
                match &self.credentials {
                    Some(_) => http::CHECK_CREDENTIALS,
                    None =>
                        "no credentials profile is set for this camera and it refuses the Kasa camera default; give it a profile with its Kasa account",
                }
            ),
        };
        self.refused = Some(e.clone());
        Err(e)
    }
}
