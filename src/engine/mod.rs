//! Planning, the job state machine, and the scheduler.
