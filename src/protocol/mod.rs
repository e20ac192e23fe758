//! Device wire protocols, one submodule per protocol. Codecs and ciphers are pure; transports
//! own the sockets.

pub mod aes;
pub mod discovery;
pub mod http;
pub mod iot;
pub mod klap;
pub mod smart;
