//! The scheduler: starts jobs under a strict rate limit and a concurrency cap, in an order that
//! respects their dependencies (a plug after what it powers), and collects their results. It
//! owns every limit; a job never spawns work of its own.
//!
//! The rate limiter ([`pace`]) reads tokio's clock, so tests under `tokio::time::pause()` prove
//! the limits deterministically.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

mod pace;

use pace::Pacer;

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
    pacer: Pacer,
    concurrency: usize,
}

impl Scheduler {
    pub fn new(limits: &Limits) -> Scheduler {
        Scheduler {
            pacer: Pacer::new(limits),
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
        self.run_ordered(
            jobs,
            deferred,
            &HashMap::new(),
            runner,
            collect,
            stop,
            abort,
        )
        .await
    }

    /// [`run_with`](Self::run_with), where a job starts only once every job `after` lists for
    /// it (by index) has finished: a plug that powers others waits for them. The first job in
    /// order whose dependencies are met goes next; a dependency on a job this schedule doesn't
    /// hold is met. Should nothing be left that could ever meet them (nothing running, nothing
    /// deferred), the next job in order starts anyway rather than the run never ending.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_ordered<T, R, F, Fut>(
        &self,
        jobs: Vec<(usize, T)>,
        deferred: Vec<Deferred<T>>,
        after: &HashMap<usize, Vec<usize>>,
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
        let mut ids = HashMap::new();
        let total = jobs.len() + deferred.len();
        let held: HashSet<usize> = jobs
            .iter()
            .map(|(i, _)| *i)
            .chain(deferred.iter().map(|d| d.index))
            .collect();
        let mut done: HashSet<usize> = HashSet::new();
        let mut started = 0;
        tokio::pin!(stop);
        tokio::pin!(abort);
        let mut aborted = false;
        let mut queue: VecDeque<(usize, T)> = jobs.into();
        let mut deferred: VecDeque<Deferred<T>> = {
            let mut d = deferred;
            d.sort_by_key(|d| d.at);
            d.into()
        };

        'starting: while !queue.is_empty() || !deferred.is_empty() {
            // A permit first (reaping finished jobs meanwhile), then the rate: a job's start
            // time is when it may act, not when it began queueing.
            let permit = loop {
                tokio::select! {
                    biased;
                    _ = &mut abort => { aborted = true; break 'starting }
                    _ = &mut stop => break 'starting,
                    Some(ended) = running.join_next_with_id(), if !running.is_empty() => {
                        done.insert(finish(ended, &mut ids, &mut collect));
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
                    Some(ended) = running.join_next_with_id(), if !running.is_empty() => {
                        done.insert(finish(ended, &mut ids, &mut collect));
                    }
                    // `until_ready` takes a slot only in the poll where it completes, so
                    // dropping it when another branch wins loses nothing.
                    _ = self.pacer.until_ready() => break,
                }
            }
            let (index, job) = loop {
                if deferred.front().is_some_and(|d| d.at <= Instant::now()) {
                    let d = deferred.pop_front().expect("a front was seen");
                    break (d.index, d.job);
                }
                let ready = |i: &usize| {
                    after.get(i).is_none_or(|deps| {
                        deps.iter().all(|d| !held.contains(d) || done.contains(d))
                    })
                };
                if let Some(pos) = queue.iter().position(|(i, _)| ready(i)) {
                    break queue.remove(pos).expect("a position in the queue");
                }
                if !queue.is_empty() && running.is_empty() && deferred.is_empty() {
                    // Nothing left could meet the dependencies: never hang.
                    break queue.pop_front().expect("not empty");
                }
                // Wait for a job to finish (a dependency met) or the first deferred job.
                let at = deferred.front().map(|d| d.at);
                tokio::select! {
                    biased;
                    _ = &mut abort => { aborted = true; break 'starting }
                    _ = &mut stop => break 'starting,
                    Some(ended) = running.join_next_with_id(), if !running.is_empty() => {
                        done.insert(finish(ended, &mut ids, &mut collect));
                    }
                    _ = sleep_until_or_never(at) => {}
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
                Some(ended) = running.join_next_with_id() => {
                    finish(ended, &mut ids, &mut collect);
                }
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

async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reports a job that ended; its index.
fn finish<R>(
    ended: Result<(tokio::task::Id, (usize, R, OwnedSemaphorePermit)), tokio::task::JoinError>,
    ids: &mut HashMap<tokio::task::Id, usize>,
    collect: &mut impl FnMut(Progress<R>),
) -> usize {
    match ended {
        Ok((id, (index, result, permit))) => {
            ids.remove(&id);
            collect(Progress::Finished { index, result });
            drop(permit);
            index
        }
        // A job that panicked is a bug; surface it instead of recording a made-up outcome.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            let index = ids.remove(&e.id()).expect("every running job has an index");
            collect(Progress::Aborted { index });
            index
        }
    }
}

#[cfg(test)]
mod tests;
