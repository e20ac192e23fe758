//! The device client: what a job asks of one device, over the device's own protocol.
//!
//! [`DeviceClient`] is a closed enum over the protocols, with the same operations for all:
//! [`info`](DeviceClient::info), [`reboot`](DeviceClient::reboot),
//! [`factory_reset`](DeviceClient::factory_reset) and [`set_relay`](DeviceClient::set_relay).
//! It is built from a [`Link`]: where the device is, which [`ProtocolKind`] it speaks, and the
//! credentials it may need. Errors are typed by what the caller must do about them, not by
//! where they happened.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::credentials::Credentials;
use crate::protocol::aes::session::AesClient;
use crate::protocol::iot::messages::{self, CloudInfo, ReplyError, Request, SysInfo, SystemModule};
use crate::protocol::iot::transport::{Connection, ExchangeError, Timeouts, TransportError};
use crate::protocol::klap::cipher::Version;
use crate::protocol::klap::session::KlapClient;
use crate::protocol::klap::session::http::Sent;
use crate::protocol::smart::{self, SmartError, SmartErrorKind};

/// Why an operation on a device failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Nothing answers at the address (refused, no route): the device is off or elsewhere.
    #[error("{addr} is unreachable: {detail}")]
    Unreachable { addr: SocketAddr, detail: String },
    /// The device did not connect or answer in time.
    #[error("{op}: timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The connection dropped before a whole reply arrived.
    #[error("{op}: connection lost: {detail}")]
    ConnectionLost { op: &'static str, detail: String },
    /// The device answered something that is not a valid reply.
    #[error("{op}: malformed reply: {detail}")]
    Malformed { op: &'static str, detail: String },
    /// The device understood and refused, with its own error code.
    #[error("{op}: device error {code}: {msg}")]
    Device {
        op: &'static str,
        code: i64,
        msg: String,
    },
    /// The device rejected every credential we may use, or refuses local logins altogether.
    /// The detail says what to fix; it never contains a password.
    #[error("authentication failed: {detail}")]
    Auth { detail: String },
    /// The device locked logins after failed attempts (SMART -40404). Trying again soon only
    /// extends the lockout.
    #[error("logins blocked: {detail}")]
    Blocked { detail: String },
    /// The device (or its firmware) does not support what was asked.
    #[error("unsupported: {detail}")]
    Unsupported { detail: String },
}

impl DeviceError {
    /// The outcome reason recorded for a job that ends with this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceError::Unreachable { .. } => "unreachable",
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. } => "timeout",
            DeviceError::Malformed { .. } | DeviceError::Device { .. } => "device_error",
            DeviceError::Auth { .. } | DeviceError::Blocked { .. } => "auth_failed",
            DeviceError::Unsupported { .. } => "unsupported",
        }
    }

    /// Whether trying again later might succeed. Retries live in the scheduler.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. }
        )
    }

    /// Errors that mean "the device went quiet", as opposed to "the device said something
    /// wrong": after a disruptive command was written, these mean it most likely arrived.
    pub(crate) fn is_silence(&self) -> bool {
        matches!(
            self,
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. }
        )
    }
}

/// A SMART error code as a [`DeviceError`], with the table's advice.
pub(crate) fn smart_error(op: &'static str, e: SmartError) -> DeviceError {
    match e.kind {
        SmartErrorKind::Auth => DeviceError::Auth {
            detail: format!("{op}: {e}"),
        },
        SmartErrorKind::Blocked => DeviceError::Blocked {
            detail: format!("{op}: {e}"),
        },
        SmartErrorKind::Device if e.is_unsupported() => DeviceError::Unsupported {
            detail: format!("{op}: {e}"),
        },
        // Transient codes stay device errors: the scheduler decides about retries, and the
        // session-expiry codes were already retried once after a new handshake.
        SmartErrorKind::Device | SmartErrorKind::Retryable => DeviceError::Device {
            op,
            code: e.code,
            msg: format!("{}: {}", e.name, e.advice),
        },
    }
}

