//! The simulator: serves inventory rows on loopback as devices that speak the real protocols.
//!
//! - [`profile`], [`smart_profile`]: per-model answers taken from real captures (IOT, SMART).
//! - [`state`], [`smart`]: one device's state and request handling (IOT JSON, SMART JSON),
//!   without I/O; [`relay`] is the on/off state and on-time they share.
//! - [`mod@plan`]: inventory rows checked and turned into device specs.
//! - [`model`]: a device as its server sees it: its dialect, transport, account and sessions.
//! - [`klap`], [`aes`]: the device side of the KLAP and AES transports, without I/O.
//! - [`account`]: whose login a device accepts, failed logins and lockout.
//! - [`discovery`]: the UDP 20002/20004 probe and reply, without I/O.
//! - [`fault`]: fault injection from the `sim_fault` column.
//! - [`server`], [`http`]: TCP (XOR frames or HTTP), UDP and the device life cycle.
//! - [`camera`]: cameras and doorbells over HTTPS (SslAes, LINKIE2), with their own TLS.
//! - [`power`]: the power graph: a row's `power_via` plug or outlet powers it.
//!
//! Every device gets its own loopback address, so the real default ports work and python-kasa
//! can reach each one by IP. Non-loopback rows are refused: the simulator must never answer
//! for, or shadow, a real device.
//!
//! Which protocol a row speaks comes from its optional `protocol` column: `iot` (XOR on TCP
//! 9999, the default for legacy Kasa models), `klap` (the default for SMART models: KLAP v2
//! carrying SMART JSON; for an IOT model, KLAP v1 carrying IOT JSON, like the HS100 hardware
//! 4.1) or `aes` (SMART JSON in AES `securePassthrough`). KLAP and AES devices serve HTTP on
//! the row's port (80 by default) and answer discovery on UDP 20002 and 20004, whose reply
//! names that port. EP25 exists as both: hardware 1.0 speaks `iot`, hardware 2.6 (SMART)
//! `klap` or `aes`. Ports below 1024 need root, so other users give HTTP rows a port
//! (`127.0.0.5:8080`); binding 80 without root fails with [`StartError::Privileged`], which
//! says so.
//!
//! Cameras and doorbells with a capture ([`camera::profile`]: Tapo C210 and D130, Kasa EC60)
//! speak their own transport whatever the column says (`auto`, `sslaes` or `linkie2`): Tapo
//! over SslAes on HTTPS 443 with discovery on 20002/20004, Kasa over LINKIE2 on HTTPS 10443
//! (static-RSA suites over TLS 1.2 only) with discovery on UDP 9999, each with a self-signed
//! certificate the simulator makes at start. Give them a port above 1024 to run without root.
//!
//! A row's `credentials` column names the account the device is bound to, from the
//! credentials store the simulator is given; without one the device is unbound and accepts
//! blank logins (see [`account`]).

pub mod account;
pub mod aes;
pub mod camera;
pub mod discovery;
pub mod fault;
pub mod http;
pub mod klap;
pub mod model;
pub mod plan;
pub mod power;
pub mod profile;
pub mod relay;
pub mod server;
pub mod smart;
pub mod smart_profile;
pub mod state;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use account::Account;
use model::{Model, SimState, Transport};
use server::{Phase, SimDevice};
use smart::SmartState;
use state::DeviceState;

pub use plan::{DeviceSpec, Dialect, PROTOCOL_COLUMN, RowProblem, plan, plan_with};

/// Largest time scale accepted: slower than real time is allowed, within reason.
pub const MAX_TIME_SCALE: f64 = 100.0;

/// A file of what the simulated devices received, one line each:
/// `<RFC 3339 time> <device id> <reboot|reset|login_failed|discovery>`: every disruptive
/// command, failed login and discovery probe; and the power graph's `outlet_off N`,
/// `outlet_on N`, `power_lost` and `power_back` ([`power`]). Lets a rehearsal (or a test) prove what each
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

/// One device's way into a [`Journal`], with the row id its lines carry. Writes nothing when
/// the simulator keeps no journal.
#[derive(Debug, Clone, Default)]
pub struct JournalHandle {
    row_id: String,
    journal: Option<Arc<Journal>>,
}

impl JournalHandle {
    pub fn new(row_id: String, journal: Option<Arc<Journal>>) -> JournalHandle {
        JournalHandle { row_id, journal }
    }

    /// Appends `<time> <row id> <command>`.
    pub fn record(&self, command: &str) {
        if let Some(j) = &self.journal {
            j.record(&self.row_id, command);
        }
    }

    /// The row id, for log lines.
    pub fn device(&self) -> &str {
        &self.row_id
    }
}

/// Where one simulated device listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub model: String,
    pub addr: SocketAddr,
    pub transport: Transport,
    /// The row's faults, as [`fault::Faults::describe`] writes them.
    pub faults: String,
    /// The row has the `offline` fault: nothing listens. Read this rather than searching
    /// `faults`, whose `err_msg` text may say anything.
    pub offline: bool,
}

