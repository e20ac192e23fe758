//! What the audit holds about a job whose intent was recorded and that has no outcome: the run
//! may have sent the command, and crashed (or was stopped) before it recorded how it ended.
//! Pure: built from the job's stored events, so it can be tested with made-up ones.

use std::time::Duration;

use serde_json::{Value, json};

use crate::model::{Action, EventKind, Reason};
use crate::store::EventRow;

use super::super::config::{AWAY_BUDGET, LEAVE_BUDGET, RunConfig};
use super::super::host_clock::HostMark;
use super::command::{IntentDetail, command_delay};
use super::{Fail, Verdict};

/// What the run recorded after the intent about the command itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Nothing: the command may have left, or not. Only the device can tell now.
    Unknown,
    /// The device acknowledged it.
    Acknowledged,
    /// It was written in full, then the connection dropped: it most likely arrived.
    SentNoAck,
    /// The device answered it unreadably: it may have arrived.
    Unreadable,
    /// The device refused it, or it could not be written: it had no effect.
    Refused(Fail),
}

impl Arrival {
    /// Whether the run saw a sign that the command reached the device.
    pub fn arrived(&self) -> bool {
        matches!(
            self,
            Arrival::Acknowledged | Arrival::SentNoAck | Arrival::Unreadable
        )
    }
}

/// Everything `resume` knows about one job before it looks at the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub action: Action,
    /// The intent's detail; `None` when it can't be read, as from an older fleetreset that
    /// recorded no clock marks. Then nothing can be judged from the device's clock.
    pub intent: Option<IntentDetail>,
    pub arrival: Arrival,
    /// The run saw the device go away after the command (power cycle).
    pub went_away: bool,
    /// The run saw it come back (power cycle).
    pub came_back: bool,
    /// The run saw it leave the network (factory reset): its verification was complete.
    pub left_network: bool,
    /// Upstream method: the switch acknowledged the outlet off.
    pub outlet_off: bool,
    /// Upstream method: the outlet was switched on again.
    pub outlet_on: bool,
    /// Upstream method: a stopped run switched the outlet on before its off time was over.
    pub cut_short: bool,
}

/// Device seconds since the intent and since the pre-probe, where the host's boot clock can
/// measure them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Since {
    pub intent: Option<f64>,
    pub probe: Option<f64>,
}

impl Evidence {
    /// The evidence in `events` (one job's events, in write order), or `None` when they hold no
    /// intent: then no command was ever sent, and the job can simply run.
    pub fn from_events<'a>(
        action: Action,
        events: impl IntoIterator<Item = &'a EventRow>,
    ) -> Option<Evidence> {
        let mut evidence: Option<Evidence> = None;
        for e in events {
            // The run's own events say nothing of one job's command.
            let Some(kind) = e.kind.job() else {
                continue;
            };
            if kind == EventKind::Intent {
                evidence = Some(Evidence {
                    action,
                    intent: serde_json::from_value(e.detail.clone()).ok(),
                    arrival: Arrival::Unknown,
                    went_away: false,
                    came_back: false,
                    left_network: false,
                    outlet_off: false,
                    outlet_on: false,
                    cut_short: false,
                });
                continue;
            }
            // Before the intent nothing was sent; those events say nothing about a command.
            let Some(ev) = evidence.as_mut() else {
                continue;
            };
            match kind {
                EventKind::Ack => ev.arrival = Arrival::Acknowledged,
                EventKind::SentNoAck => ev.arrival = Arrival::SentNoAck,
                EventKind::UnreadableAck => ev.arrival = Arrival::Unreadable,
                EventKind::CommandFailed => ev.arrival = Arrival::Refused(refusal(&e.detail)),
                EventKind::WentAway => ev.went_away = true,
                EventKind::CameBack => ev.came_back = true,
                EventKind::LeftNetwork => ev.left_network = true,
                // An off the switch never confirmed is no sign that it arrived.
                EventKind::OutletOff => {
                    ev.outlet_off = ev.outlet_off || e.detail["confirmed"] != json!(false)
                }
                // Only a switch that confirmed the outlet on: one recorded with the outlet
                // still off (or not saying) must be switched on by `resume`.
                EventKind::OutletOn => {
                    ev.outlet_on = ev.outlet_on || e.detail["relay_after"] == json!(true);
                    ev.cut_short = ev.cut_short || e.detail["cut_short"] == json!(true);
                }
                _ => {}
            }
        }
        evidence
    }

    /// A verdict the records alone give, with no need to look at the device: the run had
    /// seen the device leave, or the device had refused the command.
    pub fn settled(&self) -> Option<Verdict> {
        if let Arrival::Refused(f) = &self.arrival {
            return Some(Err(f.clone()));
        }
        (self.action == Action::FactoryReset && self.left_network).then(|| {
            Ok("it had acknowledged and left the network before the interruption (recorded); not sent again".into())
        })
    }

    /// How long after the intent the run itself would have waited before judging that the
    /// command had no effect (device time): its delay plus the budget for going away
    /// (reboot) or leaving (reset). `resume` waits at least this long.
    pub fn budget(&self) -> Duration {
        command_delay()
            + match self.action {
                Action::PowerCycle => AWAY_BUDGET,
                Action::FactoryReset => LEAVE_BUDGET,
            }
    }

    /// Real time to wait, from `now`, before judging. Counted from the intent on the host's
    /// boot clock; when that can't measure the time since (another boot of the host, no clock
    /// marks), the whole budget from now, which is surely at least as long.
    pub fn wait_before_judging(&self, now: &HostMark, config: &RunConfig) -> Duration {
        // An outlet left off is switched on at once: a crash must not leave a router dark.
        if self.settled().is_some() || self.upstream().is_some() {
            return Duration::ZERO;
        }
        let budget = config.scaled(self.budget());
        match self.intent.as_ref().and_then(|i| i.host.until(now)) {
            Some(elapsed) => budget.saturating_sub(elapsed),
            None => budget,
        }
    }

    /// The outlet the intent was to switch off, for the upstream method.
    pub fn upstream(&self) -> Option<&super::command::OutletIntent> {
        self.intent.as_ref()?.upstream.as_ref()
    }

    /// Where the command went, as the intent recorded it.
    pub fn sent_to(&self) -> Option<std::net::SocketAddr> {
        self.intent.as_ref()?.addr.as_deref()?.parse().ok()
    }

    /// The protocol the command went over, as the intent recorded it: the one to look with.
    pub fn sent_over(&self) -> Option<crate::device::ProtocolKind> {
        self.intent.as_ref()?.protocol.as_deref()?.parse().ok()
    }

    /// Device seconds since the intent and since the probe, as of `now`.
    pub fn since(&self, now: &HostMark, config: &RunConfig) -> Since {
        let device = |from: &HostMark| from.until(now).map(|d| config.device_secs(d));
        Since {
            intent: self.intent.as_ref().and_then(|i| device(&i.host)),
            probe: self.intent.as_ref().and_then(|i| device(&i.pre.host)),
        }
    }

    /// For the `resolving` event.
    pub fn summary(&self) -> Value {
        json!({
            "arrival": match &self.arrival {
                Arrival::Unknown => "unknown",
                Arrival::Acknowledged => "acknowledged",
                Arrival::SentNoAck => "sent_no_ack",
                Arrival::Unreadable => "unreadable",
                Arrival::Refused(_) => "refused",
            },
            "went_away": self.went_away,
            "came_back": self.came_back,
            "left_network": self.left_network,
            "clock_marks": self.intent.is_some(),
        })
    }
}

