//! `fleetreset simulate FILE`: serve the inventory's loopback rows as devices until Ctrl-C.

use crate::output::say;
use std::future::Future;
use std::io::Write;

use anyhow::Context;

use crate::cli::SimulateArgs;
use crate::credentials::{self, Store};
use crate::exit::Status;
use crate::inventory::{self, LoadError};
use crate::sim::{self, Simulator};

pub async fn run(
    args: &SimulateArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Status> {
    let file = &args.inventory.file;
    let inv = match inventory::load_with(file, &args.inventory.read.options()) {
        Ok(inv) => inv,
        Err(LoadError::Invalid(errors)) => {
            say!("{errors}");
            say!(
                "fleetreset: the inventory has problems; run `fleetreset check {}`",
                file.display()
            );
            return Ok(Status::BadInput);
        }
        Err(e) => return Err(e.into()),
    };
    for warning in inv.warning_lines() {
        say!("{warning}");
    }
    // Only rows bound to an account need the store; without any, a missing or unreadable
    // default file must not stop the simulator.
    let store = if inv.devices.iter().any(|d| d.credentials.is_some()) {
        let path = args.credentials.clone().or_else(credentials::default_path);
        Store::load(path.as_deref(), args.credentials.is_some())
            .context("loading the devices' accounts")?
    } else {
        Store::default()
    };
    let specs = match sim::plan_with(&inv.devices, &store) {
        Ok(specs) => specs,
        Err(problems) => {
            for p in &problems {
                say!("{}:{}: {}", inv.location(), p.line, p.message);
            }
            say!(
                "fleetreset: {} row(s) can't be simulated; nothing was started",
                problems.len()
            );
            return Ok(Status::BadInput);
        }
    };
    if specs.is_empty() {
        say!("fleetreset: {} has no devices to simulate", inv.location());
        return Ok(Status::BadInput);
    }
    // The rows are in the specs now; a fleet of 100,000 needn't hold them twice.
    drop(inv);
    let journal = match &args.journal {
        Some(path) => Some(std::sync::Arc::new(
            sim::Journal::open(path)
                .with_context(|| format!("opening the journal {}", path.display()))?,
        )),
        None => None,
    };
    let options = sim::StartOptions {
        journal,
        listeners: if args.shared_listeners {
            sim::Listeners::Shared
        } else {
            sim::Listeners::Auto
        },
    };
    let simulator = Simulator::start_options(specs, args.time_scale, options)
        .await
        .context("starting the simulator")?;
    {
        let mut out = std::io::stdout().lock();
        for e in simulator.endpoints() {
            let listens = if e.offline {
                "offline, not listening".to_string()
            } else {
                e.listens()
            };
            let faults = if e.faults.is_empty() {
                String::new()
            } else {
                format!("  faults: {}", e.faults)
            };
            writeln!(
                out,
                "{:<21} {:<12} {}  {listens}{faults}",
                e.addr, e.model, e.id
            )?;
        }
        writeln!(
            out,
            "listeners: {}, {} socket(s)",
            simulator.listen_mode().describe(),
            simulator.sockets()
        )?;
        writeln!(
            out,
            "simulating {} device(s), time scale {}; Ctrl-C to stop",
            simulator.endpoints().len(),
            args.time_scale
        )?;
        out.flush()?;
    }
    shutdown.await;
    simulator.shutdown().await;
    say!("simulator stopped");
    Ok(Status::Success)
}