impl Endpoint {
    /// How the device is reached, for the listing: `tcp+udp`, or `klap v2 + udp 20002/20004`.
    pub fn listens(&self) -> String {
        if self.transport == Transport::Linkie2 {
            let port = crate::protocol::discovery::IOT_PORT;
            format!("{} + udp {port}", self.transport.describe())
        } else if self.transport.is_http() {
            let [a, b] = discovery::PORTS;
            format!("{} + udp {a}/{b}", self.transport.describe())
        } else {
            self.transport.describe().to_string()
        }
    }
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
    #[error(
        "cannot listen on {addr} for device {id}: ports below 1024 need root (or CAP_NET_BIND_SERVICE). Give the row's host a port, e.g. {}:8080; python-kasa then finds it by discovery, or with --port 8080",
        addr.ip()
    )]
    Privileged { id: String, addr: SocketAddr },
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
        let mut powered_by = Vec::new();
        // The outlets that power another row start on.
        let feeding: Vec<(String, usize)> = specs
            .iter()
            .filter_map(|s| s.power_via.as_ref())
            .map(|via| (via.id.clone(), usize::from(via.outlet.unwrap_or(1)) - 1))
            .collect();
        for spec in specs {
            let offline = spec.faults.offline;
            endpoints.push(Endpoint {
                id: spec.id.clone(),
                model: spec.model.clone(),
                addr: spec.addr,
                transport: spec.transport,
                faults: spec.faults.describe(),
                offline,
            });
            let (phase, _) = watch::channel(if offline { Phase::Dark } else { Phase::Online });
            let journal = JournalHandle::new(spec.id.clone(), journal.clone());
            let account = Account::new(spec.account, &spec.faults).with_journal(journal.clone());
            let model = match spec.dialect {
                Dialect::Iot { profile, family } => Model::Iot(
                    DeviceState::new(profile, family, spec.identity, spec.faults, time_scale, now)
                        .with_journal(journal.clone())
                        // An XOR device has no login to tell bound from unbound; it stays bound.
                        .with_binding(!spec.transport.is_http() || account.has_owner()),
                ),
                Dialect::Smart(profile) => Model::Smart(
                    SmartState::new(
                        profile,
                        spec.identity,
                        spec.addr.ip(),
                        spec.faults,
                        time_scale,
                        now,
                        account.has_owner(),
                    )
                    .with_journal(journal.clone()),
                ),
                Dialect::Camera(profile) => Model::Camera(
                    camera::CameraState::new(
                        profile,
                        spec.identity,
                        spec.faults,
                        account.has_owner(),
                        time_scale,
                        now,
                    )
                    .with_journal(journal.clone()),
                ),
            };
            let mut sim_state =
                SimState::new(model, spec.transport, account, time_scale, spec.addr);
            for (_, index) in feeding.iter().filter(|(id, _)| *id == spec.id) {
                sim_state.start_powering(*index, now);
            }
            let (outputs, _) = watch::channel(sim_state.outputs());
            powered_by.push(spec.power_via.clone());
            let dev = Arc::new(SimDevice {
                id: spec.id.clone(),
                model: spec.model,
                addr: spec.addr,
                scale: time_scale,
                boot_time: spec.boot_time,
                transport: spec.transport,
                state: Mutex::new(sim_state),
                phase,
                connections: Arc::new(Semaphore::new(server::MAX_CONNECTIONS_PER_DEVICE)),
                journal: journal.clone(),
                outputs,
            });
            devices.push(Arc::clone(&dev));
            if offline {
                continue;
            }
            let tcp = TcpListener::bind(spec.addr).await.map_err(|source| {
                if source.kind() == std::io::ErrorKind::PermissionDenied && spec.addr.port() < 1024
                {
                    StartError::Privileged {
                        id: spec.id.clone(),
                        addr: spec.addr,
                    }
                } else {
                    StartError::Tcp {
                        id: spec.id.clone(),
                        addr: spec.addr,
                        source,
                    }
                }
            })?;
            // XOR devices answer discovery on their own port; HTTP devices on 20002 and 20004;
            // Kasa cameras on the legacy 9999.
            let udp_addrs: Vec<SocketAddr> = if spec.transport == Transport::Linkie2 {
                vec![SocketAddr::new(
                    spec.addr.ip(),
                    crate::protocol::discovery::IOT_PORT,
                )]
            } else if spec.transport.is_http() {
                discovery::PORTS
                    .iter()
                    .map(|&p| SocketAddr::new(spec.addr.ip(), p))
                    .collect()
            } else {
                vec![spec.addr]
            };
            let mut udp = Vec::new();
            for addr in udp_addrs {
                udp.push(
                    UdpSocket::bind(addr)
                        .await
                        .map_err(|source| StartError::Udp {
                            id: spec.id.clone(),
                            addr,
                            source,
                        })?,
                );
            }
            bound.push((dev, tcp, udp));
        }
        // Devices powered by a simulated plug or strip outlet follow its relay.
        let by_id: std::collections::HashMap<&str, &Arc<SimDevice>> =
            devices.iter().map(|d| (d.id.as_str(), d)).collect();
        for (dev, via) in devices.iter().zip(&powered_by) {
            let Some(via) = via else { continue };
            let Some(feeder) = by_id.get(via.id.as_str()) else {
                continue;
            };
            let index = usize::from(via.outlet.unwrap_or(1)) - 1;
            tasks.spawn(power::follow(
                Arc::clone(dev),
                feeder.outputs.subscribe(),
                index,
                stop_rx.clone(),
            ));
        }
        for (dev, tcp, udp) in bound {
            tasks.spawn(server::run_tcp(Arc::clone(&dev), tcp, stop_rx.clone()));
            for socket in udp {
                if dev.transport.answers_new_discovery() {
                    tasks.spawn(server::run_discovery(
                        Arc::clone(&dev),
                        socket,
                        stop_rx.clone(),
                    ));
                } else {
                    tasks.spawn(server::run_udp(Arc::clone(&dev), socket, stop_rx.clone()));
                }
            }
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
