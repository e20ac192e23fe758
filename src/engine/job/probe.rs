//! Reading a device's state, and finding its address.

use std::net::{IpAddr, SocketAddr};

use serde_json::json;

use crate::device::{DeviceClient, DeviceError, DeviceInfo};
use crate::inventory::Device;
use crate::model::{EventKind, Reason};
use crate::store::StoreError;

use super::super::config::{POLL_INTERVAL, PROBE_ATTEMPTS, RunConfig};
use super::super::host_clock::HostMark;
use super::{Ctx, Fail};

/// What the device said when probed, and when, on the host's boot clock.
#[derive(Debug, Clone)]
pub struct Probe {
    pub info: DeviceInfo,
    /// Read right after the reply: the device's on-time is a reading of its clock at about
    /// this moment of ours.
    pub at: HostMark,
}

/// Reads the device's own state in its protocol (IOT sysinfo alone first, since some firmware
/// crashes on unexpected modules; SMART device info), then its cloud binding.
pub(crate) async fn probe(client: &mut DeviceClient) -> Result<Probe, DeviceError> {
    let info = client.info().await?;
    Ok(Probe {
        info,
        at: HostMark::now(),
    })
}

/// Why a run at `run_scale` must not act on a device that reports a simulator's time scale
/// ([`DeviceInfo::sim_time_scale`]) other than the run's: every wait of the run, scaled for
/// other devices, would misjudge these (a run at 1 against `simulate --time-scale 0.01` sees
/// reboots that end before it looks; the other way round, devices that "fail" after minutes).
/// `None` for real firmware, which never reports one.
pub fn time_scale_problem(info: &DeviceInfo, ip: IpAddr, run_scale: f64) -> Option<String> {
    let sim = info.sim_time_scale()?;
    // Both come from decimal text the user typed; any real difference is far above this.
    if (sim - run_scale).abs() <= 1e-9 * sim.max(run_scale) {
        return None;
    }
    Some(format!(
        "the simulator at {ip} runs at --time-scale {sim}; this run uses {run_scale}; pass \
         --time-scale {sim} (or restart the simulator with --time-scale {run_scale}); nothing \
         was sent"
    ))
}

/// The fix in a [`time_scale_problem`] for a `resume`, which keeps its run's time scale and has
/// no `--time-scale` to pass: only restarting the simulator at the run's scale helps. Other
/// problems are returned as they are.
pub fn for_resume(problem: &str) -> String {
    const PASS: &str = "; pass --time-scale ";
    const OR: &str = " (or restart the simulator with --time-scale ";
    let (Some(pass), Some(or)) = (problem.find(PASS), problem.find(OR)) else {
        return problem.to_owned();
    };
    let rest = &problem[or + OR.len()..];
    let Some(close) = rest.find(')') else {
        return problem.to_owned();
    };
    format!(
        "{}; a resume keeps its run's time scale: restart the simulator with --time-scale {}{}",
        &problem[..pass],
        &rest[..close],
        &rest[close + 1..]
    )
}

/// The address the job talks to: the row's IP, or the first address its host name resolves
/// to. A name that resolves to an address no single device can have is refused, so a probe
/// never goes to a broadcast or unspecified address.
pub(crate) async fn address(
    device: &Device,
    port: u16,
    config: &RunConfig,
) -> Result<SocketAddr, Fail> {
    let host = &device.host;
    if let Some(ip) = host.ip() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup = tokio::time::timeout(
        config.timeouts.connect,
        tokio::net::lookup_host((host.name.as_str(), port)),
    )
    .await;
    let addr = match lookup {
        // Kasa and Tapo devices speak IPv4: of several addresses, the first IPv4 one.
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
                .ok_or_else(|| {
                    Fail(
                        Reason::Unreachable,
                        format!("{} resolves to no address", host.name),
                    )
                })?
        }
        Ok(Err(e)) => {
            return Err(Fail(
                Reason::Unreachable,
                format!("cannot resolve {}: {e}", host.name),
            ));
        }
        Err(_) => {
            return Err(Fail(
                Reason::Timeout,
                format!("resolving {} timed out", host.name),
            ));
        }
    };
    match crate::inventory::unicast_problem(addr.ip()) {
        Some(why) => Err(Fail(
            Reason::Unreachable,
            format!(
                "{} resolves to {}, {why}; nothing was sent",
                host.name,
                addr.ip()
            ),
        )),
        None => Ok(addr),
    }
}

/// How the pre-state probe ended. Returned once and taken apart at once, so its size is moot.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum ProbeEnd {
    Answered(Probe),
    Failed(Fail),
    /// The device speaks the other of KLAP and TPAP than the link chose.
    OtherLogin(super::negotiate::Switch),
}

