//! The simulator: serves inventory rows on loopback as devices that speak the real protocols.
//!
//! - [`profile`]: per-model answers taken from real captures.
//! - [`state`]: one device's state and request handling, without I/O.
//! - [`fault`]: fault injection from the `sim_fault` column.
//! - [`server`]: TCP, UDP and the device life cycle.
//!
//! Every device gets its own loopback address, so the real default ports work and python-kasa
//! can reach each one by IP. Non-loopback rows are refused: the simulator must never answer
//! for, or shadow, a real device.

pub mod fault;
pub mod profile;
pub mod server;
pub mod state;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::catalog;
use crate::inventory::{Device, MacAddr};
use crate::protocol::iot::DEFAULT_PORT;

use fault::Faults;
use profile::Profile;
use server::{Phase, SimDevice};
use state::{DeviceState, Identity};

/// Largest time scale accepted: slower than real time is allowed, within reason.
pub const MAX_TIME_SCALE: f64 = 100.0;

/// Why a row can't be simulated; `line` points into the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    pub message: String,
}

/// One row turned into a device description, before anything is bound.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub id: String,
    pub model: String,
    pub addr: SocketAddr,
    pub profile: Profile,
    pub identity: Identity,
    pub faults: Faults,
    pub boot_time: Duration,
}

/// Checks every row and builds the device specs, or lists every row that can't be served.
pub fn plan(devices: &[Device]) -> Result<Vec<DeviceSpec>, Vec<RowProblem>> {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for d in devices {
        match spec_for(d) {
            Ok(s) => specs.push(s),
            Err(message) => problems.push(RowProblem {
                line: d.line,
                message: format!("{}: {message}", d.id),
            }),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems)
    }
}

fn spec_for(d: &Device) -> Result<DeviceSpec, String> {
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
    let profile = Profile::for_model(&model).ok_or_else(|| {
        format!(
            "no simulator profile for model {model:?}; known: {}",
            Profile::known_models().collect::<Vec<_>>().join(", ")
        )
    })?;
    let faults = match d.extra.get(fault::COLUMN) {
        Some(spec) => Faults::parse(spec).map_err(|e| format!("{}: {e}", fault::COLUMN))?,
        None => Faults::default(),
    };
    // The inventory's model string wins when it names a region; the capture's otherwise.
    let reported_model = if model.contains('(') {
        model.trim().to_string()
    } else {
        profile.sysinfo()["model"]
            .as_str()
            .unwrap_or(&model)
            .to_string()
    };
    let identity = identity_for(d, &profile, &reported_model);
    Ok(DeviceSpec {
        id: d.id.clone(),
        model: reported_model,
        addr: SocketAddr::new(ip, d.host.port_or(DEFAULT_PORT)),
        boot_time: catalog::lookup(profile.base_model).boot_time,
        profile,
        identity,
        faults,
    })
}

/// A stable identity from the row: its MAC if given (else the capture's vendor prefix and a
/// suffix from the id), and ids derived from the row id, so reruns see the same device.
fn identity_for(d: &Device, profile: &Profile, model: &str) -> Identity {
    let seed = fnv1a(d.id.as_bytes());
    let mac = d.mac.unwrap_or_else(|| {
        let sys = profile.sysinfo();
        let captured = sys["mac"]
            .as_str()
            .or(sys["mic_mac"].as_str())
            .unwrap_or("50:C7:BF:00:00:00");
        let mut bytes = captured
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

/// A file of every disruptive command the simulated devices received, one line each:
/// `<RFC 3339 time> <device id> <reboot|reset>`. Lets a rehearsal (or a test) prove what each
/// device was actually sent, independently of what the runner recorded.
#[derive(Debug)]
pub struct Journal {
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Opens (appending) or creates the journal file.
    pub fn open(path: &std::path::Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Journal {
            file: Mutex::new(file),
        })
    }

    /// Appends one line, flushed at once so a crash of anything else loses nothing.
    pub fn record(&self, device: &str, command: &str) {
        use std::io::Write;
        let line = format!("{} {device} {command}\n", chrono::Utc::now().to_rfc3339());
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::error!("cannot write the simulator journal: {e}");
        }
    }
}

/// Where one simulated device listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub model: String,
    pub addr: SocketAddr,
    pub faults: String,
}

