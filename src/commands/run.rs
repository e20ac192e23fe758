//! `fleetreset run FILE --action …`: reset every device of an inventory.

use std::io::{BufRead, IsTerminal, Write};

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
use crate::exit::Status;
use crate::inert::Inert;
use crate::inventory::Device;
use crate::model::{Action, Outcome};
use crate::output::{despite_closed_pipe, say, say_prompt};
use crate::store::RunStatus;

use super::load_inventory;
use super::options::{config, safety};

pub async fn run(args: &RunArgs, signals: Signals) -> anyhow::Result<Status> {
    let (config, safety) = match config(args).and_then(|c| Ok((c, safety(args)?))) {
        Ok(x) => x,
        Err(msg) => {
            say!("fleetreset: {msg}");
            return Ok(Status::BadInput);
        }
    };
    let Some((inventory, sha256)) =
        load_inventory(&args.inventory.file, &args.inventory.read.options())?
    else {
        return Ok(Status::BadInput);
    };
    if inventory.devices.is_empty() {
        say!(
            "fleetreset: {} has no devices; nothing to do",
            inventory.location()
        );
        return Ok(Status::BadInput);
    }
    let (store, rediscover) =
        match link_options(args.credentials.as_deref(), args.rediscover.as_deref()) {
            Ok(x) => x,
            Err(msg) => {
                say!("fleetreset: {msg}");
                return Ok(Status::BadInput);
            }
        };
    if super::check::refused_rows(&inventory, config.action, safety.allow_unverified_identity) {
        return Ok(Status::BadInput);
    }
    let mut jobs = plan::plan(&inventory.devices, config.action);
    let mut view = ProgressView::for_stderr();
    if args.dry_run {
        if !prepared(
            &mut jobs,
            &store,
            rediscover.as_deref(),
            &view,
            &inventory,
            &config,
        )
        .await
        {
            return Ok(Status::BadInput);
        }
        return dry_run(args, &jobs, &config, &mut view, signals).await;
    }
    if let Some(status) = outside_window(safety.window.as_ref()) {
        return Ok(status);
    }
    if config.action == Action::FactoryReset && !args.yes && !confirmed(inventory.devices.len())? {
        return Ok(Status::BadInput);
    }
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
    if !prepared(
        &mut jobs,
        &store,
        rediscover.as_deref(),
        &view,
        &inventory,
        &config,
    )
    .await
    {
        return Ok(Status::BadInput);
    }
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
    let operator = args.operator.clone().unwrap_or_else(operator_from_env);
    let summary = execute::execute(
        RunInput {
            run_id,
            inventory: &inventory,
            jobs,
            inventory_sha256: sha256,
            config,
            safety,
            guard,
            db_path: &args.db,
            reports_dir: &args.reports_dir,
            operator,
        },
        &mut view,
        signals,
    )
    .await?;
    print_summary_quietly(&summary, args.json);
    Ok(status_of(&summary))
}

/// Settles the jobs' links; on problems prints them as `FILE:LINE: …` and says nothing was sent.
async fn prepared(
    jobs: &mut [PlannedJob],
    store: &credentials::Store,
    rediscover: Option<&[std::net::IpAddr]>,
    view: &ProgressView,
    inventory: &crate::inventory::Inventory,
    config: &RunConfig,
) -> bool {
    match execute::prepare(jobs, store, rediscover, view, config).await {
        Ok(()) => true,
        Err(problems) => {
            for p in problems {
                say!("{}:{p}", inventory.location());
            }
            say!("fleetreset: fix the rows above; nothing was sent");
            false
        }
    }
}

/// Prints the summary; the run is done and recorded whatever happens to stdout or stderr, so
/// a closed pipe changes nothing about the exit status.
pub fn print_summary_quietly(s: &RunSummary, json_out: bool) {
    if let Err(e) = print_summary(s, json_out)
        && !crate::output::is_closed_pipe(&e)
    {
        say!("fleetreset: could not print the summary: {e:#}");
    }
}

