//! Serving one simulated device: its TCP listener and connections (XOR frames, or HTTP in
//! [`super::http`]) and its life cycle (online, dark while rebooting, gone after a factory
//! reset). Its UDP side is in [`super::udp`]; shared listeners in [`super::shared`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::protocol::iot::codec;
use crate::protocol::iot::transport::read_frame;

use super::JournalHandle;
use super::fault::{self, Then};
use super::model::{SimState, Transport};
use super::phase::PhaseCell;
use super::state::Effect;

/// Client connections one device serves at once; further clients wait in the listen backlog.
/// Real plugs handle a handful; 32 is far more than any client needs (python-kasa and
/// fleetreset use one) and bounds what a client that connects in a loop can make one device
/// hold.
pub const MAX_CONNECTIONS_PER_DEVICE: usize = 32;

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Answering on TCP and UDP.
    Online,
    /// Rebooting (or never coming back): connections dropped, datagrams unanswered, connects
    /// refused (per-device listeners) or accepted and reset at once (shared listeners).
    Dark,
    /// Factory reset: left the network for good.
    Gone,
}

/// One device as the server sees it.
#[derive(Debug)]
pub struct SimDevice {
    pub id: String,
    pub model: String,
    pub addr: SocketAddr,
    /// Real seconds per device second.
    pub scale: f64,
    /// Device time from going dark to answering again.
    pub boot_time: Duration,
    pub transport: Transport,
    pub state: Mutex<SimState>,
    pub phase: PhaseCell,
    /// Permits for [`MAX_CONNECTIONS_PER_DEVICE`].
    pub connections: Arc<Semaphore>,
    /// Where the discovery probes it hears are written (its state writes the commands).
    pub journal: JournalHandle,
    /// What it powers, as last published: its relay, or each outlet's ([`super::power`]).
    pub outputs: Mutex<Vec<bool>>,
    /// The same, for the devices it powers to follow; only a device that powers another
    /// row has one.
    pub feed: Option<watch::Sender<Vec<bool>>>,
}

