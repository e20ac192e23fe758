//! One device's job: probe, identity check, durable intent, the action, verification, and
//! exactly one outcome. A job talks to its device through the device client and reports every
//! state change to the audit writer; it never touches SQLite and never spawns work.
//!
//! # Layout
//! - [`probe`]: the device's address, and reading its state with the host clock's mark.
//! - [`identity`]: whether the device at the address is the one the inventory means.
//! - [`command`]: the durable intent and the disruptive command, on the connection the
//!   identity was checked on.
//! - [`verify`]: whether the command had its effect (power cycle, factory reset).
//! - [`evidence`]: what the audit holds about a job whose command may have arrived.
//! - [`resolve`]: `resume`'s rules for such a job: judge from evidence and a look, never send
//!   again.
//! - [`upstream`]: the upstream method: one power cycle at an outlet for every job behind it.
//! - [`manual`]: the manual method: a work order, recorded at once; nothing is sent.
//!
//! The remote method is [`command`] and [`verify`]; [`run`] `match`es a job's method into it.

pub mod command;
pub mod evidence;
pub mod identity;
pub mod manual;
pub mod negotiate;
pub mod probe;
pub mod resolve;
pub mod upstream;
pub mod verify;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::device::{DeviceClient, Link, ProtocolKind};
use crate::inert::{Inert, inert};
use crate::model::{EventKind, JobState, Outcome, Reason};
use crate::store::{Record, SnapshotPhase, StoreError, Writer};

use super::config::RunConfig;
use super::method::MethodPlan;
use super::plan::PlannedJob;

pub use evidence::{Evidence, is_gated, login_unsettled, refused_login};

pub use identity::{identity_problem, identity_verifiable};
use probe::{Looker, ProbeEnd};
pub(crate) use probe::{Probe, probe};

/// What every job of a run shares.
pub struct JobEnv {
    pub run_id: String,
    pub writer: Writer,
    pub config: RunConfig,
    /// A factory reset may act on a device whose identity can't be checked (no MAC).
    pub allow_unverified_identity: bool,
    /// Which job of this run reached which address first.
    pub addresses: Addresses,
    /// Outlets that cycles in flight hold off: an abort drops a cycle where it stands, and the
    /// run switches these on again before it ends ([`upstream::OffOutlets::restore`]).
    pub off_outlets: upstream::OffOutlets,
}

/// The addresses the jobs of one run reach, each taken by the first job that resolves to it.
/// Two rows spelled differently (a host name and its IP, two names of one device) would
/// otherwise send one device two commands in one run.
#[derive(Debug, Default)]
pub struct Addresses(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, String>>);

impl Addresses {
    /// Takes `ip` for `device`; the id of the job that has it already, if another has.
    pub fn take(&self, ip: std::net::IpAddr, device: &str) -> Option<String> {
        let mut taken = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match taken.entry(ip.to_canonical()) {
            std::collections::hash_map::Entry::Occupied(e) if e.get() != device => {
                Some(e.get().clone())
            }
            std::collections::hash_map::Entry::Occupied(_) => None,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(device.to_owned());
                None
            }
        }
    }
}

/// How a job begins.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// From the start: probe, identity, intent, action, verification.
    Fresh,
    /// After a crash, for a job whose intent was recorded and that has no outcome: the command
    /// may have arrived. It is judged from this evidence and a look at the device, no earlier
    /// than `not_before`, and never sent again ([`resolve`]).
    Resolve {
        evidence: Box<Evidence>,
        not_before: tokio::time::Instant,
    },
    /// After a crash, for a job whose device had already refused the credentials (recorded,
    /// durably, before the outcome could be): it ends with that failure and is not tried again,
    /// since each try is another failed login the device counts towards its lockout.
    Refused(Fail),
}

/// How a job ended, as the collector and the summary see it. The same is stored durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    pub device_id: String,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    /// One line, with anything a device said made inert.
    pub detail: String,
    /// The TPAP login gate held the job back: nothing was sent, so it is no refusal of the
    /// credentials (`--max-auth-failures` doesn't count it; `--max-fail` and a canary do).
    pub gated: bool,
}

/// A job ending without success, with its reason and the words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail(pub Reason, pub String);

/// What the device part of a job comes to: success in words, or a failure.
pub type Verdict = Result<String, Fail>;

