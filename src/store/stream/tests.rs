use super::*;
use crate::model::{Action, EventKind};
use crate::store::{NewJob, NewRun};

fn run_with_one_job(db: &mut Db) {
    let run = NewRun {
        id: "r1".into(),
        action: Action::PowerCycle,
        inventory_path: "lab.csv".into(),
        inventory_sha256: "aa".into(),
        parameters: Default::default(),
        operator: "alice".into(),
        tool_version: "0.1.0".into(),
        started_at: chrono::Utc::now(),
    };
    let job = NewJob {
        device_id: "plug-1".into(),
        seq: 0,
        host: "127.0.0.1".into(),
        model: None,
        mac: None,
        site: None,
        unit: None,
        method: crate::model::Method::Remote,
    };
    db.create_run(&run, &[job]).unwrap();
}

fn events(reader: &RunReader<'_>) -> Vec<EventRow> {
    let mut all = Vec::new();
    reader
        .events(|e| {
            all.push(e);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    all
}

#[test]
fn a_run_that_is_not_there_is_no_such_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("audit.db")).unwrap();
    match db.read_run("nope") {
        Err(StoreError::NoSuchRun(id)) => assert_eq!(id, "nope"),
        Err(other) => panic!("expected NoSuchRun, got {other:?}"),
        Ok(_) => panic!("expected NoSuchRun, got a reader"),
    }
}

#[test]
fn a_reader_sees_the_run_as_it_was_when_it_began_whatever_is_added_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let mut db = Db::open(&path).unwrap();
    run_with_one_job(&mut db);
    let reader = db.read_run("r1").unwrap();
    let before = events(&reader);
    assert_eq!(before.len(), 1, "{before:?}");
    // Another process appends to the run (`confirm`, `audit sample`) while the report is read.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute(
            "INSERT INTO events (run_id, device_id, at, state, kind, detail)
             VALUES ('r1', 'plug-1', '2026-11-21T05:47:08.123Z', NULL, ?1, '{}')",
            [EventKind::LeftNetwork.as_str()],
        )
        .unwrap();
    assert_eq!(events(&reader), before);
    let mut bundles = Vec::new();
    reader
        .bundles(|b| {
            bundles.push(b);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(bundles.len(), 1);
    assert!(!bundles[0].left_network);
    drop(reader);
    // A new reader sees it.
    let reader = db.read_run("r1").unwrap();
    assert_eq!(events(&reader).len(), 2);
    assert_eq!(reader.count_jobs(JobFilter::NotSucceeded).unwrap(), 1);
    assert_eq!(reader.count_jobs(JobFilter::Unverified).unwrap(), 0);
}

#[test]
fn an_event_of_a_kind_this_build_does_not_know_stops_the_stream_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
    run_with_one_job(&mut db);
    db.conn
        .execute(
            "INSERT INTO events (run_id, device_id, at, state, kind, detail)
             VALUES ('r1', 'plug-1', '2026-11-21T05:47:08.123Z', NULL, 'run_paused', '{}')",
            [],
        )
        .unwrap();
    let reader = db.read_run("r1").unwrap();
    let err = reader
        .events(|_| Ok::<_, StoreError>(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"run_paused\""), "{err}");
}
