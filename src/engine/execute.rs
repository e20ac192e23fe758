//! A whole run: plan, record the run, schedule the jobs batch by batch under the blast-radius
//! limits, collect their outcomes, close the audit, write the reports. `run`, `resume` and
//! `demo` all come through here.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use crate::inventory::{Device, Inventory};
use crate::model::{Outcome, Reason};
use crate::report::{self, ReportFiles};
use crate::store::lock::{self, RunLock};
use crate::store::{
    Db, NewJob, NewRun, Record, RunRecord, RunStatus, StoreError, Timestamp, WRITER_CAPACITY,
    Writer,
};

use super::config::RunConfig;
use super::job::{self, JobEnv, JobResult, Mode};
use super::links;
use super::plan::{self, PlannedJob};
use super::progress::ProgressView;
use super::schedule::{Progress, Scheduler};
use super::shutdown::Signals;
use super::window::Window;

/// After the first signal, jobs in flight get this long (device time) to finish before they are
/// dropped. A reboot's verification can take two boot times; past that, their intents stay
/// recorded for `resume`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(150);

/// A count or a percentage: `--batch 10`, `--batch 25%`, `--max-fail 3`, `--max-fail 10%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(usize),
    Percent(u8),
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Amount, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Amount::Percent(p)),
                _ => Err(format!(
                    "{s:?}: a percentage must be a whole number from 0% to 100%"
                )),
            }
        } else {
            s.parse::<usize>().map(Amount::Count).map_err(|_| {
                format!("{s:?}: expected a whole number like 10, or a percentage like 25%")
            })
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The limits on how much a run may break before it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Safety {
    /// This many devices run first, alone; any failure among them stops the run.
    pub canary: usize,
    /// Rolling batches: the next starts when the previous is done.
    pub batch: Option<Amount>,
    /// A count: stop starting jobs once failures over the run exceed it. A percentage: once
    /// failures in the current batch exceed that share of the batch.
    pub max_fail: Option<Amount>,
    /// Jobs start only inside this window of local time.
    pub window: Option<Window>,
    /// Let a factory reset act on devices whose identity can't be checked (no MAC).
    pub allow_unverified_identity: bool,
    /// Stop starting jobs once this many devices refused the credentials: one wrong password
    /// would otherwise lock out device after device.
    pub max_auth_failures: usize,
}

/// Authentication failures that stop a run by default. Devices lock logins after a few failed
/// attempts (Tapo answers -40404 for about half an hour); each device sees at most one of ours,
/// and after three the credentials are almost certainly wrong for the fleet.
pub const DEFAULT_MAX_AUTH_FAILURES: usize = 3;

impl Default for Safety {
    fn default() -> Self {
        Safety {
            canary: 0,
            batch: None,
            max_fail: None,
            window: None,
            allow_unverified_identity: false,
            max_auth_failures: DEFAULT_MAX_AUTH_FAILURES,
        }
    }
}

impl Safety {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "canary": self.canary,
            "batch": self.batch.map(|a| a.to_string()),
            "max_fail": self.max_fail.map(|a| a.to_string()),
            "window": self.window.as_ref().map(|w| w.to_string()),
            "allow_unverified_identity": self.allow_unverified_identity,
            "max_auth_failures": self.max_auth_failures,
        })
    }
}

/// Why a run stopped before every job ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    Threshold(String),
    WindowClosed(String),
}

impl StopReason {
    fn skip_reason(&self) -> Reason {
        match self {
            StopReason::Signal => Reason::Interrupted,
            StopReason::Threshold(_) => Reason::ThresholdReached,
            StopReason::WindowClosed(_) => Reason::WindowClosed,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            StopReason::Signal => "interrupted by a signal".into(),
            StopReason::Threshold(why) | StopReason::WindowClosed(why) => why.clone(),
        }
    }
}

/// What a new run needs besides its configuration.
pub struct RunInput<'a> {
    pub inventory: &'a Inventory,
    /// The jobs, planned and with their links settled ([`prepare`]).
    pub jobs: Vec<PlannedJob>,
    /// SHA-256 of the inventory file's bytes, hex.
    pub inventory_sha256: String,
    pub config: RunConfig,
    pub safety: Safety,
    pub db_path: &'a Path,
    /// Reports go to `<reports_dir>/<run id>/`.
    pub reports_dir: &'a Path,
    pub operator: String,
}

/// How a run ended.
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    pub stop: Option<StopReason>,
    pub results: Vec<JobResult>,
    pub record: RunRecord,
    pub report: ReportFiles,
    pub db_path: PathBuf,
}

