//! KLAP, the transport of current Kasa and Tapo firmware: an HTTP handshake that proves both
//! sides know the account's credential hash, then AES-128-CBC requests with signed sequence
//! numbers on `/app/request`.
//!
//! - [`cipher`]: hashes, key derivation, encryption and signatures; pure, with known answers.

pub mod cipher;
