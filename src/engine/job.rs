//! One device's job: probe, identity check, durable intent, the action, verification, and
//! exactly one outcome. A job talks to its device through the device client and reports every
//! state change to the audit writer; it never touches SQLite and never spawns work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::device::{Ack, DeviceClient, DeviceError, DeviceInfo, Link};
use crate::inventory::{Device, MacAddr};
use crate::model::{Action, JobState, Outcome, Reason};
use crate::store::{Record, SnapshotPhase, StoreError, Timestamp, Writer};

use super::config::{
    AWAY_BUDGET, BOOT_BUDGET_FACTOR, LEAVE_BUDGET, POLL_INTERVAL, PROBE_ATTEMPTS, RunConfig,
};
use super::plan::PlannedJob;

/// What every job of a run shares.
pub struct JobEnv {
    pub run_id: String,
    pub writer: Writer,
    pub config: RunConfig,
    /// A factory reset may act on a device whose identity can't be checked (no MAC).
    pub allow_unverified_identity: bool,
}

/// How a job begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the start: probe, identity, intent, action, verification.
    Fresh,
    /// After a crash, for a job whose intent was recorded at `intent_at` and that has no
    /// outcome: observe the device first, and send the command again only if the observation
    /// shows it never arrived.
    Resolve { intent_at: Timestamp },
}

/// How a job ended, as the collector and the summary see it. The same is stored durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    pub device_id: String,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub detail: String,
}

/// What the device said when probed.
pub(crate) struct Probe {
    pub info: DeviceInfo,
}

/// A job ending early, with its reason.
struct Fail(Reason, String);

/// Runs one job to its outcome. Only a failing audit writer is an error: then nothing more can
/// be recorded, and the run must stop.
pub async fn run(env: Arc<JobEnv>, job: PlannedJob, mode: Mode) -> Result<JobResult, StoreError> {
    let mut ctx = Ctx {
        env: &env,
        job: &job,
        attempts: 0,
    };
    ctx.record(Record::Started {
        run_id: env.run_id.clone(),
        device_id: job.device.id.clone(),
        at: chrono::Utc::now(),
    })
    .await?;
    let link = &job.link;
    ctx.event(
        None,
        "link",
        json!({
            "protocol": link.protocol.as_str(),
            "chosen_by": link.source,
            "port": link.port,
            "moved_from": link.moved_from,
            "credentials_profile": job.device.credentials,
        }),
    )
    .await?;
    let (outcome, reason, detail) = match ctx.work(mode).await? {
        Ok(detail) => (Outcome::Succeeded, None, detail),
        Err(Fail(reason, detail)) => (Outcome::Failed, Some(reason), detail),
    };
    env.writer
        .record_durable(Record::Outcome {
            run_id: env.run_id.clone(),
            device_id: job.device.id.clone(),
            at: chrono::Utc::now(),
            outcome,
            reason,
            detail: detail.clone(),
            attempts: ctx.attempts.max(1),
        })
        .await?;
    Ok(JobResult {
        device_id: job.device.id.clone(),
        outcome,
        reason,
        detail,
    })
}

struct Ctx<'a> {
    env: &'a JobEnv,
    job: &'a PlannedJob,
    attempts: u32,
}

