//! One relay (a plug's, or a strip outlet's) and its on-time, which runs in device time.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Relay {
    pub on: bool,
    /// Device seconds the relay had been on at `since`.
    base: u64,
    since: Instant,
}

impl Relay {
    /// A relay as a capture found it: on for `captured_on_time` seconds, or off.
    pub fn new(on: bool, captured_on_time: u64, now: Instant) -> Relay {
        Relay {
            on,
            base: if on { captured_on_time } else { 0 },
            since: now,
        }
    }

    /// Device seconds since the relay was switched on (or the device booted); 0 when off.
    /// `scale` is real seconds per device second.
    pub fn on_time(&self, now: Instant, scale: f64) -> u64 {
        if !self.on {
            return 0;
        }
        let elapsed = now.saturating_duration_since(self.since).as_secs_f64() / scale;
        self.base + elapsed as u64
    }

    /// Switches; switching to the state it is already in changes nothing, as on real plugs.
    pub fn set(&mut self, on: bool, now: Instant) {
        if on != self.on {
            *self = Relay {
                on,
                base: 0,
                since: now,
            };
        }
    }

    /// The device booted: the state is kept, the on-time starts again.
    pub fn restart(&mut self, now: Instant) {
        self.base = 0;
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn on_time_runs_in_device_time_and_restarts_on_switching_or_booting() {
        let t0 = Instant::now();
        let mut r = Relay::new(true, 100, t0);
        // At scale 0.01 one real second is 100 device seconds.
        assert_eq!(r.on_time(t0 + Duration::from_secs(1), 0.01), 200);
        r.set(true, t0 + Duration::from_secs(1));
        assert_eq!(
            r.on_time(t0 + Duration::from_secs(1), 0.01),
            200,
            "no change"
        );
        r.restart(t0 + Duration::from_secs(2));
        assert_eq!(r.on_time(t0 + Duration::from_secs(2), 0.01), 0);
        r.set(false, t0 + Duration::from_secs(3));
        assert_eq!(r.on_time(t0 + Duration::from_secs(9), 0.01), 0);
        assert_eq!(Relay::new(false, 500, t0).on_time(t0, 1.0), 0);
    }
}
