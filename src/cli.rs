//! What the user typed: clap derive structs only. Validation into typed values happens in the
//! commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::model::Action;

mod audit;
pub use self::audit::*;

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
    /// Validate an inventory (CSV or workbook) and list every problem as FILE:LINE: message.
    Check(CheckArgs),
    /// Serve the loopback rows of an inventory as simulated devices until Ctrl-C.
    Simulate(SimulateArgs),
    /// Show what a run would do to each device; sends nothing.
    Plan(PlanArgs),
    /// Power-cycle or factory-reset every device of an inventory, with an audit trail.
    Run(RunArgs),
    /// Continue an interrupted, stopped or crashed run.
    Resume(ResumeArgs),
    /// Factory-reset a simulated fleet end to end, with nothing to set up.
    Demo(DemoArgs),
    /// Find devices by discovery and write an inventory, or move an inventory's hosts by MAC.
    Discover(DiscoverArgs),
    /// List the runs in the audit database.
    Runs(RunsArgs),
    /// Write devices.csv, run.json, summary.md and report.html for a run.
    Report(ReportArgs),
    /// Write the technicians' checklist for a run's manual_required devices (Markdown, HTML, CSV).
    WorkOrders(WorkOrdersArgs),
    /// Record a technician's confirmation of manual work: one device, or a returned checklist.
    Confirm(ConfirmArgs),
    /// Make the key pair that signs certificates and reports (minisign format).
    Keygen(KeygenArgs),
    /// Every run that touched one device (by its inventory id or its MAC), oldest first.
    History(HistoryArgs),
    /// Check the audit trail itself: `audit verify` recomputes the runs' hash chains.
    Audit(AuditArgs),
    /// Write certificates of sanitization for a factory-reset run: one per device, one bundle.
    Certificates(CertificatesArgs),
}

/// An inventory file and how to read it.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// The inventory: a CSV file, or an .xlsx/.xlsm/.ods workbook (by its extension).
    pub file: PathBuf,
    #[command(flatten)]
    pub read: InventoryOptions,
}

/// How to read an inventory, where detection isn't enough.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InventoryOptions {
    /// CSV only: the field delimiter (`,` `;` `|` or `tab`; default: detected from the header
    /// row among `,` `;` and tab).
    #[arg(long, value_name = "CHAR", value_parser = crate::inventory::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// CSV only: `auto` reads UTF-8 and falls back to Windows-1252 with a warning; `utf-8`
    /// makes text that is not UTF-8 an error; `windows-1252` reads it so without a warning.
    #[arg(long, value_enum, default_value_t)]
    pub encoding: crate::inventory::Encoding,
    /// Workbooks only: the sheet to read (default: the first visible one; a hidden sheet is read only when named).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
}

