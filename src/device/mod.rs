//! The device client: what a job asks of one device, over the device's own protocol.
//!
//! [`DeviceClient`] is a closed enum over the protocols, with the same operations for all:
//! [`info`](DeviceClient::info), [`reboot`](DeviceClient::reboot),
//! [`factory_reset`](DeviceClient::factory_reset) and [`set_relay`](DeviceClient::set_relay).
//! It is built from a [`Link`]: where the device is, which [`ProtocolKind`] it speaks, and the
//! credentials it may need. Cameras and doorbells ([`TapoCameraClient`] over SslAes,
//! [`KasaCameraClient`] over LINKIE2) read info and reboot; a factory reset is unsupported. Errors are typed by what the caller must do about them, not by
//! where they happened.

mod ack;
mod camera;
mod client;
mod error;
mod info;
mod iot;
mod link;
mod smart;

pub use ack::{Ack, COMMAND_DELAY_SECS};
pub use camera::{AUTH_ENCODING_FIELD, KasaCameraClient, NO_LOCAL_RESET, TapoCameraClient};
pub use client::DeviceClient;
pub(crate) use error::smart_error;
pub use error::{Asked, DeviceError};
pub use info::{ChildInfo, DeviceInfo, SIM_TIME_SCALE_FIELD, sim_time_scale};
pub use iot::IotClient;
pub use link::{Link, ProtocolKind};
pub use smart::{SmartClient, SmartTransport};
