//! The scheduler: starts jobs under a strict rate limit and a concurrency cap, and collects
//! their results. It owns every limit; a job never spawns work of its own.
//!
//! The rate limiter reads tokio's clock, so tests under `tokio::time::pause()` prove the limits
//! deterministically.

use std::collections::VecDeque;
use std::future::Future;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Jobs started per second by default. python-kasa's authors report trouble when many
/// connections open and close at once, and a consumer access point has to re-associate every
/// device that reboots; five a second is gentle on both and still starts 300 jobs a minute.
pub const DEFAULT_RATE: u32 = 5;

/// Jobs in flight by default. A job holds at most one connection at a time and spends most of
/// its life waiting for a device to boot, so 32 keeps a 200-device building to minutes while
/// bounding sockets and the number of devices off the network at once.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// The limits a run starts jobs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Jobs started per second.
    pub rate: NonZeroU32,
    /// Jobs that may start back to back before the rate applies; 1 means strictly paced.
    pub burst: NonZeroU32,
    /// Jobs in flight at once.
    pub concurrency: NonZeroUsize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate: NonZeroU32::new(DEFAULT_RATE).expect("non-zero constant"),
            burst: NonZeroU32::MIN,
            concurrency: NonZeroUsize::new(DEFAULT_CONCURRENCY).expect("non-zero constant"),
        }
    }
}

/// governor's clock, reading tokio's time (which tests can pause and advance).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;
    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

fn limiter(limits: &Limits) -> Limiter {
    let period = Duration::from_secs(1) / limits.rate.get();
    // `with_period` is None only for a zero period, which a rate of at most u32::MAX/s can't give.
    let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("a non-zero period")
        .allow_burst(limits.burst);
    RateLimiter::direct_with_clock(quota, TokioClock)
}

/// Waits until the limiter lets one more job start.
async fn until_ready(limiter: &Limiter) {
    loop {
        match limiter.check() {
            Ok(()) => return,
            Err(not_until) => {
                tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
            }
        }
    }
}

/// What the scheduler tells its collector as jobs go.
#[derive(Debug)]
pub enum Progress<R> {
    Started {
        index: usize,
    },
    Finished {
        index: usize,
        result: R,
    },
    /// The job was dropped in flight by an abort; it has no result.
    Aborted {
        index: usize,
    },
}

/// A job that starts no earlier than `at`; see [`Scheduler::run_with`].
#[derive(Debug)]
pub struct Deferred<T> {
    pub at: Instant,
    pub index: usize,
    pub job: T,
}

/// How a schedule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub started: usize,
    /// Jobs never started because `stop` resolved first.
    pub not_started: usize,
}

/// Starts jobs under one set of limits. The rate limiter lives as long as the scheduler, so
/// consecutive batches share it: a new batch can't start faster than the rate either.
pub struct Scheduler {
    limiter: Limiter,
    concurrency: usize,
}

impl Scheduler {
    pub fn new(limits: &Limits) -> Scheduler {
        Scheduler {
            limiter: limiter(limits),
            concurrency: limits.concurrency.get(),
        }
    }

    /// Runs `jobs` through `runner`, at most `concurrency` at once, started no faster than the
    /// rate. `collect` sees every start and every result as they happen, on the caller's task.
    /// When `stop` resolves, no further job starts and jobs in flight finish; when `abort`
    /// resolves, jobs in flight are dropped where they stand and reported as `Aborted`.
    pub async fn run<T, R, F, Fut>(
        &self,
        jobs: Vec<(usize, T)>,
        runner: F,
        collect: impl FnMut(Progress<R>),
        stop: impl Future<Output = ()>,
        abort: impl Future<Output = ()>,
    ) -> Ended
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> Fut,
        Fut: Future<Output = R> + Send + 'static,
    {
        self.run_with(jobs, Vec::new(), runner, collect, stop, abort)
            .await
    }

