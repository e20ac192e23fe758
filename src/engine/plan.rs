//! Planning: per device, the method, the steps, an estimate and warnings. Pure; sends nothing.

use std::time::Duration;

use serde::Serialize;

use crate::catalog::{self, Family, ModelInfo, Protocol};
use crate::credentials::Credentials;
use crate::device::COMMAND_DELAY_SECS;
use crate::device::ProtocolKind;
use crate::inventory::{Device, ProtocolChoice};
use crate::model::{Action, Method};

use super::config::{BOOT_BUDGET_FACTOR, LEAVE_BUDGET};
use super::method::{MethodChoice, MethodPlan};

mod planner;

pub use planner::Planner;

/// Time a probe and a command take on a healthy LAN, for estimates.
const EXCHANGE_ESTIMATE: Duration = Duration::from_secs(2);

/// One device's job, as planned.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    /// Position in the inventory, from 0.
    pub seq: u32,
    pub device: Device,
    pub model: ModelInfo,
    /// How the device gets the action, with what that needs ([`method::choose`]).
    pub method: MethodPlan,
    /// Why that method, in words.
    pub why: String,
    /// The rows of this run this device powers (`power_via` names it): it acts only once all
    /// of their jobs have ended.
    pub after: Vec<String>,
    pub steps: Vec<String>,
    /// How long the job should take when all goes well.
    pub estimate: Duration,
    /// The longest it may take before it fails.
    pub limit: Duration,
    pub warnings: Vec<String>,
    /// How to reach the device: protocol, port, credentials. `plan` fills it from the
    /// inventory and the catalog; a run settles what only discovery can say.
    pub link: LinkPlan,
}

impl PlannedJob {
    /// Lets go of what only the plan's display reads (`why`, `steps`, `warnings`), once it
    /// has been shown: the run itself never reads them.
    pub fn shed_words(&mut self) {
        self.why = String::new();
        self.steps = Vec::new();
        self.warnings = Vec::new();
    }
}

/// How a job reaches its device.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPlan {
    pub protocol: ProtocolKind,
    pub port: u16,
    /// Resolved from the inventory's `credentials` profile at run time; never printed.
    pub credentials: Option<Credentials>,
    /// Where the protocol choice came from: `inventory`, `catalog`, `discovery`, or
    /// `unresolved` (auto, not yet discovered).
    pub source: &'static str,
    /// The inventory's host, when discovery found the device's MAC elsewhere.
    pub moved_from: Option<String>,
    /// Why nothing may be sent to this device at all, settled before the run (two addresses
    /// answered discovery with its MAC). The job ends `identity_mismatch` with these words.
    pub refusal: Option<String>,
    /// The device's last TPAP login refusal, when it left few attempts before its lockout:
    /// no TPAP login is tried without `--force-login` ([`super::job::negotiate`]).
    pub login_gate: Option<super::job::negotiate::LoginGate>,
}

/// The protocol the inventory's `protocol` column asks for this model. `auto` leaves the
/// choice to the catalog or discovery. The column was validated when the inventory was read.
pub fn protocol_column(device: &Device, model: &ModelInfo) -> Option<ProtocolKind> {
    match device.protocol {
        ProtocolChoice::Auto => None,
        // Plain `klap`: IOT JSON (KLAP v1) for legacy models and the HS100, whose KLAP
        // hardware still speaks IOT; SMART JSON (KLAP v2) for everything else, EP25 hardware
        // 2.6 included. The simulator serves the same.
        ProtocolChoice::Klap => Some(match model.protocol {
            Protocol::Iot => ProtocolKind::IotKlapV1,
            Protocol::Mixed if model.model == "HS100" => ProtocolKind::IotKlapV1,
            _ => ProtocolKind::SmartKlap,
        }),
        // `tpap` on a Tapo camera: TPAP over TLS, where SslAes was.
        ProtocolChoice::Exact(ProtocolKind::SmartTpap) if model.protocol == Protocol::SslAes => {
            Some(ProtocolKind::CameraTpap)
        }
        ProtocolChoice::Exact(kind) => Some(kind),
    }
}

/// The protocol the catalog alone settles for `model`: legacy IOT models, and cameras, which
/// speak one transport each. `None` where only the inventory or discovery can say.
pub fn catalog_protocol(model: &ModelInfo) -> Option<ProtocolKind> {
    match model.protocol {
        Protocol::Iot => Some(ProtocolKind::Iot),
        Protocol::SslAes => Some(ProtocolKind::SslAes),
        Protocol::Linkie2 => Some(ProtocolKind::Linkie2),
        Protocol::Mixed | Protocol::Smart | Protocol::HubChild { .. } | Protocol::Unknown => None,
    }
}

