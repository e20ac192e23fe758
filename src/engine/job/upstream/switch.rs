//! The switch of an upstream power cycle: reaching it, reading the outlet's relay state, and
//! switching the outlet on until the switch confirms it.

use std::net::SocketAddr;

use crate::device::{DeviceClient, DeviceError, DeviceInfo, Link};

use super::super::super::config::{POLL_INTERVAL, PROBE_ATTEMPTS};
use super::super::super::method::Upstream;
use super::super::super::plan::{LinkPlan, link_for};
use super::super::{Fail, JobEnv};

/// Tries at switching an outlet back on before the jobs behind it fail with it left off.
pub(in crate::engine::job) const ON_ATTEMPTS: u32 = 5;

/// The switch: its client and the outlet's child id.
pub(in crate::engine::job) struct Switch {
    pub link: LinkPlan,
    pub addr: SocketAddr,
    pub child: Option<String>,
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
    Ok((Switch { link, addr, child }, before))
}

/// The outlet's relay state now, on a new connection; `None` when the switch doesn't say.
pub(in crate::engine::job) async fn read_outlet(env: &JobEnv, switch: &Switch) -> Option<bool> {
    let info = switch.client(env).info().await.ok()?;
    outlet_state(&info, switch.child.as_deref())
}

/// The outlet's relay state, read from a switch that must be `feeder`'s row; why not, when it
/// can't be read or is another device.
pub(in crate::engine::job) async fn read_checked(
    env: &JobEnv,
    switch: &Switch,
    feeder: &crate::inventory::Device,
) -> Result<Option<bool>, String> {
    let info = switch
        .client(env)
        .info()
        .await
        .map_err(|e| format!("the switch did not answer at {}: {e}", switch.addr))?;
    if let Some(why) = super::super::identity::identity_problem(feeder, &info, switch.addr) {
        return Err(format!(
            "the device at the switch's address is not the inventory's switch: {why}"
        ));
    }
    Ok(outlet_state(&info, switch.child.as_deref()))
}

/// Switches the outlet on and reads it back, trying again until the switch confirms it: the
/// relay state it reports after.
pub(in crate::engine::job) async fn switch_on(env: &JobEnv, switch: &Switch) -> Option<bool> {
    let mut state = None;
    for attempt in 0..ON_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(env.config.scaled(POLL_INTERVAL)).await;
        }
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
