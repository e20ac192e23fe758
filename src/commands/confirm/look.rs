//! After a technician says the work is done: one short look at the device, where the run
//! recorded it, for evidence. A device that answers gets its answer recorded as the job's post
//! snapshot; a factory-reset device that still answers bound to its account contradicts the
//! technician and is not confirmed. A device that doesn't answer is confirmed on the
//! technician's word, and the audit says so.
//!
//! The look sends only reads (the same `info` a run's probe sends), never a command. It never
//! tries an AES login the run didn't choose: AES firmware counts failed logins towards a lockout.
//! After a factory reset a camera is looked at with its unbound default login only, never the
//! account's password (see [`look`]).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::catalog::{self, Protocol};
use crate::credentials::{self, Credentials};
use crate::device::{DeviceClient, DeviceError, DeviceInfo, Link, ProtocolKind};
use crate::engine::job::verify::snapshot_data;
use crate::inert::Inert;
use crate::inventory::{Device, Host, MacAddr};
use crate::model::{Action, EventKind};
use crate::protocol::iot::transport::Timeouts;
use crate::store::{JobRow, RunRecord, Seen};

/// A device on the LAN answers in milliseconds; a technician waiting at the command line
/// shouldn't wait long for one that is gone (in setup mode, or unplugged).
const LOOK_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    request: Duration::from_secs(3),
};

/// What the look comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Confirm, with what was seen (and the device's answer, if it answered).
    Confirm { seen: Seen, post: Option<Value> },
    /// The device contradicts the technician: record the evidence, keep it `manual_required`.
    Refuse {
        address: String,
        why: String,
        post: Option<Value>,
    },
}

