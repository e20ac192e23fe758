//! [`DeviceClient`]: one client for a device, whatever its protocol.

use std::net::SocketAddr;

use super::camera::{CameraTransport, no_relay, no_reset};
use super::info::cloud_read;
use super::{
    Ack, COMMAND_DELAY_SECS, DeviceError, DeviceInfo, IotClient, KasaCameraClient, Link,
    ProtocolKind, SmartClient, SmartTransport, TapoCameraClient,
};
use crate::protocol::aes::session::AesClient;
use crate::protocol::klap::cipher::Version;
use crate::protocol::klap::session::KlapClient;
use crate::protocol::linkie2::Linkie2Client;
use crate::protocol::sslaes::SslAesClient;
use crate::protocol::tpap::credential::Family;
use crate::protocol::tpap::session::TpapClient;

/// A client for one device, whatever its protocol.
#[derive(Debug)]
pub enum DeviceClient {
    /// IOT JSON, over the XOR protocol or KLAP.
    Iot(IotClient),
    Smart(SmartClient),
    /// A Tapo camera or doorbell, over SslAes.
    TapoCamera(TapoCameraClient),
    /// A Kasa camera or the KD110, over LINKIE2.
    KasaCamera(KasaCameraClient),
}

impl DeviceClient {
    pub fn new(link: Link) -> DeviceClient {
        let Link {
            addr,
            protocol,
            credentials,
            timeouts,
        } = link;
        match protocol {
            ProtocolKind::Iot => DeviceClient::Iot(IotClient::new(addr, timeouts)),
            ProtocolKind::IotKlapV1 => DeviceClient::Iot(IotClient::over_klap(KlapClient::new(
                addr,
                Version::V1,
                credentials,
                timeouts,
            ))),
            ProtocolKind::IotKlapV2 => DeviceClient::Iot(IotClient::over_klap(KlapClient::new(
                addr,
                Version::V2,
                credentials,
                timeouts,
            ))),
            ProtocolKind::SmartKlap => DeviceClient::Smart(SmartClient::new(SmartTransport::Klap(
                KlapClient::new(addr, Version::V2, credentials, timeouts),
            ))),
            ProtocolKind::SmartAes => DeviceClient::Smart(SmartClient::new(SmartTransport::Aes(
                AesClient::new(addr, credentials, timeouts),
            ))),
            ProtocolKind::SmartTpap => DeviceClient::Smart(SmartClient::new(SmartTransport::Tpap(
                Box::new(TpapClient::new(addr, Family::Plug, credentials, timeouts)),
            ))),
            ProtocolKind::SslAes => DeviceClient::TapoCamera(TapoCameraClient::new(
                SslAesClient::new(addr, credentials, timeouts),
            )),
            ProtocolKind::CameraTpap => DeviceClient::TapoCamera(TapoCameraClient::over_tpap(
                TpapClient::camera(addr, credentials, timeouts),
            )),
            ProtocolKind::Linkie2 => DeviceClient::KasaCamera(KasaCameraClient::new(
                Linkie2Client::new(addr, credentials, timeouts),
            )),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            DeviceClient::Iot(c) => c.addr(),
            DeviceClient::Smart(c) => c.transport.addr(),
            DeviceClient::TapoCamera(c) => c.addr(),
            DeviceClient::KasaCamera(c) => c.addr(),
        }
    }

    pub fn protocol(&self) -> ProtocolKind {
        match self {
            DeviceClient::Iot(c) => c.protocol(),
            DeviceClient::Smart(c) => match c.transport {
                SmartTransport::Klap(_) => ProtocolKind::SmartKlap,
                SmartTransport::Aes(_) => ProtocolKind::SmartAes,
                SmartTransport::Tpap(_) => ProtocolKind::SmartTpap,
            },
            DeviceClient::TapoCamera(c) => match c.transport {
                CameraTransport::SslAes(_) => ProtocolKind::SslAes,
                CameraTransport::Tpap(_) => ProtocolKind::CameraTpap,
            },
            DeviceClient::KasaCamera(_) => ProtocolKind::Linkie2,
        }
    }

    /// The TPAP client underneath, for what its login learned (the discover probe's answer,
    /// the lockout counters of a refusal); `None` for other protocols.
    pub fn tpap(&self) -> Option<&TpapClient> {
        match self {
            DeviceClient::Smart(SmartClient {
                transport: SmartTransport::Tpap(c),
                ..
            })
            | DeviceClient::TapoCamera(TapoCameraClient {
                transport: CameraTransport::Tpap(c),
            }) => Some(c),
            _ => None,
        }
    }

