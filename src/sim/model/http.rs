//! One HTTP request and one reply, as much of them as a simulated KLAP or AES device deals in.

use serde_json::Value;

/// The session cookie every HTTP device sets.
pub const SESSION_COOKIE: &str = "TP_SESSIONID";

/// One HTTP request, as much of it as a device looks at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The `TP_SESSIONID` cookie's value.
    pub session: Option<&'a str>,
    pub body: &'a [u8],
}

/// The session token of a request on `/stok=<stok>/ds`, the path SslAes and TPAP sessions
/// carry their requests on; `None` for any other path.
pub fn stok_of(path: &str) -> Option<&str> {
    path.strip_prefix("/stok=")?.strip_suffix("/ds")
}

/// One HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// Each a separate `Set-Cookie` header.
    pub cookies: Vec<String>,
    /// `application/json` when set, else `application/octet-stream`.
    pub json: bool,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub(super) fn status(status: u16) -> HttpReply {
        HttpReply {
            status,
            cookies: Vec::new(),
            json: false,
            body: Vec::new(),
        }
    }

    pub(crate) fn bytes(body: Vec<u8>) -> HttpReply {
        HttpReply {
            body,
            ..HttpReply::status(200)
        }
    }

    pub(crate) fn json(value: &Value) -> HttpReply {
        HttpReply {
            json: true,
            body: super::to_json(value),
            ..HttpReply::status(200)
        }
    }

    pub(super) fn with_session(mut self, id: &str, lifetime_secs: u64) -> HttpReply {
        // Two headers: a client that reads one `Set-Cookie` as one cookie (aiohttp) would
        // take `TIMEOUT` for an attribute of the session cookie.
        self.cookies.push(format!("{SESSION_COOKIE}={id}"));
        self.cookies.push(format!("TIMEOUT={lifetime_secs}"));
        self
    }
}
