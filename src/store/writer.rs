//! The single writer: one OS thread owns the connection and is fed by a bounded channel.
//!
//! It takes one record, gathers what else arrives (up to [`MAX_BATCH`]) and writes them all in
//! one transaction. A batch of ordinary records waits up to [`GROUP_WINDOW`] for company, so a
//! steady trickle of events costs a commit every few milliseconds, not one per event. A batch
//! holding a durable record (an intent, an outcome) commits with `synchronous=FULL` within
//! [`DURABLE_WINDOW`], taking everything that arrived meanwhile: the intents of many jobs share
//! one fsync, and each job waits for the fsync that covers its own (group commit). When a
//! record fails, the batch is rolled back and its records are written again one by one, so one
//! bad record loses only itself.

use std::iter;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::apply;
use super::db::set_full_sync;
use super::{Db, Record, StoreError, Writer, WriterTask};

/// Most records in one transaction: big enough that a burst from a large concurrent batch is a
/// few commits, small enough that a batch never holds the write lock for long.
const MAX_BATCH: usize = 500;

/// How long a batch of ordinary records waits for more before it commits. A crash loses at
/// most this much of them beyond what is still queued; never a durable record, which commits
/// within [`DURABLE_WINDOW`].
const GROUP_WINDOW: Duration = Duration::from_millis(10);

/// How long a durable record waits for others to share its fsync: the delay it adds before a
/// job's command leaves, nothing beside a device's seconds of boot. At 500 starts a second it
/// gathers the intents and outcomes of about five jobs per fsync; an fsync costs this machine's
/// kernel about 0.2 ms of CPU.
const DURABLE_WINDOW: Duration = Duration::from_millis(5);

/// How often the queue is drained while a batch gathers.
const TICK: Duration = Duration::from_millis(2);

/// A record and, when the sender waits for the commit, where to tell it.
pub(crate) struct Msg {
    rec: Record,
    ack: Option<oneshot::Sender<Result<(), StoreError>>>,
}

impl Writer {
    /// Starts the writer task on its own thread, owning `db`.
    pub fn spawn(db: Db, capacity: usize) -> (Writer, WriterTask) {
        // tokio's bounded channel refuses a capacity of 0.
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (done_tx, done_rx) = oneshot::channel();
        thread::Builder::new()
            .name("fleetreset-audit".into())
            .spawn(move || {
                // If finish() was dropped nobody wants the Db back; dropping it closes it.
                let _ = done_tx.send(run(db, rx));
            })
            // Only fails when the OS can't make a thread, where nothing else would work either.
            .expect("start the audit writer thread");
        (Writer { tx }, WriterTask { done: done_rx })
    }

    /// Queues a record; committed with the next batch (synchronous=NORMAL). Waits while the
    /// queue is full. A failure to write it is logged by the writer, not returned here.
    pub async fn record(&self, rec: Record) -> Result<(), StoreError> {
        self.tx
            .send(Msg { rec, ack: None })
            .await
            .map_err(|_| StoreError::WriterGone)
    }

    /// Writes a record and returns only once it is committed with synchronous=FULL. Used for
    /// the intent to send a disruptive command, and for outcomes.
    pub async fn record_durable(&self, rec: Record) -> Result<(), StoreError> {
        let (ack, committed) = oneshot::channel();
        self.tx
            .send(Msg {
                rec,
                ack: Some(ack),
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        committed.await.map_err(|_| StoreError::WriterGone)?
    }
}

impl WriterTask {
    /// Waits until every `Writer` is dropped and everything queued is committed, then hands
    /// the database back.
    pub async fn finish(self) -> Result<Db, StoreError> {
        // The sender is dropped without sending only if the thread panicked.
        self.done.await.map_err(|_| StoreError::WriterGone)
    }
}

/// The thread's body: returns once every sender is gone and the queue is empty.
fn run(mut db: Db, mut rx: mpsc::Receiver<Msg>) -> Db {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        gather(&mut rx, &mut batch, Instant::now());
        write_batch(&mut db.conn, &mut batch);
    }
    db
}

/// Adds to `batch` what arrives within the group window from `opened`: the queue is drained
/// every [`TICK`], not at each record, so a burst of records costs the thread a few wake-ups
/// instead of one each. Ordinary records wait up to [`GROUP_WINDOW`]; once a durable record is
/// in the batch, the batch commits within [`DURABLE_WINDOW`] of when it was seen (less the tick
/// it may have waited before it was), so durable records arriving meanwhile share its fsync.
/// Stops early at [`MAX_BATCH`], or when every sender is gone.
fn gather(rx: &mut mpsc::Receiver<Msg>, batch: &mut Vec<Msg>, opened: Instant) {
    let mut durable = batch.iter().any(|m| m.ack.is_some());
    let window = if durable {
        DURABLE_WINDOW
    } else {
        GROUP_WINDOW
    };
    let mut until = opened + window;
    loop {
        let mut drained_durable = false;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => {
                    drained_durable |= msg.ack.is_some();
                    batch.push(msg);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        if drained_durable && !durable {
            durable = true;
            until = until.min(now + DURABLE_WINDOW.saturating_sub(TICK));
        }
        if batch.len() >= MAX_BATCH || now >= until {
            return;
        }
        thread::sleep(TICK.min(until - now));
    }
}

/// Writes and answers every message of `batch`, leaving it empty.
fn write_batch(conn: &mut Connection, batch: &mut Vec<Msg>) {
    let durable = batch.iter().any(|m| m.ack.is_some());
    if durable {
        // Outside a transaction this only sets a flag on the connection; no I/O can fail.
        if let Err(err) = set_full_sync(conn, true) {
            tracing::error!(error = %err, "audit: could not switch to synchronous=FULL");
        }
    }
    match in_one_transaction(conn, batch.iter().map(|m| &m.rec)) {
        Ok(()) => batch.drain(..).for_each(|m| reply(m, Ok(()))),
        Err(err) if batch.len() == 1 => {
            // Nothing else to save; the same record alone would fail the same way.
            if let Some(msg) = batch.pop() {
                reply(msg, Err(err));
            }
        }
        Err(err) => {
            tracing::warn!(
                error = %err,
                records = batch.len(),
                "audit: a batch failed and was rolled back; writing its records one by one"
            );
            for msg in batch.drain(..) {
                let result = in_one_transaction(conn, iter::once(&msg.rec));
                reply(msg, result);
            }
        }
    }
    if durable && let Err(err) = set_full_sync(conn, false) {
        tracing::error!(error = %err, "audit: could not switch back to synchronous=NORMAL");
    }
}

fn in_one_transaction<'a>(
    conn: &mut Connection,
    recs: impl IntoIterator<Item = &'a Record>,
) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front, so a reader in another process can't turn
    // this into a deadlocked upgrade; busy_timeout covers the wait.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for rec in recs {
        apply(&tx, rec)?;
    }
    tx.commit()?;
    Ok(())
}