impl RunSummary {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.record
            .jobs
            .iter()
            .filter(|j| j.outcome == Some(outcome))
            .count()
    }
}

/// Runs the action over the inventory until every job has its outcome or the run stops.
pub async fn execute(
    input: RunInput<'_>,
    view: &mut ProgressView,
    signals: Signals,
) -> anyhow::Result<RunSummary> {
    let planned = input.jobs;
    let run_id = new_run_id();
    let mut parameters = input.config.to_json();
    parameters["safety"] = input.safety.to_json();
    let new_run = NewRun {
        id: run_id.clone(),
        action: input.config.action,
        inventory_path: input.inventory.path.display().to_string(),
        inventory_sha256: input.inventory_sha256.clone(),
        parameters,
        operator: input.operator.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: chrono::Utc::now(),
    };
    let jobs: Vec<NewJob> = planned.iter().map(new_job).collect();
    let mut db = open_db(input.db_path)?;
    let lock = lock::acquire(input.db_path, &run_id)?;
    db.create_run(&new_run, &jobs).with_context(|| {
        format!(
            "recording the run in the audit database {}",
            input.db_path.display()
        )
    })?;
    let work = planned.into_iter().map(|j| (j, Mode::Fresh)).collect();
    drive(Drive {
        run_id,
        db,
        _lock: lock,
        work,
        config: input.config,
        safety: input.safety,
        db_path: input.db_path,
        reports_dir: input.reports_dir,
        view,
        signals,
    })
    .await
}

/// What `resume` needs: the run, the inventory as it is now, and the limits to go on with.
pub struct ResumeInput<'a> {
    pub run_id: &'a str,
    pub credentials: &'a crate::credentials::Store,
    pub rediscover: Option<Vec<std::net::IpAddr>>,
    pub inventory: &'a Inventory,
    pub config: RunConfig,
    pub safety: Safety,
    pub db_path: &'a Path,
    pub reports_dir: &'a Path,
}

/// Continues a stopped or crashed run. Jobs never started run now. Jobs with a recorded intent
/// and no outcome are resolved by observing their device, and are sent the command again only
/// when the observation shows it never arrived.
pub async fn resume(
    input: ResumeInput<'_>,
    view: &mut ProgressView,
    signals: Signals,
) -> anyhow::Result<RunSummary> {
    let mut db = open_db(input.db_path)?;
    let lock = lock::acquire(input.db_path, input.run_id)?;
    let before = db.load_run(input.run_id).context("reading the run")?;
    let by_id: HashMap<&str, &Device> = input
        .inventory
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    let missing: Vec<&str> = before
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason))
        .map(|j| j.device_id.as_str())
        .filter(|id| !by_id.contains_key(id))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the inventory no longer has these devices of run {}: {}; restore their rows to resume",
            input.run_id,
            missing.join(", ")
        );
    }
    db.reopen_run(input.run_id, chrono::Utc::now())
        .context("reopening the run")?;
    let record = db.load_run(input.run_id).context("reading the run")?;
    let mut intents: HashMap<&str, Timestamp> = HashMap::new();
    for e in record.events.iter().filter(|e| e.kind == "intent") {
        if let Some(d) = &e.device_id {
            intents.insert(d, e.at);
        }
    }
    let devices: Vec<Device> = record
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .map(|j| by_id[j.device_id.as_str()].clone())
        .collect();
    let mut work: Vec<(PlannedJob, Mode)> = Vec::new();
    for (j, device) in record
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none())
        .zip(devices)
    {
        let mut planned = plan::plan(std::slice::from_ref(&device), input.config.action).remove(0);
        planned.seq = j.seq;
        let mode = match intents.get(j.device_id.as_str()) {
            Some(at) => Mode::Resolve { intent_at: *at },
            None => Mode::Fresh,
        };
        work.push((planned, mode));
    }
    let mut jobs: Vec<PlannedJob> = work.iter().map(|(j, _)| j.clone()).collect();
    prepare(
        &mut jobs,
        input.credentials,
        input.rediscover.as_deref(),
        &*view,
    )
    .await
    .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
    let work: Vec<(PlannedJob, Mode)> = jobs
        .into_iter()
        .zip(work.into_iter().map(|(_, m)| m))
        .collect();
    drive(Drive {
        run_id: input.run_id.to_string(),
        db,
        _lock: lock,
        work,
        config: input.config,
        safety: input.safety,
        db_path: input.db_path,
        reports_dir: input.reports_dir,
        view,
        signals,
    })
    .await
}

