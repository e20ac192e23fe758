//! fleetreset: reset whole fleets of TP-Link Kasa and Tapo devices over the local network,
//! safely, with an audit trail.
//!
//! # Layout
//! - [`cli`]: clap structs for what the user typed, nothing else.
//! - [`commands`]: one file per subcommand, each with a `run` that takes what it needs.
//! - [`inventory`]: the CSV inventory: reading, row validation, `FILE:LINE` errors.
//! - [`catalog`]: one table of models: family, protocol, remote capabilities, procedures, times.
//! - [`protocol`]: device wire protocols: IOT (XOR), KLAP, AES, SMART JSON, the camera
//!   transports (SslAes, LINKIE2) over TLS, one session driver, HTTP, discovery.
//! - [`credentials`]: account profiles from an owner-only file or the environment; never printed.
//! - [`device`]: one client over every protocol: info, reboot, factory reset, relay.
//! - [`sim`]: the simulator that serves inventory rows as devices on loopback, in every protocol.
//! - [`exit`]: the process exit codes, shared by `main` and the commands.
//! - [`model`]: the words of a run: actions, methods, job states, outcomes, reasons.
//! - [`engine`]: planning, the job state machine and the scheduler with its limits.
//! - [`audit_sample`]: the reproducible random draw of `fleetreset audit sample`.
//! - [`store`]: the SQLite audit (runs, jobs, events, snapshots), its single writer, and the
//!   hash chain over every record with its checkpoints (`fleetreset audit verify`).
//! - [`report`]: `devices.csv`, `run.json`, `summary.md` and `report.html` from the audit; the
//!   work orders.
//! - [`certificate`]: certificates of sanitization for factory-reset runs (JSON, Markdown, HTML).
//! - [`signing`]: minisign signatures of the files others must trust; the signing key pair.
//! - [`hint`]: the commands our messages suggest (`fleetreset resume …`), quoted to work as printed.
//! - [`inert`]: device text made safe to show: one line, control characters escaped.
//! - [`open_files`]: the open-file limit raised to the hard limit, for large runs and fleets.
//! - [`output`]: messages on stderr that never stop the work when stderr is gone.

pub mod audit_sample;
pub mod catalog;
pub mod certificate;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod device;
pub mod engine;
pub mod exit;
pub mod hint;
pub mod inert;
pub mod inventory;
pub mod model;
pub mod open_files;
pub mod output;
pub mod protocol;
pub mod report;
pub mod signing;
pub mod sim;
pub mod store;
