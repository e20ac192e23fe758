//! The upstream method: a power cycle at the plug or strip outlet that powers a device. Every
//! job behind one outlet shares one cycle; each keeps its own job, events and outcome.
//!
//! 1. Each device is probed (its pre-state, if it answers) and, when it answers, its identity
//!    checked.
//! 2. The switch is probed, and the outlet's relay state read. A switch that can't be reached
//!    or has no such outlet, or an outlet someone left off, ends every job behind it
//!    `skipped: dependency_failed`, with nothing switched.
//! 3. Each job's intent is recorded durably. Switching the outlet off is the disruptive
//!    command: after a crash `resume` switches it on, and never off again.
//! 4. Off; held off for at least the catalog's off time (device time); on, retried until the
//!    switch confirms it: a crash or a lost reply must not leave a router dark.
//! 5. Each device must have gone dark and come back within its boot budget.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tokio::time::Instant;

use crate::inert::{Inert, inert};
use crate::model::{EventKind, JobState, Outcome, Reason};
use crate::store::{Record, SnapshotPhase, StoreError};

use super::super::config::POLL_INTERVAL;
use super::super::host_clock::HostMark;
use super::super::method::MethodPlan;
use super::super::plan::PlannedJob;
use super::command::{IntentDetail, OutletIntent, PreState};
use super::verify::Settings;
use super::{Ctx, Fail, JobEnv, JobResult, Probe};

mod resume;
mod switch;

use switch::{reach_switch, read_outlet, switch_on};

/// An outlet a cycle in flight holds off, and what to switch it on again with.
struct OffOutlet {
    switch: switch::Switch,
    /// The jobs behind it.
    ids: Vec<String>,
    off_at: Instant,
    off_time: std::time::Duration,
}

/// The outlets cycles in flight hold off, by name.
#[derive(Default)]
pub struct OffOutlets(std::sync::Mutex<std::collections::HashMap<String, OffOutlet>>);