/// Settles every job's link: its credentials profile, then (for protocols only discovery can
/// tell, or with `rediscover`) a discovery sweep. Problems come back as `LINE: id: message`.
pub async fn prepare(
    jobs: &mut [PlannedJob],
    store: &crate::credentials::Store,
    rediscover: Option<&[std::net::IpAddr]>,
    view: &ProgressView,
) -> Result<(), Vec<String>> {
    let bad_protocols: Vec<String> = jobs
        .iter()
        .filter_map(|j| {
            plan::protocol_column(&j.device, &j.model)
                .err()
                .map(|e| format!("{}: {}: protocol column: {e}", j.device.line, j.device.id))
        })
        .collect();
    if !bad_protocols.is_empty() {
        return Err(bad_protocols);
    }
    links::attach_credentials(jobs, store).map_err(|p| {
        p.into_iter()
            .map(|(line, msg)| format!("{line}: {msg}"))
            .collect::<Vec<_>>()
    })?;
    match links::discover(jobs, rediscover, links::DISCOVERY_TIMEOUT).await {
        Ok(notes) => notes.iter().for_each(|n| view.note(n)),
        Err(e) => view.note(&format!(
            "discovery failed ({e}); using the inventory and catalog as they are"
        )),
    }
    Ok(())
}

fn is_resumable_skip(outcome: Option<Outcome>, reason: Option<Reason>) -> bool {
    outcome == Some(Outcome::Skipped)
        && matches!(
            reason,
            Some(Reason::Interrupted | Reason::WindowClosed | Reason::ThresholdReached)
        )
}

fn open_db(path: &Path) -> anyhow::Result<Db> {
    Db::open(path).with_context(|| format!("opening the audit database {}", path.display()))
}

struct Drive<'a> {
    run_id: String,
    db: Db,
    /// Held until the run ends: no other process works on this run meanwhile.
    _lock: RunLock,
    work: Vec<(PlannedJob, Mode)>,
    config: RunConfig,
    safety: Safety,
    db_path: &'a Path,
    reports_dir: &'a Path,
    view: &'a mut ProgressView,
    signals: Signals,
}

/// One rolling batch; `canary` batches stop the run on any failure.
struct Batch {
    canary: bool,
    jobs: Vec<(usize, (PlannedJob, Mode))>,
}

fn batches(work: Vec<(PlannedJob, Mode)>, safety: &Safety) -> Vec<Batch> {
    let total = work.len();
    let mut rest = work
        .into_iter()
        .enumerate()
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    let mut out = Vec::new();
    if safety.canary > 0 {
        let jobs: Vec<_> = rest.by_ref().take(safety.canary).collect();
        if !jobs.is_empty() {
            out.push(Batch { canary: true, jobs });
        }
    }
    let size = match safety.batch {
        None => usize::MAX,
        Some(Amount::Count(n)) => n.max(1),
        // A percentage of the whole fleet, at least one device.
        Some(Amount::Percent(p)) => (total * usize::from(p)).div_ceil(100).max(1),
    };
    while rest.peek().is_some() {
        out.push(Batch {
            canary: false,
            jobs: rest.by_ref().take(size).collect(),
        });
    }
    out
}

