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
            let Ok(kind) = e.kind.parse::<EventKind>() else {
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
        .filter(|e| e.kind == EventKind::ProbeFailed.as_str())
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

/// A job interrupted during a login whose result was never recorded: a `login_attempt` and no
/// pre-state snapshot (written once the login and the probe went through). If the password was
/// wrong the device has counted one failure already, so it is not tried again.
pub fn login_unsettled<'a>(
    events: impl IntoIterator<Item = &'a EventRow>,
    probed: bool,
) -> Option<Fail> {
    let attempted = events
        .into_iter()
        .any(|e| e.kind == EventKind::LoginAttempt.as_str());
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
mod tests {
    use super::*;
    use crate::engine::job::command::PreState;
    use crate::engine::job::verify::Settings;

    fn event(id: i64, kind: &str, detail: Value) -> EventRow {
        EventRow {
            id,
            device_id: Some("d".into()),
            at: chrono::Utc::now(),
            state: None,
            kind: kind.into(),
            detail,
        }
    }

    fn mark(ms: u64) -> HostMark {
        HostMark {
            boot_id: Some("boot".into()),
            boottime_ms: ms,
        }
    }

    fn intent_at(ms: u64) -> Value {
        serde_json::to_value(IntentDetail {
            command: "reboot".into(),
            delay_s: 1,
            addr: Some("10.0.0.7:9999".into()),
            time_scale: 1.0,
            host: mark(ms),
            pre: PreState {
                host: mark(ms - 50),
                on_time_s: Some(1000),
                bound: Some(true),
                settings: Settings {
                    alias: "a".into(),
                    relay_on: Some(true),
                    outlets: vec![],
                },
            },
            upstream: None,
        })
        .unwrap()
    }

    fn config() -> RunConfig {
        RunConfig {
            action: Action::FactoryReset,
            limits: Default::default(),
            timeouts: Default::default(),
            time_scale: 1.0,
            method: Default::default(),
        }
    }

    #[test]
    fn without_an_intent_there_is_no_evidence_and_the_job_runs_afresh() {
        let events = [
            event(1, "state", json!({})),
            event(2, "probe_retry", json!({})),
        ];
        assert_eq!(Evidence::from_events(Action::PowerCycle, &events), None);
    }

    #[test]
    fn an_outlet_on_the_switch_did_not_confirm_is_not_evidence_that_the_outlet_is_on() {
        let events = [
            event(1, "intent", intent_at(10_000)),
            event(
                2,
                "outlet_off",
                json!({"outlet": "s#2", "relay_before": true}),
            ),
            event(
                3,
                "outlet_on",
                json!({"outlet": "s#2", "relay_after": false}),
            ),
        ];
        let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
        assert!(ev.outlet_off);
        assert!(
            !ev.outlet_on,
            "the switch left it off: resume must switch it on"
        );
        let events = [
            event(1, "intent", intent_at(10_000)),
            event(
                2,
                "outlet_off",
                json!({"outlet": "s#2", "confirmed": false}),
            ),
        ];
        assert!(
            !Evidence::from_events(Action::PowerCycle, &events)
                .unwrap()
                .outlet_off,
            "an off the switch never confirmed"
        );
        let events = [
            event(1, "intent", intent_at(10_000)),
            event(
                2,
                "outlet_on",
                json!({"outlet": "s#2", "relay_after": null}),
            ),
        ];
        assert!(
            !Evidence::from_events(Action::PowerCycle, &events)
                .unwrap()
                .outlet_on
        );
        let events = [
            event(1, "intent", intent_at(10_000)),
            event(
                2,
                "outlet_on",
                json!({"outlet": "s#2", "relay_after": true}),
            ),
        ];
        assert!(
            Evidence::from_events(Action::PowerCycle, &events)
                .unwrap()
                .outlet_on
        );
    }

    #[test]
    fn an_ack_after_the_intent_is_a_sign_the_command_arrived() {
        let events = [
            event(1, "intent", intent_at(10_000)),
            event(2, "state", json!({})),
            event(3, "ack", json!({})),
        ];
        let ev = Evidence::from_events(Action::FactoryReset, &events).unwrap();
        assert_eq!(ev.arrival, Arrival::Acknowledged);
        assert!(ev.arrival.arrived());
        assert!(ev.intent.is_some());
        assert_eq!(ev.settled(), None);
    }

    #[test]
    fn a_refusal_settles_the_job_with_the_recorded_reason_and_a_left_network_with_success() {
        let refused = [
            event(1, "intent", intent_at(10_000)),
            event(
                2,
                "command_failed",
                json!({"reason": "unreachable", "detail": "the reboot could not be sent"}),
            ),
        ];
        let ev = Evidence::from_events(Action::PowerCycle, &refused).unwrap();
        let Some(Err(Fail(reason, detail))) = ev.settled() else {
            panic!("{ev:?}");
        };
        assert_eq!(reason, Reason::Unreachable);
        assert!(
            detail.starts_with("the reboot could not be sent"),
            "{detail}"
        );

        let left = [
            event(1, "intent", intent_at(10_000)),
            event(2, "ack", json!({})),
            event(3, "left_network", json!({"after_s": 4})),
        ];
        let ev = Evidence::from_events(Action::FactoryReset, &left).unwrap();
        assert!(matches!(ev.settled(), Some(Ok(_))));
        assert_eq!(
            ev.wait_before_judging(&mark(10_001), &config()),
            Duration::ZERO
        );
    }

    #[test]
    fn a_recorded_login_refusal_settles_a_job_without_another_try() {
        let refused = [
            event(1, "state", json!({})),
            event(
                2,
                "probe_failed",
                json!({"reason": "auth_failed", "detail": "probe failed: authentication failed: x"}),
            ),
        ];
        let Some(Fail(reason, detail)) = refused_login(&refused) else {
            panic!("a recorded refusal must settle the job");
        };
        assert_eq!(reason, Reason::AuthFailed);
        assert!(detail.contains("not tried again"), "{detail}");
        let timeout = [event(
            1,
            "probe_failed",
            json!({"reason": "timeout", "detail": "probe failed: timed out"}),
        )];
        assert_eq!(refused_login(&timeout), None);
    }

    #[test]
    fn a_login_under_way_at_the_interruption_is_not_tried_again_unless_it_went_through() {
        let events = [
            event(1, "login_attempt", json!({})),
            event(2, "state", json!({})),
        ];
        let Some(Fail(reason, detail)) = login_unsettled(&events, false) else {
            panic!("a login of unknown result must not be repeated");
        };
        assert_eq!(reason, Reason::NotVerified);
        assert!(detail.contains("not tried again"), "{detail}");
        assert_eq!(
            login_unsettled(&events, true),
            None,
            "the probe's snapshot shows it went through"
        );
        assert_eq!(
            login_unsettled(&[event(1, "state", json!({}))], false),
            None
        );
    }

    #[test]
    fn an_intent_of_an_older_fleetreset_is_evidence_without_clock_marks() {
        let events = [event(
            1,
            "intent",
            json!({"command": "reboot", "delay_s": 1}),
        )];
        let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
        assert_eq!(ev.intent, None);
        assert_eq!(ev.arrival, Arrival::Unknown);
        assert_eq!(ev.since(&mark(99_000), &config()), Since::default());
    }

    #[test]
    fn resume_waits_out_what_is_left_of_the_run_s_own_budget_on_the_boot_clock() {
        let events = [event(1, "intent", intent_at(10_000))];
        let ev = Evidence::from_events(Action::FactoryReset, &events).unwrap();
        // Delay 1 s plus the 60 s leave budget: 61 s after the intent.
        assert_eq!(ev.budget(), Duration::from_secs(61));
        assert_eq!(
            ev.wait_before_judging(&mark(13_000), &config()),
            Duration::from_secs(58)
        );
        assert_eq!(
            ev.wait_before_judging(&mark(80_000), &config()),
            Duration::ZERO
        );
        let since = ev.since(&mark(13_000), &config());
        assert_eq!(since.intent, Some(3.0));
        assert_eq!(since.probe, Some(3.05));
    }

    #[test]
    fn after_a_host_reboot_or_with_an_impossible_clock_resume_waits_the_whole_budget() {
        let events = [event(1, "intent", intent_at(10_000))];
        let ev = Evidence::from_events(Action::PowerCycle, &events).unwrap();
        let other_boot = HostMark {
            boot_id: Some("another".into()),
            boottime_ms: 500_000,
        };
        assert_eq!(
            ev.wait_before_judging(&other_boot, &config()),
            Duration::from_secs(31)
        );
        // A reading before the intent's can't happen on one boot: unknown, not negative.
        assert_eq!(
            ev.wait_before_judging(&mark(9_000), &config()),
            Duration::from_secs(31)
        );
        assert_eq!(ev.since(&mark(9_000), &config()).intent, None);
    }
}
