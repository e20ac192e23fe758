//! The audit store through its public API: a run written by many concurrent jobs through the
//! writer, the one-outcome rule, durable commits, run ids, and the errors of a bad path.

use fleetreset::model::{EventKind, RunEventKind};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::TimeZone;
use fleetreset::model::{Action, JobState, Method, Outcome, Reason};
use fleetreset::store::{
    Db, NewJob, NewRun, Record, RunStatus, SnapshotPhase, StoreError, Timestamp, Writer,
};
use serde_json::json;

/// A millisecond-precision instant, `ms` after a fixed start: the store keeps milliseconds.
fn t(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(1_795_000_000_000 + ms)
        .unwrap()
}

fn new_run(id: &str, started_at: Timestamp) -> NewRun {
    NewRun {
        id: id.to_string(),
        action: Action::PowerCycle,
        inventory_path: "lab.csv".to_string(),
        inventory_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .to_string(),
        parameters: fleetreset::store::RunParameters {
            rate_per_s: Some(2),
            concurrency: Some(8),
            ..Default::default()
        },
        operator: "ops@example".to_string(),
        tool_version: "0.1.0".to_string(),
        started_at,
    }
}

fn device(n: usize) -> String {
    format!("plug-{n:03}")
}

fn jobs(count: usize) -> Vec<NewJob> {
    (0..count)
        .map(|n| NewJob {
            device_id: device(n),
            seq: n as u32,
            host: format!("10.0.{}.{}", n / 200, n % 200 + 1),
            model: Some("HS103".to_string()),
            mac: (n % 2 == 0).then(|| format!("50:c7:bf:00:00:{n:02x}")),
            site: Some("lab".to_string()),
            unit: None,
            method: Method::Remote,
        })
        .collect()
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    (dir, path)
}

fn event(run: &str, dev: &str, at: Timestamp, state: Option<JobState>, kind: EventKind) -> Record {
    Record::Event {
        run_id: run.to_string(),
        device_id: Some(dev.to_string()),
        at,
        state,
        kind: kind.into(),
        detail: json!({"device": dev, "kind": kind.as_str()}),
    }
}

fn outcome(
    run: &str,
    dev: &str,
    at: Timestamp,
    outcome: Outcome,
    reason: Option<Reason>,
) -> Record {
    Record::Outcome {
        run_id: run.to_string(),
        device_id: dev.to_string(),
        at,
        outcome,
        reason,
        detail: format!("{dev}: {}", outcome.as_str()),
        attempts: 1,
    }
}

/// What job `n` of the concurrent test ends with.
fn planned_outcome(n: usize) -> (Outcome, Option<Reason>) {
    match n % 3 {
        0 => (Outcome::Succeeded, None),
        1 => (Outcome::Failed, Some(Reason::Timeout)),
        _ => (Outcome::Skipped, Some(Reason::ThresholdReached)),
    }
}

/// The event kinds one job of the concurrent test writes, in order.
const JOB_EVENT_KINDS: [&str; 5] = ["state", "state", "ack", "state", "outcome"];

