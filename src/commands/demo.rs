//! `fleetreset demo`: a power cycle (or with `--action factory-reset`, a factory reset) of a
//! simulated fleet, end to end, with nothing to set up.
//!
//! The simulator runs in-process on `inventories/demo.csv` (built into the binary, so the demo
//! works from anywhere) at a time scale of 0.01. The inventory's `demo_power_cycle` and
//! `demo_factory_reset` columns say what each run must conclude for each device, and the demo
//! checks every outcome against them. Devices left for a technician get their work orders.

use crate::output::{despite_closed_pipe, say};
use std::io::Write;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::cli::DemoArgs;
use crate::engine::config::RunConfig;
use crate::engine::execute::{self, RunInput};
use crate::engine::guard::Guard;
use crate::engine::plan;
use crate::engine::policy::Safety;
use crate::engine::progress::ProgressView;
use crate::engine::schedule::Limits;
use crate::engine::shutdown::Signals;
use crate::exit::Status;
use crate::inventory;
use crate::model::{Action, Method, Outcome};
use crate::protocol::iot::transport::Timeouts;
use crate::report;
use crate::report::work_orders::{self, WorkOrders};
use crate::signing;
use crate::sim::{self, Simulator};

/// The demo fleet, as shipped in `inventories/demo.csv`.
const DEMO_CSV: &str = include_str!("../../inventories/demo.csv");
const DEMO_PATH: &str = "inventories/demo.csv";

/// A 60 s boot takes 0.6 s: the whole demo finishes in seconds.
const TIME_SCALE: f64 = 0.01;

/// Quick limits for loopback; the slow device's 3 s replies exceed the 1 s request timeout.
fn demo_config(action: Action) -> RunConfig {
    RunConfig {
        action,
        limits: Limits {
            rate: NonZeroU32::new(20).expect("non-zero"),
            burst: NonZeroU32::MIN,
            concurrency: NonZeroUsize::new(8).expect("non-zero"),
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
        },
        time_scale: TIME_SCALE,
        method: Default::default(),
    }
}

/// The demo's own signing key, `demo-signing.key` (and `.pub`) in the reports directory, made
/// on the first demo. Never the user's key: a demo's simulated wipes must not carry a real
/// organisation's signature.
fn demo_key(reports_dir: &Path) -> anyhow::Result<signing::SigningKey> {
    let path = reports_dir.join(DEMO_KEY);
    if !path.exists() {
        let signer = signing::Signer::generate()?;
        signing::write_key_pair(&signer, &path, false)?;
    }
    signing::configured(Some(&path))?
        .ok_or_else(|| anyhow::anyhow!("the demo's signing key {} is missing", path.display()))
}

/// The demo's signing key, in its reports directory.
pub const DEMO_KEY: &str = "demo-signing.key";

