//! Planning: each inventory row checked and turned into a [`DeviceSpec`] (model, protocol,
//! port, identity, faults, account) before anything is bound, with every row that can't be
//! served named.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::catalog::{self, Family};
use crate::credentials::{Credentials, Store};
use crate::device::ProtocolKind;
use crate::inventory::{Device, MacAddr};

use super::camera::{CameraKind, CameraProfile};
use super::fault::{self, Faults};
use super::model::Transport;
use super::profile::{self, Profile};
use super::smart_profile::{self, SmartProfile};
use super::state::Identity;

/// The inventory column a row's protocol comes from.
pub const PROTOCOL_COLUMN: &str = "protocol";

/// Why a row can't be simulated; `line` points into the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    pub message: String,
}

/// What a row's `protocol` column asks for: every word `run` accepts
/// (`engine::plan::protocol_column`), so an inventory rehearsed here runs as it was rehearsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// `klap`: IOT JSON over KLAP v1 or SMART JSON over KLAP v2, whichever the model speaks.
    Klap,
    /// One protocol: `iot` (or `xor`), `aes`, `iot-klap`, or one of the exact forms.
    Exact(ProtocolKind),
}

impl Asked {
    /// The asked protocol and the word the row wrote, for messages; `None` for `auto` or an
    /// empty cell, which leave it to the model.
    fn parse(cell: Option<&String>) -> Result<Option<(Asked, String)>, String> {
        let word = cell
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let asked = match word.as_str() {
            "" | "auto" => return Ok(None),
            "iot" | "xor" => Asked::Exact(ProtocolKind::Iot),
            "aes" => Asked::Exact(ProtocolKind::SmartAes),
            "tpap" => Asked::Exact(ProtocolKind::SmartTpap),
            "iot-klap" => Asked::Exact(ProtocolKind::IotKlapV1),
            "klap" => Asked::Klap,
            exact => Asked::Exact(
                exact
                    .parse::<ProtocolKind>()
                    .map_err(|e| format!("{PROTOCOL_COLUMN}: {e}"))?,
            ),
        };
        Ok(Some((asked, word)))
    }
}

/// The JSON dialect a device answers in, with its captured answers.
#[derive(Debug, Clone)]
pub enum Dialect {
    Iot {
        profile: Profile,
        family: Family,
    },
    Smart(SmartProfile),
    /// A camera or doorbell, over SslAes (Tapo) or LINKIE2 (Kasa).
    Camera(CameraProfile),
}

/// One row turned into a device description, before anything is bound.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub id: String,
    pub model: String,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub dialect: Dialect,
    pub identity: Identity,
    pub faults: Faults,
    pub boot_time: Duration,
    /// The account the device is bound to (its row's `credentials` profile); `None` leaves
    /// it unbound. `Credentials` never prints its password.
    pub account: Option<Credentials>,
    /// The row's `power_via`: the simulated plug or strip outlet it is powered by.
    pub power_via: Option<crate::inventory::PowerVia>,
}

/// Checks every row and builds the device specs, or lists every row that can't be served.
/// Rows that name a `credentials` profile need [`plan_with`].
pub fn plan(devices: &[Device]) -> Result<Vec<DeviceSpec>, Vec<RowProblem>> {
    plan_with(devices, &Store::default())
}

/// Like [`plan`], taking the accounts of rows with a `credentials` column from `credentials`.
pub fn plan_with(
    devices: &[Device],
    credentials: &Store,
) -> Result<Vec<DeviceSpec>, Vec<RowProblem>> {
    let mut specs = Vec::with_capacity(devices.len());
    let mut problems = Vec::new();
    // Discovery on UDP 20002/20004 can speak for one HTTP device per address.
    let mut http_ips: HashMap<IpAddr, String> = HashMap::new();
    for d in devices {
        let problem = |message: String| RowProblem {
            line: d.line,
            message: format!("{}: {message}", d.id),
        };
        match spec_for(d, credentials) {
            Ok(s) => {
                if s.transport.is_http() {
                    if let Some(first) = http_ips.get(&s.addr.ip()) {
                        problems.push(problem(format!(
                            "{} already has a KLAP or AES device ({first}); discovery on UDP 20002/20004 answers for one device per address, so give each its own 127.x.y.z",
                            s.addr.ip()
                        )));
                        continue;
                    }
                    http_ips.insert(s.addr.ip(), d.id.clone());
                }
                specs.push(s);
            }
            Err(message) => problems.push(problem(message)),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems)
    }
}

