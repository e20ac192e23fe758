//! Shared listeners: one TCP listener and one UDP socket per port for the whole fleet, bound to
//! `0.0.0.0:PORT` but held to the loopback interface (`SO_BINDTODEVICE "lo"`), so a fleet of
//! 100,000 devices takes a handful of sockets. Each connection or datagram is told apart by
//! the local address it arrived on, looked up in a map built at start; one for an address the
//! simulator doesn't serve is dropped at once.
//!
//! Unlike a device's own listener, which it drops while dark so that connects are refused, a
//! shared listener can't refuse one address: it accepts the connection to a dark device and
//! resets it at once (`SO_LINGER` 0), so a client sees a device that doesn't answer. UDP is
//! as in per-device mode: a dark device hears nothing.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::StartError;
use super::listen::udp_addrs;
use super::pktinfo;
use super::server::{self, Phase, Shutdown, SimDevice, stopped};
use super::udp;

/// Client connections the shared listeners serve at once, over the whole fleet; further
/// clients wait in the kernel's backlog. A run at `--rate 500` holds a few hundred open; 4096
/// leaves room for python-kasa and tests alongside, and stays far below the open-file limits
/// that make the simulator choose shared listeners (20,000 on the benchmark machine).
pub const MAX_SHARED_CONNECTIONS: usize = 4096;

/// Pending connections each shared listener lets the kernel queue (capped by `somaxconn`): a
/// fleet's worth of clients connect to one socket.
const BACKLOG: i32 = 4096;

/// The interface shared sockets are held to.
const LOOPBACK: &[u8] = b"lo";

/// The devices one shared socket serves, by the local address a client reached.
type Fleet = HashMap<Ipv4Addr, Arc<SimDevice>>;

/// The bound shared sockets, before they serve.
pub struct SharedListeners {
    tcp: Vec<(TcpListener, Arc<Fleet>)>,
    udp: Vec<(UdpSocket, Arc<Fleet>)>,
}

impl SharedListeners {
    /// Binds one TCP listener per TCP port and one UDP socket per UDP port the devices use.
    /// `devices` are those that serve at all (an `offline` row has nothing listening, so a
    /// connection to it is dropped like one to an address nobody serves).
    pub fn bind(devices: &[Arc<SimDevice>]) -> Result<SharedListeners, StartError> {
        let mut tcp_ports: BTreeMap<u16, Fleet> = BTreeMap::new();
        let mut udp_ports: BTreeMap<u16, Fleet> = BTreeMap::new();
        for dev in devices {
            let IpAddr::V4(ip) = dev.addr.ip() else {
                continue;
            };
            let in_use = |addr| {
                io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{addr} is served by another device"),
                )
            };
            if tcp_ports
                .entry(dev.addr.port())
                .or_default()
                .insert(ip, Arc::clone(dev))
                .is_some()
            {
                return Err(StartError::Tcp {
                    id: dev.id.clone(),
                    addr: dev.addr,
                    source: in_use(dev.addr),
                });
            }
            for addr in udp_addrs(dev.addr, dev.transport) {
                let fleet = udp_ports.entry(addr.port()).or_default();
                if fleet.insert(ip, Arc::clone(dev)).is_some() {
                    return Err(StartError::Udp {
                        id: dev.id.clone(),
                        addr,
                        source: in_use(addr),
                    });
                }
            }
        }
        let mut tcp = Vec::new();
        for (port, fleet) in tcp_ports {
            let listener = tcp_listener(port).map_err(|source| {
                let first = fleet.values().next().expect("a port has a device");
                if source.kind() == io::ErrorKind::PermissionDenied && port < 1024 {
                    StartError::Privileged {
                        id: first.id.clone(),
                        addr: first.addr,
                    }
                } else {
                    StartError::Tcp {
                        id: first.id.clone(),
                        addr: wildcard(port),
                        source,
                    }
                }
            })?;
            tcp.push((listener, Arc::new(fleet)));
        }
        let mut udp = Vec::new();
        for (port, fleet) in udp_ports {
            let socket = udp_socket(port).map_err(|source| StartError::Udp {
                id: fleet
                    .values()
                    .next()
                    .expect("a port has a device")
                    .id
                    .clone(),
                addr: wildcard(port),
                source,
            })?;
            udp.push((socket, Arc::new(fleet)));
        }
        Ok(SharedListeners { tcp, udp })
    }

    /// Sockets bound, TCP and UDP.
    pub fn sockets(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    /// Starts one task per socket.
    pub fn serve(self, tasks: &mut JoinSet<()>, shutdown: &Shutdown) {
        let open = Arc::new(Semaphore::new(MAX_SHARED_CONNECTIONS));
        for (listener, fleet) in self.tcp {
            tasks.spawn(run_tcp(
                fleet,
                listener,
                Arc::clone(&open),
                shutdown.clone(),
            ));
        }
        for (socket, fleet) in self.udp {
            tasks.spawn(run_udp(fleet, socket, shutdown.clone()));
        }
    }
}

