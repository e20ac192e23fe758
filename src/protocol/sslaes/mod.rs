//! SslAes: Tapo cameras, doorbells and the H200 hub (python-kasa's `SslAesTransport`).
//!
//! - `cipher`: the login hashes, session keys and request tag; pure, with known answers.
//! - `messages`: the login requests and the SmartCam `multipleRequest` calls.
//! - `session`: the client, over HTTPS.

pub mod cipher;
pub mod messages;
pub mod session;

pub use session::{DEFAULT_PORT, SslAesClient};