/// A running simulator. Dropping it without [`Simulator::shutdown`] leaves the tasks running
/// until the runtime ends.
pub struct Simulator {
    devices: Vec<Arc<SimDevice>>,
    endpoints: Vec<Endpoint>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} (TCP) for device {id}")]
    Tcp {
        id: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} (UDP) for device {id}")]
    Udp {
        id: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("time scale must be a number above 0 and at most {MAX_TIME_SCALE}, got {0}")]
    TimeScale(f64),
}

impl Simulator {
    /// Binds every device's sockets, then starts serving. On any bind error nothing keeps running.
    pub async fn start(specs: Vec<DeviceSpec>, time_scale: f64) -> Result<Simulator, StartError> {
        Simulator::start_with(specs, time_scale, None).await
    }

    /// Like [`Simulator::start`], writing every reboot and reset a device receives to `journal`.
    pub async fn start_with(
        specs: Vec<DeviceSpec>,
        time_scale: f64,
        journal: Option<Arc<Journal>>,
    ) -> Result<Simulator, StartError> {
        if !(time_scale.is_finite() && time_scale > 0.0 && time_scale <= MAX_TIME_SCALE) {
            return Err(StartError::TimeScale(time_scale));
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut devices = Vec::new();
        let mut endpoints = Vec::new();
        let now = Instant::now();
        let mut bound = Vec::new();
        for spec in specs {
            let family = catalog::lookup(spec.profile.base_model).family;
            let offline = spec.faults.offline;
            endpoints.push(Endpoint {
                id: spec.id.clone(),
                model: spec.model.clone(),
                addr: spec.addr,
                faults: spec.faults.describe(),
            });
            let (phase, _) = watch::channel(if offline { Phase::Dark } else { Phase::Online });
            let dev = Arc::new(SimDevice {
                id: spec.id.clone(),
                model: spec.model,
                addr: spec.addr,
                scale: time_scale,
                boot_time: spec.boot_time,
                state: Mutex::new(
                    DeviceState::new(
                        spec.profile,
                        family,
                        spec.identity,
                        spec.faults,
                        time_scale,
                        now,
                    )
                    .with_journal(spec.id.clone(), journal.clone()),
                ),
                phase,
            });
            devices.push(Arc::clone(&dev));
            if offline {
                continue;
            }
            let tcp = TcpListener::bind(spec.addr)
                .await
                .map_err(|source| StartError::Tcp {
                    id: spec.id.clone(),
                    addr: spec.addr,
                    source,
                })?;
            let udp = UdpSocket::bind(spec.addr)
                .await
                .map_err(|source| StartError::Udp {
                    id: spec.id.clone(),
                    addr: spec.addr,
                    source,
                })?;
            bound.push((dev, tcp, udp));
        }
        for (dev, tcp, udp) in bound {
            tasks.spawn(server::run_tcp(Arc::clone(&dev), tcp, stop_rx.clone()));
            tasks.spawn(server::run_udp(dev, udp, stop_rx.clone()));
        }
        Ok(Simulator {
            devices,
            endpoints,
            stop,
            tasks,
        })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The device served at `addr`, for tests that look at its state.
    pub fn device(&self, addr: SocketAddr) -> Option<&Arc<SimDevice>> {
        self.devices.iter().find(|d| d.addr == addr)
    }

    /// Stops every device and waits for their tasks.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Is this address one the simulator may use?
pub fn is_simulatable(ip: IpAddr) -> bool {
    ip.is_loopback() && ip.is_ipv4()
}