/// A job whose device refused the credentials before the interruption, as its durable
/// `probe_failed` event says: it is not tried again (each try is one more failed login towards
/// the device's lockout) and ends with that failure.
pub fn refused_login<'a>(events: impl IntoIterator<Item = &'a EventRow>) -> Option<Fail> {
    events
        .into_iter()
        .filter(|e| e.kind == EventKind::ProbeFailed && !is_gated(e))
        .find(|e| e.detail["reason"].as_str() == Some(Reason::AuthFailed.as_str()))
        .map(|e| {
            Fail(
                Reason::AuthFailed,
                format!(
                    "{} (recorded before the interruption); not tried again, since each try is another failed login towards the device's lockout",
                    e.detail["detail"].as_str().unwrap_or("the device refused the credentials")
                ),
            )
        })
}

/// Whether a `probe_failed` event is the TPAP login gate's: the job was held back with nothing
/// sent, no login refused. `resume` decides such a job afresh, gate and all.
pub fn is_gated(e: &EventRow) -> bool {
    e.detail["gated"] == true
}

/// A job interrupted during a login whose result was never recorded: a `login_attempt` and no
/// pre-state snapshot (written once the login and the probe went through). If the password was
/// wrong the device has counted one failure already, so it is not tried again.
pub fn login_unsettled<'a>(
    events: impl IntoIterator<Item = &'a EventRow>,
    probed: bool,
) -> Option<Fail> {
    let attempted = events
        .into_iter()
        .any(|e| e.kind == EventKind::LoginAttempt);
    (attempted && !probed).then(|| {
        Fail(
            Reason::NotVerified,
            "a login with the credentials profile was under way when the run was interrupted, and its result was not recorded; not tried again, since a second failed login would count towards the device's lockout. Run it again once the credentials are known to be right".into(),
        )
    })
}

/// The failure a `command_failed` event recorded. Older fleetreset versions stored only the
/// detail; their refusals read as device errors.
fn refusal(detail: &Value) -> Fail {
    let reason = detail["reason"]
        .as_str()
        .and_then(|r| r.parse::<Reason>().ok())
        .unwrap_or(Reason::DeviceError);
    let words = detail["detail"]
        .as_str()
        .unwrap_or("the device refused the command")
        .to_owned();
    Fail(
        reason,
        format!("{words} (recorded before the interruption)"),
    )
}

#[cfg(test)]
mod tests;
