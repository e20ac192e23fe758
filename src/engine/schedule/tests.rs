use super::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

fn limits(rate: u32, burst: u32, concurrency: usize) -> Limits {
    Limits {
        rate: NonZeroU32::new(rate).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        concurrency: NonZeroUsize::new(concurrency).unwrap(),
    }
}

/// Runs `n` jobs that each take `work`, returning the start times relative to the start.
async fn start_times(n: usize, l: Limits, work: Duration) -> (Vec<Duration>, usize) {
    let t0 = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let runner = {
        let (starts, in_flight, peak) = (starts.clone(), in_flight.clone(), peak.clone());
        move |_job: usize| {
            let (starts, in_flight, peak) = (starts.clone(), in_flight.clone(), peak.clone());
            async move {
                starts.lock().unwrap().push(t0.elapsed());
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(work).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
    };
    let jobs = (0..n).map(|i| (i, i)).collect();
    let ended = Scheduler::new(&l)
        .run(
            jobs,
            runner,
            |_| {},
            std::future::pending(),
            std::future::pending(),
        )
        .await;
    assert_eq!(
        ended,
        Ended {
            started: n,
            not_started: 0
        }
    );
    let starts = starts.lock().unwrap().clone();
    (starts, peak.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn jobs_start_no_faster_than_the_rate() {
    let (starts, _) = start_times(20, limits(4, 1, 100), Duration::from_millis(1)).await;
    assert_eq!(starts.len(), 20);
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(250), "{pair:?}");
    }
    // 20 jobs at 4/s: the last starts at 19 × 250 ms, not later.
    assert_eq!(*starts.last().unwrap(), Duration::from_millis(4750));
}

#[tokio::test(start_paused = true)]
async fn a_burst_lets_that_many_start_at_once_and_no_more() {
    let (starts, _) = start_times(10, limits(2, 3, 100), Duration::from_millis(1)).await;
    assert_eq!(starts.iter().filter(|t| t.is_zero()).count(), 3);
    // After the burst, one every 500 ms.
    assert_eq!(starts[3], Duration::from_millis(500));
    for pair in starts[3..].windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(500), "{pair:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn never_more_jobs_in_flight_than_the_cap() {
    let (starts, peak) = start_times(30, limits(1000, 1000, 4), Duration::from_secs(10)).await;
    assert_eq!(peak, 4);
    // Four at a time, ten seconds each: the 5th starts when the 1st ends.
    assert_eq!(starts[4], Duration::from_secs(10));
    assert_eq!(starts[29], Duration::from_secs(70));
}

#[tokio::test(start_paused = true)]
async fn the_collector_sees_each_start_and_each_result_once() {
    let mut seen = Vec::new();
    let ended = Scheduler::new(&limits(100, 1, 2))
        .run(
            (0..5)
                .map(|i| (i as usize, i))
                .collect::<Vec<(usize, u64)>>(),
            |n| async move {
                tokio::time::sleep(Duration::from_millis(100 * (5 - n))).await;
                n * 10
            },
            |p| {
                seen.push(match p {
                    Progress::Started { index } => (index, None),
                    Progress::Finished { index, result } => (index, Some(result)),
                    Progress::Aborted { .. } => unreachable!("nothing aborts here"),
                })
            },
            std::future::pending(),
            std::future::pending(),
        )
        .await;
    assert_eq!(ended.started, 5);
    for i in 0..5 {
        assert_eq!(
            seen.iter().filter(|(j, r)| *j == i && r.is_none()).count(),
            1
        );
        assert_eq!(
            seen.iter().filter(|(j, r)| *j == i && r.is_some()).count(),
            1
        );
        let start = seen
            .iter()
            .position(|(j, r)| *j == i && r.is_none())
            .unwrap();
        let end = seen
            .iter()
            .position(|(j, r)| *j == i && r.is_some())
            .unwrap();
        assert!(start < end);
        assert_eq!(seen[end].1, Some(i as u64 * 10));
    }
}

#[tokio::test(start_paused = true)]
async fn stopping_starts_nothing_more_and_lets_running_jobs_finish() {
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let ended = Scheduler::new(&limits(1, 1, 10))
        .run(
            (0..10).map(|i| (i, i)).collect::<Vec<(usize, usize)>>(),
            move |_| {
                let f = f.clone();
                async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    f.fetch_add(1, Ordering::SeqCst);
                }
            },
            |_| {},
            // Jobs start at 0, 1, 2 s; the stop comes at 2.5 s.
            tokio::time::sleep(Duration::from_millis(2500)),
            std::future::pending(),
        )
        .await;
    assert_eq!(
        ended,
        Ended {
            started: 3,
            not_started: 7
        }
    );
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_abort_drops_jobs_in_flight_and_reports_each_as_aborted() {
    let mut seen = Vec::new();
    let t0 = tokio::time::Instant::now();
    let ended = Scheduler::new(&limits(10, 1, 10))
        .run(
            (0..5).map(|i| (i, i)).collect::<Vec<(usize, usize)>>(),
            |i| async move {
                // Job 0 is quick; the rest would take an hour.
                let secs = if i == 0 { 1 } else { 3600 };
                tokio::time::sleep(Duration::from_secs(secs)).await;
                i
            },
            |p| {
                seen.push(match p {
                    Progress::Started { index } => format!("start {index}"),
                    Progress::Finished { index, .. } => format!("done {index}"),
                    Progress::Aborted { index } => format!("aborted {index}"),
                })
            },
            tokio::time::sleep(Duration::from_secs(2)),
            tokio::time::sleep(Duration::from_secs(10)),
        )
        .await;
    assert_eq!(
        ended,
        Ended {
            started: 5,
            not_started: 0
        }
    );
    assert!(seen.contains(&"done 0".to_string()), "{seen:?}");
    for i in 1..5 {
        assert!(seen.contains(&format!("aborted {i}")), "{seen:?}");
    }
    // Ended by the abort at 10 s, not by the hour-long jobs.
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_deferred_job_holds_no_slot_while_it_waits_and_starts_when_due() {
    // One slot. Three ordinary jobs of 4 s each and one job deferred to 6 s: the ordinary
    // ones must not wait for it, and it must not start before its time.
    let t0 = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = starts.clone();
    let deferred = vec![Deferred {
        at: t0 + Duration::from_secs(6),
        index: 9,
        job: 9usize,
    }];
    let ended = Scheduler::new(&limits(100, 1, 1))
        .run_with(
            (0..3).map(|i| (i, i)).collect(),
            deferred,
            move |i: usize| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push((i, t0.elapsed()));
                    tokio::time::sleep(Duration::from_secs(4)).await;
                }
            },
            |_| {},
            std::future::pending(),
            std::future::pending(),
        )
        .await;
    assert_eq!(
        ended,
        Ended {
            started: 4,
            not_started: 0
        }
    );
    let starts = starts.lock().unwrap().clone();
    let secs: Vec<(usize, u64)> = starts.iter().map(|(i, t)| (*i, t.as_secs())).collect();
    // 0 at 0 s, 1 at 4 s; at 8 s the deferred job (due since 6 s) goes before job 2.
    assert_eq!(secs, [(0, 0), (1, 4), (9, 8), (2, 12)]);
}

#[tokio::test(start_paused = true)]
async fn only_deferred_jobs_start_at_their_times_and_a_stop_leaves_the_rest_unstarted() {
    let t0 = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = starts.clone();
    let deferred = (0..3)
        .map(|i| Deferred {
            at: t0 + Duration::from_secs(10 * (i as u64 + 1)),
            index: i,
            job: i,
        })
        .collect();
    let ended = Scheduler::new(&limits(100, 1, 10))
        .run_with(
            Vec::new(),
            deferred,
            move |i: usize| {
                let s = s.clone();
                async move { s.lock().unwrap().push((i, t0.elapsed().as_secs())) }
            },
            |_| {},
            tokio::time::sleep(Duration::from_secs(25)),
            std::future::pending(),
        )
        .await;
    assert_eq!(
        ended,
        Ended {
            started: 2,
            not_started: 1
        }
    );
    assert_eq!(*starts.lock().unwrap(), [(0, 10), (1, 20)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_stops_the_run_is_seen_before_its_slot_goes_to_the_next_job() {
    // One slot, no rate to wait for: the only thing between job 0's end and job 1's start is
    // the collector seeing job 0's result, which asks to stop. On two threads, a slot freed
    // before its result is seen would go to job 1 now and then; many rounds make that show.
    for round in 0..500 {
        let stop = tokio::sync::Notify::new();
        let ended = Scheduler::new(&limits(1_000_000, 1_000_000, 1))
            .run(
                (0..3).map(|i| (i, i)).collect::<Vec<(usize, usize)>>(),
                |i| async move {
                    tokio::task::yield_now().await;
                    i
                },
                |p| {
                    if let Progress::Finished { .. } = p {
                        stop.notify_one();
                    }
                },
                stop.notified(),
                std::future::pending(),
            )
            .await;
        assert_eq!(
            ended,
            Ended {
                started: 1,
                not_started: 2
            },
            "round {round}"
        );
    }
}

/// Runs jobs `0..n`, each taking `work[i]` seconds, with `after`; `(index, start s, end s)`.
async fn ordered_times(
    work: &[u64],
    after: &[(usize, Vec<usize>)],
    concurrency: usize,
) -> Vec<(usize, u64, u64)> {
    let t0 = Instant::now();
    let times = Arc::new(Mutex::new(Vec::new()));
    let after: std::collections::HashMap<usize, Vec<usize>> = after.iter().cloned().collect();
    let secs: Vec<u64> = work.to_vec();
    let t = times.clone();
    Scheduler::new(&limits(1000, 1000, concurrency))
        .run_ordered(
            (0..work.len()).map(|i| (i, i)).collect(),
            Vec::new(),
            &after,
            move |i: usize| {
                let (t, d) = (t.clone(), secs[i]);
                async move {
                    let start = t0.elapsed().as_secs();
                    tokio::time::sleep(Duration::from_secs(d)).await;
                    t.lock().unwrap().push((i, start, t0.elapsed().as_secs()));
                }
            },
            |_| {},
            std::future::pending(),
            std::future::pending(),
        )
        .await;
    let mut v = times.lock().unwrap().clone();
    v.sort_unstable();
    v
}

#[tokio::test(start_paused = true)]
async fn a_plug_that_powers_others_starts_only_once_every_job_behind_it_has_ended() {
    // Job 0 is the plug, listed first; 1 and 2 are behind it; 3 is unrelated.
    let t = ordered_times(&[5, 10, 20, 3], &[(0, vec![1, 2])], 10).await;
    let (start_plug, end_1, end_2) = (t[0].1, t[1].2, t[2].2);
    assert!(start_plug >= end_1.max(end_2), "{t:?}");
    assert_eq!(start_plug, 20, "as soon as the last one ends: {t:?}");
    // Jobs without dependencies start meanwhile, in order.
    assert_eq!((t[1].1, t[2].1, t[3].1), (0, 0, 0), "{t:?}");
}

#[tokio::test(start_paused = true)]
async fn a_job_waiting_for_its_dependencies_does_not_hold_up_the_ones_after_it() {
    // One slot: the plug (0), first in order, waits for 1; 1 takes the slot at once, and the
    // plug goes next, before 2.
    let t = ordered_times(&[1, 10, 10], &[(0, vec![1])], 1).await;
    assert_eq!(t[1].1, 0, "{t:?}");
    assert_eq!(t[0].1, t[1].2, "{t:?}");
    assert!(t[2].1 >= t[0].2, "{t:?}");
}

#[tokio::test(start_paused = true)]
async fn a_dependency_this_schedule_does_not_hold_is_met_and_a_loop_still_ends() {
    let t = ordered_times(&[1, 1], &[(0, vec![99])], 10).await;
    assert_eq!((t[0].1, t[1].1), (0, 0), "{t:?}");
    let t = ordered_times(&[1, 1], &[(0, vec![1]), (1, vec![0])], 10).await;
    assert_eq!(t.len(), 2, "both ran: {t:?}");
}