async fn run_one_job(writer: Writer, run: String, n: usize) {
    let dev = device(n);
    let base = n as i64 * 10;
    let snapshot = |phase, at| Record::Snapshot {
        run_id: run.clone(),
        device_id: dev.clone(),
        phase,
        at,
        data: json!({"alias": dev, "phase": format!("{phase:?}")}),
    };
    writer
        .record(Record::Started {
            run_id: run.clone(),
            device_id: dev.clone(),
            at: t(base),
        })
        .await
        .unwrap();
    writer
        .record(event(
            &run,
            &dev,
            t(base + 1),
            Some(JobState::Probing),
            EventKind::State,
        ))
        .await
        .unwrap();
    writer
        .record(snapshot(SnapshotPhase::Pre, t(base + 2)))
        .await
        .unwrap();
    writer
        .record_durable(event(
            &run,
            &dev,
            t(base + 3),
            Some(JobState::IntentRecorded),
            EventKind::State,
        ))
        .await
        .unwrap();
    tokio::task::yield_now().await;
    writer
        .record(event(&run, &dev, t(base + 4), None, EventKind::Ack))
        .await
        .unwrap();
    writer
        .record(event(
            &run,
            &dev,
            t(base + 5),
            Some(JobState::Verifying),
            EventKind::State,
        ))
        .await
        .unwrap();
    writer
        .record(snapshot(SnapshotPhase::Post, t(base + 6)))
        .await
        .unwrap();
    let (o, r) = planned_outcome(n);
    writer
        .record_durable(outcome(&run, &dev, t(base + 7), o, r))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_written_by_many_concurrent_jobs_loads_back_complete_and_in_order() {
    const JOBS: usize = 60;
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    let run = "20261121-054708-3f2a";
    db.create_run(&new_run(run, t(-1000)), &jobs(JOBS)).unwrap();

    // A small queue, so senders also wait on backpressure.
    let (writer, task) = Writer::spawn(db, 16);
    let handles: Vec<_> = (0..JOBS)
        .rev()
        .map(|n| tokio::spawn(run_one_job(writer.clone(), run.to_string(), n)))
        .collect();
    drop(writer);
    for h in handles {
        h.await.unwrap();
    }
    let mut db = task.finish().await.unwrap();
    db.finish_run(run, RunStatus::Finished, t(99_000)).unwrap();

    let rec = db.load_run(run).unwrap();
    assert_eq!(rec.run.id, run);
    assert_eq!(rec.run.action, Action::PowerCycle);
    assert_eq!(
        rec.run.parameters,
        json!({"rate_per_s": 2, "concurrency": 8})
    );
    let typed = rec.run.parameters().unwrap();
    assert_eq!((typed.rate_per_s, typed.concurrency), (Some(2), Some(8)));
    assert_eq!(rec.run.started_at, t(-1000));
    assert_eq!(rec.run.finished_at, Some(t(99_000)));
    assert_eq!(rec.run.status, RunStatus::Finished);
    assert_eq!(
        (
            rec.run.jobs,
            rec.run.succeeded,
            rec.run.failed,
            rec.run.other
        ),
        (60, 20, 20, 20)
    );

    // Jobs in inventory order, each finished with its one outcome.
    let expected_jobs = jobs(JOBS);
    assert_eq!(rec.jobs.len(), JOBS);
    for (n, (job, new)) in rec.jobs.iter().zip(&expected_jobs).enumerate() {
        let base = n as i64 * 10;
        assert_eq!(job.seq as usize, n);
        assert_eq!(
            (&job.device_id, &job.host, &job.mac, &job.unit),
            (&new.device_id, &new.host, &new.mac, &new.unit)
        );
        assert_eq!(job.state, JobState::Done);
        assert_eq!((job.outcome, job.reason), {
            let (o, r) = planned_outcome(n);
            (Some(o), r)
        });
        assert_eq!(job.attempts, 1);
        assert_eq!(job.started_at, Some(t(base)));
        assert_eq!(job.finished_at, Some(t(base + 7)));
    }

    // Snapshots in job order, pre before post.
    assert_eq!(rec.snapshots.len(), 2 * JOBS);
    for (n, pair) in rec.snapshots.chunks(2).enumerate() {
        assert_eq!(pair[0].device_id, device(n));
        assert_eq!(pair[0].phase, SnapshotPhase::Pre);
        assert_eq!(pair[0].data, json!({"alias": device(n), "phase": "Pre"}));
        assert_eq!(pair[1].device_id, device(n));
        assert_eq!(pair[1].phase, SnapshotPhase::Post);
        assert_eq!(pair[1].taken_at, t(n as i64 * 10 + 6));
    }

    // Events in write order: ids increase, each job's events in the order it sent them.
    assert_eq!(rec.events.len(), 1 + JOBS * JOB_EVENT_KINDS.len());
    assert!(rec.events.windows(2).all(|w| w[0].id < w[1].id));
    // The run's own start, written with the run itself, comes first.
    assert_eq!(rec.events[0].kind, RunEventKind::RunStarted);
    assert_eq!(rec.events[0].device_id, None);
    assert_eq!(rec.events[0].at, t(-1000));
    assert_eq!(rec.events[0].detail["parameters"], rec.run.parameters);
    for n in 0..JOBS {
        let dev = device(n);
        let mine: Vec<_> = rec
            .events
            .iter()
            .filter(|e| e.device_id.as_deref() == Some(dev.as_str()))
            .collect();
        let kinds: Vec<_> = mine.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, JOB_EVENT_KINDS, "{dev}");
        let states: Vec<_> = mine.iter().map(|e| e.state).collect();
        assert_eq!(
            states,
            [
                Some(JobState::Probing),
                Some(JobState::IntentRecorded),
                None,
                Some(JobState::Verifying),
                Some(JobState::Done),
            ],
            "{dev}"
        );
        let (o, r) = planned_outcome(n);
        assert_eq!(
            mine[4].detail,
            json!({
                "outcome": o.as_str(),
                "reason": r.map(|r| r.as_str()),
                "detail": format!("{dev}: {}", o.as_str()),
            })
        );
        assert_eq!(mine[0].detail, json!({"device": dev, "kind": "state"}));
        assert_eq!(mine[0].at, t(n as i64 * 10 + 1));
    }

    let listed = db.list_runs().unwrap();
    assert_eq!(listed, vec![rec.run]);
}

