//! Camera and doorbell clients: [`TapoCameraClient`] (SmartCam over SslAes) and
//! [`KasaCameraClient`] (IOT JSON over LINKIE2). Both read info and reboot with the camera's
//! own method. Neither has a local factory reset: no source shows one (camera reference §1,
//! §2), so it is a typed [`DeviceError::Unsupported`], never a guess; nor a relay to switch.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::{Ack, DeviceError, DeviceInfo};
use crate::inventory::MacAddr;
use crate::protocol::http::Sent;
use crate::protocol::linkie2::Linkie2Client;
use crate::protocol::linkie2::auth::Encoding;
use crate::protocol::smart;
use crate::protocol::sslaes::SslAesClient;
use crate::protocol::sslaes::messages::{BasicInfo, CamRequest, single_result};
use crate::protocol::tpap::session::TpapClient;

/// The field [`KasaCameraClient::info`] adds to the sysinfo it returns (and so to the run's
/// snapshot): which Basic-auth encoding the camera accepted, as [`Encoding::as_str`] words it.
/// Real firmware never sends a `fleetreset_` field.
pub const AUTH_ENCODING_FIELD: &str = "fleetreset_auth_encoding";

/// What a user is told when asked to factory-reset a camera.
pub const NO_LOCAL_RESET: &str = "cameras and doorbells have no known local factory reset (neither python-kasa nor pytapo sends one); reset it with its button or remove it in the app";

/// What carries a Tapo camera's SmartCam JSON. SslAes stays inline, as it was before TPAP;
/// TPAP is boxed so that a camera client is no larger than it was.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum CameraTransport {
    SslAes(SslAesClient),
    /// TPAP firmware; boxed, as a SMART device's is.
    Tpap(Box<TpapClient>),
}

impl CameraTransport {
    fn addr(&self) -> SocketAddr {
        match self {
            CameraTransport::SslAes(c) => c.addr(),
            CameraTransport::Tpap(c) => c.addr(),
        }
    }

    fn pin(&mut self) {
        match self {
            CameraTransport::SslAes(c) => c.pin(),
            CameraTransport::Tpap(c) => c.pin(),
        }
    }

    async fn call(&mut self, op: &'static str, json: &[u8]) -> Result<Vec<u8>, DeviceError> {
        match self {
            CameraTransport::SslAes(c) => c.call(op, json).await,
            CameraTransport::Tpap(c) => c.call(op, json).await,
        }
    }

    async fn command(&mut self, op: &'static str, json: &[u8]) -> Result<Sent, DeviceError> {
        match self {
            CameraTransport::SslAes(c) => c.command(op, json).await,
            CameraTransport::Tpap(c) => c.command(op, json).await,
        }
    }
}

/// A Tapo camera or doorbell.
#[derive(Debug)]
pub struct TapoCameraClient {
    pub(super) transport: CameraTransport,
}

impl TapoCameraClient {
    pub fn new(transport: SslAesClient) -> Self {
        TapoCameraClient {
            transport: CameraTransport::SslAes(transport),
        }
    }

    /// A camera on TPAP firmware.
    pub fn over_tpap(transport: TpapClient) -> Self {
        TapoCameraClient {
            transport: CameraTransport::Tpap(Box::new(transport)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.transport.addr()
    }

    pub fn pin(&mut self) {
        self.transport.pin();
    }

    /// `getDeviceInfo` basic info: model, MAC, alias (plain text), id, firmware. Cameras
    /// report no on-time and no cloud binding there, so `on_time` and `bound` stay unknown.
    pub async fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        let req = CamRequest::GetDeviceInfo;
        let raw = self.transport.call(req.method(), &req.to_bytes()).await?;
        let result =
            single_result(&raw, req.method()).map_err(|e| response_error(req.method(), e))?;
        let basic = BasicInfo::from_result(&result).map_err(|detail| DeviceError::Malformed {
            op: req.method(),
            detail,
        })?;
        Ok(DeviceInfo {
            model: basic.device_model,
            alias: basic.device_alias,
            mac: MacAddr::normalise(&basic.mac),
            device_id: basic.dev_id,
            kind: basic.device_type,
            relay_on: None,
            on_time: None,
            children: Vec::new(),
            bound: None,
            raw: result["device_info"]["basic_info"].clone(),
            cloud_raw: None,
        })
    }

    /// `rebootDevice {"system":{"reboot":"null"}}`, pytapo's camera reboot.
    pub async fn reboot(&mut self) -> Result<Ack, DeviceError> {
        let req = CamRequest::RebootDevice;
        match self
            .transport
            .command(req.method(), &req.to_bytes())
            .await?
        {
            Sent::NoReply { detail } => Ok(Ack::SentNoAck { detail }),
            Sent::Reply(raw) => single_result(&raw, req.method())
                .map(|_| Ack::Acknowledged)
                .map_err(|e| response_error(req.method(), e)),
        }
    }
}

/// A Kasa camera or the KD110 doorbell.
#[derive(Debug)]
pub struct KasaCameraClient {
    pub(super) transport: Linkie2Client,
}

const SYSINFO: &str = "system.get_sysinfo";
const REBOOT: &str = "smartlife.cam.ipcamera.system.set_reboot";

impl KasaCameraClient {
    pub fn new(transport: Linkie2Client) -> Self {
        KasaCameraClient { transport }
    }

