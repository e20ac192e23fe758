//! A whole run: plan, record the run, schedule the jobs, collect their outcomes, close the
//! audit, write the reports. `run` and `demo` both come through here.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;

use crate::inventory::Inventory;
use crate::model::{Outcome, Reason};
use crate::report::{self, ReportFiles};
use crate::store::{
    Db, NewJob, NewRun, Record, RunRecord, RunStatus, StoreError, WRITER_CAPACITY, Writer,
};

use super::config::RunConfig;
use super::job::{self, JobEnv, JobResult};
use super::plan::{self, PlannedJob};
use super::progress::ProgressView;
use super::schedule::{self, Progress};

/// What a run needs besides its configuration.
pub struct RunInput<'a> {
    pub inventory: &'a Inventory,
    /// SHA-256 of the inventory file's bytes, hex.
    pub inventory_sha256: String,
    pub config: RunConfig,
    pub db_path: &'a Path,
    /// Reports go to `<reports_dir>/<run id>/`.
    pub reports_dir: &'a Path,
    pub operator: String,
}

/// How a run ended.
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
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

/// Runs the action over the inventory until every job has its outcome, or `stop` resolves.
pub async fn execute(
    input: RunInput<'_>,
    view: &mut ProgressView,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<RunSummary> {
    let planned = plan::plan(&input.inventory.devices, input.config.action);
    let run_id = new_run_id();
    let new_run = NewRun {
        id: run_id.clone(),
        action: input.config.action,
        inventory_path: input.inventory.path.display().to_string(),
        inventory_sha256: input.inventory_sha256.clone(),
        parameters: input.config.to_json(),
        operator: input.operator.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: chrono::Utc::now(),
    };
    let jobs: Vec<NewJob> = planned.iter().map(new_job).collect();
    let mut db = Db::open(input.db_path)
        .with_context(|| format!("opening the audit database {}", input.db_path.display()))?;
    db.create_run(&new_run, &jobs)
        .context("recording the run")?;

    let (writer, writer_task) = Writer::spawn(db, WRITER_CAPACITY);
    let env = Arc::new(JobEnv {
        run_id: run_id.clone(),
        writer: writer.clone(),
        config: input.config.clone(),
    });
    let total = planned.len();
    let ids: Vec<String> = planned.iter().map(|j| j.device.id.clone()).collect();
    let mut started = vec![false; total];
    let mut results = Vec::with_capacity(total);
    let mut audit_error: Option<StoreError> = None;
    let audit_failed = Notify::new();
    let mut interrupted = false;

    view.begin(total);
    {
        let stop_starting = async {
            tokio::select! {
                _ = stop => true,
                _ = audit_failed.notified() => false,
            }
        };
        let interrupted_flag = &mut interrupted;
        let stop_starting = async {
            *interrupted_flag = stop_starting.await;
        };
        let runner = |job: PlannedJob| job::run(Arc::clone(&env), job);
        schedule::run(
            planned,
            &input.config.limits,
            runner,
            |p: Progress<Result<JobResult, StoreError>>| match p {
                Progress::Started { index } => {
                    started[index] = true;
                    view.started(&ids[index]);
                }
                Progress::Finished { result: Ok(r), .. } => {
                    view.finished(&r);
                    results.push(r);
                }
                Progress::Finished {
                    index,
                    result: Err(e),
                } => {
                    view.note(&format!("{}: the audit database failed: {e}", ids[index]));
                    if audit_error.is_none() {
                        audit_error = Some(e);
                        audit_failed.notify_one();
                    }
                }
            },
            stop_starting,
        )
        .await;
    }
    view.end();

    // Jobs never started still get their one outcome.
    if audit_error.is_none() {
        let reason = if interrupted {
            Reason::Interrupted
        } else {
            Reason::ThresholdReached
        };
        for (i, _) in started.iter().enumerate().filter(|(_, s)| !**s) {
            let skipped = JobResult {
                device_id: ids[i].clone(),
                outcome: Outcome::Skipped,
                reason: Some(reason),
                detail: "never started: the run was stopped before this job".into(),
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
            "the audit database {} failed during run {run_id}; jobs in flight finished, no new job was started",
            input.db_path.display()
        )));
    }
    let status = if interrupted {
        RunStatus::Interrupted
    } else {
        RunStatus::Finished
    };
    db.finish_run(&run_id, status, chrono::Utc::now())
        .context("closing the run")?;
    let record = db.load_run(&run_id).context("reading the run back")?;
    let dir = input.reports_dir.join(&run_id);
    let report = report::write(&dir, &record)
        .with_context(|| format!("writing the reports to {}", dir.display()))?;
    Ok(RunSummary {
        run_id,
        status,
        results,
        record,
        report,
        db_path: input.db_path.to_path_buf(),
    })
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
        assert!(id.starts_with("20"));
        assert_eq!(&id[16..17], "-");
    }
}