/// Runs one job to its outcome, by its method. Only a failing audit writer is an error: then
/// nothing more can be recorded, and the run must stop.
///
/// A run starts the jobs behind one outlet together ([`upstream::run`]) and records work
/// orders before any job starts ([`manual::settle`]); here each is one job's own.
///
/// The job stays boxed: moved into the future by value it would be stored in it twice, in
/// every one of a large run's thousands of jobs in flight.
pub async fn run(
    env: Arc<JobEnv>,
    job: Box<PlannedJob>,
    mode: Mode,
) -> Result<JobResult, StoreError> {
    match (&job.method, &mode) {
        // The other methods' states are boxed so they don't size the remote job's future.
        (MethodPlan::Manual(_), Mode::Fresh) => {
            let settled = Box::pin(manual::settle(&env, &job)).await?;
            Ok(settled.expect("a manual job settles"))
        }
        (MethodPlan::Upstream(_), Mode::Fresh) => {
            let mut results = Box::pin(upstream::run(env, vec![*job])).await?;
            Ok(results.remove(0))
        }
        // A remote command, or resume's judgement of any method's intent.
        _ => remote(env, job, mode).await,
    }
}

/// The remote method: probe, identity, intent, command, verification ([`command`], [`verify`]),
/// and resume's judgements ([`resolve`]).
async fn remote(
    env: Arc<JobEnv>,
    job: Box<PlannedJob>,
    mode: Mode,
) -> Result<JobResult, StoreError> {
    let mut ctx = Ctx {
        env: &env,
        job: &job,
        attempts: 0,
        manual: false,
        looker: Looker::default(),
        protocol: job.link.protocol,
        gated: false,
    };
    ctx.record(Record::Started {
        run_id: env.run_id.clone(),
        device_id: job.device.id.clone(),
        at: chrono::Utc::now(),
    })
    .await?;
    let link = &job.link;
    ctx.event(
        EventKind::Link,
        json!({
            "protocol": link.protocol.as_str(),
            "chosen_by": link.source,
            "port": link.port,
            "moved_from": link.moved_from,
            "credentials_profile": job.device.credentials,
        }),
    )
    .await?;
    let (outcome, reason, detail) = match ctx.work(&mode).await? {
        Ok(detail) => (Outcome::Succeeded, None, detail),
        // No remote path after all (it never answered, or it refused the command as one it
        // doesn't have): a work order, never a bare failure.
        Err(Fail(reason, detail)) if ctx.manual => (
            Outcome::ManualRequired,
            Some(reason),
            manual::by_hand(&job, env.config.action, &detail),
        ),
        Err(Fail(reason, detail)) => (Outcome::Failed, Some(reason), detail),
    };
    // Device text inside the detail (an err_msg, an alias) must not reach a terminal or a
    // report as control characters.
    let detail = inert(&detail).into_owned();
    if outcome == Outcome::ManualRequired {
        ctx.event(
            EventKind::WorkOrder,
            manual::work_order(&job, env.config.action, &detail),
        )
        .await?;
    }
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
        gated: ctx.gated,
    })
}

/// One job's context: its run, its plan, and how many times it talked to its device.
struct Ctx<'a> {
    env: &'a JobEnv,
    job: &'a PlannedJob,
    attempts: u32,
    /// The job found no remote path at run time: it ends `manual_required` with its reason.
    manual: bool,
    /// The connection looks keep while the device answers ([`Ctx::look`]); reads only.
    looker: Looker,
    /// The protocol the job speaks to its device: the link's, unless the device turned out to
    /// speak the other of KLAP and TPAP ([`negotiate`]).
    protocol: ProtocolKind,
    /// The login gate held the job back ([`negotiate`]).
    gated: bool,
}

