//! A device's UDP side: legacy discovery (and any unframed IOT request) on its XOR port or
//! 9999, and the new discovery on 20002/20004. [`answer`] is what both listener layouts use:
//! a device's own socket ([`run`]) or a shared one ([`super::shared`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::UdpSocket;

use crate::protocol::iot::codec;

use super::discovery;
use super::server::{Phase, Shutdown, SimDevice, stopped};
use super::state::Effect;

/// What an online device answers to one datagram, and what to do once the answer is sent;
/// `None` for garbage, which is ignored. Every probe it understands is journaled.
pub(super) fn answer(dev: &Arc<SimDevice>, datagram: &[u8]) -> Option<(Vec<u8>, Option<Effect>)> {
    if dev.transport.answers_new_discovery() {
        let probe = discovery::parse_probe(datagram)?;
        dev.journal.record("discovery");
        let mut result = dev.lock().discovery_result(Instant::now())?;
        if dev.transport.is_tls() {
            super::camera::seal_discovery(dev, &mut result, datagram);
        }
        Some((discovery::encode_reply(probe, &result), None))
    } else {
        let request = serde_json::from_slice::<Value>(&codec::decrypt(datagram)).ok()?;
        dev.journal.record("discovery");
        let (reply, effect) = dev.lock().handle_json(&request, Instant::now());
        super::power::publish(dev);
        let body = serde_json::to_vec(&reply).expect("a JSON value serialises");
        Some((codec::encrypt(&body), effect))
    }
}

/// Answers datagrams on one of a device's own sockets while it is online (a dark device hears
/// nothing), from the socket they arrived on, so the reply's source is the address and port
/// the client asked.
pub async fn run(dev: Arc<SimDevice>, socket: UdpSocket, mut shutdown: Shutdown) {
    let mut buf = vec![0u8; 4096];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = stopped(&mut shutdown) => return,
        };
        let (n, from) = match received {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(device = %dev.id, "udp receive failed: {e}");
                continue;
            }
        };
        if dev.phase() != Phase::Online {
            continue;
        }
        let Some((reply, effect)) = answer(&dev, &buf[..n]) else {
            continue;
        };
        match socket.send_to(&reply, from).await {
            Ok(_) => schedule(&dev, effect),
            Err(e) => tracing::debug!(device = %dev.id, "udp reply failed: {e}"),
        }
    }
}

/// Carries out what an answered datagram asked, once its reply is out.
pub(super) fn schedule(dev: &Arc<SimDevice>, effect: Option<Effect>) {
    if let Some(effect) = effect {
        dev.schedule(effect, Duration::ZERO);
    }
}
