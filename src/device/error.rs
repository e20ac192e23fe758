//! [`DeviceError`]: why an operation on a device failed, typed by what the caller must do.

use std::net::SocketAddr;
use std::time::Duration;

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
}

impl DeviceError {
    /// The outcome reason recorded for a job that ends with this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceError::Unreachable { .. } => "unreachable",
            DeviceError::Timeout { .. } | DeviceError::ConnectionLost { .. } => "timeout",
            DeviceError::Malformed { .. } | DeviceError::Device { .. } => "device_error",
            DeviceError::Auth { .. } | DeviceError::Blocked { .. } => "auth_failed",
            DeviceError::Unsupported { .. } => "unsupported",
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
    fn new_variants_have_their_reasons_and_are_not_retried() {
        let auth = DeviceError::Auth { detail: "x".into() };
        let blocked = DeviceError::Blocked { detail: "x".into() };
        let unsupported = DeviceError::Unsupported { detail: "x".into() };
        assert_eq!(auth.reason(), "auth_failed");
        assert_eq!(blocked.reason(), "auth_failed");
        assert_eq!(unsupported.reason(), "unsupported");
        assert!(!auth.is_retryable() && !blocked.is_retryable() && !unsupported.is_retryable());
    }

    #[test]
    fn every_reason_is_a_word_of_the_audit() {
        use crate::model::Reason;
        let errors = [
            DeviceError::Unreachable {
                addr: "127.0.0.1:1".parse().unwrap(),
                detail: String::new(),
            },
            DeviceError::Timeout {
                op: "x",
                after: Duration::from_secs(1),
            },
            DeviceError::Auth {
                detail: String::new(),
            },
            DeviceError::Blocked {
                detail: String::new(),
            },
            DeviceError::Unsupported {
                detail: String::new(),
            },
            smart_error("x", smart::classify(-1003)),
        ];
        for e in errors {
            assert!(e.reason().parse::<Reason>().is_ok(), "{}", e.reason());
        }
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