/// Tells a waiting sender how its record fared; logs failures nobody waits for.
fn reply(msg: Msg, result: Result<(), StoreError>) {
    let unheard = match msg.ack {
        Some(ack) => ack.send(result).err().and_then(Result::err),
        None => result.err(),
    };
    if let Some(err) = unheard {
        let (run_id, device_id, record) = describe(&msg.rec);
        tracing::error!(run_id, device_id, record, error = %err, "audit record not written");
    }
}

fn describe(rec: &Record) -> (&str, Option<&str>, &str) {
    match rec {
        Record::Event {
            run_id,
            device_id,
            kind,
            ..
        } => (run_id, device_id.as_deref(), kind.as_str()),
        Record::Snapshot {
            run_id, device_id, ..
        } => (run_id, Some(device_id), "snapshot"),
        Record::Started {
            run_id, device_id, ..
        } => (run_id, Some(device_id), "started"),
        Record::Identity {
            run_id, device_id, ..
        } => (run_id, Some(device_id), "identity"),
        Record::Outcome {
            run_id, device_id, ..
        } => (run_id, Some(device_id), "outcome"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use rusqlite::ErrorCode;
    use serde_json::json;

    use super::*;
    use crate::model::{Action, EventKind, Method, RunEventKind, StoredKind};
    use crate::store::{NewJob, NewRun};

    #[tokio::test]
    async fn a_full_disk_reaches_the_durable_sender_and_the_writer_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("audit.db")).unwrap();
        let run = NewRun {
            id: "r1".into(),
            action: Action::FactoryReset,
            inventory_path: "lab.csv".into(),
            inventory_sha256: "00".into(),
            parameters: Default::default(),
            operator: "op".into(),
            tool_version: "0.1.0".into(),
            started_at: Utc::now(),
        };
        let job = NewJob {
            device_id: "plug-1".into(),
            seq: 0,
            host: "10.0.0.1".into(),
            model: None,
            mac: None,
            site: None,
            unit: None,
            method: Method::Remote,
        };
        db.create_run(&run, &[job]).unwrap();
        // The database may not grow past its current size: SQLite reports SQLITE_FULL, as it
        // would on a full disk.
        let pages: i64 = db
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        db.conn
            .pragma_update(None, "max_page_count", pages)
            .unwrap();

        let (writer, task) = Writer::spawn(db, 8);
        let big = Record::Event {
            run_id: "r1".into(),
            device_id: Some("plug-1".into()),
            at: Utc::now(),
            state: None,
            kind: EventKind::Ack.into(),
            detail: json!({"padding": "x".repeat(256 * 1024)}),
        };
        match writer.record_durable(big).await {
            Err(StoreError::Sql(e)) => assert_eq!(e.sqlite_error_code(), Some(ErrorCode::DiskFull)),
            other => panic!("expected SQLITE_FULL, got {other:?}"),
        }
        // An update in place needs no new page.
        let started = Record::Started {
            run_id: "r1".into(),
            device_id: "plug-1".into(),
            at: Utc::now(),
        };
        writer.record_durable(started).await.unwrap();
        drop(writer);
        let rec = task.finish().await.unwrap().load_run("r1").unwrap();
        assert_eq!(rec.jobs[0].attempts, 1);
        // Only the run's own start, written with the run: the failed event left nothing.
        let kinds: Vec<_> = rec.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [StoredKind::Run(RunEventKind::RunStarted)]);
    }
}
