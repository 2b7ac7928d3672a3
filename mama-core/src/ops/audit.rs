//! Group commit for events that are not part of a change's own transaction (reads, rejected
//! requests, logins). Callers wait until their event is stored, but when requests pile up, many
//! events share one transaction instead of paying one commit each.

use tokio::sync::{mpsc, oneshot};

use crate::db::events::{self, NewEvent};
use crate::db::Db;

/// Most events written in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<(), String>>;

/// Handle to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<(NewEvent, Reply)>,
}

impl AuditWriter {
    /// Starts the writer on a thread of its own: it blocks on the database anyway, and a
    /// dedicated thread saves a hand-off to tokio's blocking pool per batch. It ends when the
    /// last handle is dropped.
    pub fn start(db: Db) -> AuditWriter {
        let (tx, rx) = mpsc::channel(8192);
        std::thread::Builder::new()
            .name("mama-events".into())
            .spawn(move || run(db, rx))
            .expect("the event writer thread could not be started");
        AuditWriter { tx }
    }

    /// Stores one event; returns once it is committed. An error means it was not stored.
    pub async fn record(&self, event: NewEvent) -> Result<(), String> {
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

fn run(db: Db, mut rx: mpsc::Receiver<(NewEvent, Reply)>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.into_iter().unzip();
        let outcome = db
            .append_blocking(|conn| events::insert(conn, &events))
            .map_err(|e| {
                tracing::error!(error = %e, "event batch could not be stored");
                "the event log could not be written".to_string()
            });
        for reply in replies {
            let _ = reply.send(outcome.clone());
        }
    }
}