    /// Whether the device refused KLAP's handshake 1 with HTTP 403: local KLAP is off, or its
    /// firmware moved to TPAP ([`crate::protocol::tpap::session::probe`] tells which).
    pub fn klap_forbidden(&self) -> bool {
        match self {
            DeviceClient::Smart(SmartClient {
                transport: SmartTransport::Klap(c),
                ..
            }) => c.forbidden(),
            _ => false,
        }
    }

    /// Reads the device's state: IOT `get_sysinfo` alone (some firmware crashes on unexpected
    /// modules) then the cloud module; SMART `get_device_info`, then `component_nego` (once
    /// per client) and the children of a strip, then the cloud state. A cloud read that fails
    /// leaves `bound` unknown instead of failing the whole read.
    pub async fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        match self {
            DeviceClient::Iot(c) => {
                let (info, raw) = c.sysinfo().await?;
                let cloud = cloud_read(c.cloud_info_raw().await);
                Ok(DeviceInfo::from_iot(&info, raw, cloud))
            }
            // The HTTP protocols' futures (handshakes, TLS) are boxed: sized inline they would
            // make every job's future several times larger, an IOT plug's included.
            DeviceClient::Smart(c) => Box::pin(c.info()).await,
            DeviceClient::TapoCamera(c) => Box::pin(c.info()).await,
            DeviceClient::KasaCamera(c) => Box::pin(c.info()).await,
        }
    }

    /// Binds the next disruptive command to the connection or session open now, the one the
    /// caller has just read the device's identity on: if it has ended by then, the command
    /// fails with [`DeviceError::NotSent`] and nothing is written. Call it right after the
    /// identity check.
    pub fn pin(&mut self) {
        match self {
            DeviceClient::Iot(c) => c.pin(),
            DeviceClient::Smart(c) => c.pin(),
            DeviceClient::TapoCamera(c) => c.pin(),
            // LINKIE2 has no session to bind to; the command goes on a fresh connection to
            // the address whose identity was just read, as every disruptive HTTP command does.
            DeviceClient::KasaCamera(_) => {}
        }
    }

    /// Asks the device to reboot after [`COMMAND_DELAY_SECS`].
    pub async fn reboot(&mut self) -> Result<Ack, DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.reboot(COMMAND_DELAY_SECS).await,
            DeviceClient::Smart(c) => Box::pin(c.reboot()).await,
            DeviceClient::TapoCamera(c) => Box::pin(c.reboot()).await,
            DeviceClient::KasaCamera(c) => Box::pin(c.reboot()).await,
        }
    }

    /// Asks the device to erase its settings and leave the network. Cameras and doorbells:
    /// [`DeviceError::Unsupported`], with nothing sent.
    pub async fn factory_reset(&mut self) -> Result<Ack, DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.factory_reset().await,
            DeviceClient::Smart(c) => Box::pin(c.factory_reset()).await,
            // Nothing is sent: no local reset is known (see `NO_LOCAL_RESET`).
            DeviceClient::TapoCamera(_) | DeviceClient::KasaCamera(_) => Err(no_reset()),
        }
    }

    /// Switches the relay of a plug (`child` None) or of one outlet (its full id).
    pub async fn set_relay(&mut self, on: bool, child: Option<&str>) -> Result<(), DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.set_relay(on, child).await,
            DeviceClient::Smart(c) => Box::pin(c.set_relay(on, child)).await,
            DeviceClient::TapoCamera(_) | DeviceClient::KasaCamera(_) => Err(no_relay()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;
    use crate::protocol::iot::transport::Timeouts;

    fn link(protocol: ProtocolKind) -> Link {
        Link {
            addr: "127.0.0.1:80".parse().unwrap(),
            protocol,
            credentials: Some(Credentials::new("owner@example.com", "hunter2-SECRET")),
            timeouts: Timeouts::default(),
        }
    }

    #[test]
    fn a_client_speaks_the_protocol_of_its_link_and_never_shows_the_password() {
        for p in ProtocolKind::ALL {
            let c = DeviceClient::new(link(*p));
            assert_eq!(c.protocol(), *p);
            let shown = format!("{c:?} {:?}", link(*p));
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }
}