/// How the run reached the job's device: its `link` event, else the inventory's `protocol`
/// column or the catalog; `None` when only discovery could say.
fn chosen(
    record: &RunRecord,
    job: &JobRow,
    device: Option<&Device>,
) -> Option<(ProtocolKind, u16)> {
    let link = record.events.iter().rev().find(|e| {
        e.device_id.as_deref() == Some(job.device_id.as_str()) && e.kind == EventKind::Link
    });
    if let Some(e) = link
        && let Some(protocol) = e.detail["protocol"].as_str().and_then(|p| p.parse().ok())
        && let Some(port) = e.detail["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
        && e.detail["chosen_by"] != "unresolved"
    {
        return Some((protocol, port));
    }
    let model = job
        .model
        .as_deref()
        .map_or(catalog::UNKNOWN, catalog::lookup);
    let host: Option<Host> = job.host.parse().ok();
    let port = |p: ProtocolKind| {
        host.as_ref()
            .map_or(p.default_port(), |h| h.port_or(p.default_port()))
    };
    if let Some(p) = device.and_then(|d| crate::engine::plan::protocol_column(d, &model)) {
        return Some((p, port(p)));
    }
    crate::engine::plan::catalog_protocol(&model).map(|p| (p, port(p)))
}

/// The protocols to look with, in order: the run's choice, else the legacy protocol and then
/// SMART over KLAP (neither counts failed logins).
fn candidates(
    record: &RunRecord,
    job: &JobRow,
    device: Option<&Device>,
) -> Vec<(ProtocolKind, u16)> {
    if let Some(c) = chosen(record, job, device) {
        return vec![c];
    }
    let host: Option<Host> = job.host.parse().ok();
    [ProtocolKind::Iot, ProtocolKind::SmartKlap]
        .into_iter()
        .map(|p| {
            (
                p,
                host.as_ref()
                    .map_or(p.default_port(), |h| h.port_or(p.default_port())),
            )
        })
        .collect()
}

/// Looks at the job's device and judges the technician's confirmation by what it says.
pub async fn look(
    record: &RunRecord,
    job: &JobRow,
    device: Option<&Device>,
    store: &credentials::Store,
) -> Verdict {
    let host: Option<Host> = job.host.parse().ok();
    let cannot = |why: String| Verdict::Confirm {
        seen: Seen::CannotLook { why },
        post: None,
    };
    let Some(ip) = host.as_ref().and_then(Host::ip) else {
        return cannot(format!("{} is not an IP address", Inert(&job.host)));
    };
    let model = job
        .model
        .as_deref()
        .map_or(catalog::UNKNOWN, catalog::lookup);
    if chosen(record, job, device).is_none()
        && let Some(protocol) = unspoken(model.protocol)
    {
        return cannot(format!(
            "fleetreset doesn't speak {protocol}, the protocol of the {}",
            model.model
        ));
    }
    let credentials: Option<Credentials> = device
        .and_then(|d| d.credentials.as_deref())
        .filter(|p| !p.is_empty())
        .and_then(|p| store.get(p).ok());
    let mut silent = Vec::new();
    for (protocol, port) in candidates(record, job, device) {
        let addr = SocketAddr::new(ip, port);
        // A camera that was factory reset holds its unbound default login again: a Tapo
        // camera refuses the owner's password, so looked at with the profile the reset having
        // worked would read as a camera still bound; a Kasa camera would be sent the account's
        // password in each encoding (in plain text and base64 among them) before the default,
        // each a failed login, to whatever answers at an address a reset device may have given
        // up. So after a factory reset a camera is looked at with the default only: one still
        // set up refuses it (a Tapo camera at the first login step, by proving it holds another
        // password, so nothing that could count as a failed login is sent), and no account
        // secret leaves this host. A camera on TPAP firmware can't tell that at a first step:
        // one still set up counts the default's refusal as one failed login (of about 15), the
        // price of never putting the account's password to a device that may be another.
        let unbound_look = matches!(
            protocol,
            ProtocolKind::SslAes | ProtocolKind::CameraTpap | ProtocolKind::Linkie2
        ) && record.run.action == Action::FactoryReset;
        let mut client = DeviceClient::new(Link {
            addr,
            protocol,
            credentials: if unbound_look {
                None
            } else {
                credentials.clone()
            },
            timeouts: LOOK_TIMEOUTS,
        });
        match client.info().await {
            Ok(info) => {
                // Only a Tapo camera's default login says it is unbound: bound Kasa cameras
                // are reported to take theirs too (their `bind_status` says which).
                // A TPAP login that went through proves the password as well.
                let unbound_login = unbound_look
                    && matches!(protocol, ProtocolKind::SslAes | ProtocolKind::CameraTpap);
                return judge(record.run.action, job, addr, &info, unbound_login);
            }
            Err(e @ (DeviceError::Unreachable { .. } | DeviceError::Timeout { .. })) => {
                silent.push((addr, e));
            }
            Err(DeviceError::Auth { .. }) if unbound_look => {
                return Verdict::Refuse {
                    address: addr.to_string(),
                    why: format!(
                        "it still answers at {addr} and refuses the password an unbound camera has, so it is still set up with an account's password and was not factory reset; do it again and confirm once it has left the network or answers unbound"
                    ),
                    post: None,
                };
            }
            Err(e @ (DeviceError::Auth { .. } | DeviceError::Blocked { .. }))
                if record.run.action == Action::FactoryReset =>
            {
                // A factory-reset device takes any login until someone sets it up again: one
                // that refuses a login is still bound to an account.
                return Verdict::Refuse {
                    address: addr.to_string(),
                    why: format!(
                        "it still answers at {addr} and refuses the login ({}), so it is still bound to an account and was not factory reset; do it again and confirm once it has left the network or answers unbound",
                        Inert(&e.to_string())
                    ),
                    post: None,
                };
            }
            Err(e @ (DeviceError::Auth { .. } | DeviceError::Blocked { .. })) => {
                return Verdict::Confirm {
                    seen: Seen::Answered {
                        address: addr.to_string(),
                        bound: None,
                        detail: format!(
                            "answered at {addr} but refused the login ({})",
                            Inert(&e.to_string())
                        ),
                    },
                    post: None,
                };
            }
            Err(e) => {
                return Verdict::Confirm {
                    seen: Seen::Answered {
                        address: addr.to_string(),
                        bound: None,
                        detail: format!(
                            "something answered at {addr}, unreadably ({})",
                            Inert(&e.to_string())
                        ),
                    },
                    post: None,
                };
            }
        }
    }
    let addresses: Vec<String> = silent.iter().map(|(a, _)| a.to_string()).collect();
    let errors: Vec<String> = silent.iter().map(|(_, e)| e.to_string()).collect();
    Verdict::Confirm {
        seen: Seen::NoAnswer {
            address: addresses.join(" or "),
            error: crate::inert::inert(&errors.join("; ")).into_owned(),
        },
        post: None,
    }
}

/// The name of a catalog protocol the device client doesn't speak, `None` for one it does.
fn unspoken(protocol: Protocol) -> Option<&'static str> {
    match protocol {
        Protocol::HubChild { .. } => Some("its hub's protocol"),
        Protocol::Iot
        | Protocol::Mixed
        | Protocol::Smart
        | Protocol::Linkie2
        | Protocol::SslAes
        | Protocol::Unknown => None,
    }
}