impl Ctx<'_> {
    fn config(&self) -> &RunConfig {
        &self.env.config
    }

    async fn record(&self, rec: Record) -> Result<(), StoreError> {
        self.env.writer.record(rec).await
    }

    fn event_record(&self, state: Option<JobState>, kind: EventKind, detail: Value) -> Record {
        Record::Event {
            run_id: self.env.run_id.clone(),
            device_id: Some(self.job.device.id.clone()),
            at: chrono::Utc::now(),
            state,
            kind: kind.into(),
            detail,
        }
    }

    async fn event(&self, kind: EventKind, detail: Value) -> Result<(), StoreError> {
        self.record(self.event_record(None, kind, detail)).await
    }

    /// The job moved to `state`.
    async fn state(&self, state: JobState, detail: Value) -> Result<(), StoreError> {
        self.record(self.event_record(Some(state), EventKind::State, detail))
            .await
    }

    async fn snapshot(&self, phase: SnapshotPhase, probe: &Probe) -> Result<(), StoreError> {
        self.record(Record::Snapshot {
            run_id: self.env.run_id.clone(),
            device_id: self.job.device.id.clone(),
            phase,
            at: chrono::Utc::now(),
            data: verify::snapshot_data(&probe.info),
        })
        .await
    }

    fn client(&self, addr: SocketAddr) -> DeviceClient {
        DeviceClient::new(Link {
            addr,
            protocol: self.protocol,
            credentials: self.job.link.credentials.clone(),
            timeouts: self.config().timeouts,
        })
    }

    /// The job proper. The outer `Result` is the audit; the inner one the device.
    async fn work(&mut self, mode: &Mode) -> Result<Verdict, StoreError> {
        if let Mode::Refused(f) = mode {
            return Ok(Err(f.clone()));
        }
        self.state(JobState::Probing, json!({})).await?;
        if let Some(why) = &self.job.link.refusal {
            // Settled before the run (two devices answered with this MAC): nothing is sent.
            return self.not_this_device(why.clone()).await;
        }
        let addr = match probe::address(&self.job.device, self.job.link.port, self.config()).await {
            Ok(a) => a,
            Err(f) => return Ok(Err(f)),
        };
        if let Some(other) = self.env.addresses.take(addr.ip(), &self.job.device.id) {
            return self
                .not_this_device(format!(
                    "{addr} is also the address of {} in this run: one device must not get two commands; nothing was sent to it for this row",
                    Inert(&other)
                ))
                .await;
        }
        match mode {
            Mode::Resolve {
                evidence,
                not_before,
                // Boxed: resume's judgement is rare and its state would size every fresh job.
            } => Box::pin(self.resolve_intent(addr, evidence, *not_before)).await,
            Mode::Fresh => self.fresh(addr).await,
            Mode::Refused(_) => unreachable!("settled above, before any traffic"),
        }
    }

    /// The job ends `identity_mismatch` before anything is sent, with `why` recorded.
    async fn not_this_device(&self, why: String) -> Result<Verdict, StoreError> {
        self.event(EventKind::IdentityMismatch, json!({ "detail": why }))
            .await?;
        Ok(Err(Fail(Reason::IdentityMismatch, why)))
    }

    /// Probe, identity, intent, command, verification.
    async fn fresh(&mut self, addr: SocketAddr) -> Result<Verdict, StoreError> {
        let mut may_switch = true;
        let (client, mut pre) = loop {
            if let Some(f) = self.login_gate().await? {
                return Ok(Err(f));
            }
            let protocol = self.protocol;
            // A Tapo camera without a profile is still logged in to, with its default
            // password; a TPAP device with the blank one.
            let logs_in = self.job.link.credentials.is_some()
                || protocol == ProtocolKind::SslAes
                || protocol.is_tpap();
            if protocol.counts_failed_logins() && logs_in {
                // The device counts failed logins towards a lockout: if this process dies
                // before it records how the login went, `resume` must not try a second one
                // blindly.
                let detail = self.login_attempt_detail();
                let attempt = self.event_record(None, EventKind::LoginAttempt, detail);
                self.env.writer.record_durable(attempt).await?;
            }
            let mut client = self.client(addr);
            match self.probe_with_retries(&mut client, may_switch).await? {
                ProbeEnd::Answered(p) => break (client, p),
                ProbeEnd::Failed(f) => {
                    // Nothing answers at its address (offline, unplugged): only a person can
                    // reach it now. A timeout is not that: a slow device may answer the next
                    // run.
                    self.manual = f.0 == Reason::Unreachable;
                    return Ok(Err(f));
                }
                ProbeEnd::OtherLogin(switch) => {
                    self.switch_login(&switch, addr).await?;
                    may_switch = false;
                }
            }
        };
        self.snapshot(SnapshotPhase::Pre, &pre).await?;
        // Stored now; from here the job compares fields, not the device's whole answer.
        pre.info.shed_raw();
        if let Err(f) = self.check_identity(addr, &pre).await? {
            return Ok(Err(f));
        }
        self.act_and_verify(client, addr, &pre).await
    }
}
