//! One TCP connection to an IOT device: framed requests, one at a time, with timeouts.
//!
//! The transport knows nothing about what a request means. It reports whether the request had
//! been written in full when something went wrong, because for a reboot or a reset "written,
//! then the connection dropped" means the command most likely arrived.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::codec::{self, DecodeError, HEADER_LEN};

/// Timeouts for one device connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// One request: writing it and reading the whole reply.
    pub request: Duration,
}

/// python-kasa uses 5 s for both; a device on the LAN answers in milliseconds, and 5 s covers
/// Wi-Fi retransmissions and a busy device without stalling a fleet run for long.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    request: Duration::from_secs(5),
};

impl Default for Timeouts {
    fn default() -> Self {
        DEFAULT_TIMEOUTS
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing listens, or no route: the device is not there.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("no connection to {addr} within {after:?}")]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    #[error("no whole reply within {after:?}")]
    Timeout { after: Duration },
    /// The device closed or reset the connection before a whole reply arrived.
    #[error("connection lost after {received} bytes of the reply: {cause}")]
    Disconnected { received: usize, cause: String },
    /// The reply's length prefix is beyond [`codec::MAX_FRAME_LEN`].
    #[error("reply length prefix announces {len} bytes, over the {max}-byte limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
}

/// A failed exchange, with whether the request had been written in full.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ExchangeError {
    pub written: bool,
    #[source]
    pub error: TransportError,
}

/// An open connection. Any error leaves it unusable; drop it and connect again.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    timeouts: Timeouts,
    max_frame: usize,
}

impl Connection {
    pub async fn connect(addr: SocketAddr, timeouts: Timeouts) -> Result<Self, TransportError> {
        let stream = match timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(TransportError::ConnectTimeout {
                    addr,
                    after: timeouts.connect,
                });
            }
            Ok(Err(source)) => return Err(TransportError::Connect { addr, source }),
            Ok(Ok(s)) => s,
        };
        // Small requests go out at once instead of waiting for Nagle's algorithm.
        stream.set_nodelay(true).map_err(TransportError::Io)?;
        Ok(Connection {
            stream,
            timeouts,
            max_frame: codec::MAX_FRAME_LEN,
        })
    }

    /// Whether the device has closed this connection (or sent bytes nobody asked for, which
    /// leaves it unusable too). Reads nothing that matters and never waits.
    pub fn peer_closed(&self) -> bool {
        let mut byte = [0u8; 1];
        !matches!(
            self.stream.try_read(&mut byte),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Sends one request and reads its reply, all within the request timeout.
    pub async fn exchange(&mut self, payload: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let frame = codec::encode_frame(payload);
        let limit = self.timeouts.request;
        let mut written = false;
        let result = timeout(limit, async {
            self.stream
                .write_all(&frame)
                .await
                .map_err(|e| disconnected(0, e))?;
            written = true;
            read_frame(&mut self.stream, self.max_frame).await
        })
        .await;
        match result {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => Err(ExchangeError { written, error }),
            Err(_) => Err(ExchangeError {
                written,
                error: TransportError::Timeout { after: limit },
            }),
        }
    }
}

fn disconnected(received: usize, e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => TransportError::Disconnected {
            received,
            cause: e.to_string(),
        },
        _ => TransportError::Io(e),
    }
}

/// Reads exactly one frame, refusing an oversized length before reading the body. Never reads
/// past the frame, so the next frame stays in the stream. The simulator uses it too.
pub async fn read_frame<R: AsyncRead + Unpin>(
    stream: &mut R,
    max: usize,
) -> Result<Vec<u8>, TransportError> {
    // Read straight into the frame's buffer: a stack chunk here would sit in the state of
    // every future that awaits a reply, thousands of them in a large run.
    let mut buf = Vec::with_capacity(1024);
    loop {
        match codec::decode_frame(&buf, max) {
            Ok((plain, _used)) => return Ok(plain),
            Err(DecodeError::TooLarge { len, max }) => {
                return Err(TransportError::FrameTooLarge { len, max });
            }
            Err(DecodeError::Incomplete { needed }) => {
                buf.reserve(needed);
                let n = (&mut *stream)
                    .take(needed as u64)
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| disconnected(buf.len(), e))?;
                if n == 0 {
                    return Err(TransportError::Disconnected {
                        received: buf.len(),
                        cause: if buf.len() < HEADER_LEN {
                            "closed by the device".into()
                        } else {
                            "closed by the device mid-reply".into()
                        },
                    });
                }
            }
        }
    }
}
