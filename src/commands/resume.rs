//! `fleetreset resume RUN`: continue an interrupted, stopped or crashed run.

use crate::output::say;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::cli::ResumeArgs;
use crate::engine::config::RunConfig;
use crate::engine::execute::{self, Amount, ResumeInput, Safety};
use crate::engine::progress::ProgressView;
use crate::engine::schedule::Limits;
use crate::engine::shutdown::Signals;
use crate::exit::Status;
use crate::model::{Action, Outcome, Reason};
use crate::protocol::iot::transport::Timeouts;
use crate::store::{Db, RunRow};

use super::load_inventory;
use super::run::{confirmed, outside_window, parse_window, print_summary, status_of};

pub async fn run(args: &ResumeArgs, signals: Signals) -> anyhow::Result<Status> {
    if !args.db.exists() {
        anyhow::bail!(
            "no runs have been recorded at {}: there is no database there",
            args.db.display()
        );
    }
    let (run, pending) = {
        let db = Db::open(&args.db)
            .with_context(|| format!("opening the audit database {}", args.db.display()))?;
        let run_id = db
            .resolve_run_id(&args.run)
            .with_context(|| args.db.display().to_string())?;
        let record = db.load_run(&run_id)?;
        let pending = record
            .jobs
            .iter()
            .filter(|j| {
                j.outcome.is_none()
                    || (j.outcome == Some(Outcome::Skipped)
                        && matches!(
                            j.reason,
                            Some(
                                Reason::Interrupted
                                    | Reason::WindowClosed
                                    | Reason::ThresholdReached
                            )
                        ))
            })
            .count();
        (record.run, pending)
    };
    if pending == 0 {
        say!(
            "fleetreset: run {} has nothing left to do: every job has its outcome",
            run.id
        );
        return Ok(Status::Success);
    }
    let path = std::path::PathBuf::from(&run.inventory_path);
    let Some((inventory, sha256)) =
        load_inventory(&path).with_context(|| format!("the inventory of run {}", run.id))?
    else {
        return Ok(Status::BadInput);
    };
    if sha256 != run.inventory_sha256 && !args.force {
        say!(
            "fleetreset: {} changed since run {} began (SHA-256 {} then, {} now); devices or addresses may have moved. \
             Check it, then pass --force to resume anyway. Nothing was sent.",
            path.display(),
            run.id,
            &run.inventory_sha256[..12.min(run.inventory_sha256.len())],
            &sha256[..12]
        );
        return Ok(Status::BadInput);
    }
    let (config, mut safety) = match stored_settings(&run) {
        Ok(x) => x,
        Err(msg) => anyhow::bail!("run {} has unreadable parameters: {msg}", run.id),
    };
    if let Some(w) = args.window.as_deref() {
        match parse_window(Some(w)) {
            Ok(window) => safety.window = window,
            Err(msg) => {
                say!("fleetreset: {msg}");
                return Ok(Status::BadInput);
            }
        }
    }
    if let Some(status) = outside_window(safety.window.as_ref()) {
        return Ok(status);
    }
    if config.action == Action::FactoryReset && !args.yes && !confirmed(pending)? {
        return Ok(Status::BadInput);
    }
    let (store, rediscover) =
        match super::run::link_options(args.credentials.as_deref(), args.rediscover.as_deref()) {
            Ok(x) => x,
            Err(msg) => {
                say!("fleetreset: {msg}");
                return Ok(Status::BadInput);
            }
        };
    say!("resuming run {}: {pending} job(s) left", run.id);
    let mut view = ProgressView::for_stderr();
    let summary = execute::resume(
        ResumeInput {
            run_id: &run.id,
            credentials: &store,
            rediscover,
            inventory: &inventory,
            config,
            safety,
            db_path: &args.db,
            reports_dir: &args.reports_dir,
        },
        &mut view,
        signals,
    )
    .await?;
    print_summary(&summary, args.json)?;
    Ok(status_of(&summary))
}

/// The run's own limits, as stored when it began. The canary already ran then: a resumed run
/// doesn't repeat it.
fn stored_settings(run: &RunRow) -> Result<(RunConfig, Safety), String> {
    let p = &run.parameters;
    let num = |k: &str| p[k].as_f64().ok_or_else(|| format!("{k} missing"));
    let int = |k: &str| p[k].as_u64().ok_or_else(|| format!("{k} missing"));
    let secs = |k: &str| num(k).map(Duration::from_secs_f64);
    let rate = u32::try_from(int("rate_per_s")?)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or("bad rate")?;
    let burst = u32::try_from(int("burst")?)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or("bad burst")?;
    let concurrency = usize::try_from(int("concurrency")?)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or("bad concurrency")?;
    let config = RunConfig {
        action: run.action,
        limits: Limits {
            rate,
            burst,
            concurrency,
        },
        timeouts: Timeouts {
            connect: secs("connect_timeout_s")?,
            request: secs("request_timeout_s")?,
        },
        time_scale: num("time_scale")?,
    };
    let s = &p["safety"];
    let amount = |v: &Value| v.as_str().map(str::parse::<Amount>).transpose();
    let safety = Safety {
        canary: 0,
        batch: amount(&s["batch"])?,
        max_fail: amount(&s["max_fail"])?,
        window: parse_window(s["window"].as_str())?,
        allow_unverified_identity: s["allow_unverified_identity"].as_bool().unwrap_or(false),
        max_auth_failures: s["max_auth_failures"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(execute::DEFAULT_MAX_AUTH_FAILURES),
    };
    Ok((config, safety))
}
