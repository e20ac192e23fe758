//! `resume`'s rules for a job whose intent was recorded and that has no outcome. The command
//! may have arrived; it is **never sent again**. The job is judged from what the audit holds
//! ([`Evidence`]) and one look at the device, after at least as long as the run itself would
//! have waited. Anything the evidence can't prove ends `not_verified`.
//!
//! A power cycle succeeded when:
//! - the run had seen the device go away after the command, and it is back with its settings;
//! - or the device is away now and comes back within its boot budget, with its settings;
//! - or its relay on-time, compared with the time since the intent on the host's boot clock,
//!   shows it restarted after the intent, and its settings are kept.
//!
//! A factory reset succeeded when:
//! - the run had seen it leave the network (recorded);
//! - or it acknowledged (or the command was written in full) and it is gone now;
//! - or it was bound to an account before the intent and reports being unbound now.
//!
//! A refusal recorded before the interruption stands as the job's failure. Every other case is
//! `not_verified`, with the reason in words: no acknowledgement and the device gone (it may
//! have been reset, or be offline), on-time unbroken since before the intent (the command had
//! no effect), or a clock that can't tell.

use std::net::SocketAddr;

use serde_json::json;
use tokio::time::Instant;

use crate::device::DeviceInfo;
use crate::model::{Action, EventKind, Reason};
use crate::store::{SnapshotPhase, StoreError};

use super::super::config::{CLOCK_SLACK_SECS, POLL_INTERVAL};
use super::super::host_clock::HostMark;
use super::command::relay_on_time;
use super::evidence::{Arrival, Evidence, Since};
use super::identity::identity_problem;
use super::verify::Settings;
use super::{Ctx, Fail, Verdict};

/// What one look at the device found.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// Two looks in a row got no answer.
    Away,
    /// It answered as the inventory's device.
    Present(&'a DeviceInfo),
    /// It was away, and answered again within its boot budget.
    Returned(&'a DeviceInfo),
}

/// Where judging a job leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Done(Verdict),
    /// A power cycle found the device away: wait for it to come back, then judge again with
    /// [`Observation::Returned`].
    AwaitReturn,
}

/// What the device's on-time says about a restart since the intent.
#[derive(Debug, Clone, PartialEq)]
enum Restart {
    /// It counts fewer seconds than have passed since the intent.
    Yes {
        on_time: u64,
        after_intent_s: f64,
    },
    /// It counts more: a relay has been on without a break since before the intent.
    No {
        on_time: u64,
        since_intent_s: f64,
    },
    Unknown(String),
}

fn restart(ev: &Evidence, info: &DeviceInfo, since: Since) -> Restart {
    let Some(intent) = &ev.intent else {
        return Restart::Unknown(
            "the intent was recorded without clock marks (by an older fleetreset)".into(),
        );
    };
    let Some(e) = since.intent else {
        return Restart::Unknown(
            "the host's boot clock can't measure the time since the intent (the host restarted since, or the record comes from another host)".into(),
        );
    };
    let Some(pre) = intent.pre.on_time_s else {
        return Restart::Unknown("it had no relay on before the intent to keep an on-time".into());
    };
    let Some(now) = relay_on_time(info) else {
        return Restart::Unknown("it has no relay on now to show an on-time".into());
    };
    let slack = CLOCK_SLACK_SECS;
    if let Some(p) = since.probe
        && now as f64 > pre as f64 + p + slack
    {
        return Restart::Unknown(format!(
            "its on-time ({now} s) is more than it can have counted since the probe ({pre} s then, {p:.0} s ago)"
        ));
    }
    if (now as f64) + slack < e {
        Restart::Yes {
            on_time: now,
            after_intent_s: e - now as f64,
        }
    } else if now as f64 >= e + slack {
        Restart::No {
            on_time: now,
            since_intent_s: e,
        }
    } else {
        Restart::Unknown(format!(
            "its on-time ({now} s) is too close to the time since the intent ({e:.0} s) to tell"
        ))
    }
}

