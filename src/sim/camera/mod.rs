//! Simulated cameras and doorbells, served over HTTPS with a certificate the simulator makes:
//! Tapo models over SslAes ([`tapo`]), Kasa models over LINKIE2 ([`kasa`]), their answers
//! from captures ([`profile`]), TLS in [`tls`] and the HTTPS side in [`serve`].
//!
//! A camera reboots with its own method (`rebootDevice` / `set_reboot`), journaled `reboot`
//! like every device's, then goes dark for its catalog boot time. It has no factory reset: no
//! source shows one, so it answers as for any method it doesn't have. A bound camera (its row
//! names `credentials`) accepts only that account's password; an unbound one its default.
//! Failed logins count towards `lockout`, after which every login is refused.

pub mod kasa;
pub mod profile;
pub mod serve;
pub mod tapo;
pub mod tls;
mod tpap;

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

use super::JournalHandle;
use super::fault::Faults;
use super::state::Identity;
use super::tpap::TpapSessions;
pub use profile::{CameraKind, CameraProfile};

/// Delay (device seconds) before a camera goes dark after acknowledging a reboot: long enough
/// for the reply to get out, as [`crate::device::COMMAND_DELAY_SECS`] is for plugs.
pub const REBOOT_DELAY_SECS: u64 = 1;

/// One HTTPS request, as much as a camera looks at.
#[derive(Debug, Clone, Copy)]
pub struct CamHttpRequest<'a> {
    pub path: &'a str,
    /// `Seq`, `Tapo_tag` and `Authorization`, as sent.
    pub seq: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// One simulated camera's state.
#[derive(Debug)]
pub struct CameraState {
    pub profile: CameraProfile,
    identity: Identity,
    faults: Faults,
    bound: bool,
    journal: JournalHandle,
    boots: u32,
    booted_at: Instant,
    scale: f64,
    /// Tapo: handshake-1 nonces by client nonce, and sessions by `stok`.
    pending: HashMap<String, String>,
    sessions: HashMap<String, tapo::Session>,
    /// TPAP firmware's login and sessions, instead of SslAes's ([`tpap`]).
    tpap: Option<TpapSessions>,
}

impl CameraState {
    pub fn new(
        profile: CameraProfile,
        identity: Identity,
        faults: Faults,
        bound: bool,
        scale: f64,
        now: Instant,
    ) -> CameraState {
        CameraState {
            identity,
            faults,
            bound,
            journal: JournalHandle::default(),
            boots: 0,
            booted_at: now,
            scale,
            tpap: profile.tpap.then(TpapSessions::default),
            profile,
            pending: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    pub fn with_journal(mut self, journal: JournalHandle) -> Self {
        self.journal = journal;
        self
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn is_bound(&self) -> bool {
        self.bound
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The camera came back from a reboot: its sessions died with the old boot.
    pub fn booted(&mut self, now: Instant) {
        self.boots += 1;
        self.booted_at = now;
        self.pending.clear();
        self.sessions.clear();
        if let Some(t) = &mut self.tpap {
            t.clear();
        }
    }

    /// The MAC it reports: the row's, or a `mac` fault's (a different device at the address).
    pub fn mac(&self) -> crate::inventory::MacAddr {
        self.faults.mac.unwrap_or(self.identity.mac)
    }

    /// A reboot the camera accepted: journaled; `None` under `reboot_ignored`.
    fn reboot(&self) -> Option<super::state::Effect> {
        self.journal.record("reboot");
        (!self.faults.reboot_ignored).then_some(super::state::Effect::Reboot {
            delay: REBOOT_DELAY_SECS,
        })
    }

    /// The UDP 20002 discovery result of a Tapo camera (Kasa cameras answer there nothing).
    pub fn discovery_result(&self, ip: std::net::IpAddr, port: u16) -> Option<Value> {
        match self.profile.kind {
            CameraKind::Tapo => Some(tapo::discovery(self, ip, port)),
            CameraKind::Kasa => None,
        }
    }
}

/// Seals a Tapo camera's discovery `encrypt_info` to the probe's key ([`tapo::seal_encrypt_info`]).
pub fn seal_discovery(dev: &super::server::SimDevice, result: &mut Value, probe: &[u8]) {
    let state = dev.lock();
    if let super::model::Model::Camera(cam) = &state.model
        && cam.profile.kind == CameraKind::Tapo
    {
        tapo::seal_encrypt_info(result, cam, probe, &mut rand::thread_rng());
    }
}

#[cfg(test)]
mod tests;
