//! The switch of an upstream power cycle: reaching it, reading the outlet's relay state, and
//! switching the outlet on until the switch confirms it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::device::{DeviceClient, DeviceError, DeviceInfo, Link};

use super::super::super::config::{BOOT_BUDGET_FACTOR, POLL_INTERVAL, PROBE_ATTEMPTS};
use super::super::super::method::Upstream;
use super::super::super::plan::{LinkPlan, link_for};
use super::super::{Fail, JobEnv};

/// Tries at switching an outlet back on, at the least, before the jobs behind it fail with it
/// left off; the tries go on for as long as the switch may take to boot ([`on_budget`]).
pub(in crate::engine::job) const ON_ATTEMPTS: u32 = 5;

/// The switch: its client and the outlet's child id.
#[derive(Clone)]
pub(in crate::engine::job) struct Switch {
    pub link: LinkPlan,
    pub addr: SocketAddr,
    pub child: Option<String>,
    /// How long (device time) to keep trying to switch the outlet on: a switch whose Wi-Fi
    /// reconnects, or that restarted, must not leave what it powers dark for want of patience.
    pub on_budget: Duration,
}

/// How long to keep trying to switch an outlet of `feeder`'s on: its boot budget.
pub(in crate::engine::job) fn on_budget(feeder: &crate::inventory::Device) -> Duration {
    let model = feeder
        .model
        .as_deref()
        .map(crate::catalog::lookup)
        .unwrap_or(crate::catalog::UNKNOWN);
    model.boot_time * BOOT_BUDGET_FACTOR
}

impl Switch {
    pub(in crate::engine::job) fn client(&self, env: &JobEnv) -> DeviceClient {
        DeviceClient::new(Link {
            addr: self.addr,
            protocol: self.link.protocol,
            credentials: self.link.credentials.clone(),
            timeouts: env.config.timeouts,
        })
    }
}

/// The outlet's relay state in what the switch reports: a strip's outlet by child id, or a
/// plug's own relay.
pub(in crate::engine::job) fn outlet_state(info: &DeviceInfo, child: Option<&str>) -> Option<bool> {
    match child {
        Some(id) => info.children.iter().find(|c| c.id == id).and_then(|c| c.on),
        None => info.relay_on,
    }
}

/// Where a switch is, from its row: the row's IP (the run's switch rows are literal addresses
/// or resolve like any row).
pub(in crate::engine::job) async fn switch_for(
    env: &JobEnv,
    up: &Upstream,
) -> Result<(LinkPlan, SocketAddr), String> {
    let link = up.switch.clone().unwrap_or_else(|| link_for(&up.feeder));
    let addr = super::super::probe::address(&up.feeder, link.port, &env.config)
        .await
        .map_err(|Fail(_, why)| why)?;
    Ok((link, addr))
}

/// The switch and the outlet's relay state, or why the switch can't be used.
pub(in crate::engine::job) async fn reach_switch(
    env: &JobEnv,
    up: &Upstream,
) -> Result<(Switch, Option<bool>), String> {
    let (link, addr) = switch_for(env, up).await?;
    let mut client = DeviceClient::new(Link {
        addr,
        protocol: link.protocol,
        credentials: link.credentials.clone(),
        timeouts: env.config.timeouts,
    });
    let mut tries = 0;
    let info = loop {
        tries += 1;
        match client.info().await {
            Ok(info) => break info,
            Err(e) if e.is_retryable() && tries < PROBE_ATTEMPTS => {
                tokio::time::sleep(env.config.scaled(POLL_INTERVAL)).await;
            }
            Err(e) => return Err(format!("it did not answer at {addr}: {e}")),
        }
    };
    // The switch must be the row `power_via` names: a lease that moved must never get another
    // building's outlet switched off.
    if let Some(why) = super::super::identity::identity_problem(&up.feeder, &info, addr) {
        return Err(format!("it is not the inventory's switch: {why}"));
    }
    let child = match up.outlet {
        None => None,
        Some(n) => match info.children.get(usize::from(n) - 1) {
            Some(c) => Some(c.id.clone()),
            None => {
                return Err(format!(
                    "it reports {} outlets, not outlet {n}",
                    info.children.len()
                ));
            }
        },
    };
    let before = outlet_state(&info, child.as_deref());
    Ok((
        Switch {
            link,
            addr,
            child,
            on_budget: on_budget(&up.feeder),
        },
        before,
    ))
}

/// The outlet's relay state now, on a new connection; `None` when the switch doesn't say.
pub(in crate::engine::job) async fn read_outlet(env: &JobEnv, switch: &Switch) -> Option<bool> {
    let info = switch.client(env).info().await.ok()?;
    outlet_state(&info, switch.child.as_deref())
}

/// The outlet's relay state, read from a switch that must be `feeder`'s row; why not, when it
/// can't be read or is another device. A switch that doesn't answer is asked again for as long
/// as it may take to boot ([`Switch::on_budget`]): one whose Wi-Fi dropped with the outlet it
/// switched off comes back, and the outlet must then be switched on.
pub(in crate::engine::job) async fn read_checked(
    env: &JobEnv,
    switch: &Switch,
    feeder: &crate::inventory::Device,
) -> Result<Option<bool>, String> {
    let until = tokio::time::Instant::now() + env.config.scaled(switch.on_budget);
    let info = loop {
        match switch.client(env).info().await {
            Ok(info) => break info,
            Err(_) if tokio::time::Instant::now() < until => {
                tokio::time::sleep(env.config.scaled(POLL_INTERVAL)).await;
            }
            Err(e) => {
                return Err(format!(
                    "the switch did not answer at {} (asked for {} s): {e}",
                    switch.addr,
                    switch.on_budget.as_secs()
                ));
            }
        }
    };
    if let Some(why) = super::super::identity::identity_problem(feeder, &info, switch.addr) {
        return Err(format!(
            "the device at the switch's address is not the inventory's switch: {why}"
        ));
    }
    Ok(outlet_state(&info, switch.child.as_deref()))
}

/// Switches the outlet on and reads it back, trying again until the switch confirms it (at
/// least [`ON_ATTEMPTS`] times, and for the switch's [`Switch::on_budget`]): the relay state it
/// reports after.
pub(in crate::engine::job) async fn switch_on(env: &JobEnv, switch: &Switch) -> Option<bool> {
    let mut state = None;
    let until = tokio::time::Instant::now() + env.config.scaled(switch.on_budget);
    let mut attempt = 0;
    while attempt < ON_ATTEMPTS || tokio::time::Instant::now() < until {
        if attempt > 0 {
            tokio::time::sleep(env.config.scaled(POLL_INTERVAL)).await;
        }
        attempt += 1;
        let sent: Result<(), DeviceError> = switch
            .client(env)
            .set_relay(true, switch.child.as_deref())
            .await;
        if let Err(e) = &sent {
            tracing::warn!(switch = %switch.addr, "switching the outlet on failed: {e}");
        }
        state = read_outlet(env, switch).await;
        if state == Some(true) {
            break;
        }
    }
    state
}
