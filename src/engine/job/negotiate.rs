//! KLAP or TPAP, and the TPAP login gate.
//!
//! Discovery's word on a SMART device's login is not always the device's: firmware that moved
//! to TPAP refuses KLAP's handshake 1 with HTTP 403, and some KP125M firmware announces TPAP
//! in discovery yet answers the TPAP discover probe without a `tpap` object and serves KLAP.
//! When discovery chose the protocol (never when the inventory did), the device's own discover
//! probe settles it: one switch per job, recorded as a second `link` event
//! (`chosen_by: "tpap_probe"`). Neither failure cost the device a login: KLAP's handshake 1
//! carries no credentials, and the probe is no login.
//!
//! The gate: TPAP devices lock after about 15 failed logins, and each refusal says how many
//! remain. A device whose last refusal (in any earlier run in this database, with no login
//! since) left [`LOW_REMAINING_LOGINS`] or fewer, or that was locked, is not tried: its job
//! ends `auth_failed` with nothing sent, until `--force-login`.

use std::net::SocketAddr;

use serde_json::json;

use super::{Ctx, Fail};
use crate::device::{DeviceClient, DeviceError, ProtocolKind};
use crate::model::{EventKind, Reason};
use crate::protocol::tpap::messages::Discovered;
use crate::protocol::tpap::session::{self, Probed};
use crate::store::{LoginRefusal, StoreError};

/// A device that reported this many TPAP logins left, or fewer, is not tried again without
/// `--force-login`: about a third of the 15 the firmware allows, enough for a person to fix
/// the password and still get in, too few to spend on a guess.
pub const LOW_REMAINING_LOGINS: u64 = 5;

/// A job's device's last TPAP login refusal, when it matters before a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginGate {
    pub refusal: LoginRefusal,
    /// `--force-login`: the login is tried anyway, and the job says so.
    pub forced: bool,
}

impl LoginGate {
    /// The gate for `refusal`, if it left the device few logins (or locked it).
    pub fn of(refusal: LoginRefusal, forced: bool) -> Option<LoginGate> {
        let low = refusal.locked_minute.is_some_and(|m| m > 0)
            || refusal
                .remain_attempts
                .is_some_and(|n| n <= LOW_REMAINING_LOGINS);
        low.then_some(LoginGate { refusal, forced })
    }

    /// The device's last refusal, in words.
    pub fn describe(&self) -> String {
        let r = &self.refusal;
        let left = match (r.remain_attempts, r.locked_minute) {
            (_, Some(m)) if m > 0 => format!("was locked for {m} minutes"),
            (Some(n), _) => format!("allowed {n} more logins before it locks"),
            (None, _) => "reported no counters".into(),
        };
        format!(
            "its last TPAP login (run {}, {}) was refused and it {left}",
            r.run_id,
            r.at.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}

/// The other login to try, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub to: ProtocolKind,
    pub why: String,
}

impl Ctx<'_> {
    /// After the first probe on `client` failed with `e`: the other of KLAP and TPAP, when the
    /// link came from discovery and the device says it speaks that one.
    pub(super) async fn other_login(
        &self,
        client: &DeviceClient,
        e: &DeviceError,
    ) -> Option<Switch> {
        if self.job.link.source != "discovery" {
            return None;
        }
        match client.protocol() {
            ProtocolKind::SmartKlap if client.klap_forbidden() => {
                let addr = client.addr();
                match session::probe(addr, self.config().timeouts).await {
                    Ok(Discovered::Tpap(_) | Discovered::Locked(_)) => Some(Switch {
                        to: ProtocolKind::SmartTpap,
                        why: format!(
                            "discovery announced KLAP, but the device refused KLAP ({e}) and its discover probe announces TPAP"
                        ),
                    }),
                    _ => None,
                }
            }
            ProtocolKind::SmartTpap
                if client.tpap().and_then(|t| t.probed()) == Some(Probed::NotTpap) =>
            {
                Some(Switch {
                    to: ProtocolKind::SmartKlap,
                    why: "discovery announced TPAP, but the device's discover probe answers without a tpap object (firmware that prefers KLAP)".into(),
                })
            }
            _ => None,
        }
    }

    /// The detail of the job's `login_attempt`: what `--force-login` let it past, if anything.
    pub(super) fn login_attempt_detail(&self) -> serde_json::Value {
        match &self.job.link.login_gate {
            Some(gate) if gate.forced && self.protocol.is_tpap() => json!({
                "forced_past": gate.refusal,
                "detail": format!("--force-login: {}", gate.describe()),
            }),
            _ => json!({}),
        }
    }

    /// Records `switch` as the job's link from now on.
    pub(super) async fn switch_login(
        &mut self,
        switch: &Switch,
        addr: SocketAddr,
    ) -> Result<(), StoreError> {
        self.protocol = switch.to;
        self.event(
            EventKind::Link,
            json!({
                "protocol": switch.to.as_str(),
                "chosen_by": "tpap_probe",
                "port": addr.port(),
                "moved_from": self.job.link.moved_from,
                "credentials_profile": self.job.device.credentials,
                "because": switch.why,
            }),
        )
        .await
    }

    /// Before a TPAP login: the job's failure if the device's last refusal left it too few
    /// logins, recorded as a refused login (so `resume` doesn't try it either). `None` for
    /// other protocols, for devices with attempts to spare, and with `--force-login`.
    pub(super) async fn login_gate(&mut self) -> Result<Option<Fail>, StoreError> {
        let Some(gate) = &self.job.link.login_gate else {
            return Ok(None);
        };
        if !self.protocol.is_tpap() {
            return Ok(None);
        }
        if gate.forced {
            // Tried: the `login_attempt` says so ([`Ctx::login_attempt_detail`]).
            return Ok(None);
        }
        let why = format!(
            "not tried: {}; fleetreset does not spend a device's last {LOW_REMAINING_LOGINS} TPAP logins on a password it refused. Check the credentials profile, then run again with --force-login",
            gate.describe()
        );
        let event = self.event_record(
            None,
            EventKind::ProbeFailed,
            json!({ "reason": Reason::AuthFailed, "detail": why, "gated": true }),
        );
        self.env.writer.record_durable(event).await?;
        self.gated = true;
        Ok(Some(Fail(Reason::AuthFailed, why)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(remain: Option<u64>, locked: Option<u64>) -> LoginRefusal {
        LoginRefusal {
            run_id: "20261201T000000Z-0001".into(),
            device_id: "plug".into(),
            at: "2026-12-01T00:00:00Z".parse().unwrap(),
            remain_attempts: remain,
            locked_minute: locked,
        }
    }

    #[test]
    fn the_gate_holds_at_the_threshold_and_below_and_for_a_lock_only() {
        let gated = |remain, locked| LoginGate::of(refusal(remain, locked), false).is_some();
        assert!(gated(Some(LOW_REMAINING_LOGINS), Some(0)));
        assert!(gated(Some(0), None));
        assert!(!gated(Some(LOW_REMAINING_LOGINS + 1), Some(0)));
        assert!(gated(Some(14), Some(30)), "locked, whatever it counts");
        assert!(!gated(None, None), "no counters: nothing to go by");
        let g = LoginGate::of(refusal(Some(3), Some(0)), true).unwrap();
        assert!(g.forced);
        assert_eq!(
            g.describe(),
            "its last TPAP login (run 20261201T000000Z-0001, 2026-12-01T00:00:00Z) was refused and it allowed 3 more logins before it locks"
        );
    }
}
