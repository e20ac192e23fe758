//! [`Ack`]: how a disruptive command was received, and the delay it asks for.

/// How a disruptive command (reboot, reset) was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// The device answered `err_code: 0`.
    Acknowledged,
    /// The request was written in full, then the connection dropped or went silent. Devices
    /// often act before they answer, so this is not a failure: the effect must be observed.
    SentNoAck { detail: String },
}

/// Delay in seconds we ask for before a reboot or reset takes effect. With 0 the device
/// reboots before it can answer; 1 s lets the acknowledgement out first.
pub const COMMAND_DELAY_SECS: u32 = 1;