/// Refuses to start outside the maintenance window (exit 3), saying when it opens.
pub fn outside_window(window: Option<&Window>) -> Option<Status> {
    let w = window?;
    if w.remaining_now().is_some() {
        return None;
    }
    say!(
        "fleetreset: outside the maintenance window {w}; it opens at {}. Nothing was sent.",
        w.next_open_now().format("%Y-%m-%d %H:%M:%S")
    );
    Some(Status::Stopped)
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
                    j.method
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
        status_of_jobs(&s.record.jobs)
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

/// Asks, on a terminal, to type the number of devices to be wiped.
pub fn confirmed(count: usize) -> anyhow::Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        say!(
            "fleetreset: a factory reset of {count} device(s) needs confirmation; run it on a terminal to confirm, \
             or pass --yes for unattended use. Nothing was sent."
        );
        return Ok(false);
    }
    say_prompt!(
        "This erases the settings, Wi-Fi and account binding of {count} device(s); they will leave the network.\n\
         Type {count} to continue: "
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == count.to_string() {
        Ok(true)
    } else {
        say!("fleetreset: not confirmed; nothing was sent.");
        Ok(false)
    }
}

pub(super) fn operator_from_env() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The end of a run: a few lines for people on stderr, or JSON on stdout.
pub fn print_summary(s: &RunSummary, json_out: bool) -> anyhow::Result<()> {
    let counts: Vec<(Outcome, usize)> = Outcome::ALL
        .iter()
        .map(|o| (*o, s.count(*o)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if json_out {
        let failures: Vec<_> = s
            .record
            .jobs
            .iter()
            .filter(|j| j.outcome != Some(Outcome::Succeeded))
            .map(|j| json!({"id": j.device_id, "outcome": j.outcome, "reason": j.reason, "detail": j.detail}))
            .collect();
        let doc = json!({
            "run": s.run_id,
            "status": s.status,
            "stopped_because": s.stop.as_ref().map(|x| x.describe()),
            "action": s.record.run.action,
            "jobs": s.record.jobs.len(),
            "outcomes": counts.iter().map(|(o, n)| (o.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "not_succeeded": failures,
            "database": s.db_path,
            "reports": {
                "dir": s.report.dir,
                "devices_csv": s.report.devices_csv,
                "run_json": s.report.run_json,
                "summary_md": s.report.summary_md,
            },
        });
        let mut out = std::io::stdout().lock();
        out.write_all(crate::report::json_inert(&doc)?.as_bytes())?;
        return Ok(());
    }
    let list = counts
        .iter()
        .map(|(o, n)| format!("{n} {o}"))
        .collect::<Vec<_>>()
        .join(", ");
    say!(
        "run {} ({}) {}: {list}",
        s.run_id,
        s.record.run.action,
        status_word(s.status)
    );
    const SHOWN: usize = 20;
    let others: Vec<_> = s
        .record
        .jobs
        .iter()
        .filter(|j| j.outcome != Some(Outcome::Succeeded))
        .collect();
    for j in others.iter().take(SHOWN) {
        say!(
            "  {} ({}): {}{}{}",
            Inert(&j.device_id),
            Inert(&j.host),
            j.outcome.map(|o| o.as_str()).unwrap_or("no outcome"),
            j.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
            j.detail
                .as_deref()
                .map(|d| format!(" - {}", Inert(d)))
                .unwrap_or_default()
        );
    }
    if others.len() > SHOWN {
        say!("  … and {} more in the report", others.len() - SHOWN);
    }
    say!("reports:  {}", s.report.dir.display());
    say!("database: {}", s.db_path.display());
    Ok(())
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "still running",
        RunStatus::Finished => "finished",
        RunStatus::Stopped => "stopped early",
        RunStatus::Interrupted => "interrupted",
    }
}
