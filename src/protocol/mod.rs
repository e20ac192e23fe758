//! Device wire protocols, one submodule per protocol. Codecs and ciphers are pure; transports
//! own the sockets. [`tls`] is the TLS the camera transports ([`sslaes`], [`linkie2`]) share.

pub mod aes;
pub mod discovery;
pub mod http;
pub mod iot;
pub mod klap;
pub mod linkie2;
pub mod session;
pub mod smart;
pub mod sslaes;
pub mod tls;
pub mod tpap;