    pub fn addr(&self) -> SocketAddr {
        self.transport.addr()
    }

    /// The Basic-auth encoding the camera accepted, once one has.
    pub fn matched(&self) -> Option<Encoding> {
        self.transport.matched()
    }

    /// `system.get_sysinfo`, which cameras nest one level deeper than plugs:
    /// `{"system":{"get_sysinfo":{"err_code":0,"system":{…}}}}`. `bind_status` is the cloud
    /// binding; [`AUTH_ENCODING_FIELD`] records the encoding that matched.
    pub async fn info(&mut self) -> Result<DeviceInfo, DeviceError> {
        let req = json!({"system": {"get_sysinfo": {}}});
        let raw = self.transport.call(SYSINFO, &to_bytes(&req)).await?;
        let reply: Value =
            serde_json::from_slice(&raw).map_err(|e| malformed(SYSINFO, &e.to_string()))?;
        let module = &reply["system"]["get_sysinfo"];
        check_err(SYSINFO, module)?;
        let sys = module.get("system").unwrap_or(module);
        let text = |k: &str| sys[k].as_str().unwrap_or_default().to_owned();
        if sys["model"].as_str().is_none() {
            return Err(malformed(SYSINFO, "sysinfo has no model"));
        }
        let mac = sys["mac"]
            .as_str()
            .or(sys["mic_mac"].as_str())
            .unwrap_or_default();
        let mut raw = sys.clone();
        if let (Some(o), Some(enc)) = (raw.as_object_mut(), self.matched()) {
            o.insert(AUTH_ENCODING_FIELD.into(), enc.as_str().into());
        }
        Ok(DeviceInfo {
            model: text("model"),
            alias: text("alias"),
            mac: MacAddr::normalise(mac),
            device_id: text("deviceId"),
            kind: text("type"),
            relay_on: None,
            on_time: None,
            children: Vec::new(),
            bound: sys["bind_status"].as_bool(),
            raw,
            cloud_raw: None,
        })
    }

    /// `smartlife.cam.ipcamera.system set_reboot {}` (DaveGut's camera drivers). The reply's
    /// shape is undocumented; an `err_code` of 0, or none, is an acknowledgement, unless the
    /// module (or the reply) carries an error of its own.
    pub async fn reboot(&mut self) -> Result<Ack, DeviceError> {
        let req = json!({"smartlife.cam.ipcamera.system": {"set_reboot": {}}});
        match self.transport.command(REBOOT, &to_bytes(&req)).await? {
            Sent::NoReply { detail } => Ok(Ack::SentNoAck { detail }),
            Sent::Reply(raw) => {
                let reply: Value =
                    serde_json::from_slice(&raw).map_err(|e| malformed(REBOOT, &e.to_string()))?;
                // Firmware without the module (or refusing the whole request) answers with an
                // `err_code` beside the method's place, not in it: that is a refusal too, not
                // an acknowledgement with nothing said.
                check_err(REBOOT, &reply)?;
                let module = &reply["smartlife.cam.ipcamera.system"];
                check_err(REBOOT, module)?;
                check_err(REBOOT, &module["set_reboot"])?;
                Ok(Ack::Acknowledged)
            }
        }
    }
}

/// An IOT module answer's `err_code`: 0 or absent is fine; -10008 ("Unsupported API call")
/// is unsupported; anything else a device error.
fn check_err(op: &'static str, module: &Value) -> Result<(), DeviceError> {
    match module.get("err_code").and_then(Value::as_i64) {
        None | Some(0) => Ok(()),
        Some(-10008) => Err(DeviceError::Unsupported {
            detail: format!("{op}: the camera says unsupported API call (-10008)"),
        }),
        Some(code) => Err(DeviceError::Device {
            op,
            code,
            // Device text: capped here, shown inert where it is displayed.
            msg: module["err_msg"]
                .as_str()
                .unwrap_or("no message")
                .chars()
                .take(200)
                .collect(),
        }),
    }
}

fn response_error(op: &'static str, e: smart::ResponseError) -> DeviceError {
    match e {
        smart::ResponseError::Device(e) => super::smart_error(op, e),
        smart::ResponseError::Shape(s) => malformed(op, &s),
    }
}

fn malformed(op: &'static str, detail: &str) -> DeviceError {
    DeviceError::Malformed {
        op,
        detail: detail.to_owned(),
    }
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a JSON value serialises")
}

/// The error for what cameras can't do locally.
pub fn no_reset() -> DeviceError {
    DeviceError::Unsupported {
        detail: NO_LOCAL_RESET.into(),
    }
}

/// The error for switching a camera's (non-existent) relay.
pub fn no_relay() -> DeviceError {
    DeviceError::Unsupported {
        detail: "cameras and doorbells have no relay to switch".into(),
    }
}
