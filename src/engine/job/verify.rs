//! Did the command have its effect? A power cycle: the device went away and came back with
//! its settings. A factory reset: it left the network, or reports factory defaults.
//!
//! Every wait here is on tokio's monotonic clock within this process; nothing compares wall
//! clock times.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::device::DeviceInfo;
use crate::model::{EventKind, Reason};
use crate::store::{SnapshotPhase, StoreError};

use super::super::config::{AWAY_BUDGET, BOOT_BUDGET_FACTOR, LEAVE_BUDGET, POLL_INTERVAL};
use super::command::command_delay;
use super::{Ctx, Fail, Probe, Verdict};

/// The settings a power cycle must keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub alias: String,
    pub relay_on: Option<bool>,
    /// Each outlet's state, in the device's order.
    pub outlets: Vec<Option<bool>>,
}

impl Settings {
    pub fn of(info: &DeviceInfo) -> Settings {
        Settings {
            alias: info.alias.clone(),
            relay_on: info.relay_on,
            outlets: info.children.iter().map(|c| c.on).collect(),
        }
    }

    /// Names the first setting that differs in `now`.
    pub fn changed_in(&self, now: &Settings) -> Option<String> {
        if self.alias != now.alias {
            return Some(format!(
                "its alias changed from {:?} to {:?}",
                self.alias, now.alias
            ));
        }
        if self.relay_on != now.relay_on {
            return Some(format!(
                "its relay changed from {:?} to {:?}",
                self.relay_on, now.relay_on
            ));
        }
        if self.outlets != now.outlets {
            return Some(format!(
                "its outlet states changed from {:?} to {:?}",
                self.outlets, now.outlets
            ));
        }
        None
    }
}

/// How long to wait before the next look at a dark device expected back at `expected`: half
/// the time left until then, and never less than one poll interval. Looks land at a half, three
/// quarters, seven eighths… of the boot time, then once a poll interval: a device back early is
/// seen within half the time it took, one back late within a poll interval.
pub(super) fn look_gap(
    now: Instant,
    expected: Instant,
    poll: std::time::Duration,
) -> std::time::Duration {
    (expected.saturating_duration_since(now) / 2).max(poll)
}