fn spec_for(d: &Device, credentials: &Store) -> Result<DeviceSpec, String> {
    let ip = match d.host.ip() {
        Some(ip) if ip.is_loopback() && ip.is_ipv4() => ip,
        Some(ip) => {
            return Err(format!(
                "host {ip} is not on loopback; the simulator serves only 127.0.0.0/8 addresses"
            ));
        }
        None => {
            return Err(format!(
                "host {:?} is a name; the simulator serves only literal 127.x.y.z addresses",
                d.host.name
            ));
        }
    };
    let model = d
        .model
        .clone()
        .unwrap_or_else(|| profile::DEFAULT_MODEL.to_string());
    let asked = Asked::parse(Some(&d.protocol.to_string()))?;
    let (transport, dialect) = dialect_for(&model, asked)?;
    let faults = match d.extra.get(fault::COLUMN) {
        Some(spec) => Faults::parse(spec).map_err(|e| format!("{}: {e}", fault::COLUMN))?,
        None => Faults::default(),
    };
    let misplaced = if transport.is_http() {
        faults.xor_only()
    } else {
        faults.login_only()
    };
    if !misplaced.is_empty() {
        return Err(format!(
            "{}: {} can't apply to a {} device; {}",
            fault::COLUMN,
            misplaced.join(", "),
            if transport.is_http() {
                "KLAP or AES"
            } else {
                "XOR"
            },
            if transport.is_http() {
                "those faults act on XOR frames"
            } else {
                "it has no login (use protocol klap or aes)"
            }
        ));
    }
    match (faults.announce, transport) {
        (None, _)
        | (Some(fault::Announced::Klap), Transport::Tpap)
        | (Some(fault::Announced::Tpap), Transport::KlapV2) => {}
        (Some(a), _) => {
            return Err(format!(
                "{}: announce={} can't apply to a {} device: announce=klap is for protocol tpap, announce=tpap for a SMART device on protocol klap",
                fault::COLUMN,
                a.as_str(),
                transport.describe()
            ));
        }
    }
    let account = match &d.credentials {
        Some(name) if transport.is_http() => Some(
            credentials
                .get(name)
                .map_err(|e| format!("credentials: {e}"))?,
        ),
        _ => None,
    };
    // The inventory's model string wins when it names a region; the capture's otherwise.
    let captured_model = match &dialect {
        Dialect::Iot { profile, .. } => profile.sysinfo()["model"].as_str().unwrap_or(&model),
        Dialect::Smart(p) => p.discovery_model(),
        Dialect::Camera(p) => p.captured_model(),
    }
    .to_string();
    let reported_model = if model.contains('(') {
        model.trim().to_string()
    } else {
        captured_model
    };
    let captured_mac = match &dialect {
        Dialect::Iot { profile, .. } => {
            let sys = profile.sysinfo();
            sys["mac"].as_str().or(sys["mic_mac"].as_str())
        }
        Dialect::Smart(p) => p.device_info()["mac"].as_str(),
        Dialect::Camera(p) => Some(p.captured_mac()),
    }
    .unwrap_or("50:C7:BF:00:00:00")
    .to_string();
    let identity = identity_for(d, &captured_mac, &reported_model);
    let boot_time = match &dialect {
        Dialect::Iot { profile, .. } => catalog::lookup(profile.base_model).boot_time,
        Dialect::Smart(_) => smart_profile::BOOT_TIME,
        Dialect::Camera(p) => catalog::lookup(p.base_model).boot_time,
    };
    Ok(DeviceSpec {
        id: d.id.clone(),
        model: reported_model,
        addr: SocketAddr::new(ip, d.host.port_or(transport.default_port())),
        transport,
        dialect,
        identity,
        faults,
        boot_time,
        account,
        power_via: d.power_via.clone(),
    })
}

