//! Shutdown is an object passed in. `main` feeds it Ctrl-C and SIGTERM; tests feed it by hand.
//!
//! The first signal stops new jobs from starting and gives the jobs in flight a grace period;
//! the second ends them at once, leaving their recorded intents for `fleetreset resume`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use crate::store::Timestamp;

/// The first signal: its name (`SIGINT`) and when it arrived, for the audit.
type First = Arc<OnceLock<(&'static str, Timestamp)>>;

/// Set while the command asks a question and answers a signal itself (the factory-reset
/// confirmation): the listener then says nothing of stopping jobs, since none has started.
type Asking = Arc<AtomicBool>;

/// Counts the signals received so far.
#[derive(Debug, Clone)]
pub struct Signals {
    rx: watch::Receiver<u32>,
    first: First,
    asking: Asking,
}

/// The sending side, kept by whoever listens for signals.
#[derive(Debug)]
pub struct SignalSender {
    tx: watch::Sender<u32>,
    first: First,
    asking: Asking,
}

/// A pair: the sender for the listener, the receiver for the run.
pub fn channel() -> (SignalSender, Signals) {
    let (tx, rx) = watch::channel(0);
    let first = First::default();
    let asking = Asking::default();
    (
        SignalSender {
            tx,
            first: Arc::clone(&first),
            asking: Arc::clone(&asking),
        },
        Signals { rx, first, asking },
    )
}

impl SignalSender {
    /// Records one more signal.
    pub fn signal(&self) {
        self.tx.send_modify(|n| *n += 1);
    }

    /// Records one more signal, named (`SIGINT`, `SIGTERM`) for the audit.
    pub fn signal_named(&self, name: &'static str) {
        // Only the first is kept: it is the one that stopped the run.
        let _ = self.first.set((name, chrono::Utc::now()));
        self.signal();
    }

    /// How many signals so far.
    pub fn count(&self) -> u32 {
        *self.tx.borrow()
    }

    /// Whether the command is asking a question and answers signals itself
    /// ([`Signals::asking`]).
    pub fn command_is_asking(&self) -> bool {
        self.asking.load(Ordering::SeqCst)
    }
}

impl Signals {
    /// Signals that never come, for runs nobody can interrupt (tests, the demo's own checks).
    pub fn never() -> Signals {
        let (tx, rx) = watch::channel(0);
        // Leaking one tiny sender keeps the channel open for the life of the process.
        std::mem::forget(tx);
        Signals {
            rx,
            first: First::default(),
            asking: Asking::default(),
        }
    }

    /// Marks the command as asking a question (`true`) or done asking (`false`): while it
    /// asks, a signal ends the question and the command says so itself.
    pub fn asking(&self, asking: bool) {
        self.asking.store(asking, Ordering::SeqCst);
    }

    /// The first signal's name and when it came, if it was named ([`SignalSender::signal_named`]).
    pub fn first(&self) -> Option<(&'static str, Timestamp)> {
        self.first.get().copied()
    }

    /// Resolves once at least `n` signals have arrived (at once if they already have). If the
    /// sender is gone, no further signal can come: it never resolves.
    pub async fn at_least(&self, n: u32) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|c| *c >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn received(&self) -> u32 {
        *self.rx.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_first_and_second_signal_resolve_in_turn() {
        let (tx, signals) = channel();
        let first = tokio::time::timeout(Duration::from_secs(1), signals.at_least(1));
        assert!(first.await.is_err(), "no signal yet");
        tx.signal();
        signals.at_least(1).await;
        assert!(
            tokio::time::timeout(Duration::from_secs(1), signals.at_least(2))
                .await
                .is_err()
        );
        tx.signal();
        signals.at_least(2).await;
        assert_eq!(signals.received(), 2);
        assert_eq!(tx.count(), 2);
        assert_eq!(signals.first(), None);
    }

    #[tokio::test]
    async fn the_first_named_signal_is_the_one_remembered() {
        let (tx, signals) = channel();
        tx.signal_named("SIGTERM");
        tx.signal_named("SIGINT");
        assert_eq!(signals.received(), 2);
        assert_eq!(signals.first().map(|(name, _)| name), Some("SIGTERM"));
    }

    #[tokio::test(start_paused = true)]
    async fn never_never_resolves() {
        let signals = Signals::never();
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), signals.at_least(1))
                .await
                .is_err()
        );
    }
}
