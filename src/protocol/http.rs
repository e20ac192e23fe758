//! HTTP/1.1 POSTs to one device, for KLAP, the AES transport and (over TLS, [`super::tls`])
//! the camera transports: one connection kept alive between requests, a fresh one for each
//! disruptive command, cookies read by hand.
//!
//! Cookies are not kept in a jar: the device's `TIMEOUT` cookie must not be sent back (the
//! devices dislike it), so the session cookie is sent explicitly on each request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::device::DeviceError;
use crate::protocol::iot::transport::Timeouts;
use crate::protocol::klap::session::Kind;

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

impl Sent {
    /// A query's reply. Queries are never reported as sent-without-answer; if one were, it
    /// lost its connection.
    pub fn into_reply(self, op: &'static str) -> Result<Vec<u8>, DeviceError> {
        match self {
            Sent::Reply(reply) => Ok(reply),
            Sent::NoReply { detail } => Err(DeviceError::ConnectionLost { op, detail }),
        }
    }
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

impl HttpError {
    /// What the failure means for a request of `kind`: a disruptive command written in full
    /// before the connection dropped or went silent is `Sent::NoReply`, not an error (the
    /// device most likely acted); anything else is the error.
    pub fn into_sent(self, kind: Kind) -> Result<Sent, DeviceError> {
        if kind == Kind::Disruptive && self.written && self.error.is_silence() {
            Ok(Sent::NoReply {
                detail: self.error.to_string(),
            })
        } else {
            Err(self.error)
        }
    }
}

/// The connection to one device.
pub struct HttpConn {
    addr: SocketAddr,
    timeouts: Timeouts,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// HTTPS (the camera transports) rather than plain HTTP.
    tls: bool,
}

impl HttpConn {
    pub fn new(addr: SocketAddr, timeouts: Timeouts) -> HttpConn {
        HttpConn {
            addr,
            timeouts,
            sender: None,
            tls: false,
        }
    }

    /// The same over TLS ([`super::tls`]: no certificate verification).
    pub fn over_tls(addr: SocketAddr, timeouts: Timeouts) -> HttpConn {
        HttpConn {
            tls: true,
            ..HttpConn::new(addr, timeouts)
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
        if !self.tls {
            return start(self.addr, op, TokioIo::new(stream)).await;
        }
        let tls = match timeout(after, super::tls::connect(stream)).await {
            Err(_) => return Err(DeviceError::Timeout { op, after }),
            Ok(Err(detail)) => return Err(DeviceError::ConnectionLost { op, detail }),
            Ok(Ok(s)) => s,
        };
        start(self.addr, op, TokioIo::new(tls)).await
    }
}

/// Starts HTTP/1.1 on a connected stream (plain or TLS).
async fn start<IO>(
    addr: SocketAddr,
    op: &'static str,
    io: IO,
) -> Result<SendRequest<Full<Bytes>>, DeviceError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io)
        .await
        .map_err(|e| DeviceError::ConnectionLost {
            op,
            detail: e.to_string(),
        })?;
    // The connection task ends when the device closes the connection or the sender is
    // dropped; one per client at a time.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::trace!(%addr, error = %e, "http connection ended");
        }
    });
    Ok(sender)
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

#[cfg(test)]
pub(crate) mod tests {
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
}