#[tokio::test]
async fn a_second_outcome_for_a_job_is_refused_and_the_first_kept() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 8);

    let dev = device(0);
    writer
        .record_durable(outcome(
            "r1",
            &dev,
            t(10),
            Outcome::Failed,
            Some(Reason::Unreachable),
        ))
        .await
        .unwrap();
    let second = writer
        .record_durable(outcome("r1", &dev, t(20), Outcome::Succeeded, None))
        .await;
    match second {
        Err(StoreError::DuplicateOutcome { run_id, device_id }) => {
            assert_eq!((run_id.as_str(), device_id.as_str()), ("r1", dev.as_str()));
        }
        other => panic!("expected DuplicateOutcome, got {other:?}"),
    }
    drop(writer);

    let rec = task.finish().await.unwrap().load_run("r1").unwrap();
    let job = &rec.jobs[0];
    assert_eq!(job.outcome, Some(Outcome::Failed));
    assert_eq!(job.reason, Some(Reason::Unreachable));
    assert_eq!(job.finished_at, Some(t(10)));
    let outcome_events = rec
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Outcome)
        .count();
    assert_eq!(outcome_events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_does_not_lose_the_records_batched_with_it() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(2)).unwrap();
    let (writer, task) = Writer::spawn(db, 64);
    writer
        .record_durable(outcome("r1", &device(0), t(1), Outcome::Succeeded, None))
        .await
        .unwrap();

    // Hold the write lock from a second connection so the writer stalls on its next batch
    // while the rest queues up behind it; they then go in one batch with the bad record.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .record(event("r1", &device(1), t(2), None, EventKind::Link))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..10 {
        writer
            .record(event(
                "r1",
                &device(1),
                t(10 + i),
                None,
                EventKind::ProbeRetry,
            ))
            .await
            .unwrap();
    }
    writer
        .record(outcome(
            "r1",
            &device(0),
            t(30),
            Outcome::Failed,
            Some(Reason::Timeout),
        ))
        .await
        .unwrap();
    for i in 0..10 {
        writer
            .record(event(
                "r1",
                &device(1),
                t(40 + i),
                None,
                EventKind::WentAway,
            ))
            .await
            .unwrap();
    }
    blocker.execute_batch("COMMIT").unwrap();
    drop(writer);

    let rec = task.finish().await.unwrap().load_run("r1").unwrap();
    let kinds: Vec<_> = rec.events.iter().map(|e| e.kind.as_str()).collect();
    let mut expected = vec!["run_started", "outcome", "link"];
    expected.extend(["probe_retry"; 10]);
    expected.extend(["went_away"; 10]);
    assert_eq!(kinds, expected);
    assert_eq!(rec.jobs[0].outcome, Some(Outcome::Succeeded));
}

#[tokio::test]
async fn record_durable_returns_after_the_commit_another_connection_can_see() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 8);
    let reader = rusqlite::Connection::open(&path).unwrap();
    let intents = || -> i64 {
        reader
            .query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'intent' AND state = 'intent_recorded'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(intents(), 0);

    writer
        .record_durable(event(
            "r1",
            &device(0),
            t(5),
            Some(JobState::IntentRecorded),
            EventKind::Intent,
        ))
        .await
        .unwrap();
    // The writer is still running and holds its connection: only a commit makes this visible.
    assert_eq!(intents(), 1);
    let state: String = reader
        .query_row("SELECT state FROM jobs WHERE run_id = 'r1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(state, "intent_recorded");

    drop(writer);
    task.finish().await.unwrap();
}

#[tokio::test]
async fn finish_waits_for_every_writer_clone_and_drains_the_queue() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 4);
    let late = writer.clone();
    drop(writer);
    let job = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..20 {
            late.record(event("r1", &device(0), t(i), None, EventKind::ProbeRetry))
                .await
                .unwrap();
        }
    });
    let db = task.finish().await.unwrap();
    job.await.unwrap();
    let rec = db.load_run("r1").unwrap();
    let late = rec
        .events
        .iter()
        .filter(|e| e.kind == EventKind::ProbeRetry)
        .count();
    assert_eq!(late, 20);
}

