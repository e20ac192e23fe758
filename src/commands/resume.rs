//! `fleetreset resume RUN`: continue an interrupted, stopped or crashed run.

use anyhow::Context;

use crate::cli::ResumeArgs;
use crate::engine::config::RunConfig;
use crate::engine::guard::Guard;
use crate::engine::policy::{Amount, DEFAULT_MAX_AUTH_FAILURES, Safety};
use crate::engine::progress::ProgressView;
use crate::engine::resume::{self, ResumeInput, is_resumable_skip};
use crate::engine::shutdown::Signals;
use crate::exit::{Early, Status};
use crate::hint::Resume;
use crate::inventory::{Device, ReadOptions};
use crate::model::Action;
use crate::output::say;
use crate::store::RunRow;

use super::consent::confirmed;
use super::load_inventory;
use super::options::{Unchecked, checked_config, parse_window};
use super::run::{outside_window, status_of, status_of_jobs};
use super::summary::print_summary_quietly;

/// Resumes the run; every way it ends before the run is reopened is an [`Early`] error, which
/// `main` prints for people and, with `--json`, as JSON.
pub async fn run(args: &ResumeArgs, signals: Signals) -> anyhow::Result<Status> {
    match run_checked(args, signals).await {
        // An early end that only said why on stderr (every other one is an `Early` error).
        Ok(Status::BadInput) => Err(Early::refused(
            "refused before anything was sent; the reasons are on stderr",
        )
        .said()
        .into()),
        done => done,
    }
}

async fn run_checked(args: &ResumeArgs, signals: Signals) -> anyhow::Result<Status> {
    if !args.db.exists() {
        return Err(Early::refused(format!(
            "no runs have been recorded at {}: there is no database there",
            args.db.display()
        ))
        .into());
    }
    // The lock before anything else: while another run or resume works on this database, what
    // it holds can't be judged, and two would act on the same devices.
    let mut guard = Guard::lock(&args.db, &format!("resume {}", args.run))?;
    let run_id = guard
        .db
        .resolve_run_id(&args.run)
        .with_context(|| args.db.display().to_string())?;
    let record = guard.db.load_run(&run_id)?;
    let pending: Vec<&str> = record
        .jobs
        .iter()
        .filter(|j| j.outcome.is_none() || is_resumable_skip(j.outcome, j.reason))
        .map(|j| j.device_id.as_str())
        .collect();
    let run = &record.run;
    if pending.is_empty() {
        // What the run came to, as when it ended: 0 only if every device succeeded.
        return Err(Early::nothing_to_do(
            format!(
                "run {} has nothing left to do: every job has its outcome",
                run.id
            ),
            status_of_jobs(&record.jobs),
        )
        .into());
    }
    let path = std::path::PathBuf::from(&run.inventory_path);
    let options = read_options(run).with_context(|| format!("run {}'s parameters", run.id))?;
    let Some((inventory, sha256)) = load_inventory(&path, &options)
        .with_context(|| format!("the inventory of run {}", run.id))?
    else {
        // `check` reads the file afresh and may find nothing wrong: say why resume does not.
        let changed = std::fs::read(&path)
            .is_ok_and(|b| crate::engine::execute::sha256_hex(&b) != run.inventory_sha256);
        if changed {
            say!(
                "fleetreset: {} changed since run {} began, and resume reads it as the run did{}; \
                 restore it as the run read it to resume, or start a new run",
                path.display(),
                run.id,
                read_as(&options)
            );
        }
        return Err(super::run::inventory_refused(&path));
    };
    if sha256 != run.inventory_sha256 && !args.force {
        return Err(Early::refused(format!(
            "{} changed since run {} began (SHA-256 {} then, {} now); devices or addresses may have moved. \
             Check it, then pass --force to resume anyway. Nothing was sent.",
            path.display(),
            run.id,
            &run.inventory_sha256[..12.min(run.inventory_sha256.len())],
            &sha256[..12]
        ))
        .into());
    }
    let (config, mut safety) = match stored_settings(run) {
        Ok(x) => x,
        Err(msg) => anyhow::bail!("run {} has unusable parameters: {msg}", run.id),
    };
    // Refusals before the interruption count: a resume must not give a wrong password a
    // fresh allowance of devices to lock out.
    let (refused, refused_pending) = resume::auth_failures(&record);
    if let Some(n) = args.max_auth_failures {
        safety.max_auth_failures = n.max(1);
    } else if refused + refused_pending >= safety.max_auth_failures {
        return Err(Early::refused(format!(
            "{} device(s) of run {} already refused the credentials, which is the run's --max-auth-failures ({}). \
             Check the credentials profiles, then resume with --max-auth-failures N (a higher N) to go on. Nothing was sent.",
            refused + refused_pending,
            run.id,
            safety.max_auth_failures
        ))
        .into());
    }
    if let Some(w) = args.window.as_deref() {
        safety.window = parse_window(Some(w)).map_err(Early::refused)?;
    }
    outside_window(safety.window.as_ref())?;
    let (store, rediscover) =
        super::run::link_options(args.credentials.as_deref(), args.rediscover.as_deref())
            .map_err(Early::refused)?;
    let key = super::run::signing_key(args.signing_key.as_deref())?;
    let devices: Vec<&Device> = inventory
        .devices
        .iter()
        .filter(|d| pending.contains(&d.id.as_str()))
        .collect();
    guard.claim(
        &devices,
        &run.id,
        &format!("resume of run {} on {}", run.id, args.db.display()),
    )?;
    guard.preflight(&args.reports_dir.join(&run_id), record.jobs.len())?;
    // Another run of this database may have left commands to these devices unjudged; this
    // run's own are judged below.
    guard.refuse_unresolved(&devices, Some(&run.id))?;
    if config.action == Action::FactoryReset && !args.yes {
        confirmed(pending.len(), &signals).await?;
    }
    let run_id = run.id.clone();
    drop(record);
    // Only after the question: a live view redraws its line, and would have erased it.
    let mut view = ProgressView::for_stderr();
    let hint = Resume {
        run_id: &run_id,
        db: &args.db,
        reports_dir: Some(&args.reports_dir),
        credentials: args.credentials.as_deref(),
        rediscover: args.rediscover.as_deref(),
    }
    .command();
    let summary = resume::resume(
        ResumeInput {
            run_id: &run_id,
            credentials: &store,
            rediscover,
            inventory: &inventory,
            config,
            safety,
            guard,
            db_path: &args.db,
            reports_dir: &args.reports_dir,
            operator: args
                .operator
                .clone()
                .unwrap_or_else(super::operator::from_env),
            inventory_sha256: sha256,
            force: args.force,
            force_login: args.force_login,
            signing: key.as_ref(),
        },
        &mut view,
        signals,
    )
    .await?;
    print_summary_quietly(&summary, args.json, &hint);
    Ok(status_of(&summary))
}

