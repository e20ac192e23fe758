//! [`SmartClient`]: SMART JSON requests for one device, over KLAP or AES ([`SmartTransport`]).

use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::Value;

use super::info::cloud_read;
use super::{Ack, COMMAND_DELAY_SECS, ChildInfo, DeviceError, DeviceInfo, smart_error};
use crate::protocol::aes::session::AesClient;
use crate::protocol::http::Sent;
use crate::protocol::klap::session::KlapClient;
use crate::protocol::smart;
use crate::protocol::tpap::session::TpapClient;

/// The transports that carry SMART JSON.
#[derive(Debug)]
pub enum SmartTransport {
    Klap(KlapClient),
    Aes(AesClient),
    /// Boxed: its two connections (the probe's and TPAP's) would size every SMART client,
    /// and so every job in flight.
    Tpap(Box<TpapClient>),
}

impl SmartTransport {
    pub fn addr(&self) -> SocketAddr {
        match self {
            SmartTransport::Klap(c) => c.addr(),
            SmartTransport::Aes(c) => c.addr(),
            SmartTransport::Tpap(c) => c.addr(),
        }
    }

    async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        match self {
            SmartTransport::Klap(c) => c.call(op, json).await,
            SmartTransport::Aes(c) => c.call(op, json).await,
            SmartTransport::Tpap(c) => c.call(op, json).await,
        }
    }

    async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        match self {
            SmartTransport::Klap(c) => c.command(op, json).await,
            SmartTransport::Aes(c) => c.command(op, json).await,
            SmartTransport::Tpap(c) => c.command(op, json).await,
        }
    }

    fn reset_session(&mut self) {
        match self {
            SmartTransport::Klap(c) => c.reset_session(),
            SmartTransport::Aes(c) => c.reset_session(),
            SmartTransport::Tpap(c) => c.reset_session(),
        }
    }

    fn pin(&mut self) {
        match self {
            SmartTransport::Klap(c) => c.pin(),
            SmartTransport::Aes(c) => c.pin(),
            SmartTransport::Tpap(c) => c.pin(),
        }
    }

    fn is_pinned(&self) -> bool {
        match self {
            SmartTransport::Klap(c) => c.is_pinned(),
            SmartTransport::Aes(c) => c.is_pinned(),
            SmartTransport::Tpap(c) => c.is_pinned(),
        }
    }
}

/// Pages of `get_child_device_list` we read at most. Devices send 10 children a page, and the
/// largest hubs have 64 children; 16 pages bound a device that never reaches its `sum`.
const MAX_CHILD_PAGES: usize = 16;

/// A client for a SMART device (Tapo, current Kasa), over KLAP or AES.
#[derive(Debug)]
pub struct SmartClient {
    pub(super) transport: SmartTransport,
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

    /// From now on a disruptive command goes only on the session established now, the one the
    /// caller just read the device's identity on; see [`crate::device::IotClient::pin`].
    pub fn pin(&mut self) {
        self.transport.pin();
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
                // The device refused the session, so it did not act; but a new session would
                // not be the one the identity was checked on.
                Err(smart::ResponseError::Device(e))
                    if e.is_session_expired() && self.transport.is_pinned() =>
                {
                    return Err(DeviceError::NotSent { op });
                }
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
            mac: crate::inventory::MacAddr::normalise(&dev.mac),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::credentials::Credentials;
    use crate::device::{DeviceClient, Link, ProtocolKind};
    use crate::protocol::iot::transport::Timeouts;

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
        assert_eq!(info.mac, "48:22:54:00:00:00");
        assert_eq!(info.bound, Some(true));
        assert_eq!(info.relay_on, None);
        let ids: Vec<_> = info.children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["80225E0A00", "80225E0A01", "80225E0A02"]);
        assert_eq!(info.children[1].on, Some(false));
        assert_eq!(info.children[2].alias, "Plug");
        assert_eq!(c.reboot().await, Ok(Ack::Acknowledged));
        c.set_relay(false, Some("80225E0A01")).await.unwrap();
        let err = c.factory_reset().await.unwrap_err();
        assert_eq!(err.reason(), crate::model::Reason::Unsupported, "{err}");
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