fn wildcard(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
}

/// `0.0.0.0:port` on `lo` only. The device is set before the bind, which checks conflicts.
fn tcp_listener(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind_device(Some(LOOPBACK))?;
    socket.bind(&wildcard(port).into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

fn udp_socket(port: u16) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind_device(Some(LOOPBACK))?;
    pktinfo::enable(&socket)?;
    socket.bind(&wildcard(port).into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// The device a connection reached, if it is one the simulator serves.
fn device_for<'f>(fleet: &'f Fleet, stream: &TcpStream) -> Option<&'f Arc<SimDevice>> {
    match stream.local_addr().ok()?.ip() {
        IpAddr::V4(ip) => fleet.get(&ip),
        IpAddr::V6(_) => None,
    }
}

/// Closes with a reset rather than a FIN: nobody answered.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Accepts connections for every device on one port, each served in the device's transport
/// within the fleet's [`MAX_SHARED_CONNECTIONS`] and the device's own bound.
async fn run_tcp(
    fleet: Arc<Fleet>,
    listener: TcpListener,
    open: Arc<Semaphore>,
    mut shutdown: Shutdown,
) {
    loop {
        // The permit comes first, so a fleet at its bound leaves clients in the backlog.
        let permit = tokio::select! {
            p = Arc::clone(&open).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = stopped(&mut shutdown) => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accept failed on a shared listener: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => return,
        };
        let Some(dev) = device_for(&fleet, &stream) else {
            reset(stream);
            continue;
        };
        if dev.phase() != Phase::Online {
            reset(stream);
            continue;
        }
        // A device's own listener leaves clients past its bound in its backlog; a shared one
        // has no backlog per device, so it turns them away.
        let Ok(own) = Arc::clone(&dev.connections).try_acquire_owned() else {
            tracing::debug!(device = %dev.id, "at its connection bound; resetting a client");
            reset(stream);
            continue;
        };
        let (dev, shutdown) = (Arc::clone(dev), shutdown.clone());
        tokio::spawn(async move {
            server::serve(dev, stream, shutdown).await;
            drop((own, permit));
        });
    }
}

/// Answers datagrams for every device on one port, from the address each was sent to.
async fn run_udp(fleet: Arc<Fleet>, socket: UdpSocket, mut shutdown: Shutdown) {
    let mut buf = vec![0u8; 4096];
    let mut control = pktinfo::Control::new();
    loop {
        let received = tokio::select! {
            r = pktinfo::recv(&socket, &mut buf, &mut control) => r,
            _ = stopped(&mut shutdown) => return,
        };
        let got = match received {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!("udp receive failed on a shared socket: {e}");
                continue;
            }
        };
        let Some(dev) = fleet.get(&got.to) else {
            continue;
        };
        if dev.phase() != Phase::Online {
            continue;
        }
        let Some((reply, effect)) = udp::answer(dev, &buf[..got.len]) else {
            continue;
        };
        match pktinfo::send(&socket, &reply, got.from, got.to).await {
            Ok(_) => udp::schedule(dev, effect),
            Err(e) => tracing::debug!(device = %dev.id, "udp reply failed: {e}"),
        }
    }
}
