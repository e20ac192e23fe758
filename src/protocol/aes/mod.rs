//! The AES `securePassthrough` transport of older Tapo and Kasa SMART firmware
//! (`encrypt_type: "AES"`): an RSA handshake hands us an AES session key, a `login_device`
//! returns a token, and every SMART request then travels AES-encrypted inside a
//! `securePassthrough` request on `/app?token=…`.
//!
//! - [`cipher`]: the session cipher, login parameters and message bodies; pure, with known
//!   answers.
//! - [`session`]: the client for one device: handshake, login, passthrough, session expiry.

pub mod cipher;
pub mod session;