impl OffOutlets {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, OffOutlet>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Switches on every outlet a dropped cycle left off, recording an `outlet_on` (`"by":
    /// "abort"`) for each job behind it; whether its off time was cut short goes with it, so
    /// `resume` never takes the blip for a power cycle.
    pub async fn restore(&self, env: &JobEnv) -> Result<(), StoreError> {
        let left: Vec<(String, OffOutlet)> = self.lock().drain().collect();
        for (outlet, off) in left {
            tracing::warn!(outlet = %Inert(&outlet), "stopped in its off hold: switching it on again");
            let held = env.config.device_secs(off.off_at.elapsed());
            let after = switch_on(env, &off.switch).await;
            for id in off.ids {
                env.writer
                    .record(Record::Event {
                        run_id: env.run_id.clone(),
                        device_id: Some(id),
                        at: chrono::Utc::now(),
                        state: None,
                        kind: EventKind::OutletOn.into(),
                        detail: json!({
                            "outlet": outlet,
                            "relay_after": after,
                            "off_s": held,
                            "by": "abort",
                            "cut_short": held < off.off_time.as_secs_f64(),
                        }),
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

/// One job of the cycle, as far as it got before the outlet.
struct Member<'a> {
    ctx: Ctx<'a>,
    addr: Option<SocketAddr>,
    pre: Option<Probe>,
    /// Set once the job has its verdict.
    verdict: Option<Result<String, Fail>>,
    /// The verdict is a skip (the switch failed), not a failure of the device.
    skipped: bool,
}

/// Runs one power cycle for `jobs`, all behind the same outlet; a result per job, in order.
/// Only a failing audit writer is an error.
pub async fn run(env: Arc<JobEnv>, jobs: Vec<PlannedJob>) -> Result<Vec<JobResult>, StoreError> {
    cycle(&env, &jobs).await
}

async fn cycle(env: &JobEnv, jobs: &[PlannedJob]) -> Result<Vec<JobResult>, StoreError> {
    let Some(MethodPlan::Upstream(up)) = jobs.first().map(|j| &j.method) else {
        return Ok(Vec::new());
    };
    let outlet = up.outlet_name();
    let mut members = Vec::new();
    for job in jobs {
        members.push(begin(env, job).await?);
    }
    let active = |m: &Member| m.verdict.is_none();

    // A device behind the outlet that is not the one the inventory means: its identity check
    // said nothing was sent to it, and the outlet powers it all the same, so nothing is.
    let mismatch = members
        .iter()
        .find(|m| matches!(&m.verdict, Some(Err(Fail(Reason::IdentityMismatch, _)))))
        .map(|m| m.ctx.job.device.id.clone());
    if let Some(other) = mismatch {
        for m in members.iter_mut().filter(|m| active(m)) {
            skip(
                m,
                format!(
                    "{} behind {outlet} is not the device the inventory means; the outlet was not switched",
                    Inert(&other)
                ),
            );
        }
        return finish(env, members).await;
    }

    // The switch, and the outlet's state before.
    let switch = match reach_switch(env, up).await {
        Ok(s) => s,
        Err(why) => {
            for m in members.iter_mut().filter(|m| active(m)) {
                skip(
                    m,
                    format!(
                        "the switch {} for {outlet}: {why}; nothing was switched",
                        Inert(&up.via)
                    ),
                );
            }
            return finish(env, members).await;
        }
    };
    let (switch, relay_before) = switch;
    // An outlet already off was switched off by someone: what it powers has no power to
    // cycle, and switching it on is not what was asked.
    if relay_before == Some(false) {
        for m in members.iter_mut().filter(|m| active(m)) {
            skip(
                m,
                format!(
                    "{outlet} is already off: the device behind it has no power to cycle; nothing was switched (switch it on by hand if it should be on)"
                ),
            );
        }
        return finish(env, members).await;
    }

    // The intents, durably, before the outlet goes off.
    let intent = OutletIntent {
        outlet: outlet.clone(),
        switch_addr: switch.addr.to_string(),
        protocol: switch.link.protocol.as_str().to_string(),
        child_id: switch.child.clone(),
        relay_before,
        off_time_s: up.off_time.as_secs(),
    };
    for m in members.iter_mut().filter(|m| active(m)) {
        let detail = IntentDetail {
            command: format!("outlet {outlet} off"),
            delay_s: 0,
            addr: m.addr.map(|a| a.to_string()),
            time_scale: env.config.time_scale,
            host: HostMark::now(),
            pre: match &m.pre {
                Some(p) => PreState::of(p),
                None => PreState {
                    host: HostMark::now(),
                    on_time_s: None,
                    bound: None,
                    settings: Settings {
                        alias: String::new(),
                        relay_on: None,
                        outlets: Vec::new(),
                    },
                },
            },
            upstream: Some(intent.clone()),
            protocol: None,
        };
        let detail = serde_json::to_value(&detail).expect("the intent serialises");
        env.writer
            .record_durable(m.ctx.event_record(
                Some(JobState::IntentRecorded),
                EventKind::Intent,
                detail,
            ))
            .await?;
        m.ctx
            .state(
                JobState::Acting,
                json!({ "command": format!("outlet {outlet} off") }),
            )
            .await?;
    }
    if members.iter().all(|m| !active(m)) {
        return finish(env, members).await;
    }

    // Off: the disruptive command.
    let mut client = switch.client(env);
    // Whether the switch said the outlet went off (its reply, or a read after).
    let mut confirmed = true;
    if let Err(e) = client.set_relay(false, switch.child.as_deref()).await {
        // A lost reply may hide an outlet that did go off: ask before deciding. A switch that
        // can't say may have switched it off and dropped off the network with it: the cycle
        // goes on (the outlet must be switched on again), unconfirmed.
        let now = read_outlet(env, &switch).await;
        confirmed = now == Some(false);
        if now == Some(true) {
            for m in members.iter_mut().filter(|m| active(m)) {
                let why = format!(
                    "the switch {} did not switch {outlet} off: {e}; nothing else was switched",
                    Inert(&up.via)
                );
                m.ctx
                    .event(
                        EventKind::CommandFailed,
                        json!({ "reason": Reason::DependencyFailed, "detail": why, "error": e.to_string() }),
                    )
                    .await?;
                skip(m, why);
            }
            return finish(env, members).await;
        }
    }
    let off_at = Instant::now();
    env.off_outlets.lock().insert(
        outlet.clone(),
        OffOutlet {
            switch: switch.clone(),
            ids: members
                .iter()
                .filter(|m| active(m))
                .map(|m| m.ctx.job.device.id.clone())
                .collect(),
            off_at,
            off_time: up.off_time,
        },
    );
    for m in members.iter_mut().filter(|m| active(m)) {
        m.ctx
            .event(
                EventKind::OutletOff,
                json!({ "outlet": outlet, "relay_before": relay_before, "confirmed": confirmed }),
            )
            .await?;
    }

    // Held off, looking whether each device went dark, until it did or the hold is over.
    let hold = env.config.scaled(up.off_time);
    let poll = env.config.scaled(POLL_INTERVAL);
    // Every member at once: one that keeps answering (not powered by this outlet after all)
    // must not use up the hold in which the others are looked at.
    let mut dark: Vec<Option<std::time::Duration>> = vec![None; members.len()];
    loop {
        let looking: Vec<usize> = (0..members.len())
            .filter(|&i| dark[i].is_none() && members[i].verdict.is_none())
            .filter(|&i| members[i].addr.is_some())
            .collect();
        if looking.is_empty() || Instant::now() >= off_at + hold {
            break;
        }
        let looks = futures::future::join_all(looking.iter().map(|&i| {
            let m = &members[i];
            let addr = m.addr.expect("only members with an address are looked at");
            async move { m.ctx.look(addr).await.is_none() }
        }))
        .await;
        for (&i, gone) in looking.iter().zip(looks) {
            if gone {
                dark[i] = Some(off_at.elapsed());
            }
        }
        tokio::time::sleep(poll.min((off_at + hold).saturating_duration_since(Instant::now())))
            .await;
    }
    tokio::time::sleep_until(off_at + hold).await;

    // On, until the switch confirms it.
    let relay_after = switch_on(env, &switch).await;
    env.off_outlets.lock().remove(&outlet);
    let held_s = env.config.device_secs(off_at.elapsed());
    let on_at = Instant::now();
    for m in members.iter_mut().filter(|m| active(m)) {
        m.ctx
            .event(
                EventKind::OutletOn,
                json!({ "outlet": outlet, "relay_after": relay_after, "off_s": held_s }),
            )
            .await?;
    }
    if relay_after != Some(true) {
        for m in members.iter_mut().filter(|m| active(m)) {
            m.verdict = Some(Err(Fail(
                Reason::DeviceError,
                format!(
                    "{outlet} was switched off for {held_s:.0} s, and the switch did not confirm it on again in {} s of trying; switch it on by hand",
                    switch.on_budget.as_secs()
                ),
            )));
        }
        return finish(env, members).await;
    }

    // Each device must come back.
    for (m, went_dark) in members.iter_mut().zip(dark) {
        if m.verdict.is_some() {
            continue;
        }
        m.ctx.state(JobState::Verifying, json!({})).await?;
        let Some(addr) = m.addr else { continue };
        if let Some(after) = went_dark {
            m.ctx
                .event(
                    EventKind::WentAway,
                    json!({ "after_s": env.config.device_secs(after) }),
                )
                .await?;
        }
        let verdict = match m.ctx.wait_back(addr, on_at).await {
            None => Err(m.ctx.not_back(&format!(
                "{outlet} was switched off for {held_s:.0} s and on again; it"
            ))),
            Some(_) if went_dark.is_none() => Err(Fail(
                Reason::NotVerified,
                format!(
                    "it kept answering with {outlet} off: the outlet may not power it (check its power_via); the outlet is on again"
                ),
            )),
            Some(post) => {
                let back = env.config.device_secs(on_at.elapsed());
                m.ctx
                    .event(EventKind::CameBack, json!({ "after_s": back }))
                    .await?;
                m.ctx.snapshot(SnapshotPhase::Post, &post).await?;
                // What answers now must be the inventory's device, even when nothing answered
                // at the probe to check it against.
                let other = super::identity::identity_problem(&m.ctx.job.device, &post.info, addr);
                match &m.pre {
                    _ if other.is_some() => Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "{outlet} was switched off and on, and what answers now is not the inventory's device: {}; it may never have been cycled",
                            other
                                .unwrap_or_default()
                                .trim_end_matches("; nothing was sent")
                        ),
                    )),
                    Some(pre) if pre.info.alias != post.info.alias => Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "it came back with its alias changed from {:?} to {:?}",
                            pre.info.alias, post.info.alias
                        ),
                    )),
                    _ => Ok(format!(
                        "{outlet} off for {held_s:.0} s (at least {} s), then on; it went dark and came back after {back:.0} s",
                        up.off_time.as_secs()
                    )),
                }
            }
        };
        m.verdict = Some(verdict);
    }
    finish(env, members).await
}