fn initial_link(device: &Device, model: &ModelInfo) -> LinkPlan {
    let (protocol, source) = match protocol_column(device, model) {
        Some(p) => (p, "inventory"),
        None => match catalog_protocol(model) {
            Some(p) => (p, "catalog"),
            None => (ProtocolKind::Iot, "unresolved"),
        },
    };
    LinkPlan {
        protocol,
        port: device.host.port_or(protocol.default_port()),
        credentials: None,
        source,
        moved_from: None,
        refusal: None,
        login_gate: None,
    }
}

/// How a run reaches `device` before discovery: from the inventory's `protocol` column and the
/// catalog (the upstream method's switch, when its row has no job of its own to settle it).
pub fn link_for(device: &Device) -> LinkPlan {
    let model = device
        .model
        .as_deref()
        .map(catalog::lookup)
        .unwrap_or(catalog::UNKNOWN);
    initial_link(device, &model)
}

/// Plans every device for `action`, each by the method the catalog and its row allow.
pub fn plan(devices: &[Device], action: Action) -> Vec<PlannedJob> {
    plan_with(devices, action, MethodChoice::Auto)
}

/// Plans every device for `action` by the method `asked` (`--method`), where its row and the
/// catalog allow it, with the order power dependencies impose ([`PlannedJob::after`]).
pub fn plan_with(devices: &[Device], action: Action, asked: MethodChoice) -> Vec<PlannedJob> {
    Planner::new(devices, action, asked).jobs().collect()
}

/// Rewrites the remote plan's steps and times for an upstream or manual method.
pub(super) fn shape(job: &mut PlannedJob, method: MethodPlan, action: Action) {
    let boot = job.model.boot_time;
    match &method {
        MethodPlan::Remote => {}
        MethodPlan::Upstream(u) => {
            let outlet = u.outlet_name();
            let off = u.off_time.as_secs();
            job.steps = vec![
                "probe: read its state (pre-state), if it answers".into(),
                job.steps[1].clone(),
                format!("probe {}: the switch, and the outlet's relay state", u.via),
                "record the intent durably".into(),
                format!("switch {outlet} off; hold it off for at least {off} s"),
                format!("switch {outlet} on; record the outlet's relay state"),
                format!(
                    "wait for it to come back (typically {} s, at most {} s)",
                    boot.as_secs(),
                    (boot * BOOT_BUDGET_FACTOR).as_secs()
                ),
                "read its state again: alias kept".into(),
            ];
            job.estimate = EXCHANGE_ESTIMATE * 2 + u.off_time + boot;
            job.limit = EXCHANGE_ESTIMATE * 2 + u.off_time + boot * BOOT_BUDGET_FACTOR;
        }
        MethodPlan::Manual(m) => {
            job.steps = vec![
                format!(
                    "record a work order to {action} it by hand ({})",
                    match m.procedure {
                        Some(_) => "the procedure is in the why above",
                        None => "no procedure known: see the device's manual",
                    }
                ),
                "nothing is sent; the job ends manual_required".into(),
            ];
            job.estimate = Duration::ZERO;
            job.limit = Duration::ZERO;
            // Nothing is sent to a work order's device, so no protocol of its can fail.
            job.warnings
                .retain(|w| !w.starts_with("cameras and doorbells speak protocols"));
        }
    }
    if !job.after.is_empty() {
        job.steps.insert(
            0,
            format!(
                "after: {} (it powers them; they go first)",
                job.after.join(", ")
            ),
        );
    }
    job.method = method;
}

