//! [`DeviceError`]: why an operation on a device failed, typed by what the caller must do.

use std::net::SocketAddr;
use std::time::Duration;

use crate::model::Reason;
use crate::protocol::smart::{SmartError, SmartErrorKind};

/// Why an operation on a device failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Nothing answers at the address (refused, no route): the device is off or elsewhere.
    #[error("{addr} is unreachable: {detail}")]
    Unreachable { addr: SocketAddr, detail: String },
    /// The device did not connect or answer in time.
    #[error("{op}: timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The connection dropped before a whole reply arrived.
    #[error("{op}: connection lost: {detail}")]
    ConnectionLost { op: &'static str, detail: String },
    /// The device answered something that is not a valid reply.
    #[error("{op}: malformed reply: {detail}")]
    Malformed { op: &'static str, detail: String },
    /// The device understood and refused, with its own error code.
    #[error("{op}: device error {code}: {msg}")]
    Device {
        op: &'static str,
        code: i64,
        msg: String,
    },
    /// The device rejected every credential we may use, or refuses local logins altogether.
    /// The detail says what to fix; it never contains a password.
    #[error("authentication failed: {detail}")]
    Auth { detail: String },
    /// The device locked logins after failed attempts (SMART -40404). Trying again soon only
    /// extends the lockout.
    #[error("logins blocked: {detail}")]
    Blocked { detail: String },
    /// The device (or its firmware) does not support what was asked.
    #[error("unsupported: {detail}")]
    Unsupported { detail: String },
    /// A disruptive command was not sent: the connection or session on which the device's
    /// identity was checked had ended, and a new one would reach whatever answers at the
    /// address now, unchecked. Nothing was written.
    #[error("{op}: not sent: the connection the device's identity was checked on had ended")]
    NotSent { op: &'static str },
}

impl DeviceError {
    /// The outcome reason recorded for a job that ends with this error: the one mapping from
    /// device errors to reasons. A connection dropped mid-reply is the device misbehaving
    /// (`device_error`), not slowness.
    pub fn reason(&self) -> Reason {
        match self {
            DeviceError::Unreachable { .. } => Reason::Unreachable,
            DeviceError::Timeout { .. } => Reason::Timeout,
            DeviceError::ConnectionLost { .. }
            | DeviceError::Malformed { .. }
            | DeviceError::Device { .. }
            | DeviceError::NotSent { .. } => Reason::DeviceError,
            DeviceError::Auth { .. } | DeviceError::Blocked { .. } => Reason::AuthFailed,
            DeviceError::Unsupported { .. } => Reason::Unsupported,
        }
    }

    /// Whether trying again later might succeed. Retries live in the scheduler.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. }
        )
    }

    /// Errors that mean "the device went quiet", as opposed to "the device said something
    /// wrong": after a disruptive command was written, these mean it most likely arrived.
    pub(crate) fn is_silence(&self) -> bool {
        matches!(
            self,
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. }
        )
    }
}

/// A SMART error code as a [`DeviceError`], with the table's advice.
pub(crate) fn smart_error(op: &'static str, e: SmartError) -> DeviceError {
    match e.kind {
        SmartErrorKind::Auth => DeviceError::Auth {
            detail: format!("{op}: {e}"),
        },
        SmartErrorKind::Blocked => DeviceError::Blocked {
            detail: format!("{op}: {e}"),
        },
        SmartErrorKind::Device if e.is_unsupported() => DeviceError::Unsupported {
            detail: format!("{op}: {e}"),
        },
        // Transient codes stay device errors: the scheduler decides about retries, and the
        // session-expiry codes were already retried once after a new handshake.
        SmartErrorKind::Device | SmartErrorKind::Retryable => DeviceError::Device {
            op,
            code: e.code,
            msg: format!("{}: {}", e.name, e.advice),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::smart;

    #[test]
    fn each_error_maps_to_the_outcome_reason_the_audit_records() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let s = String::new;
        let table = [
            (
                DeviceError::Unreachable { addr, detail: s() },
                Reason::Unreachable,
            ),
            (
                DeviceError::Timeout {
                    op: "x",
                    after: Duration::from_secs(1),
                },
                Reason::Timeout,
            ),
            // A connection dropped mid-reply is the device misbehaving, not slowness.
            (
                DeviceError::ConnectionLost {
                    op: "x",
                    detail: s(),
                },
                Reason::DeviceError,
            ),
            (
                DeviceError::Malformed {
                    op: "x",
                    detail: s(),
                },
                Reason::DeviceError,
            ),
            (
                DeviceError::Device {
                    op: "x",
                    code: -3,
                    msg: s(),
                },
                Reason::DeviceError,
            ),
            (DeviceError::NotSent { op: "reset" }, Reason::DeviceError),
            (DeviceError::Auth { detail: s() }, Reason::AuthFailed),
            (DeviceError::Blocked { detail: s() }, Reason::AuthFailed),
            (
                DeviceError::Unsupported { detail: s() },
                Reason::Unsupported,
            ),
            (
                smart_error("x", smart::classify(-1003)),
                Reason::DeviceError,
            ),
        ];
        for (e, reason) in table {
            assert_eq!(e.reason(), reason, "{e}");
        }
    }

    #[test]
    fn only_timeouts_and_lost_connections_are_worth_another_try() {
        let retryable = |e: DeviceError| e.is_retryable();
        assert!(retryable(DeviceError::Timeout {
            op: "x",
            after: Duration::from_secs(1)
        }));
        assert!(retryable(DeviceError::ConnectionLost {
            op: "x",
            detail: String::new()
        }));
        assert!(!retryable(DeviceError::Auth {
            detail: String::new()
        }));
        assert!(!retryable(DeviceError::NotSent { op: "reset" }));
    }

    #[test]
    fn smart_codes_become_errors_by_kind_with_their_advice() {
        let auth = smart_error("login_device", smart::classify(-1501));
        assert!(matches!(auth, DeviceError::Auth { .. }));
        assert!(auth.to_string().contains("both case-sensitive"), "{auth}");
        assert!(matches!(
            smart_error("x", smart::classify(-40404)),
            DeviceError::Blocked { .. }
        ));
        assert!(matches!(
            smart_error("device_reset", smart::classify(-40106)),
            DeviceError::Unsupported { .. }
        ));
        let device = smart_error("get_device_info", smart::classify(-1003));
        assert_eq!(
            device,
            DeviceError::Device {
                op: "get_device_info",
                code: -1003,
                msg: format!("JSON_DECODE_FAIL: {}", smart::classify(-1003).advice),
            }
        );
    }
}