/// Starts one job of the cycle: its start, link, probe (pre-state, if it answers) and, when it
/// answers, its identity.
async fn begin<'a>(env: &'a JobEnv, job: &'a PlannedJob) -> Result<Member<'a>, StoreError> {
    let ctx = Ctx {
        env,
        job,
        attempts: 0,
        manual: false,
        looker: Default::default(),
        protocol: job.link.protocol,
        gated: false,
    };
    ctx.record(Record::Started {
        run_id: env.run_id.clone(),
        device_id: job.device.id.clone(),
        at: chrono::Utc::now(),
    })
    .await?;
    let mut m = Member {
        ctx,
        addr: None,
        pre: None,
        verdict: None,
        skipped: false,
    };
    m.ctx.state(JobState::Probing, json!({})).await?;
    let addr = match super::probe::address(&job.device, job.link.port, &env.config).await {
        Ok(a) => a,
        Err(f) => {
            m.verdict = Some(Err(f));
            return Ok(m);
        }
    };
    if let Some(other) = env.addresses.take(addr.ip(), &job.device.id) {
        let why = format!(
            "{addr} is also the address of {} in this run; nothing was switched for this row",
            Inert(&other)
        );
        m.verdict = Some(m.ctx.not_this_device(why).await?);
        return Ok(m);
    }
    m.addr = Some(addr);
    m.ctx.attempts += 1;
    // A device that doesn't answer may simply be off already: the cycle goes on without its
    // pre-state, and it must come back to succeed.
    if let Some(mut pre) = m.ctx.look(addr).await {
        m.ctx.snapshot(SnapshotPhase::Pre, &pre).await?;
        pre.info.shed_raw();
        if let Err(f) = m.ctx.check_identity(addr, &pre).await? {
            m.verdict = Some(Err(f));
        }
        m.pre = Some(pre);
    }
    Ok(m)
}