impl SimDevice {
    /// Device time to real time.
    pub fn scaled(&self, device_time: Duration) -> Duration {
        scaled(device_time, self.scale)
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        // A panic while holding the lock can't leave the state half-written in a way that
        // matters more than stopping the simulator would; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// Carries out a reboot or reset after its reply went out. `grace` (real time) is added
    /// to the command's delay, for transports that send the reply after this is called.
    pub(super) fn schedule(self: &Arc<Self>, effect: Effect, grace: Duration) {
        let dev = Arc::clone(self);
        tokio::spawn(async move {
            match effect {
                Effect::Reboot { delay } => {
                    tokio::time::sleep(dev.scaled(Duration::from_secs(delay)) + grace).await;
                    if !dev.set_phase(Phase::Dark) {
                        return;
                    }
                    tracing::info!(device = %dev.id, "rebooting");
                    if dev.lock().faults().reboot_never_returns {
                        return;
                    }
                    tokio::time::sleep(dev.scaled(dev.boot_time)).await;
                    dev.lock().booted(Instant::now());
                    if dev.set_phase(Phase::Online) {
                        tracing::info!(device = %dev.id, "back online");
                    }
                }
                Effect::LinkDrop { secs } => {
                    tokio::time::sleep(grace).await;
                    // Dark already when the connection that switched the relay dropped.
                    dev.set_phase(Phase::Dark);
                    tracing::info!(device = %dev.id, "link dropped");
                    tokio::time::sleep(dev.scaled(Duration::from_secs(secs))).await;
                    dev.set_phase(Phase::Online);
                }
                Effect::Reset { delay } => {
                    tokio::time::sleep(dev.scaled(Duration::from_secs(delay)) + grace).await;
                    dev.set_phase(Phase::Gone);
                    tracing::info!(device = %dev.id, "factory reset: left the network");
                }
            }
        });
    }

    /// Moves to `next` unless the device is gone (that is final). Returns whether it moved.
    pub(super) fn set_phase(&self, next: Phase) -> bool {
        self.phase.set(next)
    }
}

/// Device time to real time at `scale` real seconds per device second. Saturates instead of
/// panicking as `Duration::mul_f64` would: a command's delay and a row's `leave_after` are any
/// `u64` of device seconds, and a sleep of `Duration::MAX` is simply one that never ends.
pub fn scaled(device_time: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(device_time.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

/// Shutdown signal shared by every task of the simulator.
pub type Shutdown = watch::Receiver<bool>;

pub(super) async fn stopped(shutdown: &mut Shutdown) {
    // An error means the sender is gone, which also means stop.
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Waits until the phase satisfies `pred`; then true.
pub(super) async fn until(phase: &PhaseCell, pred: impl FnMut(&Phase) -> bool) -> bool {
    phase.wait_for(pred).await;
    true
}

/// Runs a device's TCP side: accept while online (XOR frames or HTTP, by its transport), one
/// task per connection within [`MAX_CONNECTIONS_PER_DEVICE`]; close the listener while dark.
pub async fn run_tcp(dev: Arc<SimDevice>, first: TcpListener, mut shutdown: Shutdown) {
    let phase = &dev.phase;
    let mut listener = Some(first);
    loop {
        let l = match listener.take() {
            Some(l) => l,
            None => match rebind(dev.addr, &mut shutdown).await {
                Some(l) => l,
                None => return,
            },
        };
        loop {
            // The permit comes first, so a device at its bound leaves clients in the backlog.
            let permit = tokio::select! {
                p = Arc::clone(&dev.connections).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = until(phase, |p| *p != Phase::Online) => break,
                _ = stopped(&mut shutdown) => return,
            };
            tokio::select! {
                accepted = l.accept() => match accepted {
                    Ok((stream, _)) => {
                        let (dev, shutdown) = (Arc::clone(&dev), shutdown.clone());
                        tokio::spawn(async move {
                            serve(dev, stream, shutdown).await;
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        tracing::warn!(device = %dev.id, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = until(phase, |p| *p != Phase::Online) => break,
                _ = stopped(&mut shutdown) => return,
            }
        }
        // Dropping the listener makes connection attempts fail, as with a device that is off.
        drop(l);
        tokio::select! {
            back = until(phase, |p| *p == Phase::Online) => if !back { return },
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// Serves one accepted connection in the device's transport: XOR frames, HTTP, or HTTPS.
pub(super) async fn serve(dev: Arc<SimDevice>, stream: TcpStream, shutdown: Shutdown) {
    if dev.transport.is_tls() {
        super::camera::serve::serve_connection(dev, stream, shutdown).await;
    } else if dev.transport.is_http() {
        super::http::serve_connection(dev, stream, shutdown).await;
    } else {
        serve_connection(dev, stream, shutdown).await;
    }
}

async fn rebind(addr: SocketAddr, shutdown: &mut Shutdown) -> Option<TcpListener> {
    let mut delay = Duration::from_millis(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(e) => tracing::warn!(%addr, "cannot listen again yet: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(shutdown) => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Serves one client connection until it closes, misbehaves, or the device goes dark.
async fn serve_connection(dev: Arc<SimDevice>, mut stream: TcpStream, mut shutdown: Shutdown) {
    let _ = stream.set_nodelay(true);
    let phase = &dev.phase;
    let idle_close = dev.lock().faults().idle_close;
    loop {
        let payload = tokio::select! {
            frame = read_frame(&mut stream, codec::MAX_FRAME_LEN) => match frame {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(device = %dev.id, "client connection ends: {e}");
                    return;
                }
            },
            // The `idle_close` fault: firmware that drops a connection nobody uses.
            _ = sleep_or_never(idle_close) => return,
            _ = until(phase, |p| *p != Phase::Online) => return,
            _ = stopped(&mut shutdown) => return,
        };
        let Ok(request) = serde_json::from_slice::<Value>(&payload) else {
            // Real firmware drops a connection that sends something it can't parse.
            tracing::debug!(device = %dev.id, "request is not JSON; closing");
            return;
        };
        let (reply, effect) = dev.lock().handle_json(&request, Instant::now());
        super::power::publish(&dev);
        // The firmware acts on a command whatever then happens to its reply.
        let link_drops = matches!(effect, Some(Effect::LinkDrop { .. }));
        if link_drops {
            // The link drops with the relay: off the network at once, the reply never leaves.
            dev.set_phase(Phase::Dark);
        }
        if let Some(effect) = effect {
            dev.schedule(effect, Duration::ZERO);
        }
        if link_drops {
            return;
        }
        let (slow, wire) = {
            let state = dev.lock();
            (state.faults().slow, state.faults().wire(&request, reply))
        };
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
        let sent = if wire.trickle {
            trickle(&mut stream, &wire.bytes, phase, &mut shutdown).await
        } else {
            // Biased towards the write: a reply that fits in the socket buffer goes out whole
            // even if the device goes dark at this moment (an acknowledged reboot does); only
            // a write stuck on a client that doesn't read (a 1 MiB reply) gives way.
            tokio::select! {
                biased;
                written = stream.write_all(&wire.bytes) => written.is_ok(),
                _ = until(phase, |p| *p != Phase::Online) => false,
                _ = stopped(&mut shutdown) => false,
            }
        };
        if !sent {
            return;
        }
        match wire.then {
            Then::Serve => {}
            Then::Close => return,
            Then::Silence => {
                silence(&dev, &mut stream, phase, &mut shutdown).await;
                return;
            }
        }
    }
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Writes `bytes` one at a time, [`fault::TRICKLE_INTERVAL`] apart. False when the client
/// left, the device went dark or the simulator stops: the connection must end.
async fn trickle(
    stream: &mut TcpStream,
    bytes: &[u8],
    phase: &PhaseCell,
    shutdown: &mut Shutdown,
) -> bool {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            tokio::select! {
                _ = tokio::time::sleep(fault::TRICKLE_INTERVAL) => {}
                _ = until(phase, |p| *p != Phase::Online) => return false,
                _ = stopped(shutdown) => return false,
            }
        }
        let written = tokio::select! {
            biased;
            w = stream.write_all(std::slice::from_ref(byte)) => w.is_ok(),
            _ = until(phase, |p| *p != Phase::Online) => false,
            _ = stopped(shutdown) => false,
        };
        if !written {
            return false;
        }
    }
    true
}

/// Keeps the connection open and says nothing more, reading and discarding whatever the client
/// sends, until the client closes it, the device goes dark, or the simulator stops.
async fn silence(
    dev: &SimDevice,
    stream: &mut TcpStream,
    phase: &PhaseCell,
    shutdown: &mut Shutdown,
) {
    let mut sink = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => {
                    tracing::debug!(device = %dev.id, "client left a silent connection");
                    return;
                }
                Ok(_) => {}
            },
            _ = until(phase, |p| *p != Phase::Online) => return,
            _ = stopped(shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_time_scales_to_real_time_and_saturates_instead_of_panicking() {
        assert_eq!(
            scaled(Duration::from_secs(40), 0.01),
            Duration::from_millis(400)
        );
        assert_eq!(scaled(Duration::ZERO, 100.0), Duration::ZERO);
        assert_eq!(scaled(Duration::from_secs(u64::MAX), 100.0), Duration::MAX);
    }
}
