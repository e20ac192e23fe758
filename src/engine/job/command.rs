//! The disruptive step: the durable intent, then the command on the connection the device's
//! identity was just checked on, then what the device said to it.
//!
//! The intent carries what `resume` needs to judge the job after a crash without trusting any
//! wall clock: the host's boot-clock mark at the intent and at the probe, and the device's own
//! on-time and settings at the probe ([`IntentDetail`]).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::device::{Ack, Asked, COMMAND_DELAY_SECS, DeviceClient, DeviceError, DeviceInfo};
use crate::inert::Inert;
use crate::model::{Action, EventKind, JobState, Reason};
use crate::store::StoreError;

use super::super::host_clock::HostMark;
use super::identity::same_device;
use super::verify::Settings;
use super::{Ctx, Fail, Probe, Verdict};

/// The intent event's detail, written and read back by this one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentDetail {
    /// `reboot` or `factory reset`.
    pub command: String,
    /// The delay the command asks for, in device seconds.
    pub delay_s: u32,
    /// Where the command goes (`10.0.0.7:9999`): the address resume looks at, and which no
    /// other row of the run may be sent a command at. Absent from older records.
    #[serde(default)]
    pub addr: Option<String>,
    /// Real seconds per device second in this run.
    pub time_scale: f64,
    /// The host's boot clock as the intent was committed.
    pub host: HostMark,
    /// The device as probed just before.
    pub pre: PreState,
    /// Upstream method: the outlet switched off instead of a command to the device. Absent for
    /// a remote command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<OutletIntent>,
    /// The protocol the command goes over (the link's, or the other of KLAP and TPAP,
    /// [`super::negotiate`]): the one resume looks with, whatever discovery says then. Absent
    /// from older records and upstream intents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// What `resume` needs to switch an outlet back on, and nothing more: the switch and the outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutletIntent {
    /// `strip-1#2` or `plug-3`, as `power_via` writes it.
    pub outlet: String,
    /// The switch's address, e.g. `127.43.1.1:9999`.
    pub switch_addr: String,
    /// The switch's protocol (`iot`, `smart-klap`, …).
    pub protocol: String,
    /// The strip outlet's child id; `None` for a plug's own relay.
    pub child_id: Option<String>,
    /// The outlet's relay state before it was switched off.
    pub relay_before: Option<bool>,
    /// How long it is held off, in device seconds.
    pub off_time_s: u64,
}

/// What the pre-probe showed, as the rules of `resume` use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreState {
    /// The host's boot clock when the probe's reply arrived.
    pub host: HostMark,
    /// The longest on-time of the relays that were on ([`relay_on_time`]).
    pub on_time_s: Option<u64>,
    pub bound: Option<bool>,
    pub settings: Settings,
}

impl PreState {
    pub fn of(probe: &Probe) -> PreState {
        PreState {
            host: probe.at.clone(),
            on_time_s: relay_on_time(&probe.info),
            bound: probe.info.bound,
            settings: Settings::of(&probe.info),
        }
    }
}

/// The device's own clock, as far as it shows one: the longest on-time among its relays that
/// are on (the plug's relay, or a strip's outlets). Every relay's on-time restarts when the
/// device boots, so this restarting proves a reboot, and it running on past the time since a
/// command proves none. `None` when no relay is on.
pub fn relay_on_time(info: &DeviceInfo) -> Option<u64> {
    let plug = (info.relay_on == Some(true))
        .then_some(info.on_time)
        .flatten();
    let outlets = info
        .children
        .iter()
        .filter(|c| c.on == Some(true))
        .filter_map(|c| c.on_time);
    plug.into_iter().chain(outlets).max()
}

fn command_word(action: Action) -> &'static str {
    match action {
        Action::PowerCycle => "reboot",
        Action::FactoryReset => "factory reset",
    }
}