impl Ctx<'_> {
    fn config(&self) -> &RunConfig {
        &self.env.config
    }

    async fn record(&self, rec: Record) -> Result<(), StoreError> {
        self.env.writer.record(rec).await
    }

    async fn event(
        &self,
        state: Option<JobState>,
        kind: &str,
        detail: Value,
    ) -> Result<(), StoreError> {
        self.record(Record::Event {
            run_id: self.env.run_id.clone(),
            device_id: Some(self.job.device.id.clone()),
            at: chrono::Utc::now(),
            state,
            kind: kind.into(),
            detail,
        })
        .await
    }

    async fn snapshot(&self, phase: SnapshotPhase, probe: &Probe) -> Result<(), StoreError> {
        self.record(Record::Snapshot {
            run_id: self.env.run_id.clone(),
            device_id: self.job.device.id.clone(),
            phase,
            at: chrono::Utc::now(),
            data: snapshot_data(&probe.info),
        })
        .await
    }

    fn client(&self, addr: SocketAddr) -> DeviceClient {
        DeviceClient::new(Link {
            addr,
            protocol: self.job.link.protocol,
            credentials: self.job.link.credentials.clone(),
            timeouts: self.config().timeouts,
        })
    }

    /// The job proper. The outer `Result` is the audit; the inner one the device.
    async fn work(&mut self, mode: Mode) -> Result<Result<String, Fail>, StoreError> {
        self.event(Some(JobState::Probing), "state", json!({}))
            .await?;
        let addr = match self.resolve().await {
            Ok(a) => a,
            Err(f) => return Ok(Err(f)),
        };
        if let Mode::Resolve { intent_at } = mode {
            return self.resolve_intent(addr, intent_at).await;
        }
        let pre = match self.probe_with_retries(addr).await? {
            Ok(p) => p,
            Err(f) => return Ok(Err(f)),
        };
        self.snapshot(SnapshotPhase::Pre, &pre).await?;
        if let Err(f) = self.check_identity(addr, &pre).await? {
            return Ok(Err(f));
        }
        self.act_and_verify(addr, &pre).await
    }

    /// The device must be the one the inventory means before anything disruptive is sent.
    async fn check_identity(
        &self,
        addr: SocketAddr,
        pre: &Probe,
    ) -> Result<Result<(), Fail>, StoreError> {
        let device = &self.job.device;
        let expected_id = expected_device_id(device);
        let verified = identity_checkable(device);
        let identity = json!({
            "expected_mac": device.mac.map(|m| m.to_string()),
            "reported_mac": pre.info.mac,
            "expected_device_id": expected_id,
            "reported_device_id": pre.info.device_id,
            "verified": verified,
        });
        let mismatch = identity_problem(device, &pre.info, addr);
        if let Some(detail) = mismatch {
            self.event(None, "identity_mismatch", identity).await?;
            return Ok(Err(Fail(Reason::IdentityMismatch, detail)));
        }
        if !verified
            && self.config().action == Action::FactoryReset
            && !self.env.allow_unverified_identity
        {
            // The command refuses such runs up front; this keeps a library caller honest too.
            self.event(None, "identity_unverified", identity).await?;
            return Ok(Err(Fail(
                Reason::IdentityMismatch,
                "no MAC in the inventory to check this device against; not wiped (see --allow-unverified-identity)".into(),
            )));
        }
        self.record(Record::Identity {
            run_id: self.env.run_id.clone(),
            device_id: device.id.clone(),
            verified,
        })
        .await?;
        self.event(Some(JobState::IdentityChecked), "state", identity)
            .await?;
        Ok(Ok(()))
    }

    /// After a crash: did the command recorded at `intent_at` arrive? Observe, and send again
    /// only if the observation shows it never did.
    async fn resolve_intent(
        &mut self,
        addr: SocketAddr,
        intent_at: Timestamp,
    ) -> Result<Result<String, Fail>, StoreError> {
        let cfg = self.config().clone();
        // A command that arrived acts only after its delay, and a device may take a while to
        // go down after that: until then, "still up, on-time unbroken" proves nothing. Let
        // that time pass before looking.
        let settle = cfg.scaled(
            Duration::from_secs(u64::from(crate::device::COMMAND_DELAY_SECS)) + AWAY_BUDGET,
        );
        let elapsed = (chrono::Utc::now() - intent_at)
            .to_std()
            .unwrap_or_default();
        if elapsed < settle {
            tokio::time::sleep(settle - elapsed).await;
        }
        let since = (chrono::Utc::now() - intent_at)
            .to_std()
            .unwrap_or_default();
        let secs_since_intent = cfg.device_secs(since);
        self.event(
            None,
            "resolving",
            json!({ "intent_at": intent_at.to_rfc3339(), "device_secs_since": secs_since_intent }),
        )
        .await?;
        self.attempts += 1;
        let first = probe(self.client(addr)).await;
        let probe_now = match first {
            Ok(p) => Some(p),
            // One more look: a single miss could be a lost packet.
            Err(_) => {
                tokio::time::sleep(cfg.scaled(POLL_INTERVAL)).await;
                probe(self.client(addr)).await.ok()
            }
        };
        let action = cfg.action;
        let Some(now) = probe_now else {
            self.event(None, "observed_away", json!({})).await?;
            return Ok(match action {
                Action::FactoryReset => {
                    Ok("observed on resume: the device has left the network".into())
                }
                Action::PowerCycle => {
                    // It is rebooting (or gone); wait for it like a fresh reboot would.
                    match self.wait_back(addr, Instant::now()).await? {
                        Some(post) => {
                            self.snapshot(SnapshotPhase::Post, &post).await?;
                            Ok("observed on resume: the device was away and came back; not sent again".into())
                        }
                        None => Err(Fail(
                            Reason::Timeout,
                            format!(
                                "observed on resume: the device is away and did not come back within {} s; check it on site",
                                (self.job.model.boot_time * BOOT_BUDGET_FACTOR).as_secs()
                            ),
                        )),
                    }
                }
            });
        };
        if let Err(f) = self.check_identity(addr, &now).await? {
            return Ok(Err(f));
        }
        let relay_on = now.info.relay_on == Some(true);
        let on_time = now.info.on_time.map(|t| t as f64);
        let restarted_since = relay_on && on_time.is_some_and(|t| t < secs_since_intent);
        let unbound = now.info.bound == Some(false);
        // Proof the command never arrived: the relay has been on, uninterrupted, since before
        // the intent (and, for a reset, the device is still bound).
        let never_arrived = relay_on && on_time.is_some_and(|t| t >= secs_since_intent) && !unbound;
        match action {
            Action::PowerCycle if restarted_since => {
                self.snapshot(SnapshotPhase::Post, &now).await?;
                Ok(Ok("observed on resume: on-time restarted after the intent, so the reboot arrived; not sent again".into()))
            }
            Action::FactoryReset if unbound => {
                self.snapshot(SnapshotPhase::Post, &now).await?;
                Ok(Ok("observed on resume: the device reports factory defaults (not bound to an account); not sent again".into()))
            }
            _ if never_arrived => {
                self.event(None, "not_arrived", json!({ "on_time": now.info.on_time }))
                    .await?;
                let result = self.act_and_verify(addr, &now).await?;
                Ok(result.map(|d| format!("the first command never arrived (on-time showed no restart), sent again: {d}")))
            }
            _ => {
                self.snapshot(SnapshotPhase::Post, &now).await?;
                Ok(Err(Fail(
                    Reason::NotVerified,
                    "observed on resume: can't tell whether the command arrived (no on-time to go by); not sent again".into(),
                )))
            }
        }
    }

    /// Intent, command, verification: everything from the first disruptive step on.
    async fn act_and_verify(
        &self,
        addr: SocketAddr,
        pre: &Probe,
    ) -> Result<Result<String, Fail>, StoreError> {
        let command = match self.config().action {
            Action::PowerCycle => "reboot",
            Action::FactoryReset => "reset",
        };
        // Durable before the command leaves: after a crash, this is how we know it may have.
        self.env
            .writer
            .record_durable(Record::Event {
                run_id: self.env.run_id.clone(),
                device_id: Some(self.job.device.id.clone()),
                at: chrono::Utc::now(),
                state: Some(JobState::IntentRecorded),
                kind: "intent".into(),
                detail: json!({ "command": command, "delay_s": crate::device::COMMAND_DELAY_SECS }),
            })
            .await?;

        self.event(
            Some(JobState::Acting),
            "state",
            json!({ "command": command }),
        )
        .await?;
        let sent_at = Instant::now();
        let mut client = self.client(addr);
        let ack = match self.config().action {
            Action::PowerCycle => client.reboot().await,
            Action::FactoryReset => client.factory_reset().await,
        };
        drop(client);
        let ack_note = match ack {
            Ok(Ack::Acknowledged) => {
                self.event(None, "ack", json!({})).await?;
                "acknowledged"
            }
            Ok(Ack::SentNoAck { detail }) => {
                self.event(None, "sent_no_ack", json!({ "detail": detail }))
                    .await?;
                "sent (the connection dropped before an acknowledgement)"
            }
            Err(e @ DeviceError::Malformed { .. }) => {
                // It answered, unreadably: the command may have arrived. Observe, don't assume.
                self.event(None, "unreadable_ack", json!({ "detail": e.to_string() }))
                    .await?;
                "sent (the reply was unreadable)"
            }
            Err(e) => {
                self.event(None, "command_failed", json!({ "detail": e.to_string() }))
                    .await?;
                let detail = match &e {
                    DeviceError::Device { code, msg, .. } => {
                        format!("the device refused the {command}: error {code} ({msg})")
                    }
                    other => format!("the {command} could not be sent: {other}"),
                };
                return Ok(Err(Fail(reason_for(&e), detail)));
            }
        };

        self.event(Some(JobState::Verifying), "state", json!({}))
            .await?;
        let verdict = match self.config().action {
            Action::PowerCycle => self.verify_power_cycle(addr, pre, sent_at).await?,
            Action::FactoryReset => self.verify_factory_reset(addr, sent_at).await?,
        };
        Ok(verdict.map(|detail| format!("{ack_note}; {detail}")))
    }

    async fn resolve(&self) -> Result<SocketAddr, Fail> {
        let host = &self.job.device.host;
        let port = self.job.link.port;
        if let Some(ip) = host.ip() {
            return Ok(SocketAddr::new(ip, port));
        }
        let lookup = tokio::time::timeout(
            self.config().timeouts.connect,
            tokio::net::lookup_host((host.name.as_str(), port)),
        )
        .await;
        match lookup {
            Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| {
                Fail(
                    Reason::Unreachable,
                    format!("{} resolves to no address", host.name),
                )
            }),
            Ok(Err(e)) => Err(Fail(
                Reason::Unreachable,
                format!("cannot resolve {}: {e}", host.name),
            )),
            Err(_) => Err(Fail(
                Reason::Timeout,
                format!("resolving {} timed out", host.name),
            )),
        }
    }

    /// The pre-state probe: sysinfo alone first, then the cloud binding. Retries a timeout once.
    async fn probe_with_retries(
        &mut self,
        addr: SocketAddr,
    ) -> Result<Result<Probe, Fail>, StoreError> {
        loop {
            self.attempts += 1;
            match probe(self.client(addr)).await {
                Ok(p) => return Ok(Ok(p)),
                Err(e) if e.is_retryable() && self.attempts < PROBE_ATTEMPTS => {
                    self.event(
                        None,
                        "probe_retry",
                        json!({ "attempt": self.attempts, "detail": e.to_string() }),
                    )
                    .await?;
                    tokio::time::sleep(self.config().scaled(POLL_INTERVAL)).await;
                }
                Err(e) => {
                    self.event(None, "probe_failed", json!({ "detail": e.to_string() }))
                        .await?;
                    return Ok(Err(Fail(reason_for(&e), format!("probe failed: {e}"))));
                }
            }
        }
    }

    async fn verify_power_cycle(
        &self,
        addr: SocketAddr,
        pre: &Probe,
        sent_at: Instant,
    ) -> Result<Result<String, Fail>, StoreError> {
        let cfg = self.config();
        let poll = cfg.scaled(POLL_INTERVAL);
        let delay = Duration::from_secs(u64::from(crate::device::COMMAND_DELAY_SECS));
        let away_deadline = sent_at + cfg.scaled(delay + AWAY_BUDGET);

        // First it must go away, or be seen back with its on-time restarted (a fast reboot
        // between two looks).
        let mut went_away = None;
        let mut back = None;
        while went_away.is_none() && back.is_none() {
            tokio::time::sleep(poll).await;
            match probe(self.client(addr)).await {
                Err(_) => went_away = Some(sent_at.elapsed()),
                Ok(p)
                    if on_time_restarted(
                        &pre.info,
                        &p.info,
                        cfg.device_secs(sent_at.elapsed()),
                    ) =>
                {
                    back = Some(p)
                }
                Ok(_) if Instant::now() >= away_deadline => {
                    return Ok(Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "the device kept answering for {:.0} s with no sign of a reboot",
                            cfg.device_secs(sent_at.elapsed())
                        ),
                    )));
                }
                Ok(_) => {}
            }
        }
        if let Some(after) = went_away {
            self.event(
                None,
                "went_away",
                json!({ "after_s": cfg.device_secs(after) }),
            )
            .await?;
        }

        let post = match back {
            Some(p) => p,
            None => match self.wait_back(addr, Instant::now()).await? {
                Some(p) => p,
                None => {
                    return Ok(Err(Fail(
                        Reason::Timeout,
                        format!(
                            "it went away and did not come back within {} s; check it on site",
                            (self.job.model.boot_time * BOOT_BUDGET_FACTOR).as_secs()
                        ),
                    )));
                }
            },
        };
        let back_after = cfg.device_secs(sent_at.elapsed());
        self.event(None, "came_back", json!({ "after_s": back_after }))
            .await?;
        self.snapshot(SnapshotPhase::Post, &post).await?;

        if let Some(change) = settings_changed(&pre.info, &post.info) {
            return Ok(Err(Fail(
                Reason::NotVerified,
                format!("it rebooted but came back with {change}"),
            )));
        }
        let restarted = on_time_restarted(&pre.info, &post.info, back_after);
        if went_away.is_none() && !restarted {
            return Ok(Err(Fail(
                Reason::NotVerified,
                "no evidence of a reboot".into(),
            )));
        }
        let mut detail = format!("back after {back_after:.0} s with alias and relay state kept");
        if restarted {
            detail.push_str(", on-time restarted");
        }
        Ok(Ok(detail))
    }

    /// Waits, from `from`, up to the boot budget for the device to answer again.
    async fn wait_back(
        &self,
        addr: SocketAddr,
        from: Instant,
    ) -> Result<Option<Probe>, StoreError> {
        let cfg = self.config();
        let deadline = from + cfg.scaled(self.job.model.boot_time * BOOT_BUDGET_FACTOR);
        loop {
            tokio::time::sleep(cfg.scaled(POLL_INTERVAL)).await;
            if let Ok(p) = probe(self.client(addr)).await {
                return Ok(Some(p));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn verify_factory_reset(
        &self,
        addr: SocketAddr,
        sent_at: Instant,
    ) -> Result<Result<String, Fail>, StoreError> {
        let cfg = self.config();
        let poll = cfg.scaled(POLL_INTERVAL);
        let delay = Duration::from_secs(u64::from(crate::device::COMMAND_DELAY_SECS));
        let deadline = sent_at + cfg.scaled(delay + LEAVE_BUDGET);
        // Two missed looks in a row: one could be a dropped packet.
        let mut misses = 0;
        loop {
            tokio::time::sleep(poll).await;
            match probe(self.client(addr)).await {
                Err(_) => {
                    misses += 1;
                    if misses == 2 {
                        let after = cfg.device_secs(sent_at.elapsed());
                        self.event(None, "left_network", json!({ "after_s": after }))
                            .await?;
                        return Ok(Ok(format!("left the network within {after:.0} s")));
                    }
                }
                Ok(p) => {
                    misses = 0;
                    if Instant::now() < deadline {
                        continue;
                    }
                    self.snapshot(SnapshotPhase::Post, &p).await?;
                    let unbound = p.info.bound == Some(false);
                    return Ok(if unbound {
                        Ok("still on the network, but reports factory defaults (not bound to an account)".into())
                    } else {
                        Err(Fail(
                            Reason::NotVerified,
                            format!(
                                "still on the network and still bound to an account {} s after the reset",
                                LEAVE_BUDGET.as_secs()
                            ),
                        ))
                    });
                }
            }
        }
    }
}

/// The optional `device_id` column: the id the device itself reports (`deviceId`).
fn expected_device_id(device: &Device) -> Option<&str> {
    device
        .extra
        .get("device_id")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// Whether the device at `addr` is not the one the inventory row means, and how.
pub fn identity_problem(device: &Device, info: &DeviceInfo, addr: SocketAddr) -> Option<String> {
    let reported = info.mac.parse::<MacAddr>().ok();
    match (device.mac, expected_device_id(device)) {
        (Some(expected), _) if reported != Some(expected) => Some(format!(
            "the inventory says MAC {expected}, the device at {addr} reports {:?}; nothing was sent",
            info.mac
        )),
        (_, Some(expected)) if !expected.eq_ignore_ascii_case(&info.device_id) => Some(format!(
            "the inventory says device id {expected:?}, the device at {addr} reports {:?}; nothing was sent",
            info.device_id
        )),
        _ => None,
    }
}

/// Whether the row gives anything to check the device's identity against.
pub fn identity_checkable(device: &Device) -> bool {
    device.mac.is_some() || expected_device_id(device).is_some()
}

/// Reads the device's own state, in its protocol: IOT sysinfo alone first (some firmware
/// crashes on unexpected modules), SMART device info; then the cloud binding.
pub(crate) async fn probe(mut client: DeviceClient) -> Result<Probe, DeviceError> {
    Ok(Probe {
        info: client.info().await?,
    })
}

/// What a snapshot stores: the device's own answers as they came, the protocol, and the
/// protocol-neutral summary the reports read.
fn snapshot_data(info: &DeviceInfo) -> Value {
    json!({
        "sysinfo": info.raw,
        "cloud": info.cloud_raw,
        "summary": {
            "model": info.model,
            "alias": info.alias,
            "mac": info.mac,
            "device_id": info.device_id,
            "kind": info.kind,
            "relay_on": info.relay_on,
            "on_time": info.on_time,
            "bound": info.bound,
        },
    })
}

/// The outcome reason for a device error. A connection dropped mid-reply is the device
/// misbehaving (`device_error`), not slowness.
fn reason_for(e: &DeviceError) -> Reason {
    match e {
        DeviceError::Unreachable { .. } => Reason::Unreachable,
        DeviceError::Timeout { .. } => Reason::Timeout,
        DeviceError::ConnectionLost { .. }
        | DeviceError::Malformed { .. }
        | DeviceError::Device { .. } => Reason::DeviceError,
        DeviceError::Auth { .. } | DeviceError::Blocked { .. } => Reason::AuthFailed,
        DeviceError::Unsupported { .. } => Reason::Unsupported,
    }
}

/// Whether the relay on-time shows a restart: it was on before and after, and now counts fewer
/// seconds than have passed since the command. Without a restart, on-time now would be its
/// value at the probe plus the time since, which is more than the time since the command.
fn on_time_restarted(pre: &DeviceInfo, post: &DeviceInfo, secs_since_command: f64) -> bool {
    let plug = match post.on_time {
        Some(after) => {
            pre.relay_on == Some(true)
                && post.relay_on == Some(true)
                && pre.on_time.is_some()
                && (after as f64) < secs_since_command
        }
        None => false,
    };
    let outlets =
        pre.children
            .iter()
            .zip(&post.children)
            .any(|(a, b)| match (a.on_time, b.on_time) {
                (Some(_), Some(after)) => {
                    a.on == Some(true) && b.on == Some(true) && (after as f64) < secs_since_command
                }
                _ => false,
            });
    plug || outlets
}

/// The settings a power cycle must keep; names the first one that changed.
fn settings_changed(pre: &DeviceInfo, post: &DeviceInfo) -> Option<String> {
    if pre.alias != post.alias {
        return Some(format!(
            "its alias changed from {:?} to {:?}",
            pre.alias, post.alias
        ));
    }
    if pre.relay_on != post.relay_on {
        return Some(format!(
            "its relay changed from {:?} to {:?}",
            pre.relay_on, post.relay_on
        ));
    }
    let states = |i: &DeviceInfo| i.children.iter().map(|c| c.on).collect::<Vec<_>>();
    if states(pre) != states(post) {
        return Some(format!(
            "its outlet states changed from {:?} to {:?}",
            states(pre),
            states(post)
        ));
    }
    None
}