/// `options` as words after "read it": ` (fields split at ';')`, ` (sheet "Fleet")`.
fn read_as(options: &ReadOptions) -> String {
    let mut how = Vec::new();
    if let Some(d) = options.delimiter {
        how.push(format!(
            "fields split at {}",
            crate::inventory::shown_delimiter(d)
        ));
    }
    if let Some(sheet) = &options.sheet {
        how.push(format!("sheet {sheet:?}"));
    }
    if options.encoding != crate::inventory::Encoding::Auto {
        how.push(format!("encoding {}", serde_json::json!(options.encoding)));
    }
    if how.is_empty() {
        String::new()
    } else {
        format!(" ({})", how.join(", "))
    }
}

/// How the run read its inventory: the same delimiter, encoding and sheet. Runs recorded
/// before these were stored read with the defaults, as they did then.
fn read_options(run: &RunRow) -> anyhow::Result<ReadOptions> {
    Ok(run
        .parameters()
        .context("unusable parameters")?
        .read_options())
}

/// The run's own limits, as stored when it began, checked by the same rules as `run`'s
/// arguments (the file may have been edited). The canary already ran then: a resumed run
/// doesn't repeat it.
fn stored_settings(run: &RunRow) -> Result<(RunConfig, Safety), String> {
    let p = run.parameters().map_err(|e| e.to_string())?;
    fn given<T>(value: Option<T>, key: &str) -> Result<T, String> {
        value.ok_or_else(|| format!("{key} missing"))
    }
    let config = checked_config(Unchecked {
        action: run.action,
        rate: given(p.rate_per_s, "rate_per_s")?,
        burst: given(p.burst, "burst")?,
        concurrency: given(p.concurrency, "concurrency")?,
        connect_timeout_s: given(p.connect_timeout_s, "connect_timeout_s")?,
        request_timeout_s: given(p.request_timeout_s, "request_timeout_s")?,
        time_scale: given(p.time_scale, "time_scale")?,
        // Runs recorded before `--method` chose by the catalog, as `auto` does.
        method: p.method.unwrap_or_default(),
    })?;
    let s = p.safety.unwrap_or_default();
    let amount = |v: Option<&str>| v.map(str::parse::<Amount>).transpose();
    let safety = Safety {
        canary: 0,
        batch: amount(s.batch.as_deref())?,
        max_fail: amount(s.max_fail.as_deref())?,
        window: parse_window(s.window.as_deref())?,
        allow_unverified_identity: s.allow_unverified_identity.unwrap_or(false),
        max_auth_failures: s
            .max_auth_failures
            .unwrap_or(DEFAULT_MAX_AUTH_FAILURES)
            .max(1),
    };
    Ok((config, safety))
}