/// How a disruptive command (reboot, reset) was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// The device answered `err_code: 0`.
    Acknowledged,
    /// The request was written in full, then the connection dropped or went silent. Devices
    /// often act before they answer, so this is not a failure: the effect must be observed.
    SentNoAck { detail: String },
}

/// Delay in seconds we ask for before a reboot or reset takes effect. With 0 the device
/// reboots before it can answer; 1 s lets the acknowledgement out first.
pub const COMMAND_DELAY_SECS: u32 = 1;

/// A client for one IOT device. One request at a time; reconnects after any error.
#[derive(Debug)]
pub struct IotClient {
    addr: SocketAddr,
    timeouts: Timeouts,
    conn: Option<Connection>,
    /// Learnt from the last sysinfo: bulbs take reboot and reset in their own namespace.
    system: SystemModule,
}

impl IotClient {
    pub fn new(addr: SocketAddr, timeouts: Timeouts) -> Self {
        IotClient {
            addr,
            timeouts,
            conn: None,
            system: SystemModule::System,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads `get_sysinfo` alone, the one request every firmware survives. Returns the typed
    /// fields and the raw JSON for snapshots.
    pub async fn sysinfo(&mut self) -> Result<(SysInfo, Value), DeviceError> {
        const OP: &str = "get_sysinfo";
        let reply = self.call(OP, &Request::GetSysinfo).await?;
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
        match self.exchange(op, req).await {
            Ok(raw) => {
                messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))?;
                Ok(Ack::Acknowledged)
            }
            Err(e) if e.written && is_silence(&e.error) => Ok(Ack::SentNoAck {
                detail: e.error.to_string(),
            }),
            Err(e) => Err(self.transport_error(op, e.error)),
        }
    }

    async fn call(&mut self, op: &'static str, req: &Request) -> Result<Value, DeviceError> {
        let raw = self
            .exchange(op, req)
            .await
            .map_err(|e| self.transport_error(op, e.error))?;
        messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))
    }

    async fn exchange(
        &mut self,
        op: &'static str,
        req: &Request,
    ) -> Result<Vec<u8>, ExchangeError> {
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
        let result = conn.exchange(&req.to_bytes()).await;
        if result.is_err() {
            // A connection that failed mid-exchange may hold half a reply; never reuse it.
            self.conn = None;
        }
        tracing::trace!(addr = %self.addr, op, ok = result.is_ok(), "iot exchange");
        result
    }

    fn transport_error(&self, op: &'static str, e: TransportError) -> DeviceError {
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

/// Which protocol, over which transport, a device speaks (the rows of the protocol matrix that
/// fleetreset supports; KLAP over HTTPS and the camera transports are not among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolKind {
    /// Legacy IOT JSON, XOR cipher, TCP 9999.
    Iot,
    /// IOT JSON over KLAP v1 (HTTP 80): Kasa plugs with newer hardware, e.g. HS100 hw 4.1.
    IotKlapV1,
    /// IOT JSON over KLAP v2, for the IOT devices whose discovery says login version 2.
    IotKlapV2,
    /// SMART JSON over KLAP v2 (HTTP 80): Tapo and current Kasa firmware.
    SmartKlap,
    /// SMART JSON inside the AES `securePassthrough` (HTTP 80): older Tapo firmware.
    SmartAes,
}

impl ProtocolKind {
    pub const ALL: &'static [ProtocolKind] = &[
        ProtocolKind::Iot,
        ProtocolKind::IotKlapV1,
        ProtocolKind::IotKlapV2,
        ProtocolKind::SmartKlap,
        ProtocolKind::SmartAes,
    ];

    /// The stable word for inventories, the audit and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::Iot => "iot",
            ProtocolKind::IotKlapV1 => "iot-klap-v1",
            ProtocolKind::IotKlapV2 => "iot-klap-v2",
            ProtocolKind::SmartKlap => "smart-klap",
            ProtocolKind::SmartAes => "smart-aes",
        }
    }

    /// The port the device listens on unless the inventory says otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            ProtocolKind::Iot => crate::protocol::iot::DEFAULT_PORT,
            _ => crate::protocol::klap::session::DEFAULT_PORT,
        }
    }

    /// Whether the protocol needs account credentials (it may still work with the blank or
    /// default ones on an unbound device).
    pub fn uses_credentials(self) -> bool {
        self != ProtocolKind::Iot
    }
}

