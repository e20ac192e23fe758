//! The audit writer's throughput, for BENCHMARKS.md: `cargo bench --bench store`.
//!
//! Two loads on a fresh database in a temp dir, each through the real [`Writer`] (its thread,
//! group commit and hash chain):
//! - `flood`: 200,000 ordinary events from 64 tasks: the most the writer takes;
//! - `jobs`: 20,000 jobs from 2,000 concurrent tasks, each the records a power cycle writes
//!   (start, states, link, two snapshots, a durable intent, an ack, went away, came back and a
//!   durable outcome), each job waiting for its intent's commit as a job waits before its
//!   command.
//!
//! Prints one JSON line per load: records, events, seconds, events per second, fsyncs saved.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use fleetreset::model::{Action, EventKind, JobState, Method, Outcome};
use fleetreset::store::{Db, NewJob, NewRun, Record, SnapshotPhase, Writer};
use serde_json::json;

fn new_db(dir: &std::path::Path, jobs: usize) -> Db {
    let mut db = Db::open(&dir.join("audit.db")).expect("open the database");
    let run = NewRun {
        id: "bench".into(),
        action: Action::PowerCycle,
        inventory_path: "bench.csv".into(),
        inventory_sha256: "00".into(),
        parameters: Default::default(),
        operator: "bench".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at: Utc::now(),
    };
    let jobs: Vec<NewJob> = (0..jobs)
        .map(|i| NewJob {
            device_id: format!("d{i}"),
            seq: i as u32,
            host: format!("127.200.{}.{}", i / 250, i % 250 + 1),
            model: Some("HS103(US)".into()),
            mac: Some(format!("50:C7:BF:20:{:02X}:{:02X}", i / 256 % 256, i % 256)),
            site: None,
            unit: None,
            method: Method::Remote,
        })
        .collect();
    db.create_run(&run, &jobs).expect("create the run");
    db
}

fn event(
    device: &str,
    state: Option<JobState>,
    kind: EventKind,
    detail: serde_json::Value,
) -> Record {
    Record::Event {
        run_id: "bench".into(),
        device_id: Some(device.into()),
        at: Utc::now(),
        state,
        kind: kind.into(),
        detail,
    }
}

fn sysinfo(device: &str) -> serde_json::Value {
    json!({"system": {"get_sysinfo": {"alias": device, "model": "HS103(US)", "mac": "50:C7:BF:20:00:01",
        "deviceId": "8006F00DBEEF", "hwId": "0123", "sw_ver": "1.0.3 Build 210506 Rel.161520",
        "relay_state": 1, "on_time": 1234, "rssi": -48, "led_off": 0, "updating": 0}}})
}

async fn flood(dir: &std::path::Path) {
    let devices = 1000;
    let writer_db = new_db(dir, devices);
    let (writer, task) = Writer::spawn(writer_db, 1024);
    let writer = Arc::new(writer);
    let per_task = 200_000 / 64;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..64 {
        let w = Arc::clone(&writer);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let device = format!("d{}", (t * per_task + i) % devices);
                w.record(event(&device, None, EventKind::Ack, json!({"i": i})))
                    .await
                    .expect("queue an event");
            }
        }));
    }
    for t in tasks {
        t.await.expect("a task");
    }
    drop(writer);
    task.finish().await.expect("the writer finishes");
    let secs = t0.elapsed().as_secs_f64();
    let events = per_task * 64;
    println!(
        "{}",
        json!({"load": "flood", "records": events, "events": events, "seconds": secs,
               "events_per_s": events as f64 / secs})
    );
}

async fn jobs(dir: &std::path::Path) {
    let n = 20_000;
    let concurrency = 2_000;
    let writer_db = new_db(dir, n);
    let (writer, task) = Writer::spawn(writer_db, 1024);
    let writer = Arc::new(writer);
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let permit = Arc::clone(&slots).acquire_owned().await.expect("a slot");
        let w = Arc::clone(&writer);
        tasks.push(tokio::spawn(async move {
            let d = format!("d{i}");
            let write = async {
                w.record(Record::Started {
                    run_id: "bench".into(),
                    device_id: d.clone(),
                    at: Utc::now(),
                })
                .await?;
                w.record(event(&d, None, EventKind::Link, json!({"protocol": "iot"})))
                    .await?;
                w.record(event(
                    &d,
                    Some(JobState::Probing),
                    EventKind::State,
                    json!({}),
                ))
                .await?;
                w.record(Record::Snapshot {
                    run_id: "bench".into(),
                    device_id: d.clone(),
                    phase: SnapshotPhase::Pre,
                    at: Utc::now(),
                    data: sysinfo(&d),
                })
                .await?;
                w.record(Record::Identity {
                    run_id: "bench".into(),
                    device_id: d.clone(),
                    verified: true,
                })
                .await?;
                w.record(event(
                    &d,
                    Some(JobState::IdentityChecked),
                    EventKind::State,
                    json!({}),
                ))
                .await?;
                w.record_durable(event(
                    &d,
                    Some(JobState::IntentRecorded),
                    EventKind::Intent,
                    json!({"boottime_ms": 1}),
                ))
                .await?;
                w.record(event(
                    &d,
                    Some(JobState::Acting),
                    EventKind::State,
                    json!({}),
                ))
                .await?;
                w.record(event(&d, None, EventKind::Ack, json!({"err_code": 0})))
                    .await?;
                w.record(event(
                    &d,
                    Some(JobState::Verifying),
                    EventKind::State,
                    json!({}),
                ))
                .await?;
                w.record(event(
                    &d,
                    None,
                    EventKind::WentAway,
                    json!({"after_s": 1.0}),
                ))
                .await?;
                w.record(event(
                    &d,
                    None,
                    EventKind::CameBack,
                    json!({"after_s": 61.0}),
                ))
                .await?;
                w.record(Record::Snapshot {
                    run_id: "bench".into(),
                    device_id: d.clone(),
                    phase: SnapshotPhase::Post,
                    at: Utc::now(),
                    data: sysinfo(&d),
                })
                .await?;
                w.record_durable(Record::Outcome {
                    run_id: "bench".into(),
                    device_id: d.clone(),
                    at: Utc::now(),
                    outcome: Outcome::Succeeded,
                    reason: None,
                    detail: "back".into(),
                    attempts: 1,
                })
                .await
            };
            write.await.expect("a job's records");
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("a task");
    }
    drop(writer);
    task.finish().await.expect("the writer finishes");
    let secs = t0.elapsed().as_secs_f64();
    // 14 records a job, 11 of them events (the outcome appends one).
    println!(
        "{}",
        json!({"load": "jobs", "jobs": n, "records": n * 14, "events": n * 11, "seconds": secs,
               "events_per_s": (n * 11) as f64 / secs, "jobs_per_s": n as f64 / secs})
    );
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("fleetreset-store-bench-{}", std::process::id()));
    for load in [Load::Flood, Load::Jobs] {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        match load {
            Load::Flood => flood(&dir).await,
            Load::Jobs => jobs(&dir).await,
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

enum Load {
    Flood,
    Jobs,
}