async fn drive(d: Drive<'_>) -> anyhow::Result<RunSummary> {
    let Drive {
        run_id,
        db,
        _lock,
        work,
        config,
        safety,
        db_path,
        reports_dir,
        view,
        signals,
    } = d;
    let (writer, writer_task) = Writer::spawn(db, WRITER_CAPACITY);
    let env = Arc::new(JobEnv {
        run_id: run_id.clone(),
        writer: writer.clone(),
        config: config.clone(),
        allow_unverified_identity: safety.allow_unverified_identity,
    });
    let total = work.len();
    let ids: Vec<String> = work.iter().map(|(j, _)| j.device.id.clone()).collect();
    let mut started = vec![false; total];
    let mut aborted = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut audit_error: Option<StoreError> = None;
    let audit_failed = Notify::new();
    let mut stop: Option<StopReason> = None;
    let mut failed_total = 0usize;
    let mut auth_failures = 0usize;
    let scheduler = Scheduler::new(&config.limits);
    let grace = config.scaled(SHUTDOWN_GRACE);

    view.begin(total);
    for batch in batches(work, &safety) {
        if stop.is_some() || audit_error.is_some() {
            break;
        }
        if signals.received() > 0 {
            stop = Some(StopReason::Signal);
            break;
        }
        let window_left = match &safety.window {
            None => None,
            Some(w) => match w.remaining_now() {
                Some(left) => Some(left),
                None => {
                    stop = Some(StopReason::WindowClosed(format!(
                        "the maintenance window {w} closed"
                    )));
                    break;
                }
            },
        };
        let len = batch.jobs.len();
        let canary = batch.canary;
        let batch_limit = match safety.max_fail {
            Some(Amount::Percent(p)) => Some(len * usize::from(p) / 100),
            _ => None,
        };
        let run_limit = match safety.max_fail {
            Some(Amount::Count(n)) => Some(n),
            _ => None,
        };
        let mut failed_here = 0usize;
        let threshold = Notify::new();
        let mut threshold_why: Option<String> = None;
        let fired: Cell<Option<StopReason>> = Cell::new(None);
        let window = safety.window;
        let stop_starting = async {
            let reason = tokio::select! {
                _ = signals.at_least(1) => Some(StopReason::Signal),
                _ = threshold.notified() => None,
                _ = sleep_or_never(window_left) => Some(StopReason::WindowClosed(format!(
                    "the maintenance window {} closed",
                    window.as_ref().map(|w| w.to_string()).unwrap_or_default()
                ))),
                _ = audit_failed.notified() => None,
            };
            fired.set(reason);
        };
        let abort = async {
            tokio::select! {
                _ = signals.at_least(2) => {}
                _ = async { signals.at_least(1).await; tokio::time::sleep(grace).await } => {}
            }
        };
        let runner = |(job, mode): (PlannedJob, Mode)| job::run(Arc::clone(&env), job, mode);
        scheduler
            .run(
                batch.jobs,
                runner,
                |p: Progress<Result<JobResult, StoreError>>| match p {
                    Progress::Started { index } => {
                        started[index] = true;
                        view.started(&ids[index]);
                    }
                    Progress::Finished { result: Ok(r), .. } => {
                        if r.outcome == Outcome::Failed {
                            failed_here += 1;
                            failed_total += 1;
                            if r.reason == Some(Reason::AuthFailed) {
                                auth_failures += 1;
                            }
                            let why = if auth_failures >= safety.max_auth_failures && r.reason == Some(Reason::AuthFailed) {
                                Some(format!(
                                    "{auth_failures} devices refused the credentials (--max-auth-failures {}); check the credentials profiles before more devices lock logins",
                                    safety.max_auth_failures
                                ))
                            } else if canary {
                                Some(format!("a canary device failed ({})", r.device_id))
                            } else if run_limit.is_some_and(|n| failed_total > n) {
                                Some(format!("{failed_total} failures exceeded --max-fail {}", run_limit.unwrap_or(0)))
                            } else if batch_limit.is_some_and(|n| failed_here > n) {
                                Some(format!(
                                    "{failed_here} of {len} devices in a batch failed, over --max-fail {}",
                                    safety.max_fail.map(|a| a.to_string()).unwrap_or_default()
                                ))
                            } else {
                                None
                            };
                            if let (Some(why), None) = (why, &threshold_why) {
                                view.note(&format!("stopping: {why}; no further job will start"));
                                threshold_why = Some(why);
                                threshold.notify_one();
                            }
                        }
                        view.finished(&r);
                        results.push(r);
                    }
                    Progress::Finished { index, result: Err(e) } => {
                        view.note(&format!("{}: the audit database failed: {e}", ids[index]));
                        if audit_error.is_none() {
                            audit_error = Some(e);
                            audit_failed.notify_one();
                        }
                    }
                    Progress::Aborted { index } => {
                        view.note(&format!(
                            "{}: stopped in flight; `fleetreset resume {run_id}` will resolve it",
                            ids[index]
                        ));
                        aborted.push(index);
                    }
                },
                stop_starting,
                abort,
            )
            .await;
        stop = fired.take().or(threshold_why.map(StopReason::Threshold));
    }
    view.end();

    // Jobs never started still get their one outcome: a skip that `resume` can reopen.
    if let (Some(why), None) = (&stop, &audit_error) {
        for (i, _) in started.iter().enumerate().filter(|(_, s)| !**s) {
            let skipped = JobResult {
                device_id: ids[i].clone(),
                outcome: Outcome::Skipped,
                reason: Some(why.skip_reason()),
                detail: format!("not started: {}", why.describe()),
            };
            let rec = Record::Outcome {
                run_id: run_id.clone(),
                device_id: skipped.device_id.clone(),
                at: chrono::Utc::now(),
                outcome: skipped.outcome,
                reason: skipped.reason,
                detail: skipped.detail.clone(),
                attempts: 0,
            };
            if let Err(e) = writer.record_durable(rec).await {
                audit_error = Some(e);
                break;
            }
            results.push(skipped);
        }
    }
    drop(env);
    drop(writer);
    let mut db = writer_task
        .finish()
        .await
        .context("closing the audit database")?;
    if let Some(e) = audit_error {
        return Err(anyhow::Error::new(e).context(format!(
            "the audit database {} failed during run {run_id}; no new job was started after that",
            db_path.display()
        )));
    }
    let status = match (&stop, aborted.is_empty()) {
        (Some(StopReason::Signal), _) | (_, false) => RunStatus::Interrupted,
        (Some(_), true) => RunStatus::Stopped,
        (None, true) => RunStatus::Finished,
    };
    db.finish_run(&run_id, status, chrono::Utc::now())
        .context("closing the run")?;
    let record = db.load_run(&run_id).context("reading the run back")?;
    let dir = reports_dir.join(&run_id);
    let report = report::write(&dir, &record)
        .with_context(|| format!("writing the reports to {}", dir.display()))?;
    Ok(RunSummary {
        run_id,
        status,
        stop,
        results,
        record,
        report,
        db_path: db_path.to_path_buf(),
    })
}

