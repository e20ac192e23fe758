//! Planning, the job state machine, and the scheduler.
//!
//! - [`plan`]: per device, the method, the steps and an estimate; sends nothing.
//! - [`job`]: one device's life: probe, identity, intent, action, verification, one outcome.
//! - [`schedule`]: the rate limit and concurrency cap jobs start under.
//! - [`config`]: the validated parameters of a run and the defaults behind them.
//! - [`execute`]: a whole run, from plan to reports; `run` and `demo` use it.
//! - [`progress`]: the live bar or log lines on stderr.

pub mod config;
pub mod execute;
pub mod job;
pub mod plan;
pub mod progress;
pub mod schedule;
