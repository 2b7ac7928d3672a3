//! Group commit for events that are not part of a change's own transaction (reads, rejected
//! requests, logins). Callers wait until their event is stored, but when requests pile up, many
//! events share one transaction instead of paying one commit each.
//!
//! Two halves, so that waking a caller stays inside the runtime:
//! - the *writer*, an OS thread of its own (it blocks on the database: inserts, the commit's
//!   fsync), takes every event that is waiting, commits them together, and hands the batch's
//!   outcome to
//! - the *notifier*, a task on the runtime, which tells each caller.
//!
//! A thread outside the runtime that wakes a task pays for it (a shared queue, often a system
//! call to unpark a worker); on a busy server that was as costly as the batch's database work.
//! This way the writer wakes one task per batch, and the notifier wakes the callers as any task
//! wakes another.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::db::events::{self, NewEvent};
use crate::db::{Backend, Db};

/// Most events written in one transaction.
const MAX_BATCH: usize = 512;

/// How many events may wait for the writer before callers wait to hand theirs over.
const QUEUE: usize = 8192;

type Outcome = Result<(), String>;
type Reply = oneshot::Sender<Outcome>;

/// Handle to the writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<(NewEvent, Reply)>,
    stats: Arc<WriterStats>,
    backend: Backend,
}

/// What the writer has stored so far (for metrics: events per commit shows how well requests
/// share commits).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Events committed.
    pub events: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// The last batch failed: the event log is not accepting writes (until one succeeds).
    pub failing: AtomicBool,
}

/// One committed (or failed) batch, for the notifier to announce.
struct Settled {
    replies: Vec<Reply>,
    outcome: Outcome,
}

impl AuditWriter {
    /// Starts the writer thread and its notifier task (needs a tokio runtime). Both end when the
    /// last handle is dropped.
    pub fn start(db: Db) -> AuditWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (settled_tx, mut settled_rx) = mpsc::unbounded_channel::<Settled>();
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(async move {
            while let Some(Settled { replies, outcome }) = settled_rx.recv().await {
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        let writer_stats = stats.clone();
        let backend = db.backend();
        std::thread::Builder::new()
            .name("mama-events".into())
            .spawn(move || write_batches(db, rx, settled_tx, &writer_stats))
            .expect("the event writer thread could not be started");
        AuditWriter { tx, stats, backend }
    }

    /// Events and commits stored so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Whether the last batch was stored. False after a failure, until a write succeeds again.
    pub fn last_write_ok(&self) -> bool {
        !self.stats.failing.load(Ordering::Relaxed)
    }

    /// Stores one event; returns once it is committed. An error means it was not stored.
    pub async fn record(&self, mut event: NewEvent) -> Result<(), String> {
        // Here, on the caller's thread, rather than in the writer's serial batch.
        event.prepare_for(self.backend);
        let (reply, done) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| "event writer stopped".to_string())?;
        done.await.map_err(|_| "event writer stopped".to_string())?
    }

    /// Stores an event for a request that already failed; a failure to store it is logged (the
    /// request fails either way).
    pub async fn record_failure(&self, event: NewEvent) {
        if let Err(error) = self.record(event).await {
            tracing::error!(%error, "could not store the event of a failed request");
        }
    }
}

/// The writer thread: every event waiting when the previous commit ends goes into the next one.
fn write_batches(
    db: Db,
    mut rx: mpsc::Receiver<(NewEvent, Reply)>,
    settled: mpsc::UnboundedSender<Settled>,
    stats: &WriterStats,
) {
    let mut events = Vec::new();
    let mut replies = Vec::new();
    while let Some((event, reply)) = rx.blocking_recv() {
        events.push(event);
        replies.push(reply);
        while events.len() < MAX_BATCH {
            let Ok((event, reply)) = rx.try_recv() else {
                break;
            };
            events.push(event);
            replies.push(reply);
        }
        let outcome = db
            .append_blocking(|conn| events::insert(conn, &events))
            .map_err(|e| {
                tracing::error!(error = %e, "event batch could not be stored");
                "the event log could not be written".to_string()
            });
        if outcome.is_ok() {
            stats
                .events
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            stats.commits.fetch_add(1, Ordering::Relaxed);
        }
        stats.failing.store(outcome.is_err(), Ordering::Relaxed);
        events.clear();
        let batch = Settled {
            replies: std::mem::take(&mut replies),
            outcome,
        };
        if settled.send(batch).is_err() {
            // The runtime is gone; nobody is waiting any more.
            return;
        }
    }
}
