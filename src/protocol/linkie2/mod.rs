//! LINKIE2: Kasa cameras (KC/EC series) and the KD110 doorbell (python-kasa's
//! `LinkieTransportV2`): IOT JSON, XOR-autokeyed and base64'd into a form body, `POST
//! https://<ip>:10443/data/LINKIE2.json` over TLS 1.2 with static-RSA suites.
//!
//! - `codec`: the body codec, pure, with python-kasa's vector.
//! - `auth`: the Basic-auth encodings, in the order they are tried.
//! - `transport`: the client.

pub mod auth;
pub mod codec;
pub mod transport;

pub use transport::{DEFAULT_PORT, Linkie2Client};
