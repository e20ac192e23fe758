//! A simulated device's account: whose login it accepts, and the failed logins it has seen.
//!
//! A row with a `credentials` profile is bound to that account. A row without one is unbound:
//! like a device never added in the app (or factory reset), it accepts blank credentials, and
//! over KLAP also the Kasa setup default, as python-kasa expects. `auth_fail` binds the device
//! to another account; `lockout=N` refuses every login after N failures, until the simulator
//! restarts.

use crate::credentials::Credentials;

use super::JournalHandle;
use super::fault::Faults;

/// The Kasa setup login that unbound KLAP devices also accept (python-kasa's `KASA` default).
pub const KASA_SETUP: (&str, &str) = ("kasa@tp-link.net", "kasaSetup");

/// The account `auth_fail` binds a device to when its row names none.
const STRANGER: &str = "someone-else@example.com";
/// The password of the account `auth_fail` binds a device to.
const NOT_YOURS: &str = "auth_fail: another account's password";

/// Which login exchange is asking, since they accept different fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Klap,
    Aes,
    /// TPAP's SPAKE2+ login: the owner's password, or blank on an unbound device.
    Tpap,
}

#[derive(Debug, Clone)]
pub struct Account {
    /// The account the device was bound to at start; `None` for a device never bound.
    owner: Option<Credentials>,
    lockout: Option<u32>,
    failed: u32,
    /// Where failed and refused logins are written (`login_failed`, `login_refused`).
    journal: JournalHandle,
}

impl Account {
    /// The account for a row: its profile's, or another one under `auth_fail`.
    pub fn new(profile: Option<Credentials>, faults: &Faults) -> Account {
        let owner = if faults.auth_fail {
            let username = profile
                .as_ref()
                .map_or(STRANGER.to_string(), |p| p.username.clone());
            // Differs from the profile's password whatever that is.
            let password = match &profile {
                Some(p) if p.password.expose() == NOT_YOURS => format!("{NOT_YOURS}!"),
                _ => NOT_YOURS.to_string(),
            };
            Some(Credentials::new(username, password))
        } else {
            profile
        };
        Account {
            owner,
            lockout: faults.lockout,
            failed: 0,
            journal: JournalHandle::default(),
        }
    }

    /// Writes every failed and refused login to `journal`.
    pub fn with_journal(mut self, journal: JournalHandle) -> Self {
        self.journal = journal;
        self
    }

    /// Whether the device starts bound to an account.
    pub fn has_owner(&self) -> bool {
        self.owner.is_some()
    }

    /// The logins the device accepts, best first. `bound` is the device's own word: once a
    /// factory reset has unbound it, the owner's login no longer works and blank ones do.
    pub fn accepted(&self, bound: bool, login: Login) -> Vec<Credentials> {
        match (&self.owner, bound) {
            (Some(owner), true) => vec![owner.clone()],
            _ => {
                let mut logins = vec![Credentials::blank()];
                if login == Login::Klap {
                    logins.push(Credentials::new(KASA_SETUP.0, KASA_SETUP.1));
                }
                logins
            }
        }
    }

    /// Failed TPAP logins the device allows before it locks: `lockout=N`, else the firmware's
    /// [`super::tpap::DEFAULT_ALLOWANCE`].
    pub fn tpap_allowance(&self) -> u32 {
        self.lockout.unwrap_or(super::tpap::DEFAULT_ALLOWANCE)
    }

    /// Whether `lockout` has been reached: every login is refused.
    pub fn is_locked(&self) -> bool {
        self.lockout.is_some_and(|n| self.failed >= n)
    }

    /// A login with credentials the device does not accept: counted and journaled as
    /// `login_failed`.
    pub fn failed(&mut self) {
        self.failed = self.failed.saturating_add(1);
        self.journal.record("login_failed");
        tracing::info!(
            device = self.journal.device(),
            failed = self.failed,
            "login failed"
        );
    }

    /// A TPAP login that went through: journaled as `login`. The firmware's failure count
    /// starts again from 0, as `failedAttempts` does after a good login.
    pub fn tpap_logged_in(&mut self) {
        self.failed = 0;
        self.journal.record("login");
    }

    /// A TPAP discover probe, journaled as `tpap_discover`: it carries no credentials, but
    /// tests assert on every request a device saw.
    pub fn tpap_probed(&self) {
        self.journal.record("tpap_discover");
    }

    /// A login refused unheard because of `lockout`: journaled as `login_refused`, not
    /// counted.
    pub fn refused(&self) {
        self.journal.record("login_refused");
        tracing::info!(device = self.journal.device(), "login refused: locked out");
    }

    pub fn failed_logins(&self) -> u32 {
        self.failed
    }

    /// What discovery reports as `owner`: a 32-digit hash of the account, never the account.
    pub fn owner_hash(&self) -> String {
        self.owner
            .as_ref()
            .map(|o| super::model::md5_hex(&o.username))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Credentials {
        Credentials::new("owner@example.com", "pw")
    }

    #[test]
    fn a_bound_device_accepts_only_its_owner_until_a_reset_unbinds_it() {
        let a = Account::new(Some(office()), &Faults::default());
        assert!(a.has_owner());
        assert_eq!(a.accepted(true, Login::Klap), [office()]);
        let unbound = a.accepted(false, Login::Klap);
        assert_eq!(
            unbound,
            [
                Credentials::blank(),
                Credentials::new("kasa@tp-link.net", "kasaSetup")
            ]
        );
    }

    #[test]
    fn an_unbound_device_accepts_blank_and_over_klap_the_kasa_default() {
        let a = Account::new(None, &Faults::default());
        assert!(!a.has_owner());
        assert_eq!(a.accepted(false, Login::Aes), [Credentials::blank()]);
        assert_eq!(a.accepted(false, Login::Klap).len(), 2);
    }

    #[test]
    fn auth_fail_binds_the_device_to_an_account_the_profile_does_not_match() {
        let faults = Faults::parse("auth_fail").unwrap();
        let a = Account::new(Some(office()), &faults);
        let accepted = a.accepted(true, Login::Aes);
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].username, "owner@example.com");
        assert_ne!(accepted[0], office());
        let stranger = Account::new(None, &faults);
        assert!(stranger.has_owner(), "blank credentials fail too");
        assert!(
            !stranger
                .accepted(true, Login::Klap)
                .contains(&Credentials::blank())
        );
    }

    #[test]
    fn lockout_is_reached_after_n_failures() {
        let mut a = Account::new(None, &Faults::parse("lockout=2").unwrap());
        a.failed();
        assert!(!a.is_locked());
        a.refused();
        a.failed();
        assert!(a.is_locked());
        assert_eq!(a.failed_logins(), 2, "refusals are not failures");
        let mut free = Account::new(None, &Faults::default());
        (0..100).for_each(|_| free.failed());
        assert!(!free.is_locked());
    }
}
