//! `resume`'s rule for an upstream job interrupted after its intent: switch the outlet on if it
//! is off, never off again, and see the device come back.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::device::DeviceInfo;
use crate::model::{EventKind, Reason};
use crate::store::{SnapshotPhase, StoreError};

use super::super::super::config::POLL_INTERVAL;
use super::super::super::method::MethodPlan;
use super::super::super::plan::link_for;
use super::super::command::OutletIntent;
use super::super::{Ctx, Evidence, Fail, Verdict};
use super::switch::{Switch, on_budget, read_checked, switch_on};

impl Ctx<'_> {
    /// `resume`'s rule for an upstream job interrupted after its intent: the outlet is never
    /// switched off again. If the switch shows it off, it is switched on; then the device must
    /// come back. A success needs a sign that the off arrived (the switch's acknowledgement,
    /// or the outlet found off).
    pub(in crate::engine::job) async fn resolve_upstream(
        &mut self,
        addr: SocketAddr,
        ev: &Evidence,
        intent: &OutletIntent,
    ) -> Result<Verdict, StoreError> {
        let outlet = &intent.outlet;
        let Some(switch) = self.switch_from(intent) else {
            return Ok(Err(Fail(
                Reason::NotVerified,
                format!(
                    "the intent names a switch this fleetreset can't reach ({}, {}); check {outlet} by hand: it may be off",
                    intent.switch_addr, intent.protocol
                ),
            )));
        };
        self.attempts += 1;
        let mut found_off = false;
        let mut kept_answering = false;
        if !ev.outlet_on {
            let feeder = match &self.job.method {
                MethodPlan::Upstream(up) => up.feeder.as_ref().clone(),
                _ => self.job.device.clone(),
            };
            let state = match read_checked(self.env, &switch, &feeder).await {
                Ok(state) => state,
                Err(why) => {
                    return Ok(Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "observed on resume: {why}; {outlet} may still be off: check it by hand; nothing was switched"
                        ),
                    )));
                }
            };
            match state {
                Some(false) => {
                    found_off = true;
                    // When it went off is not known (after the intent, before the crash):
                    // held off for the whole off time from now, as the run would have. A
                    // moment off is a blip, not a power cycle.
                    kept_answering = self.hold_off(addr, intent).await;
                    let after = switch_on(self.env, &switch).await;
                    self.event(
                        EventKind::OutletOn,
                        json!({ "outlet": outlet, "relay_after": after, "by": "resume" }),
                    )
                    .await?;
                    if after != Some(true) {
                        return Ok(Err(Fail(
                            Reason::DeviceError,
                            format!(
                                "{outlet} was found off on resume, and the switch did not confirm it on again; switch it on by hand"
                            ),
                        )));
                    }
                }
                Some(true) => {}
                None => {
                    return Ok(Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "observed on resume: the switch of {outlet} did not say whether the outlet is on; check it by hand, it may be off; not switched again"
                        ),
                    )));
                }
            }
        }
        let from = Instant::now();
        let back = match self.look(addr).await {
            Some(p) => Some(p),
            None => self.wait_back(addr, from).await,
        };
        let Some(post) = back else {
            return Ok(Err(self.not_back(&format!(
                "observed on resume: {outlet} is on, but the device"
            ))));
        };
        self.event(EventKind::CameBack, json!({})).await?;
        self.snapshot(SnapshotPhase::Post, &post).await?;
        if let Some(f) = identity_problem_on_resume(self, addr, &post.info) {
            return Ok(Err(f));
        }
        if kept_answering {
            return Ok(Err(Fail(
                Reason::NotVerified,
                format!(
                    "observed on resume: {outlet} was found off and held off, but the device kept answering: the outlet may not power it (check its power_via); the outlet is on again"
                ),
            )));
        }
        if ev.cut_short {
            return Ok(Err(Fail(
                Reason::NotVerified,
                format!(
                    "observed on resume: the run was stopped while {outlet} was held off, and switched it on again before its off time was over; the device is back, but may not have restarted; not switched off again"
                ),
            )));
        }
        if ev.outlet_off || found_off {
            Ok(Ok(format!(
                "observed on resume: {outlet} had been switched off{}; the device is back; the outlet was not switched off again",
                if found_off {
                    " and was switched on by resume"
                } else {
                    " and on"
                }
            )))
        } else {
            Ok(Err(Fail(
                Reason::NotVerified,
                format!(
                    "observed on resume: {outlet} is on and the device answers, but nothing shows the outlet was ever switched off; not switched again"
                ),
            )))
        }
    }

    /// Holds an outlet found off for the intent's whole off time from now, looking meanwhile
    /// whether the device went dark; whether it kept answering all along.
    async fn hold_off(&self, addr: SocketAddr, intent: &OutletIntent) -> bool {
        let cfg = self.config();
        let until = Instant::now() + cfg.scaled(Duration::from_secs(intent.off_time_s));
        let poll = cfg.scaled(POLL_INTERVAL);
        let mut answering = true;
        while answering && Instant::now() < until {
            if self.look(addr).await.is_none() {
                answering = false;
            } else {
                tokio::time::sleep(poll.min(until.saturating_duration_since(Instant::now()))).await;
            }
        }
        tokio::time::sleep_until(until).await;
        answering
    }

    /// The switch an intent names, with the credentials of the switch's row.
    fn switch_from(&self, intent: &OutletIntent) -> Option<Switch> {
        let addr: SocketAddr = intent.switch_addr.parse().ok()?;
        let protocol = intent.protocol.parse().ok()?;
        let MethodPlan::Upstream(up) = &self.job.method else {
            return None;
        };
        let mut link = up.switch.clone().unwrap_or_else(|| link_for(&up.feeder));
        link.protocol = protocol;
        link.port = addr.port();
        Some(Switch {
            link,
            addr,
            child: intent.child_id.clone(),
            on_budget: on_budget(&up.feeder),
        })
    }
}

fn identity_problem_on_resume(ctx: &Ctx, addr: SocketAddr, info: &DeviceInfo) -> Option<Fail> {
    super::super::identity::identity_problem(&ctx.job.device, info, addr)
        .map(|why| Fail(Reason::NotVerified, format!("observed on resume: {why}")))
}
