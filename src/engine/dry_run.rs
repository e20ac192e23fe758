//! `run --dry-run`: the plan, plus a look at each device: is it reachable, and is it the device
//! the inventory means? Reads sysinfo and the cloud binding only; sends nothing disruptive and
//! records nothing.

use crate::device::{DeviceClient, Link};
use crate::inventory::Device;

use super::config::RunConfig;
use super::job::probe::address;
use super::job::{Fail, identity_problem, identity_verifiable, probe};
use super::plan::PlannedJob;
use super::progress::ProgressView;
use super::schedule::{Progress, Scheduler};
use super::shutdown::Signals;

/// What the look at one device found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    pub device_id: String,
    /// None when all is well (reachable, identity matches or can't be checked).
    pub problem: Option<String>,
    pub note: String,
}

/// Looks at every device under the run's rate and concurrency limits.
pub async fn look(
    planned: &[PlannedJob],
    config: &RunConfig,
    view: &mut ProgressView,
    signals: Signals,
) -> Vec<Look> {
    let devices: Vec<Device> = planned.iter().map(|j| j.device.clone()).collect();
    let jobs: Vec<(usize, PlannedJob)> = planned.iter().cloned().enumerate().collect();
    let config = config.clone();
    let mut looks: Vec<Option<Look>> = vec![None; devices.len()];
    view.begin(devices.len());
    Scheduler::new(&config.limits)
        .run(
            jobs,
            move |j: PlannedJob| {
                let config = config.clone();
                async move { look_one(&j, &config).await }
            },
            |p| match p {
                Progress::Started { index } => view.started(&devices[index].id),
                Progress::Finished { index, result } => {
                    view.advance();
                    looks[index] = Some(result);
                }
                Progress::Aborted { .. } => {}
            },
            async { signals.at_least(1).await },
            async { signals.at_least(2).await },
        )
        .await;
    view.end();
    looks
        .into_iter()
        .zip(devices)
        .map(|(l, d)| {
            l.unwrap_or_else(|| Look {
                device_id: d.id.clone(),
                problem: Some("not looked at: interrupted".into()),
                note: String::new(),
            })
        })
        .collect()
}

async fn look_one(j: &PlannedJob, config: &RunConfig) -> Look {
    let d = &j.device;
    let id = d.id.clone();
    if let super::method::MethodPlan::Manual(m) = &j.method {
        // A work order: nothing would be sent, so there is nothing to look at.
        return Look {
            device_id: id,
            problem: None,
            note: format!("a work order ({})", m.why),
        };
    }
    if let Some(why) = &j.link.refusal {
        return Look {
            device_id: id,
            problem: Some(format!("identity: {why}")),
            note: String::new(),
        };
    }
    let addr = match address(d, j.link.port, config).await {
        Ok(a) => a,
        Err(Fail(_, why)) => {
            return Look {
                device_id: id,
                problem: Some(why),
                note: String::new(),
            };
        }
    };
    let link = Link {
        addr,
        protocol: j.link.protocol,
        credentials: j.link.credentials.clone(),
        timeouts: config.timeouts,
    };
    match probe(&mut DeviceClient::new(link)).await {
        Err(e) => Look {
            device_id: id,
            problem: Some(format!("probe failed: {e}")),
            note: String::new(),
        },
        Ok(p) => {
            let note = format!(
                "{} {:?} at {addr}, MAC {}",
                p.info.model, p.info.alias, p.info.mac
            );
            let problem = identity_problem(d, &p.info, addr)
                .map(|m| m.replace("; nothing was sent", ""))
                .map(|m| format!("identity mismatch: {m}"));
            let note = if identity_verifiable(d) {
                format!("{note}, identity verified")
            } else {
                format!("{note}, identity not checkable (no MAC)")
            };
            Look {
                device_id: id,
                problem,
                note,
            }
        }
    }
}
