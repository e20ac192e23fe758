//! TPAP, the login of 2025+ Tapo and Kasa firmware (1.4.x and later): a SPAKE2+ login (RFC
//! 9383, P-256) over two JSON `login` requests, then AES-128-CCM requests with sequence
//! numbers on `/stok=<stok>/ds`. A device on such firmware refuses KLAP's handshake with HTTP
//! 403 and answers the `login`/`discover` probe with what it takes (`tls`, `pake`, `port`).
//!
//! - [`spake2p`]: both roles of SPAKE2+, pure, with the RFC's and the reference's vectors;
//! - [`cipher`]: the session key and nonce, sealing and opening bodies;
//! - [`credential`]: the password transform the device's `extra_crypt` names;
//! - [`messages`]: the JSON of each step, the error codes and the lockout counters;
//! - [`session`]: the client for one device.

pub mod cipher;
pub mod credential;
pub mod messages;
pub mod session;
pub mod spake2p;
