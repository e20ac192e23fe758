//! The host's own clock for decisions that span processes: the kernel's boot clock, read with
//! the boot it belongs to.
//!
//! A run records the intent to send a command; after a crash, `resume` (another process) must
//! know how long ago that was. Wall-clock timestamps can't tell it: NTP steps, a wrong RTC or a
//! person setting the date move them by hours, and a run with the clock two hours ahead then
//! looks like it happened in the future (or long ago), which once caused double reboots and
//! false successes. `CLOCK_BOOTTIME` counts from the kernel's start, never jumps, includes
//! time suspended, and is the same clock for every process of one boot. Across a reboot of the
//! host it starts again from zero, so each reading carries the kernel's boot id
//! (`/proc/sys/kernel/random/boot_id`, random per boot): two readings are comparable only when
//! their boot ids agree.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the kernel publishes the id of the current boot.
const BOOT_ID_FILE: &str = "/proc/sys/kernel/random/boot_id";

/// One reading of the host's boot clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMark {
    /// The kernel's boot id; `None` where the host doesn't publish one (then no two readings
    /// are comparable).
    pub boot_id: Option<String>,
    /// Milliseconds on `CLOCK_BOOTTIME`.
    pub boottime_ms: u64,
}

impl HostMark {
    /// The host's clock now.
    pub fn now() -> HostMark {
        HostMark {
            boot_id: boot_id(),
            boottime_ms: boottime_ms(),
        }
    }

    /// Real time from `self` to `later`, when both readings come from the same boot of the
    /// same host and `later` is not before `self`. `None` means unknown: the host rebooted in
    /// between, a boot id is missing, or the readings are impossible (which a tampered or
    /// foreign record could give).
    pub fn until(&self, later: &HostMark) -> Option<Duration> {
        match (&self.boot_id, &later.boot_id) {
            (Some(a), Some(b)) if a == b => later
                .boottime_ms
                .checked_sub(self.boottime_ms)
                .map(Duration::from_millis),
            _ => None,
        }
    }
}

/// The boot id, trimmed; `None` if unreadable or empty. Read once per process: a process
/// can't outlive the boot it started in, and a job takes several readings.
fn boot_id() -> Option<String> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(read_boot_id).clone()
}

fn read_boot_id() -> Option<String> {
    let text = std::fs::read_to_string(BOOT_ID_FILE).ok()?;
    let id = text.trim();
    (!id.is_empty() && id.len() <= 64).then(|| id.to_owned())
}

#[cfg(target_os = "linux")]
fn boottime_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes through it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

/// Elsewhere there is no boot id either, so readings are never compared; any value will do.
#[cfg(not(target_os = "linux"))]
fn boottime_ms() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(boot: Option<&str>, ms: u64) -> HostMark {
        HostMark {
            boot_id: boot.map(str::to_owned),
            boottime_ms: ms,
        }
    }

    #[test]
    fn readings_of_one_boot_give_the_time_between_them() {
        let a = mark(Some("b1"), 10_000);
        assert_eq!(
            a.until(&mark(Some("b1"), 70_500)),
            Some(Duration::from_millis(60_500))
        );
        assert_eq!(a.until(&a), Some(Duration::ZERO));
    }

    #[test]
    fn readings_across_a_host_reboot_or_without_a_boot_id_are_not_comparable() {
        let a = mark(Some("b1"), 10_000);
        assert_eq!(a.until(&mark(Some("b2"), 90_000)), None);
        assert_eq!(a.until(&mark(None, 90_000)), None);
        assert_eq!(mark(None, 1).until(&mark(None, 2)), None);
    }

    #[test]
    fn a_later_reading_that_is_smaller_is_impossible_and_so_unknown() {
        assert_eq!(
            mark(Some("b1"), 10_000).until(&mark(Some("b1"), 9_999)),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_clock_of_this_host_has_a_boot_id_and_does_not_go_back() {
        let a = HostMark::now();
        std::thread::sleep(Duration::from_millis(20));
        let b = HostMark::now();
        assert!(a.boot_id.is_some(), "{a:?}");
        let gap = a.until(&b).expect("one boot");
        assert!(gap >= Duration::from_millis(19), "{gap:?}");
    }

    #[test]
    fn a_mark_round_trips_through_json() {
        let m = mark(Some("4c1e"), 123);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"boot_id":"4c1e","boottime_ms":123}"#);
        assert_eq!(serde_json::from_str::<HostMark>(&text).unwrap(), m);
    }
}
