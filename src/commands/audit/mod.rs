//! `fleetreset audit …`: checks of the audit trail itself.
//!
//! - [`verify`]: recompute runs' hash chains and name the first record changed since.

pub mod verify;