#[tokio::test]
async fn a_record_for_a_job_that_does_not_exist_is_an_error_and_the_writer_carries_on() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 8);
    let started = |dev: &str| Record::Started {
        run_id: "r1".to_string(),
        device_id: dev.to_string(),
        at: t(1),
    };
    let err = writer.record_durable(started("ghost")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchJob { device_id, .. } if device_id == "ghost"),
        "{err:?}"
    );
    writer.record_durable(started(&device(0))).await.unwrap();
    drop(writer);
    let rec = task.finish().await.unwrap().load_run("r1").unwrap();
    assert_eq!(rec.jobs[0].attempts, 1);
    assert_eq!(rec.jobs[0].started_at, Some(t(1)));
}

#[tokio::test]
async fn a_retried_job_keeps_its_first_pre_snapshot_and_its_last_post_snapshot() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 8);
    for (attempt, at) in [(1, 10), (2, 20)] {
        for phase in [SnapshotPhase::Pre, SnapshotPhase::Post] {
            writer
                .record(Record::Snapshot {
                    run_id: "r1".to_string(),
                    device_id: device(0),
                    phase,
                    at: t(at),
                    data: json!({"attempt": attempt}),
                })
                .await
                .unwrap();
        }
    }
    drop(writer);
    let rec = task.finish().await.unwrap().load_run("r1").unwrap();
    let got: Vec<_> = rec
        .snapshots
        .iter()
        .map(|s| (s.phase, s.taken_at, s.data.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (SnapshotPhase::Pre, t(10), json!({"attempt": 1})),
            (SnapshotPhase::Post, t(20), json!({"attempt": 2})),
        ]
    );
}

#[test]
fn run_ids_resolve_from_latest_a_full_id_or_a_unique_prefix() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    assert!(matches!(
        db.resolve_run_id("latest"),
        Err(StoreError::NoSuchRun(q)) if q == "latest"
    ));
    // The newest run is the one recorded last, whatever the wall clocks that wrote its
    // `started_at` said (a run started under a clock hours ahead must not stay "latest").
    db.create_run(&new_run("20261121-054708-3f2a", t(1000)), &jobs(1))
        .unwrap();
    db.create_run(&new_run("20260101-000000-aaaa", t(5000)), &[])
        .unwrap();
    db.create_run(&new_run("20261121-054708-3f9c", t(2000)), &jobs(2))
        .unwrap();
    db.create_run(&new_run("20261121-054708-3f9", t(3000)), &[])
        .unwrap();

    let resolve = |q: &str| db.resolve_run_id(q);
    assert_eq!(resolve("latest").unwrap(), "20261121-054708-3f9");
    assert_eq!(
        resolve("20261121-054708-3f2a").unwrap(),
        "20261121-054708-3f2a"
    );
    assert_eq!(
        resolve("20261121-054708-3f2").unwrap(),
        "20261121-054708-3f2a"
    );
    assert_eq!(resolve("2026010").unwrap(), "20260101-000000-aaaa");
    // A full id wins even when it is also a prefix of another.
    assert_eq!(
        resolve("20261121-054708-3f9").unwrap(),
        "20261121-054708-3f9"
    );
    assert!(matches!(
        resolve("20261121-054708-3f"),
        Err(StoreError::AmbiguousRun(q)) if q == "20261121-054708-3f"
    ));
    for missing in ["20261122", "2026%", "", "_"] {
        assert!(
            matches!(resolve(missing), Err(StoreError::NoSuchRun(ref q)) if q == missing),
            "{missing:?}"
        );
    }

    let listed: Vec<_> = db
        .list_runs()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.jobs, r.status))
        .collect();
    assert_eq!(
        listed,
        // Newest recorded first.
        [
            ("20261121-054708-3f9".to_string(), 0, RunStatus::Running),
            ("20261121-054708-3f9c".to_string(), 2, RunStatus::Running),
            ("20260101-000000-aaaa".to_string(), 0, RunStatus::Running),
            ("20261121-054708-3f2a".to_string(), 1, RunStatus::Running),
        ]
    );
}

