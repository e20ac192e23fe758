//! [`IotClient`]: the legacy IOT protocol for one device, over the XOR cipher on TCP 9999 or
//! inside KLAP.

use std::net::SocketAddr;

use serde_json::Value;

use super::{Ack, COMMAND_DELAY_SECS, DeviceError, ProtocolKind};
use crate::protocol::http::Sent;
use crate::protocol::iot::messages::{self, CloudInfo, ReplyError, Request, SysInfo, SystemModule};
use crate::protocol::iot::transport::{Connection, ExchangeError, Timeouts, TransportError};
use crate::protocol::klap::cipher::Version;
use crate::protocol::klap::session::KlapClient;

/// The transports that carry IOT JSON.
#[derive(Debug)]
enum IotTransport {
    /// The XOR cipher on TCP 9999.
    Xor(XorLink),
    /// KLAP over HTTP: the same requests and replies, on newer hardware (e.g. HS100 hw 4.1).
    Klap(KlapClient),
}

impl IotTransport {
    fn addr(&self) -> SocketAddr {
        match self {
            IotTransport::Xor(x) => x.addr,
            IotTransport::Klap(c) => c.addr(),
        }
    }

    fn pin(&mut self) {
        match self {
            IotTransport::Xor(x) => x.pinned = true,
            IotTransport::Klap(c) => c.pin(),
        }
    }

    /// Sends a read or a setting and returns the device's JSON reply.
    async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        match self {
            IotTransport::Xor(x) => x
                .exchange(op, json)
                .await
                .map_err(|e| transport_error(op, e.error)),
            IotTransport::Klap(c) => c.call(op, json).await,
        }
    }

    /// Sends a disruptive command. A request written in full before the device went quiet is
    /// `Sent::NoReply`, not an error: the device most likely acted.
    async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        match self {
            // The checked connection is gone (or the device hung up on it): a new one would
            // reach whatever answers now, unchecked.
            IotTransport::Xor(x)
                if x.pinned && x.conn.as_ref().is_none_or(Connection::peer_closed) =>
            {
                x.conn = None;
                Err(DeviceError::NotSent { op })
            }
            IotTransport::Xor(x) => match x.exchange(op, json).await {
                Ok(raw) => Ok(Sent::Reply(raw)),
                Err(e) if e.written && is_silence(&e.error) => Ok(Sent::NoReply {
                    detail: e.error.to_string(),
                }),
                Err(e) => Err(transport_error(op, e.error)),
            },
            IotTransport::Klap(c) => c.command(op, json).await,
        }
    }
}

/// The XOR transport's one connection: opened on first use, dropped after any error.
#[derive(Debug)]
struct XorLink {
    addr: SocketAddr,
    timeouts: Timeouts,
    conn: Option<Connection>,
    /// Disruptive commands go only on the connection that is open now (see
    /// [`IotClient::pin`]).
    pinned: bool,
}

impl XorLink {
    async fn exchange(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => {
                let c = Connection::connect(self.addr, self.timeouts)
                    .await
                    .map_err(|error| ExchangeError {
                        written: false,
                        error,
                    })?;
                self.conn.insert(c)
            }
        };
        let result = conn.exchange(json).await;
        if result.is_err() {
            // A connection that failed mid-exchange may hold half a reply; never reuse it.
            self.conn = None;
        }
        tracing::trace!(addr = %self.addr, op, ok = result.is_ok(), "iot exchange");
        result
    }
}

/// A client for one IOT device. One request at a time; the XOR transport reconnects after any
/// error.
#[derive(Debug)]
pub struct IotClient {
    transport: IotTransport,
    /// Learnt from the last sysinfo: bulbs take reboot and reset in their own namespace.
    system: SystemModule,
}

impl IotClient {
    /// A client for the XOR protocol on TCP 9999.
    pub fn new(addr: SocketAddr, timeouts: Timeouts) -> Self {
        IotClient::with_transport(IotTransport::Xor(XorLink {
            addr,
            timeouts,
            conn: None,
            pinned: false,
        }))
    }

    /// A client for an IOT device that speaks KLAP instead of the XOR protocol.
    pub fn over_klap(klap: KlapClient) -> Self {
        IotClient::with_transport(IotTransport::Klap(klap))
    }