impl Ctx<'_> {
    /// The pre-state probe on the job's client. Retries a timeout once.
    pub(super) async fn probe_with_retries(
        &mut self,
        client: &mut DeviceClient,
        may_switch: bool,
    ) -> Result<ProbeEnd, StoreError> {
        let mut tries = 0;
        loop {
            self.attempts += 1;
            tries += 1;
            match Box::pin(probe(client)).await {
                Ok(p) => {
                    let run_scale = self.config().time_scale;
                    let ip = client.addr().ip();
                    if let Some(why) = time_scale_problem(&p.info, ip, run_scale) {
                        self.event(
                            EventKind::ProbeFailed,
                            json!({ "reason": Reason::Unsupported, "detail": why }),
                        )
                        .await?;
                        return Ok(ProbeEnd::Failed(Fail(Reason::Unsupported, why)));
                    }
                    return Ok(ProbeEnd::Answered(p));
                }
                Err(e) if e.is_retryable() && tries < PROBE_ATTEMPTS => {
                    self.event(
                        EventKind::ProbeRetry,
                        json!({ "attempt": tries, "detail": e.to_string() }),
                    )
                    .await?;
                    tokio::time::sleep(self.config().scaled(POLL_INTERVAL)).await;
                }
                Err(e) => {
                    if may_switch && let Some(switch) = self.other_login(client, &e).await {
                        // Not a failure of the device's login: the wrong one of two was asked.
                        return Ok(ProbeEnd::OtherLogin(switch));
                    }
                    let reason = e.reason();
                    let mut detail = json!({ "reason": reason, "detail": e.to_string() });
                    if let Some(counters) = client.tpap().and_then(|t| t.refused_with()) {
                        // Read back by the next run's login gate ([`super::negotiate`]).
                        detail["tpap"] = json!(counters);
                    }
                    let event = self.event_record(None, EventKind::ProbeFailed, detail);
                    if reason == Reason::AuthFailed {
                        // Durable: after a crash, `resume` must know this device already
                        // counted one failed login of ours, and not try it again.
                        self.env.writer.record_durable(event).await?;
                    } else {
                        self.record(event).await?;
                    }
                    return Ok(ProbeEnd::Failed(Fail(reason, format!("probe failed: {e}"))));
                }
            }
        }
    }

    /// One look; `None` when the device doesn't answer on a fresh connection.
    ///
    /// While the device answers, looks reuse one connection (a look is then one request, not
    /// a connect and a close). A look that fails on that kept connection is asked again at
    /// once on a fresh one: a device may close an idle connection, and only a fresh
    /// connection that fails says the device went away.
    ///
    /// Only ever after the job's own probe, which refused a simulator at another time scale.
    pub(super) async fn look(&self, addr: SocketAddr) -> Option<Probe> {
        let kept = self.looker.take(addr);
        let reused = kept.is_some();
        let mut client = kept.unwrap_or_else(|| self.client(addr));
        // Boxed: a look lasts a round trip, and a job spends its seconds of waiting between
        // looks; inline, the look's state would be part of every waiting job's memory.
        let mut seen = Box::pin(probe(&mut client)).await.ok();
        if seen.is_none() && reused {
            client = self.client(addr);
            seen = Box::pin(probe(&mut client)).await.ok();
        }
        if seen.is_some() {
            self.looker.keep(client);
        }
        seen
    }
}

/// The read-only client a job's looks keep between them, with its open connection. Never the
/// job's pinned client: nothing disruptive goes on it.
#[derive(Debug, Default)]
pub(super) struct Looker(std::sync::Mutex<Option<DeviceClient>>);

impl Looker {
    fn take(&self, addr: SocketAddr) -> Option<DeviceClient> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.take().filter(|c| c.addr() == addr)
    }

    fn keep(&self, client: DeviceClient) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(client);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn info(raw: serde_json::Value) -> DeviceInfo {
        DeviceInfo {
            model: "HS110(EU)".into(),
            alias: "a".into(),
            mac: "50:C7:BF:00:00:01".into(),
            device_id: "80AB".into(),
            kind: "IOT.SMARTPLUGSWITCH".into(),
            relay_on: Some(true),
            on_time: Some(5),
            children: vec![],
            bound: None,
            raw,
            cloud_raw: None,
        }
    }

    #[test]
    fn a_simulator_at_another_time_scale_is_refused_with_the_fix() {
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        let sim = info(json!({"fleetreset_sim_time_scale": 0.01}));
        assert_eq!(
            time_scale_problem(&sim, ip, 1.0).unwrap(),
            "the simulator at 127.0.0.5 runs at --time-scale 0.01; this run uses 1; pass \
             --time-scale 0.01 (or restart the simulator with --time-scale 1); nothing was sent"
        );
        assert_eq!(time_scale_problem(&sim, ip, 0.01), None);
        assert_eq!(
            for_resume(&format!(
                "3: p01: {}",
                time_scale_problem(&sim, ip, 1.0).unwrap()
            )),
            "3: p01: the simulator at 127.0.0.5 runs at --time-scale 0.01; this run uses 1; a \
             resume keeps its run's time scale: restart the simulator with --time-scale 1; \
             nothing was sent"
        );
        assert_eq!(for_resume("3: p01: unreachable"), "3: p01: unreachable");
    }

    #[test]
    fn real_firmware_without_the_field_is_never_refused() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        for scale in [1.0, 0.01] {
            assert_eq!(time_scale_problem(&info(json!({})), ip, scale), None);
        }
    }
}