/// Picks the transport and the captured answers for a model and what its row asked for
/// (with the word it wrote, for messages).
fn dialect_for(
    model: &str,
    asked: Option<(Asked, String)>,
) -> Result<(Transport, Dialect), String> {
    if let Some(camera) = CameraProfile::for_model(model) {
        return camera_dialect(model, camera, asked);
    }
    let iot = Profile::for_model(model).is_some();
    let smart = SmartProfile::for_model(model);
    if !iot && smart.is_none() {
        return Err(format!(
            "no simulator profile for model {model:?}; known: {}; SMART: {}",
            Profile::known_models().collect::<Vec<_>>().join(", "),
            SmartProfile::known_models().collect::<Vec<_>>().join(", ")
        ));
    }
    let iot_dialect = |klap: bool| {
        let profile = if klap {
            Profile::for_model_over_klap(model)
        } else {
            Profile::for_model(model)
        }
        .expect("checked above");
        let family = catalog::lookup(profile.base_model).family;
        Dialect::Iot { profile, family }
    };
    let (protocol, word) = match asked {
        // A model with both captures (the EP25) is served as its IOT hardware unless asked.
        None if iot => (ProtocolKind::Iot, None),
        None => (ProtocolKind::SmartKlap, None),
        // As `run` reads `klap`: SMART where the model has a SMART capture, IOT otherwise.
        Some((Asked::Klap, word)) if smart.is_some() => (ProtocolKind::SmartKlap, Some(word)),
        Some((Asked::Klap, word)) => (ProtocolKind::IotKlapV1, Some(word)),
        Some((Asked::Exact(p), word)) => (p, Some(word)),
    };
    let word = word.unwrap_or_else(|| protocol.as_str().to_string());
    match (protocol, smart) {
        (ProtocolKind::Iot, _) if iot => Ok((Transport::Xor, iot_dialect(false))),
        (ProtocolKind::IotKlapV1, _) if iot => Ok((Transport::KlapV1, iot_dialect(true))),
        (ProtocolKind::IotKlapV2, _) if iot => Ok((Transport::KlapV2, iot_dialect(true))),
        (ProtocolKind::Iot | ProtocolKind::IotKlapV1 | ProtocolKind::IotKlapV2, _) => Err(format!(
            "{model} is a SMART (Tapo) model: it speaks klap or aes (smart-klap, smart-aes), not {word}"
        )),
        (ProtocolKind::SmartKlap, Some(p)) => Ok((Transport::KlapV2, Dialect::Smart(p))),
        (ProtocolKind::SmartAes, Some(p)) => Ok((Transport::Aes, Dialect::Smart(p))),
        (ProtocolKind::SmartTpap, Some(p)) => Ok((Transport::Tpap, Dialect::Smart(p))),
        (ProtocolKind::SmartKlap | ProtocolKind::SmartAes | ProtocolKind::SmartTpap, None) => {
            Err(format!(
                "{model} is a legacy Kasa (IOT) model: {word} carries SMART JSON only; use iot or klap (iot-klap-v1, iot-klap-v2)"
            ))
        }
        (ProtocolKind::SslAes | ProtocolKind::CameraTpap | ProtocolKind::Linkie2, _) => {
            Err(format!(
                "{model} is not a camera or doorbell with a simulator profile (cameras: {}), so it can't speak {word}",
                CameraProfile::known_models().collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

/// A camera speaks its own transport only: `auto` or that transport's word.
fn camera_dialect(
    model: &str,
    camera: CameraProfile,
    asked: Option<(Asked, String)>,
) -> Result<(Transport, Dialect), String> {
    let (transport, own) = match camera.kind {
        CameraKind::Tapo => (Transport::SslAes, ProtocolKind::SslAes),
        CameraKind::Kasa => (Transport::Linkie2, ProtocolKind::Linkie2),
    };
    match asked {
        None => Ok((transport, Dialect::Camera(camera))),
        Some((Asked::Exact(p), _)) if p == own => Ok((transport, Dialect::Camera(camera))),
        // A Tapo camera on TPAP firmware: TPAP over the same TLS listener.
        Some((Asked::Exact(ProtocolKind::SmartTpap | ProtocolKind::CameraTpap), _))
            if camera.kind == CameraKind::Tapo =>
        {
            Ok((
                transport,
                Dialect::Camera(CameraProfile {
                    tpap: true,
                    ..camera
                }),
            ))
        }
        Some((_, word)) => Err(format!(
            "{model} is a camera or doorbell: it speaks {own}{} only, not {word}",
            if camera.kind == CameraKind::Tapo {
                " (or tpap, on TPAP firmware)"
            } else {
                ""
            }
        )),
    }
}

/// A stable identity from the row: its MAC if given (else the capture's vendor prefix and a
/// suffix from the id), and ids derived from the row id, so reruns see the same device.
fn identity_for(d: &Device, captured_mac: &str, model: &str) -> Identity {
    let seed = fnv1a(d.id.as_bytes());
    let mac = d.mac.unwrap_or_else(|| {
        let mut bytes = captured_mac
            .parse::<MacAddr>()
            .map(|m| m.0)
            .unwrap_or([0x50, 0xC7, 0xBF, 0, 0, 0]);
        bytes[3..].copy_from_slice(&seed.to_be_bytes()[5..]);
        MacAddr(bytes)
    });
    Identity {
        model: model.to_string(),
        alias: d
            .extra
            .get("alias")
            .cloned()
            .unwrap_or_else(|| d.id.clone()),
        mac,
        device_id: hex_id(seed, 40),
        hw_id: hex_id(seed ^ 0x5bd1_e995, 32),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `len` upper-case hex digits drawn from a seed.
fn hex_id(seed: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut h = seed;
    while out.len() < len {
        h = fnv1a(&h.to_le_bytes());
        out.push_str(&format!("{h:016X}"));
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests;