    /// [`run`](Self::run), with `deferred` jobs as well: each starts no earlier than its time,
    /// under the same limits, and holds no slot while it waits, so the other jobs start
    /// meanwhile. A deferred job that is due goes before the next job in order.
    pub async fn run_with<T, R, F, Fut>(
        &self,
        jobs: Vec<(usize, T)>,
        deferred: Vec<Deferred<T>>,
        runner: F,
        mut collect: impl FnMut(Progress<R>),
        stop: impl Future<Output = ()>,
        abort: impl Future<Output = ()>,
    ) -> Ended
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(T) -> Fut,
        Fut: Future<Output = R> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        // A finished job's permit comes back with its result and is released only once the
        // collector has seen the result: a failure that stops the run is seen before the job
        // that would take its slot can start.
        let mut running: JoinSet<(usize, R, OwnedSemaphorePermit)> = JoinSet::new();
        let mut ids = std::collections::HashMap::new();
        let total = jobs.len() + deferred.len();
        let mut started = 0;
        tokio::pin!(stop);
        tokio::pin!(abort);
        let mut aborted = false;
        let mut queue = jobs.into_iter().peekable();
        let mut deferred: VecDeque<Deferred<T>> = {
            let mut d = deferred;
            d.sort_by_key(|d| d.at);
            d.into()
        };

        'starting: while queue.peek().is_some() || !deferred.is_empty() {
            // A permit first (reaping finished jobs meanwhile), then the rate: a job's start
            // time is when it may act, not when it began queueing.
            let permit = loop {
                tokio::select! {
                    biased;
                    _ = &mut abort => { aborted = true; break 'starting }
                    _ = &mut stop => break 'starting,
                    Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                        finish(done, &mut ids, &mut collect)
                    }
                    permit = Arc::clone(&permits).acquire_owned() => {
                        break permit.expect("the semaphore is never closed");
                    }
                }
            };
            loop {
                tokio::select! {
                    biased;
                    _ = &mut abort => { aborted = true; break 'starting }
                    _ = &mut stop => break 'starting,
                    Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                        finish(done, &mut ids, &mut collect)
                    }
                    // `until_ready` takes a cell only in the poll where it completes, so
                    // dropping it when another branch wins loses nothing.
                    _ = until_ready(&self.limiter) => break,
                }
            }
            let (index, job) = loop {
                if deferred.front().is_some_and(|d| d.at <= Instant::now()) {
                    let d = deferred.pop_front().expect("a front was seen");
                    break (d.index, d.job);
                }
                if let Some(next) = queue.next() {
                    break next;
                }
                // Only deferred jobs are left, none due yet: wait for the first, reaping.
                let at = deferred
                    .front()
                    .expect("the loop runs while one is left")
                    .at;
                tokio::select! {
                    biased;
                    _ = &mut abort => { aborted = true; break 'starting }
                    _ = &mut stop => break 'starting,
                    Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                        finish(done, &mut ids, &mut collect)
                    }
                    _ = tokio::time::sleep_until(at) => {}
                }
            };
            collect(Progress::Started { index });
            started += 1;
            let work = runner(job);
            let handle = running.spawn(async move {
                let result = work.await;
                (index, result, permit)
            });
            ids.insert(handle.id(), index);
        }
        while !running.is_empty() {
            tokio::select! {
                biased;
                _ = &mut abort, if !aborted => {
                    aborted = true;
                    running.abort_all();
                }
                Some(done) = running.join_next_with_id() => finish(done, &mut ids, &mut collect),
            }
        }
        if aborted {
            running.abort_all();
        }
        Ended {
            started,
            not_started: total - started,
        }
    }
}

fn finish<R>(
    done: Result<(tokio::task::Id, (usize, R, OwnedSemaphorePermit)), tokio::task::JoinError>,
    ids: &mut std::collections::HashMap<tokio::task::Id, usize>,
    collect: &mut impl FnMut(Progress<R>),
) {
    match done {
        Ok((id, (index, result, permit))) => {
            ids.remove(&id);
            collect(Progress::Finished { index, result });
            drop(permit);
        }
        // A job that panicked is a bug; surface it instead of recording a made-up outcome.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            let index = ids.remove(&e.id()).expect("every running job has an index");
            collect(Progress::Aborted { index })
        }
    }
}

#[cfg(test)]
mod tests;