impl std::fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProtocolKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ProtocolKind::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let words: Vec<_> = ProtocolKind::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown protocol {s:?}: expected one of {}",
                    words.join(", ")
                )
            })
    }
}

/// Everything needed to talk to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub addr: SocketAddr,
    pub protocol: ProtocolKind,
    /// The account the device is bound to; `None` tries only the blank and default logins.
    pub credentials: Option<Credentials>,
    pub timeouts: Timeouts,
}

/// What a device says about itself, whatever its protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    pub model: String,
    /// The name the owner gave it, decoded (SMART sends it as base64).
    pub alias: String,
    /// As the device wrote it: `AA:BB:…` (IOT), `AA-BB-…` (SMART) or bare hex (bulbs).
    pub mac: String,
    pub device_id: String,
    /// The family word the device reports: `IOT.SMARTPLUGSWITCH`, `SMART.TAPOPLUG`, …
    pub kind: String,
    /// The relay (or light) state; `None` for devices without one.
    pub relay_on: Option<bool>,
    /// Seconds the relay has been on; restarts at boot.
    pub on_time: Option<u64>,
    /// Strip outlets (or hub children), in the device's order.
    pub children: Vec<ChildInfo>,
    /// Whether the device is bound to (IOT) or connected to (SMART) a cloud account; `None` if
    /// the device did not say.
    pub bound: Option<bool>,
    /// `get_sysinfo` (IOT) or `get_device_info` (SMART) as the device sent it.
    pub raw: Value,
    /// The cloud module's answer (`cnCloud.get_info` or `get_connect_cloud_state`).
    pub cloud_raw: Option<Value>,
}

/// One strip outlet or hub child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildInfo {
    /// The full child id, as `set_relay` takes it.
    pub id: String,
    pub alias: String,
    pub on: Option<bool>,
    pub on_time: Option<u64>,
}

impl DeviceInfo {
    fn from_iot(info: &SysInfo, raw: Value, cloud_raw: Option<Value>) -> DeviceInfo {
        let bound = cloud_raw
            .as_ref()
            .and_then(|c| CloudInfo::from_reply(c).ok())
            .map(|c| c.binded == 1);
        DeviceInfo {
            model: info.model.clone(),
            alias: info.alias.clone(),
            mac: info.mac.clone(),
            device_id: info.device_id.clone(),
            kind: info.kind.clone(),
            relay_on: info
                .relay_state
                .map(|s| s == 1)
                .or(info.light_state.as_ref().map(|l| l.on_off == 1)),
            on_time: info.on_time,
            children: info
                .children
                .iter()
                .map(|c| ChildInfo {
                    id: c.id.clone(),
                    alias: c.alias.clone(),
                    on: Some(c.state == 1),
                    on_time: c.on_time,
                })
                .collect(),
            bound,
            raw,
            cloud_raw,
        }
    }
}