impl Ctx<'_> {
    /// Records the intent durably, sends the command on `client` (the connection the identity
    /// was checked on), records what came back, and verifies the effect.
    pub(super) async fn act_and_verify(
        &mut self,
        mut client: DeviceClient,
        addr: SocketAddr,
        pre: &Probe,
    ) -> Result<Verdict, StoreError> {
        let action = self.config().action;
        let command = command_word(action);
        let intent = IntentDetail {
            command: command.into(),
            delay_s: COMMAND_DELAY_SECS,
            addr: Some(addr.to_string()),
            time_scale: self.config().time_scale,
            host: HostMark::now(),
            pre: PreState::of(pre),
            upstream: None,
            protocol: Some(self.protocol.as_str().to_string()),
        };
        // Committed before the command leaves: after a crash, `resume` knows this device may
        // have received it, and never sends it again.
        let detail = serde_json::to_value(&intent).expect("the intent serialises");
        self.env
            .writer
            .record_durable(self.event_record(
                Some(JobState::IntentRecorded),
                EventKind::Intent,
                detail,
            ))
            .await?;
        self.state(JobState::Acting, json!({ "command": command }))
            .await?;

        client.pin();
        let mut sent_at = Instant::now();
        let mut ack = send(&mut client, action).await;
        if let Err(DeviceError::NotSent { .. }) = ack {
            // The checked connection ended before the command: nothing was written. Check the
            // identity again on a new connection, and send on that one, once.
            self.event(
                EventKind::NotSent,
                json!({ "detail": "the connection the identity was checked on had ended; checking again" }),
            )
            .await?;
            client = self.client(addr);
            self.attempts += 1;
            match super::probe(&mut client).await {
                Ok(again) if same_device(&pre.info, &again.info) => {
                    if let Err(f) = self.check_identity(addr, &again).await? {
                        return Ok(Err(f));
                    }
                    client.pin();
                    sent_at = Instant::now();
                    ack = send(&mut client, action).await;
                }
                Ok(_) => {
                    return Ok(Err(Fail(
                        Reason::IdentityMismatch,
                        format!(
                            "another device answered at {addr} just before the {command}; nothing was sent"
                        ),
                    )));
                }
                Err(e) => {
                    return Ok(Err(Fail(
                        e.reason(),
                        format!(
                            "the device stopped answering just before the {command}; nothing was sent: {e}"
                        ),
                    )));
                }
            }
        }
        drop(client);
        let ack_note = match ack {
            Ok(Ack::Acknowledged) => {
                self.event(EventKind::Ack, json!({})).await?;
                "acknowledged"
            }
            Ok(Ack::SentNoAck { detail }) => {
                self.event(EventKind::SentNoAck, json!({ "detail": detail }))
                    .await?;
                "sent (the connection dropped before an acknowledgement)"
            }
            Err(e @ DeviceError::Malformed { .. }) => {
                // It answered, unreadably: the command may have arrived. Observe, don't assume.
                self.event(EventKind::UnreadableAck, json!({ "detail": e.to_string() }))
                    .await?;
                "sent (the reply was unreadable)"
            }
            Err(e) => {
                // A device that answers reads and refuses the command as a method it doesn't
                // know (button-only firmware) has no remote path: a work order.
                self.manual = e.is_unknown_method();
                let failure = refusal(command, &e);
                self.event(
                    EventKind::CommandFailed,
                    json!({ "reason": failure.0, "detail": failure.1, "error": e.to_string() }),
                )
                .await?;
                return Ok(Err(failure));
            }
        };

        self.state(JobState::Verifying, json!({})).await?;
        let verdict = match action {
            Action::PowerCycle => self.verify_power_cycle(addr, pre, sent_at).await?,
            Action::FactoryReset => self.verify_factory_reset(addr, pre, sent_at).await?,
        };
        Ok(verdict.map(|detail| format!("{ack_note}; {detail}")))
    }
}

