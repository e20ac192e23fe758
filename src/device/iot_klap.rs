//! [`IotKlapClient`]: IOT requests and replies carried inside KLAP.

use serde_json::Value;

use super::iot::{malformed, reply_error};
use super::{Ack, COMMAND_DELAY_SECS, DeviceError};
use crate::protocol::http::Sent;
use crate::protocol::iot::messages::{self, Request, SysInfo, SystemModule};
use crate::protocol::klap::session::KlapClient;

/// A client for an IOT device that speaks KLAP instead of the XOR protocol: the same requests
/// and replies as [`IotClient`](super::IotClient), inside KLAP.
#[derive(Debug)]
pub struct IotKlapClient {
    pub(super) klap: KlapClient,
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