/// A client for one device, whatever its protocol.
#[derive(Debug)]
pub enum DeviceClient {
    Iot(IotClient),
    IotKlap(IotKlapClient),
    Smart(SmartClient),
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
            ProtocolKind::IotKlapV1 => DeviceClient::IotKlap(IotKlapClient::new(KlapClient::new(
                addr,
                Version::V1,
                credentials,
                timeouts,
            ))),
            ProtocolKind::IotKlapV2 => DeviceClient::IotKlap(IotKlapClient::new(KlapClient::new(
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
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            DeviceClient::Iot(c) => c.addr(),
            DeviceClient::IotKlap(c) => c.klap.addr(),
            DeviceClient::Smart(c) => c.transport.addr(),
        }
    }

    pub fn protocol(&self) -> ProtocolKind {
        match self {
            DeviceClient::Iot(_) => ProtocolKind::Iot,
            DeviceClient::IotKlap(c) => match c.klap.version() {
                Version::V1 => ProtocolKind::IotKlapV1,
                Version::V2 => ProtocolKind::IotKlapV2,
            },
            DeviceClient::Smart(c) => match c.transport {
                SmartTransport::Klap(_) => ProtocolKind::SmartKlap,
                SmartTransport::Aes(_) => ProtocolKind::SmartAes,
            },
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
            DeviceClient::IotKlap(c) => {
                let (info, raw) = c.sysinfo().await?;
                let cloud = cloud_read(c.cloud_info_raw().await);
                Ok(DeviceInfo::from_iot(&info, raw, cloud))
            }
            DeviceClient::Smart(c) => c.info().await,
        }
    }

    /// Asks the device to reboot after [`COMMAND_DELAY_SECS`].
    pub async fn reboot(&mut self) -> Result<Ack, DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.reboot(COMMAND_DELAY_SECS).await,
            DeviceClient::IotKlap(c) => c.reboot(COMMAND_DELAY_SECS).await,
            DeviceClient::Smart(c) => c.reboot().await,
        }
    }

    /// Asks the device to erase its settings and leave the network.
    pub async fn factory_reset(&mut self) -> Result<Ack, DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.factory_reset().await,
            DeviceClient::IotKlap(c) => c.factory_reset().await,
            DeviceClient::Smart(c) => c.factory_reset().await,
        }
    }

    /// Switches the relay of a plug (`child` None) or of one outlet (its full id).
    pub async fn set_relay(&mut self, on: bool, child: Option<&str>) -> Result<(), DeviceError> {
        match self {
            DeviceClient::Iot(c) => c.set_relay(on, child).await,
            DeviceClient::IotKlap(c) => c.set_relay(on, child).await,
            DeviceClient::Smart(c) => c.set_relay(on, child).await,
        }
    }
}

/// The cloud binding is extra information: without it (no such module, or no answer) `bound`
/// is unknown, which verification treats as "maybe bound", never as "unbound".
fn cloud_read(r: Result<Value, DeviceError>) -> Option<Value> {
    r.inspect_err(|e| tracing::debug!(error = %e, "no cloud state"))
        .ok()
}

/// An optional read: a device that answers "no such method" (or answers it unreadably) has
/// none; a device that went quiet is still an error.
fn tolerate(r: Result<Value, DeviceError>) -> Result<Option<Value>, DeviceError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(
            DeviceError::Device { .. }
            | DeviceError::Unsupported { .. }
            | DeviceError::Malformed { .. },
        ) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A client for an IOT device that speaks KLAP instead of the XOR protocol: the same requests
/// and replies as [`IotClient`], inside KLAP.
#[derive(Debug)]
pub struct IotKlapClient {
    klap: KlapClient,
    /// Learnt from the last sysinfo: bulbs take reboot and reset in their own namespace.
    system: SystemModule,
}

impl IotKlapClient {
    pub fn new(klap: KlapClient) -> IotKlapClient {
        IotKlapClient {
            klap,
            system: SystemModule::System,
        }
    }

    /// Reads `get_sysinfo` alone; the typed fields and the raw JSON.
    pub async fn sysinfo(&mut self) -> Result<(SysInfo, Value), DeviceError> {
        const OP: &str = "get_sysinfo";
        let reply = self.call(OP, &Request::GetSysinfo).await?;
        let info = SysInfo::from_reply(&reply).map_err(|e| malformed(OP, e))?;
        self.system = info.system_module();
        Ok((info, reply))
    }

    /// Reads the cloud binding as the device sent it.
    pub async fn cloud_info_raw(&mut self) -> Result<Value, DeviceError> {
        let req = Request::CloudInfo {
            module: self.system,
        };
        self.call("cloud get_info", &req).await
    }