/// The verdict on a device that answered; `unbound_login`: it took the login of an unbound
/// camera, which is the evidence of its factory defaults when it doesn't say.
fn judge(
    action: Action,
    job: &JobRow,
    addr: SocketAddr,
    info: &DeviceInfo,
    unbound_login: bool,
) -> Verdict {
    let post = Some(snapshot_data(info));
    let address = addr.to_string();
    let expected: Option<MacAddr> = job.mac.as_deref().and_then(|m| m.parse().ok());
    let reported: Option<MacAddr> = info.mac.parse().ok();
    // As the run's identity check: a MAC that doesn't read as one is not the expected one, so
    // what answered is no evidence about this device.
    if let Some(expected) = expected
        && reported != Some(expected)
    {
        let said = reported.map_or_else(
            || {
                format!(
                    "a MAC that doesn't read as one, {:?}",
                    Inert(&info.mac).to_string()
                )
            },
            |r| format!("MAC {r}"),
        );
        return Verdict::Confirm {
            seen: Seen::Answered {
                address,
                bound: info.bound,
                detail: format!(
                    "another device answers at {addr} ({said}, not {expected}); this one was not seen"
                ),
            },
            post: None,
        };
    }
    match (action, info.bound) {
        (Action::FactoryReset, Some(true)) => Verdict::Refuse {
            address,
            why: format!(
                "it still answers at {addr} bound to its cloud account, so it was not factory reset; do it again and confirm once it has left the network or answers unbound"
            ),
            post,
        },
        (Action::FactoryReset, Some(false)) => Verdict::Confirm {
            seen: Seen::Answered {
                address,
                bound: Some(false),
                detail: format!("answers at {addr} unbound (factory defaults)"),
            },
            post,
        },
        (Action::FactoryReset, None) if unbound_login => Verdict::Confirm {
            seen: Seen::Answered {
                address,
                bound: Some(false),
                detail: format!(
                    "answers at {addr} to the password of an unbound camera (factory defaults)"
                ),
            },
            post,
        },
        (Action::FactoryReset, None) => Verdict::Confirm {
            seen: Seen::Answered {
                address,
                bound: None,
                detail: format!(
                    "answers at {addr} and didn't say whether it is bound; on the technician's word"
                ),
            },
            post,
        },
        (Action::PowerCycle, bound) => Verdict::Confirm {
            seen: Seen::Answered {
                address,
                bound,
                detail: format!(
                    "answers at {addr} again as {:?}{}",
                    Inert(&info.alias).to_string(),
                    info.on_time
                        .map(|s| format!(", relay on for {s} s"))
                        .unwrap_or_default()
                ),
            },
            post,
        },
    }
}

#[cfg(test)]
mod tests;
