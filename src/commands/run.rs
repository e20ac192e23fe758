//! `fleetreset run FILE --action …`: reset every device of an inventory.

use std::io::Write;

use serde_json::json;

use crate::cli::RunArgs;
use crate::credentials;
use crate::engine::config::RunConfig;
use crate::engine::dry_run;
use crate::engine::execute::{self, RunInput, RunSummary};
use crate::engine::guard::Guard;
use crate::engine::plan::{self, PlannedJob};
use crate::engine::progress::ProgressView;
use crate::engine::shutdown::Signals;
use crate::engine::window::Window;
use crate::exit::{Early, Status};
use crate::hint::Resume;
use crate::inert::Inert;
use crate::inventory::Device;
use crate::model::{Action, Outcome};
use crate::output::{despite_closed_pipe, say};
use crate::store::RunStatus;

use super::load_inventory;
use super::options::{config, safety};

/// Runs the action; every way it ends before the run is recorded is an [`Early`] error, which
/// `main` prints for people and, with `--json`, as JSON.
pub async fn run(args: &RunArgs, signals: Signals) -> anyhow::Result<Status> {
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

async fn run_checked(args: &RunArgs, signals: Signals) -> anyhow::Result<Status> {
    let (config, safety) = config(args)
        .and_then(|c| Ok((c, safety(args)?)))
        .map_err(Early::refused)?;
    let Some((inventory, sha256)) =
        load_inventory(&args.inventory.file, &args.inventory.read.options())?
    else {
        return Err(inventory_refused(&args.inventory.file));
    };
    if inventory.devices.is_empty() {
        return Err(Early::refused(format!(
            "{} has no devices; nothing to do",
            inventory.location()
        ))
        .into());
    }
    let (store, rediscover) = link_options(args.credentials.as_deref(), args.rediscover.as_deref())
        .map_err(Early::refused)?;
    let key = signing_key(args.signing_key.as_deref())?;
    super::check::refuse_rows(&inventory, config.action, safety.allow_unverified_identity)?;
    tracing::info!(
        "{} device(s) from {}; at most {} job(s) a second (burst {}) and {} in flight; \
         timeouts {} to connect and {} per request (real time); time scale {}",
        inventory.devices.len(),
        inventory.location(),
        config.limits.rate,
        config.limits.burst,
        config.limits.concurrency,
        crate::output::duration(config.timeouts.connect),
        crate::output::duration(config.timeouts.request),
        config.time_scale
    );
    let mut jobs = plan::plan_with(&inventory.devices, config.action, config.method);
    if args.dry_run {
        let mut view = ProgressView::for_stderr();
        prepared(
            &mut jobs,
            &store,
            rediscover.as_deref(),
            &view,
            &inventory,
            &config,
        )
        .await?;
        return dry_run(args, &jobs, &config, &mut view, signals).await;
    }
    outside_window(safety.window.as_ref())?;
    if config.action == Action::FactoryReset && !args.yes {
        super::consent::confirmed(inventory.devices.len(), &signals).await?;
    }
    // Only now: a live view redraws its line, and would have erased the question.
    let mut view = ProgressView::for_stderr();
    view.waiting("checking the database, its lock and the device claims");
    // Everything that could stop the run later stops it here, before the first packet (the
    // discovery below is one): the database, its lock, the device claims, room to write.
    let run_id = execute::new_run_id();
    let mut guard = Guard::lock(&args.db, &format!("run {run_id}"))?;
    let devices: Vec<&Device> = inventory.devices.iter().collect();
    guard.claim(
        &devices,
        &run_id,
        &format!("run {run_id} on {}", args.db.display()),
    )?;
    guard.preflight(&args.reports_dir.join(&run_id), devices.len())?;
    guard.refuse_unresolved(&devices, None)?;
    view.waiting(if rediscover.is_some() {
        "rediscovering the devices by MAC"
    } else {
        "settling how each device is reached"
    });
    prepared(
        &mut jobs,
        &store,
        rediscover.as_deref(),
        &view,
        &inventory,
        &config,
    )
    .await?;
    crate::engine::links::gate_logins(&mut jobs, &guard.db, args.force_login, &view)?;
    // Devices discovery found elsewhere are claimed (and checked for open commands) at their
    // new addresses too, before any command.
    let moved: Vec<&Device> = jobs
        .iter()
        .filter(|j| j.link.moved_from.is_some())
        .map(|j| &j.device)
        .collect();
    if !moved.is_empty() {
        guard.claim(
            &moved,
            &run_id,
            &format!("run {run_id} on {}", args.db.display()),
        )?;
        guard.refuse_unresolved(&moved, None)?;
    }
    let operator = args
        .operator
        .clone()
        .unwrap_or_else(super::operator::from_env);
    tracing::info!(run = %run_id, operator = %operator, db = %args.db.display(), "starting the run");
    let hint = Resume {
        run_id: &run_id,
        db: &args.db,
        reports_dir: Some(&args.reports_dir),
        credentials: args.credentials.as_deref(),
        rediscover: args.rediscover.as_deref(),
    }
    .command();
    let summary = execute::execute(
        RunInput {
            run_id: run_id.clone(),
            inventory: &inventory,
            jobs,
            inventory_sha256: sha256,
            config,
            safety,
            guard,
            db_path: &args.db,
            reports_dir: &args.reports_dir,
            operator,
            signing: key.as_ref(),
        },
        &mut view,
        signals,
    )
    .await?;
    super::summary::print_summary_quietly(&summary, args.json, &hint);
    Ok(status_of(&summary))
}

/// The key that signs what a run or resume writes, loaded before anything is sent: a key that
/// exists but can't be used refuses the command (exit 2) rather than end it unsigned.
pub fn signing_key(
    explicit: Option<&std::path::Path>,
) -> Result<Option<crate::signing::SigningKey>, Early> {
    crate::signing::configured(explicit)
        .map_err(|e| Early::refused(format!("{e:#}; nothing was sent")))
}

/// The early end of a command whose inventory has problems, which `load_inventory` listed.
pub fn inventory_refused(file: &std::path::Path) -> anyhow::Error {
    Early::refused(format!(
        "{} has problems; nothing was sent (see `fleetreset check {}`)",
        file.display(),
        crate::hint::shell_word(&file.to_string_lossy())
    ))
    .said()
    .into()
}

/// Settles the jobs' links; on problems prints them as `FILE:LINE: …` and refuses: nothing was
/// sent.
async fn prepared(
    jobs: &mut [PlannedJob],
    store: &credentials::Store,
    rediscover: Option<&[std::net::IpAddr]>,
    view: &ProgressView,
    inventory: &crate::inventory::Inventory,
    config: &RunConfig,
) -> Result<(), Early> {
    match execute::prepare(jobs, store, rediscover, view, config).await {
        Ok(()) => Ok(()),
        Err(problems) => {
            let n = problems.len();
            let file = inventory.location();
            let lines: Vec<String> = problems.iter().map(|p| format!("{file}:{p}")).collect();
            for line in &lines {
                say!("{line}");
            }
            say!(
                "fleetreset: {n} row(s) of {file} can't be reached as listed; fix the rows above; nothing was sent"
            );
            // `--json` has no rows above: its reason carries them, each with its fix.
            Err(Early::refused(format!(
                "{n} row(s) of {file} can't be reached as listed: {}; nothing was sent",
                lines.join("; ")
            ))
            .said())
        }
    }
}

/// Refuses to start outside the maintenance window (exit 3), saying when it opens.
pub fn outside_window(window: Option<&Window>) -> Result<(), Early> {
    let Some(w) = window else {
        return Ok(());
    };
    if w.remaining_now().is_some() {
        return Ok(());
    }
    Err(Early::outside_window(format!(
        "outside the maintenance window {w} (local time); it opens at {}. Nothing was sent.",
        crate::output::local_time(&w.next_open_local())
    )))
}

async fn dry_run(
    args: &RunArgs,
    jobs: &[PlannedJob],
    config: &RunConfig,
    view: &mut ProgressView,
    signals: Signals,
) -> anyhow::Result<Status> {
    let looks = dry_run::look(jobs, config, view, signals).await;
    let problems = looks.iter().filter(|l| l.problem.is_some()).count();
    let status = if problems == 0 {
        Status::Success
    } else {
        Status::DeviceFailures
    };
    if args.json {
        let devices: Vec<_> = jobs
            .iter()
            .zip(&looks)
            .map(|(j, l)| {
                json!({
                    "id": l.device_id,
                    "ready": l.problem.is_none(),
                    "note": l.note,
                    "problem": l.problem,
                    "method": j.method.word(),
                    "warnings": j.warnings,
                })
            })
            .collect();
        let doc = json!({
            "dry_run": true,
            "action": args.action,
            "devices": devices,
            "ready": looks.len() - problems,
            "problems": problems,
        });
        let text = crate::report::json_inert(&doc)?;
        return despite_closed_pipe(status, std::io::stdout().lock().write_all(text.as_bytes()));
    }
    let print = || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for (j, l) in jobs.iter().zip(&looks) {
            let id = Inert(&l.device_id);
            match &l.problem {
                None => writeln!(
                    out,
                    "ok    {id}: {}; would {} by {} method",
                    Inert(&l.note),
                    args.action,
                    j.method.word()
                )?,
                Some(p) => writeln!(out, "FAIL  {id}: {}", Inert(p))?,
            }
            for w in &j.warnings {
                writeln!(out, "      warning: {}", Inert(w))?;
            }
        }
        writeln!(
            out,
            "dry run: {} device(s), {} ready, {problems} with problems; nothing disruptive was sent and nothing was recorded",
            looks.len(),
            looks.len() - problems
        )
    };
    despite_closed_pipe(status, print())
}