    pub async fn reboot(&mut self, delay: u32) -> Result<Ack, DeviceError> {
        let req = Request::Reboot {
            module: self.system,
            delay: delay.max(1),
        };
        self.disruptive("reboot", &req).await
    }

    pub async fn factory_reset(&mut self) -> Result<Ack, DeviceError> {
        let req = Request::Reset {
            module: self.system,
            delay: COMMAND_DELAY_SECS,
        };
        self.disruptive("reset", &req).await
    }

    pub async fn set_relay(&mut self, on: bool, child_id: Option<&str>) -> Result<(), DeviceError> {
        let req = Request::SetRelay {
            on,
            child_ids: child_id.map(|c| vec![c.to_owned()]).unwrap_or_default(),
        };
        self.call("set_relay_state", &req).await.map(|_| ())
    }

    async fn call(&mut self, op: &'static str, req: &Request) -> Result<Value, DeviceError> {
        let raw = self.klap.call(op, &req.to_bytes()).await?;
        messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))
    }

    async fn disruptive(&mut self, op: &'static str, req: &Request) -> Result<Ack, DeviceError> {
        match self.klap.command(op, &req.to_bytes()).await? {
            Sent::Reply(raw) => {
                messages::method_reply(req, &raw).map_err(|e| reply_error(op, e))?;
                Ok(Ack::Acknowledged)
            }
            Sent::NoReply { detail } => Ok(Ack::SentNoAck { detail }),
        }
    }
}

/// The transports that carry SMART JSON.
#[derive(Debug)]
pub enum SmartTransport {
    Klap(KlapClient),
    Aes(AesClient),
}

impl SmartTransport {
    pub fn addr(&self) -> SocketAddr {
        match self {
            SmartTransport::Klap(c) => c.addr(),
            SmartTransport::Aes(c) => c.addr(),
        }
    }

    async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        match self {
            SmartTransport::Klap(c) => c.call(op, json).await,
            SmartTransport::Aes(c) => c.call(op, json).await,
        }
    }

    async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        match self {
            SmartTransport::Klap(c) => c.command(op, json).await,
            SmartTransport::Aes(c) => c.command(op, json).await,
        }
    }

    fn reset_session(&mut self) {
        match self {
            SmartTransport::Klap(c) => c.reset_session(),
            SmartTransport::Aes(c) => c.reset_session(),
        }
    }
}

/// Pages of `get_child_device_list` we read at most. Devices send 10 children a page, and the
/// largest hubs have 64 children; 16 pages bound a device that never reaches its `sum`.
const MAX_CHILD_PAGES: usize = 16;

/// A client for a SMART device (Tapo, current Kasa), over KLAP or AES.
#[derive(Debug)]
pub struct SmartClient {
    transport: SmartTransport,
    /// Fixed for the client's life, as the app does.
    terminal_uuid: String,
    /// From `component_nego`, once asked: whether the device has children to list.
    has_children: Option<bool>,
}

impl SmartClient {
    pub fn new(transport: SmartTransport) -> SmartClient {
        SmartClient {
            transport,
            terminal_uuid: smart::new_terminal_uuid(),
            has_children: None,
        }
    }

    fn encode(&self, req: &smart::Request) -> Vec<u8> {
        smart::Envelope {
            request: req,
            request_time_milis: smart::now_millis(),
            terminal_uuid: &self.terminal_uuid,
        }
        .to_bytes()
    }

    /// Sends a read or a setting and returns its `result`. A session the device says expired
    /// (9999, -40401) is renewed once.
    pub async fn query(&mut self, req: &smart::Request) -> Result<Value, DeviceError> {
        let op = req.method();
        let mut renewed = false;
        loop {
            let raw = self.transport.call(op, &self.encode(req)).await?;
            match smart::parse_response(&raw) {
                Ok(v) => return Ok(v),
                Err(smart::ResponseError::Device(e)) if e.is_session_expired() && !renewed => {
                    tracing::debug!(addr = %self.transport.addr(), op, code = e.code, "smart session expired; renewing");
                    renewed = true;
                    self.transport.reset_session();
                }
                Err(e) => return Err(response_error(op, e)),
            }
        }
    }

