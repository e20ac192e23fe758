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
//! - [`server`], [`http`], [`udp`]: TCP (XOR frames or HTTP), UDP and the device life cycle.
//! - [`listen`], [`shared`]: the sockets' layout: each device's own, or one per port for the
//!   fleet (chosen when per-device sockets would take over half the open-file limit).
//! - [`journal`]: the file of what the devices received.
//! - [`camera`]: cameras and doorbells over HTTPS (SslAes, LINKIE2), with their own TLS.
//! - [`power`]: the power graph: a row's `power_via` plug or outlet powers it.
//!
//! Every device gets its own loopback address, so the real default ports work and python-kasa
//! can reach each one by IP. Non-loopback rows are refused: the simulator must never answer
//! for, or shadow, a real device. A small fleet binds sockets at each device's address; a
//! large one (or `--shared-listeners`) one socket per port on the loopback interface, told
//! apart by the address a client reached ([`shared`]). A dark device refuses connections in
//! the first layout and resets them in the second.
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
mod build;
pub mod camera;
pub mod discovery;
pub mod fault;
pub mod http;
pub mod journal;
pub mod klap;
pub mod listen;
pub mod model;
pub mod phase;
mod pktinfo;
pub mod plan;
pub mod power;
pub mod profile;
pub mod relay;
pub mod server;
pub mod shared;
pub mod smart;
pub mod smart_profile;
pub mod state;
pub mod tpap;
pub mod udp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use model::Transport;
use server::SimDevice;
use shared::SharedListeners;

pub use journal::{Journal, JournalHandle};
pub use listen::{ListenMode, Listeners};
pub use plan::{DeviceSpec, Dialect, PROTOCOL_COLUMN, RowProblem, plan, plan_with};

/// Largest time scale accepted: slower than real time is allowed, within reason.
pub const MAX_TIME_SCALE: f64 = 100.0;

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
    mode: ListenMode,
    sockets: usize,
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

/// How a simulator starts, past its devices and time scale.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Where every reboot and reset a device receives is written.
    pub journal: Option<Arc<Journal>>,
    pub listeners: Listeners,
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
        let options = StartOptions {
            journal,
            ..StartOptions::default()
        };
        Simulator::start_options(specs, time_scale, options).await
    }

    /// Like [`Simulator::start`], with a journal and a listener layout ([`listen`]).
    pub async fn start_options(
        specs: Vec<DeviceSpec>,
        time_scale: f64,
        options: StartOptions,
    ) -> Result<Simulator, StartError> {
        if !(time_scale.is_finite() && time_scale > 0.0 && time_scale <= MAX_TIME_SCALE) {
            return Err(StartError::TimeScale(time_scale));
        }
        let own_sockets = specs
            .iter()
            .filter(|s| !s.faults.offline)
            .map(|s| listen::per_device_sockets(s.addr, s.transport))
            .sum();
        let mode = listen::choose(options.listeners, own_sockets, listen::soft_open_files());
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let now = Instant::now();
        // The outlets that power another row start on.
        let mut feeding: HashMap<String, Vec<usize>> = HashMap::new();
        for via in specs.iter().filter_map(|s| s.power_via.as_ref()) {
            let index = usize::from(via.outlet.unwrap_or(1)) - 1;
            feeding.entry(via.id.clone()).or_default().push(index);
        }
        let mut devices = Vec::with_capacity(specs.len());
        let mut endpoints = Vec::with_capacity(specs.len());
        let mut powered_by = Vec::new();
        for spec in specs {
            endpoints.push(Endpoint {
                id: spec.id.clone(),
                model: spec.model.clone(),
                addr: spec.addr,
                transport: spec.transport,
                faults: spec.faults.describe(),
                offline: spec.faults.offline,
            });
            if let Some(via) = &spec.power_via {
                powered_by.push((devices.len(), via.clone()));
            }
            let powering = feeding.get(&spec.id).map_or(&[][..], Vec::as_slice);
            let dev = build::device(spec, time_scale, now, options.journal.as_ref(), powering);
            devices.push(Arc::new(dev));
        }
        let serving: Vec<Arc<SimDevice>> = devices
            .iter()
            .zip(&endpoints)
            .filter(|(_, e)| !e.offline)
            .map(|(d, _)| Arc::clone(d))
            .collect();
        let sockets = match mode {
            ListenMode::PerDevice => {
                let mut bound = Vec::with_capacity(serving.len());
                for dev in serving {
                    let (tcp, udp) = bind_own(&dev).await?;
                    bound.push((dev, tcp, udp));
                }
                let sockets = bound.iter().map(|(_, _, udp)| 1 + udp.len()).sum();
                for (dev, tcp, udp) in bound {
                    tasks.spawn(server::run_tcp(Arc::clone(&dev), tcp, stop_rx.clone()));
                    for socket in udp {
                        tasks.spawn(udp::run(Arc::clone(&dev), socket, stop_rx.clone()));
                    }
                }
                sockets
            }
            ListenMode::Shared => {
                let shared = SharedListeners::bind(&serving)?;
                let sockets = shared.sockets();
                shared.serve(&mut tasks, &stop_rx);
                sockets
            }
        };
        // Devices powered by a simulated plug or strip outlet follow its relay.
        let by_id: HashMap<&str, &Arc<SimDevice>> =
            devices.iter().map(|d| (d.id.as_str(), d)).collect();
        for (at, via) in &powered_by {
            let Some(feed) = by_id.get(via.id.as_str()).and_then(|f| f.feed.as_ref()) else {
                continue;
            };
            let index = usize::from(via.outlet.unwrap_or(1)) - 1;
            tasks.spawn(power::follow(
                Arc::clone(&devices[*at]),
                feed.subscribe(),
                index,
                stop_rx.clone(),
            ));
        }
        release_freed_memory();
        Ok(Simulator {
            devices,
            endpoints,
            mode,
            sockets,
            stop,
            tasks,
        })
    }

    /// The listener layout it runs with.
    pub fn listen_mode(&self) -> ListenMode {
        self.mode
    }

    /// Listening sockets it bound, TCP and UDP.
    pub fn sockets(&self) -> usize {
        self.sockets
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

/// Binds a device's own TCP listener and UDP sockets at its address.
async fn bind_own(dev: &SimDevice) -> Result<(TcpListener, Vec<UdpSocket>), StartError> {
    let tcp = TcpListener::bind(dev.addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied && dev.addr.port() < 1024 {
            StartError::Privileged {
                id: dev.id.clone(),
                addr: dev.addr,
            }
        } else {
            StartError::Tcp {
                id: dev.id.clone(),
                addr: dev.addr,
                source,
            }
        }
    })?;
    let mut udp = Vec::new();
    for addr in listen::udp_addrs(dev.addr, dev.transport) {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| StartError::Udp {
                id: dev.id.clone(),
                addr,
                source,
            })?;
        udp.push(socket);
    }
    Ok((tcp, udp))
}

/// Gives the allocator's free pages back to the kernel: building a fleet of 100,000 frees
/// the specs it was built from (some 50 MB), which glibc would otherwise keep resident.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Is this address one the simulator may use?
pub fn is_simulatable(ip: IpAddr) -> bool {
    ip.is_loopback() && ip.is_ipv4()
}
