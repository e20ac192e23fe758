//! A device's [`Phase`] and a way to wait for it to change, kept inline in the device: an
//! atomic and a [`Notify`]. A `watch` channel would do, but costs each device an allocation of
//! its own of some 400 bytes, and a fleet may have 100,000 devices.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

use super::server::Phase;

#[derive(Debug)]
pub struct PhaseCell {
    value: AtomicU8,
    changed: Notify,
}

impl PhaseCell {
    pub fn new(phase: Phase) -> PhaseCell {
        PhaseCell {
            value: AtomicU8::new(code(phase)),
            changed: Notify::new(),
        }
    }

    pub fn get(&self) -> Phase {
        decode(self.value.load(Ordering::Acquire))
    }

    /// Moves to `next` unless the device is gone (that is final) or there already, waking
    /// every waiter. Returns whether it moved.
    pub fn set(&self, next: Phase) -> bool {
        let moved = self
            .value
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                let now = decode(now);
                (now != Phase::Gone && now != next).then_some(code(next))
            })
            .is_ok();
        if moved {
            self.changed.notify_waiters();
        }
        moved
    }

    /// Waits until the phase satisfies `pred`.
    pub async fn wait_for(&self, mut pred: impl FnMut(&Phase) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change between the two still wakes us.
            changed.as_mut().enable();
            if pred(&self.get()) {
                return;
            }
            changed.await;
        }
    }
}

fn code(phase: Phase) -> u8 {
    match phase {
        Phase::Online => 0,
        Phase::Dark => 1,
        Phase::Gone => 2,
    }
}

fn decode(code: u8) -> Phase {
    match code {
        0 => Phase::Online,
        1 => Phase::Dark,
        _ => Phase::Gone,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn gone_is_final_and_a_move_to_where_it_is_is_no_move() {
        let cell = PhaseCell::new(Phase::Online);
        assert!(!cell.set(Phase::Online));
        assert!(cell.set(Phase::Dark));
        assert_eq!(cell.get(), Phase::Dark);
        assert!(cell.set(Phase::Gone));
        assert!(!cell.set(Phase::Online));
        assert_eq!(cell.get(), Phase::Gone);
    }

    #[tokio::test]
    async fn a_waiter_wakes_on_the_change_it_waits_for_and_not_before() {
        let cell = Arc::new(PhaseCell::new(Phase::Online));
        let waiter = tokio::spawn({
            let cell = Arc::clone(&cell);
            async move { cell.wait_for(|p| *p == Phase::Online).await }
        });
        // Already true: returns at once.
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
        cell.set(Phase::Dark);
        let mut back = tokio::spawn({
            let cell = Arc::clone(&cell);
            async move { cell.wait_for(|p| *p == Phase::Online).await }
        });
        let early = tokio::time::timeout(Duration::from_millis(50), &mut back).await;
        assert!(early.is_err(), "woke while still dark");
        cell.set(Phase::Online);
        tokio::time::timeout(Duration::from_secs(1), back)
            .await
            .unwrap()
            .unwrap();
    }
}