/// Judges a job from its evidence and what a look found. Pure.
///
/// What the device shows is never enough on its own: a success needs the run to have recorded
/// that the command arrived (an acknowledgement, or the command written in full). Without it,
/// an on-time that restarted or a device that went away and came back may have been a power
/// cut, or someone switching the relay, so the job is `not_verified` with what was seen.
pub fn judge(ev: &Evidence, obs: Observation<'_>, since: Since) -> Judgement {
    match judge_device(ev, obs, since) {
        Judgement::Done(Ok(seen)) if !ev.arrival.arrived() && ev.settled().is_none() => {
            let seen = seen.trim_end_matches("; not sent again");
            Judgement::Done(Err(Fail(
                Reason::NotVerified,
                format!(
                    "{seen}, but no acknowledgement of the command was recorded before the interruption, so that may not have been its doing; not sent again"
                ),
            )))
        }
        other => other,
    }
}

/// What the device shows, judged as if the command had arrived.
fn judge_device(ev: &Evidence, obs: Observation<'_>, since: Since) -> Judgement {
    if let Some(v) = ev.settled() {
        return Judgement::Done(v);
    }
    let not_verified = |why: String| Judgement::Done(Err(Fail(Reason::NotVerified, why)));
    let kept = |info: &DeviceInfo, ok: String| -> Judgement {
        let pre = ev.intent.as_ref().map(|i| &i.pre.settings);
        match pre.and_then(|p| p.changed_in(&Settings::of(info))) {
            Some(change) => not_verified(format!(
                "observed on resume: it restarted but came back with {change}"
            )),
            None => Judgement::Done(Ok(ok)),
        }
    };
    match (ev.action, obs) {
        (Action::PowerCycle, Observation::Away) => Judgement::AwaitReturn,
        (Action::PowerCycle, Observation::Returned(info)) => kept(
            info,
            "observed on resume: it was away and came back; not sent again".into(),
        ),
        (Action::PowerCycle, Observation::Present(info)) if ev.went_away || ev.came_back => kept(
            info,
            "the run saw it go away after the reboot, and it is back; not sent again".into(),
        ),
        (Action::PowerCycle, Observation::Present(info)) => match restart(ev, info, since) {
            Restart::Yes {
                on_time,
                after_intent_s,
            } => kept(
                info,
                format!(
                    "observed on resume: its on-time ({on_time} s) shows it restarted about {after_intent_s:.0} s after the intent; not sent again"
                ),
            ),
            Restart::No {
                on_time,
                since_intent_s,
            } => not_verified(format!(
                "{}: its on-time ({on_time} s) shows no restart in the {since_intent_s:.0} s since the intent; not sent again. Power-cycle it in a new run",
                match ev.arrival {
                    Arrival::Acknowledged => "it acknowledged the reboot but did not restart",
                    _ => "no sign the reboot reached it",
                }
            )),
            Restart::Unknown(why) => not_verified(format!(
                "observed on resume: cannot tell whether it restarted: {why}; not sent again"
            )),
        },
        (Action::FactoryReset, Observation::Away) if ev.arrival.arrived() => Judgement::Done(Ok(
            "acknowledged before the interruption, and gone from the network now; not sent again"
                .into(),
        )),
        (Action::FactoryReset, Observation::Away) => not_verified(
            "no acknowledgement was recorded before the interruption, and the device does not answer: it may have been reset, or be offline; not sent again. Check it on site".into(),
        ),
        (Action::FactoryReset, Observation::Present(info) | Observation::Returned(info)) => {
            let was_bound = ev.intent.as_ref().and_then(|i| i.pre.bound) == Some(true);
            if was_bound && info.bound == Some(false) {
                return Judgement::Done(Ok(
                    "observed on resume: it reports factory defaults (no longer bound to an account); not sent again".into(),
                ));
            }
            let why = match (&ev.arrival, restart(ev, info, since)) {
                (_, _) if !was_bound => {
                    "it is still on the network, and it was not bound to an account before either, so being unbound proves nothing".to_string()
                }
                (Arrival::Acknowledged, _) => {
                    "it acknowledged the reset but is still on the network and bound".to_string()
                }
                (_, Restart::No { on_time, since_intent_s }) => format!(
                    "no sign the reset reached it: it is still bound, and its on-time ({on_time} s) shows no restart in the {since_intent_s:.0} s since the intent"
                ),
                _ => "it is still on the network and not shown to be reset".to_string(),
            };
            not_verified(format!(
                "observed on resume: {why}; not sent again. Check it, then factory-reset it in a new run"
            ))
        }
    }
}