pub(super) fn plan_one(seq: u32, device: &Device, action: Action) -> PlannedJob {
    let model = device
        .model
        .as_deref()
        .map(catalog::lookup)
        .unwrap_or(catalog::UNKNOWN);
    let delay = Duration::from_secs(u64::from(COMMAND_DELAY_SECS));
    let mut warnings = Vec::new();
    match &device.model {
        None => warnings.push(format!(
            "no model given: conservative timings ({} s boot)",
            model.boot_time.as_secs()
        )),
        Some(m) if model == catalog::UNKNOWN => warnings.push(format!(
            "unknown model {m:?}: conservative timings ({} s boot)",
            model.boot_time.as_secs()
        )),
        Some(_) => {}
    }
    if device.mac.is_none() {
        warnings.push("no MAC: the device's identity can't be checked before acting".into());
    }
    if matches!(model.family, Family::Camera | Family::Doorbell) {
        warnings.push(match (model.protocol, action) {
            (Protocol::HubChild { hub }, _) => format!(
                "has no address of its own: it is reached through its {hub} hub, and hub \
                 children are not supported yet, so no reboot can reach it"
            ),
            (_, Action::FactoryReset) => "cameras and doorbells have no local factory reset: \
                the job fails unsupported without sending anything; use the button or the app"
                .into(),
            _ => "cameras and doorbells reboot over their own protocol (Tapo: SslAes on 443, \
                Kasa: LINKIE2 on 10443); no local factory reset exists for them"
                .into(),
        });
    }
    let identity = match device.mac {
        Some(mac) => format!("check the device reports MAC {mac}; stop if not"),
        None => "no MAC to check the device's identity against".into(),
    };
    let boot_budget = model.boot_time * BOOT_BUDGET_FACTOR;
    let (command, wait, estimate, limit) = match action {
        Action::PowerCycle => (
            format!("send reboot (delay {COMMAND_DELAY_SECS} s)"),
            format!(
                "wait for it to go away and come back (typically {} s, at most {} s)",
                model.boot_time.as_secs(),
                boot_budget.as_secs()
            ),
            EXCHANGE_ESTIMATE + delay + model.boot_time,
            EXCHANGE_ESTIMATE + delay + super::config::AWAY_BUDGET + boot_budget,
        ),
        Action::FactoryReset => (
            format!("send factory reset (delay {COMMAND_DELAY_SECS} s)"),
            format!(
                "wait for it to leave the network (at most {} s), else check it reports factory defaults",
                LEAVE_BUDGET.as_secs()
            ),
            EXCHANGE_ESTIMATE + delay + Duration::from_secs(5),
            EXCHANGE_ESTIMATE + delay + LEAVE_BUDGET,
        ),
    };
    let verify = match action {
        Action::PowerCycle => "read its state again: on-time restarted, alias and relay state kept",
        Action::FactoryReset => "record the evidence: acknowledgement and departure",
    };
    PlannedJob {
        seq,
        device: device.clone(),
        model,
        method: MethodPlan::Remote,
        why: String::new(),
        after: Vec::new(),
        steps: vec![
            "probe: read sysinfo and cloud binding (pre-state)".into(),
            identity,
            "record the intent durably".into(),
            command,
            wait,
            verify.into(),
        ],
        estimate,
        limit,
        warnings,
        link: initial_link(device, &model),
    }
}

/// The plan as `plan --json` prints it, one object per device.
#[derive(Debug, Serialize)]
pub struct PlanView<'a> {
    pub id: &'a str,
    pub host: String,
    pub model: Option<&'a str>,
    pub family: Family,
    pub mac: Option<String>,
    pub site: Option<&'a str>,
    pub unit: Option<&'a str>,
    pub method: Method,
    /// Why that method.
    pub why: &'a str,
    /// The outlet it is power-cycled through (`strip-1#2`), for the upstream method.
    pub via: Option<String>,
    /// The devices it powers, which act before it.
    pub after: &'a [String],
    pub protocol: &'static str,
    pub protocol_source: &'static str,
    pub steps: &'a [String],
    pub estimate_s: u64,
    pub limit_s: u64,
    pub warnings: &'a [String],
}

impl PlannedJob {
    pub fn view(&self) -> PlanView<'_> {
        PlanView {
            id: &self.device.id,
            host: self.device.host.to_string(),
            model: self.device.model.as_deref(),
            family: self.model.family,
            mac: self.device.mac.map(|m| m.to_string()),
            site: self.device.site.as_deref(),
            unit: self.device.unit.as_deref(),
            method: self.method.word(),
            why: &self.why,
            via: match &self.method {
                MethodPlan::Upstream(u) => Some(u.outlet_name()),
                _ => None,
            },
            after: &self.after,
            protocol: self.link.protocol.as_str(),
            protocol_source: self.link.source,
            steps: &self.steps,
            estimate_s: self.estimate.as_secs(),
            limit_s: self.limit.as_secs(),
            warnings: &self.warnings,
        }
    }
}

#[cfg(test)]
mod tests;