impl InventoryOptions {
    pub fn options(&self) -> crate::inventory::ReadOptions {
        crate::inventory::ReadOptions {
            delimiter: self.delimiter,
            encoding: self.encoding,
            sheet: self.sheet.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// Also refuse what a run of this action would refuse (a factory reset of rows without a
    /// MAC).
    #[arg(long, value_enum)]
    pub action: Option<Action>,
    /// With `--action factory-reset`: accept rows without a MAC, as `run` does with this flag.
    #[arg(long)]
    pub allow_unverified_identity: bool,
    /// The credentials file the `credentials` column's profiles must be in, as for `run`
    /// (default: ~/.config/fleetreset/credentials.toml, or FLEETRESET_CRED_* variables).
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
}

// Every row of the inventory whose host is on 127.0.0.0/8 becomes a device.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,

    /// Multiply every device delay (boot time, reset delay) by this factor; 0.01 turns a 60 s
    /// boot into 0.6 s.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,

    /// Append every reboot, reset and failed login a device receives to this file
    /// (`TIME ID COMMAND`).
    #[arg(long)]
    pub journal: Option<PathBuf>,

    /// Serve the whole fleet from one socket per port on the loopback interface, told apart
    /// by the address a client reached, instead of sockets at each device's address (chosen
    /// anyway when those would take over half the open-file limit). A dark device then
    /// resets connections instead of refusing them.
    #[arg(long)]
    pub shared_listeners: bool,

    /// The credentials file that holds the accounts named by the inventory's `credentials`
    /// column, the devices' owners (same format and FLEETRESET_CRED_* variables as the
    /// client). Default: ~/.config/fleetreset/credentials.toml, if it exists.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
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
    #[arg(required_unless_present = "estate")]
    pub run: Option<String>,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Where to write the files (default: reports/RUN_ID/, or reports/estate/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Instead of a run's report, `estate.html`: a merged audit's sites (`fleetreset audit
    /// merge`) on one page, each with its site files, runs, devices by outcome and whether its
    /// chains verify.
    #[arg(long, conflicts_with = "run")]
    pub estate: bool,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// What to do to every device.
    #[arg(long, value_enum)]
    pub action: Action,
    /// How each device gets the action: `auto` takes a remote command where the catalog knows
    /// one, else the outlet `power_via` names, else a work order; the others ask for that one
    /// method, with a work order where a device has no such path.
    #[arg(long, value_enum, default_value_t)]
    pub method: crate::engine::method::MethodChoice,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Plan a factory reset of rows without a MAC, as `run --allow-unverified-identity` would
    /// run it; without it, `plan` refuses those rows as `run` does.
    #[arg(long)]
    pub allow_unverified_identity: bool,
    /// The credentials file the `credentials` column's profiles must be in, as for `run`.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// What to do to every device.
    #[arg(long, value_enum)]
    pub action: Action,
    /// How each device gets the action: `auto` (a remote command where the catalog knows one,
    /// else the outlet `power_via` names, else a work order), `remote`, `upstream` or
    /// `manual`; a device without the asked path gets a work order. `resume` keeps the run's.
    #[arg(long, value_enum, default_value_t)]
    pub method: crate::engine::method::MethodChoice,
    /// Jobs started per second, e.g. `5` or `5/s`.
    #[arg(long, default_value_t = crate::engine::schedule::DEFAULT_RATE.to_string())]
    pub rate: String,
    /// Jobs allowed to start back to back before the rate applies.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// Jobs in flight at once.
    #[arg(long, default_value_t = crate::engine::schedule::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Seconds to wait for a device to accept a connection.
    #[arg(long, default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// Seconds to wait for a device's whole reply to one request.
    #[arg(long, default_value_t = 5.0)]
    pub request_timeout: f64,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// The minisign secret key (`fleetreset keygen`) that signs the chain head and
    /// certificates (default: $FLEETRESET_SIGNING_KEY, else keygen's default key when it
    /// exists; with neither they are written unsigned).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// Reports are written to DIR/RUN_ID/.
    #[arg(long, default_value = crate::report::DEFAULT_DIR)]
    pub reports_dir: PathBuf,
    /// Skip the confirmation a factory reset asks for (for unattended runs).
    #[arg(long)]
    pub yes: bool,
    /// Who is running this, for the audit (default: $USER).
    #[arg(long)]
    pub operator: Option<String>,
    /// Print the run's summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// For rehearsals against `fleetreset simulate --time-scale X`: scale every wait by X.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Plan, then probe each device's reachability and identity; send nothing disruptive.
    #[arg(long)]
    pub dry_run: bool,
    /// Run this many devices first, alone; any failure among them stops the run.
    #[arg(long, default_value_t = 0)]
    pub canary: usize,
    /// Rolling batches of N devices or P% of the fleet; each starts when the previous is done.
    #[arg(long, value_name = "N|P%")]
    pub batch: Option<String>,
    /// Stop starting jobs once failures exceed N over the run, or P% of the current batch.
    #[arg(long, value_name = "N|P%")]
    pub max_fail: Option<String>,
    /// Start jobs only inside this local-time window, e.g. 22:00-06:00 (may cross midnight).
    #[arg(long, value_name = "HH:MM-HH:MM")]
    pub window: Option<String>,
    /// Let a factory reset wipe devices that have no MAC in the inventory to check them by.
    #[arg(long)]
    pub allow_unverified_identity: bool,
    /// The credentials file the inventory's `credentials` profiles come from (owner-only).
    /// Default: ~/.config/fleetreset/credentials.toml.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Stop starting jobs once this many devices refused the credentials.
    #[arg(long, default_value_t = crate::engine::policy::DEFAULT_MAX_AUTH_FAILURES)]
    pub max_auth_failures: usize,
    /// Try a TPAP login even on a device whose last refused login left it 5 or fewer attempts
    /// before it locks (or found it locked); without it, such a device is not tried.
    #[arg(long)]
    pub force_login: bool,
    /// Look for devices by MAC with discovery on this address or CIDR, and use the address
    /// where each answers (DHCP moves devices between runs).
    #[arg(long, value_name = "ADDRESS|CIDR")]
    pub rediscover: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// The minisign secret key (`fleetreset keygen`) that signs the chain head and
    /// certificates (default: $FLEETRESET_SIGNING_KEY, else keygen's default key when it
    /// exists; with neither they are written unsigned).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// Reports are written to DIR/RUN_ID/.
    #[arg(long, default_value = crate::report::DEFAULT_DIR)]
    pub reports_dir: PathBuf,
    /// Resume even though the inventory file changed since the run began.
    #[arg(long)]
    pub force: bool,
    /// Skip the confirmation a factory reset asks for.
    #[arg(long)]
    pub yes: bool,
    /// Replace the run's maintenance window, e.g. 22:00-06:00.
    #[arg(long, value_name = "HH:MM-HH:MM")]
    pub window: Option<String>,
    /// The credentials file (default: ~/.config/fleetreset/credentials.toml).
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Look for moved devices by MAC on this address or CIDR.
    #[arg(long, value_name = "ADDRESS|CIDR")]
    pub rediscover: Option<String>,
    /// Stop once this many devices of the run, counting those before the interruption, have
    /// refused the credentials (default: the run's own limit; needed to go on at all once the
    /// run reached it).
    #[arg(long, value_name = "N")]
    pub max_auth_failures: Option<usize>,
    /// Try a TPAP login even on a device whose last refused login left it 5 or fewer attempts
    /// before it locks (or found it locked); without it, such a device is not tried.
    #[arg(long)]
    pub force_login: bool,
    /// Who is resuming it, for the audit (default: $USER).
    #[arg(long)]
    pub operator: Option<String>,
    /// Print the run's summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// `power-cycle` (soft reset) shows all three methods: remote commands, a doorbell cycled
    /// at its transformer's plug, and work orders; `factory-reset` wipes the fleet.
    #[arg(long, value_enum, default_value = "power-cycle")]
    pub action: Action,
    /// The audit database the demo writes.
    #[arg(long, default_value = "reports/demo.db")]
    pub db: PathBuf,
    /// Reports are written to DIR/RUN_ID/.
    #[arg(long, default_value = crate::report::DEFAULT_DIR)]
    pub reports_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// An address, an IPv4 CIDR of at most /16 (a unicast sweep, for routed or segmented
    /// networks), or a broadcast address such as 192.168.1.255.
    #[arg(long)]
    pub target: String,
    /// Seconds to listen for answers (probes are sent three times over it).
    #[arg(long, default_value_t = 3.0)]
    pub timeout: f64,
    /// Write the inventory here instead of stdout. With --update, write the updated inventory
    /// here (as CSV) and leave the inventory file as it is; needed for a workbook, which is
    /// never rewritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Update the hosts of this inventory (CSV or workbook) where a row's MAC was found at
    /// another address.
    #[arg(long)]
    pub update: Option<PathBuf>,
    /// How to read the --update inventory.
    #[command(flatten)]
    pub read: InventoryOptions,
}

#[derive(Debug, clap::Args)]
pub struct WorkOrdersArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// Where to write the files (default: reports/RUN_ID/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("what").required(true).args(["device", "from"])),
    override_usage = "fleetreset confirm RUN DEVICE --by NAME [--note TEXT] [OPTIONS]\n       fleetreset confirm RUN --from FILE [--by NAME] [OPTIONS]"
)]
pub struct ConfirmArgs {
    /// The run: its id, a unique prefix of it, or `latest`.
    pub run: String,
    /// The device (its inventory id) the technician saw to.
    pub device: Option<String>,
    /// A returned checklist (work-orders.csv filled in, as CSV, .xlsx or .ods): every row with
    /// `confirmed_by` filled in is confirmed.
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub from: Option<PathBuf>,
    /// The technician who did the work. With --from: the technician of rows that give a
    /// `confirmed_at` but no `confirmed_by`.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// A note from the technician (with a DEVICE).
    #[arg(long, value_name = "TEXT", conflicts_with = "from")]
    pub note: Option<String>,
    /// Don't look at the devices afterwards: confirm on the technician's word (the audit says so).
    #[arg(long)]
    pub no_verify: bool,
    /// Workbooks only: the sheet of the checklist to read (default: the first visible one).
    #[arg(long, value_name = "NAME", requires = "from")]
    pub sheet: Option<String>,
    /// The credentials file the inventory's profiles come from, for looking at devices that log in.
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
    /// Who is running this, for the audit (default: $USER).
    #[arg(long)]
    pub operator: Option<String>,
    /// The audit database.
    #[arg(long, default_value = crate::store::DEFAULT_DB)]
    pub db: PathBuf,
    /// The minisign secret key (`fleetreset keygen`) that signs the chain head and
    /// certificates (default: $FLEETRESET_SIGNING_KEY, else keygen's default key when it
    /// exists; with neither they are written unsigned).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
}