impl Ctx<'_> {
    pub(super) async fn verify_power_cycle(
        &self,
        addr: SocketAddr,
        pre: &Probe,
        sent_at: Instant,
    ) -> Result<Verdict, StoreError> {
        let cfg = self.config();
        let poll = cfg.scaled(POLL_INTERVAL);
        let away_deadline = sent_at + cfg.scaled(command_delay() + AWAY_BUDGET);

        // First it must go away, or be seen back with its on-time restarted (a fast reboot
        // between two looks).
        let mut went_away = None;
        let mut back = None;
        while went_away.is_none() && back.is_none() {
            tokio::time::sleep(poll).await;
            match self.look(addr).await {
                None => went_away = Some(sent_at.elapsed()),
                Some(p)
                    if on_time_restarted(
                        &pre.info,
                        &p.info,
                        cfg.device_secs(sent_at.elapsed()),
                    ) =>
                {
                    back = Some(p)
                }
                Some(_) if Instant::now() >= away_deadline => {
                    return Ok(Err(Fail(
                        Reason::NotVerified,
                        format!(
                            "the device kept answering for {:.0} s with no sign of a reboot",
                            cfg.device_secs(sent_at.elapsed())
                        ),
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(after) = went_away {
            self.event(
                EventKind::WentAway,
                json!({ "after_s": cfg.device_secs(after) }),
            )
            .await?;
        }

        let post = match back {
            Some(p) => p,
            None => match self.wait_back(addr, Instant::now()).await {
                Some(p) => p,
                None => return Ok(Err(self.not_back("it went away"))),
            },
        };
        let back_after = cfg.device_secs(sent_at.elapsed());
        self.event(EventKind::CameBack, json!({ "after_s": back_after }))
            .await?;
        self.snapshot(SnapshotPhase::Post, &post).await?;

        if let Some(change) = Settings::of(&pre.info).changed_in(&Settings::of(&post.info)) {
            return Ok(Err(Fail(
                Reason::NotVerified,
                format!("it rebooted but came back with {change}"),
            )));
        }
        let restarted = on_time_restarted(&pre.info, &post.info, back_after);
        if went_away.is_none() && !restarted {
            return Ok(Err(Fail(
                Reason::NotVerified,
                "no evidence of a reboot".into(),
            )));
        }
        let mut detail = format!("back after {back_after:.0} s with alias and relay state kept");
        if restarted {
            detail.push_str(", on-time restarted");
        }
        Ok(Ok(detail))
    }

    /// The failure of a device that did not come back within its boot budget.
    pub(super) fn not_back(&self, what: &str) -> Fail {
        Fail(
            Reason::Timeout,
            format!(
                "{what} and did not come back within {} s; check it on site",
                (self.job.model.boot_time * BOOT_BUDGET_FACTOR).as_secs()
            ),
        )
    }

    /// Waits, from `from` (when the device went dark or its power came back), up to the boot
    /// budget for the device to answer again. The looks close in on the catalog's boot time,
    /// halving the time left to it ([`look_gap`]), so a device dark for its whole boot costs a
    /// handful of connection attempts, not one per poll interval.
    pub(super) async fn wait_back(&self, addr: SocketAddr, from: Instant) -> Option<Probe> {
        let cfg = self.config();
        let deadline = from + cfg.scaled(self.job.model.boot_time * BOOT_BUDGET_FACTOR);
        let expected = from + cfg.scaled(self.job.model.boot_time);
        let poll = cfg.scaled(POLL_INTERVAL);
        loop {
            tokio::time::sleep(look_gap(Instant::now(), expected, poll)).await;
            if let Some(p) = self.look(addr).await {
                return Some(p);
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    pub(super) async fn verify_factory_reset(
        &self,
        addr: SocketAddr,
        pre: &Probe,
        sent_at: Instant,
    ) -> Result<Verdict, StoreError> {
        let cfg = self.config();
        let poll = cfg.scaled(POLL_INTERVAL);
        let deadline = sent_at + cfg.scaled(command_delay() + LEAVE_BUDGET);
        // Two missed looks in a row: one could be a dropped packet.
        let mut misses = 0;
        loop {
            tokio::time::sleep(poll).await;
            match self.look(addr).await {
                None => {
                    misses += 1;
                    if misses == 2 {
                        let after = cfg.device_secs(sent_at.elapsed());
                        self.event(EventKind::LeftNetwork, json!({ "after_s": after }))
                            .await?;
                        return Ok(Ok(format!("left the network within {after:.0} s")));
                    }
                }
                Some(p) => {
                    misses = 0;
                    if Instant::now() < deadline {
                        continue;
                    }
                    self.snapshot(SnapshotPhase::Post, &p).await?;
                    return Ok(still_there(&pre.info, &p.info));
                }
            }
        }
    }
}

/// The verdict on a factory-reset device still answering after the leave budget: it was bound
/// to an account before and is not now, or nothing shows the reset. Unbound alone proves
/// nothing for a device that was never bound.
fn still_there(pre: &DeviceInfo, now: &DeviceInfo) -> Verdict {
    match (pre.bound, now.bound) {
        (Some(true), Some(false)) => Ok(
            "still on the network, but reports factory defaults (no longer bound to an account)"
                .into(),
        ),
        (Some(true), _) => Err(Fail(
            Reason::NotVerified,
            format!(
                "still on the network and still bound to an account {} s after the reset",
                LEAVE_BUDGET.as_secs()
            ),
        )),
        _ => Err(Fail(
            Reason::NotVerified,
            format!(
                "still on the network {} s after the reset, and it was not bound to an account before either, so nothing shows it was reset",
                LEAVE_BUDGET.as_secs()
            ),
        )),
    }
}

/// What a snapshot stores: the device's own answers as they came, and the protocol-neutral
/// summary the reports read.
pub fn snapshot_data(info: &DeviceInfo) -> Value {
    json!({
        "sysinfo": info.raw,
        "cloud": info.cloud_raw,
        "summary": {
            "model": info.model,
            "alias": info.alias,
            "mac": info.mac,
            "device_id": info.device_id,
            "kind": info.kind,
            "relay_on": info.relay_on,
            "on_time": info.on_time,
            "bound": info.bound,
        },
    })
}

/// Whether the relay on-time shows a restart: it was on before and after, and now counts fewer
/// seconds than have passed since the command. Without a restart, on-time now would be its
/// value at the probe plus the time since, which is more than the time since the command.
pub(super) fn on_time_restarted(
    pre: &DeviceInfo,
    post: &DeviceInfo,
    secs_since_command: f64,
) -> bool {
    let plug = match post.on_time {
        Some(after) => {
            pre.relay_on == Some(true)
                && post.relay_on == Some(true)
                && pre.on_time.is_some()
                && (after as f64) < secs_since_command
        }
        None => false,
    };
    let outlets =
        pre.children
            .iter()
            .zip(&post.children)
            .any(|(a, b)| match (a.on_time, b.on_time) {
                (Some(_), Some(after)) => {
                    a.on == Some(true) && b.on == Some(true) && (after as f64) < secs_since_command
                }
                _ => false,
            });
    plug || outlets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_at_a_dark_device_close_in_on_its_boot_time_then_come_once_a_poll() {
        let poll = std::time::Duration::from_secs(1);
        let from = Instant::now();
        let expected = from + std::time::Duration::from_secs(60);
        let mut now = from;
        let mut looks = Vec::new();
        while now < expected + std::time::Duration::from_secs(3) {
            now += look_gap(now, expected, poll);
            looks.push((now - from).as_secs_f64());
        }
        // 30, 45, 52.5, 56.25, 58.125, 59.06, 60.06 (a poll at most late), then each second.
        assert_eq!(&looks[..4], &[30.0, 45.0, 52.5, 56.25]);
        let before: Vec<_> = looks.iter().filter(|t| **t < 60.0).collect();
        assert_eq!(before.len(), 6, "{looks:?}");
        let after: Vec<_> = looks.iter().filter(|t| **t >= 60.0).collect();
        assert!(*after[0] <= 61.0, "{looks:?}");
        for pair in after.windows(2) {
            assert!((pair[1] - pair[0] - 1.0).abs() < 1e-9, "{looks:?}");
        }
    }

    fn info(alias: &str, relay_on: Option<bool>) -> DeviceInfo {
        DeviceInfo {
            model: "HS110".into(),
            alias: alias.into(),
            mac: "m".into(),
            device_id: "d".into(),
            kind: "k".into(),
            relay_on,
            on_time: Some(10),
            children: vec![],
            bound: Some(true),
            raw: json!({}),
            cloud_raw: None,
        }
    }

    #[test]
    fn settings_name_the_first_one_that_changed() {
        let pre = Settings::of(&info("Lobby", Some(true)));
        assert_eq!(
            pre.changed_in(&Settings::of(&info("Lobby", Some(true)))),
            None
        );
        let alias = pre.changed_in(&Settings::of(&info("TP-LINK_Smart Plug", Some(false))));
        assert!(alias.unwrap().starts_with("its alias changed"));
        let relay = pre.changed_in(&Settings::of(&info("Lobby", Some(false))));
        assert!(relay.unwrap().starts_with("its relay changed"));
    }

    #[test]
    fn a_reset_device_still_there_succeeded_only_if_it_was_bound_and_is_not_now() {
        let bound = |b: Option<bool>| DeviceInfo {
            bound: b,
            ..info("a", Some(true))
        };
        assert!(still_there(&bound(Some(true)), &bound(Some(false))).is_ok());
        for (before, after) in [
            (Some(true), Some(true)),
            (Some(true), None),
            (Some(false), Some(false)),
            (None, Some(false)),
        ] {
            let v = still_there(&bound(before), &bound(after));
            assert!(
                matches!(&v, Err(Fail(Reason::NotVerified, _))),
                "{before:?} -> {after:?}: {v:?}"
            );
        }
    }

    #[test]
    fn an_on_time_below_the_time_since_the_command_is_a_restart() {
        let pre = info("a", Some(true));
        let mut post = info("a", Some(true));
        post.on_time = Some(3);
        assert!(on_time_restarted(&pre, &post, 5.0));
        assert!(!on_time_restarted(&pre, &post, 2.0));
        post.relay_on = Some(false);
        assert!(!on_time_restarted(&pre, &post, 5.0));
    }
}