async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn new_job(j: &PlannedJob) -> NewJob {
    NewJob {
        device_id: j.device.id.clone(),
        seq: j.seq,
        host: j.device.host.to_string(),
        model: j.device.model.clone(),
        mac: j.device.mac.map(|m| m.to_string()),
        site: j.device.site.clone(),
        unit: j.device.unit.clone(),
        method: j.method,
    }
}

/// `20261121T054708Z-3f2a`: sortable by start time, unique enough for one operator's runs.
fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let noise = now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16);
    format!("{}-{:04x}", now.format("%Y%m%dT%H%M%SZ"), noise & 0xffff)
}

/// SHA-256 of a file's bytes, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Host;
    use crate::model::Action;

    #[test]
    fn sha256_matches_the_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn run_ids_sort_by_time_and_carry_a_suffix() {
        let id = new_run_id();
        assert_eq!(id.len(), "20261121T054708Z-3f2a".len(), "{id}");
        assert_eq!(&id[16..17], "-");
    }

    #[test]
    fn amounts_are_counts_or_percentages() {
        assert_eq!("10".parse::<Amount>().unwrap(), Amount::Count(10));
        assert_eq!(" 25% ".parse::<Amount>().unwrap(), Amount::Percent(25));
        assert_eq!("0".parse::<Amount>().unwrap(), Amount::Count(0));
        for bad in ["", "x", "101%", "-1", "2.5", "%"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }

    fn work(n: usize) -> Vec<(PlannedJob, Mode)> {
        let devices: Vec<Device> = (0..n)
            .map(|i| Device {
                line: i as u64 + 2,
                id: format!("d{i}"),
                host: Host {
                    name: format!("10.0.0.{i}"),
                    port: None,
                },
                model: None,
                mac: None,
                site: None,
                unit: None,
                power_via: None,
                credentials: None,
                notes: None,
                extra: Default::default(),
            })
            .collect();
        plan::plan(&devices, Action::PowerCycle)
            .into_iter()
            .map(|j| (j, Mode::Fresh))
            .collect()
    }

    fn sizes(b: &[Batch]) -> Vec<(bool, usize)> {
        b.iter().map(|b| (b.canary, b.jobs.len())).collect()
    }

    #[test]
    fn batches_put_the_canaries_first_then_roll_by_count_or_share() {
        let none = Safety::default();
        assert_eq!(sizes(&batches(work(5), &none)), [(false, 5)]);
        let s = Safety {
            canary: 2,
            batch: Some(Amount::Count(2)),
            ..Safety::default()
        };
        assert_eq!(
            sizes(&batches(work(7), &s)),
            [(true, 2), (false, 2), (false, 2), (false, 1)]
        );
        let s = Safety {
            batch: Some(Amount::Percent(25)),
            ..Safety::default()
        };
        assert_eq!(
            sizes(&batches(work(10), &s)),
            [(false, 3), (false, 3), (false, 3), (false, 1)]
        );
        let s = Safety {
            canary: 9,
            ..Safety::default()
        };
        assert_eq!(sizes(&batches(work(3), &s)), [(true, 3)]);
    }

    #[test]
    fn batches_keep_every_job_once_in_inventory_order() {
        let s = Safety {
            canary: 1,
            batch: Some(Amount::Percent(30)),
            ..Safety::default()
        };
        let order: Vec<usize> = batches(work(11), &s)
            .into_iter()
            .flat_map(|b| b.jobs)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(order, (0..11).collect::<Vec<_>>());
    }
}
