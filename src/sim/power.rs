//! The power graph: a simulated device whose row's `power_via` names a simulated plug or strip
//! outlet is powered by that relay. Switched off, the device goes dark (it answers nothing:
//! TCP, UDP, HTTP); switched on again, it boots (its boot time at the simulator's time scale)
//! and answers again with its settings kept, its on-time restarted.
//!
//! Every relay change of a switch is journaled as `outlet_off N` or `outlet_on N` (outlets from
//! 1; a plug's own relay is outlet 1), and every powered device's `power_lost` and
//! `power_back`, so a test can read the off time and see that no other outlet moved.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use super::server::{Phase, Shutdown, SimDevice, stopped};

/// Publishes `dev`'s relay states after a request, journaling each change.
pub fn publish(dev: &SimDevice) {
    let now = dev.lock().outputs();
    let mut last = dev.outputs.lock().unwrap_or_else(PoisonError::into_inner);
    if *last == now {
        return;
    }
    for (i, (was, is)) in last.iter().zip(&now).enumerate() {
        if was != is {
            let word = if *is { "outlet_on" } else { "outlet_off" };
            dev.journal.record(&format!("{word} {}", i + 1));
        }
    }
    if let Some(feed) = &dev.feed {
        feed.send_replace(now.clone());
    }
    *last = now;
}

/// Keeps `dev` powered by output `index` (from 0) of `feeder`, until the simulator stops.
pub async fn follow(
    dev: Arc<SimDevice>,
    feeder: watch::Receiver<Vec<bool>>,
    index: usize,
    mut shutdown: Shutdown,
) {
    let mut feeder = feeder;
    let powered_now =
        |f: &watch::Receiver<Vec<bool>>| f.borrow().get(index).copied().unwrap_or(true);
    let mut powered = powered_now(&feeder);
    if !powered {
        dev.set_phase(Phase::Dark);
    }
    // While booting: when it answers again.
    let mut boot_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            changed = feeder.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = sleep_until_or_never(boot_at) => {
                boot_at = None;
                dev.lock().booted(Instant::now());
                if dev.set_phase(Phase::Online) {
                    dev.journal.record("power_back");
                }
                continue;
            }
            _ = stopped(&mut shutdown) => return,
        }
        let now = powered_now(&feeder);
        if now == powered {
            continue;
        }
        powered = now;
        if now {
            boot_at = Some(tokio::time::Instant::now() + dev.scaled(dev.boot_time));
        } else {
            boot_at = None;
            if dev.set_phase(Phase::Dark) {
                dev.journal.record("power_lost");
            }
        }
    }
}

async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