fn skip(m: &mut Member, why: String) {
    m.verdict = Some(Err(Fail(Reason::DependencyFailed, why)));
    m.skipped = true;
}

/// Records every member's outcome; their results in order.
async fn finish(env: &JobEnv, members: Vec<Member<'_>>) -> Result<Vec<JobResult>, StoreError> {
    let mut out = Vec::new();
    for m in members {
        let (outcome, reason, detail) = match m.verdict {
            Some(Ok(d)) => (Outcome::Succeeded, None, d),
            Some(Err(Fail(r, d))) if m.skipped => (Outcome::Skipped, Some(r), d),
            Some(Err(Fail(r, d))) => (Outcome::Failed, Some(r), d),
            None => (
                Outcome::Failed,
                Some(Reason::NotVerified),
                "the cycle ended without a verdict for it".into(),
            ),
        };
        let detail = inert(&detail).into_owned();
        env.writer
            .record_durable(Record::Outcome {
                run_id: env.run_id.clone(),
                device_id: m.ctx.job.device.id.clone(),
                at: chrono::Utc::now(),
                outcome,
                reason,
                detail: detail.clone(),
                attempts: m.ctx.attempts.max(1),
            })
            .await?;
        out.push(JobResult {
            device_id: m.ctx.job.device.id.clone(),
            outcome,
            reason,
            detail,
            gated: false,
        });
    }
    Ok(out)
}