    /// Sends a disruptive command (reboot, reset); see [`Ack`].
    pub async fn command(&mut self, req: &smart::Request) -> Result<Ack, DeviceError> {
        let op = req.method();
        let mut renewed = false;
        loop {
            let raw = match self.transport.command(op, &self.encode(req)).await? {
                Sent::Reply(raw) => raw,
                Sent::NoReply { detail } => return Ok(Ack::SentNoAck { detail }),
            };
            match smart::parse_response(&raw) {
                Ok(_) => return Ok(Ack::Acknowledged),
                // The device refused the session, so it did not act: safe to send again.
                Err(smart::ResponseError::Device(e)) if e.is_session_expired() && !renewed => {
                    renewed = true;
                    self.transport.reset_session();
                }
                Err(e) => return Err(response_error(op, e)),
            }
        }
    }

    pub async fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        let raw = self.query(&smart::Request::GetDeviceInfo).await?;
        let dev = smart::DeviceInfo::deserialize(&raw).map_err(|e| DeviceError::Malformed {
            op: "get_device_info",
            detail: e.to_string(),
        })?;
        let children = if self.has_children().await? {
            self.children().await?
        } else {
            Vec::new()
        };
        let cloud_raw = cloud_read(self.query(&smart::Request::GetConnectCloudState).await);
        let bound = cloud_raw
            .as_ref()
            .and_then(|c| smart::CloudState::deserialize(c).ok())
            .map(|c| c.connected());
        Ok(DeviceInfo {
            model: dev.model,
            alias: smart::decode_text(&dev.nickname),
            mac: dev.mac,
            device_id: dev.device_id,
            kind: dev.kind,
            relay_on: dev.device_on,
            on_time: dev.on_time,
            children,
            bound,
            raw,
            cloud_raw,
        })
    }

    async fn has_children(&mut self) -> Result<bool, DeviceError> {
        if let Some(h) = self.has_children {
            return Ok(h);
        }
        let h = tolerate(self.query(&smart::Request::ComponentNego).await)?
            .and_then(|v| smart::Components::deserialize(&v).ok())
            .is_some_and(|c| c.has_children());
        self.has_children = Some(h);
        Ok(h)
    }

    async fn children(&mut self) -> Result<Vec<ChildInfo>, DeviceError> {
        const OP: &str = "get_child_device_list";
        let mut children = Vec::new();
        for _ in 0..MAX_CHILD_PAGES {
            let start_index = u32::try_from(children.len()).unwrap_or(u32::MAX);
            let raw = self
                .query(&smart::Request::GetChildDeviceList { start_index })
                .await?;
            let page = smart::ChildPage::deserialize(&raw).map_err(|e| DeviceError::Malformed {
                op: OP,
                detail: e.to_string(),
            })?;
            let got = page.child_device_list.len();
            children.extend(page.child_device_list.into_iter().map(|c| ChildInfo {
                alias: smart::decode_text(&c.nickname),
                id: c.device_id,
                on: c.device_on,
                on_time: c.on_time,
            }));
            if got == 0 || children.len() >= page.sum as usize {
                break;
            }
        }
        Ok(children)
    }

    pub async fn reboot(&mut self) -> Result<Ack, DeviceError> {
        self.command(&smart::Request::DeviceReboot {
            delay: COMMAND_DELAY_SECS,
        })
        .await
    }

    pub async fn factory_reset(&mut self) -> Result<Ack, DeviceError> {
        self.command(&smart::Request::DeviceReset).await
    }

    pub async fn set_relay(&mut self, on: bool, child: Option<&str>) -> Result<(), DeviceError> {
        let set = smart::Request::SetDeviceInfo { device_on: on };
        match child {
            None => self.query(&set).await.map(|_| ()),
            Some(id) => {
                let req = smart::Request::ControlChild {
                    device_id: id.to_owned(),
                    request: Box::new(set),
                };
                let result = self.query(&req).await?;
                smart::child_result(result)
                    .map(|_| ())
                    .map_err(|e| response_error("control_child set_device_info", e))
            }
        }
    }
}

