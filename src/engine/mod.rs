//! Planning, the job state machine, and the scheduler.
//!
//! - [`plan`]: per device, the method, the steps and an estimate; sends nothing.
//! - [`method`]: the method as data (remote, upstream, manual) and how `plan` chooses it.
//! - [`order`]: jobs behind one outlet as one unit; a device that powers others goes after them.
//! - [`links`]: credentials, protocol choice by discovery, and moved devices, before a run.
//! - [`job`]: one device's life: probe, identity, intent, action, verification, one outcome.
//! - [`schedule`]: the rate limit and concurrency cap jobs start under.
//! - [`dry_run`]: `run --dry-run`: reachability and identity, nothing disruptive.
//! - [`guard`]: what a run holds before its first packet: database, lock, claims, room.
//! - [`policy`]: thresholds, batches and stop reasons, as pure types.
//! - [`claims`]: machine-wide device claims, so runs from different databases never collide.
//! - [`config`]: the validated parameters of a run and the defaults behind them.
//! - [`execute`]: a whole run, from plan to reports; `run` and `demo` use it.
//! - [`drive`]: the jobs of a run, batch by batch, to their outcomes; `execute` and `resume`
//!   come through it.
//! - [`units`]: what the scheduler starts: one job, or the jobs behind one outlet.
//! - [`host_clock`]: the host's boot clock with its boot id, comparable across processes.
//! - [`progress`]: the live bar or log lines on stderr.
//! - [`resume`]: a stopped or crashed run's remaining work, rebuilt from its audit.
//! - `run_end`: how a run ended, for its run-level event in the audit.
//! - [`shutdown`]: signals as an object passed in: the first stops starting, the second aborts.
//! - [`window`]: maintenance windows: when a run may start and when it must stop.

pub mod claims;
pub mod config;
pub mod drive;
pub mod dry_run;
pub mod execute;
pub mod finish;
pub mod guard;
pub mod host_clock;
pub mod job;
pub mod links;
pub mod method;
pub mod order;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod resume;
mod run_end;
pub mod schedule;
pub mod shutdown;
pub mod units;
pub mod window;
