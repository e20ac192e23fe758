//! What the user typed: clap derive structs only. Validation into typed values happens in the
//! commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "fleetreset",
    version,
    about = "Reset fleets of TP-Link Kasa and Tapo devices over the local network, safely, with an audit trail."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate an inventory CSV and list every problem as FILE:LINE: message.
    Check(CheckArgs),
    /// Serve the loopback rows of an inventory as simulated devices until Ctrl-C.
    Simulate(SimulateArgs),
    /// List the runs in the audit database.
    Runs(RunsArgs),
    /// Write devices.csv, run.json and summary.md for a run.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The inventory CSV file.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The inventory CSV file; every row whose host is on 127.0.0.0/8 becomes a device.
    pub file: PathBuf,

    /// Multiply every device delay (boot time, reset delay) by this factor; 0.01 turns a 60 s
    /// boot into 0.6 s.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Print the runs as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Where to write the files (default: reports/<run>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