/// Boxed like a look ([`Ctx::look`](super::Ctx)): a round trip's state, not a waiting job's.
async fn send(client: &mut DeviceClient, action: Action) -> Result<Ack, DeviceError> {
    match action {
        Action::PowerCycle => Box::pin(client.reboot()).await,
        Action::FactoryReset => Box::pin(client.factory_reset()).await,
    }
}

/// The failure for a command the device refused or that could not be written.
fn refusal(command: &str, e: &DeviceError) -> Fail {
    let detail = match e {
        DeviceError::Device { code, msg, .. } => {
            format!(
                "the device refused the {command}: error {code} ({})",
                Inert(msg)
            )
        }
        other => format!("the {command} could not be sent: {other}"),
    };
    Fail(e.reason_when(Asked::Command), detail)
}

/// The command's delay as a duration of device time.
pub fn command_delay() -> Duration {
    Duration::from_secs(u64::from(COMMAND_DELAY_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ChildInfo;

    fn info(relay_on: Option<bool>, on_time: Option<u64>, children: Vec<ChildInfo>) -> DeviceInfo {
        DeviceInfo {
            model: "HS300".into(),
            alias: "a".into(),
            mac: "m".into(),
            device_id: "d".into(),
            kind: "k".into(),
            relay_on,
            on_time,
            children,
            bound: None,
            raw: json!({}),
            cloud_raw: None,
        }
    }

    fn outlet(on: bool, on_time: u64) -> ChildInfo {
        ChildInfo {
            id: "c".into(),
            alias: "c".into(),
            on: Some(on),
            on_time: Some(on_time),
        }
    }

    #[test]
    fn the_device_clock_is_the_longest_on_time_of_a_relay_that_is_on() {
        assert_eq!(
            relay_on_time(&info(Some(true), Some(900), vec![])),
            Some(900)
        );
        assert_eq!(relay_on_time(&info(Some(false), Some(0), vec![])), None);
        assert_eq!(relay_on_time(&info(None, None, vec![])), None);
        let strip = info(
            None,
            None,
            vec![outlet(true, 40), outlet(false, 0), outlet(true, 700)],
        );
        assert_eq!(relay_on_time(&strip), Some(700));
        assert_eq!(
            relay_on_time(&info(None, None, vec![outlet(false, 0)])),
            None
        );
    }

    #[test]
    fn a_refusal_shows_the_device_s_message_inert() {
        let e = DeviceError::Device {
            op: "reset",
            code: -3,
            msg: "\u{1b}[2J\n[ 9/9] forged".into(),
        };
        let Fail(reason, detail) = refusal("factory reset", &e);
        assert_eq!(reason, Reason::DeviceError);
        assert_eq!(
            detail,
            "the device refused the factory reset: error -3 (\\u{1b}[2J\\n[ 9/9] forged)"
        );
    }

    #[test]
    fn a_command_refused_as_an_unknown_method_is_unsupported() {
        let e = DeviceError::Device {
            op: "reboot",
            code: -2,
            msg: "member not support".into(),
        };
        assert_eq!(refusal("reboot", &e).0, Reason::Unsupported);
    }

    #[test]
    fn the_intent_detail_round_trips_through_json() {
        let mark = HostMark {
            boot_id: Some("b".into()),
            boottime_ms: 7,
        };
        let intent = IntentDetail {
            command: "reboot".into(),
            delay_s: 1,
            addr: Some("10.0.0.7:9999".into()),
            time_scale: 0.01,
            host: mark.clone(),
            pre: PreState {
                host: mark,
                on_time_s: Some(3),
                bound: Some(true),
                settings: Settings::of(&info(Some(true), Some(3), vec![])),
            },
            upstream: None,
            protocol: None,
        };
        let v = serde_json::to_value(&intent).unwrap();
        assert_eq!(v["pre"]["on_time_s"], 3);
        assert_eq!(serde_json::from_value::<IntentDetail>(v).unwrap(), intent);
    }
}