/// The error and its sources, as `{:#}` would print them.
fn chain(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn can_write_in(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let wrote = fs::write(&probe, b"").is_ok();
    let _ = fs::remove_file(&probe);
    wrote
}

#[test]
fn a_database_in_a_read_only_directory_is_a_clear_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
    let path = locked.join("audit.db");
    let result = if can_write_in(&locked) {
        eprintln!(
            "note: {} is writable despite mode 0500 (running as root?); \
             the read-only assertion is skipped",
            locked.display()
        );
        None
    } else {
        Some(Db::open(&path))
    };
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    if let Some(result) = result {
        let err = result.expect_err("a read-only directory can't hold a new database");
        let text = chain(&err);
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("ermission denied"), "{text}");
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_a_clear_error_and_is_left_untouched() {
    let (_dir, path) = temp_db();
    let garbage = b"id,host,model\nplug-1,10.0.0.1,HS103\n".repeat(200);
    fs::write(&path, &garbage).unwrap();
    let err = Db::open(&path).expect_err("a CSV file is not a database");
    let text = chain(&err);
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("not a database"), "{text}");
    assert_eq!(fs::read(&path).unwrap(), garbage);
}

fn sha256(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(fs::read(path).unwrap()).to_vec()
}

fn side(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// The database and its `-wal` and `-shm` as they are on disk right now, copied into `to`, as
/// someone backing up the files of a live or crashed run would.
fn copy_with_side_files(db: &Path, to: &Path) -> PathBuf {
    let copy = to.join(db.file_name().unwrap());
    fs::copy(db, &copy).unwrap();
    for suffix in ["-wal", "-shm"] {
        fs::copy(side(db, suffix), side(&copy, suffix)).unwrap();
    }
    copy
}

/// A crash leaves the last commits in the -wal alone. A copy without that -wal would open as an
/// older database, the run (and its durable intents) silently gone.
#[test]
fn a_copy_whose_wal_is_missing_is_refused_and_with_its_wal_it_has_the_run() {
    let (dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(3)).unwrap();
    // `db` stays open: nothing is checkpointed, as when the process was killed here.
    let crashed = dir.path().join("crashed");
    fs::create_dir(&crashed).unwrap();
    let copy = copy_with_side_files(&path, &crashed);
    let wal = fs::read(side(&copy, "-wal")).unwrap();
    assert!(!wal.is_empty(), "the commits should still be in the -wal");

    fs::remove_file(side(&copy, "-wal")).unwrap();
    let before = (sha256(&copy), sha256(&side(&copy, "-shm")));
    let err = Db::open(&copy).expect_err("the -wal with the committed run is gone");
    let StoreError::WalLost {
        path: shown,
        frames,
    } = &err
    else {
        panic!("expected WalLost, got {err:?}");
    };
    assert_eq!(shown, &copy.display().to_string());
    assert!(*frames > 0, "{err}");
    let text = err.to_string();
    assert!(text.contains("missing or truncated"), "{text}");
    assert!(
        text.contains("possibly an intent to reset a device"),
        "{text}"
    );
    assert!(
        text.contains(&format!("restore {}-wal", copy.display())),
        "{text}"
    );
    // Nothing was changed: no -wal created, the database and the index as they were.
    assert!(!side(&copy, "-wal").exists());
    assert_eq!((sha256(&copy), sha256(&side(&copy, "-shm"))), before);

    // A truncated -wal is refused the same way.
    fs::write(side(&copy, "-wal"), &wal[..wal.len() - 1]).unwrap();
    assert!(matches!(Db::open(&copy), Err(StoreError::WalLost { .. })));

    // With the -wal restored, SQLite replays it and the run is there.
    fs::write(side(&copy, "-wal"), &wal).unwrap();
    let restored = Db::open(&copy).unwrap();
    let rec = restored.load_run("r1").unwrap();
    assert_eq!(rec.jobs.len(), 3);
    drop(db);
}

#[test]
fn a_cleanly_closed_database_leaves_no_side_files_and_opens_with_its_runs() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(2)).unwrap();
    drop(db);
    assert!(!side(&path, "-wal").exists());
    assert!(!side(&path, "-shm").exists());
    let db = Db::open(&path).unwrap();
    assert_eq!(db.load_run("r1").unwrap().jobs.len(), 2);
}