pub async fn run(args: &DemoArgs, signals: Signals) -> anyhow::Result<Status> {
    let inventory = inventory::parse(Path::new(DEMO_PATH), DEMO_CSV.as_bytes())
        .map_err(|e| anyhow::anyhow!("the built-in demo inventory is invalid:\n{e}"))?;
    let specs = sim::plan(&inventory.devices).map_err(|problems| {
        let lines: Vec<_> = problems
            .iter()
            .map(|p| format!("{DEMO_PATH}:{}: {}", p.line, p.message))
            .collect();
        anyhow::anyhow!(
            "the built-in demo inventory can't be simulated:\n{}",
            lines.join("\n")
        )
    })?;
    let simulator = Simulator::start(specs, TIME_SCALE).await.context(
        "starting the demo's simulated fleet (is another demo or simulator using 127.77.0.0/16?)",
    )?;
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    say!(
        "demo: {} simulated devices on 127.77.0.0/16 at time scale {TIME_SCALE}; {} all of them",
        simulator.endpoints().len(),
        match args.action {
            Action::PowerCycle => "power-cycling",
            Action::FactoryReset => "factory-resetting",
        }
    );
    let key = demo_key(&args.reports_dir)?;
    let run_id = execute::new_run_id();
    let mut guard = Guard::lock(&args.db, &format!("demo run {run_id}"))?;
    let devices: Vec<_> = inventory.devices.iter().collect();
    guard.claim(&devices, &run_id, &format!("demo run {run_id}"))?;
    guard.preflight(&args.reports_dir.join(&run_id), devices.len())?;
    let mut view = ProgressView::for_stderr();
    let mut jobs = plan::plan(&inventory.devices, args.action);
    if let Err(problems) = execute::prepare(
        &mut jobs,
        &Default::default(),
        None,
        &view,
        &demo_config(args.action),
    )
    .await
    {
        anyhow::bail!(
            "the demo fleet could not be prepared: {}",
            problems.join("; ")
        );
    }
    let result = execute::execute(
        RunInput {
            run_id,
            guard,
            inventory: &inventory,
            jobs,
            inventory_sha256: execute::sha256_hex(DEMO_CSV.as_bytes()),
            config: demo_config(args.action),
            safety: Safety::default(),
            db_path: &args.db,
            reports_dir: &args.reports_dir,
            operator: "demo".into(),
            signing: Some(&key),
        },
        &mut view,
        signals,
    )
    .await;
    simulator.shutdown().await;
    let summary = result?;
    // The demo fleet is a dozen devices: its whole record is read back for the checks and the
    // summary below (a real run's end reads only its counts).
    let record = super::runs::open_existing(&summary.db_path)?
        .load_run(&summary.run_id)
        .context("reading the demo run back")?;

    let mut surprises = Vec::new();
    for (device, job) in inventory.devices.iter().zip(&record.jobs) {
        let expected = device
            .extra
            .get(match args.action {
                Action::PowerCycle => "demo_power_cycle",
                Action::FactoryReset => "demo_factory_reset",
            })
            .map(String::as_str)
            .unwrap_or("succeeded");
        let got = match (job.outcome, job.reason) {
            (Some(o), Some(r)) => format!("{o}:{r}"),
            (Some(o), None) => o.to_string(),
            (None, _) => "no outcome".into(),
        };
        if got != expected {
            surprises.push(format!("{}: expected {expected}, got {got}", device.id));
        }
    }
    let status = if surprises.is_empty() {
        Status::Success
    } else {
        Status::DeviceFailures
    };
    // The devices no command could reach, as a technician's checklist beside the reports.
    let orders = WorkOrders::of(&record, &notes(&inventory));
    let order_files = if orders.is_empty() {
        None
    } else {
        Some(work_orders::write(&summary.report.dir, &orders)?)
    };
    let print = || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", report::summary_markdown(&record))?;
        writeln!(out, "Methods:")?;
        for method in Method::ALL {
            let ids: Vec<&str> = record
                .jobs
                .iter()
                .filter(|j| j.method == *method)
                .map(|j| j.device_id.as_str())
                .collect();
            let shown = match ids.len() {
                0 => "none".to_string(),
                n if n > 4 => format!("{n} devices"),
                _ => ids.join(", "),
            };
            writeln!(out, "  {method}: {shown}")?;
        }
        let left: Vec<&str> = record
            .jobs
            .iter()
            .filter(|j| j.outcome == Some(Outcome::ManualRequired))
            .map(|j| j.device_id.as_str())
            .collect();
        if !left.is_empty() {
            writeln!(out, "  left for a technician: {}", left.join(", "))?;
        }
        writeln!(out)?;
        if surprises.is_empty() {
            writeln!(
                out,
                "Every device ended as the demo expects, each injected fault with its own reason."
            )?;
        } else {
            writeln!(out, "Unexpected outcomes:")?;
            for s in &surprises {
                writeln!(out, "- {s}")?;
            }
        }
        writeln!(out)?;
        writeln!(out, "Reports:  {}", summary.report.dir.display())?;
        writeln!(out, "  {}", summary.report.devices_csv.display())?;
        writeln!(out, "  {}", summary.report.run_json.display())?;
        writeln!(out, "  {}", summary.report.summary_md.display())?;
        writeln!(out, "  {}", summary.report.report_html.display())?;
        if let Some(files) = &order_files {
            writeln!(
                out,
                "Work orders for the {} device(s) left for a technician:",
                orders.items().count()
            )?;
            writeln!(out, "  {}", files.markdown.display())?;
            writeln!(out, "  {}", files.html.display())?;
            writeln!(out, "  {}", files.csv.display())?;
        }
        writeln!(
            out,
            "Database: {} (run {})",
            summary.db_path.display(),
            summary.run_id
        )?;
        writeln!(
            out,
            "Try: fleetreset runs --db {}",
            summary.db_path.display()
        )?;
        Ok(())
    };
    despite_closed_pipe(status, print())
}

/// Each device's notes, for its work order.
fn notes(inventory: &inventory::Inventory) -> std::collections::HashMap<String, String> {
    inventory
        .devices
        .iter()
        .filter_map(|d| Some((d.id.clone(), d.notes.clone()?)))
        .collect()
}