fn response_error(op: &'static str, e: smart::ResponseError) -> DeviceError {
    match e {
        smart::ResponseError::Device(e) => smart_error(op, e),
        smart::ResponseError::Shape(detail) => DeviceError::Malformed { op, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_variants_have_their_reasons_and_are_not_retried() {
        let auth = DeviceError::Auth { detail: "x".into() };
        let blocked = DeviceError::Blocked { detail: "x".into() };
        let unsupported = DeviceError::Unsupported { detail: "x".into() };
        assert_eq!(auth.reason(), "auth_failed");
        assert_eq!(blocked.reason(), "auth_failed");
        assert_eq!(unsupported.reason(), "unsupported");
        assert!(!auth.is_retryable() && !blocked.is_retryable() && !unsupported.is_retryable());
    }

    #[test]
    fn every_reason_is_a_word_of_the_audit() {
        use crate::model::Reason;
        let errors = [
            DeviceError::Unreachable {
                addr: "127.0.0.1:1".parse().unwrap(),
                detail: String::new(),
            },
            DeviceError::Timeout {
                op: "x",
                after: Duration::from_secs(1),
            },
            DeviceError::Auth {
                detail: String::new(),
            },
            DeviceError::Blocked {
                detail: String::new(),
            },
            DeviceError::Unsupported {
                detail: String::new(),
            },
            smart_error("x", smart::classify(-1003)),
        ];
        for e in errors {
            assert!(e.reason().parse::<Reason>().is_ok(), "{}", e.reason());
        }
    }

    #[test]
    fn smart_codes_become_errors_by_kind_with_their_advice() {
        let auth = smart_error("login_device", smart::classify(-1501));
        assert!(matches!(auth, DeviceError::Auth { .. }));
        assert!(auth.to_string().contains("both case-sensitive"), "{auth}");
        assert!(matches!(
            smart_error("x", smart::classify(-40404)),
            DeviceError::Blocked { .. }
        ));
        assert!(matches!(
            smart_error("device_reset", smart::classify(-40106)),
            DeviceError::Unsupported { .. }
        ));
        let device = smart_error("get_device_info", smart::classify(-1003));
        assert_eq!(
            device,
            DeviceError::Device {
                op: "get_device_info",
                code: -1003,
                msg: format!("JSON_DECODE_FAIL: {}", smart::classify(-1003).advice),
            }
        );
    }

    #[test]
    fn protocol_words_round_trip() {
        for p in ProtocolKind::ALL {
            assert_eq!(p.as_str().parse::<ProtocolKind>(), Ok(*p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                Value::String(p.as_str().into())
            );
        }
        assert!(
            "klap"
                .parse::<ProtocolKind>()
                .unwrap_err()
                .contains("smart-klap")
        );
        assert_eq!(ProtocolKind::Iot.default_port(), 9999);
        assert_eq!(ProtocolKind::SmartAes.default_port(), 80);
    }

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

    #[test]
    fn iot_sysinfo_maps_to_the_neutral_info() {
        let raw = serde_json::json!({
            "model": "HS300(US)", "alias": "rack", "mac": "50:C7:BF:00:00:01",
            "deviceId": "8006AB", "type": "IOT.SMARTPLUGSWITCH",
            "children": [{"id": "8006AB00", "alias": "one", "state": 1, "on_time": 5},
                         {"id": "8006AB01", "alias": "two", "state": 0, "on_time": 0}]
        });
        let info = SysInfo::from_reply(&raw).unwrap();
        let cloud = serde_json::json!({"binded": 1, "cld_connection": 1, "server": "x"});
        let d = DeviceInfo::from_iot(&info, raw.clone(), Some(cloud));
        assert_eq!(d.kind, "IOT.SMARTPLUGSWITCH");
        assert_eq!(d.bound, Some(true));
        assert_eq!(d.relay_on, None);
        assert_eq!(d.children.len(), 2);
        assert_eq!(d.children[0].on, Some(true));
        assert_eq!(d.children[1].id, "8006AB01");
        assert_eq!(d.raw, raw);
        assert_eq!(DeviceInfo::from_iot(&info, raw, None).bound, None);
    }

    #[test]
    fn only_answers_make_an_optional_read_absent() {
        let dev = DeviceError::Device {
            op: "x",
            code: -1,
            msg: "module not support".into(),
        };
        assert_eq!(tolerate(Err(dev)), Ok(None));
        let quiet = DeviceError::Timeout {
            op: "x",
            after: Duration::from_secs(5),
        };
        assert_eq!(tolerate(Err(quiet.clone())), Err(quiet));
    }

    /// A P300-like strip over AES: three outlets served two to a page, connected to the cloud.
    fn strip(req: &Value) -> Value {
        use serde_json::json;
        let child = |i: u32| {
            json!({"device_id": format!("80225E0A0{i}"), "nickname": "UGx1Zw==",
                   "device_on": i != 1, "on_time": 10 + i})
        };
        match req["method"].as_str().unwrap() {
            "get_device_info" => json!({"error_code":0,"result":{
                "device_id":"80225E0A","model":"P300","type":"SMART.TAPOPLUG",
                "mac":"48-22-54-00-00-00","nickname":"UmFjayDwn5SM"}}),
            "component_nego" => json!({"error_code":0,"result":{"component_list":[
                {"id":"device","ver_code":2},{"id":"child_device","ver_code":1}]}}),
            "get_child_device_list" => {
                let start = req["params"]["start_index"].as_u64().unwrap() as u32;
                let page: Vec<_> = (start..3).take(2).map(child).collect();
                json!({"error_code":0,"result":{"child_device_list":page,"start_index":start,"sum":3}})
            }
            "get_connect_cloud_state" => json!({"error_code":0,"result":{"status":0}}),
            "device_reboot" => {
                assert_eq!(req["params"], json!({"delay": 1}));
                json!({"error_code":0})
            }
            "device_reset" => {
                assert!(req.get("params").is_none());
                json!({"error_code":-40106})
            }
            "control_child" => {
                assert_eq!(req["params"]["requestData"]["method"], "set_device_info");
                json!({"error_code":0,"result":{"responseData":{"error_code":0}}})
            }
            _ => json!({"error_code":-1002}),
        }
    }

    #[tokio::test]
    async fn a_smart_strip_reads_pages_of_children_and_takes_the_same_operations() {
        use crate::protocol::aes::session::tests::device;
        let (addr, state) = device::spawn(device::State {
            accepts: vec![Credentials::blank()],
            inner: Some(Box::new(strip)),
            ..Default::default()
        })
        .await;
        let mut c = DeviceClient::new(Link {
            addr,
            protocol: ProtocolKind::SmartAes,
            credentials: None,
            timeouts: Timeouts::default(),
        });
        let info = c.info().await.unwrap();
        assert_eq!(info.alias, "Rack 🔌");
        assert_eq!(info.kind, "SMART.TAPOPLUG");
        assert_eq!(info.mac, "48-22-54-00-00-00");
        assert_eq!(info.bound, Some(true));
        assert_eq!(info.relay_on, None);
        let ids: Vec<_> = info.children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["80225E0A00", "80225E0A01", "80225E0A02"]);
        assert_eq!(info.children[1].on, Some(false));
        assert_eq!(info.children[2].alias, "Plug");
        assert_eq!(c.reboot().await, Ok(Ack::Acknowledged));
        c.set_relay(false, Some("80225E0A01")).await.unwrap();
        let err = c.factory_reset().await.unwrap_err();
        assert_eq!(err.reason(), "unsupported", "{err}");
        assert_eq!(
            state.lock().unwrap().requests,
            [
                "get_device_info",
                "component_nego",
                "get_child_device_list",
                "get_child_device_list",
                "get_connect_cloud_state",
                "device_reboot",
                "control_child",
                "device_reset"
            ]
        );
    }
}