#[test]
fn a_database_open_elsewhere_with_its_side_files_whole_opens_fine() {
    let (_dir, path) = temp_db();
    let mut writer = Db::open(&path).unwrap();
    writer.create_run(&new_run("r1", t(0)), &jobs(2)).unwrap();
    assert!(side(&path, "-wal").exists() && side(&path, "-shm").exists());
    let reader = Db::open(&path).unwrap();
    assert_eq!(reader.load_run("r1").unwrap().jobs.len(), 2);
}

#[test]
fn another_programs_sqlite_file_given_as_the_database_is_refused_and_left_unchanged() {
    let (dir, path) = temp_db();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE bookmarks (url TEXT); INSERT INTO bookmarks VALUES ('x');")
        .unwrap();
    let before = sha256(&path);
    let err = Db::open(&path).expect_err("not a fleetreset database");
    assert!(matches!(&err, StoreError::NotOurs { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{} is not a fleetreset audit database (",
            path.display()
        )),
        "{text}"
    );
    assert!(text.contains("nothing was changed in it"), "{text}");
    assert_eq!(sha256(&path), before);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_preflight_refuses_a_database_whose_directory_became_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let path = locked.join("audit.db");
    let db = Db::open(&path).unwrap();
    db.preflight(0).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
    let result = if can_write_in(&locked) {
        eprintln!(
            "skipped: {} is writable despite mode 0500 (running as root?)",
            locked.display()
        );
        None
    } else {
        Some(db.preflight(0))
    };
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    if let Some(result) = result {
        let err = result.expect_err("a read-only directory can't take the run's files");
        let text = err.to_string();
        assert!(
            text.contains(&format!("cannot create a file in {}", locked.display())),
            "{text}"
        );
        assert!(text.contains("ermission denied"), "{text}");
    }
}

#[test]
fn the_preflight_refuses_a_need_no_disk_can_meet() {
    let (dir, path) = temp_db();
    let db = Db::open(&path).unwrap();
    let err = db.preflight(u64::MAX / 2).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the audit database {} cannot take a run's records: no space in {}: ",
            path.display(),
            dir.path().display()
        )),
        "{text}"
    );
    assert!(text.ends_with(" free, about 8 EiB needed"), "{text}");
}

#[tokio::test]
async fn open_commands_are_the_jobs_with_an_intent_and_no_outcome_in_any_run_or_one() {
    let (_dir, path) = temp_db();
    let mut db = Db::open(&path).unwrap();
    db.create_run(&new_run("r1", t(0)), &jobs(3)).unwrap();
    db.create_run(&new_run("r2", t(1)), &jobs(1)).unwrap();
    let (writer, task) = Writer::spawn(db, 8);
    let (d0, d1, d2) = (device(0), device(1), device(2));
    // d0: intent, no outcome (open). d1: intent and outcome. d2: no intent. r2's d0: open.
    for rec in [
        event("r1", &d0, t(10), None, EventKind::Intent),
        event("r1", &d1, t(11), None, EventKind::Intent),
        outcome("r1", &d1, t(12), Outcome::Succeeded, None),
        event("r1", &d2, t(13), None, EventKind::State),
        event("r2", &d0, t(14), None, EventKind::Intent),
    ] {
        writer.record_durable(rec).await.unwrap();
    }
    drop(writer);
    let db = task.finish().await.unwrap();
    let open = |run: Option<&str>| -> Vec<(String, String)> {
        db.open_commands(run)
            .unwrap()
            .into_iter()
            .map(|o| (o.run_id, o.device_id))
            .collect()
    };
    assert_eq!(
        open(None),
        [
            ("r1".to_string(), d0.clone()),
            ("r2".to_string(), d0.clone())
        ]
    );
    assert_eq!(open(Some("r2")), [("r2".to_string(), d0.clone())]);
    assert_eq!(open(Some("r9")), []);
}