/// The options that settle how devices are reached: the credentials store and the
/// `--rediscover` sweep target. An error is a message for the user.
pub fn link_options(
    credentials: Option<&std::path::Path>,
    rediscover: Option<&str>,
) -> Result<(credentials::Store, Option<Vec<std::net::IpAddr>>), String> {
    let store = load_credentials(credentials).map_err(|e| e.to_string())?;
    let targets = rediscover
        .map(crate::protocol::discovery::targets)
        .transpose()
        .map_err(|msg| format!("--rediscover {msg}"))?;
    Ok((store, targets))
}

/// The credentials store: the named file (which must exist), or the default file if there is
/// one. Profiles may also come from the environment.
pub fn load_credentials(
    path: Option<&std::path::Path>,
) -> Result<credentials::Store, credentials::CredentialsError> {
    match path {
        Some(p) => credentials::Store::load(Some(p), true),
        None => credentials::Store::load(credentials::default_path().as_deref(), false),
    }
}

/// The exit status a finished run maps to.
pub fn status_of(s: &RunSummary) -> Status {
    if matches!(s.status, RunStatus::Interrupted | RunStatus::Stopped) {
        Status::Stopped
    } else {
        // Only the jobs that did not succeed are kept: any of them is a failure.
        status_of_jobs(&s.record.not_succeeded)
    }
}

/// 0 when every job succeeded, 1 otherwise.
pub fn status_of_jobs(jobs: &[crate::store::JobRow]) -> Status {
    if jobs.iter().all(|j| j.outcome == Some(Outcome::Succeeded)) {
        Status::Success
    } else {
        Status::DeviceFailures
    }
}