impl Ctx<'_> {
    /// Judges a job whose command may have arrived: waits until `not_before` (the scheduler
    /// normally starts it no earlier), looks, and decides by [`judge`]. Sends no command.
    pub(super) async fn resolve_intent(
        &mut self,
        addr: SocketAddr,
        ev: &Evidence,
        not_before: Instant,
    ) -> Result<Verdict, StoreError> {
        tokio::time::sleep_until(not_before).await;
        if let Some(protocol) = ev.sent_over() {
            self.protocol = protocol;
        }
        let since = ev.since(&HostMark::now(), self.config());
        let mut detail = ev.summary();
        detail["device_secs_since_intent"] = json!(since.intent);
        self.event(EventKind::Resolving, detail).await?;
        if let Some(v) = ev.settled() {
            return Ok(v);
        }
        if let Some(outlet) = ev.upstream() {
            return self.resolve_upstream(addr, ev, outlet).await;
        }
        self.attempts += 1;
        let seen = match self.look(addr).await {
            Some(p) => Some(p),
            // One more look: a single miss could be a lost packet.
            None => {
                tokio::time::sleep(self.config().scaled(POLL_INTERVAL)).await;
                self.look(addr).await
            }
        };
        let judgement = match &seen {
            None => {
                self.event(EventKind::ObservedAway, json!({})).await?;
                judge(ev, Observation::Away, since)
            }
            Some(p) => {
                if let Some(f) = self.someone_else(addr, &p.info) {
                    return Ok(Err(f));
                }
                self.snapshot(SnapshotPhase::Post, p).await?;
                judge(ev, Observation::Present(&p.info), since)
            }
        };
        match judgement {
            Judgement::Done(v) => Ok(v),
            Judgement::AwaitReturn => match self.wait_back(addr, Instant::now()).await {
                None => Ok(Err(self.not_back("observed on resume: it is away"))),
                Some(p) => {
                    if let Some(f) = self.someone_else(addr, &p.info) {
                        return Ok(Err(f));
                    }
                    self.event(EventKind::CameBack, json!({})).await?;
                    self.snapshot(SnapshotPhase::Post, &p).await?;
                    let since = ev.since(&HostMark::now(), self.config());
                    match judge(ev, Observation::Returned(&p.info), since) {
                        Judgement::Done(v) => Ok(v),
                        // Only a power cycle awaits a return, and it judges a return at once.
                        Judgement::AwaitReturn => Ok(Err(Fail(
                            Reason::NotVerified,
                            "observed on resume: it came back, but that proves nothing here".into(),
                        ))),
                    }
                }
            },
        }
    }

    /// The device answering now is not the inventory's: what became of the command can't be
    /// told from it.
    fn someone_else(&self, addr: SocketAddr, info: &DeviceInfo) -> Option<Fail> {
        identity_problem(&self.job.device, info, addr)?;
        Some(Fail(
            Reason::NotVerified,
            format!(
                "observed on resume: the device answering at {addr} is not the one the inventory means (it reports MAC {:?}); cannot tell what became of the command, and it was not sent again",
                info.mac
            ),
        ))
    }
}

#[cfg(test)]
mod tests;
