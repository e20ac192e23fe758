//! [`IotClient`]: the legacy IOT protocol (XOR cipher, TCP 9999) for one device.

use std::net::SocketAddr;

use serde_json::Value;

use super::{Ack, COMMAND_DELAY_SECS, DeviceError};
use crate::protocol::iot::messages::{self, CloudInfo, ReplyError, Request, SysInfo, SystemModule};
use crate::protocol::iot::transport::{Connection, ExchangeError, Timeouts, TransportError};

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

pub(super) fn reply_error(op: &'static str, e: ReplyError) -> DeviceError {
    match e {
        ReplyError::Device { code, msg } => DeviceError::Device { op, code, msg },
        other => malformed(op, other),
    }
}

pub(super) fn malformed(op: &'static str, e: ReplyError) -> DeviceError {
    DeviceError::Malformed {
        op,
        detail: e.to_string(),
    }
}
