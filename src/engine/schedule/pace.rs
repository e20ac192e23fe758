//! The start-rate limiter: a GCRA over tokio's clock that paces starts against their ideal
//! times, not against "now plus a period".
//!
//! A timer wakes a little after the time it was set for (about a millisecond on Linux). A
//! limiter that counts the next slot from the moment it woke loses that overshoot at every
//! start and never makes it up: at 500 starts a second with a 2 ms period it reached about
//! 320. This one keeps the ideal schedule (the n-th slot is n periods after the first) as long
//! as a start is at most [`CATCH_UP`] late, so an overshoot, or a busy host's late wake-up, is
//! made up by the slots after it. A start later than that (the run was waiting for a
//! concurrency slot, or the host stalled) moves the schedule to now: time lost then is not
//! made up by a burst.
//!
//! The bound that follows: a start is never more than `CATCH_UP` late against its slot and
//! slots are a period apart, so any one second holds at most `rate × (1 s + CATCH_UP) + burst`
//! starts: with `CATCH_UP` at 20 ms, at most 2 % above the rate, plus the burst.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::Limits;

/// How late a start may be against its ideal slot and still keep the schedule: a timer's
/// overshoot (tokio's timer rounds up to the next millisecond) and a loaded host's wake-up
/// latency. 2 % of a second, so that no second ever holds more than 2 % above the rate.
pub const CATCH_UP: Duration = Duration::from_millis(20);

/// Hands out start slots at the asked rate, `burst` of them back to back at most.
#[derive(Debug)]
pub struct Pacer {
    period: Duration,
    /// How far ahead of its slot a start may go: the burst, in periods.
    ahead: Duration,
    /// The ideal time of the next slot (GCRA's theoretical arrival time); None before the
    /// first start.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        let period = (Duration::from_secs(1) / limits.rate.get()).max(Duration::from_nanos(1));
        Pacer {
            period,
            ahead: period * (limits.burst.get() - 1),
            next: Mutex::new(None),
        }
    }

    /// Takes a slot if one is free at `now`; otherwise says when the next one is. Takes
    /// nothing when it says wait, so a caller may drop its wait at any point.
    fn try_take(&self, now: Instant) -> Result<(), Instant> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next.unwrap_or(now);
        let allowed_from = slot.checked_sub(self.ahead).unwrap_or(slot);
        if now < allowed_from {
            return Err(allowed_from);
        }
        // A start at most `CATCH_UP` late keeps the ideal schedule; a later one restarts it
        // from now (less the catch-up, so the late start itself isn't counted as early).
        let floor = now.checked_sub(CATCH_UP).unwrap_or(now);
        *next = Some(slot.max(floor) + self.period);
        Ok(())
    }

    /// Waits until a slot is free and takes it. Cancel-safe: the slot is taken only in the
    /// poll that returns.
    pub async fn until_ready(&self) {
        loop {
            match self.try_take(Instant::now()) {
                Ok(()) => return,
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};

    use super::*;

    fn pacer(rate: u32, burst: u32) -> Pacer {
        Pacer::new(&Limits {
            rate: NonZeroU32::new(rate).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            concurrency: NonZeroUsize::MIN,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_a_millisecond_late_at_every_start_still_keeps_the_asked_rate() {
        // 500/s: slots 2 ms apart. Every start happens 1 ms after its slot was free, as a
        // real timer's overshoot does; governor's pacing lost that millisecond each time.
        let p = pacer(500, 1);
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..1000 {
            loop {
                match p.try_take(Instant::now()) {
                    Ok(()) => break,
                    Err(at) => tokio::time::sleep_until(at + Duration::from_millis(1)).await,
                }
            }
            starts.push(Instant::now() - t0);
        }
        // 1,000 starts at 2 ms: the last slot is at 1,998 ms, and it was taken 1 ms late.
        assert_eq!(*starts.last().unwrap(), Duration::from_millis(1999));
        assert_per_second_at_most(&starts, 500 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_stall_is_not_made_up_by_a_burst() {
        let p = pacer(100, 1);
        p.until_ready().await;
        // Blocked for a second (say every concurrency slot was taken): the next 100 slots are
        // gone, not owed.
        tokio::time::advance(Duration::from_secs(1)).await;
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..10 {
            p.until_ready().await;
            starts.push(Instant::now() - t0);
        }
        // The schedule restarts 20 ms (the catch-up) back from now: the late start and the two
        // slots within the catch-up go at once, then one each 10 ms; never the hundred slots
        // the stall skipped.
        assert_eq!(&starts[..3], &[Duration::ZERO; 3]);
        for pair in starts[2..].windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(10), "{pair:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_start_within_the_catch_up_lets_the_next_follow_sooner_but_never_two_early() {
        let p = pacer(10, 1);
        p.until_ready().await; // slot 0 at 0
        tokio::time::advance(Duration::from_millis(115)).await; // slot 1 (100 ms) taken 15 ms late
        assert!(p.try_take(Instant::now()).is_ok());
        // Slot 2 is at 200 ms: 85 ms from now, not 100.
        assert_eq!(
            p.try_take(Instant::now()),
            Err(Instant::now() + Duration::from_millis(85))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn wake_ups_up_to_the_catch_up_late_keep_the_rate_and_no_second_goes_2_percent_over() {
        // 500/s; each wake-up lands 0 to 19 ms after its slot (a loaded host), in a fixed
        // pseudo-random pattern. The starts keep the rate and no second holds more than 511.
        let p = pacer(500, 1);
        let t0 = Instant::now();
        let mut starts = Vec::new();
        let mut late = 7u64;
        for _ in 0..5000 {
            loop {
                match p.try_take(Instant::now()) {
                    Ok(()) => break,
                    Err(at) => {
                        late = (late * 1103515245 + 12345) % (1 << 31);
                        tokio::time::sleep_until(at + Duration::from_millis(late % 20)).await
                    }
                }
            }
            starts.push(Instant::now() - t0);
        }
        // 5,000 slots 2 ms apart end at 9,998 ms; the last was taken under 20 ms late.
        assert!(
            *starts.last().unwrap() < Duration::from_millis(9998 + 20),
            "{:?}",
            starts.last()
        );
        assert_per_second_at_most(&starts, 511);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_three_goes_at_once_then_one_per_period() {
        let p = pacer(2, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(p.try_take(now).is_ok());
        }
        assert_eq!(p.try_take(now), Err(now + Duration::from_millis(500)));
    }

    fn assert_per_second_at_most(starts: &[Duration], most: usize) {
        for (i, s) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .take_while(|t| **t < *s + Duration::from_secs(1))
                .count();
            assert!(within <= most, "{within} starts in the second from {s:?}");
        }
    }
}
