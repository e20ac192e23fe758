//! The legacy Kasa "IOT" protocol: JSON encrypted with the XOR autokey cipher, framed with a
//! 4-byte big-endian length on TCP 9999 (and unframed on UDP 9999 for discovery).
//!
//! - [`codec`]: the cipher and the framing, pure, both directions.
//! - [`transport`]: one TCP connection, one request at a time, with timeouts.
//! - [`messages`]: the typed requests we send and the replies we read.

pub mod codec;
pub mod messages;
pub mod transport;

/// The TCP and UDP port every IOT device listens on.
pub const DEFAULT_PORT: u16 = 9999;
