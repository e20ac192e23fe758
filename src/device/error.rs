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

/// What was asked of the device when an error came back: the one thing besides the error
/// that decides its outcome reason ([`DeviceError::reason_when`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Anything but the disruptive command: a login, a probe, a look while verifying.
    Query,
    /// The disruptive command itself (reboot, factory reset).
    Command,
}

impl DeviceError {
    /// The outcome reason recorded for a job that ends with this error, when `asked` was asked:
    /// the one mapping from device errors to reasons; every reason derived from an error comes
    /// from here. A connection dropped mid-reply is the device misbehaving (`device_error`),
    /// not slowness. A command refused as a method the device doesn't have
    /// ([`DeviceError::is_unknown_method`]) is `unsupported`: the device has no remote path,
    /// and the job becomes a work order; the same codes answering a query are the device
    /// refusing, `device_error`.
    pub fn reason_when(&self, asked: Asked) -> Reason {
        match self {
            DeviceError::Unreachable { .. } => Reason::Unreachable,
            DeviceError::Timeout { .. } => Reason::Timeout,
            DeviceError::Device { .. } if asked == Asked::Command && self.is_unknown_method() => {
                Reason::Unsupported
            }
            DeviceError::ConnectionLost { .. }
            | DeviceError::Malformed { .. }
            | DeviceError::Device { .. }
            | DeviceError::NotSent { .. } => Reason::DeviceError,
            DeviceError::Auth { .. } | DeviceError::Blocked { .. } => Reason::AuthFailed,
            DeviceError::Unsupported { .. } => Reason::Unsupported,
        }
    }

    /// [`DeviceError::reason_when`] for an error that answered a query (login, probe, look).
    pub fn reason(&self) -> Reason {
        self.reason_when(Asked::Query)
    }

    /// Whether the device refused a command as one it doesn't have: SMART's unknown method
    /// (`-1002`, [`DeviceError::Unsupported`]), or IOT's "module not support" (`-1`) and
    /// "member not support" (`-2`).
    pub fn is_unknown_method(&self) -> bool {
        matches!(
            self,
            DeviceError::Unsupported { .. } | DeviceError::Device { code: -1 | -2, .. }
        )
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

    /// Every variant, with its reason when it answered a query and when it answered the
    /// disruptive command. The `match` makes a new variant a compile error here until it has
    /// its row.
    #[test]
    fn each_error_maps_to_the_outcome_reason_the_audit_records() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let s = String::new;
        let device = |code| DeviceError::Device {
            op: "x",
            code,
            msg: s(),
        };
        let table = [
            (
                DeviceError::Unreachable { addr, detail: s() },
                Reason::Unreachable,
                Reason::Unreachable,
            ),
            (
                DeviceError::Timeout {
                    op: "x",
                    after: Duration::from_secs(1),
                },
                Reason::Timeout,
                Reason::Timeout,
            ),
            // A connection dropped mid-reply is the device misbehaving, not slowness.
            (
                DeviceError::ConnectionLost {
                    op: "x",
                    detail: s(),
                },
                Reason::DeviceError,
                Reason::DeviceError,
            ),
            (
                DeviceError::Malformed {
                    op: "x",
                    detail: s(),
                },
                Reason::DeviceError,
                Reason::DeviceError,
            ),
            // Invalid argument: a refusal, whatever was asked.
            (device(-3), Reason::DeviceError, Reason::DeviceError),
            // IOT's "module not support" and "member not support": to a command, no remote path.
            (device(-1), Reason::DeviceError, Reason::Unsupported),
            (device(-2), Reason::DeviceError, Reason::Unsupported),
            (
                DeviceError::NotSent { op: "reset" },
                Reason::DeviceError,
                Reason::DeviceError,
            ),
            (
                DeviceError::Auth { detail: s() },
                Reason::AuthFailed,
                Reason::AuthFailed,
            ),
            (
                DeviceError::Blocked { detail: s() },
                Reason::AuthFailed,
                Reason::AuthFailed,
            ),
            (
                DeviceError::Unsupported { detail: s() },
                Reason::Unsupported,
                Reason::Unsupported,
            ),
            (
                smart_error("x", smart::classify(-1003)),
                Reason::DeviceError,
                Reason::DeviceError,
            ),
        ];
        let mut seen = [false; 9];
        for (e, query, command) in table {
            let variant = match e {
                DeviceError::Unreachable { .. } => 0,
                DeviceError::Timeout { .. } => 1,
                DeviceError::ConnectionLost { .. } => 2,
                DeviceError::Malformed { .. } => 3,
                DeviceError::Device { .. } => 4,
                DeviceError::Auth { .. } => 5,
                DeviceError::Blocked { .. } => 6,
                DeviceError::Unsupported { .. } => 7,
                DeviceError::NotSent { .. } => 8,
            };
            seen[variant] = true;
            assert_eq!(e.reason_when(Asked::Query), query, "{e}");
            assert_eq!(e.reason(), query, "{e}");
            assert_eq!(e.reason_when(Asked::Command), command, "{e} (command)");
        }
        assert!(seen.iter().all(|s| *s), "a variant has no row: {seen:?}");
    }

    #[test]
    fn only_a_refusal_of_the_method_itself_means_no_remote_path() {
        let device = |code| DeviceError::Device {
            op: "reboot",
            code,
            msg: "x".into(),
        };
        assert!(device(-1).is_unknown_method());
        assert!(device(-2).is_unknown_method());
        assert!(
            DeviceError::Unsupported {
                detail: "-1002".into()
            }
            .is_unknown_method()
        );
        assert!(
            !device(-3).is_unknown_method(),
            "invalid argument is a refusal"
        );
        assert!(
            !DeviceError::Timeout {
                op: "reboot",
                after: Duration::from_secs(1)
            }
            .is_unknown_method()
        );
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
