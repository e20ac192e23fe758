//! KLAP, the transport of current Kasa and Tapo firmware: an HTTP handshake that proves both
//! sides know the account's credential hash, then AES-128-CBC requests with signed sequence
//! numbers on `/app/request`.
//!
//! - [`cipher`]: hashes, key derivation, encryption and signatures; pure, with known answers.
//! - [`session`]: the client for one device: handshake with candidate credentials, session
//!   cookie and expiry, verified requests. The HTTP layer it shares with AES is
//!   [`crate::protocol::http`].

pub mod cipher;
pub mod session;