    fn with_transport(transport: IotTransport) -> Self {
        IotClient {
            transport,
            system: SystemModule::System,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.transport.addr()
    }

    /// From now on a disruptive command goes only on the connection (XOR) or session (KLAP)
    /// that is open now, the one the caller just read the device's identity on; if that has
    /// ended, the command fails with [`DeviceError::NotSent`] instead of reaching whatever
    /// answers at the address on a new one. Reads still reconnect.
    pub fn pin(&mut self) {
        self.transport.pin();
    }

    /// The protocol this client speaks.
    pub(super) fn protocol(&self) -> ProtocolKind {
        match &self.transport {
            IotTransport::Xor(_) => ProtocolKind::Iot,
            IotTransport::Klap(c) => match c.version() {
                Version::V1 => ProtocolKind::IotKlapV1,
                Version::V2 => ProtocolKind::IotKlapV2,
            },
        }
    }

    /// Reads `get_sysinfo` alone, the one request every firmware survives. Returns the typed
    /// fields and the raw JSON for snapshots.
    pub async fn sysinfo(&mut self) -> Result<(SysInfo, Value), DeviceError> {
        const OP: &str = "get_sysinfo";
        let reply = self.call(OP, &Request::GetSysinfo).await?;
        // A Kasa camera answering here nests its sysinfo one level deeper; it takes commands
        // over LINKIE2 only, so nothing more is sent to it over this protocol.
        if reply["system"]["type"] == "IOT.IPCAMERA" {
            return Err(DeviceError::Unsupported {
                detail: format!(
                    "{OP}: this is a Kasa camera ({}), which fleetreset reaches over LINKIE2 only: set the row's protocol to linkie2 (or auto)",
                    crate::inert::Inert(reply["system"]["model"].as_str().unwrap_or("?"))
                ),
            });
        }
        let info = SysInfo::from_reply(&reply).map_err(|e| malformed(OP, e))?;
        self.system = info.system_module();
        Ok((info, reply))
    }

    /// Reads the cloud binding.
    pub async fn cloud_info(&mut self) -> Result<CloudInfo, DeviceError> {
        let reply = self.cloud_info_raw().await?;
        CloudInfo::from_reply(&reply).map_err(|e| malformed("cloud get_info", e))
    }

    /// Reads the cloud binding as the device sent it, for snapshots.
    pub async fn cloud_info_raw(&mut self) -> Result<Value, DeviceError> {
        let req = Request::CloudInfo {
            module: self.system,
        };
        self.call("cloud get_info", &req).await
    }

    /// Asks the device to reboot after `delay` seconds (at least 1).
    pub async fn reboot(&mut self, delay: u32) -> Result<Ack, DeviceError> {
        let req = Request::Reboot {
            module: self.system,
            delay: delay.max(1),
        };
        self.disruptive("reboot", &req).await
    }

    /// Asks the device to erase its settings and leave the network.
    pub async fn factory_reset(&mut self) -> Result<Ack, DeviceError> {
        let req = Request::Reset {
            module: self.system,
            delay: COMMAND_DELAY_SECS,
        };
        self.disruptive("reset", &req).await
    }

    /// Switches the relay of a plug (`child_id` None) or of one strip outlet (its full id).
    pub async fn set_relay(&mut self, on: bool, child_id: Option<&str>) -> Result<(), DeviceError> {
        let req = Request::SetRelay {
            on,
            child_ids: child_id.map(|c| vec![c.to_owned()]).unwrap_or_default(),
        };
        self.call("set_relay_state", &req).await.map(|_| ())
    }

    async fn disruptive(&mut self, op: &'static str, req: &Request) -> Result<Ack, DeviceError> {
        match self.transport.command(op, &req.to_bytes()).await? {
            Sent::Reply(raw) => {
                messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))?;
                Ok(Ack::Acknowledged)
            }
            Sent::NoReply { detail } => Ok(Ack::SentNoAck { detail }),
        }
    }

    async fn call(&mut self, op: &'static str, req: &Request) -> Result<Value, DeviceError> {
        let raw = self.transport.call(op, &req.to_bytes()).await?;
        messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))
    }
}

fn transport_error(op: &'static str, e: TransportError) -> DeviceError {
    match e {
        TransportError::Connect { addr, source } => DeviceError::Unreachable {
            addr,
            detail: source.to_string(),
        },
        TransportError::ConnectTimeout { after, .. } | TransportError::Timeout { after } => {
            DeviceError::Timeout { op, after }
        }
        TransportError::Disconnected { .. } | TransportError::Io(_) => {
            DeviceError::ConnectionLost {
                op,
                detail: e.to_string(),
            }
        }
        TransportError::FrameTooLarge { .. } => DeviceError::Malformed {
            op,
            detail: e.to_string(),
        },
    }
}

/// Errors that mean "the device went quiet", as opposed to "the device said something wrong".
fn is_silence(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Disconnected { .. }
            | TransportError::Timeout { .. }
            | TransportError::Io(_)
    )
}

fn reply_error(op: &'static str, e: ReplyError) -> DeviceError {
    match e {
        ReplyError::Device { code, msg } => DeviceError::Device { op, code, msg },
        other => malformed(op, other),
    }
}

fn malformed(op: &'static str, e: ReplyError) -> DeviceError {
    DeviceError::Malformed {
        op,
        detail: e.to_string(),
    }
}
